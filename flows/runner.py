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
from collections.abc import Callable

import anyio
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from .engine import Engine

_engine: Engine | None = None


def use_engine(engine: Engine) -> None:
    """Set the engine the flows of this process use (the CLI and tests call this)."""
    global _engine
    _engine = engine


def current_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = Engine()
    return _engine


@task(name="step", cache_policy=NO_CACHE)
async def run_step(circulation_id: int, step: str) -> str:
    """One step, one transaction (see Engine.run_step)."""
    result = await anyio.to_thread.run_sync(current_engine().run_step, circulation_id, step)
    return result.status


async def advance(engine: Engine, circulation_id: int) -> str:
    """Run a circulation's automatic steps until it finishes or waits for a person.

    Each step is a Prefect task run named "<organisation> · <step> · <document>" (the document
    number, or its title before it has one), so the UI shows every organisation's circulation
    step by step in words a secretary knows. No tags: a tagged task run asks the API for tag
    concurrency slots, which the embedded SQLite server answered with 503s and ~2 s retries.
    """
    while True:
        circ = await anyio.to_thread.run_sync(engine.circulation, circulation_id)
        if circ.status not in ("ready", "running") or circ.step is None:
            return circ.status
        step = engine.flow(circ.flow).step(circ.step)
        name = f"{engine.config.org(circ.org).short_name} · {step.title} · {await anyio.to_thread.run_sync(engine.document_label, circ)}"
        try:
            await run_step.with_options(retries=step.retries, retry_delay_seconds=0.5, task_run_name=name)(circulation_id, circ.step)
        except Exception as exc:  # noqa: BLE001 - retries are exhausted: record and stop this circulation
            await anyio.to_thread.run_sync(engine.fail, circulation_id, f"{circ.step}: {type(exc).__name__}: {exc}")
            return "failed"


@flow(name="gongwen-dispatch", validate_parameters=False)
async def dispatch(concurrency: int = 4, on_progress: Callable[[], None] | None = None) -> dict[str, int]:
    """Run every circulation that has automatic work, including those the runs start, until idle.

    ``concurrency`` slots each claim one circulation at a time (so several workers share the
    work fairly); a slot stops when nothing is claimable and no other slot is still running
    (a running slot may yet deliver documents that start new circulations).
    """
    engine = current_engine()
    busy = 0

    async def slot() -> None:
        nonlocal busy
        while True:
            claimed = await anyio.to_thread.run_sync(engine.claim_ready, 1)
            if not claimed:
                if busy == 0:
                    return
                await asyncio.sleep(0.05)
                continue
            busy += 1
            try:
                await advance(engine, claimed[0].id)
            finally:
                busy -= 1
            if on_progress:
                on_progress()

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return engine.status_counts()


def run_until_idle(engine: Engine, concurrency: int = 4, on_progress: Callable[[], None] | None = None) -> dict[str, int]:
    """Synchronous entry point: run ``dispatch`` in Prefect with ``engine``."""
    use_engine(engine)
    return asyncio.run(dispatch(concurrency=concurrency, on_progress=on_progress))
