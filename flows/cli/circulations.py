"""Circulations (流转): ``gongwen launch``, ``status``, ``diff``, ``retry``, ``migrate-flow`` and
``preview`` (a draft as it will print, before it is launched)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import JsonOpt, console, engine_from_env, friendly, known_org, known_policy, print_json, run_automatic
from gongwen_engine.flows.services import attachments, reporting
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.circulations import circulation_rows, recipients_warning, resolve_circulation, timeline, version_diff, versions
from gongwen_engine.flows.services.flow_versions import migrate_to_current
from gongwen_engine.flows.services.preview import preview as make_preview
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.tables import CIRCULATION_STATUS_WORDS

group = typer.Typer()


@group.command()
@friendly
def launch(
    flow: Annotated[str, typer.Argument(help="flow to run: outgoing (发文, full review chain), issuing (发文, sign-off only), ... (flows/*.yaml)")],
    notice: Annotated[Path, typer.Argument(help="YAML file with org: and content: (see config/demo/national_notice.yaml)")],
    user: Annotated[str, typer.Option(help="the secretary who launches it (config/users.yaml)")],
    policy: Annotated[str, typer.Option(help="execution policy (config/policies.yaml); 'manual' waits for people")] = "manual",
    run: Annotated[bool, typer.Option(help="run the automatic steps right away (else a worker does)")] = True,
    to: Annotated[
        list[str] | None,
        typer.Option(
            "--to",
            help="a child organisation's code (repeatable): fills the printed 主送机关 when the file has none, and must name the same "
            "organisations when it has some (核发 delivers to what the document prints: 主送 and 抄送)",
        ),
    ] = None,
    attach: Annotated[
        list[str] | None,
        typer.Option(
            "--attach",
            help="an attachment (附件), repeatable, in order after the file's attachments: received:REF (a document this organisation "
            "received, attached as received; REF = circulation id, 收文登记号 or 发文字号) or a UTF-8 text file (first line the title, then paragraphs)",
        ),
    ] = None,
) -> None:
    """Launch a circulation: a secretary starts a flow over a new document (the first draft)."""
    engine = engine_from_env()
    org, content = demo_mod.load_notice(notice)
    engine.user(user)  # an unknown name is refused; the engine checks who may launch (permissions)
    known_org(engine.config, org)
    known_policy(engine.config, policy)
    specs = [*attachments.load_attachment_specs(notice), *(attachments.spec_from_option(a) for a in attach or [])]
    if specs:
        content = attachments.with_attachments(content, [*content.attachments, *attachments.resolve(engine, org, specs)])
    warning = recipients_warning(engine, org, content, to)  # told before launch, not silently (issue 20)
    if warning:
        console.print(f"[yellow]{warning}[/]")
    circ_id = engine.launch(org, flow, content, policy=policy, actor=user, deliver_to=to)
    reporting.add_requirements(engine, circ_id, reporting.load_requirement_specs(notice), user)  # the file's requirements: (报送要求)
    console.print(f"已发起流转 #{circ_id}（流程 {flow}，执行策略 {policy}）")
    if run:
        run_automatic(engine)


@group.command()
@friendly
def status(
    ref: Annotated[str | None, typer.Argument(help="a circulation id or document number: show its timeline")] = None,
    as_json: JsonOpt = False,
    user: Annotated[
        str | None, typer.Option(help="who looks: only circulations of their organisation and those below it; omitted: the operator sees all")
    ] = None,
) -> None:
    """Circulations and their state; with a document, its readable timeline."""
    engine = engine_from_env()
    viewer = engine.user(user) if user is not None else None
    if ref:
        circ = resolve_circulation(engine, ref)
        assert circ.id is not None  # read from the database
        if viewer:
            authorize(engine.config, viewer, Action.view_circulation, Org(circ.org, f"流转 {circ.id}"))
        lines = timeline(engine, circ.id)
        if as_json:
            print_json({"circulation": circ.id, "org": circ.org, "flow": circ.flow, "step": circ.step, "status": circ.status, "timeline": lines})
            return
        flow = engine.definition_of(circ)
        at = flow.step(circ.step).title if circ.step else "已结束"
        console.print(
            f"[bold]{engine.config.org(circ.org).short_name} · {flow.title}[/] — 当前：{at}（{CIRCULATION_STATUS_WORDS.get(circ.status, circ.status)}）"
        )
        for line in lines:
            console.print(f"{line['at'][:19]}  {line['who']}  {line['what']}", markup=False)
        return
    rows = circulation_rows(engine, viewer)
    if as_json:
        print_json(rows)
        return
    table = Table("流转", "单位", "流程", "环节", "状态", "文件")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["org"],
            r["flow"],
            r["step"] or "-",
            CIRCULATION_STATUS_WORDS.get(r["status"], r["status"]) + (f"：{r['error']}" if r["error"] else ""),
            r["document"] or "",
        )
    console.print(table)


@group.command()
@friendly
def diff(
    ref: Annotated[str, typer.Argument(help="circulation id or document number")],
    old: Annotated[int, typer.Option("--from", help="older version")] = 1,
    new: Annotated[int | None, typer.Option("--to", help="newer version (default: the latest)")] = None,
) -> None:
    """What changed between two versions of a draft (痕迹保留): title, recipients, text."""
    engine = engine_from_env()
    circ = resolve_circulation(engine, ref)
    assert circ.id is not None  # read from the database
    latest = max((d.version for d in versions(engine, circ.id)), default=1)
    lines = version_diff(engine, circ.id, old, new or latest)
    console.print("\n".join(lines) if lines else "两稿内容相同", markup=False)


@group.command()
@friendly
def retry(
    circulation: Annotated[int, typer.Argument(help="circulation id")],
    user: Annotated[str, typer.Option(help="the secretary of the circulation's organisation; omitted: the operator")] = "operator",
) -> None:
    """重试: resume a circulation whose automatic step failed (出错) after its retries, once the cause is fixed.
    The document keeps the number it had."""
    engine = engine_from_env()
    if user != "operator":
        engine.user(user)  # an unknown name is refused; the engine checks who may retry (permissions)
    result = engine.retry(circulation, user)
    console.print(f"已重试：流转 #{result.circulation_id}（{CIRCULATION_STATUS_WORDS.get(result.status, result.status)}）")
    run_automatic(engine)
    after = circulation_rows(engine)
    mine = next((r for r in after if r["id"] == circulation), None)
    if mine and mine["status"] == "failed":
        console.print(f"[red]仍然出错：{mine['error']}[/]", markup=False)


@group.command("migrate-flow")
@friendly
def migrate_flow(
    circulation: Annotated[int, typer.Argument(help="circulation id")],
    to: Annotated[str, typer.Option("--to", help="the version to move to: only 'current' (the flow file as it is now)")],
    user: Annotated[str, typer.Option(help="who moves it (recorded in the audit trail)")] = "operator",
) -> None:
    """Move a circulation in flight to the current version of its flow (refused when its current step has no counterpart there)."""
    if to != "current":
        raise Refusal(f"只能迁移到当前版本：--to current（不是“{to}”）")
    moved = migrate_to_current(engine_from_env(), circulation, user)
    console.print(f"已迁移：流转 #{moved.circulation_id} 从流程版本 {moved.old} 到当前版本 {moved.new}，当前环节“{moved.step_title}”")


@group.command()
@friendly
def preview(
    notice: Annotated[Path, typer.Argument(help="YAML file with org: and content: (the same file `gongwen launch` takes)")],
    out: Annotated[Path, typer.Option(help="folder for the .docx and the PDF")] = Path("preview-out"),
    as_json: JsonOpt = False,
) -> None:
    """打印预览: the .docx and PDF as they will print, and the layout problems (nothing is launched or stored).
    Exit code 1 when the GB/T 9704 page checks find a problem."""
    result = make_preview(notice, out)
    if as_json:
        print_json({"docx": str(result.docx), "pdf": str(result.pdf), "pages": result.pages, "problems": [str(p) for p in result.problems]})
    else:
        console.print(f"已生成：{result.docx}、{result.pdf}（共{result.pages}页）", markup=False, soft_wrap=True)
        if result.problems:
            console.print(f"版式问题（{len(result.problems)}处）：", markup=False)
            for problem in result.problems:
                console.print(f"  {problem}", markup=False, soft_wrap=True)
        else:
            console.print("版式检查通过：标题回行、正文从首页开始、署名与成文日期同页且有正文、版记在最后一页且为偶数页。", markup=False)
    if result.problems:
        raise typer.Exit(1)
