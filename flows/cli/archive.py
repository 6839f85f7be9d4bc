"""``gongwen archive …``: the archivist's commands (档案检索、查看、目录、移交、校验、四性检测)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import console, engine_from_env, friendly
from gongwen_engine.flows.services import archive
from gongwen_engine.flows.services.archive import archivist
from gongwen_engine.flows.services.archive_check import PROPERTIES
from gongwen_engine.flows.services.leftovers import find_leftovers
from gongwen_engine.models.archive_search import HIT_CLOSE, HIT_OPEN, SearchQuery
from gongwen_engine.models.rules.permissions import Action

group = typer.Typer(help="The archive (档案): search, show, catalogue, transfer, verify, four-properties check.", no_args_is_help=True)
UserOpt = Annotated[str, typer.Option("--user", help="the archivist (config/users.yaml); sees only their own fonds")]
YEARS = {"min": 1949, "max": 2100}  # the years a fonds can hold (as numbering.yaml allows); others are usage errors
YearArg = Annotated[int, typer.Argument(help="year 年度", **YEARS)]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refusal(f"日期“{value}”格式不对，应为 YYYY-MM-DD，如 2012-01-31") from None


@group.command("search")
@friendly
def search_cmd(
    words: Annotated[str | None, typer.Argument(help="words of the title or text, any length (妇联, 下基层); simplified or traditional")] = None,
    *,
    user: UserOpt,
    code: Annotated[str | None, typer.Option("--code", help="archive code 档号")] = None,
    doc_number: Annotated[str | None, typer.Option("--doc-number", help="document number 文号")] = None,
    issuer: Annotated[str | None, typer.Option(help="issuer 责任者 (part of the name)")] = None,
    year: Annotated[int | None, typer.Option(help="year 年度", **YEARS)] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="dated on or after YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="dated on or before YYYY-MM-DD")] = None,
    retention: Annotated[str | None, typer.Option(help="Y | D30 | D10")] = None,
    limit: Annotated[int, typer.Option(help="at most this many results", min=1, max=10_000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Search the archive: ranked results with the hits highlighted."""
    engine = engine_from_env()
    who = archivist(engine.config, user)
    if retention and retention not in ("Y", "D30", "D10"):
        raise Refusal(f"保管期限“{retention}”无效，可选 Y（永久）、D30（定期30年）、D10（定期10年）")
    query = SearchQuery(
        fonds=who.fonds,
        words=words,
        archive_code=code,
        doc_number=doc_number,
        issuer=issuer,
        year=year,
        date_from=_date(date_from),
        date_to=_date(date_to),
        retention=retention,
        limit=limit,
    )
    hits = archive.search_archive(
        engine, who, query, words=words, code=code, doc_number=doc_number, issuer=issuer, year=year, date_from=date_from, date_to=date_to, retention=retention
    )
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "archive_code": h.archive_code,
                        "doc_number": h.doc_number,
                        "title": h.title,
                        "issuer": h.issuer,
                        "dated": h.dated.isoformat(),
                        "retention": h.retention,
                        "score": h.score,
                        "excerpt": h.excerpt,
                    }
                    for h in hits
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return
    table = Table("档号", "文号", "题名", "日期", "摘要")
    for h in hits:
        table.add_row(
            h.archive_code, h.doc_number or "", h.title, h.dated.strftime("%Y%m%d"), h.excerpt.replace(HIT_OPEN, "[bold yellow]").replace(HIT_CLOSE, "[/]")
        )
    console.print(table)
    console.print(f"{len(hits)} 条（全宗 {who.fonds}）")


@group.command("show")
@friendly
def show_cmd(code: Annotated[str, typer.Argument(help="archive code 档号")], user: UserOpt, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One item: its metadata (DA/T 46), files with digests, and handling history."""
    engine = engine_from_env()
    meta = archive.show_item(engine, archivist(engine.config, user, Action.archive_show), code)
    if as_json:
        print(json.dumps(meta, ensure_ascii=False, indent=1))
        return
    for key, value in meta.items():
        if key not in ("电子文件", "处理过程", "审计锚点"):
            console.print(f"[bold]{key}[/]：{value if value is not None else ''}")
    anchor = meta["审计锚点"]
    anchored = f"审计序号 {anchor['审计序号']}，链哈希 {anchor['链哈希'][:16]}…" if anchor else "无（锚点启用前归档或由移交接收）"
    console.print(f"[bold]审计锚点[/]：{anchored}")
    table = Table("顺序号", "角色", "文件", "页数", "大小", "SHA-256", "SM3")
    for f in meta["电子文件"]:
        table.add_row(
            str(f["顺序号"]), f["角色"], f["计算机文件名"], str(f["页数"]), str(f["大小"]), f["固化信息"][0]["值"][:16] + "…", f["固化信息"][1]["值"][:16] + "…"
        )
    console.print(table)
    console.print(f"处理过程：{len(meta['处理过程'])} 条")


@group.command("catalogue")
@friendly
def catalogue_cmd(
    year: YearArg,
    user: UserOpt,
    out: Annotated[Path, typer.Option(help="folder for the .docx and .xlsx")] = Path("."),
    retention: Annotated[str | None, typer.Option(help="one catalogue per retention period: Y | D30 | D10")] = None,
) -> None:
    """The archive catalogue (归档文件目录) of a year, as .docx and .xlsx."""
    engine = engine_from_env()
    count, paths = archive.catalogue(engine, archivist(engine.config, user, Action.archive_export), year, retention, out)
    console.print(f"{count} 件 → {paths[0]}  {paths[1]}")


@group.command("export")
@friendly
def export_cmd(year: YearArg, user: UserOpt, out: Annotated[Path, typer.Option(help="folder for the zip")] = Path(".")) -> None:
    """The transfer package (移交包) of a year: files + DA/T 46 metadata + digests + history."""
    engine = engine_from_env()
    count, path = archive.export_year(engine, archivist(engine.config, user, Action.archive_export), year, out)
    console.print(f"{count} 件 → {path}")


@group.command("import")
@friendly
def import_cmd(package: Annotated[Path, typer.Argument(help="a zip written by `gongwen archive export`")], user: UserOpt) -> None:
    """Receive a transfer package into this database (digests checked first; all or nothing)."""
    engine = engine_from_env()
    who = archivist(engine.config, user, Action.archive_export)
    console.print(f"导入 {archive.import_into(engine, who, package)} 件（全宗 {who.fonds}）")


@group.command("verify")
@friendly
def verify_cmd(user: Annotated[str | None, typer.Option("--user", help="an archivist: only their fonds; omitted: every fonds")] = None) -> None:
    """Fixity: every filed file against its size, SHA-256 and SM3; changed, missing and extra files by archive code;
    leftovers of killed processes (temporary files, staging folders) that remain."""
    engine = engine_from_env(clean=False)  # leftovers are reported, not removed
    fonds = archivist(engine.config, user, Action.archive_verify).fonds if user else None
    with Progress(console=console, transient=True) as progress:
        progress.add_task("校验中", total=None)
        checked, problems = archive.verify_files(engine, fonds, user or "system")
    labels = {"changed": "已改动", "missing": "缺失", "extra": "多余"}
    for p in problems:
        console.print(f"[red]{labels[p.kind]}[/] {p.archive_code}: {p.file} {p.detail}")
    remaining = find_leftovers(engine.settings)
    for leftover in remaining:
        console.print(f"[red]残留[/] {leftover}", highlight=False)
    console.print(f"已校验 {checked} 个文件，发现 {len(problems) + len(remaining)} 处问题")
    if problems or remaining:
        raise typer.Exit(1)


@group.command("check")
@friendly
def check_cmd(year: YearArg, user: UserOpt, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The four-properties check (四性检测, DA/T 70-2018) of a year's items."""
    engine = engine_from_env()
    report = archive.check_year(engine, archivist(engine.config, user, Action.archive_verify), year)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        table = Table("属性", "检测项", "检测对象", "结果")
        for c in report.checks:
            table.add_row(PROPERTIES[c.prop], c.name, c.looked_at, "[green]通过[/]" if c.passed else "[red]不通过[/]\n" + "\n".join(c.failures))
        console.print(table)
    if not report.passed:
        raise typer.Exit(1)
