"""People: ``gongwen delegate`` (委托代办)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from gongwen_engine.flows.cli._common import console, engine_from_env, friendly, time_from, time_until
from gongwen_engine.models.rules.dates import now, shown

group = typer.Typer()


@group.command()
@friendly
def delegate(
    user: Annotated[str, typer.Option(help="the principal, e.g. a leader going on a trip")],
    to: Annotated[str, typer.Option(help="the deputy who may act for them")],
    until: Annotated[
        datetime, typer.Option(parser=time_until, help="end of the delegation, Beijing time: YYYY-MM-DD (to the end of that day) or YYYY-MM-DDTHH:MM")
    ],
    start: Annotated[datetime | None, typer.Option("--from", parser=time_from, help="start, Beijing time (default: now)")] = None,
    reason: Annotated[str | None, typer.Option(help="why (出差、休假、…)")] = None,
    by: Annotated[str | None, typer.Option(help="who records it (default: the principal; a secretary may record it for them)")] = None,
) -> None:
    """Name a deputy who may act on your items for a period (委托代办)."""
    engine = engine_from_env()
    row = engine.delegate(user, to, start or now(), until, by or user, reason)
    console.print(f"委托 #{row.id}：{engine.user(to).name} 代 {engine.user(user).name} 办理，至 {shown(row.ends_at, '%Y-%m-%d %H:%M:%S')}（北京时间）")
