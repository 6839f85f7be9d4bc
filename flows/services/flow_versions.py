"""Flow versions for the interfaces: which circulations in flight run an older version of their
flow (``gongwen check``), and moving one to the current version (``gongwen migrate-flow``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlmodel import Session

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.versions import Behind
from gongwen_engine.flows.services.circulations import circulation
from gongwen_engine.flows.services.engine import open_engine


@dataclass(frozen=True)
class Migrated:
    """A circulation moved to its flow's current version: from ``old`` to ``new``, now at ``step_title``."""

    circulation_id: int
    old: str
    new: str
    step_title: str


def behind_current(engine: Engine) -> list[Behind]:
    """The circulations in flight on an older version of their flow, and whether their step is in the current one."""
    with Session(engine.db) as session:
        return engine.versions.behind(session)


def behind_in_database(settings: Settings) -> list[Behind] | None:
    """``behind_current`` in the installation's database; None when it has none yet (nothing is created)."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None
    return behind_current(open_engine(settings))


def migrate_to_current(engine: Engine, circulation_id: int, actor: str) -> Migrated:
    """Move one circulation to its flow's current version (refused, with the reason, when its step has no counterpart)."""
    old, new, step = engine.migrate_flow(circulation_id, actor)
    return Migrated(circulation_id, old, new, engine.definition_of(circulation(engine, circulation_id)).step(step).title)
