"""``gongwen audit``: the audit trail (审计记录) — list it, and verify its hash chain."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongwen_engine.flows.cli._common import console, engine_from_env, err, friendly, print_json
from gongwen_engine.flows.services.audit import audit_trail, verify_audit_chain
from gongwen_engine.models.rules.dates import shown

group = typer.Typer(
    help="The audit trail (审计记录): who did what, when, to which document; `audit verify` checks its hash chain.", invoke_without_command=True
)

DocNumber = Annotated[str | None, typer.Option("--doc-number", help="only events of this document")]
Org = Annotated[str | None, typer.Option(help="only events at this organisation")]


@group.callback()
@friendly
def audit(ctx: typer.Context, doc_number: DocNumber = None, org: Org = None) -> None:
    """The audit trail: who did what, when, to which document (`gongwen audit` = `gongwen audit list`)."""
    if ctx.invoked_subcommand is None:
        _list(doc_number, org)


@group.command("list")
@friendly
def audit_list(doc_number: DocNumber = None, org: Org = None) -> None:
    """List the audit records, oldest first."""
    _list(doc_number, org)


def _list(doc_number: str | None, org: str | None) -> None:
    table = Table("time (Beijing)", "actor", "org", "action", "document", "detail")
    for ev in audit_trail(engine_from_env(), doc_number, org):
        table.add_row(
            shown(ev.at, "%Y-%m-%d %H:%M:%S"),
            ev.actor,
            ev.org or "",
            ev.action,
            str(ev.document_id or ""),
            ", ".join(f"{k}={v}" for k, v in ev.detail.items()),
        )
    console.print(table)


@group.command("verify")
@friendly
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """Walk the hash chain; name every edited, deleted or inserted record, and every anchor outside the
    database (daily checkpoints, archive items' audit-anchor.json) it contradicts. Exit code 1 when broken."""
    report = verify_audit_chain(engine_from_env())
    if as_json:
        print_json(report.as_dict())
    elif report.intact:
        console.print(
            f"审计记录链完整：共 {report.records} 条。\n链头：序号 {report.head_seq}\n哈希：{report.head_hash}\n"
            "链头已记入数据库之外的检查点（GONGWEN_HOME/audit-checkpoints，每日一份；归档时也记），每件归档文件的文件夹中也记有"
            "该件归档时的审计记录（audit-anchor.json）：日后链尾被截去或整条链被重算时，据此发现。"
            "可再把链头另行抄存。",
            markup=False,
        )
    else:
        err.print(f"审计记录链已被破坏：共 {report.records} 条记录，发现 {len(report.breaks)} 处问题：", markup=False, style="bold red", soft_wrap=True)
        for finding in report.breaks:
            err.print(f"  - {finding.message}", markup=False, soft_wrap=True)
        err.print("请勿继续改动数据库；保留现场，并按上面列出的序号、编号从备份中核对这些记录。", markup=False, soft_wrap=True)
    if not report.intact:
        raise typer.Exit(1)
