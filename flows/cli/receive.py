"""``gongwen receive FILE --org ORG``: receive a document from outside (收文登记)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.reader import IntakeError
from gongwen_engine.flows.cli._common import console, friendly, known_org, known_policy, run_automatic
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.intake import DEFAULT_FLOW, QUIET_SEALS, MissingFields, describe, parse_corrections, receive_file, seal_words

group = typer.Typer()


@group.command()
@friendly
def receive(
    file: Annotated[Path, typer.Argument(help="the received file: .docx, .txt (UTF-8 or GB18030/GBK), PDF with a text layer or OFD (its seal verified)")],
    org: Annotated[str, typer.Option(help="the receiving organisation's code (config/organisations.yaml)")],
    user: Annotated[str | None, typer.Option(help="the secretary who registers it (default: the organisation's first secretary)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="confirm or correct a field at 登记, e.g. --set issued_on=2012-02-06 (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print what was read and registered as JSON")] = False,
    flow: Annotated[str, typer.Option(help="the incoming flow to start (flows/*.yaml)")] = DEFAULT_FLOW,
    policy: Annotated[str, typer.Option(help="execution policy (config/policies.yaml)")] = "manual",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only read and show the fields; register nothing")] = False,
    run: Annotated[bool, typer.Option(help="run the automatic steps (签收, 登记, …) right away")] = True,
) -> None:
    """Receive a document from outside: read its header, register it, start the incoming flow."""
    engine = open_engine(Settings())
    known_org(engine.config, org)
    known_policy(engine.config, policy)
    try:
        received = receive_file(engine, file, org, parse_corrections(set_ or []), user=user, flow=flow, policy=policy, dry_run=dry_run)
    except MissingFields as exc:  # on the command line a field is completed with --set
        raise IntakeError(exc.name, exc.what, "请核对原件后补充：" + " ".join(f"--set {name}=…" for name in exc.missing)) from None
    if as_json:  # stdout carries the JSON document only: the steps run first, their counts go into it
        data = received.as_json()
        if run and not dry_run:
            from gongwen_engine.flows.runtime.runner import run_until_idle

            data["circulations"] = run_until_idle(engine)
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    table = Table("字段 field", "值 value", "出处 source", "置信度 / 更正")
    for row in describe(received):
        table.add_row(*row)
    console.print(table)
    for text in received.reading.texts:
        console.print(f"合集中的一篇：{text.heading}（{text.source}）· 时限 {len(text.reading.deadlines)} 项")
    for deadline in received.reading.deadlines:
        span = f"{deadline.start} – {deadline.end}" if deadline.start else "（需结合日历或年份）"
        console.print(f"时限：{deadline.text} [{deadline.kind}] {span} · {deadline.source}")
    if received.seal and received.seal.status in QUIET_SEALS:  # a failed seal check is among the warnings
        console.print(seal_words(received.seal, received.reading.format))
    for warning in received.warnings:
        console.print(f"[yellow]提示：[/]{warning}")
    for name in received.reading.missing:
        console.print(f"[yellow]未找到：[/]{name}")
    if dry_run:
        console.print("只读取，未登记（--dry-run）")
        return
    console.print(f"已收文：流转 #{received.circulation_id}，文档 #{received.document_id}，原件 {received.file}（SHA-256 {received.sha256[:12]}…）")
    if run:
        run_automatic(engine)
