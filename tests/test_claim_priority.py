"""Which ready work a worker takes first (the steps' declared ``priority``) and how an idle
worker learns that there is work (``WorkSignal``: PostgreSQL LISTEN/NOTIFY)."""

from __future__ import annotations

import threading
import time

import pytest

from gongwen_engine.flows.engine.claims import WorkSignal, has_claimable
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.circulations import circulation
from gongwen_engine.models import db
from gongwen_engine.models.tables import Circulation


def launch(engine, n: int) -> int:
    _, content = demo_mod.load_notice()
    return engine.launch("shandong", "issuing", content.model_copy(update={"title": f"{content.title}（{n}）"}), policy="demo", actor="system")


def test_the_flows_declare_the_sending_path_urgent(make_engine) -> None:
    engine = make_engine()
    for name in ("issuing", "outgoing", "incoming", "forwarding", "reporting"):
        steps = engine.flow(name).steps
        urgent = {s for s, step in steps.items() if step.priority > 0}
        assert "number" in urgent and "seal" in urgent, name
        assert steps["archive"].priority == 0, name


def test_an_approved_document_is_claimed_before_older_routine_work(make_engine) -> None:
    engine = make_engine()
    older = launch(engine, 1)  # ready at 签发 (signed by the demo policy): priority 0
    newer = launch(engine, 2)
    engine.run_step(newer, "sign_off")  # now at 编号: priority 1
    assert circulation(engine, newer).step == "number"
    assert [c.id for c in engine.claim_ready(1)] == [newer]
    assert [c.id for c in engine.claim_ready(1)] == [older]  # then the oldest of the rest
    assert engine.claim_ready(1) == []


def test_has_claimable_sees_ready_work_only(make_engine) -> None:
    engine = make_engine()
    assert not has_claimable(engine.db)
    cid = launch(engine, 1)
    assert has_claimable(engine.db)
    assert [c.id for c in engine.claim_ready(1)] == [cid]
    assert not has_claimable(engine.db)  # claimed by a live process: not claimable


def test_an_idle_worker_is_woken_by_the_commit_that_makes_work_ready(make_engine, pg_url) -> None:
    engine = make_engine(pg_url)
    signal = WorkSignal(engine.db)
    try:
        assert signal.wait(0.2) is False  # nothing happened: the wait times out
        woken: list[bool] = []
        waiter = threading.Thread(target=lambda: woken.append(signal.wait(60)))
        waiter.start()
        launch(engine, 1)  # its transaction makes a circulation ready
        waiter.join(90)
        assert woken == [True]

        # a transaction that rolls back announces nothing
        with pytest.raises(RuntimeError, match="rolled back"), db.transaction(engine.db) as session:
            session.add(Circulation(org="shandong", flow="issuing", flow_version="test", policy="demo", step="number", status="ready"))
            session.flush()
            raise RuntimeError("rolled back")
        assert signal.wait(0.5) is False
    finally:
        signal.close()


def test_waiting_threads_share_one_listener(make_engine, pg_url) -> None:
    engine = make_engine(pg_url)
    signal = WorkSignal(engine.db)
    try:
        woken: list[bool] = []
        waiters = [threading.Thread(target=lambda: woken.append(signal.wait(60))) for _ in range(3)]
        for w in waiters:
            w.start()
        time.sleep(1.0)  # let all three block in wait() first (one reads the connection, two wait for its news)
        launch(engine, 1)
        for w in waiters:
            w.join(90)
        assert woken == [True, True, True]
    finally:
        signal.close()


def test_urgent_only_and_in_hand_claims(make_engine) -> None:
    """While an urgent step runs, the other slots take only urgent work (``min_priority``); a
    circulation a slot is advancing (ready between its steps) is not claimed by another slot."""
    engine = make_engine()
    routine = launch(engine, 1)
    urgent_a, urgent_b = launch(engine, 2), launch(engine, 3)
    engine.run_step(urgent_a, "sign_off")
    engine.run_step(urgent_b, "sign_off")
    assert [c.id for c in engine.claim_ready(5, 1, frozenset({urgent_a}))] == [urgent_b]  # a is in hand
    assert [c.id for c in engine.claim_ready(5, 1)] == [urgent_a]  # urgent only: the routine one stays
    assert [c.id for c in engine.claim_ready(5)] == [routine]


def test_a_batch_slot_does_not_claim_what_another_slot_is_advancing(make_engine) -> None:
    """A batch's circulations stay claimed between their steps (``run_step``'s ``keep_claim``): no
    other slot, of this process or of another, claims them (it would prepare their PDFs a second
    time); a step run without a kept claim leaves its circulation ``ready`` for any dispatcher."""
    from gongwen_engine.flows.runtime.batch import claim_batch

    engine = make_engine()
    first, second = launch(engine, 1), launch(engine, 2)
    assert [c.id for c in claim_batch(engine, 64)] == [first, second]
    engine.run_step(first, "sign_off", keep_claim=True)  # the slot's first step: still in its hands
    assert circulation(engine, first).status == "running"
    assert claim_batch(engine, 64) == []
    engine.run_step(second, "sign_off")  # per step (runner.dispatch): ready again
    assert circulation(engine, second).status == "ready"
    assert [c.id for c in claim_batch(engine, 64)] == [second]


def test_a_batch_slot_takes_the_critical_path_first_and_leaves_the_rest_to_another(make_engine) -> None:
    """``claim_batch``'s order (``batch.claim_first``): the work of an organisation with
    subordinates (its 核发 starts the next level's; its 印制 and 用印 wait for LibreOffice) before
    older work of one without; but while such work is in a slot's hands, the next slot takes the
    other work first, so the database steps of the leaves run beside the conversions."""
    from gongwen_engine.flows.runtime.batch import claim_batch

    engine = make_engine()
    assert "shandong" in engine.config.with_subordinates and "qingdao" not in engine.config.with_subordinates
    _, content = demo_mod.load_notice()
    leaf = engine.launch("qingdao", "issuing", content, policy="demo", actor="system")
    forwarder = engine.launch("shandong", "issuing", content, policy="demo", actor="system")
    assert leaf < forwarder
    assert [c.id for c in claim_batch(engine, 1)] == [forwarder]  # the critical path, although younger
    another = engine.launch("jinan", "issuing", content, policy="demo", actor="system")
    assert [c.id for c in claim_batch(engine, 1)] == [leaf]  # shandong's is in hand: the rest goes beside it
    assert [c.id for c in claim_batch(engine, 1)] == [another]  # what is left, whatever its kind
    assert claim_batch(engine, 1) == []
