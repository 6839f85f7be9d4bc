"""收文登记's one home (``models/registrations.py``): a transaction finds the registration it added
without asking the database again, and a savepoint that rolls it back takes it along."""

from __future__ import annotations

from sqlalchemy import event

from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.models import db
from gongwen_engine.models.registrations import add_registration, registration_of
from gongwen_engine.models.tables import Circulation, Registration, utcnow


def launched(engine) -> Circulation:
    _, content = demo_mod.load_notice()
    cid = engine.launch("shandong", "issuing", content, policy="demo", actor="system")
    with db.transaction(engine.db) as session:
        circ = session.get(Circulation, cid)
        assert circ is not None and circ.document_id is not None
        return circ


def registration(circ: Circulation, org: str, serial: int) -> Registration:
    assert circ.id is not None and circ.document_id is not None
    return Registration(
        org=org, document_id=circ.document_id, circulation_id=circ.id, year=2026, serial=serial, register_number=f"2026-{serial}", signed_for_at=utcnow()
    )


def test_a_registration_added_is_found_without_a_query_and_a_rolled_back_one_is_not(make_engine) -> None:
    engine = make_engine()
    circ = launched(engine)
    assert circ.document_id is not None
    asked: list[str] = []

    def heard(_conn, _cursor, statement: str, *_args) -> None:
        if "FROM registration" in statement:
            asked.append(statement)

    with db.transaction(engine.db) as session:
        assert registration_of(session, "jinan", circ.document_id) is None  # read: none yet
        kept = registration(circ, "jinan", 1)
        add_registration(session, kept)
        event.listen(engine.db, "before_cursor_execute", heard)
        try:
            assert registration_of(session, "jinan", circ.document_id) is kept
            assert asked == []  # the transaction's own, not asked for
        finally:
            event.remove(engine.db, "before_cursor_execute", heard)
        with session.begin_nested() as savepoint:
            add_registration(session, registration(circ, "qingdao", 2))
            session.flush()
            savepoint.rollback()
        assert registration_of(session, "qingdao", circ.document_id) is None  # rolled back: read again, not there
        assert registration_of(session, "jinan", circ.document_id) is kept  # flushed before: the query finds it
    with db.transaction(engine.db) as session:
        found = registration_of(session, "jinan", circ.document_id)
        assert found is not None and found.id == kept.id  # committed
