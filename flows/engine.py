"""The engine that interprets flow definitions over the database.

Small on purpose: it moves a circulation from step to step. Every move is ONE transaction that
takes the circulation's row lock, checks the step is still the one expected (so a retried or
duplicated run is a no-op), performs the step's effect (an action from ``actions.py``, or a
person's decision), finishes the work item, opens the next one and appends the audit record.
Human steps leave the circulation ``waiting`` in the database; no process waits for a person.
Prefect (``runner.py``) drives the automatic steps.
"""

from __future__ import annotations

import socket
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session, select

from gongwen_engine.config.loader import Config, load_config
from gongwen_engine.config.schema import Organisation, Role
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.content import DocumentContent
from gongwen_engine.models import db
from gongwen_engine.models.tables import AuditEvent, Circulation, CirculationFile, Document, WorkItem, utcnow

from .definition import END, PACKAGED_FLOWS_DIR, FlowDefinition, Step, load_flows

CHINA = ZoneInfo("Asia/Shanghai")
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this is taken over (its worker died)


class FlowError(RuntimeError):
    """A request the flow cannot honour (wrong person, step already done, ...). Message is user-facing."""


@dataclass
class StepContext:
    """What an action sees: the locked circulation inside the step's transaction."""

    engine: "Engine"
    session: Session
    circulation: Circulation
    step_name: str
    step: Step
    actor: str

    @property
    def config(self) -> Config:
        return self.engine.config

    @property
    def org(self) -> Organisation:
        return self.engine.config.org(self.circulation.org)

    @property
    def today(self) -> date:
        return self.engine.business_date(self.circulation)

    def document(self, document_id: int | None) -> Document:
        if document_id is None:
            raise FlowError(f"circulation {self.circulation.id} has no document for step '{self.step_name}'")
        doc = self.session.get(Document, document_id)
        if doc is None:
            raise FlowError(f"document {document_id} not found")
        return doc

    def record_file(self, role: str, relative: str, sha256: str, size: int) -> CirculationFile:
        """Keep a file this circulation produced or received (one per role; a re-issue replaces it)."""
        row = self.session.exec(select(CirculationFile).where(CirculationFile.circulation_id == self.circulation.id, CirculationFile.role == role)).first()
        if row is None:
            row = CirculationFile(circulation_id=self.circulation.id, role=role, file=relative, sha256=sha256, size=size)
        else:
            row.file, row.sha256, row.size, row.updated_at = relative, sha256, size, utcnow()
        self.session.add(row)
        return row

    def audit(self, action: str, document_id: int | None = None, **detail: Any) -> None:
        self.engine.audit(self.session, self.actor, action, self.circulation, document_id, self.step_name, detail)


@dataclass
class StepResult:
    circulation_id: int
    step: str | None
    status: str
    ran: bool = False


@dataclass
class Engine:
    """Config + flows + database + storage: everything a step needs."""

    settings: Settings = field(default_factory=Settings)
    config: Config = field(init=False)
    flows: dict[str, FlowDefinition] = field(init=False)
    db: SqlEngine = field(init=False)

    def __post_init__(self) -> None:
        from . import actions  # registers the actions

        self.config = load_config(self.settings.config_dir)
        self.flows = load_flows(Path(self.settings.flows_dir or PACKAGED_FLOWS_DIR), set(actions.ACTIONS))
        self.actions = actions.ACTIONS
        url = self.settings.resolved_database_url
        db.migrate(url)
        self.db = db.get_engine(url)
        self.storage = self.settings.resolved_storage
        self.storage.mkdir(parents=True, exist_ok=True)
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"

    # ---- time -------------------------------------------------------------------------------
    def business_date(self, circulation: Circulation) -> date:
        """Today in China, or the date a named policy's clock gives this organisation's level."""
        clock = self.config.policy(circulation.policy).clock
        level = self.config.org(circulation.org).level
        if level in clock:
            return clock[level]
        return datetime.now(CHINA).date()

    # ---- starting circulations ----------------------------------------------------------------
    def launch(self, org: str, flow: str, content: DocumentContent, policy: str = "manual", actor: str = "system") -> int:
        """A secretary starts a flow over a new document (the draft). Returns the circulation id."""
        self.config.org(org)
        self.config.policy(policy)
        definition = self.flow(flow)
        with db.transaction(self.db) as session:
            circ = Circulation(org=org, flow=flow, flow_version=definition.version, policy=policy, step=definition.start, status="ready")
            session.add(circ)
            session.flush()
            doc = Document(org=org, doc_type=content.doc_type, title=content.title, content=content.model_dump(mode="json"), circulation_id=circ.id)
            session.add(doc)
            session.flush()
            circ.document_id = doc.id
            self._open_item(session, circ, definition.start)
            self.audit(session, actor, "launch", circ, doc.id, None, {"flow": flow, "policy": policy, "title": content.title})
            return circ.id

    def start_for_recipient(self, session: Session, parent: Circulation, recipient: str, document_id: int, flow: str) -> Circulation:
        """A delivered document starts the recipient's own circulation (once per recipient and document)."""
        existing = session.exec(select(Circulation).where(Circulation.org == recipient, Circulation.received_id == document_id)).first()
        if existing:
            return existing
        definition = self.flow(flow)
        circ = Circulation(
            org=recipient, flow=flow, flow_version=definition.version, policy=parent.policy, received_id=document_id,
            parent_id=parent.id, step=definition.start, status="ready",
        )
        session.add(circ)
        session.flush()
        self._open_item(session, circ, definition.start)
        return circ

    def flow(self, name: str) -> FlowDefinition:
        try:
            return self.flows[name]
        except KeyError:
            raise FlowError(f"unknown flow '{name}' (defined: {', '.join(sorted(self.flows))})") from None

    # ---- running steps ---------------------------------------------------------------------------
    def run_step(self, circulation_id: int, expected_step: str | None = None) -> StepResult:
        """Run the circulation's current step if it is automatic (or auto-approved by its policy)."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None:
                raise FlowError(f"circulation {circulation_id} not found")
            if circ.status not in ("ready", "running") or circ.step is None or (expected_step and circ.step != expected_step):
                return StepResult(circ.id, circ.step, circ.status)
            definition = self.flow(circ.flow)
            step = definition.step(circ.step)
            item = self._open_item(session, circ, circ.step)
            if step.human:
                auto = self.config.policy(circ.policy).auto_approve.get(circ.step)
                if auto is None:
                    circ.status = "waiting"
                    circ.claimed_by = None
                    session.add(circ)
                    return StepResult(circ.id, circ.step, "waiting")
                actor, outcome = f"policy:{circ.policy}", auto
            else:
                actor = "system"
                ctx = StepContext(self, session, circ, circ.step, step, actor)
                outcome = self.actions[step.do](ctx)
            self._advance(session, circ, item, step, outcome, actor, comment=None)
            return StepResult(circ.id, circ.step, circ.status, ran=True)

    def complete(self, work_item_id: int, user_id: str, outcome: str, comment: str | None = None) -> StepResult:
        """A person finishes a human work item (e.g. a leader signs off). Checked and locked."""
        user = self.config.users.get(user_id)
        if user is None:
            raise FlowError(f"未知用户 '{user_id}'（unknown user; see config/users.yaml）")
        with db.transaction(self.db) as session:
            item = session.get(WorkItem, work_item_id)
            if item is None:
                raise FlowError(f"待办事项 {work_item_id} 不存在（work item not found）")
            circ = db.lock_circulation(session, item.circulation_id)
            session.refresh(item)
            if item.status != "open" or circ.step != item.step:
                raise FlowError(f"待办事项 {work_item_id} 已办理（already {item.status}, by {item.actor}）")
            step = self.flow(circ.flow).step(item.step)
            if not step.human:
                raise FlowError(f"环节“{step.title}”由系统自动办理，不能人工办理（step is automatic）")
            if user.org != circ.org or step.by not in user.roles:
                raise FlowError(f"用户 {user.name} 无权办理本单位以外或非本人角色的事项（needs role {step.by.value} at {circ.org}）")
            if outcome not in step.targets:
                raise FlowError(f"办理结果“{outcome}”无效，可选：{'、'.join(step.targets)}")
            self._advance(session, circ, item, step, outcome, user_id, comment)
            return StepResult(circ.id, circ.step, circ.status, ran=True)

    def _advance(self, session: Session, circ: Circulation, item: WorkItem, step: Step, outcome: str | None, actor: str, comment: str | None) -> None:
        nxt = step.next_after(outcome)
        item.status, item.outcome, item.actor, item.comment, item.finished_at = "done", outcome or "done", actor, comment, utcnow()
        item.attempts += 1
        session.add(item)
        self.audit(session, actor, f"step:{item.step}", circ, circ.document_id or circ.received_id, item.step, {"title": step.title, "outcome": outcome or "done", "worker": self.worker_name, **({"comment": comment} if comment else {})})
        session.flush()
        if nxt == END:
            circ.step, circ.status, circ.claimed_by = None, "done", None
        else:
            circ.step = nxt
            circ.status = "ready"
            self._open_item(session, circ, nxt)
        circ.updated_at = utcnow()
        session.add(circ)

    def _open_item(self, session: Session, circ: Circulation, step_name: str) -> WorkItem:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ.id, WorkItem.status == "open")).first()
        if item is not None and item.step == step_name:
            return item
        if item is not None:
            item.status = "cancelled"
            session.add(item)
            session.flush()
        step = self.flow(circ.flow).step(step_name)
        item = WorkItem(circulation_id=circ.id, step=step_name, kind="human" if step.human else "auto", role=step.by.value if step.by else None, org=circ.org)
        session.add(item)
        session.flush()
        return item

    def fail(self, circulation_id: int, error: str) -> None:
        """Record that an automatic step gave up after its retries; `gongwen retry` resumes it."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None or circ.status == "done":
                return
            circ.status, circ.error, circ.claimed_by = "failed", error[:2000], None
            session.add(circ)
            self.audit(session, "system", "step_failed", circ, circ.document_id or circ.received_id, circ.step, {"error": error[:500]})

    def retry(self, circulation_id: int, actor: str) -> None:
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None or circ.status != "failed":
                raise FlowError(f"流转 {circulation_id} 不是失败状态，无需重试（not failed）")
            circ.status, circ.error = "ready", None
            session.add(circ)
            self.audit(session, actor, "retry", circ, circ.document_id or circ.received_id, circ.step, {})

    # ---- claiming work (several workers, several machines) ---------------------------------------
    def claim_ready(self, limit: int = 50) -> list[Circulation]:
        """Claim up to ``limit`` circulations with automatic work to do (SKIP LOCKED on PostgreSQL)."""
        stale = utcnow() - CLAIM_LEASE
        with db.transaction(self.db) as session:
            stmt = (
                select(Circulation)
                .where((Circulation.status == "ready") | ((Circulation.status == "running") & (Circulation.claimed_at < stale)))
                .order_by(Circulation.id)
                .limit(limit)
            )
            if db.is_postgres(self.db):
                stmt = stmt.with_for_update(skip_locked=True)
            claimed = list(session.exec(stmt))
            for circ in claimed:
                circ.status, circ.claimed_by, circ.claimed_at = "running", self.worker_name, utcnow()
                session.add(circ)
            return claimed

    # ---- reading ---------------------------------------------------------------------------------
    def circulation(self, circulation_id: int) -> Circulation:
        with Session(self.db) as session:
            circ = session.get(Circulation, circulation_id)
            if circ is None:
                raise FlowError(f"流转 {circulation_id} 不存在（circulation not found）")
            return circ

    def open_items(self, user_id: str | None = None) -> list[tuple[WorkItem, Circulation, Document | None]]:
        """Human work items waiting for a person (for ``user_id``: those they may act on)."""
        user = self.config.users.get(user_id) if user_id else None
        if user_id and user is None:
            raise FlowError(f"未知用户 '{user_id}'")
        with Session(self.db) as session:
            stmt = select(WorkItem, Circulation).join(Circulation, Circulation.id == WorkItem.circulation_id).where(WorkItem.status == "open", WorkItem.kind == "human", Circulation.status == "waiting")
            if user:
                stmt = stmt.where(WorkItem.org == user.org, WorkItem.role.in_([r.value for r in user.roles]))
            rows = []
            for item, circ in session.exec(stmt.order_by(WorkItem.id)):
                doc = session.get(Document, circ.document_id or circ.received_id) if (circ.document_id or circ.received_id) else None
                rows.append((item, circ, doc))
            return rows

    def status_counts(self) -> dict[str, int]:
        with Session(self.db) as session:
            return dict(session.exec(select(Circulation.status, func.count()).group_by(Circulation.status)).all())

    @staticmethod
    def step_finished_at(session: Session, circulation_id: int, step: str) -> datetime | None:
        item = session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.step == step, WorkItem.status == "done").order_by(WorkItem.id.desc())).first()
        return item.finished_at if item else None

    # ---- audit -----------------------------------------------------------------------------------
    @staticmethod
    def audit(session: Session, actor: str, action: str, circ: Circulation | None, document_id: int | None, step: str | None, detail: dict[str, Any]) -> None:
        session.add(AuditEvent(actor=actor, action=action, org=circ.org if circ else None, circulation_id=circ.id if circ else None, document_id=document_id, step=step, detail=detail))
