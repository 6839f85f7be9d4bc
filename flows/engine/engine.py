"""The engine that interprets flow definitions over the database.

Small on purpose: it moves a circulation from step to step. Every move is ONE transaction that
takes the circulation's row lock, checks the step is still the one expected (so a retried or
duplicated run is a no-op), performs the step's effect (an action of the registry the engine
is given, ``flows/actions`` ``ACTIONS``, or a person's decision), finishes the work item, opens
the next one (``items.py``), re-issues the record (the renderer it is given) and appends the audit
record. Human steps leave the circulation ``waiting`` in the database; no process waits for a
person. Prefect (``flows/runtime/runner.py``) drives the automatic steps.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config, load_config
from gongwen_engine.config.schema import User
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine import claims, failures, items
from gongwen_engine.flows.engine.context import ActionSpec, Sender, StepContext, StepResult, action_kinds
from gongwen_engine.flows.engine.definition import END, PACKAGED_FLOWS_DIR, FlowDefinition, Step, StepKind, flow_named, load_flows
from gongwen_engine.flows.engine.documents import record_file, revise, set_signer
from gongwen_engine.flows.engine.records import RecordRenderer, gather_record
from gongwen_engine.flows.engine.versions import FlowVersions, counterpart
from gongwen_engine.models import admin, db
from gongwen_engine.models.audit import record_about
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.db import retry_transient
from gongwen_engine.models.documents import stored_content
from gongwen_engine.models.records import RecordData, RecordKind
from gongwen_engine.models.rules import recipients
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.rules.doc_kinds import check_official
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.rules.recipients import chosen_recipients, with_chosen_recipients
from gongwen_engine.models.rules.text_input import PARAGRAPH_MAX, check_changes, check_content, check_text
from gongwen_engine.models.tables import (
    Circulation,
    CirculationStatus,
    Delegation,
    Document,
    LaunchOnce,
    Reminder,
    WorkItem,
    WorkItemStatus,
    saved_id,
    utcnow,
)

# session.info: while ``run_step`` chains steps in one transaction, the records they re-issue
# ({circulation id: (file, gathered record, or how to gather it)}), written once when the chain
# ends. The file is what the last step that re-issued it saw: a re-issue is gathered when the chain
# goes on to a step that does not re-issue it again (``_gather_due``: before that step changes
# anything) or when the chain ends; one superseded by the next step's own re-issue is never
# gathered, and only the last is rendered and written (an fsync), not one after each of 登记 → 拟办 → 签发.
RECORDS_DUE = "gongwen_records_due"
KEEP_CLAIM = "gongwen_keep_claim"  # session.info: run_step's keep_claim, for _move
MOVING = (CirculationStatus.ready, CirculationStatus.running)  # a circulation whose automatic step may run


class StepLimitReached(Exception):
    """A circulation ran ``Settings.max_steps`` steps: its step is failed (``Engine.fail``), not run."""

    def __init__(self, circulation_id: int, step: str, steps_run: int, limit: int) -> None:
        self.step = step
        super().__init__(
            f"流转 {circulation_id} 已运行 {steps_run} 个环节，达到上限（GONGWEN_MAX_STEPS={limit}），环节“{step}”未执行："
            "流程可能在自动环节间循环。请检查流程文件中各环节的 next（gongwen check），修正后用 gongwen retry 继续；"
            "确属正常的长流程可调高 GONGWEN_MAX_STEPS"
        )


class AlreadyLaunched(Refusal):
    """A launch keyed ``once`` found its key taken: it was launched already (or is being launched)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"已经发起过（唯一键 {key}），不会再发起一次：用 gongwen status 查看已发起的流转")


def forwards(definition: FlowDefinition, step: Step, outcome: str) -> bool:
    """The outcome leads to an automatic drafting step: the forwarding notice (批办 转发)."""
    target = step.next_after(outcome) if outcome in step.targets else END
    return target != END and definition.step(target).kind == StepKind.draft and not definition.step(target).human


@dataclass
class Engine:
    """Config + flows + database + storage: everything a step needs."""

    settings: Settings = field(default_factory=Settings)
    actions: Mapping[str, ActionSpec] = field(kw_only=True)  # the action registry (flows/actions ACTIONS)
    record_renderer: RecordRenderer = field(kw_only=True)  # writes a record's .docx (doc_templates.records.render_record)
    config: Config = field(init=False)  # the files' config, or the database's once an administrator changed it (refresh_config)
    files_config: Config = field(init=False)  # config/*.yaml as read at start
    flows: dict[str, FlowDefinition] = field(init=False)  # the current flows: new circulations run these
    versions: FlowVersions = field(init=False)  # the flow each circulation runs: the version it started with
    db: SqlEngine = field(init=False)
    storage: Path = field(init=False)
    worker_name: str = field(init=False)
    audit = staticmethod(record_about)  # an audit record about a circulation, inside the caller's transaction (services)

    def __post_init__(self) -> None:
        self.config = self.files_config = load_config(self.settings.config_dir)
        self.flows = load_flows(Path(self.settings.flows_dir or PACKAGED_FLOWS_DIR), action_kinds(self.actions), self.config.roles)
        url = self.settings.resolved_database_url
        db.ensure_schema(url)  # one read; `gongwen migrate` (init) migrates explicitly
        self.db = db.get_engine(url)
        self.versions = FlowVersions(self.flows, action_kinds(self.actions), self.db)
        self.refresh_config()
        self.storage = self.settings.resolved_storage
        self.storage.mkdir(parents=True, exist_ok=True)
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"

    def refresh_config(self, session: Session | None = None) -> Config:
        """The configuration as the database holds it now: one read of the administrative
        generation, a rebuild only when an administrator changed something (``models/admin.py``).
        Called per web request and per step, so changes take effect without a restart; a step
        reads it in its own transaction (``session``), not in one of its own before it."""
        if session is None:
            return self._refresh_config_alone()
        if admin.generation(session) != self.config.generation:
            self.config = admin.config_of(session, self.files_config)
        return self.config

    @retry_transient(in_doubt="retry")  # a read: again on a dropped connection (the fault campaign caught one before 委托)
    def _refresh_config_alone(self) -> Config:
        with Session(self.db) as own:
            return self.refresh_config(own)

    def business_date(self, circulation: Circulation) -> date:
        """Today in China, or the date a named policy's clock gives this organisation's level."""
        clock = self.config.policy(circulation.policy).clock
        level = self.config.org(circulation.org).level
        if level in clock:
            return clock[level]
        return today()

    def flow(self, name: str) -> FlowDefinition:
        """The current definition of flow ``name`` (what a new circulation runs)."""
        return flow_named(self.flows, name)

    def definition_of(self, circ: Circulation, session: Session | None = None) -> FlowDefinition:
        """The definition ``circ`` runs: the version it started with, until it ends (``versions.py``)."""
        return self.versions.of(circ, session)

    def user(self, user_id: str) -> User:
        return self.config.user(user_id)

    # ---- starting circulations ----------------------------------------------------------------
    @retry_transient(in_doubt="refuse")  # no key makes a launch idempotent: never run twice blindly
    def launch(
        self,
        org: str,
        flow: str,
        content: DocumentContent,
        policy: str = "manual",
        actor: str = "system",
        deliver_to: list[str] | None = None,
        once: str | None = None,
    ) -> int:
        """A secretary starts a flow over a new document (the draft). Returns the circulation id.

        ``deliver_to``: recipients chosen by code (direct children, ``launch --to``). They set the
        printed 主送 when the document names none, and must agree with it when it does: 核发
        delivers to what the signed version prints (``recipients.py``), never to anything else.
        ``once``: a key that makes this launch happen once in the database (``LaunchOnce``,
        unique): a second launch with the same key, however processes race, raises
        ``AlreadyLaunched`` and stores nothing."""
        self.refresh_config()
        self.config.org(org)
        check_official(content.doc_type)
        check_content(content)  # the input policy: control and bidi characters, lengths, a body (text_input.py)
        if actor in self.config.users:  # a person must be allowed to launch for ``org``; other actors (system, scripts) are the operator's
            authorize(self.config, self.config.users[actor], Action.launch, Org(org))
        self.config.policy(policy)
        definition = self.flow(flow)
        chosen = chosen_recipients(self.config, org, deliver_to)
        content = with_chosen_recipients(self.config, org, content, chosen)
        recipients.check(self.config, org, content.main_recipients, content.cc)
        with db.transaction(self.db) as session:
            version = self.versions.pin(session, definition)
            circ = Circulation(
                org=org, flow=flow, flow_version=version, policy=policy, step=definition.start, status=CirculationStatus.ready, deliver_to=chosen
            )
            session.add(circ)
            session.flush()
            doc = Document(org=org, doc_type=content.doc_type, title=content.title, content=stored_content(content), circulation_id=circ.id)
            session.add(doc)
            session.flush()
            circ.document_id = doc.id
            items.create_items(session, self.config, definition, circ, definition.start)
            detail = {"flow": flow, "policy": policy, "title": content.title, **({"deliver_to": chosen} if chosen else {})}
            if once is not None:
                if session.get(LaunchOnce, once) is not None:
                    raise AlreadyLaunched(once)
                session.add(LaunchOnce(key=once, circulation_id=saved_id(circ)))
                try:
                    session.flush()  # PostgreSQL: waits for a racing launch's COMMIT, then fails on the key
                except IntegrityError as exc:
                    raise AlreadyLaunched(once) from exc
            record_about(session, actor, "launch", circ, doc.id, None, detail)
            return saved_id(circ)

    def start_for_recipient(self, session: Session, parent: Sender, recipient: str, document_id: int, flow: str, *, absent: bool = False) -> Circulation:
        """A delivered document starts the recipient's own circulation (once per recipient and document;
        ``absent``: the caller has looked for it in this transaction and found none)."""
        existing = None if absent else session.exec(select(Circulation).where(Circulation.org == recipient, Circulation.received_id == document_id)).first()
        if existing:
            return existing
        definition = self.flow(flow)
        circ = Circulation(
            org=recipient,
            flow=flow,
            flow_version=self.versions.pin(session, definition),
            policy=parent.policy,
            received_id=document_id,
            parent_id=parent.id,
            step=definition.start,
            status=CirculationStatus.ready,
        )
        session.add(circ)
        session.flush()
        items.create_items(session, self.config, definition, circ, definition.start)  # new: nothing open to find or cancel
        return circ

    # ---- running steps ---------------------------------------------------------------------------
    @retry_transient(in_doubt="retry")  # the step is re-checked under the row lock
    def run_step(self, circulation_id: int, expected_step: str | None = None, then: frozenset[StepKind] = frozenset(), keep_claim: bool = False) -> StepResult:
        """Run the circulation's current step if it is automatic (or auto-approved by its policy).

        ``then``: step kinds that may follow in the same transaction — while the next step is
        one of them, it runs under the same row lock and commits with this one (the batch runner
        chains the steps that need nothing prepared outside the lock: 签收 → 登记 → 拟办 are one
        unit of work, not three). All or nothing, as one step is.

        ``keep_claim``: a circulation this process claimed (``running``) stays claimed when its step
        moves it on, instead of becoming ``ready`` for any dispatcher: the batch runner advances its
        circulations step after step, and a dispatcher in another process must not take one between
        two of them (it would prepare the same conversions again). A claim left by a dead process is
        released as any other (``claims.release_abandoned_claims``).

        A circulation that has run ``Settings.max_steps`` steps already is not moved on: its step
        fails through ``fail`` (the path of any failed automatic step), naming the limit."""
        try:
            return self._run_step(circulation_id, expected_step, then, keep_claim)
        except StepLimitReached as limit:
            self.fail(circulation_id, str(limit))
            return StepResult(circulation_id, limit.step, CirculationStatus.failed, ran=False)

    def _run_step(self, circulation_id: int, expected_step: str | None, then: frozenset[StepKind], keep_claim: bool) -> StepResult:
        with db.transaction(self.db) as session:
            session.info[KEEP_CLAIM] = keep_claim
            self.refresh_config(session)
            return self._chain_locked(session, circulation_id, expected_step, then)

    @retry_transient(in_doubt="retry")  # every step is re-checked under its row lock: what committed is not run again
    def run_steps(
        self, steps: Mapping[int, str | None], then: frozenset[StepKind] = frozenset(), keep_claim: bool = False
    ) -> dict[int, StepResult | Exception]:
        """Group commit: several circulations' steps (``run_step`` each, with ``then``) in ONE
        transaction, each circulation's under a SAVEPOINT of its own.

        ``steps``: circulation id → the step expected (None: whatever is current), run in that order.
        A circulation whose steps raise loses them alone (its savepoint rolls back: nothing of it is
        kept, as when its own transaction fails) and gets the error as its result — a constraint
        violation too; the others go on and commit together, with one BEGIN, one COMMIT and one
        extension of the audit chain instead of one each. Any other database error ends the whole
        unit (raised, nothing kept): the connection or the transaction may be what failed.
        Circulations hitting ``Settings.max_steps`` get ``StepLimitReached``: the caller runs them
        alone (``run_step`` fails the step)."""
        with db.transaction(self.db) as session:
            session.info[KEEP_CLAIM] = keep_claim
            self.refresh_config(session)
            results: dict[int, StepResult | Exception] = {}
            for circulation_id, expected_step in steps.items():
                try:
                    with session.begin_nested():
                        results[circulation_id] = self._chain_locked(session, circulation_id, expected_step, then)
                except DBAPIError as exc:
                    if not isinstance(exc, IntegrityError):
                        raise  # the connection or the transaction may be what failed: the whole unit ends
                    results[circulation_id] = exc  # a constraint of this circulation's: its savepoint has undone the statement
                except Exception as exc:  # this circulation's own failure: its savepoint has rolled back
                    results[circulation_id] = exc
            return results

    def _chain_locked(self, session: Session, circulation_id: int, expected_step: str | None, then: frozenset[StepKind]) -> StepResult:
        """The circulation's step and the steps of kinds ``then`` after it, its row locked in
        ``session``'s transaction; the record they re-issue is written once, at the end."""
        circ = db.lock_circulation(session, circulation_id)
        if circ is None:
            raise Refusal(f"流转 {circulation_id} 不存在")
        items.keep_ledger(session, circulation_id)  # its row is locked: the chain's steps need not ask again what the last one wrote
        if then:
            session.info[RECORDS_DUE] = {}  # the chain's steps re-issue the record once, at its end
        try:
            # No flush between the chain's steps: what they ask of each other is answered by the item
            # ledger, the registrations it added (models/registrations.py) and the identity map, so an
            # item opened and finished in the chain is inserted once with its final values and the
            # circulation's row updated once (a leaf's 签收 → 登记 → 拟办: 17 statements → 13). A step
            # that needs its own rows' ids flushes itself (start_for_recipient).
            with session.no_autoflush:
                result = self._step_locked(session, circ, expected_step)
                while result.ran and circ.status in MOVING and circ.step and self.definition_of(circ, session).step(circ.step).kind in then:
                    if not self._reissues_record(self.definition_of(circ, session).step(circ.step)):
                        self._gather_due(session)  # the record as the last step left it, before the next one changes anything
                    try:
                        result = self._step_locked(session, circ, circ.step)
                    except StepLimitReached:
                        break  # raised before the step wrote anything: what ran commits, the next call fails the step
            session.flush()  # inside the circulation's savepoint: a constraint it breaks is its own failure
            self._gather_due(session)
            for relative, record in session.info.get(RECORDS_DUE, {}).values():
                assert isinstance(record, RecordData)  # gathered just above
                self._issue_record(session, circ, relative, record)
            return result
        finally:
            session.info.pop(RECORDS_DUE, None)  # this chain's, whether it ran to its end or not

    @staticmethod
    def _reissues_record(step: Step) -> bool:
        """The step, when it runs, re-issues the record itself (an automatic step declaring ``record``)."""
        return not step.human and step.record

    @staticmethod
    def _gather_due(session: Session) -> None:
        """Gather the re-issues due in this chain that are not gathered yet (``RECORDS_DUE``)."""
        due = session.info.get(RECORDS_DUE) or {}
        if any(not isinstance(record, RecordData) for _, record in due.values()):
            session.flush()  # the gathering reads what the chain has written so far
        for cid, (relative, record) in list(due.items()):
            if not isinstance(record, RecordData):
                due[cid] = (relative, record())

    def _step_locked(self, session: Session, circ: Circulation, expected_step: str | None) -> StepResult:
        """The circulation's current step, its row locked in ``session``'s transaction."""
        circulation_id = saved_id(circ)
        if circ.status not in (CirculationStatus.ready, CirculationStatus.running) or circ.step is None or (expected_step and circ.step != expected_step):
            return StepResult.of(circ, ran=False)
        if (steps_run := items.steps_run(session, circulation_id)) >= self.settings.max_steps:
            raise StepLimitReached(circulation_id, circ.step, steps_run, self.settings.max_steps)  # rolls back: nothing written
        definition = self.definition_of(circ, session)
        step = definition.step(circ.step)
        open_items = items.open_items(session, self.config, definition, circ, circ.step)
        if step.human:
            policy = self.config.policy(circ.policy)
            auto = policy.auto_approve.get(step.kind)
            if auto is None or self.config.org(circ.org).level in policy.wait_at_levels:
                circ.status, circ.claimed_by = CirculationStatus.waiting, None
                session.add(circ)
                return StepResult.of(circ, ran=False)
            actor = f"policy:{circ.policy}"
            principal = self.config.principal_leader(circ.org) if step.sets_signer else None
            if principal is not None:  # the policy signs off in the principal leader's name (签发人)
                open_items[-1].acted_for = principal.id
            for item in open_items[:-1]:
                items.finish_item(session, definition, circ, item, auto, actor, None, self.worker_name)
            self._human_done(session, circ, open_items[-1], step, auto, actor, None)
        else:
            outcome = self.actions[step.action].run(StepContext(self, session, circ, circ.step, step, "system"))
            items.finish_item(session, definition, circ, open_items[0], outcome, "system", None, self.worker_name)
            if step.record:
                self._write_record(session, circ)
            self._move(session, circ, step, outcome)
        return StepResult.of(circ)

    @retry_transient(in_doubt="retry")  # a re-run after an in-doubt commit recognises its own decision
    def complete(
        self,
        work_item_id: int,
        user_id: str,
        outcome: str,
        comment: str | None = None,
        changes: dict[str, Any] | None = None,
        deliver_to: list[str] | None = None,
    ) -> StepResult:
        """A person acts on a human work item (approve, return, read, ...). Checked and locked.

        ``changes`` (title, main_recipients, cc, body, ...) revise the draft: a new version of the
        document is stored and the previous ones are kept (痕迹保留); contradictory recipients are
        refused (``recipients.check``). ``deliver_to``: on an outcome that forwards (批办 转发), the
        children the forwarding notice is addressed and delivered to (default: all of them).
        A failed automatic step's item (``failures.py``) takes the outcome ``retry``.
        """
        self.refresh_config()
        user = self.user(user_id)
        if changes:
            check_changes(changes)  # the input policy, before anything is stored (text_input.py)
        if comment:
            check_text("意见", comment, limit=PARAGRAPH_MAX, multiline=True)
        with db.transaction(self.db) as session:
            if db.resuming_after_in_doubt_commit() and (mine := self._decided_by(session, work_item_id, user_id, outcome)):
                return mine  # our first attempt did commit: report it, do not refuse it as a double submit
            if failures.is_failure_item(session, self.definition_of, work_item_id):
                failures.refuse_other_outcome(outcome)
                failed = session.get(WorkItem, work_item_id)
                assert failed is not None  # is_failure_item read it
                return self._retry_locked(session, failed.circulation_id, user_id)
            item, circ, step = items.lock_item(session, self.definition_of, work_item_id)
            principal = items.may_act(session, self.config, user, item, step)
            if outcome not in step.targets:
                raise Refusal(f"所选的办理结果无效，本环节可选：{'、'.join(self.definition_of(circ, session).outcome_label(t) for t in step.targets)}")
            if outcome == "return" and not (comment or "").strip():
                raise Refusal("退回必须填写意见：请写明需要修改什么")
            definition = self.definition_of(circ, session)
            if forwards(definition, step, outcome):
                if not self.config.children(circ.org):
                    raise Refusal(f"{self.config.org(circ.org).short_name}没有下级单位，不能转发：请选择“{definition.outcome_label('file')}”或其他办理结果。")
                if deliver_to is not None:
                    circ.deliver_to = chosen_recipients(self.config, circ.org, deliver_to)
                    session.add(circ)
            elif deliver_to:
                raise Refusal("只有批办“转发”时才能选择送达单位；修改已起草文件的主送机关请修改文稿")
            if changes:
                if {"main_recipients", "cc"} & changes.keys():
                    current = session.get(Document, circ.document_id) if circ.document_id else None
                    merged = {**(current.content if current else {}), **changes}
                    recipients.check(self.config, circ.org, list(merged.get("main_recipients") or []), list(merged.get("cc") or []))
                revise(session, circ, user_id, changes)
            if principal != user_id:
                item.acted_for = principal
            self._human_done(session, circ, item, step, outcome, user_id, comment)
            return StepResult.of(circ)

    @staticmethod
    def _decided_by(session: Session, work_item_id: int, user_id: str, outcome: str) -> StepResult | None:
        """The result of ``user_id``'s ``outcome`` on the item, if that is how it was already done."""
        item = session.get(WorkItem, work_item_id)
        if item is None or (item.status, item.actor, item.outcome) != (WorkItemStatus.done, user_id, outcome):
            return None
        circ = session.get(Circulation, item.circulation_id)
        return StepResult.of(circ) if circ else None

    @retry_transient(in_doubt="refuse")  # a second run would be refused as 'already theirs'
    def reassign(self, work_item_id: int, user_id: str, to_user: str, comment: str | None = None) -> WorkItem:
        """转办: the person an item is for hands it to a colleague with the same role."""
        self.refresh_config()
        user, target = self.user(user_id), self.user(to_user)
        with db.transaction(self.db) as session:
            item, circ, step = items.lock_item(session, self.definition_of, work_item_id)
            items.hand_over(session, self.config, item, circ, step, user, target, comment)
            return item

    def delegate(self, principal: str, deputy: str, starts_at: datetime, ends_at: datetime, actor: str, reason: str | None = None) -> Delegation:
        """委托: ``principal`` lets ``deputy`` act on their items (same organisation) for a period."""
        self.refresh_config()
        return items.delegate(self.config, self.db, principal, deputy, starts_at, ends_at, actor, reason)

    def send_reminders(self, now: datetime | None = None) -> list[Reminder]:
        """催办: one reminder per overdue open item, never twice."""
        return items.send_reminders(self.db, now, self.config)

    # ---- the mechanics of one step ---------------------------------------------------------------
    def _human_done(self, session: Session, circ: Circulation, item: WorkItem, step: Step, outcome: str, actor: str, comment: str | None) -> None:
        """Close one person's item; move the circulation on when the step's join is complete."""
        items.finish_item(session, self.definition_of(circ, session), circ, item, outcome, actor, comment, self.worker_name)
        if step.sets_signer and outcome == step.agree:
            set_signer(session, self.config, circ, item.acted_for or actor, self.business_date(circ))
        others = items.open_at(session, circ, item.step)
        if outcome != step.agree:  # a refusal (return) decides the step at once
            for other in others:
                other.status, other.finished_at = WorkItemStatus.cancelled, utcnow()
                session.add(other)
        elif step.mode == "sequence":
            users = items.users_for(self.config, circ, step)
            if item.seq + 1 < len(users):
                items.new_item(session, self.config, circ, item.step, step, users[item.seq + 1], item.seq + 1)
                circ.status, circ.updated_at = CirculationStatus.waiting, utcnow()
                session.add(circ)
                self._write_record(session, circ)
                return
        elif others:  # mode all: wait for the others
            self._write_record(session, circ)
            return
        self._write_record(session, circ)
        self._move(session, circ, step, outcome)

    def _move(self, session: Session, circ: Circulation, step: Step, outcome: str | None) -> None:
        nxt = step.next_after(outcome)
        circ.updated_at = utcnow()  # before the items' flush: the circulation is updated once
        if nxt == END:
            circ.step, circ.status, circ.claimed_by = None, CirculationStatus.done, None
        else:
            held = circ.status == CirculationStatus.running and session.info.get(KEEP_CLAIM, False)  # run_step's keep_claim
            circ.step, circ.status = nxt, CirculationStatus.running if held else CirculationStatus.ready
            items.open_items(session, self.config, self.definition_of(circ, session), circ, nxt)
        session.add(circ)

    def _write_record(self, session: Session, circ: Circulation) -> None:
        """Re-issue the flow's .docx record (发文稿纸 / 收文处理单) from the work items so far."""
        definition = self.definition_of(circ, session)
        if definition.record is None:
            return
        relative = f"{circ.org}/records/{definition.record}-{circ.id}.docx"
        replayed = self.config.org(circ.org).level in self.config.policy(circ.policy).clock  # a named policy replays a seed's dates
        gather = functools.partial(gather_record, session, self.config, definition, circ, RecordKind(definition.record), self.business_date(circ), replayed)
        due = session.info.get(RECORDS_DUE)
        if due is not None:  # steps chained in one transaction: only the last re-issue is kept, so only it is gathered and written
            due[saved_id(circ)] = (relative, gather)
            return
        self._issue_record(session, circ, relative, gather())

    def _issue_record(self, session: Session, circ: Circulation, relative: str, record: RecordData) -> None:
        """Write the gathered record's .docx and keep it as the circulation's file of that kind."""
        db.hold_folder(session, (self.storage / relative).parent)  # no stray write of a killed attempt after ours
        written = self.record_renderer(record, self.storage / relative)
        record_file(session, saved_id(circ), record.kind.value, relative, written.sha256, written.size)

    @retry_transient(in_doubt="retry")
    def fail(self, circulation_id: int, error: str) -> None:
        """Record that an automatic step gave up after its retries: the circulation is 出错 and its
        secretary gets a 待办 with the error in Chinese and what to do (``failures.py``); 重试 resumes it."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None or circ.status in (CirculationStatus.done, CirculationStatus.failed):  # recorded already (a re-run after an in-doubt commit)
                return
            circ.status, circ.error, circ.claimed_by = CirculationStatus.failed, error[:2000], None
            session.add(circ)
            failures.open_failure_items(session, self.config, self.definition_of(circ, session), circ, error)
            record_about(session, "system", "step_failed", circ, circ.document_id or circ.received_id, circ.step, {"error": error[:500]})

    @retry_transient(in_doubt="refuse")
    def retry(self, circulation_id: int, actor: str) -> StepResult:
        """重试 a failed circulation: its secretary (``permissions``: retry), or the operator (an actor
        who is not a configured person). The step runs again with what it had (the same number)."""
        with db.transaction(self.db) as session:
            return self._retry_locked(session, circulation_id, actor)

    def _retry_locked(self, session: Session, circulation_id: int, actor: str) -> StepResult:
        circ = db.lock_circulation(session, circulation_id)
        if circ is None or circ.status != CirculationStatus.failed:
            raise Refusal(f"流转 {circulation_id} 不是出错状态，无需重试")
        if actor in self.config.users:
            failures.check_retry(self.config, self.config.users[actor], circ)
        failures.close_failure_items(session, self.definition_of(circ, session), circ, actor)
        circ.status, circ.error, circ.updated_at = CirculationStatus.ready, None, utcnow()
        session.add(circ)
        record_about(session, actor, "retry", circ, circ.document_id or circ.received_id, circ.step, {})
        return StepResult.of(circ)

    @retry_transient(in_doubt="refuse")  # a second run would be refused as 'already current'
    def migrate_flow(self, circulation_id: int, actor: str) -> tuple[str, str, str]:
        """Move a circulation in flight to its flow's current version (an operator's explicit act);
        refused when its current step has no counterpart there. Returns (old version, new version, step)."""
        with db.transaction(self.db) as session:
            circ = db.lock_circulation(session, circulation_id)
            if circ is None:
                raise Refusal(f"流转 {circulation_id} 不存在")
            if circ.status == CirculationStatus.done or circ.step is None:
                raise Refusal(f"流转 {circulation_id} 已办结，无需迁移流程版本")
            current = self.flow(circ.flow)
            old = self.definition_of(circ, session)
            if circ.flow_version == current.version:
                raise Refusal(f"流转 {circulation_id} 已在流程“{current.title}”的当前版本（{current.version}）上")
            target, reason = counterpart(old, current, circ.step)
            if target is None:
                raise Refusal(f"流转 {circulation_id} 不能迁移到当前版本（{current.version}）：{reason}")
            if target != circ.step:
                for item in items.open_at(session, circ, circ.step):
                    item.step = target
                    session.add(item)
            moved = (circ.flow_version, self.versions.pin(session, current), target)
            detail = {"from": moved[0], "to": moved[1], "from_step": circ.step}
            record_about(session, actor, "migrate_flow", circ, circ.document_id or circ.received_id, target, detail)
            circ.flow_version, circ.step, circ.updated_at = moved[1], target, utcnow()
            session.add(circ)
            return moved

    def claim_ready(self, limit: int = 50, min_priority: int | None = None, excluding: frozenset[int] = frozenset()) -> list[Circulation]:
        """Claim up to ``limit`` circulations with automatic work for this process (``claims.claim_ready``)."""
        return claims.claim_ready(self.db, self.flows, self.worker_name, limit, min_priority, excluding)
