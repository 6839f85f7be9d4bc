"""``gongwen audit``: the audit trail (审计记录) — list it, and verify its hash chain."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.audit import verify_chain
from gongwen_engine.models.tables import AuditEvent, Document

from gongwen_engine.flows.cli.main import _engine, _print_json, console, err, friendly

audit_app = typer.Typer(help="The audit trail (审计记录): who did what, when, to which document; `audit verify` checks its hash chain.",
                        invoke_without_command=True)

DocNumber = Annotated[Optional[str], typer.Option("--doc-number", help="only events of this document")]
Org = Annotated[Optional[str], typer.Option(help="only events at this organisation")]


@audit_app.callback()
@friendly
def audit(ctx: typer.Context, doc_number: DocNumber = None, org: Org = None) -> None:
    """The audit trail: who did what, when, to which document (`gongwen audit` = `gongwen audit list`)."""
    if ctx.invoked_subcommand is None:
        _list(doc_number, org)


@audit_app.command("list")
@friendly
def audit_list(doc_number: DocNumber = None, org: Org = None) -> None:
    """List the audit records, oldest first."""
    _list(doc_number, org)


def _list(doc_number: str | None, org: str | None) -> None:
    engine = _engine()
    table = Table("time (UTC)", "actor", "org", "action", "document", "detail")
    with Session(engine.db) as session:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if org:
            stmt = stmt.where(AuditEvent.org == org)
            # a code that is neither configured nor in the trail is a typo, not an empty history
            # (an organisation removed from config/ later keeps its records and stays listable)
            if org not in engine.config.organisations and session.exec(stmt.limit(1)).first() is None:
                raise Refusal(f"未知机关代码 {org}：配置中没有，审计记录中也没有（unknown organisation code; the codes are in "
                                f"{engine.config.directory / 'organisations.yaml'}）")
        if doc_number:
            doc = session.exec(select(Document).where(Document.doc_number == doc_number)).first()
            if doc is None:
                raise Refusal(f"文号 {doc_number} 不存在（no such document number）")
            stmt = stmt.where(AuditEvent.document_id == doc.id)
        for ev in session.exec(stmt):
            table.add_row(ev.at.strftime("%Y-%m-%d %H:%M:%S"), ev.actor, ev.org or "", ev.action, str(ev.document_id or ""), ", ".join(f"{k}={v}" for k, v in ev.detail.items()))
    console.print(table)


@audit_app.command("verify")
@friendly
def audit_verify(as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False) -> None:
    """Walk the hash chain; name every edited, deleted or inserted record. Exit code 1 when the chain is broken."""
    engine = _engine()
    with Session(engine.db) as session:
        report = verify_chain(session)
    if as_json:
        _print_json(report.as_dict())
    elif report.intact:
        console.print(f"审计记录链完整：共 {report.records} 条。\n链头：序号 {report.head_seq}\n哈希：{report.head_hash}\n"
                      "可把链头另行记下：日后链尾被截去或整条链被重算时，可据此发现。", markup=False)
    else:
        err.print(f"审计记录链已被破坏：共 {report.records} 条记录，发现 {len(report.breaks)} 处问题：", markup=False, style="bold red", soft_wrap=True)
        for finding in report.breaks:
            err.print(f"  - {finding.message}", markup=False, soft_wrap=True)
        err.print("请勿继续改动数据库；保留现场，并从备份中核对上述记录（what changed, where: see the seq/id above）。", markup=False, soft_wrap=True)
    if not report.intact:
        raise typer.Exit(1)
