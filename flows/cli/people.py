"""People: ``gongwen delegate`` (委托代办)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from gongwen_engine.flows.cli._common import console, engine_from_env, friendly

group = typer.Typer()


@group.command()
@friendly
def delegate(
    user: Annotated[str, typer.Option(help="the principal, e.g. a leader going on a trip")],
    to: Annotated[str, typer.Option(help="the deputy who may act for them")],
    until: Annotated[datetime, typer.Option(help="end of the delegation (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC)")],
    start: Annotated[datetime | None, typer.Option("--from", help="start (default: now)")] = None,
    reason: Annotated[str | None, typer.Option(help="why (出差、休假、…)")] = None,
    by: Annotated[str | None, typer.Option(help="who records it (default: the principal; a secretary may record it for them)")] = None,
) -> None:
    """Name a deputy who may act on your items for a period (委托代办)."""
    engine = engine_from_env()
    utc = UTC
    starts = start or datetime.now(utc)
    row = engine.delegate(user, to, starts.replace(tzinfo=starts.tzinfo or utc), until.replace(tzinfo=until.tzinfo or utc), by or user, reason)
    console.print(f"委托 #{row.id}：{engine.user(to).name} 代 {engine.user(user).name} 办理，至 {row.ends_at:%Y-%m-%d %H:%M}（UTC）")
