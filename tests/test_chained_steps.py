"""The batch runner's chains (``batch.CHAINED``): the steps up to the next one prepared outside
the lock (印制, 用印, 归档) run in one transaction, all or nothing; a failure inside a chain keeps
nothing of it, and the steps then run one at a time, so the failure is the failing step's own."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, select

from gongwen_engine.doc_templates.records import record_bytes
from gongwen_engine.doc_templates.seal import specimen_png
from gongwen_engine.flows.actions import sealing
from gongwen_engine.flows.engine import engine as engine_mod
from gongwen_engine.flows.engine import items
from gongwen_engine.flows.engine.definition import FlowDefinition, StepKind
from gongwen_engine.flows.runtime import batch
from gongwen_engine.flows.services import cascade
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.cascade import subtree_config
from gongwen_engine.flows.services.circulations import circulation
from gongwen_engine.models import db
from gongwen_engine.models.queries.circulations import step_finished_at
from gongwen_engine.models.tables import AuditEvent, Circulation, CirculationFile, CirculationStatus, IssuedNumber, LaunchOnce, WorkItemStatus, saved_id, utcnow


def launch(engine) -> int:
    """山东省妇联's notice under the demo policy: ready at 签发, which the policy approves."""
    _, content = demo_mod.load_notice()
    return engine.launch("shandong", "issuing", content, policy="demo", actor="system")


@contextmanager
def statements(engine) -> Iterator[list[str]]:
    """Every SQL statement the engine's database runs inside the block, in order."""
    heard: list[str] = []

    def listener(_conn, _cursor, statement: str, *_args) -> None:
        heard.append(statement)

    event.listen(engine.db, "before_cursor_execute", listener)
    try:
        yield heard
    finally:
        event.remove(engine.db, "before_cursor_execute", listener)


@contextmanager
def at_print_in_a_chain(engine) -> Iterator[tuple[Session, Circulation, FlowDefinition]]:
    """山东省妇联's notice through 签发 → 编号 (done, at 印制 now), then a transaction holding it with
    its item ledger kept, as a chain's transaction does."""
    cid = launch(engine)
    batch.run_chain(engine, cid)
    with db.transaction(engine.db) as session:
        circ = session.get(Circulation, cid)
        assert circ is not None and circ.step is not None
        items.keep_ledger(session, cid)
        yield session, circ, engine.flow(circ.flow)


def delivered_to_ningxia(engine) -> Circulation:
    """The national notice issued and delivered (a config of 宁夏 alone): 宁夏's circulation, at 签收."""
    assert cascade.launch_notice(engine, resume=False)
    cid = cascade.launched_notice(engine, demo_mod.load_notice()[0])
    assert cid is not None
    batch.advance_many(engine, [cid])
    with Session(engine.db) as session:
        child = session.exec(select(Circulation).where(Circulation.parent_id == cid).order_by(Circulation.id)).first()
    assert child is not None and child.id is not None and engine.flow(child.flow).step(child.step).kind == StepKind.sign_for
    return child


def steps_audited(engine, cid: int) -> list[str]:
    with Session(engine.db) as session:
        return [e.step or "" for e in session.exec(select(AuditEvent).where(AuditEvent.circulation_id == cid).order_by(AuditEvent.id))]


def test_the_steps_up_to_a_prepared_one_commit_together(make_engine) -> None:
    engine = make_engine()
    cid = launch(engine)
    flow = engine.flow("issuing")
    commits: list[int] = []
    event.listen(engine.db, "commit", lambda _conn: commits.append(1))
    assert batch.run_chain(engine, cid)[0] == CirculationStatus.ready
    after = circulation(engine, cid)
    assert flow.step(after.step).kind == StepKind.render  # 签发 and 编号 ran; 印制 waits for its preparation
    assert len(commits) == 1
    audited = steps_audited(engine, cid)
    assert flow.name_of(StepKind.sign_off) in audited and flow.name_of(StepKind.number) in audited


def test_a_failure_inside_a_chain_keeps_nothing_of_it_and_is_the_failing_steps_own(make_engine, monkeypatch) -> None:
    engine = make_engine()
    cid = launch(engine)
    flow = engine.flow("issuing")
    number = flow.step(flow.name_of(StepKind.number))

    def broken(_ctx) -> str | None:
        raise RuntimeError("编号服务不可用")

    monkeypatch.setattr(batch, "RETRY_DELAY_S", 0)
    monkeypatch.setitem(engine.actions, number.action, dataclasses.replace(engine.actions[number.action], run=broken))
    batch.advance_many(engine, [cid])
    failed = circulation(engine, cid)
    assert failed.status == CirculationStatus.failed and failed.step == flow.name_of(StepKind.number)  # the failing step, not the chain's first
    assert "编号服务不可用" in (failed.error or "")
    assert steps_audited(engine, cid).count(flow.name_of(StepKind.sign_off)) == 1  # 签发 once: the chain's attempt was rolled back
    with Session(engine.db) as session:
        assert session.exec(select(IssuedNumber)).all() == []


def test_a_chain_writes_its_record_once_as_its_last_step_left_it(make_engine, monkeypatch, tmp_path) -> None:
    """签收 → 登记 → 拟办 … re-issue the 收文处理单 at 登记 and 拟办 (and 签发 when forwarding): in one
    transaction each is gathered as the circulation stood after its step unless the next step
    re-issues it again first, and only the last is rendered and written."""
    engine = make_engine(config_dir=subtree_config(tmp_path / "config", ["p64"], max_children=1))
    child = delivered_to_ningxia(engine)
    gathered, rendered = [], []
    real_gather, real_render = engine_mod.gather_record, engine.record_renderer
    monkeypatch.setattr(engine_mod, "gather_record", lambda *a, **k: gathered.append(real_gather(*a, **k)) or gathered[-1])
    monkeypatch.setattr(engine, "record_renderer", lambda record, path: rendered.append(path) or real_render(record, path))
    batch.run_chain(engine, child.id)
    # re-issued at 登记, 拟办 and 签发: 登记's is superseded by 拟办's before anything changes (never
    # gathered), 拟办's is gathered before 拟稿 runs, 签发's before 编号; only the last is written
    assert len(gathered) == 2 and len(rendered) == 1
    with Session(engine.db) as session:
        kept = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == child.id, CirculationFile.role == "processing_slip")).one()
    written = (engine.storage / kept.file).read_bytes()
    assert hashlib.sha256(written).hexdigest() == kept.sha256 and written == record_bytes(gathered[-1])  # the last re-issue, as it saw the circulation


def at_seal(engine) -> int:
    """山东省妇联's notice numbered and printed: its next step is 用印."""
    cid = launch(engine)
    batch.run_chain(engine, cid)  # 签发 → 编号
    batch.prepare_printing(engine, [cid])
    engine.run_step(cid)  # 印制
    assert engine.flow("issuing").step(circulation(engine, cid).step).kind == StepKind.seal
    return cid


def test_what_the_issuer_seals_with_is_made_ready_outside_the_lock(make_engine, monkeypatch) -> None:
    engine = make_engine()
    cid = at_seal(engine)
    ring = sealing.keyring(engine)
    specimen_png.cache_clear()
    assert "shandong" not in ring._identities
    batch.prepare_seals(engine, [cid])
    assert "shandong" in ring._identities and specimen_png.cache_info().currsize == 1  # the demo certificate and the specimen, before the step
    monkeypatch.setattr(ring, "_load_identity", lambda org: pytest.fail("the 用印 step created an identity under the lock"))
    assert engine.run_step(cid).ran
    with Session(engine.db) as session:
        assert session.exec(select(CirculationFile).where(CirculationFile.circulation_id == cid, CirculationFile.role == sealing.SIGNED_PDF)).one()


def test_a_seal_that_cannot_be_made_ready_is_the_steps_failure_not_the_batchs(make_engine, monkeypatch) -> None:
    engine = make_engine()
    cid = at_seal(engine)

    def no_keys(_engine):
        raise RuntimeError("没有可用的印章密钥")

    monkeypatch.setattr(sealing, "keyring", no_keys)
    monkeypatch.setattr(batch, "RETRY_DELAY_S", 0)
    assert batch.prepare_seals(engine, [cid]) == 1  # converted all the same; nothing raised here
    batch.advance_many(engine, [cid])
    failed = circulation(engine, cid)
    assert failed.status == CirculationStatus.failed and "没有可用的印章密钥" in (failed.error or "")


def test_a_chain_asks_for_its_items_once_and_still_counts_every_step(make_engine) -> None:
    """The item ledger (``items.keep_ledger``): the steps of a chain do not ask the database again
    which items are open and how many steps have run — yet the step limit still counts the steps
    the chain itself ran (limit 1 step more than the launch's 拟稿…: the chain stops at it)."""
    engine = make_engine()
    cid = launch(engine)
    selects: list[str] = []

    def seen(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM workitem" in statement and "finished_at" not in statement.split("WHERE")[-1]:
            selects.append(statement)  # the questions the ledger answers (the record's history of finished items is another)

    event.listen(engine.db, "before_cursor_execute", seen)
    assert batch.run_chain(engine, cid)[0] == CirculationStatus.ready  # 签发 → 编号, one transaction
    event.remove(engine.db, "before_cursor_execute", seen)
    item_queries = [s for s in selects if "kind" not in s.split("WHERE")[-1]]
    assert len(item_queries) == 1 and "count(" not in item_queries[0].lower(), selects  # open and done items: one query for both questions

    engine2 = make_engine()
    cid2 = launch(engine2)
    with Session(engine2.db) as session:
        item = engine_mod.WorkItem
        done_before = len(session.exec(select(item).where(item.circulation_id == cid2, item.status == "done")).all())
    engine2.settings.max_steps = done_before + 1  # 签发 may run, 编号 may not
    batch.advance_many(engine2, [cid2])
    flow = engine2.flow("issuing")
    stopped = circulation(engine2, cid2)
    assert stopped.status == CirculationStatus.failed and stopped.step == flow.name_of(StepKind.number)
    assert f"GONGWEN_MAX_STEPS={done_before + 1}" in (stopped.error or "")


def test_the_ledger_says_when_a_step_last_finished_as_the_database_would(make_engine) -> None:
    """``items.finished_at`` (登记's 签收时间): inside a chain the ledger answers without a query, and
    what it answers is what the query gives — for every step, and for an item finished in the chain
    and one made after it, before any flush (the one made last is the last finished)."""
    engine = make_engine()
    with at_print_in_a_chain(engine) as (session, circ, flow):
        cid = saved_id(circ)
        read = {name: step_finished_at(session, cid, [name]) for name in flow.steps}
        assert sum(1 for at in read.values() if at) == 2  # 签发, 编号
        with statements(engine) as asked:
            assert {name: items.finished_at(session, cid, [name]) for name in flow.steps} == read
            [current] = items.open_items(session, engine.config, flow, circ, circ.step)
            current.status, current.finished_at = WorkItemStatus.done, utcnow()
            again = items.new_item(session, engine.config, circ, circ.step, flow.step(circ.step), None, 1)
            again.status, again.finished_at = WorkItemStatus.done, current.finished_at + timedelta(seconds=1)
            assert items.finished_at(session, cid, [circ.step]) == again.finished_at
        assert len([s for s in asked if "FROM workitem" in s]) == 1, asked  # the ledger's one reading, nothing per question
        session.flush()
        assert step_finished_at(session, cid, [circ.step]) == again.finished_at


def test_the_ledger_lists_the_finished_items_in_the_order_the_database_would(make_engine) -> None:
    """``items.done_items`` (the record's opinions, 归档's 参阅 decision): inside a chain the ledger
    answers without a query — the items finished before it (read back without their zone on
    SQLite) and those finished in it, not flushed yet — in the order the query gives after the flush."""
    engine = make_engine()
    with at_print_in_a_chain(engine) as (session, circ, flow):
        cid = saved_id(circ)
        with statements(engine) as asked:
            [current] = items.open_items(session, engine.config, flow, circ, circ.step)
            current.status, current.finished_at = WorkItemStatus.done, utcnow() + timedelta(seconds=2)
            earlier = items.new_item(session, engine.config, circ, circ.step, flow.step(circ.step), None, 1)
            earlier.status, earlier.finished_at = WorkItemStatus.done, utcnow() + timedelta(seconds=1)  # made later, finished first
            from_ledger = items.done_items(session, cid)
        assert len([s for s in asked if "FROM workitem" in s]) == 1, asked  # the ledger's one reading
        assert len(from_ledger) == 4 and from_ledger[-2:] == [earlier, current]  # 拟稿, 签发, 编号 before; then by finishing time
        session.flush()
        session.info.pop(items.LEDGER_KEY)
        assert items.done_items(session, cid) == from_ledger  # the query's answer, object for object


def test_a_leaf_chain_writes_each_row_once(make_engine, tmp_path) -> None:
    """No flush between a chain's steps: an item opened and finished inside the chain is inserted
    once with its final values, and the circulation's row is updated once (a leaf's 签收 → 登记 →
    拟办 …, one transaction)."""
    engine = make_engine(config_dir=subtree_config(tmp_path / "config", ["p64"], max_children=0))  # 宁夏: no subordinates
    leaf = delivered_to_ningxia(engine)
    with statements(engine) as heard:
        batch.run_chain(engine, leaf.id)
    writes = [" ".join(s.split()[:3]) for s in heard if s.lstrip().upper().startswith(("INSERT INTO WORKITEM", "UPDATE WORKITEM", "UPDATE CIRCULATION "))]
    with Session(engine.db) as session:
        made = session.exec(select(engine_mod.WorkItem).where(engine_mod.WorkItem.circulation_id == leaf.id)).all()
    steps_run = [i for i in made if i.status == WorkItemStatus.done]
    assert len(steps_run) >= 3, made  # 签收, 登记, 拟办 at least
    assert writes.count("UPDATE circulation SET") == 1, writes
    assert writes.count("UPDATE workitem SET") == 1, writes  # only 签收's item, made by the sender's transaction
    assert writes.count("INSERT INTO workitem") == len(made) - 1, writes  # each item the chain made: one INSERT, no UPDATE after it


def test_a_batch_reads_a_circulation_once_and_then_goes_by_what_its_chains_returned(make_engine, monkeypatch) -> None:
    """``advance_many``: the step each chain leaves the circulation at is where the next chain starts
    (still checked under the row lock), not a read of its own before every chain: the batch's
    circulations are read once, together, at its start."""
    engine = make_engine()
    cid, other = launch(engine), launch(engine)
    reads: list[object] = []
    real_read = batch.read

    def counted(db, query, *args, **kwargs):
        if query in (batch.get_circulation, batch.current_steps):
            reads.append((query.__name__, *(list(a) if isinstance(a, list) else a for a in args)))  # a copy: the batch keeps its list current
        return real_read(db, query, *args, **kwargs)

    monkeypatch.setattr(batch, "read", counted)
    batch.advance_many(engine, [cid, other])
    assert circulation(engine, cid).status == circulation(engine, other).status == CirculationStatus.done  # several chains each
    assert reads == [("current_steps", [cid, other])]


def test_the_next_chunks_preparation_runs_while_this_chunks_steps_do(make_engine, monkeypatch) -> None:
    """``advance_many``: chunk k+1 is prepared (LibreOffice, files) on a thread of its own while chunk
    k's steps run, so a slot's conversions overlap its steps; chunk k's own preparation is done
    before its first step. The preparation of the second chunk here waits for the first chunk's
    step: had the runner waited for it first, it would wait in vain."""
    engine = make_engine()
    first, second = launch(engine), launch(engine)
    monkeypatch.setattr(batch, "PREPARE_CHUNK", 1)
    events: list[str] = []
    stepped = threading.Event()
    real_group = batch.run_group

    def prepare_chunk(_engine, ids) -> None:
        if ids == [second] and not events.count(f"step {second}"):
            events.append(f"prepare {second} waited for step {first}: {stepped.wait(10)}")
        events.append(f"prepared {ids[0]} on {threading.current_thread().name.split('_')[0]}")

    def run_group(engine_, steps):
        events.extend(f"step {cid}" for cid in steps)
        stepped.set()
        return real_group(engine_, steps)

    monkeypatch.setattr(batch, "prepare_chunk", prepare_chunk)
    monkeypatch.setattr(batch, "run_group", run_group)
    batch.advance_many(engine, [first, second])
    assert events[:4] == [
        f"prepared {first} on gongwen-prepare",
        f"step {first}",
        f"prepare {second} waited for step {first}: True",
        f"prepared {second} on gongwen-prepare",
    ]
    assert events[4] == f"step {second}"
    assert circulation(engine, first).status == circulation(engine, second).status == CirculationStatus.done


def test_the_seal_step_writes_the_copy_prepared_outside_the_lock(make_engine, monkeypatch) -> None:
    engine = make_engine()
    cid = at_seal(engine)
    batch.prepare_seals(engine, [cid])
    monkeypatch.setattr(sealing.signing, "sign_pdf", lambda *a, **k: pytest.fail("the 用印 step signed under the lock"))
    assert engine.run_step(cid).ran
    with Session(engine.db) as session:
        row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == cid, CirculationFile.role == sealing.SIGNED_PDF)).one()
    signed = (engine.storage / row.file).read_bytes()
    assert row.sha256 == hashlib.sha256(signed).hexdigest() and sealing.verify_sealed(signed, sealing.keyring(engine)).ok


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_group_commits_together_and_a_failing_circulation_loses_only_its_own_steps(make_engine, monkeypatch, request, database) -> None:
    """Group commit (``Engine.run_steps``): several circulations' chains in one transaction, one
    COMMIT; one whose chain raises is rolled back to its savepoint (no step, number or audit record
    of it kept) and reported, while the others commit; ``batch.run_group`` then runs it alone."""
    engine = make_engine(database_url=request.getfixturevalue("pg_url") if database == "postgres" else None)
    first, broken_one, last = launch(engine), launch(engine), launch(engine)
    flow = engine.flow("issuing")
    number = flow.step(flow.name_of(StepKind.number))
    real = engine.actions[number.action]
    failures: list[int] = []

    def flaky(ctx) -> str | None:
        if ctx.circulation.id == broken_one and not failures:
            failures.append(broken_one)
            raise RuntimeError("编号服务暂时不可用")
        return real.run(ctx)

    monkeypatch.setitem(engine.actions, number.action, dataclasses.replace(real, run=flaky))
    commits: list[int] = []
    event.listen(engine.db, "commit", lambda _conn: commits.append(1))
    results = engine.run_steps({first: None, broken_one: None, last: None}, then=batch.CHAINED, keep_claim=True)
    assert len(commits) == 1
    assert isinstance(results[broken_one], RuntimeError) and "编号服务暂时不可用" in str(results[broken_one])
    for cid in (first, last):
        assert flow.step(results[cid].step).kind == StepKind.render  # 签发 → 编号 committed
        assert flow.name_of(StepKind.number) in steps_audited(engine, cid)
    kept = circulation(engine, broken_one)
    assert kept.step == flow.name_of(StepKind.sign_off) and kept.status == CirculationStatus.ready  # as before the group
    assert steps_audited(engine, broken_one) == [""]  # only its launch: the savepoint took 签发's record with it
    with Session(engine.db) as session:
        assert len(session.exec(select(IssuedNumber)).all()) == 2
    again = batch.run_group(engine, {broken_one: kept.step})  # alone now (what run_group does with a failed one)
    assert flow.step(again[broken_one][1]).kind == StepKind.render
    with Session(engine.db) as session:
        serials = sorted(n.serial for n in session.exec(select(IssuedNumber)))
    assert serials == list(range(serials[0], serials[0] + 3))  # none given twice, none lost to the rolled-back attempt


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_constraint_violation_in_a_group_is_the_circulations_own(make_engine, monkeypatch, request, database) -> None:
    """A real unique-constraint violation inside one circulation's savepoint (on PostgreSQL it
    aborts the transaction until the savepoint is rolled back) fails that circulation alone; the
    one after it in the same group still runs and commits."""
    engine = make_engine(database_url=request.getfixturevalue("pg_url") if database == "postgres" else None)
    broken_one, after = launch(engine), launch(engine)
    flow = engine.flow("issuing")
    number = flow.step(flow.name_of(StepKind.number))
    real = engine.actions[number.action]

    def clashing(ctx) -> str | None:
        if ctx.circulation.id == broken_one:
            for _ in range(2):  # the second: a duplicate primary key, refused by the database
                ctx.session.execute(insert(LaunchOnce).values(key="taken", circulation_id=broken_one))
        return real.run(ctx)

    monkeypatch.setitem(engine.actions, number.action, dataclasses.replace(real, run=clashing))
    results = engine.run_steps({broken_one: None, after: None}, then=batch.CHAINED, keep_claim=True)
    assert isinstance(results[broken_one], IntegrityError)
    assert flow.step(results[after].step).kind == StepKind.render
    assert circulation(engine, broken_one).step == flow.name_of(StepKind.sign_off)
    with Session(engine.db) as session:
        assert session.exec(select(LaunchOnce).where(LaunchOnce.key == "taken")).all() == []


def test_when_the_group_transaction_itself_fails_each_circulation_runs_alone(make_engine, monkeypatch) -> None:
    """``batch.run_group``: a database error ends the whole unit (``Engine.run_steps`` raises,
    nothing kept); every circulation of it then runs in a transaction of its own."""
    engine = make_engine()
    first, second = launch(engine), launch(engine)

    def unit_fails(*_args, **_kwargs):
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(engine, "run_steps", unit_fails)
    done = batch.run_group(engine, {first: None, second: None})
    flow = engine.flow("issuing")
    assert [flow.step(step).kind for _status, step in done.values()] == [StepKind.render, StepKind.render]
    assert all(circulation(engine, cid).step == flow.name_of(StepKind.render) for cid in (first, second))
