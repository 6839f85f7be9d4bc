"""The engine that interprets flow definitions over the database.

Small on purpose: it moves a circulation from step to step. Every move is ONE transaction that
takes the circulation's row lock, checks the step is still the one expected (so a retried or
duplicated run is a no-op), performs the step's effect (an action of the registry the engine
is given, ``flows/actions`` ``ACTIONS``, or a person's decision), finishes the work item, opens
the next one and appends the audit record.
Human steps leave the circulation ``waiting`` in the database; no process waits for a person.
Prefect (``runner.py``) drives the automatic steps.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config, load_config
from gongwen_engine.config.schema import Organisation, Role, User
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.definition import END, PACKAGED_FLOWS_DIR, FlowDefinition, Step, StepKind, load_flows
from gongwen_engine.flows.engine.records import gather_record
from gongwen_engine.models import audit as audit_trail
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.db import retry_transient
from gongwen_engine.models.documents import stored_content
from gongwen_engine.models.queries.circulations import step_finished_at
from gongwen_engine.models.queries.people import principals_of
from gongwen_engine.models.records import RecordKind
from gongwen_engine.models.rules.doc_kinds import check_official
from gongwen_engine.models.rules.permissions import Action, Item, Org, Person, acting_for, allowed, authorize
from gongwen_engine.models.rules.recipients import chosen_recipients
from gongwen_engine.models.rules.workdays import due_after, load_calendar
from gongwen_engine.models.tables import (
    Circulation,
    CirculationFile,
    CirculationStatus,
    Delegation,
    Document,
    Reminder,
    WorkItem,
    WorkItemKind,
    WorkItemStatus,
    utcnow,
)

CHINA = ZoneInfo("Asia/Shanghai")
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this is taken over (its worker died)


def record_file(session: Session, circulation_id: int, role: str, relative: str, sha256: str, size: int) -> CirculationFile:
    """Keep a file a circulation produced or received (one per role; a re-issue replaces it)."""
    row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circulation_id, CirculationFile.role == role)).first()
    if row is None:
        row = CirculationFile(circulation_id=circulation_id, role=role, file=relative, sha256=sha256, size=size)
    else:
        row.file, row.sha256, row.size, row.updated_at = relative, sha256, size, utcnow()
    session.add(row)
    return row


def item_target(item: WorkItem, step_title: str = "") -> Item:
    """A work item as the permission rule sees it."""
    return Item(org=item.org, role=item.role, assignee=item.assignee, id=item.id, step_title=step_title)


@dataclass
class StepContext:
    """What an action sees: the locked circulation inside the step's transaction."""

    engine: Engine
    session: Session
    circulation: Circulation
    step_name: str
    step: Step
    actor: str
    # Documents the step read, held for the rest of the step: the session's identity map holds
    # rows weakly, and the record written after the action (``write_record``) reads them again.
    documents: dict[int, Document] = field(default_factory=dict, repr=False)

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
            raise RuntimeError(f"circulation {self.circulation.id} has no document for step '{self.step_name}'")
        doc = self.session.get(Document, document_id)
        if doc is None:
            raise RuntimeError(f"document {document_id} not found")
        self.documents[document_id] = doc
        return doc

    def record_file(self, role: str, relative: str, sha256: str, size: int) -> CirculationFile:
        """Keep a file this circulation produced or received (one per role; a re-issue replaces it)."""
        return record_file(self.session, self.circulation.id, role, relative, sha256, size)

    def audit(self, action: str, document_id: int | None = None, **detail: Any) -> None:
        self.engine.audit(self.session, self.actor, action, self.circulation, document_id, self.step_name, detail)

    def finished_at(self, kind: StepKind) -> datetime | None:
        """When this circulation last finished a step of ``kind`` (None: it has not)."""
        return step_finished_at(self.session, self.circulation.id, self.engine.flow(self.circulation.flow).steps_of(kind))


@dataclass(frozen=True)
class ActionSpec:
    """An automatic action a step names with ``do:``: the kind of step it performs, and what it does
    (returns the outcome, or None for ``done``)."""

    kind: StepKind
    run: Callable[[StepContext], str | None]


def action_kinds(actions: Mapping[str, ActionSpec]) -> dict[str, StepKind]:
    """Each action's name and the kind of step it performs (what the flow loader checks ``do:`` against)."""
    return {name: spec.kind for name, spec in actions.items()}


@dataclass
class StepResult:
    circulation_id: int
    step: str | None
    status: CirculationStatus
    ran: bool = False


@dataclass
class Engine:
    """Config + flows + database + storage: everything a step needs."""

    settings: Settings = field(default_factory=Settings)
    actions: Mapping[str, ActionSpec] = field(kw_only=True)  # the action registry (flows/actions ACTIONS)
    config: Config = field(init=False)
    flows: dict[str, FlowDefinition] = field(init=False)
    db: SqlEngine = field(init=False)

    def __post_init__(self) -> None:
        self.config = load_config(self.settings.config_dir)
        self.flows = load_flows(Path(self.settings.flows_dir or PACKAGED_FLOWS_DIR), action_kinds(self.actions))
        url = self.settings.resolved_database_url
        db.ensure_schema(url)  # one read; `gongwen migrate` (init) migrates explicitly
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
    @retry_transient(in_doubt="refuse")  # no key makes a launch idempotent: never run twice blindly
    def launch(self, org: str, flow: str, content: DocumentContent, policy: str = "manual", actor: str = "system", deliver_to: list[str] | None = None) -> int:
        """A secretary starts a flow over a new document (the draft). Returns the circulation id.

        ``deliver_to``: the organisation codes 核发 delivers to (direct children; none chosen:
        every child organisation — ``recipients.py``)."""
        self.config.org(org)
        check_official(content.doc_type)
        if actor in self.config.users:  # a person must be allowed to launch for ``org``; other actors (system, scripts) are the operator's
            authorize(self.config, self.config.users[actor], Action.launch, Org(org))
        self.config.policy(policy)
        definition = self.flow(flow)
        chosen = chosen_recipients(self.config, org, deliver_to)
        with db.transaction(self.db) as session:
            circ = Circulation(
                org=org, flow=flow, flow_version=definition.version, policy=policy, step=definition.start, status=CirculationStatus.ready, deliver_to=chosen
            )
            session.add(circ)
            session.flush()
            doc = Document(org=org, doc_type=content.doc_type, title=content.title, content=stored_content(content), circulation_id=circ.id)
            session.add(doc)
            session.flush()
            circ.document_id = doc.id
            self._create_items(session, circ, definition.start)
            self.audit(
                session,
                actor,
                "launch",
                circ,
                doc.id,
                None,
                {"flow": flow, "policy": policy, "title": content.title, **({"deliver_to": chosen} if chosen else {})},
            )
            return circ.id

    def start_for_recipient(self, session: Session, parent: Circulation, recipient: str, document_id: int, flow: str) -> Circulation:
        """A delivered document starts the recipient's own circulation (once per recipient and document)."""
        existing = session.exec(select(Circulation).where(Circulation.org == recipient, Circulation.received_id == document_id)).first()
        if existing:
            return existing
        definition = self.flow(flow)
        circ = Circulation(
            org=recipient,
            flow=flow,
            flow_version=definition.version,
            policy=parent.policy,
            received_id=document_id,
            parent_id=parent.id,
            step=definition.start,
            status=CirculationStatus.ready,
        )
        session.add(circ)
        session.flush()
        self._create_items(session, circ, definition.start)  # new: nothing open to find or cancel
        return circ

    def flow(self, name: str) -> FlowDefinition:
        try:
            return self.flows[name]
        except KeyError:
            raise Refusal(f"未知流程“{name}”；可选：{'、'.join(sorted(self.flows))}") from None

    # ---- running steps ---------------------------------------------------------------------------
    @retry_transient(in_doubt="retry")  # the step is re-checked under the row lock
    def run_step(self, circulation_id: int, expected_step: str | None = None) -> StepResult:
        """Run the circulation's current step if it is automatic (or auto-approved by its policy)."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None:
                raise Refusal(f"流转 {circulation_id} 不存在")
            if circ.status not in (CirculationStatus.ready, CirculationStatus.running) or circ.step is None or (expected_step and circ.step != expected_step):
                return StepResult(circ.id, circ.step, circ.status)
            step = self.flow(circ.flow).step(circ.step)
            items = self._open_items(session, circ, circ.step)
            if step.human:
                policy = self.config.policy(circ.policy)
                auto = policy.auto_approve.get(step.kind)
                if auto is None or self.config.org(circ.org).level in policy.wait_at_levels:
                    circ.status, circ.claimed_by = CirculationStatus.waiting, None
                    session.add(circ)
                    return StepResult(circ.id, circ.step, CirculationStatus.waiting)
                actor = f"policy:{circ.policy}"
                for item in items[:-1]:
                    self._finish_item(session, circ, item, step, auto, actor, None)
                self._human_done(session, circ, items[-1], step, auto, actor, None)
            else:
                ctx = StepContext(self, session, circ, circ.step, step, "system")
                outcome = self.actions[step.do].run(ctx)
                self._finish_item(session, circ, items[0], step, outcome, "system", None)
                if step.record:
                    self.write_record(session, circ)
                self._move(session, circ, step, outcome)
            return StepResult(circ.id, circ.step, circ.status, ran=True)

    @retry_transient(in_doubt="retry")  # a re-run after an in-doubt commit recognises its own decision
    def complete(self, work_item_id: int, user_id: str, outcome: str, comment: str | None = None, changes: dict[str, Any] | None = None) -> StepResult:
        """A person acts on a human work item (approve, return, read, ...). Checked and locked.

        ``changes`` (title, main_recipients, body, ...) revise the draft: a new version of the
        document is stored and the previous ones are kept (痕迹保留).
        """
        user = self.user(user_id)
        with db.transaction(self.db) as session:
            if db.resuming_after_in_doubt_commit() and (mine := self._decided_by(session, work_item_id, user_id, outcome)):
                return mine  # our first attempt did commit: report it, do not refuse it as a double submit
            item, circ, step = self._lock_item(session, work_item_id)
            principal = self._may_act(session, user, item, step)
            if outcome not in step.targets:
                raise Refusal(f"办理结果“{outcome}”无效，本环节可选：{'、'.join(step.targets)}")
            if outcome == "return" and not (comment or "").strip():
                raise Refusal("退回必须填写意见（a return needs a comment saying what to change）")
            if changes:
                self._revise(session, circ, user_id, changes)
            if principal != user_id:
                item.acted_for = principal
            self._human_done(session, circ, item, step, outcome, user_id, comment)
            return StepResult(circ.id, circ.step, circ.status, ran=True)

    @staticmethod
    def _decided_by(session: Session, work_item_id: int, user_id: str, outcome: str) -> StepResult | None:
        """The result of ``user_id``'s ``outcome`` on the item, if that is how it was already done."""
        item = session.get(WorkItem, work_item_id)
        if item is None or (item.status, item.actor, item.outcome) != (WorkItemStatus.done, user_id, outcome):
            return None
        circ = session.get(Circulation, item.circulation_id)
        return StepResult(circ.id, circ.step, circ.status, ran=True)

    @retry_transient(in_doubt="refuse")  # a second run would be refused as 'already theirs'
    def reassign(self, work_item_id: int, user_id: str, to_user: str, comment: str | None = None) -> WorkItem:
        """转办: the person an item is for hands it to a colleague with the same role."""
        user, target = self.user(user_id), self.user(to_user)
        with db.transaction(self.db) as session:
            item, circ, step = self._lock_item(session, work_item_id)
            self._may_act(session, user, item, step, Action.reassign)
            if not allowed(self.config, target, Action.act, Item(circ.org, step.by.value)):  # the colleague must be able to take it
                raise Refusal(f"不能转给 {target.name}：须为本单位具有“{step.by.value}”角色的人员")
            if item.assignee == to_user:
                raise Refusal(f"待办事项 {work_item_id} 已是 {target.name} 的")
            if session.exec(
                select(WorkItem).where(
                    WorkItem.circulation_id == circ.id, WorkItem.step == item.step, WorkItem.slot == f"user:{to_user}", WorkItem.status == WorkItemStatus.open
                )
            ).first():
                raise Refusal(f"{target.name} 在本环节已有待办，不能重复转办")
            before = item.assignee or item.slot
            item.assignee, item.slot = to_user, f"user:{to_user}"
            session.add(item)
            self.audit(
                session,
                user_id,
                "reassigned",
                circ,
                circ.document_id or circ.received_id,
                item.step,
                {"from": before, "to": to_user, **({"comment": comment} if comment else {})},
            )
            return item

    @retry_transient(in_doubt="refuse")  # a second run would record a second delegation
    def delegate(self, principal: str, deputy: str, starts_at: datetime, ends_at: datetime, actor: str, reason: str | None = None) -> Delegation:
        """委托: ``principal`` lets ``deputy`` act on their items (same organisation) for a period."""
        p, d = self.user(principal), self.user(deputy)
        authorize(self.config, self.user(actor), Action.delegate, Person(principal))
        if p.org != d.org:
            raise Refusal(f"委托只能在本单位内：{p.name} 与 {d.name} 不在同一单位")
        if principal == deputy:
            raise Refusal("不能委托给自己")
        if ends_at <= starts_at:
            raise Refusal("委托结束时间必须晚于开始时间")
        with db.transaction(self.db) as session:
            row = Delegation(principal=principal, deputy=deputy, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=actor)
            session.add(row)
            session.flush()
            self.audit(
                session,
                actor,
                "delegated",
                None,
                None,
                None,
                {"principal": principal, "deputy": deputy, "from": starts_at.isoformat(), "to": ends_at.isoformat(), **({"reason": reason} if reason else {})},
            )
            return row

    @retry_transient(in_doubt="retry")  # one reminder per item (unique key)
    def send_reminders(self, now: datetime | None = None) -> list[Reminder]:
        """催办: one reminder per overdue open item, never twice (a unique key per item)."""
        now = now or utcnow()
        sent = []
        with db.transaction(self.db) as session:
            overdue = session.exec(
                select(WorkItem).where(
                    WorkItem.status == WorkItemStatus.open, WorkItem.kind == WorkItemKind.human, WorkItem.due_at.is_not(None), WorkItem.due_at < now
                )
            )
            for item in overdue:
                if session.exec(select(Reminder).where(Reminder.work_item_id == item.id, Reminder.kind == "overdue")).first():
                    continue
                recipient = item.assignee or item.slot
                reminder = Reminder(work_item_id=item.id, kind="overdue", recipient=recipient, sent_at=now)
                session.add(reminder)
                circ = session.get(Circulation, item.circulation_id)
                self.audit(
                    session,
                    "system",
                    "reminded",
                    circ,
                    circ.document_id or circ.received_id,
                    item.step,
                    {"recipient": recipient, "due_at": item.due_at.isoformat()},
                )
                sent.append(reminder)
        return sent

    # ---- the mechanics of one step ---------------------------------------------------------------
    def _lock_item(self, session: Session, work_item_id: int) -> tuple[WorkItem, Circulation, Step]:
        item = session.get(WorkItem, work_item_id)
        if item is None:
            raise Refusal(f"待办事项 {work_item_id} 不存在（work item not found）")
        circ = db.lock_circulation(session, item.circulation_id)
        session.refresh(item)
        if item.status != WorkItemStatus.open or circ.step != item.step:
            raise Refusal(f"待办事项 {work_item_id} 已办理，不能重复办理（already {item.status} by {item.actor}）")
        step = self.flow(circ.flow).step(item.step)
        if not step.human:
            raise Refusal(f"环节“{step.title}”由系统自动办理，不能人工办理（step is automatic）")
        return item, circ, step

    def _may_act(self, session: Session, user: User, item: WorkItem, step: Step, action: Action = Action.act) -> str:
        """Who ``user`` acts for on ``item``: themselves, or the principal who delegated to them."""
        return acting_for(self.config, user, action, item_target(item, step.title), self.principals(session, user)).id

    def principals(self, session: Session, deputy: User) -> list[User]:
        """The people who delegated to ``deputy`` for now (委托代办)."""
        return [self.config.users[p] for p in principals_of(session, deputy.id, utcnow()) if p in self.config.users]

    def _human_done(self, session: Session, circ: Circulation, item: WorkItem, step: Step, outcome: str, actor: str, comment: str | None) -> None:
        """Close one person's item; move the circulation on when the step's join is complete."""
        self._finish_item(session, circ, item, step, outcome, actor, comment)
        if step.sets_signer and outcome == step.agree:
            self._set_signer(session, circ, item.acted_for or actor)
        others = list(
            session.exec(select(WorkItem).where(WorkItem.circulation_id == circ.id, WorkItem.step == item.step, WorkItem.status == WorkItemStatus.open))
        )
        if outcome != step.agree:  # a refusal (return) decides the step at once
            for other in others:
                other.status, other.finished_at = WorkItemStatus.cancelled, utcnow()
                session.add(other)
        elif step.mode == "sequence":
            users = self._users_for(circ, step)
            if item.seq + 1 < len(users):
                self._new_item(session, circ, item.step, step, users[item.seq + 1], item.seq + 1)
                circ.status, circ.updated_at = CirculationStatus.waiting, utcnow()
                session.add(circ)
                self.write_record(session, circ)
                return
        elif others:  # mode all: wait for the others
            self.write_record(session, circ)
            return
        self.write_record(session, circ)
        self._move(session, circ, step, outcome)

    def _finish_item(self, session: Session, circ: Circulation, item: WorkItem, step: Step, outcome: str | None, actor: str, comment: str | None) -> None:
        item.status, item.outcome, item.actor, item.comment, item.finished_at = WorkItemStatus.done, outcome or "done", actor, comment, utcnow()
        item.attempts += 1
        session.add(item)
        # the words with the outcome: the record reads the same after the flow files change (归档 keeps it)
        detail = {
            "title": step.title,
            "outcome": outcome or "done",
            "outcome_label": self.flow(circ.flow).outcome_label(outcome or "done"),
            "worker": self.worker_name,
        }
        if comment:
            detail["comment"] = comment
        if item.acted_for:
            detail["acted_for"] = item.acted_for
        self.audit(session, actor, f"step:{item.step}", circ, circ.document_id or circ.received_id, item.step, detail)
        session.flush()

    def _move(self, session: Session, circ: Circulation, step: Step, outcome: str | None) -> None:
        nxt = step.next_after(outcome)
        circ.updated_at = utcnow()  # before the items' flush: the circulation is updated once
        if nxt == END:
            circ.step, circ.status, circ.claimed_by = None, CirculationStatus.done, None
        else:
            circ.step, circ.status = nxt, CirculationStatus.ready
            self._open_items(session, circ, nxt)
        session.add(circ)

    def _users_for(self, circ: Circulation, step: Step) -> list[User]:
        users = sorted(self.config.users_with(circ.org, step.by), key=lambda u: u.id)
        if not users:
            raise Refusal(f"{self.config.org(circ.org).short_name} 没有“{step.by.value}”角色的用户，环节“{step.title}”无人办理（add one to config/users.yaml）")
        return users

    def _open_items(self, session: Session, circ: Circulation, step_name: str) -> list[WorkItem]:
        """The open items of the current step, created on first entry (auto: one; human: by mode);
        items still open at other steps are cancelled then. One query for both."""
        still_open = list(
            session.exec(select(WorkItem).where(WorkItem.circulation_id == circ.id, WorkItem.status == WorkItemStatus.open).order_by(WorkItem.seq, WorkItem.id))
        )
        existing = [item for item in still_open if item.step == step_name]
        if existing:
            return existing
        for stale in still_open:
            stale.status, stale.finished_at = WorkItemStatus.cancelled, utcnow()
            session.add(stale)
        return self._create_items(session, circ, step_name)

    def _create_items(self, session: Session, circ: Circulation, step_name: str) -> list[WorkItem]:
        """The items of a step entered now (auto: one; human: by mode)."""
        step = self.flow(circ.flow).step(step_name)
        if not step.human or step.mode == "one":
            return [self._new_item(session, circ, step_name, step, None, 0)]
        users = self._users_for(circ, step)
        if step.mode == "sequence":
            return [self._new_item(session, circ, step_name, step, users[0], 0)]
        return [self._new_item(session, circ, step_name, step, u, i) for i, u in enumerate(users)]

    def _new_item(self, session: Session, circ: Circulation, step_name: str, step: Step, user: User | None, seq: int) -> WorkItem:
        if not step.human:
            slot = "auto"
        else:
            slot = f"user:{user.id}" if user else f"role:{step.by.value}"
        due = due_after(load_calendar(self.config.directory), utcnow(), step.due_working_days, step.due_days, circ.org) if step.human else None
        item = WorkItem(
            circulation_id=circ.id,
            step=step_name,
            kind=WorkItemKind.human if step.human else WorkItemKind.auto,
            slot=slot,
            role=step.by.value if step.by else None,
            assignee=user.id if user else None,
            seq=seq,
            org=circ.org,
            due_at=due,
        )
        session.add(item)
        session.flush()
        return item

    # ---- documents: versions, signer, records ------------------------------------------------------
    def _revise(self, session: Session, circ: Circulation, user_id: str, changes: dict[str, Any]) -> Document:
        """A new version of the circulation's draft with ``changes``; earlier versions are kept."""
        current = session.get(Document, circ.document_id) if circ.document_id else None
        if current is None:
            raise Refusal("本流转没有可修改的文稿")
        if current.doc_number:
            raise Refusal(f"文稿已编号（{current.doc_number}），不能再修改")
        content = DocumentContent.model_validate({**current.content, **changes})
        doc = Document(
            org=current.org,
            doc_type=content.doc_type,
            title=content.title,
            content=stored_content(content),
            forwards_id=current.forwards_id,
            original_id=current.original_id,
            circulation_id=circ.id,
            version=current.version + 1,
        )
        session.add(doc)
        session.flush()
        circ.document_id = doc.id
        self.audit(session, user_id, "revised", circ, doc.id, circ.step, {"version": doc.version, "fields": sorted(changes)})
        return doc

    def _set_signer(self, session: Session, circ: Circulation, actor: str) -> None:
        """签发人: the approving leader; under an auto-approving policy, the organisation's first leader."""
        if not circ.document_id:
            return
        if actor in self.config.users:
            name = self.config.users[actor].name
        else:
            leaders = sorted(self.config.users_with(circ.org, Role.leader), key=lambda u: u.id)
            if not leaders:
                return
            name = leaders[0].name
        doc = session.get(Document, circ.document_id)
        doc.content = {**doc.content, "signer": name}
        session.add(doc)

    def write_record(self, session: Session, circ: Circulation) -> None:
        """Re-issue the flow's .docx record (发文稿纸 / 收文处理单) from the work items so far."""
        kind = self.flow(circ.flow).record
        if kind is None:
            return
        from gongwen_engine.doc_templates.records import render_record

        relative = f"{circ.org}/records/{kind}-{circ.id}.docx"
        record = gather_record(session, self.config, self.flow(circ.flow), circ, RecordKind(kind), self.business_date(circ))
        result = render_record(record, self.storage / relative)
        record_file(session, circ.id, kind, relative, result.sha256, result.size)

    def user(self, user_id: str) -> User:
        user = self.config.users.get(user_id)
        if user is None:
            raise Refusal(f"未知用户 '{user_id}'（unknown user; see config/users.yaml）")
        return user

    @retry_transient(in_doubt="retry")
    def fail(self, circulation_id: int, error: str) -> None:
        """Record that an automatic step gave up after its retries; `gongwen retry` resumes it."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None or circ.status in (CirculationStatus.done, CirculationStatus.failed):  # recorded already (a re-run after an in-doubt commit)
                return
            circ.status, circ.error, circ.claimed_by = CirculationStatus.failed, error[:2000], None
            session.add(circ)
            self.audit(session, "system", "step_failed", circ, circ.document_id or circ.received_id, circ.step, {"error": error[:500]})

    @retry_transient(in_doubt="refuse")
    def retry(self, circulation_id: int, actor: str) -> None:
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None or circ.status != CirculationStatus.failed:
                raise Refusal(f"流转 {circulation_id} 不是失败状态，无需重试（not failed）")
            circ.status, circ.error = CirculationStatus.ready, None
            session.add(circ)
            self.audit(session, actor, "retry", circ, circ.document_id or circ.received_id, circ.step, {})

    # ---- claiming work (several workers, several machines) ---------------------------------------
    @retry_transient(in_doubt="retry")  # an in-doubt claim is given back after its lease
    def claim_ready(self, limit: int = 50, min_priority: int | None = None, excluding: frozenset[int] = frozenset()) -> list[Circulation]:
        """Claim up to ``limit`` circulations with automatic work to do (SKIP LOCKED on PostgreSQL),
        most urgent step first; ``min_priority``: only those whose step is at least that urgent;
        ``excluding``: circulations the caller is already advancing (ready between their steps)."""
        from gongwen_engine.flows.engine.claims import claim_order, claimable, release_abandoned_claims, step_priority, take

        release_abandoned_claims(self)  # claims of killed processes of this machine (flows/claims.py)
        with db.transaction(self.db) as session:
            stmt = select(Circulation).where(claimable()).order_by(*claim_order(self)).limit(limit)
            if min_priority is not None:
                stmt = stmt.where(step_priority(self) >= min_priority)
            if excluding:
                stmt = stmt.where(Circulation.id.not_in(excluding))
            return take(session, stmt, self)

    # ---- audit -----------------------------------------------------------------------------------
    @staticmethod
    def audit(session: Session, actor: str, action: str, circ: Circulation | None, document_id: int | None, step: str | None, detail: dict[str, Any]) -> None:
        audit_trail.record(
            session, actor, action, org=circ.org if circ else None, circulation_id=circ.id if circ else None, document_id=document_id, step=step, detail=detail
        )
