"""催办 on a schedule in Prefect: the ``gongwen-reminders`` flow.

``gongwen worker`` runs this flow every ``--reminder-interval`` seconds (default 300) beside its
dispatching; any number of workers may do so at once. Why a worker-run interval rather than a
Prefect deployment schedule: a deployment schedule needs a running Prefect server and a runner
process (``flow.serve``/a work pool), which the embedded default does not have; the worker is
already the long-running process. With a Prefect server, the same flow can be served on a
schedule (``gongwen_engine.flows.runtime.reminders.reminders_flow.serve(name="gongwen-reminders",
interval=300)``): both ways are safe together, because every reminder is decided by its unique
key inside the transaction that records it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime

import anyio
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from gongwen_engine.flows.actions.reporting import send_report_reminders
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime.runner import current_engine, off_the_main_thread, use_engine


@task(name="催办 · 报送要求", cache_policy=NO_CACHE)
async def remind_reports(now: datetime | None) -> int:
    return len(await anyio.to_thread.run_sync(send_report_reminders, current_engine(), now))


@task(name="催办 · 待办超期", cache_policy=NO_CACHE)
async def remind_items(now: datetime | None) -> int:
    return len(await anyio.to_thread.run_sync(current_engine().send_reminders, now))


@flow(name="gongwen-reminders", validate_parameters=False)
async def reminders_flow(now: datetime | None = None) -> dict[str, int]:
    """One round of 催办: reporting requirements (before, on and after the due date) and overdue work items."""
    return {"reports": await remind_reports(now), "work_items": await remind_items(now)}


def run_reminders(engine: Engine, now: datetime | None = None) -> dict[str, int]:
    """Synchronous entry point: one ``gongwen-reminders`` flow run with ``engine`` (off the main
    thread, like every flow run: ``runner.off_the_main_thread``)."""
    use_engine(engine)
    return off_the_main_thread(lambda: asyncio.run(reminders_flow(now=now)))


@dataclass
class ReminderSchedule:
    """The worker's interval: run the reminders flow when ``every`` seconds have passed."""

    every: float
    last: float = field(default=float("-inf"))

    def tick(self, engine: Engine) -> dict[str, int] | None:
        if time.monotonic() - self.last < self.every:
            return None
        self.last = time.monotonic()
        return run_reminders(engine)
