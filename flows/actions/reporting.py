"""The automatic actions of the reporting flow (flows/reporting.yaml): 印制 and 报送 of a report."""

from __future__ import annotations

from sqlmodel import select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.tables import ReportSubmission, SubmissionStatus, utcnow

from gongwen_engine.flows.actions import action, issue_rendered
from gongwen_engine.flows.engine.engine import StepContext
from gongwen_engine.flows.services.reporting import render_submission


def _submission(ctx: StepContext) -> ReportSubmission:
    sub = ctx.session.exec(select(ReportSubmission).where(ReportSubmission.circulation_id == ctx.circulation.id)).first()
    if sub is None:
        raise Refusal(f"流转 {ctx.circulation.id} 没有对应的报送要求（start reports with `gongwen submit-report`）")
    return sub


@action
def render_report(ctx: StepContext) -> None:
    """印制 of a report (报告): the document with 签发人, and its table on the attachment page."""
    issue_rendered(ctx, lambda doc, path: render_submission(ctx.engine, ctx.session, ctx.circulation, doc, path))


@action
def submit_report(ctx: StepContext) -> None:
    """报送: the signed, numbered report goes to the requesting office; the board counts it from now."""
    sub = _submission(ctx)
    if sub.status == SubmissionStatus.submitted:
        return
    doc = ctx.document(ctx.circulation.document_id)
    sub.status, sub.document_id, sub.submitted_on, sub.submitted_at = SubmissionStatus.submitted, doc.id, ctx.today, utcnow()
    ctx.session.add(sub)
    ctx.audit("report_submitted", doc.id, requirement=sub.requirement_id, period=sub.period, doc_number=doc.doc_number, submitted_on=ctx.today.isoformat())
