"""The administrative state in the database (管理, issue 24): people, organisations, departments,
numbering schemes and calendar years.

``config/*.yaml`` declares an installation. The first administrative change seeds the tables from
the files (``seed``) in its own transaction, changes them, and bumps ``AdminState.generation``;
from then on the database holds the state and the files' people, organisations, schemes and
calendar years are no longer read (``gongwen config export`` writes them back out). Policies,
retention, roles, seals and passwords.yaml stay files.

A running process keeps its ``Config`` and compares its ``generation`` with the database's
(``generation``: one primary-key read) per request and per step; a difference rebuilds it
(``config_of``), so a change takes effect without a restart.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete, func, select

from gongwen_engine.config.loader import Config, with_state
from gongwen_engine.config.schema import NumberScheme, Organisation, User
from gongwen_engine.models import db
from gongwen_engine.models.tables import AdminCalendarYear, AdminDepartment, AdminOrganisation, AdminPerson, AdminScheme, AdminState, utcnow

ADMIN_LOCK = 0x676F6E6761646D  # "gongadm": the advisory lock that serialises administrative changes (PostgreSQL)
STATE_TABLES = (AdminOrganisation, AdminPerson, AdminDepartment, AdminScheme, AdminCalendarYear)


def generation(session: Session) -> int:
    """The database's administrative generation (0: nothing changed yet; the files hold the state)."""
    state = session.get(AdminState, 1)
    return state.generation if state else 0


def config_of(session: Session, files: Config) -> Config:
    """The configuration as the database holds it now (the files' while the generation is 0)."""
    state = session.get(AdminState, 1)
    if state is None or state.generation == 0:
        return files
    orgs = [Organisation.model_validate(r.data) for r in session.exec(select(AdminOrganisation).order_by(col(AdminOrganisation.position)))]
    people = [User.model_validate(r.data) for r in session.exec(select(AdminPerson).order_by(col(AdminPerson.position)))]
    schemes = [NumberScheme(prefix=r.prefix, year=r.year, start=r.start) for r in session.exec(select(AdminScheme))]
    departments: dict[str, list[str]] = {}
    for dept in session.exec(select(AdminDepartment).order_by(col(AdminDepartment.org), col(AdminDepartment.name))):
        departments.setdefault(dept.org, []).append(dept.name)
    years = {r.year: dict(r.data) for r in session.exec(select(AdminCalendarYear))}
    return with_state(files, orgs, schemes, people, {o: tuple(n) for o, n in departments.items()}, years, state.generation)


def seed(session: Session, files: Config) -> None:
    """Fill the tables from the files unless the database already holds the state (generation > 0);
    the caller's transaction then changes them and calls ``bump``."""
    state = _locked_state(session)
    if state is not None and state.generation > 0:
        return
    for table in STATE_TABLES:
        session.exec(delete(table))
    for i, org in enumerate(files.organisations.values()):
        session.add(AdminOrganisation(code=org.code, position=i, data=org.model_dump(mode="json")))
    for i, user in enumerate(files.users.values()):
        session.add(AdminPerson(id=user.id, position=i, data=user.model_dump(mode="json")))
    for code, names in files.departments.items():
        for name in names:
            session.add(AdminDepartment(org=code, name=name))
    for scheme in files.schemes.values():
        session.add(AdminScheme(prefix=scheme.prefix, year=scheme.year, start=scheme.start))
    if state is None:
        session.add(AdminState(id=1, generation=0))
    session.flush()


def bump(session: Session, actor: str) -> int:
    """One more administrative change: the new generation (running processes rebuild their Config)."""
    state = _locked_state(session) or AdminState(id=1, generation=0)
    state.generation += 1
    state.changed_at, state.changed_by = utcnow(), actor
    session.add(state)
    session.flush()
    return state.generation


def _locked_state(session: Session) -> AdminState | None:
    """The state row, with every administrative change serialised until COMMIT: on PostgreSQL an
    advisory transaction lock (it also covers the first change, when there is no row to lock yet);
    SQLite has one writer at a time."""
    db.transaction_lock(session.connection(), ADMIN_LOCK)
    return session.exec(select(AdminState).where(AdminState.id == 1)).first()


def next_position(session: Session, table: type[AdminOrganisation] | type[AdminPerson]) -> int:
    """The position after the last one listed (a new person or organisation comes last)."""
    last = session.exec(select(func.max(table.position))).one()
    return (last if last is not None else -1) + 1


def dump(model: Organisation | User) -> dict[str, Any]:
    return model.model_dump(mode="json")
