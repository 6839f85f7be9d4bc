"""The automatic steps of reporting (报送): the reporting flow's actions (flows/reporting.yaml:
印制 and 报送 of a report, with the submission's table) and the timer's 催办 (report reminders).

The due-date rules are in ``models/rules/report_deadlines.py``; requirements, the board (督办台账)
and the summary (汇总) for the CLI and the web are in ``flows/services/reporting.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import Role
from gongwen_engine.doc_templates.render import RenderResult
from gongwen_engine.doc_templates.report_table import ReportTable, render_report_docx
from gongwen_engine.flows.actions.distribution import deliver
from gongwen_engine.flows.actions.rendering import issue_rendered
from gongwen_engine.flows.engine.context import StepContext, StepEngine
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import audit as audit_trail
from gongwen_engine.models import db, messages
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.queries.reporting import issued_document_id, received_on
from gongwen_engine.models.rules.dates import china_date
from gongwen_engine.models.rules.report_deadlines import period_due, reminder_kind, visible_periods
from gongwen_engine.models.rules.workdays import WorkCalendar, calendar_of
from gongwen_engine.models.tables import Circulation, Document, ReportingRequirement, ReportReminder, ReportSubmission, SubmissionStatus, utcnow

UNIT_COLUMN = "单位"
TOTAL_ROW = "合计"


# ---- the reporting flow's actions ---------------------------------------------------------------


def _submission(ctx: StepContext) -> ReportSubmission:
    sub = ctx.session.exec(select(ReportSubmission).where(ReportSubmission.circulation_id == ctx.circulation.id)).first()
    if sub is None:
        raise Refusal(f"流转 {ctx.circulation.id} 没有对应的报送要求（start reports with `gongwen submit-report`）")
    return sub


def render_report(ctx: StepContext) -> None:
    """印制 of a report (报告): the document with 签发人, and its table on the attachment page."""
    issue_rendered(ctx, lambda doc, path: render_submission(ctx.engine, ctx.session, ctx.circulation, doc, path))


def submit_report(ctx: StepContext) -> None:
    """报送: the signed, numbered report goes to the requesting office — delivered like any issued
    document to what it prints as 主送, the requester running the step's ``start_flow`` (阅知) —
    and the board counts it from now. Without ``start_flow`` the report is only counted."""
    if ctx.step.start_flow:
        deliver(ctx, ctx.step.start_flow)  # once per recipient: a retried step delivers nothing twice
    sub = _submission(ctx)
    if sub.status == SubmissionStatus.submitted:
        return
    doc = ctx.document(ctx.circulation.document_id)
    sub.status, sub.document_id, sub.submitted_on, sub.submitted_at = SubmissionStatus.submitted, doc.id, ctx.today, utcnow()
    ctx.session.add(sub)
    ctx.audit("report_submitted", doc.id, requirement=sub.requirement_id, period=sub.period, doc_number=doc.doc_number, submitted_on=ctx.today.isoformat())


# ---- the submission as printed ------------------------------------------------------------------


def report_table(engine: StepEngine, title: str, payload: dict[str, Any], total: bool) -> ReportTable | None:
    """A submission's (or a summary's) rows as a printable table, with a 合计 row when asked."""
    if not payload.get("rows"):
        return None
    columns = payload["columns"]
    rows = [[r["unit"], *(format_number(r["values"][c]) for c in columns)] for r in payload["rows"]]
    if total:
        rows.append([TOTAL_ROW, *(format_number(v) for v in totals(payload).values())])
    return ReportTable(title=title, header=[UNIT_COLUMN, *columns], rows=rows)


def totals(payload: dict[str, Any]) -> dict[str, float | int]:
    return {c: sum(r["values"][c] for r in payload["rows"]) for c in payload["columns"]}


def format_number(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def render_submission(engine: StepEngine, session: Session, circ: Circulation, doc: Document, path: Path) -> RenderResult:
    """印制 of a report: the document, and its table (if any) on the attachment page."""
    sub = session.exec(select(ReportSubmission).where(ReportSubmission.circulation_id == circ.id)).first()
    content = content_of(doc)
    title = content.attachments[0].title if content.attachments else ""
    if not (sub and title):
        return render_report_docx([content], None, path)
    printed = {"columns": sub.payload.get("columns", []), "rows": sub.payload.get("detail") or sub.payload.get("rows", [])}
    table = report_table(engine, title, printed, total=len(printed["rows"]) > 1)
    return render_report_docx([content], table, path)


# ---- reminders (催办) --------------------------------------------------------------------------------


def due_for(session: Session, cal: WorkCalendar, req: ReportingRequirement, org: str, period: int) -> date | None:
    """The unit's due date for ``period``; None while a working-days requirement is not yet received."""
    if req.due_kind != "working_days":
        return period_due(req, period)[1]
    doc_id = issued_document_id(session, req)
    received = received_on(session, org, doc_id) if doc_id else None
    return cal.add_working_days(received, req.working_days or 0, org) if received else None


@dataclass
class SentReminder:
    requirement: int
    org: str
    period: int
    kind: str
    recipient: str
    due_on: date


def _person(engine: Engine, org: str, role: str) -> str:
    people = sorted(engine.config.users_with(org, role), key=lambda u: u.id)
    if not people and role is Role.leader:
        return _person(engine, org, Role.secretary)
    return people[0].id if people else f"role:{role}@{org}"


def _insert_once(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the id when this call recorded it, else None."""
    dialect = postgresql if db.is_postgres(session.get_bind()) else sqlite
    stmt = (
        dialect.insert(ReportReminder)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["requirement_id", "org", "period", "kind"])
        .returning(ReportReminder.id)
    )
    return session.execute(stmt).scalar()


def send_report_reminders(engine: Engine, now: datetime | None = None) -> list[SentReminder]:
    """催办 every unit that has not submitted: before the due date, on it, and after it to its leader.

    One transaction; each reminder is decided by its unique key inside it, so a second run (or a
    concurrent one) records nothing twice, and a run that dies records nothing at all.
    """
    now = now or utcnow()
    today = china_date(now)
    cal = calendar_of(engine.config)
    sent = []
    with db.transaction(engine.db) as session:
        for req in session.exec(select(ReportingRequirement).order_by(col(ReportingRequirement.id))).all():
            assert req.id is not None  # read from the database
            submitted = {
                (s.org, s.period)
                for s in session.exec(select(ReportSubmission).where(ReportSubmission.requirement_id == req.id, ReportSubmission.status == "submitted"))
            }
            for period in visible_periods(req, today):
                for unit in req.recipients:
                    due = due_for(session, cal, req, unit, period)
                    if not due or (unit, period) in submitted:
                        continue
                    kind = reminder_kind(cal, due, today, unit)
                    if kind is None:
                        continue
                    recipient = _person(engine, unit, Role.leader if kind == "escalated" else Role.secretary)
                    if (
                        _insert_once(
                            session,
                            {"requirement_id": req.id, "org": unit, "period": period, "kind": kind, "recipient": recipient, "due_on": due, "sent_at": now},
                        )
                        is None
                    ):
                        continue
                    audit_trail.record(
                        session,
                        "system",
                        "report_reminded",
                        org=unit,
                        circulation_id=req.circulation_id,
                        at=now,
                        detail={"requirement": req.id, "what": req.what, "period": period, "kind": kind, "recipient": recipient, "due_on": due.isoformat()},
                    )
                    text = f"催办：{engine.config.org(req.org).short_name}要求报送“{req.what}”，截止 {due.isoformat()}，本单位尚未报送。"
                    if kind == "escalated":
                        text = (
                            f"逾期催办：{engine.config.org(req.org).short_name}要求报送的“{req.what}”已于 {due.isoformat()} 到期，本单位尚未报送，请督促办理。"
                        )
                    messages.post(
                        session,
                        [recipient],
                        "escalated" if kind == "escalated" else "reminder",
                        text,
                        org=unit,
                        circulation_id=req.circulation_id,
                        requirement_id=req.id,
                        at=now,
                    )
                    sent.append(SentReminder(req.id, unit, period, kind, recipient, due))
    return sent
