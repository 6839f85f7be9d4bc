"""State columns are str enums (models/tables.py): stored as the same strings as before (no
migration), read back as members, and an unknown state is refused on the way in."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError
from sqlmodel import Session, select

from gongwen_engine.models import db
from gongwen_engine.models.tables import Circulation, CirculationStatus, WorkItem, WorkItemKind, WorkItemStatus


def _round_trip(url: str) -> None:
    db.migrate(url)
    engine = db.get_engine(url)
    with Session(engine) as session:
        circ = Circulation(org="shandong", flow="issuing", flow_version="test", step="number")
        session.add(circ)
        session.flush()
        session.add(WorkItem(circulation_id=circ.id, step="number", kind=WorkItemKind.human, org="shandong"))
        session.commit()
    with Session(engine) as session:
        assert session.exec(text("SELECT status FROM circulation")).one()[0] == "ready"  # the stored string is the value
        assert tuple(session.exec(text("SELECT kind, status FROM workitem")).one()) == ("human", "open")
        circ = session.exec(select(Circulation).where(Circulation.status == CirculationStatus.ready)).one()
        item = session.exec(select(WorkItem).where(WorkItem.status == "open")).one()
        assert circ.status is CirculationStatus.ready and (item.kind, item.status) == (WorkItemKind.human, WorkItemStatus.open)
        assert type(item.status) is WorkItemStatus
        circ.status = CirculationStatus.done
        session.commit()
    with Session(engine) as session:
        assert session.exec(select(Circulation.status)).one() is CirculationStatus.done
        session.exec(select(Circulation)).one().status = "finished"  # type: ignore[assignment]
        with pytest.raises(StatementError, match="finished"):
            session.commit()


def test_enum_columns_round_trip_on_sqlite(tmp_path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'gongwen.db'}")


def test_enum_columns_round_trip_on_postgres(pg_url: str) -> None:
    _round_trip(pg_url)
