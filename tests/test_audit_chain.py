"""The tamper-evident audit trail: every record is chained at commit (models/audit.py), and
``gongwen audit verify`` finds an edited, a deleted or an inserted record."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from driving import drive
from sqlalchemy import event, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive_check import four_properties
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models import audit, db
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, WorkItem


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, make_engine: Callable[..., Engine]) -> Engine:
    if request.param == "sqlite":
        return make_engine()
    return make_engine(database_url=request.getfixturevalue("pg_url"))


def launch_and_drive(engine: Engine, sign_off: bool = False) -> int:
    """全国妇联 launches its notice; with ``sign_off`` its leader signs it off (签发) and the
    automatic steps (编号, 印制, …) run until the provinces wait for their own people."""
    org, content = load_notice()
    circ_id = engine.launch(org, "issuing", content, policy="manual", actor="acwf_secretary")
    drive(engine)
    if sign_off:
        with Session(engine.db) as session:
            item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ_id, WorkItem.status == "open")).one()
        engine.complete(item.id, "acwf_leader", "approve")
        drive(engine)
    return circ_id


def write(engine: Engine, n: int, actor: str = "tester") -> None:
    for i in range(n):
        with db.transaction(engine.db) as session:
            audit.record(session, actor, "tested", detail={"i": i, "名称": "测试", "nested": {"b": 2, "a": [1, 2]}})


def chain_rows(engine: Engine) -> list[AuditEvent]:
    with Session(engine.db) as session:
        return list(session.exec(select(AuditEvent).order_by(AuditEvent.seq)))


def verify(engine: Engine) -> audit.ChainReport:
    with Session(engine.db) as session:
        return audit.verify_chain(session)


def sql(engine: Engine, statement: str, **params: object) -> None:
    """Tamper with the trail behind the engine's back."""
    with engine.db.begin() as conn:
        conn.execute(text(statement), params)


# ---- the chain is written -------------------------------------------------------------------------------


def test_every_record_of_a_real_circulation_is_chained_gap_free(engine: Engine) -> None:
    launch_and_drive(engine, sign_off=True)
    write(engine, 3)
    rows = chain_rows(engine)
    assert {"launch", "step:sign_off", "numbered", "delivered", "tested"} <= {r.action for r in rows}
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    previous = audit.GENESIS
    for row in rows:  # recomputed from the stored fields, independently of verify_chain
        assert row.chain_hash == audit.link_hash(previous, row)
        previous = row.chain_hash
    report = verify(engine)
    assert report.intact and report.records == len(rows) and report.head_seq == len(rows) and report.head_hash == rows[-1].chain_hash


def test_a_rolled_back_transaction_leaves_no_gap(engine: Engine) -> None:
    write(engine, 2)
    with pytest.raises(RuntimeError), db.transaction(engine.db) as session:
        audit.record(session, "tester", "never_committed")
        session.flush()
        raise RuntimeError("the unit of work fails after its audit record was flushed")
    with db.transaction(engine.db) as session:  # a savepoint rolled back inside a committed transaction
        audit.record(session, "tester", "kept_before")
        nested = session.begin_nested()
        audit.record(session, "tester", "rolled_back_savepoint")
        session.flush()
        nested.rollback()
        audit.record(session, "tester", "kept_after")
    rows = chain_rows(engine)
    assert [r.action for r in rows] == ["tested", "tested", "kept_before", "kept_after"]
    assert [r.seq for r in rows] == [1, 2, 3, 4] and verify(engine).intact


def test_records_of_one_transaction_follow_their_id_order(engine: Engine) -> None:
    with Session(engine.db) as session:
        first = audit.record(session, "tester", "first")  # no transaction yet: added to the session
        session.flush()  # flushed early (as autoflush does), before the others exist
        first_id = first.id
        audit.record(session, "tester", "second")  # in the transaction now: they wait for the commit
        audit.record(session, "tester", "third")
        session.commit()
    rows = chain_rows(engine)
    assert [r.action for r in rows] == ["first", "second", "third"] and rows[0].id == first_id
    assert [r.id for r in rows] == sorted(r.id for r in rows)


def test_records_of_a_transaction_are_inserted_once_numbered_and_read_with_the_stored(engine: Engine) -> None:
    """Inside ``db.transaction`` a record waits outside the session until the commit numbers it:
    an early flush does not insert it (no INSERT and UPDATE again), ``events_about`` reads it with
    the stored ones, and the commit inserts them all, numbered, in the order they were made."""
    with db.transaction(engine.db) as session:
        audit.record(session, "tester", "stored", circulation_id=7)
    statements: list[str] = []

    def listener(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine.db, "before_cursor_execute", listener)
    with db.transaction(engine.db) as session:
        audit.record(session, "tester", "waiting", circulation_id=7)
        audit.record(session, "tester", "other", circulation_id=8)
        session.flush()
        assert not any("auditevent" in s.lower() and s.lstrip().upper().startswith("INSERT") for s in statements)
        assert [e.action for e in audit.events_about(session, 7)] == ["stored", "waiting"]
        assert [e.action for e in audit.events_about(session, 7, "waiting")] == ["waiting"]
    event.remove(engine.db, "before_cursor_execute", listener)
    writes = [s for s in statements if "auditevent" in s.lower() and s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("INSERT")  # one executemany, already numbered
    rows = chain_rows(engine)
    assert [(r.action, r.seq) for r in rows] == [("stored", 1), ("waiting", 2), ("other", 3)] and verify(engine).intact


def test_timestamps_in_any_zone_hash_as_the_database_returns_them(engine: Engine) -> None:
    from zoneinfo import ZoneInfo

    with db.transaction(engine.db) as session:
        audit.record(session, "tester", "beijing_time", at=datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai")))
        audit.record(session, "tester", "utc_time", at=datetime(2026, 3, 1, 1, 30, 0, tzinfo=UTC), detail={"f": 1.5, "none": None})
    assert verify(engine).intact


# ---- verify finds tampering ------------------------------------------------------------------------


def test_an_edited_detail_is_found(engine: Engine) -> None:
    write(engine, 6)
    victim = chain_rows(engine)[3]
    sql(engine, "UPDATE auditevent SET detail = :d WHERE id = :id", d='{"i": 99}', id=victim.id)
    report = verify(engine)
    assert [(b.kind, b.seq, b.id) for b in report.breaks] == [("edited", 4, victim.id)]
    assert "序号 4" in report.breaks[0].message and "被修改" in report.breaks[0].message


def test_an_edited_actor_or_time_is_found(engine: Engine) -> None:
    write(engine, 4)
    rows = chain_rows(engine)
    sql(engine, "UPDATE auditevent SET actor = 'someone_else' WHERE id = :id", id=rows[0].id)
    sql(engine, "UPDATE auditevent SET at = :at WHERE id = :id", at=datetime(2020, 1, 1, tzinfo=UTC), id=rows[2].id)
    assert [(b.kind, b.seq) for b in verify(engine).breaks] == [("edited", 1), ("edited", 3)]


def test_a_deleted_record_is_found(engine: Engine) -> None:
    write(engine, 6)
    sql(engine, "DELETE FROM auditevent WHERE seq = 3")
    sql(engine, "DELETE FROM auditevent WHERE seq IN (5, 6)")
    breaks = verify(engine).breaks
    assert [(b.kind, b.seq) for b in breaks] == [("deleted", 3)]  # seq 5-6 were the tail: see the head below
    assert "序号 3 的审计记录缺失" in breaks[0].message and "删除" in breaks[0].message
    write(engine, 1)  # the chain continues from the new head; the gap is still reported
    assert [(b.kind, b.seq) for b in verify(engine).breaks] == [("deleted", 3)]


def test_deleted_records_renumbered_to_close_the_gap_are_found(engine: Engine) -> None:
    write(engine, 6)
    sql(engine, "DELETE FROM auditevent WHERE seq = 3")
    for seq in (4, 5, 6):
        sql(engine, "UPDATE auditevent SET seq = :new WHERE seq = :old", new=seq - 1, old=seq)
    assert [(b.kind, b.seq) for b in verify(engine).breaks] == [("edited", 3)]


def test_a_record_inserted_beside_the_chain_is_found(engine: Engine) -> None:
    write(engine, 3)
    sql(engine, "INSERT INTO auditevent (at, actor, action, detail) VALUES (:at, 'mallory', 'forged', '{}')", at=datetime.now(UTC))
    [found] = verify(engine).breaks
    assert found.kind == "unchained" and found.seq is None and "mallory" in found.message and "插入" in found.message


def test_a_record_inserted_into_the_chain_is_found_even_with_a_valid_link(engine: Engine) -> None:
    """The forger renumbers the later records and gives the forged one a correct link to its
    predecessor: the record after it still links to the one before, which names the insert."""
    write(engine, 5)
    rows = chain_rows(engine)
    for row in reversed(rows[2:]):
        sql(engine, "UPDATE auditevent SET seq = :new WHERE id = :id", new=row.seq + 1, id=row.id)
    forged = AuditEvent(at=datetime.now(UTC), actor="mallory", action="forged", detail={})
    forged_hash = audit.link_hash(rows[1].chain_hash, forged)
    sql(
        engine,
        "INSERT INTO auditevent (at, actor, action, detail, seq, chain_hash) VALUES (:at, 'mallory', 'forged', '{}', 3, :h)",
        at=forged.at,
        h=forged_hash,
    )
    [found] = verify(engine).breaks
    assert (found.kind, found.seq) == ("inserted", 3) and "mallory" in found.message and "插入" in found.message


def test_an_intact_trail_passes_and_the_cli_reports_breaks_with_a_failing_exit_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "GONGWEN_HOME": str(home), "COLUMNS": "200"}
    env.pop("GONGWEN_DATABASE_URL", None)
    from gongwen_engine.config.settings import Settings

    engine = open_engine(Settings(home=home))
    write(engine, 4)
    cli = [sys.executable, "-m", "gongwen_engine.flows", "audit"]
    intact = subprocess.run([*cli, "verify"], capture_output=True, text=True, env=env, timeout=300)
    assert intact.returncode == 0 and "审计记录链完整：共 4 条" in intact.stdout, intact.stderr
    rows = chain_rows(engine)
    sql(engine, "UPDATE auditevent SET detail = '{\"i\": 7}' WHERE id = :id", id=rows[1].id)
    sql(engine, "DELETE FROM auditevent WHERE id = :id", id=rows[2].id)
    broken = subprocess.run([*cli, "verify"], capture_output=True, text=True, env=env, timeout=300)
    assert broken.returncode == 1
    assert f"序号 2（id {rows[1].id}" in broken.stderr and "被修改" in broken.stderr and "序号 3 的审计记录缺失" in broken.stderr
    as_json = subprocess.run([*cli, "verify", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert as_json.returncode == 1 and '"intact": false' in as_json.stdout and '"kind": "deleted"' in as_json.stdout
    listing = subprocess.run(cli, capture_output=True, text=True, env=env, timeout=300)  # `gongwen audit` still lists
    assert listing.returncode == 0 and listing.stdout.count("tested") == 3


# ---- concurrency --------------------------------------------------------------------------------------


def test_concurrent_writers_build_one_unbroken_chain(engine: Engine) -> None:
    """Writers that also take circulation row locks (as the engine's steps do) append to one
    chain: no duplicate position, no gap, no deadlock."""
    circulations = [launch_and_drive(engine) for _ in range(2)]
    before = len(chain_rows(engine))
    writers, transactions = 8, 15
    failures: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for t in range(transactions):
                with db.transaction(engine.db) as session:
                    circ = db.lock_circulation(session, circulations[(w + t) % 2])
                    assert circ is not None
                    audit.record(session, f"writer{w}", "concurrent", circulation_id=circ.id, detail={"t": t})
                    circ.updated_at = datetime.now(UTC)
                    session.add(circ)
                    audit.record(session, f"writer{w}", "concurrent_second", detail={"t": t})
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    rows = chain_rows(engine)
    assert len(rows) == before + writers * transactions * 2
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))  # unique and gap-free
    assert verify(engine).intact
    with Session(engine.db) as session:
        assert session.exec(select(Circulation)).first() is not None


# ---- the migration ---------------------------------------------------------------------------------------


def test_the_migration_chains_existing_records_in_id_order(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    with db.get_engine(url).begin() as conn:
        cfg = db.alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")  # a database from before the chain
        for i in range(5):
            conn.execute(
                text("INSERT INTO auditevent (at, actor, action, org, step, detail) VALUES (:at, 'old', 'before_chain', 'acwf', NULL, :d)"),
                {"at": datetime(2025, 1, 1, 8, i, tzinfo=UTC), "d": f'{{"i": {i}, "名": "旧"}}'},
            )
    db.migrate(url)
    with Session(db.get_engine(url)) as session:
        rows = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert audit.verify_chain(session).intact
    with db.transaction(db.get_engine(url)) as session:
        audit.record(session, "new", "after_chain")
    with Session(db.get_engine(url)) as session:
        report = audit.verify_chain(session)
        assert report.intact and report.head_seq == 6


# ---- the head anchored outside the database (issue 26) ----------------------------------------------


def test_cutting_off_the_last_records_is_found_through_the_checkpoint(engine: Engine) -> None:
    from gongwen_engine.flows.services.audit import checkpoint_folder, verify_audit_chain

    write(engine, 6)
    first = verify_audit_chain(engine)
    assert first.intact and first.head_seq == 6
    [checkpoint] = audit.read_checkpoints(checkpoint_folder(engine))
    assert (checkpoint.seq, checkpoint.chain_hash) == (6, first.head_hash)
    sql(engine, "DELETE FROM auditevent WHERE seq > 4")  # the chain of seq 1-4 alone is intact
    assert verify(engine).intact  # what the chain alone cannot see
    report = verify_audit_chain(engine)
    assert [(b.kind, b.seq) for b in report.breaks] == [("truncated", 6)]
    assert "链尾被截去" in report.breaks[0].message and "序号 5–6" in report.breaks[0].message
    assert audit.read_checkpoints(checkpoint_folder(engine))[0].seq == 6  # a broken chain never lowers the anchor


def test_a_recomputed_chain_contradicts_the_checkpoint(engine: Engine) -> None:
    from gongwen_engine.flows.services.audit import checkpoint_folder, verify_audit_chain

    write(engine, 3)
    assert verify_audit_chain(engine).intact
    rows = chain_rows(engine)
    sql(engine, "UPDATE auditevent SET actor = 'mallory' WHERE seq = 2")
    head = audit.GENESIS  # the forger recomputes every hash after the edit
    with Session(engine.db) as session:
        for row in session.exec(select(AuditEvent).order_by(AuditEvent.seq)):
            head = audit.link_hash(head, row)
            session.connection().execute(text("UPDATE auditevent SET chain_hash = :h WHERE id = :id"), {"h": head, "id": row.id})
        session.commit()
    assert verify(engine).intact and len(rows) == 3
    assert [b.kind for b in verify_audit_chain(engine).breaks] == ["rewritten"]
    assert audit.read_checkpoints(checkpoint_folder(engine))


def test_filing_anchors_the_head(engine: Engine) -> None:
    from gongwen_engine.flows.services.audit import checkpoint_folder

    org, content = load_notice()
    engine.launch(org, "issuing", content, policy="national", actor=f"{org}_secretary")
    drive(engine)  # 全国妇联's notice is numbered, printed, sealed, sent and filed
    [checkpoint] = audit.read_checkpoints(checkpoint_folder(engine))
    with Session(engine.db) as session:
        assert session.exec(select(AuditEvent.chain_hash).where(AuditEvent.seq == checkpoint.seq)).one() == checkpoint.chain_hash


# ---- each archive item anchors the head too (issue 26) ----------------------------------------------


def file_two_items(engine: Engine) -> list[ArchiveItem]:
    """全国妇联's notice signed off and run: its own item and the first receiver's are filed, each
    with its anchor; the daily checkpoints are removed, so only the items anchor the head."""
    from gongwen_engine.flows.services.audit import checkpoint_folder

    launch_and_drive(engine, sign_off=True)
    shutil.rmtree(checkpoint_folder(engine))
    with Session(engine.db) as session:
        items = list(session.exec(select(ArchiveItem).order_by(col(ArchiveItem.anchor_seq))))
    assert len(items) == 2 and all(i.anchor_seq for i in items)
    return items


def anchor_path(engine: Engine, item: ArchiveItem) -> Path:
    from gongwen_engine.flows.actions.archiving import anchor_file

    relative = anchor_file(item)
    assert relative is not None
    return engine.storage / relative


def audit_verify(engine: Engine) -> audit.ChainReport:
    from gongwen_engine.flows.services.audit import verify_audit_chain

    return verify_audit_chain(engine)


def archive_verify(engine: Engine) -> list[tuple[str, str, str]]:
    from gongwen_engine.flows.actions.archiving import verify as verify_files

    with Session(engine.db) as session:
        _, problems = verify_files(session, engine.storage)
    return [(p.kind, p.archive_code, Path(p.file).name) for p in problems]


def test_each_item_anchors_its_own_archived_record_and_an_untouched_trail_is_clean(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    items = file_two_items(engine)
    with Session(engine.db) as session:
        for item in items:
            record = session.exec(select(AuditEvent).where(AuditEvent.seq == item.anchor_seq)).one()
            assert (record.action, record.detail["archive_code"], record.chain_hash) == ("archived", item.archive_code, item.anchor_hash)
            anchored = audit.read_item_anchor(anchor_path(engine, item))
            assert (anchored.archive_code, anchored.seq, anchored.chain_hash) == (item.archive_code, item.anchor_seq, item.anchor_hash)
    assert audit_verify(engine).breaks == [] and archive_verify(engine) == []
    with Session(engine.db) as session:
        report = four_properties(session, engine.storage, engine.config, items[0].fonds, items[0].year)
    anchors = next(c for c in report.checks if "审计锚点" in c.name)
    assert anchors.passed and anchors.looked_at.startswith("1 件")
    from gongwen_engine.flows.actions.archiving import remove_leftovers
    from gongwen_engine.flows.services.archive_exports import item_metadata

    assert remove_leftovers(engine.storage, items[0]) == [] and anchor_path(engine, items[0]).is_file()  # the anchor is no leftover
    assert item_metadata(items[0])["审计锚点"] == {"审计序号": items[0].anchor_seq, "链哈希": items[0].anchor_hash}
    monkeypatch.setenv("GONGWEN_HOME", str(engine.settings.home))
    monkeypatch.setenv("GONGWEN_STORAGE", str(engine.storage))
    if engine.settings.database_url:
        monkeypatch.setenv("GONGWEN_DATABASE_URL", engine.settings.database_url.get_secret_value())
    from gongwen_engine.flows.cli.main import app

    shown = CliRunner().invoke(app, ["archive", "show", items[0].archive_code, "--user", "acwf_archivist"])
    assert shown.exit_code == 0 and f"审计锚点：审计序号 {items[0].anchor_seq}，链哈希 {str(items[0].anchor_hash)[:16]}…" in shown.output, shown.output
    from fastapi.testclient import TestClient

    from gongwen_engine.flows.cli.web import DEMO_PASSWORD
    from gongwen_engine.flows.web.app import create_app

    with TestClient(create_app(engine.settings, run_steps=False)) as client:
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token is not None
        form = {"csrf": token.group(1), "account": "acwf_archivist", "password": DEMO_PASSWORD, "next": "/"}
        signed = client.post("/login", data=form, follow_redirects=False)
        assert signed.status_code == 303, signed.text
        page = client.get(f"/archive/items/{items[0].archive_code}").text
    assert f"<dt>审计锚点</dt><dd>审计序号 {items[0].anchor_seq}，链哈希 <code>{str(items[0].anchor_hash)[:16]}…</code></dd>" in page


def test_the_last_records_cut_off_are_found_through_an_item_anchor_without_any_checkpoint(engine: Engine) -> None:
    last = file_two_items(engine)[-1]
    assert last.anchor_seq is not None
    sql(engine, "DELETE FROM auditevent WHERE seq >= :seq", seq=last.anchor_seq - 1)  # the chain left alone is intact
    assert verify(engine).intact
    report = audit_verify(engine)
    assert [(b.kind, b.seq) for b in report.breaks] == [("truncated", last.anchor_seq)]
    message = report.breaks[0].message
    assert "链尾被截去" in message and last.archive_code in message and f"序号 {last.anchor_seq - 1}–{last.anchor_seq}" in message
    assert not (engine.settings.home / audit.CHECKPOINT_FOLDER).exists()  # a broken chain writes no checkpoint


def test_a_rewritten_chain_contradicts_the_item_anchors(engine: Engine) -> None:
    items = file_two_items(engine)
    sql(engine, "UPDATE auditevent SET actor = 'mallory' WHERE seq = 2")
    head = audit.GENESIS  # the forger recomputes every hash after the edit
    with Session(engine.db) as session:
        for row in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))):
            head = audit.link_hash(head, row)
            session.connection().execute(text("UPDATE auditevent SET chain_hash = :h WHERE id = :id"), {"h": head, "id": row.id})
        session.commit()
    assert verify(engine).intact  # what the chain alone cannot see
    report = audit_verify(engine)
    breaks = sorted(report.breaks, key=lambda b: b.seq or 0)
    assert [(b.kind, b.seq) for b in breaks] == [("rewritten", i.anchor_seq) for i in items]
    assert all(i.archive_code in b.message and "重算或替换" in b.message for i, b in zip(items, breaks, strict=True))


def test_an_altered_or_missing_anchor_is_named_by_both_verifies_and_items_without_one_are_calm(engine: Engine) -> None:
    first, last = file_two_items(engine)
    path = anchor_path(engine, first)
    path.write_text(path.read_text(encoding="utf-8").replace(str(first.anchor_hash), "0" * 64), encoding="utf-8")
    report = audit_verify(engine)
    assert [(b.kind, b.seq) for b in report.breaks] == [("rewritten", first.anchor_seq)] and first.archive_code in report.breaks[0].message
    path.write_text("{not json", encoding="utf-8")
    report = audit_verify(engine)
    assert [b.kind for b in report.breaks] == ["anchor"] and first.archive_code in report.breaks[0].message and "无法读取" in report.breaks[0].message
    assert archive_verify(engine) == [("changed", first.archive_code, audit.ITEM_ANCHOR)]
    path.unlink()
    assert archive_verify(engine) == [("missing", first.archive_code, audit.ITEM_ANCHOR)]
    with Session(engine.db) as session:
        report_4 = four_properties(session, engine.storage, engine.config, first.fonds, first.year)
    assert any(first.archive_code in f and "审计锚点" in f for c in report_4.checks for f in c.failures)

    # an item filed before anchors existed: no anchor file, no anchor recorded — nothing to report
    sql(engine, "UPDATE archiveitem SET anchor_seq = NULL, anchor_hash = NULL WHERE id = :id", id=first.id)
    anchor_path(engine, last).unlink()
    sql(engine, "UPDATE archiveitem SET anchor_seq = NULL, anchor_hash = NULL WHERE id = :id", id=last.id)
    assert audit_verify(engine).intact and archive_verify(engine) == []


def test_filing_refreshes_the_days_checkpoint_at_most_once_an_interval(tmp_path: Path) -> None:
    """归档 writes the day's checkpoint when it is missing or older than CHECKPOINT_INTERVAL (issue
    25: one fsync a filing saved); the head is read only then, and never lowers the checkpoint."""
    day = datetime(2026, 12, 5, tzinfo=UTC).date()
    heads = iter([(5, "a" * 64), (9, "b" * 64), (3, "c" * 64)])
    asked: list[int] = []

    def head() -> tuple[int, str]:
        asked.append(1)
        return next(heads)

    assert audit.refresh_checkpoint(tmp_path, head, day)  # missing: written
    assert not audit.refresh_checkpoint(tmp_path, head, day)  # fresh: left alone, the head not read
    assert len(asked) == 1
    [checkpoint] = audit.read_checkpoints(tmp_path)
    assert (checkpoint.seq, checkpoint.chain_hash) == (5, "a" * 64)
    old = checkpoint.path.stat().st_mtime - audit.CHECKPOINT_INTERVAL - 1
    os.utime(checkpoint.path, (old, old))
    assert audit.refresh_checkpoint(tmp_path, head, day)  # older than the interval: renewed
    assert audit.read_checkpoints(tmp_path)[0].seq == 9
    os.utime(checkpoint.path, (old, old))
    assert audit.refresh_checkpoint(tmp_path, head, day)
    assert audit.read_checkpoints(tmp_path)[0].seq == 9  # a lower head never replaces a higher one
    assert audit.refresh_checkpoint(tmp_path, lambda: (11, "d" * 64), day.replace(day=6))  # a new day: its own file
    assert [c.seq for c in audit.read_checkpoints(tmp_path)] == [9, 11]
