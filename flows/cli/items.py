"""Work items (待办): ``gongwen inbox``, ``approve``, ``return``, ``act`` and ``reassign`` (转办)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import Comment, JsonOpt, RunOpt, UserOpt, console, draft_changes, engine_from_env, friendly, print_json, run_automatic
from gongwen_engine.flows.services import attachments
from gongwen_engine.flows.services.circulations import circulation, circulation_of_item, item_recipients_warning
from gongwen_engine.flows.services.circulations import inbox as inbox_entries
from gongwen_engine.models.rules.dates import shown
from gongwen_engine.models.tables import CIRCULATION_STATUS_WORDS

group = typer.Typer()
ItemArg = Annotated[int, typer.Argument(help="work item id (see `gongwen inbox`)")]


@group.command()
@friendly
def inbox(user: Annotated[str, typer.Option(help="whose 待办 (config/users.yaml)")], as_json: JsonOpt = False) -> None:
    """A person's work items (待办): their own, their role's, and those delegated to them."""
    engine = engine_from_env()
    engine.user(user)  # an unknown (or empty) name is refused, not shown an empty list
    entries = inbox_entries(engine, user)
    if as_json:
        print_json([e.as_json() for e in entries])
        return
    table = Table("待办", "单位", "环节", "办理人", "文件", "时限（北京时间）", "收到")
    for e in entries:
        due = shown(e.due_at)
        table.add_row(
            str(e.item),
            e.org,
            f"{e.step_title} ({e.step})",
            e.for_whom,
            e.doc_number or e.document,
            f"[red]{due} 已超期[/]" if e.overdue else due,
            shown(e.since),
        )
    console.print(table)


def _act(
    item: int, user: str, outcome: str, comment: str | None, run: bool, changes: dict[str, Any] | None = None, deliver_to: list[str] | None = None
) -> None:
    engine = engine_from_env()
    warning = item_recipients_warning(engine, item)  # before 签发: names printed but delivered to no one
    if warning and outcome == "approve":
        console.print(f"[yellow]{warning}[/]")
    result = engine.complete(item, user, outcome, comment, changes=changes or None, deliver_to=deliver_to or None)
    flow = engine.definition_of(circulation(engine, result.circulation_id))
    at = f"到“{flow.step(result.step).title}”" if result.step else "已结束"
    console.print(f"已办理：流转 #{result.circulation_id} 现在{at}（{CIRCULATION_STATUS_WORDS.get(result.status, result.status)}）")
    if run:
        run_automatic(engine)


@group.command()
@friendly
def approve(item: ItemArg, user: UserOpt, comment: Comment = None, run: RunOpt = True) -> None:
    """Approve a work item (核稿、会签、签发、复核 同意)."""
    _act(item, user, "approve", comment, run)


@group.command("return")
@friendly
def return_cmd(item: ItemArg, user: UserOpt, comment: Annotated[str, typer.Option(help="what must change (required)")], run: RunOpt = True) -> None:
    """Return the draft with a comment (退回); the next round is a new version."""
    _act(item, user, "return", comment, run)


@group.command()
@friendly
def act(
    item: ItemArg,
    user: UserOpt,
    outcome: Annotated[str, typer.Option(help="one of the step's outcomes: submit, read, forward, file, reject, ...")],
    comment: Comment = None,
    title: Annotated[str | None, typer.Option(help="revise the draft: new title")] = None,
    recipients: Annotated[str | None, typer.Option(help="revise the draft: main recipients, comma-separated")] = None,
    body_file: Annotated[Path | None, typer.Option(help="revise the draft: UTF-8 text, paragraphs separated by a blank line")] = None,
    deliver_to: Annotated[
        list[str] | None,
        typer.Option("--deliver-to", help="批办 转发: a child organisation's code to forward to (repeatable); default: every child"),
    ] = None,
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            help="revise the draft: its attachments (附件), repeatable, in order, replacing the draft's: received:REF (a received document "
            "attached as received) or a UTF-8 text file (first line the title, then paragraphs)",
        ),
    ] = None,
    no_attachments: Annotated[bool, typer.Option("--no-attachments", help="revise the draft: remove its attachments")] = False,
    run: RunOpt = True,
) -> None:
    """Act on a work item with any of its outcomes (提交、已阅、转发、存档、重试 …), optionally revising the draft."""
    changes = draft_changes(title, recipients, body_file)
    if attach and no_attachments:
        raise Refusal("--attach 与 --no-attachments 不能同时使用")
    if attach or no_attachments:
        engine = engine_from_env()
        org = circulation_of_item(engine, item).org
        changes |= attachments.attachment_changes(attachments.resolve(engine, org, [attachments.spec_from_option(a) for a in attach or []]))
    _act(item, user, outcome, comment, run, changes, deliver_to)


@group.command()
@friendly
def reassign(item: ItemArg, user: UserOpt, to: Annotated[str, typer.Option(help="colleague with the same role")], comment: Comment = None) -> None:
    """Hand a work item to a colleague with the same role (转办)."""
    engine = engine_from_env()
    engine.reassign(item, user, to, comment)
    console.print(f"待办事项 {item} 已转给{engine.user(to).name}")
