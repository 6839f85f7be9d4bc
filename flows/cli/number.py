"""``gongwen number …``: document numbers (发文字号): void one (作废), list the 发文登记簿."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongwen_engine.flows.cli._common import JsonOpt, console, engine_from_env, friendly, known_org, print_json
from gongwen_engine.flows.cli.archive import YEARS
from gongwen_engine.flows.services.numbering import number_register, void_number

group = typer.Typer(help="Document numbers (发文字号).", no_args_is_help=True)


@group.command("void")
@friendly
def number_void(
    doc_number: str,
    reason: Annotated[str, typer.Option(help="why the number is withdrawn (required)")],
    user: Annotated[str, typer.Option(help="the issuing organisation's secretary or leader (config/users.yaml)")],
) -> None:
    """Void an allocated number (作废), once: it is kept with the reason and never reused. An issued
    document is thereby withdrawn (作废) and its recipients are told."""
    number = void_number(engine_from_env(), doc_number, reason, user)
    withdrawn = "，该文件已撤回（作废），收文单位已收到通知" if number.document_id else ""
    console.print(f"已作废 {number.doc_number}：{reason.strip()}{withdrawn}")


@group.command("list")
@friendly
def number_list(
    org: Annotated[str, typer.Option(help="the issuing organisation's code")],
    year: Annotated[int, typer.Option(help="the year of the numbers, e.g. 2012", **YEARS)],
    user: Annotated[str | None, typer.Option(help="who looks (their organisation or one above it); omitted: the operator")] = None,
    as_json: JsonOpt = False,
) -> None:
    """发文登记簿: every number of the organisation in the year — allocated, voided, to whom sent — by serial."""
    engine = engine_from_env()
    known_org(engine.config, org)
    lines = number_register(engine, org, year, user)
    if as_json:
        print_json([line.as_json() for line in lines])
        return
    table = Table(
        "序号", "发文字号", "状态", "标题", "编号时间（北京时间）", "送达", "作废理由", title=f"{engine.config.org(org).short_name} {year}年发文登记簿"
    )
    for line in lines:
        table.add_row(str(line.serial), line.doc_number, line.state, line.title, line.allocated, "、".join(line.sent_to), line.void_reason or "")
    console.print(table)
    if not lines:
        console.print(f"{year}年没有分配过文号")
