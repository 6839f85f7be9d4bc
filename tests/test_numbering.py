"""Document numbers (发文字号): the format rule and gap-free, duplicate-free allocation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, func
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from gongwen_engine.models import db
from gongwen_engine.models.numbering import allocate_doc_number, issue_doc_number, void_doc_number
from gongwen_engine.models.rules.doc_numbers import DocNumber, format_doc_number, parse_doc_number
from gongwen_engine.models.tables import Document, IssuedNumber, NumberCounter

# --- format and parse ------------------------------------------------------------------------


def test_format_uses_hexagonal_brackets_and_no_leading_zeros():
    assert format_doc_number("鲁妇发", 2012, 10) == "鲁妇发〔2012〕10号"
    assert format_doc_number("妇字", 2012, 2) == "妇字〔2012〕2号"


@pytest.mark.parametrize(("year", "serial"), [(2012, 0), (2012, -1), (12, 1), (20120, 1)])
def test_format_refuses_a_serial_below_one_or_a_year_without_four_digits(year, serial):
    with pytest.raises(ValueError):
        format_doc_number("鲁妇发", year, serial)


def test_parse_reads_prefix_year_and_serial():
    assert parse_doc_number("鲁妇发〔2012〕10号") == DocNumber("鲁妇发", 2012, 10)


def test_parse_and_format_round_trip():
    number = parse_doc_number("济宁妇发〔2012〕123号")
    assert str(number) == "济宁妇发〔2012〕123号"


@pytest.mark.parametrize(
    "text",
    [
        "鲁妇发[2012]10号",  # square brackets
        "鲁妇发（2012）10号",  # full-width round brackets
        "鲁妇发(2012)10号",  # half-width round brackets
        "鲁妇发〔2012〕010号",  # leading zero
        "鲁妇发〔2012〕0号",  # zero
        "鲁妇发〔2012〕第10号",  # 第
        "鲁妇发〔2012〕10",  # missing 号
        "鲁妇发〔12〕10号",  # two-digit year
        "〔2012〕10号",  # no prefix
        "",
    ],
)
def test_parse_refuses_non_standard_forms(text):
    with pytest.raises(ValueError):
        parse_doc_number(text)


# --- allocation on SQLite ----------------------------------------------------------------------


def new_document(engine, org: str = "shandong", title: str = "测试文件") -> int:
    with db.transaction(engine.db) as session:
        doc = Document(org=org, title=title, content={})
        session.add(doc)
        session.flush()
        return doc.id


def allocate(engine, prefix: str, year: int, document_id: int | None = None, start: int = 1) -> IssuedNumber:
    with db.transaction(engine.db) as session:
        return allocate_doc_number(session, prefix, year, document_id, start=start)


def test_consecutive_allocations_get_consecutive_serials(make_engine):
    engine = make_engine()
    numbers = [allocate(engine, "湘妇发", 2012).doc_number for _ in range(3)]
    assert numbers == ["湘妇发〔2012〕1号", "湘妇发〔2012〕2号", "湘妇发〔2012〕3号"]


def test_sequences_are_separate_per_prefix_and_year(make_engine):
    engine = make_engine()
    allocate(engine, "湘妇发", 2012)
    allocate(engine, "湘妇发", 2012)
    assert allocate(engine, "湘妇发", 2013).serial == 1
    assert allocate(engine, "湘妇字", 2012).serial == 1


def test_configured_start_is_the_first_serial(make_engine):
    engine = make_engine()
    start = engine.config.start_of("鲁妇发", 2012)
    assert start == 10
    first = allocate(engine, "鲁妇发", 2012, start=start)
    second = allocate(engine, "鲁妇发", 2012, start=start)
    assert (first.doc_number, second.doc_number) == ("鲁妇发〔2012〕10号", "鲁妇发〔2012〕11号")


def test_an_unconfigured_sequence_starts_at_one(make_engine):
    engine = make_engine()
    assert engine.config.start_of("鲁妇发", 2013) == 1
    assert engine.config.start_of("济妇发", 2012) == 1


def test_a_document_gets_one_number_however_often_it_asks(make_engine):
    engine = make_engine()
    doc_id = new_document(engine)
    first = allocate(engine, "鲁妇发", 2012, doc_id, start=10)
    again = allocate(engine, "鲁妇发", 2012, doc_id, start=10)
    assert again.doc_number == first.doc_number == "鲁妇发〔2012〕10号"
    with Session(engine.db) as session:
        assert session.exec(select(func.count()).select_from(IssuedNumber)).one() == 1
        assert session.get(NumberCounter, ("鲁妇发", 2012)).last == 10


def test_voided_number_is_kept_with_its_reason_and_never_reused(make_engine):
    engine = make_engine()
    doc_id = new_document(engine)
    allocate(engine, "鲁妇发", 2012, doc_id, start=10)
    with db.transaction(engine.db) as session:
        void_doc_number(session, "鲁妇发〔2012〕10号", "印制错误，作废重发")
    other = new_document(engine, title="重发文件")
    assert allocate(engine, "鲁妇发", 2012, other, start=10).doc_number == "鲁妇发〔2012〕11号"
    with Session(engine.db) as session:
        voided = session.exec(select(IssuedNumber).where(IssuedNumber.doc_number == "鲁妇发〔2012〕10号")).one()
        assert voided.voided is True
        assert voided.void_reason == "印制错误，作废重发"
        assert voided.document_id is None


def test_voiding_needs_a_reason_and_an_allocated_number(make_engine):
    engine = make_engine()
    allocate(engine, "鲁妇发", 2012, start=10)
    with db.transaction(engine.db) as session:
        with pytest.raises(ValueError):
            void_doc_number(session, "鲁妇发〔2012〕10号", "  ")
        with pytest.raises(LookupError):
            void_doc_number(session, "鲁妇发〔2012〕99号", "没有这个号")


def test_a_rolled_back_allocation_leaves_no_gap(make_engine):
    engine = make_engine()
    allocate(engine, "湘妇发", 2012)
    with pytest.raises(RuntimeError), db.transaction(engine.db) as session:
        lost = allocate_doc_number(session, "湘妇发", 2012, None)
        assert lost.serial == 2
        raise RuntimeError("印制失败")
    assert allocate(engine, "湘妇发", 2012).doc_number == "湘妇发〔2012〕2号"
    with Session(engine.db) as session:
        assert session.exec(select(func.count()).select_from(IssuedNumber)).one() == 2


@pytest.mark.postgres
def test_on_postgres_one_statement_allocation_keeps_start_document_voiding_and_rollback(make_engine, pg_url):
    """PostgreSQL allocates with one statement (counter and issued number together): the same rules hold."""
    engine = make_engine(database_url=pg_url)
    doc_id = new_document(engine)
    first = allocate(engine, "鲁妇发", 2012, doc_id, start=10)
    assert allocate(engine, "鲁妇发", 2012, doc_id, start=10).doc_number == first.doc_number == "鲁妇发〔2012〕10号"
    with pytest.raises(RuntimeError), db.transaction(engine.db) as session:
        assert allocate_doc_number(session, "鲁妇发", 2012, None, start=10).serial == 11
        raise RuntimeError("印制失败")
    with db.transaction(engine.db) as session:
        number = allocate_doc_number(session, "鲁妇发", 2012, new_document(engine, title="重发文件"), start=10)
        assert number.doc_number == "鲁妇发〔2012〕11号"
        assert void_doc_number(session, number.doc_number, "印制错误，作废重发") is number  # the session's own row
    assert allocate(engine, "鲁妇发", 2012, start=10).doc_number == "鲁妇发〔2012〕12号"
    with Session(engine.db) as session:
        voided = session.exec(select(IssuedNumber).where(IssuedNumber.doc_number == "鲁妇发〔2012〕11号")).one()
        assert (voided.voided, voided.void_reason, voided.document_id) == (True, "印制错误，作废重发", None)
        assert session.exec(select(func.count()).select_from(IssuedNumber)).one() == 3
        assert session.get(NumberCounter, ("鲁妇发", 2012)).last == 12


@pytest.mark.postgres
def test_on_postgres_a_committed_document_is_issued_its_number_in_one_round_trip_of_its_own(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    first, second = new_document(engine), new_document(engine, title="第二件")
    issued = issue_doc_number(engine.db, "鲁妇发", 2012, first, start=10)
    assert (issued.doc_number, issued.document_id) == ("鲁妇发〔2012〕10号", first)
    assert issue_doc_number(engine.db, "鲁妇发", 2012, first, start=10).id == issued.id  # a re-run gets the same number
    with pytest.raises(RuntimeError), db.transaction(engine.db) as session:  # committed on its own: a failing caller does not take it back
        issue_doc_number(engine.db, "鲁妇发", 2012, second, start=10)
        raise RuntimeError("印制失败")
    assert allocate(engine, "鲁妇发", 2012, second, start=10).doc_number == "鲁妇发〔2012〕11号"
    with db.transaction(engine.db) as session:  # a document the caller has not committed yet: left to the caller's transaction
        pending = Document(org="shandong", title="未提交", content={})
        session.add(pending)
        session.flush()
        assert issue_doc_number(engine.db, "鲁妇发", 2012, pending.id, start=10) is None
        assert allocate_doc_number(session, "鲁妇发", 2012, pending.id, start=10).doc_number == "鲁妇发〔2012〕12号"
    assert_gap_free(engine, "鲁妇发", 2012, 10, 3)


@pytest.mark.postgres
def test_on_postgres_issuing_hands_its_connection_back_transactional_and_a_lost_connection_is_transient(make_engine, pg_url):
    """issue_doc_number runs on the pooled psycopg connection itself (autocommit, prepared): the
    connection goes back to the pool transactional, and a connection lost mid-call is reported as
    SQLAlchemy's transient error, dropped from the pool, and the re-run issues the next number."""
    engine = make_engine(database_url=pg_url)
    first = new_document(engine)
    assert issue_doc_number(engine.db, "鲁妇发", 2012, first).serial == 1
    with pytest.raises(RuntimeError), db.transaction(engine.db) as session:  # the same pooled connection: must still roll back
        session.add(Document(org="shandong", title="应回滚", content={}))
        session.flush()
        raise RuntimeError("回滚")
    with Session(engine.db) as session:
        assert session.exec(select(func.count()).select_from(Document)).one() == 1

    second = new_document(engine, title="第二件")

    def terminate(dbapi_connection, record, proxy) -> None:
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (dbapi_connection.info.backend_pid,))

    event.listen(engine.db.pool, "checkout", terminate)
    try:
        with pytest.raises(DBAPIError) as lost:
            issue_doc_number(engine.db, "鲁妇发", 2012, second)
    finally:
        event.remove(engine.db.pool, "checkout", terminate)
    assert db.is_transient(lost.value)
    assert issue_doc_number(engine.db, "鲁妇发", 2012, second).doc_number == "鲁妇发〔2012〕2号"
    assert_gap_free(engine, "鲁妇发", 2012, 1, 2)


def test_on_sqlite_issuing_is_left_to_the_callers_transaction(make_engine):
    engine = make_engine()
    assert issue_doc_number(engine.db, "鲁妇发", 2012, new_document(engine), start=10) is None


# --- concurrent allocation ----------------------------------------------------------------------


def assert_gap_free(engine, prefix: str, year: int, start: int, expected: int) -> None:
    """count == max − start + 1 == count distinct, and nothing below start."""
    with Session(engine.db) as session:
        serials = session.exec(select(IssuedNumber.serial).where(IssuedNumber.prefix == prefix, IssuedNumber.year == year)).all()
        counter = session.get(NumberCounter, (prefix, year))
    assert len(serials) == expected
    assert len(set(serials)) == len(serials), f"duplicate serials for {prefix}"
    assert min(serials) == start
    assert max(serials) - start + 1 == len(serials), f"gap in {prefix}: {sorted(set(range(start, max(serials) + 1)) - set(serials))[:10]}"
    assert counter.last == max(serials)


def run_threads(engine, jobs: list[list[tuple[str, int]]]) -> None:
    """One thread per job; each allocates (prefix, start) pairs, one transaction per number."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def work(job: list[tuple[str, int]]) -> None:
        try:
            barrier.wait()
            for prefix, start in job:
                with db.transaction(engine.db) as session:
                    allocate_doc_number(session, prefix, 2012, None, start=start)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_threads_on_sqlite_allocate_without_duplicates_or_gaps(make_engine):
    engine = make_engine()
    run_threads(engine, [[("鲁妇发", 10)] * 200 for _ in range(8)])
    assert_gap_free(engine, "鲁妇发", 2012, 10, 1600)


PROCESS_WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gongwen_engine.models import db
    from gongwen_engine.models.numbering import allocate_doc_number

    url, go, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    engine = db.get_engine(url)
    while not go.exists():
        time.sleep(0.01)
    for _ in range(count):
        with db.transaction(engine) as session:
            allocate_doc_number(session, "湘妇发", 2012, None)
    """
)


def test_processes_on_one_sqlite_file_allocate_without_duplicates_or_gaps(make_engine, tmp_path: Path):
    engine = make_engine()  # creates and migrates the database once
    url = engine.settings.resolved_database_url
    go = tmp_path / "go"
    workers = [
        subprocess.Popen([sys.executable, "-c", PROCESS_WORKER, url, str(go), "150"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    time.sleep(0.2)
    go.touch()
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
    assert_gap_free(engine, "湘妇发", 2012, 1, 600)


@pytest.mark.postgres
def test_threads_on_postgres_allocate_without_duplicates_or_gaps(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    run_threads(engine, [[("鲁妇发", 10)] * 200 for _ in range(8)])
    assert_gap_free(engine, "鲁妇发", 2012, 10, 1600)


@pytest.mark.postgres
def test_threads_on_postgres_over_four_prefixes_allocate_without_duplicates_or_gaps(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    prefixes = [("鲁妇发", 10), ("湘妇发", 1), ("济妇发", 1), ("妇字", 2)]
    # Every thread cycles through all four prefixes, each from a different offset.
    jobs = [[prefixes[(t + k) % 4] for k in range(200)] for t in range(8)]
    run_threads(engine, jobs)
    for prefix, start in prefixes:
        assert_gap_free(engine, prefix, 2012, start, 400)
