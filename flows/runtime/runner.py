"""Prefect drives the automatic steps.

* ``dispatch`` — one flow run that claims circulations with automatic work (``ready``) and
  advances them, until none is left. Every step is a task run named "<organisation> · <step>"
  (e.g. "山东省妇联 · 签发"), retried as the flow file declares. Several dispatchers (``gongwen worker`` on several machines, one PostgreSQL)
  share the work: claims use ``FOR UPDATE SKIP LOCKED`` and every step re-checks under the
  circulation's row lock, so a step's effect happens once however often it is run.

Why one flow run with task runs, not a flow run per circulation: a synchronous flow run costs
~1.1 s, an async one ~0.18 s (engineering notes), and on the embedded server (SQLite) we
measured many flow-run creations answered "503, database is locked" and retried after ~2 s,
so a 31-organisation demo took 47 s with a flow run per circulation. Task runs are recorded
through events and cost a few ms each: the same demo now takes ~10 s, ~6 s of it the
embedded server's start.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates import archive_files, pdf
from gongwen_engine.doc_templates.records import render_record
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.claims import has_claimable, release_claims_of, work_signal
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime.embedded import kill_embedded_server, start_embedded_server
from gongwen_engine.flows.runtime.retries import RETRY_DELAY_S, failure_text
from gongwen_engine.flows.runtime.signals import begin_stop, stop_within_bound_on_sigterm, stopping
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.circulations import document_label, get_circulation, status_counts
from gongwen_engine.models.tables import CirculationStatus

log = logging.getLogger(__name__)
T = TypeVar("T")
PAGE_COUNTS_FOLDER = "cache/pages"  # under GONGWEN_HOME: LibreOffice's page counts, shared by this machine's processes
_engine: Engine | None = None


def use_engine(engine: Engine) -> None:
    """Set the engine the flows of this process use (the CLI and tests call this)."""
    global _engine
    _engine = engine
    pdf.use_converters(engine.settings.converters)
    archive_files.share_page_counts(engine.settings.home.resolve() / PAGE_COUNTS_FOLDER)  # with the batch runner's helper processes


def current_engine() -> Engine:
    global _engine
    if _engine is None:
        use_engine(Engine(Settings(), actions=ACTIONS, record_renderer=render_record))
    assert _engine is not None  # set just above
    return _engine


@task(name="step", cache_policy=NO_CACHE)
async def run_step(circulation_id: int, step: str) -> str:
    """One step, one transaction (see Engine.run_step)."""
    result = await anyio.to_thread.run_sync(current_engine().run_step, circulation_id, step)
    return result.status


async def advance(engine: Engine, circulation_id: int, max_steps: int | None = None, while_urgent: bool = False) -> CirculationStatus:
    """Run a circulation's automatic steps until it finishes or waits for a person (or, with
    ``max_steps``, until that many steps ran; with ``while_urgent``, as long as its steps have a
    declared priority: the dispatcher runs a routine step per claim and an urgent run of steps
    (编号 → 核发) in one go, so the next claim can honour the steps' priorities).

    Each step is a Prefect task run named "<organisation> · <step> · <document>" (the document
    number, or its title before it has one), so the UI shows every organisation's circulation
    step by step in words a secretary knows. No tags: a tagged task run asks the API for tag
    concurrency slots, which the embedded SQLite server answered with 503s and ~2 s retries.
    """
    ran = 0
    while (max_steps is None or ran < max_steps) and not stopping.is_set():  # stopping: the next step waits for the next start
        ran += 1
        circ = await anyio.to_thread.run_sync(read, engine.db, get_circulation, circulation_id)
        if circ.status not in ("ready", "running") or circ.step is None:
            return circ.status
        step = engine.definition_of(circ).step(circ.step)
        if while_urgent and ran > 1 and step.priority <= 0:
            return circ.status
        name = f"{engine.config.org(circ.org).short_name} · {step.title} · {await anyio.to_thread.run_sync(read, engine.db, document_label, circ)}"
        try:
            await run_step.with_options(retries=step.retries, retry_delay_seconds=RETRY_DELAY_S, task_run_name=name)(circulation_id, circ.step)
        except Exception as exc:
            await anyio.to_thread.run_sync(engine.fail, circulation_id, failure_text(circ.step, exc))
            return CirculationStatus.failed
    return (await anyio.to_thread.run_sync(read, engine.db, get_circulation, circulation_id)).status


@flow(name="gongwen-dispatch", validate_parameters=False)
async def dispatch(
    concurrency: int = 4, on_progress: Callable[[], None] | None = None, linger: float = 0.0, poll: float = 0.5, max_seconds: float | None = None
) -> dict[str, int]:
    """Run every circulation that has automatic work, including those the runs start, until idle.

    ``concurrency`` slots each claim one circulation at a time (so several workers share the
    work fairly); a slot stops when nothing is claimable and no other slot is still running
    (a running slot may yet deliver documents that start new circulations).

    ``linger`` (``gongwen worker``): the flow run stays up that many idle seconds after its last
    step, its idle slots waiting for new work (woken at once by ``WorkSignal`` on PostgreSQL,
    else every ``poll`` seconds), so a leader's approval is picked up by a running flow run
    instead of paying for a new one (~0.2–5 s measured, depending on load). ``max_seconds``
    ends the run once it is that old and idle between two steps, so the worker can do its other
    duties (reminders) and the UI shows runs of bounded length.
    """
    engine = current_engine()
    signal = work_signal(engine.db)
    busy = urgent = 0  # slots running a step; of them, steps with a declared priority (编号 → 核发)
    calm = asyncio.Event()  # set while no urgent step runs
    calm.set()
    in_hand: set[int] = set()  # circulations this run's slots are advancing: ready between steps, not to be claimed twice
    started = last_work = time.monotonic()

    def over() -> bool:
        return max_seconds is not None and time.monotonic() - started >= max_seconds

    async def slot() -> None:
        nonlocal busy, urgent, last_work
        while not over() and not stopping.is_set():
            # while an urgent step runs, the other slots take only urgent work: the threads share
            # one interpreter, and routine steps beside it would slow the document going out
            claimed = await anyio.to_thread.run_sync(engine.claim_ready, 1, 1 if urgent else None, frozenset(in_hand))
            if not claimed:
                idle = time.monotonic() - last_work
                if busy == 0 and idle >= linger:
                    return
                if urgent:  # a document is going out: stay off the interpreter until it is sent (or 0.25 s)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(calm.wait(), 0.25)
                elif busy:
                    await asyncio.sleep(0.05)  # a running slot may deliver documents that start new circulations
                else:
                    await anyio.to_thread.run_sync(signal.wait, max(0.01, min(poll, linger - idle)))
                continue
            circ = claimed[0]
            assert circ.id is not None and circ.step is not None  # claimed: saved, and ready at a step
            pressing = engine.definition_of(circ).step(circ.step).priority > 0
            busy, urgent = busy + 1, urgent + pressing
            if urgent:
                calm.clear()
            in_hand.add(circ.id)
            try:
                # a routine step, then claim again (the most urgent step first); urgent steps in one go
                await advance(engine, circ.id, max_steps=None if pressing else 1, while_urgent=pressing)
            finally:
                busy, urgent = busy - 1, urgent - pressing
                if not urgent:
                    calm.set()
                in_hand.discard(circ.id)
                last_work = time.monotonic()
            if on_progress:
                on_progress()

    try:
        await asyncio.gather(*(slot() for _ in range(concurrency)))
    except asyncio.CancelledError:  # Prefect turned a SIGTERM into the run's cancellation: stop within the bound
        begin_stop()
        raise
    return read(engine.db, status_counts)


def run_until_idle(
    engine: Engine,
    concurrency: int = 4,
    on_progress: Callable[[], None] | None = None,
    linger: float = 0.0,
    poll: float = 0.5,
    max_seconds: float | None = None,
) -> dict[str, int]:
    """Synchronous entry point: run ``dispatch`` in Prefect with ``engine`` (off the main thread)."""
    use_engine(engine)
    start_embedded_server(engine.settings.home)
    return off_the_main_thread(
        lambda: asyncio.run(dispatch(concurrency=concurrency, on_progress=on_progress, linger=linger, poll=poll, max_seconds=max_seconds))
    )


def off_the_main_thread(work: Callable[[], T]) -> T:
    """``work()`` in a thread of its own while the main thread waits for it and keeps the signals.

    A flow run started on the main thread replaces our SIGTERM handler with Prefect's bridge, which
    raises ``TerminationSignal`` wherever the main thread is — once (1 of 20 SIGTERMs in CI) inside
    asyncio's self-pipe callback, where the event loop logged the exception and went on, and the
    worker was still running a minute later: our deadline had never been armed. Off the main thread
    Prefect cannot install its bridge (``signal.signal`` refuses there, and Prefect leaves the
    handler as it is), so SIGTERM always reaches ours (``signals.py``): the slots claim nothing
    more, the step in hand finishes or rolls back, and the deadline bounds the rest. Ctrl-C and
    SIGTERM tell the slots to stop; the main thread goes on waiting until the flow run has ended
    (the step in hand committed or rolled back, the run's events sent — an interpreter already
    shutting down refuses them, with tracebacks) and then stops as asked. The deadline bounds the
    wait after SIGTERM; a second Ctrl-C stops waiting."""
    if threading.current_thread() is not threading.main_thread():
        return work()  # the web server's background runner: already off the main thread
    results: list[T] = []
    errors: list[BaseException] = []

    ended = threading.Event()

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:  # handed to the waiting main thread as it is
            errors.append(exc)
        finally:
            ended.set()

    thread = threading.Thread(target=run, name="gongwen-dispatch")
    interrupted: BaseException | None = None
    while True:
        try:
            if thread.ident is None and interrupted is None:
                thread.start()  # inside the try: a signal during the start is a stop like any other
            # not thread.join: a join interrupted by a signal handler's exception releases the
            # running thread's state lock (CPython 3.11, bpo-45274) and the thread counts as ended
            if thread.ident is None or ended.wait(0.5):
                break  # ended, or stopped before it began
        except BaseException as exc:  # KeyboardInterrupt, or SystemExit from the SIGTERM handler
            if isinstance(exc, KeyboardInterrupt) and isinstance(interrupted, KeyboardInterrupt):
                raise  # Ctrl-C twice: the person does not want to wait for the step in hand
            begin_stop()
            interrupted = interrupted or exc
    if thread.ident is not None:
        thread.join()
    if interrupted is not None:
        raise interrupted
    if errors:
        raise errors[0]
    return results[0]


def serve(
    engine: Engine,
    concurrency: int = 4,
    interval: float = 2.0,
    linger: float = 60.0,
    duties: Callable[[], None] | None = None,
    duty_every: float = 300.0,
    once: bool = False,
) -> None:
    """``gongwen worker``: run the automatic steps as they become ready, for ever (``once``: until idle).

    While idle no flow run is started: the worker waits (``WorkSignal``: woken by the database on
    PostgreSQL, else every ``interval`` seconds) and asks whether anything is claimable. Work
    found starts one ``gongwen-dispatch`` flow run that lingers ``linger`` idle seconds for more
    (so a burst of approvals is one flow run, each step a task run in it) and lasts at most
    ``duty_every`` seconds before ``duties`` (催办 reminders, on their own schedule) run again."""
    signal = work_signal(engine.db)
    if not once:
        stop_cleanly_on_sigterm(engine)  # before the server starts: a SIGTERM during its start stops it too (atexit)
    start_embedded_server(engine.settings.home)
    if not once:
        pdf.warm_up()  # LibreOffice for 用印 starts now, not at the first approval
    try:
        while not stopping.is_set():
            if once or has_claimable(engine.db):
                run_until_idle(engine, concurrency=concurrency, linger=0.0 if once else linger, poll=interval, max_seconds=duty_every)
            if duties:
                duties()
            if once:
                return
            signal.wait(interval)
    finally:
        if stopping.is_set():
            give_back_claims(engine)


def give_back_claims(engine: Engine) -> None:
    """The claims of this process, given back as it stops (never an error at exit)."""
    with contextlib.suppress(Exception):
        released = release_claims_of(engine.db, engine.worker_name)
        if released:
            log.warning("stopping: %d claimed circulation(s) given back", released)


def stop_cleanly_on_sigterm(engine: Engine) -> None:
    """SIGTERM (``systemctl stop``, ``kill``) ends the worker (or the web server) like Ctrl-C and
    within ``signals.STOP_WITHIN_S`` in any state, giving back its claims (``signals.py``). Flow runs
    run off the main thread (``off_the_main_thread``), so Prefect never replaces this handler.

    Claims are given back when the worker loop unwinds and once more at exit: Python runs exit
    handlers after it has joined the non-daemon threads, so a step still running in a worker
    thread when the loop unwound (and a claim taken between the stop and the first give-back)
    has ended by then (the SIGTERM campaign found such a claim left once in 20 stops)."""

    def at_deadline() -> None:
        kill_embedded_server()  # instant, and no exit handler will do it after os._exit
        give_back_claims(engine)

    stop_within_bound_on_sigterm(at_deadline)

    def give_back_if_stopping() -> None:
        if stopping.is_set():
            give_back_claims(engine)

    atexit.register(give_back_if_stopping)
