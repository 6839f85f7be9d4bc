"""Running the automatic work: ``gongwen run``, ``worker`` and ``remind`` (催办)."""

from __future__ import annotations

from typing import Annotated

import typer

from gongwen_engine.flows.cli._common import console, engine_from_env, friendly, run_automatic
from gongwen_engine.flows.cli.check import print_behind
from gongwen_engine.flows.services.flow_versions import behind_current

group = typer.Typer()
Concurrency = Annotated[int, typer.Option(help="circulations run at once")]


@group.command("run")
@friendly
def run_cmd(concurrency: Concurrency = 4) -> None:
    """Run every circulation that has automatic work (in Prefect) until none is left."""
    run_automatic(engine_from_env(), concurrency)


@group.command()
@friendly
def worker(
    interval: Annotated[float, typer.Option(help="seconds between polls when idle (on PostgreSQL new work also wakes the worker at once)")] = 2.0,
    concurrency: Concurrency = 4,
    once: Annotated[bool, typer.Option(help="stop when idle instead of polling")] = False,
    linger: Annotated[float, typer.Option(help="idle seconds a flow run waits for more work before it ends")] = 60.0,
    reminder_interval: Annotated[float, typer.Option(help="seconds between runs of the gongwen-reminders flow (催办)")] = 300.0,
) -> None:
    """A long-running worker: start several (on several machines) against one PostgreSQL."""
    from gongwen_engine.flows.runtime.reminders import ReminderSchedule
    from gongwen_engine.flows.runtime.runner import serve

    engine = engine_from_env()
    console.print(f"工作进程 {engine.worker_name} 已启动，空闲时每 {interval} 秒查看一次新工作（按 Ctrl-C 停止）")
    print_behind(behind_current(engine))
    reminders = ReminderSchedule(every=reminder_interval)

    def remind() -> None:
        reminders.tick(engine)

    serve(engine, concurrency=concurrency, interval=interval, linger=linger, duties=remind, duty_every=reminder_interval, once=once)


@group.command()
@friendly
def remind() -> None:
    """Send reminders (催办) for overdue work items; each item is reminded once."""
    sent = engine_from_env().send_reminders()
    console.print(f"已催办 {len(sent)} 项")
