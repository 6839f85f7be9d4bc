"""CLI for reporting deadlines (报送时限与督办): ``gongwen deadlines …``, ``gongwen board``,
``gongwen submit-report``, ``gongwen summary`` and ``gongwen stats``."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import (
    JsonOpt,
    console,
    draft_changes,
    engine_from_env,
    friendly,
    known_org,
    known_policy,
    print_json,
    run_automatic,
    time_from,
)
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.board import urge
from gongwen_engine.flows.services.circulations import circulation as circulation_by_id
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.reporting import requirements
from gongwen_engine.models.rules.workdays import calendar_of

deadlines = typer.Typer(help="Reporting requirements (报送要求) and their deadlines; working days (工作日).", no_args_is_help=True)
group = typer.Typer()  # board, submit-report, summary, stats

AsOf = Annotated[datetime | None, typer.Option("--as-of", help="the date the board is read at (default: today in China)")]


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]


@deadlines.command("list")
@friendly
def deadlines_list(org: Annotated[str | None, typer.Option(help="only requirements this organisation made")] = None, as_json: JsonOpt = False) -> None:
    """Every reporting requirement: what, from whom, by when, to which office."""
    engine = engine_from_env()
    if org is not None:
        known_org(engine.config, org)  # an unknown code is refused, not shown an empty list
    reqs = read(engine.db, requirements, org)
    if as_json:
        print_json([r.model_dump(mode="json") for r in reqs])
        return
    table = Table("id", "requesting", "what", "due", "recurs", "recipients", "to")
    for r in reqs:
        recurs = f"每{r.every_months}个月（至{r.until}）" if r.every_months else ""
        who = "、".join(engine.config.org(c).short_name for c in r.recipients[:4]) + (f" 等{len(r.recipients)}个" if len(r.recipients) > 4 else "")
        table.add_row(str(r.id), r.org, r.what + ("（报表）" if r.table_columns else ""), r.due_text, recurs, who, r.office)
    console.print(table)


@deadlines.command("add")
@friendly
def deadlines_add(
    circulation: Annotated[int, typer.Argument(help="the requesting circulation (its document states the requirement)")],
    what: Annotated[str, typer.Option(help="报送内容, e.g. 活动实施方案")],
    due: Annotated[str, typer.Option(help="2012-02-29, 2012年2月底前, 2月下旬, 5个工作日内")],
    user: Annotated[str, typer.Option(help="who records it")],
    from_: Annotated[str, typer.Option("--from", help="all (every recipient) or organisation codes, comma-separated")] = "all",
    to: Annotated[str | None, typer.Option(help="the office reports go to")] = None,
    every_months: Annotated[int | None, typer.Option(help="recurrence: every N months")] = None,
    until: Annotated[datetime | None, typer.Option(help="recurrence: last possible due date")] = None,
    table: Annotated[str | None, typer.Option(help="报表: numeric columns, comma-separated")] = None,
    parent: Annotated[int | None, typer.Option(help="the requirement one level up this level's summary serves")] = None,
) -> None:
    """Add a reporting requirement to a circulation's document (e.g. a province's own earlier deadline for its cities)."""
    origins: Literal["all"] | list[str] = "all" if from_ == "all" else _csv(from_)
    spec = reporting.RequirementSpec(what=what, due=due, to=to, every_months=every_months, until=_day(until), table=_csv(table or ""), from_=origins)
    engine = engine_from_env()
    engine.user(user)  # who records it must be a known person
    for row in reporting.add_requirements(engine, circulation, [spec], user, source="cascade" if parent else "cli", parent_id=parent):
        console.print(f"报送要求 #{row.id}：{row.what}，{row.due_text}，{len(row.recipients)} 个单位 → {row.office}", markup=False)  # user text: no markup


@deadlines.command("propose")
@friendly
def deadlines_propose(
    circulation: Annotated[int, typer.Argument(help="an incoming circulation (its received document is read)")],
    accept: Annotated[bool, typer.Option(help="record the proposals as this unit's requirements")] = False,
    user: Annotated[str | None, typer.Option(help="who accepts (with --accept)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Propose requirements from a received document's text (dates, 月底, 下旬, N个工作日内)."""
    engine = engine_from_env()
    proposals = reporting.propose(engine, circulation)
    if as_json and not accept:
        print_json([asdict(p) for p in proposals])
        return
    for p in proposals:
        console.print(f"{p.source}: {p.what} · {p.due} · → {p.to or '（未写明）'}", markup=False)
    if not proposals:
        console.print("来文中没有识别到报送时限")
    if accept and proposals:
        if not user:
            raise Refusal("接受建议（--accept）时须用 --user 指明记录人")
        circ = circulation_by_id(engine, circulation)
        rows = reporting.add_requirements(engine, circulation, [p.as_spec([circ.org]) for p in proposals], user, source="proposed")
        console.print(f"已记录 {len(rows)} 项报送要求：" + "、".join(f"#{r.id}" for r in rows))


@deadlines.command("urge")
@friendly
def deadlines_urge(
    requirement: Annotated[int, typer.Argument(help="the requirement (see `gongwen deadlines list`)")],
    org: Annotated[str, typer.Option(help="the unit that has not submitted")],
    user: Annotated[str, typer.Option(help="who sends the 催办 (a secretary or leader of the requesting organisation)")],
    again: Annotated[bool, typer.Option(help="send it although this unit was urged today")] = False,
) -> None:
    """催办 by hand (as the board's 催办 button): a message to the unit's secretaries, audited; once a day unless --again."""
    people = urge(engine_from_env(), requirement, org, user, confirmed=again)
    console.print(f"已催办：消息已发给 {'、'.join(people)}", markup=False)


@deadlines.command("remind")
@friendly
def deadlines_remind(
    now: Annotated[datetime | None, typer.Option(parser=time_from, help="the moment to remind at, Beijing time (default: now)")] = None,
) -> None:
    """Run one ``gongwen-reminders`` flow in Prefect: reporting reminders and overdue work items, each once."""
    from gongwen_engine.flows.runtime.reminders import run_reminders

    counts = run_reminders(engine_from_env(), now)
    console.print(f"已催办：报送 {counts['reports']} 项，待办事项 {counts['work_items']} 项")


@deadlines.command("workdays")
@friendly
def deadlines_workdays(
    start: Annotated[datetime, typer.Argument(help="the day counting starts after (e.g. the day of receipt)")],
    n: Annotated[int, typer.Argument(help="working days")],
    org: Annotated[str | None, typer.Option(help="apply this organisation's local closures")] = None,
) -> None:
    """The N-th working day after a date (China's calendar with 调休 and config/calendar.yaml)."""
    due = calendar_of(engine_from_env().config).add_working_days(start.date(), n, org)
    console.print(f"{start.date()} + {n} 个工作日 = {due} ({'一二三四五六日'[due.weekday()]})")


def print_board(rows: list[reporting.BoardRow]) -> None:
    """督办台账 as a table, with the counts."""
    table = Table("req", "what", "period", "unit", "due", "status", "submitted", "document", "reminders")
    colours = {"on_time": "green", "late": "yellow", "overdue": "red"}
    for r in rows:
        word = r.status_word + (f" {r.late_working_days}个工作日" if r.late_working_days else "")
        colour = colours.get(r.status)
        table.add_row(
            str(r.requirement),
            r.what,
            str(r.period),
            r.unit,
            str(r.due_on or "-"),
            f"[{colour}]{word}[/]" if colour else word,
            str(r.submitted_on or ""),
            r.document or "",
            "、".join(reporting.REMINDER_WORDS.get(k, k) for k in r.reminders),
        )
    console.print(table)
    c = reporting.board_counts(rows)
    console.print(f"应报 {c['expected']} · 已报 {c['submitted']}（按时 {c['on_time']}，逾期 {c['late']}）· 逾期未报 {c['missing']} · 未到期 {c['open']}")


@group.command()
@friendly
def board(
    requirement: Annotated[int | None, typer.Option(help="one requirement")] = None,
    org: Annotated[str | None, typer.Option(help="requirements this organisation made")] = None,
    as_of: AsOf = None,
    as_json: JsonOpt = False,
    user: Annotated[
        str | None,
        typer.Option(help="who looks (a secretary or leader): only the requirements of their organisation and those below it; omitted: the operator sees all"),
    ] = None,
) -> None:
    """The supervision board (督办台账): who submitted, who is late, who is missing, what was submitted."""
    engine = engine_from_env()
    if org is not None:
        known_org(engine.config, org)  # an unknown code is refused, not shown an empty board
    rows = reporting.board(engine, _day(as_of), requirement, org, viewer=user)
    if as_json:
        print_json({"rows": [r.as_json() for r in rows], "counts": reporting.board_counts(rows)})
        return
    print_board(rows)


@group.command("submit-report")
@friendly
def submit_report(
    requirement: Annotated[int, typer.Argument(help="the requirement (see `gongwen deadlines list`)")],
    org: Annotated[str, typer.Option(help="the submitting unit")],
    user: Annotated[str, typer.Option(help="its secretary, who drafts the report")],
    body_file: Annotated[Path | None, typer.Option(help="the report's text: UTF-8, paragraphs separated by a blank line")] = None,
    table: Annotated[Path | None, typer.Option(help="报表: CSV with header 单位,<the requirement's columns>")] = None,
    period: Annotated[int | None, typer.Option(help="recurring requirements: which period (default: the first not yet submitted)")] = None,
    policy: Annotated[str, typer.Option(help="execution policy; 'manual' waits for the leader's sign-off")] = "manual",
    run: Annotated[bool, typer.Option(help="run the automatic steps right away")] = True,
) -> None:
    """Submit an upward report (报告, with 签发人) for a requirement: the unit's reporting flow starts."""
    engine = engine_from_env()
    known_org(engine.config, org)
    known_policy(engine.config, policy)
    body = draft_changes(None, None, body_file).get("body")  # the same reading as `gongwen act --body-file`
    rows = None
    if table:
        columns = read(engine.db, reporting.requirement, requirement).table_columns
        if not columns:
            raise Refusal(f"报送要求 {requirement} 不是报表，不需要 --table")
        rows = reporting.read_table(table, columns)
    circ = reporting.submit(engine, requirement, org, user, body, rows, policy, period)
    console.print(f"已发起报送流转 #{circ}（下一步：领导签发）")
    if run:
        run_automatic(engine)


@group.command()
@friendly
def summary(
    requirement: Annotated[int, typer.Argument(help="the requirement to summarise")],
    out: Annotated[Path | None, typer.Option(help="write the summary .docx here")] = None,
    as_of: AsOf = None,
    period: Annotated[int | None, typer.Option(help="recurring requirements: which period (default: the latest shown)")] = None,
    submit: Annotated[bool, typer.Option(help="submit the summary one level up (to the parent requirement, or --to)")] = False,
    to: Annotated[int | None, typer.Option(help="the requirement one level up")] = None,
    user: Annotated[str | None, typer.Option(help="with --submit: the secretary who submits")] = None,
    policy: Annotated[str, typer.Option(help="with --submit: execution policy")] = "manual",
    as_json: JsonOpt = False,
) -> None:
    """The summary (汇总): submissions, late and missing units, tables combined; .docx, and optionally sent up."""
    engine = engine_from_env()
    result = reporting.summarise(engine, requirement, _day(as_of), period)
    if out:
        written = reporting.write_summary(engine, result, out)
        console.print(f"汇总已写入：{written.path}（{written.size} 字节）")
    if submit:
        if not user:
            raise Refusal("上报汇总（--submit）时须用 --user 指明报送的秘书")
        known_policy(engine.config, policy)
        circ = reporting.submit_summary(engine, result, user, policy, to)
        console.print(f"汇总已上报：报送流转 #{circ}")
        run_automatic(engine)
    if as_json:
        print_json(result.as_json())
    elif not out:
        print_board(result.rows)


@group.command()
@friendly
def stats(
    include_automatic: Annotated[bool, typer.Option("--all", help="include automatic steps")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Timeliness statistics (时效统计): handling time per step and per organisation in working days."""
    from gongwen_engine.flows.services.stats import timeliness

    figures = timeliness(engine_from_env(), include_automatic=include_automatic)
    if as_json:
        print_json({k: [t.as_json() for t in v] for k, v in figures.items()})
        return
    for group, title in (("by_step", "按环节"), ("by_org", "按单位")):
        table = Table(title, "finished", "open", "median (工作日)", "p90 (工作日)", "overdue")
        for t in figures[group]:
            table.add_row(
                t.label, str(t.finished), str(t.open), "-" if t.median is None else f"{t.median:.2f}", "-" if t.p90 is None else f"{t.p90:.2f}", str(t.overdue)
            )
        console.print(table)
