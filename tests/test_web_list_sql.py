"""本单位流转 and 已办 searched, filtered and paged by the database (issue 22): over 2,100
circulations — more than the 2,000 latest the lists used to scan in Python — every filter gives
what the Python filter gives over all the rows (the oracle), on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.workplace import PAGE_SIZE, ListQuery, _matches, _row, circulations_page, done_page
from gongwen_engine.models.tables import Circulation, CirculationStatus, Document, WorkItem, WorkItemKind, WorkItemStatus

ROWS = 2100
START = datetime(2012, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)


def seed(engine: Engine) -> None:
    """Circulations of 山东: drafts (outgoing), documents from 济南 (incoming, sender = the organisation)
    and from an outside issuer (incoming, sender = its short name); a few overdue, some done by the leader."""
    with Session(engine.db) as session:
        docs = []
        for i in range(ROWS):
            kind = i % 3
            if kind == 0:
                docs.append(Document(org="shandong", title=f"关于第{i}项工作的通知", content={}, doc_number=f"鲁妇发〔2012〕{i}号" if i % 2 else None))
            elif kind == 1:
                docs.append(Document(org="jinan", title=f"关于报送第{i}期简报的报告", content={}, doc_number=f"济妇〔2012〕{i}号"))
            else:
                docs.append(Document(org="external", issuer_name="山东省教育厅", issuer_short_name="省教育厅", title=f"关于第{i}次联合检查的函", content={}))
        session.add_all(docs)
        session.flush()
        circs = []
        for i, doc in enumerate(docs):
            own = i % 3 == 0
            circs.append(
                Circulation(
                    org="shandong",
                    flow="outgoing" if own else "incoming",
                    flow_version="x",
                    document_id=doc.id if own else None,
                    received_id=None if own else doc.id,
                    status=CirculationStatus.done if i % 4 == 0 else CirculationStatus.ready,
                    step=None if i % 4 == 0 else "review",
                    created_at=START + timedelta(hours=6 * i),
                )
            )
        session.add_all(circs)
        session.flush()
        for i, circ in enumerate(circs):
            assert circ.id is not None
            if i % 50 == 7:  # waiting for a person, past its due date
                session.add(
                    WorkItem(circulation_id=circ.id, step="review", kind=WorkItemKind.human, org="shandong", role="leader", due_at=NOW - timedelta(days=1))
                )
            if i % 5 == 1:  # done by the leader
                session.add(
                    WorkItem(
                        circulation_id=circ.id,
                        step="sign_off",
                        kind=WorkItemKind.human,
                        org="shandong",
                        status=WorkItemStatus.done,
                        actor="shandong_leader",
                        outcome="approve",
                        finished_at=START + timedelta(hours=6 * i + 1),
                    )
                )
        session.commit()


def oracle(engine: Engine, query: ListQuery) -> tuple[int, list[int]]:
    """What the Python filter finds over every circulation: (total, ids of the page)."""
    with Session(engine.db) as session:
        rows = [_row(session, engine, c, c.created_at) for c in session.exec(select(Circulation).order_by(col(Circulation.id).desc()))]
        overdue = {i.circulation_id for i in session.exec(select(WorkItem).where(WorkItem.status == WorkItemStatus.open, WorkItem.kind == WorkItemKind.human))}
    for row in rows:
        row.overdue = row.circ.id in overdue
    found = [row.circ.id for row in rows if _matches(row, query)]
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(max(1, query.page), pages)
    return len(found), found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


QUERIES = [
    ListQuery(),
    ListQuery(page=3),
    ListQuery(page=999),  # past the end: the last page
    ListQuery(words="第9项"),  # a title, also in the oldest rows (beyond the 2,000 latest)
    ListQuery(words="鲁妇发〔2012〕3"),  # a number
    ListQuery(words="济南"),  # the sender inside the tree: the organisation's short name
    ListQuery(words="教育厅", flow="incoming"),  # an outside sender, and a flow
    ListQuery(state="done", date_from=date(2012, 2, 1), date_to=date(2012, 3, 15)),  # a state and a Beijing date range
    ListQuery(overdue=True),
    ListQuery(words="100%_"),  # LIKE's wildcards are only characters
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, make_engine: Callable[..., Engine]) -> Engine:
    built = make_engine(request.getfixturevalue("pg_url")) if request.param == "postgres" else make_engine()
    seed(built)
    return built


def test_the_lists_search_every_row_in_the_database_as_the_python_filter_does(engine: Engine) -> None:
    for query in QUERIES:
        page = circulations_page(engine, "shandong", query)
        total, ids = oracle(engine, query)
        assert (page.total, [r.circ.id for r in page.rows]) == (total, ids), query
        assert page.pages == max(1, -(-total // PAGE_SIZE))
    assert circulations_page(engine, "shandong", ListQuery()).total == ROWS
    assert circulations_page(engine, "shandong", ListQuery(words="第9项")).rows[-1].circ.id == 10  # the 10th circulation of 2,100 is found
    assert all(row.overdue for row in circulations_page(engine, "shandong", ListQuery(overdue=True)).rows)
    assert circulations_page(engine, "jinan", ListQuery()).total == 0  # only the organisation's own


def test_done_is_searched_and_paged_in_the_database(engine: Engine) -> None:
    everything = done_page(engine, "shandong_leader", ListQuery())
    assert everything.total == len(range(1, ROWS, 5)) and len(everything.rows) == PAGE_SIZE
    latest = [row.item.finished_at for row in everything.rows if row.item is not None]
    assert latest == sorted(latest, reverse=True)
    found = done_page(engine, "shandong_leader", ListQuery(words="简报", date_from=date(2012, 1, 1), date_to=date(2012, 1, 31)))
    assert found.total > 0 and all("简报" in (row.received.title if row.received else "") for row in found.rows)
    assert all(row.at.month == 1 or (row.at.month == 12) for row in found.rows)  # January in Beijing
    assert done_page(engine, "shandong_leader", ListQuery(overdue=True)).total == 0  # done items are never overdue
    assert done_page(engine, "shandong_secretary", ListQuery()).total == 0
