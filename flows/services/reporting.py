"""Reporting deadlines and upward reports (报送与督办): requirements, submissions, the board
(督办台账), reminders (催办) and the summary (汇总).

* A **requirement** (报送要求) says what a document asks its recipients to submit, by whom (all
  recipients or named ones), by when (a date, 月底, 下旬 = the 21st to the end of the month,
  every N months, or N working days after each recipient received it) and to which office. It
  comes from the launch file's ``requirements:`` section, from the command line, or is proposed
  from a received document's text (the reader's deadline finder).
* A **submission** (报送) is the unit's own upward document (报告, ``direction: up``, with the
  签发人 in the header), run through ``flows/reporting.yaml``; tables travel as a payload with
  the requirement's declared numeric columns.
* The **board** shows, per unit and period: submitted on time, submitted late (by how many
  working days), not yet due, or overdue and missing.
* **Reminders** go before the due date, on it, and after it to the unit's leader. Each is a row
  with a unique key (requirement, unit, period, kind) inserted with ON CONFLICT DO NOTHING in
  the transaction that records it, so two schedulers firing at once, or a worker dying half-way,
  never send one twice (the row is the message; an outside channel would use its id as the
  idempotency key).
* The **summary** (汇总) at the requesting level lists submissions, late and missing units and
  combines the tables; it can itself be submitted to the requirement one level up.

Where the parts live: this module holds the services the CLI and the web call (requirements,
proposals, the board, submissions, the summary). What automatic steps and the timer need is
below it: the due-date rules (periods, due dates, reminder kinds) in
``models/rules/report_deadlines.py``; the submission's printed table, the 印制/报送 actions and
the reminders (``send_report_reminders``) in ``flows/actions/reporting.py``; the reads of receipt
and of the issued document in ``models/queries/reporting.py``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.yamlsrc import load_yaml
from gongwen_engine.doc_templates.reader.deadlines import find_deadlines
from gongwen_engine.doc_templates.report_table import render_report_docx
from gongwen_engine.flows.actions.reporting import UNIT_COLUMN, due_for, format_number, report_table, totals
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import audit as audit_trail
from gongwen_engine.models import db
from gongwen_engine.models.content import Attachment, DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.queries.messages import urged
from gongwen_engine.models.queries.reporting import issued_document_id, received_on
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.rules.dates import today as beijing_today
from gongwen_engine.models.rules.doc_kinds import direction_of
from gongwen_engine.models.rules.permissions import Action, Org, allowed, authorize
from gongwen_engine.models.rules.recipients import of_content
from gongwen_engine.models.rules.report_deadlines import period_count, visible_periods
from gongwen_engine.models.rules.workdays import WorkCalendar, calendar_of
from gongwen_engine.models.tables import (
    Circulation,
    Document,
    ReportingRequirement,
    ReportReminder,
    ReportSubmission,
    SubmissionStatus,
)

REPORTING_FLOW = "reporting"


# ---- requirements -----------------------------------------------------------------------------


class RequirementSpec(BaseModel):
    """One entry of a launch file's ``requirements:`` section (or the command line's options)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    what: str = Field(min_length=1, description="报送内容, e.g. 活动实施方案")
    from_: Literal["all"] | list[str] = Field(default="all", alias="from", description="all recipients, or organisation codes")
    due: str | date = Field(description="2012-02-29, 2012年2月底前, 2月下旬, 5个工作日内")
    to: str | None = Field(default=None, description="the office reports go to (default: the requesting organisation)")
    form: Literal["report", "table", "names"] = "report"
    every_months: int | None = Field(default=None, ge=1, le=12, description="recurrence: 每两个月 = 2")
    until: date | None = Field(default=None, description="recurrence: last day a period may fall due (default: the end of the first due date's year)")
    table: list[str] = Field(default_factory=list, description="报表: the numeric columns of each row")

    @field_validator("table")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value) or UNIT_COLUMN in value:
            raise ValueError(f"table columns must be distinct and not named {UNIT_COLUMN} (the unit is the first column)")
        return value


@dataclass(frozen=True)
class Due:
    """A deadline read from a date or a phrase: kind, the text as stated, the date(s)."""

    kind: str
    text: str
    due_on: date | None = None
    window_start: date | None = None
    working_days: int | None = None


def parse_due(value: str | date, written_on: date | None) -> Due:
    """报送时限 from ``2012-02-29``, ``2012年2月底前``, ``2月下旬`` or ``5个工作日内`` (the reader's finder)."""
    if isinstance(value, date):
        return Due("date", format_cn_date(value) + "前", value)
    text = value.strip()
    try:
        day = date.fromisoformat(text)
        return Due("date", format_cn_date(day) + "前", day)
    except ValueError:
        pass
    if text[:1] in ("-", "－", "−"):  # the finder would read "-5个工作日内" as 5: a negative time limit is refused
        raise Refusal(f"报送时限“{text}”不能为负数：请写成 2012-02-29、2012年2月底前、2012年2月下旬 或 5个工作日内")
    found = find_deadlines(f"{text}报送", "due", written_on)
    if len(found) != 1:
        raise Refusal(f"无法识别报送时限“{text}”：请写成 2012-02-29、2012年2月底前、2012年2月下旬 或 5个工作日内")
    d = found[0]
    if d.kind != "working_days" and d.end is None:
        raise Refusal(f"报送时限“{text}”没有年份，且文件没有成文日期可推算：请写明年份，如 2012年2月底前")
    return Due(d.kind, d.text, d.end, d.start if d.kind == "xun" else None, d.working_days)


def load_requirement_specs(path: Path) -> list[RequirementSpec]:
    """The ``requirements:`` section of a launch file (absent: none); errors name file:line."""
    doc = load_yaml(path)
    raw = doc.data.get("requirements") if isinstance(doc.data, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise doc.error(("requirements",), "requirements must be a list", "write one '- what: ...' entry per requirement")
    return [doc.validate(RequirementSpec, item, loc_prefix=("requirements", i)) for i, item in enumerate(raw)]


def _recipients(engine: Engine, circ: Circulation, doc: Document | None, spec_from: Literal["all"] | list[str]) -> list[str]:
    """Who must submit: "all" is every 主送 the document is delivered to (``recipients.of_content``;
    抄送 recipients read it for information and submit nothing)."""
    if spec_from == "all":
        targets = [o.code for o in of_content(engine.config, circ.org, doc.content).main] if doc else []
        if not targets:
            raise Refusal(f"{engine.config.org(circ.org).short_name} 没有下级单位，“from: all” 无人报送：请列出报送单位的代码")
        return targets
    for code in spec_from:
        engine.config.org(code)
    return list(spec_from)


def add_requirements(
    engine: Engine, circulation_id: int, specs: list[RequirementSpec], actor: str, source: str = "launch", parent_id: int | None = None
) -> list[ReportingRequirement]:
    """Attach ``specs`` to the document of ``circulation_id`` (the requesting organisation's)."""
    rows = []
    with db.transaction(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
        if circ is None:
            raise Refusal(f"流转 {circulation_id} 不存在（circulation not found）")
        doc_id = circ.document_id or circ.received_id
        doc = session.get(Document, doc_id) if doc_id else None
        written_on = date.fromisoformat(doc.content["issued_on"]) if doc else None
        if parent_id is not None and session.get(ReportingRequirement, parent_id) is None:
            raise Refusal(f"上级报送要求 {parent_id} 不存在（parent requirement not found）")
        for spec in specs:
            row = _requirement_row(engine, circ, doc, spec, parse_due(spec.due, written_on), actor, source, parent_id)
            session.add(row)
            session.flush()
            audit_trail.record(
                session,
                actor,
                "requirement_added",
                org=circ.org,
                circulation_id=circ.id,
                document_id=doc_id,
                detail={"requirement": row.id, "what": row.what, "due": row.due_text, "recipients": row.recipients},
            )
            rows.append(row)
    return rows


def _requirement_row(
    engine: Engine, circ: Circulation, doc: Document | None, spec: RequirementSpec, due: Due, actor: str, source: str, parent_id: int | None
) -> ReportingRequirement:
    if spec.every_months and due.kind == "working_days":
        raise Refusal(f"“{spec.what}”：按工作日计算的时限不能按月重复（recurrence needs a date, 月底 or 下旬）")
    if spec.form == "table" and not spec.table:
        raise Refusal(f"“{spec.what}”是报表（form: table），请在 table: 中列出数值列")
    until = spec.until or (date(due.due_on.year, 12, 31) if spec.every_months and due.due_on else None)
    return ReportingRequirement(
        org=circ.org,
        office=spec.to or engine.config.org(circ.org).short_name,
        circulation_id=circ.id,
        document_id=doc.id if doc else None,
        what=spec.what,
        form="table" if spec.table else spec.form,
        recipients=_recipients(engine, circ, doc, spec.from_),
        due_kind=due.kind,
        due_text=due.text,
        due_on=due.due_on,
        window_start=due.window_start,
        working_days=due.working_days,
        every_months=spec.every_months,
        until=until,
        table_columns=spec.table,
        parent_id=parent_id,
        source=source,
        created_by=actor,
    )


def requirement(session: Session, requirement_id: int) -> ReportingRequirement:
    row = session.get(ReportingRequirement, requirement_id)
    if row is None:
        raise Refusal(f"报送要求 {requirement_id} 不存在（see `gongwen deadlines list`）")
    return row


# ---- proposals from a received document's text ------------------------------------------------

_WHAT_TO = re.compile(r"将(?P<what>[^，。；、]{2,30}?)(?:报送|上报|报|送|提交)(?:至|到|给)?(?P<to>[^，。；]{2,20}?)(?=[，。；]|$)")


@dataclass
class Proposal:
    """A requirement read from a received document's body, for the secretary to confirm."""

    what: str
    due: str
    to: str | None
    source: str

    def as_spec(self, recipients: list[str]) -> RequirementSpec:
        return RequirementSpec(what=self.what, due=self.due, to=self.to, from_=recipients)


def propose(engine: Engine, circulation_id: int) -> list[Proposal]:
    """报送要求 proposed from the received document of ``circulation_id`` (dates, 月底, 下旬, N个工作日内)."""
    with Session(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
        if circ is None or not circ.received_id:
            raise Refusal(f"流转 {circulation_id} 不是收文流转，没有可识别的来文（not an incoming circulation）")
        doc = session.get(Document, circ.received_id)
        assert doc is not None  # circ.received_id is a foreign key
        content = content_of(doc)
        received = received_on(session, circ.org, circ.received_id)
    proposals = []
    for i, paragraph in enumerate(content.body, start=1):
        for deadline in find_deadlines(paragraph, f"第{i}段", content.issued_on):
            clause = next((c for c in re.split(r"[。；]", paragraph) if deadline.text in c), paragraph)
            m = _WHAT_TO.search(clause)
            due = deadline.text
            if deadline.kind == "working_days" and received:
                # within N working days of receipt: for the receiving unit that is a fixed date
                due = calendar_of(engine.config).add_working_days(received, deadline.working_days or 0, circ.org).isoformat()
            proposals.append(Proposal(what=m["what"] if m else content.title, due=due, to=m["to"] if m else None, source=deadline.source))
    return proposals


# ---- the board (督办台账) --------------------------------------------------------------------------

STATUS_WORDS = {"on_time": "按时报送", "late": "逾期报送", "overdue": "逾期未报", "drafting": "办理中", "open": "未到期", "not_received": "未收文"}
REMINDER_WORDS = {
    "before": "提前催办",
    "due": "到期催办",
    "escalated": "逾期催办（报领导）",
    "urged": "人工催办",
}  # reminder_kind's kinds; urged: by hand (board.urge)


@dataclass
class BoardRow:
    """One unit's standing on one requirement and period."""

    requirement: int
    what: str
    period: int
    org: str
    unit: str
    due_on: date | None
    status: str
    status_word: str
    submitted_on: date | None = None
    late_working_days: int | None = None
    document: str | None = None
    reminders: list[str] = field(default_factory=list)

    @property
    def missing(self) -> bool:
        return self.status == "overdue"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("due_on", "submitted_on"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def board(engine: Engine, today: date | None = None, requirement_id: int | None = None, org: str | None = None, viewer: str | None = None) -> list[BoardRow]:
    """督办台账: every requirement (or one; or those ``org`` requested) × unit × visible period.

    With a ``viewer`` (a person), only the requirements their organisation or one below it made
    (``permissions``); asking for another organisation's, or another's requirement, is refused."""
    person = engine.user(viewer) if viewer else None
    if person:  # a role without the board is refused even before any requirement is looked at
        authorize(engine.config, person, Action.view_board, Org(org or person.org, "督办台账"))
    today = today or beijing_today()
    cal = calendar_of(engine.config)
    rows = []
    with Session(engine.db) as session:
        stmt = select(ReportingRequirement).order_by(col(ReportingRequirement.id))
        if requirement_id is not None:
            stmt = stmt.where(ReportingRequirement.id == requirement(session, requirement_id).id)
        if org:
            stmt = stmt.where(ReportingRequirement.org == org)
        for req in session.exec(stmt):
            if person and requirement_id is not None:
                authorize(engine.config, person, Action.view_board, Org(req.org, f"报送要求 {req.id} 的督办台账"))
            elif person and not allowed(engine.config, person, Action.view_board, Org(req.org)):
                continue
            subs = {(s.org, s.period): s for s in session.exec(select(ReportSubmission).where(ReportSubmission.requirement_id == req.id))}
            sent: dict[tuple[str, int], list[str]] = {}
            for r in session.exec(select(ReportReminder).where(ReportReminder.requirement_id == req.id).order_by(col(ReportReminder.id))):
                sent.setdefault((r.org, r.period), []).append(r.kind)
            periods = visible_periods(req, today)
            for unit, _ in dict.fromkeys((m.org, m.created_at) for m in urged(session, req.id)):  # 催办 by hand: on the unit's latest period
                if periods:
                    sent.setdefault((unit, periods[-1]), []).append("urged")
            for period in periods:
                for unit in req.recipients:
                    rows.append(_board_row(engine, session, cal, req, unit, period, subs.get((unit, period)), today, sent.get((unit, period), [])))
    return rows


def _board_row(
    engine: Engine,
    session: Session,
    cal: WorkCalendar,
    req: ReportingRequirement,
    unit: str,
    period: int,
    sub: ReportSubmission | None,
    today: date,
    reminders: list[str],
) -> BoardRow:
    assert req.id is not None  # read from the database
    due = due_for(session, cal, req, unit, period)
    late = None
    document = None
    if sub and sub.status == SubmissionStatus.submitted:
        assert sub.submitted_on is not None  # set with the status (actions.reporting)
        late = cal.working_days_after(due, sub.submitted_on, unit) if due and sub.submitted_on > due else 0
        status = "late" if late else "on_time"
        doc = session.get(Document, sub.document_id) if sub.document_id else None
        document = (doc.doc_number or doc.title) if doc else None
    elif due is None:
        status = "not_received"
    elif today > due:
        status = "overdue"
    elif sub:
        status = "drafting"
    else:
        status = "open"
    return BoardRow(
        req.id,
        req.what,
        period,
        unit,
        engine.config.org(unit).short_name,
        due,
        status,
        STATUS_WORDS[status],
        sub.submitted_on if sub else None,
        late,
        document,
        reminders,
    )


def board_counts(rows: list[BoardRow]) -> dict[str, int]:
    """应报、已报（按时/逾期）、未报 (overdue) and 未到期 counts."""
    counts = {"expected": len(rows), "submitted": 0, "on_time": 0, "late": 0, "missing": 0, "open": 0}
    for r in rows:
        if r.status in ("on_time", "late"):
            counts["submitted"] += 1
            counts[r.status] += 1
        elif r.missing:
            counts["missing"] += 1
        else:
            counts["open"] += 1
    return counts


# ---- submissions (报送) ----------------------------------------------------------------------------


def read_table(path: Path, columns: list[str]) -> list[dict[str, Any]]:
    """报表 rows from a CSV file (UTF-8 or GB18030): header ``单位,列1,列2…``, one row per unit."""
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Refusal(f"{path}: 无法识别编码，请存为 UTF-8 或 GB18030 的 CSV")
    records = list(csv.reader(io.StringIO(text)))
    if not records:
        raise Refusal(f"{path}: 文件是空的；第一行应为表头：{UNIT_COLUMN},{','.join(columns)}")
    if [h.strip() for h in records[0]] != [UNIT_COLUMN, *columns]:
        raise Refusal(f"{path}:1: 表头应为 {UNIT_COLUMN},{','.join(columns)}（报送要求声明的列），实际为 {','.join(records[0])}")
    rows = []
    for line, record in enumerate(records[1:], start=2):
        if not any(c.strip() for c in record):
            continue
        cells = record[1:] + [""] * len(columns)  # a short row padded with blanks: zip stops at the last column
        rows.append({"unit": record[0].strip(), "values": {c: _number(path, line, c, v) for c, v in zip(columns, cells, strict=False)}})
    return validate_rows(rows, columns, str(path))


def _number(path: Path, line: int, column: str, text: str) -> float | int:
    text = text.strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise Refusal(f"{path}:{line}: “{column}”应为数字，实际为“{text}”") from None
    return int(value) if value.is_integer() else value


def validate_rows(rows: list[dict[str, Any]], columns: list[str], where: str) -> list[dict[str, Any]]:
    """Each row: a unit and one number per declared column; units distinct."""
    seen: set[str] = set()
    for i, row in enumerate(rows, start=1):
        unit, values = row.get("unit"), row.get("values") or {}
        if not unit:
            raise Refusal(f"{where}: 第{i}行没有单位名称")
        if unit in seen:
            raise Refusal(f"{where}: 单位“{unit}”出现两次")
        seen.add(unit)
        if set(values) != set(columns) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()):
            raise Refusal(f"{where}: 第{i}行（{unit}）应有数值列 {', '.join(columns)}")
    return rows


def report_content(
    engine: Engine, req: ReportingRequirement, org: str, issued_on: date, body: list[str] | None = None, with_table: bool = False
) -> DocumentContent:
    """The unit's 报告 (upward): its mark, the requesting office as the one main recipient, 签发人 set at sign-off."""
    unit = engine.config.org(org)
    table_title = f"{req.what}统计表"
    return DocumentContent(
        doc_type="报告",
        direction=direction_of("报告"),
        issuer_mark=unit.mark,
        title=f"关于{req.what}的报告",
        main_recipients=[req.office],
        body=body or [f"现将{unit.short_name}{req.what}报上，请审阅。"],
        signature=unit.name,
        issued_on=issued_on,
        sealed=True,  # it carries the 署名, so it goes up sealed (用印 lays the seal over name and date)
        printed_by=unit.printed_by,  # 版记: the office that prints it and the date
        printed_on=issued_on,
        attachment_notes=[table_title] if with_table else [],
        attachments=[Attachment(title=table_title)] if with_table else [],
    )


def next_period(session: Session, req: ReportingRequirement, org: str) -> int:
    """The first period the unit has not submitted for."""
    taken = {s.period for s in session.exec(select(ReportSubmission).where(ReportSubmission.requirement_id == req.id, ReportSubmission.org == org))}
    for k in range(period_count(req)):
        if k not in taken:
            return k
    raise Refusal(f"{org} 已报送“{req.what}”的全部 {period_count(req)} 期，无需再报")


def submit(
    engine: Engine,
    requirement_id: int,
    org: str,
    actor: str,
    body: list[str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    policy: str = "manual",
    period: int | None = None,
    content: DocumentContent | None = None,
    detail: list[dict[str, Any]] | None = None,
) -> int:
    """报送: the unit launches its reporting flow (签发 → 编号 → 印制 → 报送 → 归档) for the requirement."""
    authorize(engine.config, engine.user(actor), Action.submit_report, Org(org))
    with Session(engine.db) as session:
        req = requirement(session, requirement_id)
        if org not in req.recipients:
            raise Refusal(f"{engine.config.org(org).short_name} 不在“{req.what}”的报送单位之列（{', '.join(req.recipients)}）")
        period = next_period(session, req, org) if period is None else period
        if not 0 <= period < period_count(req):
            raise Refusal(f"“{req.what}”只有第 0–{period_count(req) - 1} 期")
        if session.exec(
            select(ReportSubmission).where(ReportSubmission.requirement_id == req.id, ReportSubmission.org == org, ReportSubmission.period == period)
        ).first():
            raise Refusal(f"{engine.config.org(org).short_name} 已报送“{req.what}”第 {period} 期，不能重复报送")
    if req.table_columns and rows is None:
        raise Refusal(f"“{req.what}”是报表：请用 --table 提供 CSV（表头 {UNIT_COLUMN},{','.join(req.table_columns)}）")
    payload = {"columns": req.table_columns, "rows": validate_rows(rows, req.table_columns, "报表")} if rows is not None else {}
    if detail:
        payload["detail"] = detail  # a summary sent up: the rows it combined, printed with the report
    if content is None:
        issued_on = engine.business_date(Circulation(org=org, flow=REPORTING_FLOW, flow_version="", policy=policy))
        content = report_content(engine, req, org, issued_on, body, with_table=bool(payload))
    circ_id = engine.launch(org, REPORTING_FLOW, content, policy=policy, actor=actor)
    with db.transaction(engine.db) as session:
        session.add(ReportSubmission(requirement_id=requirement_id, org=org, period=period, circulation_id=circ_id, payload=payload))
    return circ_id


# ---- the summary (汇总) ------------------------------------------------------------------------------


@dataclass
class Summary:
    """汇总 at the requesting level: the board of one requirement and period, and the combined table."""

    requirement: ReportingRequirement
    period: int
    as_of: date
    rows: list[BoardRow]
    payload: dict[str, Any]
    source_title: str
    source_number: str | None

    @property
    def counts(self) -> dict[str, int]:
        return board_counts(self.rows)

    def units(self, *statuses: str) -> list[BoardRow]:
        return [r for r in self.rows if r.status in statuses]

    def as_json(self) -> dict[str, Any]:
        return {
            "requirement": self.requirement.id,
            "what": self.requirement.what,
            "period": self.period,
            "as_of": self.as_of.isoformat(),
            "counts": self.counts,
            "rows": [r.as_json() for r in self.rows],
            "table": self.payload,
            "totals": totals(self.payload) if self.payload.get("rows") else {},
        }


def summarise(engine: Engine, requirement_id: int, today: date | None = None, period: int | None = None) -> Summary:
    """The board of one requirement and period plus every submitted table combined (one row per row submitted)."""
    today = today or beijing_today()
    with Session(engine.db) as session:
        req = requirement(session, requirement_id)
        period = visible_periods(req, today)[-1] if period is None else period
        doc_id = issued_document_id(session, req)
        doc = session.get(Document, doc_id) if doc_id else None
        rows = [r for r in board(engine, today, requirement_id) if r.period == period]
        combined: list[dict[str, Any]] = []
        for sub in session.exec(
            select(ReportSubmission)
            .where(ReportSubmission.requirement_id == req.id, ReportSubmission.period == period, ReportSubmission.status == SubmissionStatus.submitted)
            .order_by(ReportSubmission.org)
        ):
            combined.extend(sub.payload.get("rows", []))
    payload = {"columns": req.table_columns, "rows": combined} if req.table_columns else {}
    return Summary(req, period, today, rows, payload, doc.title if doc else req.what, doc.doc_number if doc else None)


def summary_content(engine: Engine, summary: Summary, issued_on: date) -> DocumentContent:
    """The summary as a 报告 of the requesting organisation: counts, late and missing units, the table as attachment."""
    req, c = summary.requirement, summary.counts
    unit = engine.config.org(req.org)
    parent_office = _parent_office(engine, req)

    def names(rows: Iterable[Any]) -> str:
        return "、".join(r.unit for r in rows) or "无"

    late = "、".join(f"{r.unit}（逾期{r.late_working_days}个工作日）" for r in summary.units("late")) or "无"
    source = f"《{summary.source_title}》" + (f"（{summary.source_number}）" if summary.source_number else "")
    body = [
        f"根据{source}要求，{c['expected']}个单位应于{_due_words(summary)}报送{req.what}。截至{format_cn_date(summary.as_of)}，"
        f"已报送{c['submitted']}个（按时{c['on_time']}个，逾期{c['late']}个），未报送{c['missing'] + c['open']}个。现将汇总情况报告如下。",
        f"一、按时报送：{names(summary.units('on_time'))}。",
        f"二、逾期报送：{late}。",
        f"三、未报送：{names(summary.units('overdue', 'drafting', 'open', 'not_received'))}。",
    ]
    with_table = bool(summary.payload.get("rows"))
    title = f"{req.what}汇总表"
    if with_table:
        sums = "，".join(f"{k}{format_number(v)}" for k, v in totals(summary.payload).items())
        body.append(f"四、数据汇总：{sums}（各单位数据见附件）。")
    return DocumentContent(
        doc_type="报告",
        direction=direction_of("报告"),
        issuer_mark=unit.mark,
        title=f"关于{req.what}汇总情况的报告",
        main_recipients=[parent_office],
        body=body,
        signature=unit.short_name,
        issued_on=issued_on,
        attachment_notes=[title] if with_table else [],
        attachments=[Attachment(title=title)] if with_table else [],
    )


def _due_words(summary: Summary) -> str:
    due = next((r.due_on for r in summary.rows if r.due_on), None)
    return format_cn_date(due) + "前" if due else summary.requirement.due_text


def _parent_office(engine: Engine, req: ReportingRequirement) -> str:
    parent = engine.config.parent(req.org) if req.org in engine.config.organisations else None
    return parent.short_name if parent else req.office


def write_summary(engine: Engine, summary: Summary, path: Path, issued_on: date | None = None):
    """The summary .docx (报告 with the combined table and a 合计 row on the attachment page)."""
    content = summary_content(engine, summary, issued_on or summary.as_of)
    table = report_table(engine, content.attachments[0].title, summary.payload, total=True) if content.attachments else None
    return render_report_docx([content], table, path)


def submit_summary(engine: Engine, summary: Summary, actor: str, policy: str = "manual", to_requirement: int | None = None) -> int:
    """Submit the summary one level up: as this organisation's report for the parent requirement,
    its table reduced to one row (this organisation, the totals)."""
    req = summary.requirement
    target = to_requirement or req.parent_id
    if target is None:
        raise Refusal(f"报送要求 {req.id} 没有上级报送要求：请用 --to 指定要报送的上级报送要求编号")
    org = req.org
    rows = [{"unit": engine.config.org(org).short_name, "values": totals(summary.payload)}] if summary.payload.get("rows") else None
    issued_on = engine.business_date(Circulation(org=org, flow=REPORTING_FLOW, flow_version="", policy=policy))
    content = summary_content(engine, summary, issued_on)
    with Session(engine.db) as session:
        parent = requirement(session, target)
        content = content.model_copy(update={"main_recipients": [parent.office]})
    return submit(engine, target, org, actor, rows=rows, policy=policy, content=content, detail=summary.payload.get("rows"))


def demo_submission(engine: Engine) -> int:
    """The demo's upward report: 山东省妇联 sends its 活动实施方案 to 全国妇联办公厅 (seed 001)."""
    with Session(engine.db) as session:
        req = session.exec(select(ReportingRequirement).where(ReportingRequirement.what == "活动实施方案")).first()
    if req is None:
        raise Refusal("演示文件没有“活动实施方案”的报送要求（config/demo/national_notice.yaml requirements:）")
    assert req.id is not None  # read from the database
    body = [
        "按照全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》（妇字〔2012〕2号）要求，现将山东省妇联活动实施方案报上。",
        "省妇联已于1月31日转发文件，部署全省各级妇联组织开展活动。",
    ]
    return submit(engine, req.id, "shandong", "shandong_secretary", body, policy="demo")
