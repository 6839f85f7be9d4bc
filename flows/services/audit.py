"""The audit trail (审计记录) for interfaces: list it, verify its hash chain."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.actions.archiving import ARCHIVE_AREA
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models.audit import CHECKPOINT_FOLDER, ChainReport, verify_anchors, verify_chain, write_checkpoint
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.audit import audit_events
from gongwen_engine.models.queries.circulations import document_by_number
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.tables import AuditEvent


def audit_trail(engine: Engine, doc_number: str | None = None, org: str | None = None) -> list[AuditEvent]:
    """The audit records, oldest first: of one document (by its number) and/or at one organisation."""
    # a code that is neither configured nor in the trail is a typo, not an empty history
    # (an organisation removed from config/ later keeps its records and stays listable)
    if org and org not in engine.config.organisations and not read(engine.db, audit_events, org=org, limit=1):
        raise Refusal(f"未知机关代码 {org}：配置中没有，审计记录中也没有（单位代码见 {engine.config.directory / 'organisations.yaml'}）")
    document_id = None
    if doc_number:
        doc = read(engine.db, document_by_number, doc_number)
        if doc is None:
            raise Refusal(f"文号 {doc_number} 不存在（no such document number）")
        document_id = doc.id
    return read(engine.db, audit_events, org=org, document_id=document_id)


def checkpoint_folder(engine: Engine) -> Path:
    """Where the audit head is anchored outside the database (GONGWEN_HOME/audit-checkpoints)."""
    return engine.settings.home.resolve() / CHECKPOINT_FOLDER


def verify_audit_chain(engine: Engine) -> ChainReport:
    """Walk the hash chain: every edited, deleted or inserted record named; hold the anchors
    outside the database against it — the daily checkpoints and every archive item's anchor in the
    storage (the end cut off, the chain recomputed). An intact chain's head becomes today's checkpoint."""
    folder = checkpoint_folder(engine)
    archive_area = engine.storage / ARCHIVE_AREA

    def verify(session: Session) -> ChainReport:
        report = verify_chain(session)
        verify_anchors(session, report, folder, archive_area)
        return report

    report = read(engine.db, verify)
    if report.intact:
        write_checkpoint(folder, report.head_seq, report.head_hash, today())
    return report
