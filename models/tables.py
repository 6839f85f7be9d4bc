"""The database tables. Terms follow ``gongwen_engine.models.glossary``.

The database is the source of truth: a waiting human step is a :class:`WorkItem` row, not a
waiting process, and every effect (a number, a delivery, a registration, an archive item) is a
row guarded by a unique constraint so it can happen only once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString, Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def saved_id(row: SQLModel) -> int:
    """The primary key of a row the session has flushed (a row not yet saved has none: using it is a bug)."""
    key = getattr(row, "id", None)
    if not isinstance(key, int):
        raise RuntimeError(f"{type(row).__name__} has no id yet (not flushed)")
    return key


class CirculationStatus(StrEnum):
    """流转状态: 待系统办理 (ready), 系统办理中 (running), 待办理 (waiting), 已办结 (done), 出错 (failed)."""

    ready = "ready"
    running = "running"
    waiting = "waiting"
    done = "done"
    failed = "failed"


CIRCULATION_STATUS_WORDS: dict[str, str] = {
    CirculationStatus.ready: "待系统办理",
    CirculationStatus.running: "系统办理中",
    CirculationStatus.waiting: "待办理",
    CirculationStatus.done: "已办结",
    CirculationStatus.failed: "出错",
}


class WorkItemStatus(StrEnum):
    """待办状态: 待办 (open), 已办 (done), 已撤销 (cancelled: another person of the slot acted, or the step moved on)."""

    open = "open"
    done = "done"
    cancelled = "cancelled"


class WorkItemKind(StrEnum):
    """办理方式: 系统自动办理 (auto) or 人工办理 (human)."""

    auto = "auto"
    human = "human"


class SubmissionStatus(StrEnum):
    """报送状态: 办理中 (drafting) or 已报送 (submitted)."""

    drafting = "drafting"
    submitted = "submitted"


class EnumText(TypeDecorator[StrEnum]):
    """A str enum stored as its value in a plain string column (the stored strings are unchanged,
    no database enum type): written as the value, read back as the member."""

    impl = AutoString
    cache_ok = True

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.enum(value)


class Document(SQLModel, table=True):
    """公文: one document issued (or being drafted) by one organisation."""

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True, description="issuer (发文机关) code; 'external' for an issuer outside the tree (models/issuers.py)")
    issuer_name: str | None = Field(default=None, description="received from outside: the issuer's full name as read (全称)")
    issuer_short_name: str | None = Field(default=None, description="received from outside: the issuer's short name (规范化简称)")
    doc_type: str = "通知"
    title: str
    doc_number: str | None = Field(default=None, unique=True)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False), description="DocumentContent as JSON")
    forwards_id: int | None = Field(default=None, foreign_key="document.id", description="the document this one forwards")
    original_id: int | None = Field(default=None, foreign_key="document.id", description="the first document of a forwarding chain")
    circulation_id: int | None = Field(default=None, index=True, description="the circulation that drafted it")
    version: int = 1
    file: str | None = Field(default=None, description="rendered .docx, relative to the storage folder")
    sha256: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Circulation(SQLModel, table=True):
    """流转: one organisation's run of one flow over one document; the process row that is locked."""

    __table_args__ = (UniqueConstraint("org", "received_id", name="uq_circulation_org_received"),)

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True)
    flow: str
    flow_version: str = Field(description="sha256 prefix of the flow file this circulation runs")
    policy: str = "manual"
    received_id: int | None = Field(default=None, foreign_key="document.id", description="the incoming document")
    document_id: int | None = Field(default=None, foreign_key="document.id", description="the document drafted here")
    parent_id: int | None = Field(default=None, foreign_key="circulation.id", description="the sender's circulation")
    deliver_to: list[str] | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description=(
            "recipients chosen by code (launch --to, 批办 转发's pick): the draft's printed 主送 is set from them;"
            " 核发 always delivers to the signed version's 主送 and 抄送 (models/rules/recipients.py)"
        ),
    )
    step: str | None = Field(default=None, description="current step; None once finished")
    status: CirculationStatus = Field(default=CirculationStatus.ready, index=True, sa_type=EnumText(CirculationStatus))
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class FlowVersion(SQLModel, table=True):
    """A flow definition as circulations started on it, by its content hash: circulations in flight
    keep the version they started with (``Circulation.flow_version``) until they end."""

    flow: str = Field(primary_key=True)
    version: str = Field(primary_key=True, description="sha256 prefix of the texts (FlowDefinition.version)")
    parts: list[list[str]] = Field(
        sa_column=Column(JSON, nullable=False), description="[file name, YAML text] of the flow file, then of each included file (names relative to it)"
    )
    created_at: datetime = Field(default_factory=utcnow)


class LaunchOnce(SQLModel, table=True):
    """A launch that must happen once (the national notice of a cascade): its key is unique, so a
    second launch under the same key fails inside its own transaction, however processes race."""

    key: str = Field(primary_key=True, description="e.g. cascade:acwf:national (services/cascade.py notice_key)")
    circulation_id: int = Field(foreign_key="circulation.id")
    created_at: datetime = Field(default_factory=utcnow)


class WorkItem(SQLModel, table=True):
    """工作项/待办: one step of a circulation. Human items wait here for a person.

    ``slot`` says who the item is for: ``auto`` (the engine), ``role:<role>`` (anyone with that
    role in the organisation) or ``user:<id>`` (one person, e.g. each countersigner or reader).
    At most one open item per circulation, step and slot.
    """

    __table_args__ = (
        Index(
            "uq_workitem_open_slot",
            "circulation_id",
            "step",
            "slot",
            unique=True,
            sqlite_where=text(f"status = '{WorkItemStatus.open}'"),
            postgresql_where=text(f"status = '{WorkItemStatus.open}'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    circulation_id: int = Field(foreign_key="circulation.id", index=True)
    step: str
    kind: WorkItemKind = Field(sa_type=EnumText(WorkItemKind))
    slot: str = Field(default="auto", description="auto | role:<role> | user:<id>")
    role: str | None = Field(default=None, description="role that may act on a human item")
    assignee: str | None = Field(default=None, index=True, description="user the item is assigned to, if any")
    seq: int = Field(default=0, description="position among the step's parallel or sequential items")
    org: str = Field(index=True)
    status: WorkItemStatus = Field(default=WorkItemStatus.open, sa_type=EnumText(WorkItemStatus))
    outcome: str | None = None
    comment: str | None = None
    actor: str | None = None
    acted_for: str | None = Field(default=None, description="the principal when a delegate acted (代办)")
    attempts: int = 0
    due_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class NumberCounter(SQLModel, table=True):
    """The last serial allocated per sequence (a prefix, or an incoming register, or an archive class) and year."""

    sequence: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    last: int


class IssuedNumber(SQLModel, table=True):
    """发文字号 allocated to a document. Never reused; a voided number keeps its row and reason."""

    __table_args__ = (UniqueConstraint("prefix", "year", "serial", name="uq_number_serial"),)

    id: int | None = Field(default=None, primary_key=True)
    prefix: str
    year: int
    serial: int
    doc_number: str = Field(unique=True)
    document_id: int | None = Field(default=None, foreign_key="document.id", unique=True)
    voided: bool = False
    void_reason: str | None = None
    voided_by: str | None = Field(default=None, description="who voided it (a user id, or system)")
    voided_at: datetime | None = None
    allocated_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """分发: one document delivered to one recipient organisation, exactly once."""

    __table_args__ = (UniqueConstraint("document_id", "recipient", name="uq_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id")
    sender: str
    recipient: str = Field(index=True)
    as_copy: bool = Field(default=False, sa_column_kwargs={"server_default": "0"}, description="抄送: a copy for information (read, not handled)")
    delivered_at: datetime = Field(default_factory=utcnow)


class Registration(SQLModel, table=True):
    """收文登记: an incoming document registered by the receiving organisation."""

    __table_args__ = (
        UniqueConstraint("org", "document_id", name="uq_registration"),
        UniqueConstraint("org", "year", "serial", name="uq_registration_serial"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org: str
    document_id: int = Field(foreign_key="document.id")
    circulation_id: int = Field(foreign_key="circulation.id")
    year: int
    serial: int
    register_number: str
    signed_for_at: datetime
    registered_at: datetime = Field(default_factory=utcnow)


class FiledFile(BaseModel):
    """归档电子文件: one file of an archive item, as ``ArchiveItem.files`` stores it (JSON, keys in this order)."""

    seq: int = Field(description="顺序号")
    role: str = Field(description="the file's role: issued_copy, signed_pdf, received, record, ...")
    file: str = Field(description="path relative to the storage folder (计算机文件名 is its name)")
    source: str = Field(description="what it was copied from: a storage path, or transfer:<name> for an imported package")
    format: str = Field(description="格式: docx | pdf | txt ...")
    size: int = Field(description="大小, bytes")
    sha256: str
    sm3: str
    pages: int | None = Field(description="页数 (None: not known, from a transfer package)")
    pages_method: str | None = Field(description="页数来源: how the pages were counted (estimate without LibreOffice)")
    stamped: bool = Field(default=False, description="加盖归档章: the first .docx carries the archive stamp")


class ArchiveItem(SQLModel, table=True):
    """归档文件（件）: the filing unit of DA/T 22-2015, with its archive code (档号)."""

    __table_args__ = (UniqueConstraint("fonds", "year", "retention", "dept_code", "item_no", name="uq_archive_item_no"),)

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True)
    circulation_id: int | None = Field(default=None, foreign_key="circulation.id", unique=True, description="None for an item imported from a transfer package")
    fonds: str
    year: int
    retention: str
    dept_code: str
    item_no: int
    archive_code: str = Field(unique=True)
    doc_number: str | None = Field(default=None, index=True)
    title: str
    responsible: str = Field(description="责任者: the issuer's name")
    dated: date
    files: list[dict[str, Any]] = Field(
        sa_column=Column(JSON, nullable=False), description="filed files in DA/T 22 order, each a FiledFile (read them with filed_files())"
    )
    filed_at: datetime = Field(default_factory=utcnow)
    doc_type: str = Field(default="通知", sa_column_kwargs={"server_default": "通知"}, description="文种")
    security: str | None = Field(default=None, description="密级")
    pages: int = Field(default=0, sa_column_kwargs={"server_default": "0"}, description="页数: pages with text, all files of the item")
    note: str | None = Field(default=None, description="备注")
    history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"), description="处理过程: the circulation's audit trail up to filing"
    )
    # The audit head anchored by this item (models/audit.py ITEM_ANCHOR): its 'archived' record's
    # position and chain hash, also written in the item's folder. None: filed before anchors, or imported.
    anchor_seq: int | None = Field(default=None, description="seq of the item's 'archived' audit record")
    anchor_hash: str | None = Field(default=None, description="chain_hash of the item's 'archived' audit record")

    def filed_files(self) -> list[FiledFile]:
        """The filed files (电子文件), in DA/T 22 order."""
        return [FiledFile.model_validate(f) for f in self.files]


class AuditEvent(SQLModel, table=True):
    """审计记录: who did what, when, to which document."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str
    action: str
    org: str | None = Field(default=None, index=True)
    circulation_id: int | None = Field(default=None, index=True)
    document_id: int | None = Field(default=None, index=True)
    step: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The tamper-evident chain (models/audit.py): position and SHA-256 link, set when the transaction commits.
    seq: int | None = Field(default=None, index=True, unique=True, description="position in the audit chain, gap-free")
    chain_hash: str | None = Field(default=None, description="sha256(previous chain_hash + canonical JSON of this record)")


class CirculationFile(SQLModel, table=True):
    """A file a circulation produced or received, kept with its digest.

    Roles (DA/T 22-2015 order inside an archive item is decided in ``models/rules/archive.py``):
    ``issued_copy`` (正本, the rendered document), ``draft_sheet`` (发文稿纸), ``final_draft`` (定稿),
    ``processing_slip`` (收文处理单), ``received_original`` (a received file, byte for byte),
    ``signed_pdf`` (the sealed fixed-layout copy). One row per circulation and role; a record
    that is re-issued at a later step replaces its file and digest.
    """

    __table_args__ = (UniqueConstraint("circulation_id", "role", name="uq_circulation_file_role"),)

    id: int | None = Field(default=None, primary_key=True)
    circulation_id: int = Field(foreign_key="circulation.id", index=True)
    role: str
    file: str = Field(description="path relative to the storage folder")
    sha256: str
    size: int
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---- people in the loop (issue 3) -------------------------------------------------------------


class Delegation(SQLModel, table=True):
    """委托代办: a principal (usually a leader) names a deputy who may act for them for a period."""

    id: int | None = Field(default=None, primary_key=True)
    principal: str = Field(index=True)
    deputy: str = Field(index=True)
    starts_at: datetime
    ends_at: datetime
    reason: str | None = None
    created_by: str
    revoked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Reminder(SQLModel, table=True):
    """催办: one reminder for one overdue work item; the unique key makes a re-run a no-op."""

    __table_args__ = (UniqueConstraint("work_item_id", "kind", name="uq_reminder"),)

    id: int | None = Field(default=None, primary_key=True)
    work_item_id: int = Field(foreign_key="workitem.id")
    kind: str = Field(description="overdue")
    recipient: str
    sent_at: datetime = Field(default_factory=utcnow)


# ---- Archive: filing and retrieval (issue 9) --------------------------------------------------------


class ArchiveSearch(SQLModel, table=True):
    """检索: one searchable row per archive item. ``*_terms`` hold the text as overlapping character
    bigrams in simplified script (see ``models/archive_search.py``); SQLite indexes them with FTS5
    (``archive_fts``), PostgreSQL with a GIN index over ``to_tsvector('simple', ...)``."""

    __table_args__ = (  # newest first within a fonds: by item (search candidates), by date (filters without words)
        Index("ix_archivesearch_fonds_item", "fonds", "item_id"),
        Index("ix_archivesearch_fonds_dated", "fonds", "dated", "item_id"),
    )

    item_id: int = Field(primary_key=True, foreign_key="archiveitem.id")
    fonds: str = Field(index=True)
    year: int
    retention: str
    issuer: str = Field(description="责任者")
    dated: date
    facets: str = Field(description="filter tokens: fonds, year, retention")
    title_terms: str = Field(sa_column=Column(Text, nullable=False))
    body_terms: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False), description="title and body as filed, for the highlighted excerpt")


class RetrievalLog(SQLModel, table=True):
    """利用登记: who retrieved what from the archive, when."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: str = Field(index=True)
    fonds: str | None = None
    action: str = Field(description="search | show | export | catalogue | check | verify | import")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    results: int = 0


# ---- Reporting deadlines and upward reports (issue 10) ----------------------------------------


class ReportingRequirement(SQLModel, table=True):
    """报送要求: what a document asks its recipients to submit (报告、报表、名单), by whom, by
    when (a date, 月底, 下旬, every N months, or N working days after receipt) and to which office."""

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True, description="the requesting organisation that receives the reports ('external' for an issuer outside the tree)")
    office: str = Field(description="报送对象: the office reports go to, e.g. 全国妇联办公厅")
    circulation_id: int | None = Field(
        default=None, foreign_key="circulation.id", index=True, description="the circulation whose document states the requirement"
    )
    document_id: int | None = Field(
        default=None, foreign_key="document.id", description="the document that states it (as it was when the requirement was recorded)"
    )
    what: str = Field(description="报送内容, e.g. 活动实施方案")
    form: str = Field(default="report", description="report (报告) | table (报表) | names (名单)")
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False), description="organisation codes that must submit")
    due_kind: str = Field(description="date | month_end | xun | working_days")
    due_text: str = Field(description="the deadline as stated, e.g. 2012年2月底前")
    due_on: date | None = Field(default=None, description="the (first) due date; None for working days after receipt")
    window_start: date | None = Field(default=None, description="xun: the first day of the ten-day period (下旬 = the 21st)")
    working_days: int | None = Field(default=None, description="N个工作日内: counted from each recipient's receipt")
    every_months: int | None = Field(default=None, description="recurrence: every N months (每两个月 = 2)")
    until: date | None = Field(default=None, description="recurrence: no period is due after this date")
    table_columns: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False), description="报表: the numeric columns each row of a submitted table has"
    )
    parent_id: int | None = Field(
        default=None, foreign_key="reportingrequirement.id", description="the requirement one level up that this level's summary serves"
    )
    source: str = Field(default="launch", description="launch | proposed | cascade | cli")
    created_by: str
    created_at: datetime = Field(default_factory=utcnow)


class ReportSubmission(SQLModel, table=True):
    """报送: one unit's upward document (报告, with 签发人) for one requirement and period."""

    __table_args__ = (UniqueConstraint("requirement_id", "org", "period", name="uq_report_submission"),)

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(foreign_key="reportingrequirement.id", index=True)
    org: str = Field(index=True, description="the submitting unit")
    period: int = Field(default=0, description="0 for a one-off requirement; k for the k-th period of a recurring one")
    circulation_id: int | None = Field(default=None, foreign_key="circulation.id", unique=True, description="the unit's reporting circulation")
    document_id: int | None = Field(default=None, foreign_key="document.id", description="the report as submitted")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False), description="报表: {columns: [...], rows: [{unit, values}]}")
    status: SubmissionStatus = Field(default=SubmissionStatus.drafting, sa_type=EnumText(SubmissionStatus))
    submitted_on: date | None = Field(default=None, description="the business date it was sent up")
    submitted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ReportReminder(SQLModel, table=True):
    """催办 of a reporting requirement: one per requirement, unit, period and kind, never two."""

    __table_args__ = (UniqueConstraint("requirement_id", "org", "period", "kind", name="uq_report_reminder"),)

    id: int | None = Field(default=None, primary_key=True)
    requirement_id: int = Field(foreign_key="reportingrequirement.id", index=True)
    org: str
    period: int = 0
    kind: str = Field(description="before (before the due date) | due (on it) | escalated (after it, to the unit's leader)")
    recipient: str = Field(description="user id reminded")
    due_on: date
    sent_at: datetime = Field(default_factory=utcnow)


# ---- the web workplace's sessions (issue 22) ------------------------------------------------------


class WebSession(SQLModel, table=True):
    """登录会话: one signed-in browser. The cookie carries a random token; only its SHA-256 is stored,
    so the table cannot be replayed. Signing out, a password change or an administrator ends it."""

    id: str = Field(primary_key=True, description="sha256 of the cookie's session token")
    user: str = Field(index=True)
    address: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: datetime | None = None
    ended_why: str | None = Field(default=None, description="sign_out, password_changed, ended_by_admin")


# ---- in-app messages (消息, issue 22) --------------------------------------------------------------


class Message(SQLModel, table=True):
    """消息: one notice to one person — a 催办 (automatic or by hand), an escalation to a leader, or a
    document arriving at their organisation. Written where the reminder is sent or the delivery is
    recorded (``models/messages.py``); read on the 消息 page, which marks it read."""

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(index=True, description="user id (or role:…@org when the organisation has no such person)")
    kind: str = Field(description="reminder | escalated | urged | overdue | arrival (models/messages.py KINDS)")
    text: str = Field(description="what the person reads, Chinese")
    org: str = Field(description="the organisation the message concerns")
    circulation_id: int | None = None
    requirement_id: int | None = Field(default=None, index=True)
    sent_by: str = "system"
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None


# ---- administration (管理, issue 24) ------------------------------------------------------------------
# The administrative state (people, organisations, departments, numbering schemes, calendar years)
# once an administrator changed it: ``config/*.yaml`` declares an installation until then, and the
# first change seeds these tables from it (``models/admin.py``). ``AdminState.generation`` counts
# the changes: a running process compares it with its ``Config`` and rebuilds on a difference.


class AdminState(SQLModel, table=True):
    """管理状态: one row. ``generation`` 0 (or no row): the config files hold the state."""

    __tablename__ = "admin_state"

    id: int = Field(default=1, primary_key=True)
    generation: int = 0
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: str = "system"


class AdminOrganisation(SQLModel, table=True):
    """An organisation of the tree as organisations.yaml would list it (``data``: its fields)."""

    __tablename__ = "admin_organisation"

    code: str = Field(primary_key=True)
    position: int = Field(description="order in the tree as listed")
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AdminPerson(SQLModel, table=True):
    """A person as users.yaml would list them (``data``), with a password an administrator set."""

    __tablename__ = "admin_person"

    id: str = Field(primary_key=True)
    position: int = Field(description="order as listed (the first leader is the principal leader)")
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    password_hash: str | None = Field(default=None, description="argon2id, set by an administrator or the person; else passwords.yaml's")
    must_change_password: bool = Field(default=False, description="reset by an administrator: the person sets their own at next sign-in")


class AdminDepartment(SQLModel, table=True):
    """处室/部门 of an organisation (people name theirs in ``department``)."""

    __tablename__ = "admin_department"
    __table_args__ = (UniqueConstraint("org", "name", name="uq_admin_department"),)

    id: int | None = Field(default=None, primary_key=True)
    org: str = Field(index=True)
    name: str


class AdminScheme(SQLModel, table=True):
    """发文字号 scheme: the first serial of a prefix in a year."""

    __tablename__ = "admin_scheme"

    prefix: str = Field(primary_key=True)
    year: int = Field(primary_key=True)
    start: int = 1


class AdminCalendarYear(SQLModel, table=True):
    """One year's 节假日安排 as calendar.yaml's years: would hold it (``data``: notice, holidays, workdays)."""

    __tablename__ = "admin_calendar_year"

    year: int = Field(primary_key=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
