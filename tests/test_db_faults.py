"""Database faults, short and bounded (the long campaigns: benchmarks/db_fault_campaign.py and
benchmarks/soak_campaign.py).

* the declared retry (``models/db.py``): a transient fault runs the whole unit again; a fault
  that is not transient is not retried; a COMMIT cut off ("in doubt") is re-run only where that
  cannot double an effect — a person's decision recognised as theirs, a step re-checked under
  its lock — and a launch fails cleanly instead of launching twice;
* PostgreSQL: connections terminated and the server unreachable (a proxy drops and refuses
  connections) while clients act: no unexpected error, no duplicate, every invariant;
* the CLI with a database that stays down: exit 2, a message in Chinese, no traceback;
* SQLite: several ``gongwen`` processes at once on one home never crash with "database is locked";
* the concurrency soak: 8 clients for ~10 s on PostgreSQL, then the invariants.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections import Counter

import psycopg
import pytest
from conftest import PG_ADMIN
from db_faults import GONGWEN, FaultInjector, FaultProxy, Swarm, cli_campaign
from soak import drain, soak, work_item_checks
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, func, select

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.circulations import open_items
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.models import db
from gongwen_engine.models.tables import AuditEvent, Circulation, WorkItem


def locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))


def cut_off() -> OperationalError:
    return OperationalError("COMMIT", {}, psycopg.OperationalError("server closed the connection unexpectedly"), connection_invalidated=True)


# ---- the declared retry -------------------------------------------------------------------------------


def test_a_transient_fault_runs_the_whole_unit_again():
    calls = []

    @db.retry_transient(in_doubt="refuse")
    def unit() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise locked()
        return "done"

    assert unit() == "done"
    assert len(calls) == 3


def test_a_fault_that_is_not_transient_is_not_retried():
    calls = []

    @db.retry_transient(in_doubt="retry")
    def unit() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed: delivery.document_id"))

    with pytest.raises(IntegrityError):
        unit()
    assert len(calls) == 1


def test_a_fault_that_outlasts_the_retries_is_said_in_chinese():
    @db.retry_transient(in_doubt="retry", seconds=0.3)
    def unit() -> None:
        raise locked()

    with pytest.raises(db.DatabaseUnavailable, match=r"数据库暂时无法访问.*本次操作没有生效"):
        unit()


class CutOffAfterCommit(Session):
    """A session whose first COMMITs reach the server but whose answer is lost (the connection dies)."""

    cuts = 0

    def commit(self) -> None:
        super().commit()
        if CutOffAfterCommit.cuts > 0:
            CutOffAfterCommit.cuts -= 1
            raise cut_off()


@pytest.fixture
def commit_cut_off(monkeypatch):
    monkeypatch.setattr(db, "Session", CutOffAfterCommit)
    CutOffAfterCommit.cuts = 0
    return CutOffAfterCommit


def launch(engine) -> int:
    org, content = load_notice()
    return engine.launch(org, "issuing", content, actor="acwf_secretary")


def test_a_decision_whose_commit_was_cut_off_is_recognised_not_repeated(make_engine, commit_cut_off):
    engine = make_engine()
    circ_id = launch(engine)
    drain(engine)
    [(item, _, _)] = open_items(engine, "acwf_leader")
    commit_cut_off.cuts = 1
    result = engine.complete(item.id, "acwf_leader", "approve", comment="同意")
    assert (result.circulation_id, result.step) == (circ_id, "number")
    with Session(engine.db) as session:
        decisions = session.exec(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.circulation_id == circ_id, AuditEvent.action == "step:sign_off")
        ).one()
        done = session.exec(
            select(func.count()).select_from(WorkItem).where(WorkItem.circulation_id == circ_id, WorkItem.step == "sign_off", WorkItem.status == "done")
        ).one()
    assert (decisions, done) == (1, 1)


def test_a_launch_whose_commit_was_cut_off_fails_cleanly_and_is_not_launched_twice(make_engine, commit_cut_off):
    engine = make_engine()
    commit_cut_off.cuts = 1
    with pytest.raises(db.DatabaseUnavailable, match="无法确认本次操作是否已生效"):
        launch(engine)
    with Session(engine.db) as session:
        assert session.exec(select(func.count()).select_from(Circulation)).one() == 1  # the first attempt did commit; no second


def test_a_step_whose_commit_was_cut_off_has_its_effect_once(make_engine, commit_cut_off):
    engine = make_engine()
    circ_id = launch(engine)
    drain(engine)
    [(item, _, _)] = open_items(engine, "acwf_leader")
    engine.complete(item.id, "acwf_leader", "approve", comment="同意")
    commit_cut_off.cuts = 1
    assert engine.run_step(circ_id, "number").step == "render"
    assert engine.run_step(circ_id, "number").ran is False  # already past it
    assert check_invariants(engine).ok


# ---- PostgreSQL: terminated connections, an unreachable server -----------------------------------------


@pytest.mark.postgres
def test_terminated_connections_and_outages_leave_no_duplicate(make_engine, pg_url):
    with FaultProxy("127.0.0.1", 5432) as proxy:
        engine = make_engine(database_url=proxy.url_for(pg_url))
        injector = FaultInjector(proxy, pg_url, PG_ADMIN, terminations=3, outages=2, seconds=12, outage_seconds=2)
        before = Counter(db.RETRY_COUNTS)
        result = soak(engine, clients=4, seconds=12, seed=7, during=injector, resume=True)
        engine.db.dispose()
    assert injector.termination_rounds == 3 and injector.outage_count == 2
    assert proxy.refused > 0  # the outages did turn connections away
    assert db.RETRY_COUNTS["retried"] + db.RETRY_COUNTS["in_doubt_retried"] > before["retried"] + before["in_doubt_retried"]
    assert result.tally.total("unexpected") == 0, result.tally.unexpected_samples
    assert result.tally.total("ok") > 0
    assert result.violations == [], result.violations


@pytest.mark.postgres
def test_the_cli_says_plainly_when_the_database_stays_unreachable(pg_url, tmp_path):
    with FaultProxy("127.0.0.1", 5432) as proxy:
        proxy.outage()
        url = proxy.url_for(pg_url.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cret-pw@"))
        env = {"GONGWEN_DATABASE_URL": url, "GONGWEN_HOME": str(tmp_path), "GONGWEN_DB_RETRY_SECONDS": "1", "NO_COLOR": "1", "COLUMNS": "200"}
        proc = subprocess.run([GONGWEN, "inbox", "--user", "acwf_leader"], env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "数据库暂时无法访问" in proc.stderr and "恢复后重新执行本命令" in proc.stderr
    assert "Traceback" not in out
    assert "s3cret-pw" not in out


# ---- SQLite: several CLI processes at once ---------------------------------------------------------------


@pytest.mark.slow  # ~15 gongwen processes, three of them start Prefect's embedded server: 5.5 min at load 8
def test_several_cli_processes_at_once_on_sqlite_never_crash(tmp_path):
    swarm = Swarm.create(tmp_path / "swarm")
    cli_campaign(swarm, processes=4, orgs=("acwf", "hunan"))
    crashed = [(r.args, r.returncode, (r.stderr or r.stdout)[-600:]) for r in swarm.runs if r.crashed]
    assert crashed == []
    assert any(r.refused and "已办理" in r.stderr for r in swarm.runs)  # the same decision twice at once: one refused
    engine = open_engine(Settings(home=tmp_path / "swarm" / ".gongwen"))  # the processes' own home and storage
    report = check_invariants(engine)
    assert report.ok, [str(v) for v in report.violations]
    assert report.checked["documents"] >= 2 and work_item_checks(engine) == []


# ---- the concurrency soak -------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_short_soak_with_8_clients_on_postgres_keeps_every_invariant(make_engine, pg_url):
    engine = make_engine(database_url=pg_url)
    result = soak(engine, clients=8, seconds=10, seed=3)
    assert result.tally.total("unexpected") == 0, result.tally.unexpected_samples
    assert result.tally.total("db_unavailable") == 0
    assert result.tally.total("ok") > 0
    assert result.violations == [], result.violations
