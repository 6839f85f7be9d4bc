"""The flow versions circulations started on (``FlowVersion``): stored once per content hash, read back by it.

A launch stores the version it runs with one ``INSERT ... ON CONFLICT DO NOTHING`` (concurrent
launches of the same new version do not collide); the engine reads a version back only for a
circulation pinned to one that is no longer current (``flows/engine/versions.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from gongwen_engine.models.tables import Circulation, CirculationStatus, FlowVersion, utcnow

IN_FLIGHT = (CirculationStatus.ready, CirculationStatus.running, CirculationStatus.waiting, CirculationStatus.failed)


def store_version(session: Session, flow: str, version: str, parts: Sequence[tuple[str, str]]) -> None:
    """Keep ``flow`` at ``version`` (its files' names and texts) unless it is kept already."""
    values = {"flow": flow, "version": version, "parts": [list(part) for part in parts], "created_at": utcnow()}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(FlowVersion).values(**values).on_conflict_do_nothing(index_elements=["flow", "version"]))


def stored_parts(session: Session, flow: str, version: str) -> list[tuple[str, str]] | None:
    """The file names and texts of ``flow`` at ``version`` (None: never stored, e.g. launched before versions were kept)."""
    row = session.get(FlowVersion, (flow, version))
    return None if row is None else [(name, text) for name, text in row.parts]


def in_flight_elsewhere(session: Session, current: Mapping[str, str]) -> list[Circulation]:
    """The circulations not yet ended whose flow version is not ``current[flow]`` (flow -> version), oldest first."""
    rows = session.exec(select(Circulation).where(col(Circulation.status).in_(IN_FLIGHT)).order_by(col(Circulation.id))).all()
    return [c for c in rows if c.flow_version != current.get(c.flow, c.flow_version)]
