"""Work items (待办): the items a step opens, locking one for a person, who may act on it, and the
people around items — handing one to a colleague (转办), a deputy acting for a principal (委托代办),
reminding of overdue ones (催办).

Functions over a session and the config (and the flow a circulation runs): the engine calls them
inside its step transactions; reminders and delegations are transactions of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session, col, func, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import User
from gongwen_engine.flows.engine.definition import FlowDefinition, Step
from gongwen_engine.models import db, messages
from gongwen_engine.models.audit import record_about
from gongwen_engine.models.db import retry_transient
from gongwen_engine.models.queries.circulations import step_finished_at
from gongwen_engine.models.queries.people import principals_of
from gongwen_engine.models.rules.permissions import Action, Item, Person, acting_for, allowed, authorize
from gongwen_engine.models.rules.workdays import calendar_of, due_after
from gongwen_engine.models.tables import Circulation, Delegation, Reminder, WorkItem, WorkItemKind, WorkItemStatus, saved_id, utcnow


def item_target(item: WorkItem, step_title: str = "") -> Item:
    """A work item as the permission rule sees it."""
    return Item(org=item.org, role=item.role, assignee=item.assignee, id=item.id, step_title=step_title)


# ---- what a step transaction knows of its circulation's items -------------------------------------------

# session.info: while the engine runs steps of a circulation whose row it holds locked
# (``Engine._run_step``: a chain of automatic steps), that circulation's work items as the
# transaction knows them, so each step of the chain does not ask the database again what the step
# before it has just written (which items are open, how many steps have run). Every change to the
# items inside such a transaction goes through this module (``new_item``, ``finish_item``, the
# cancellation in ``open_items``) and keeps the ledger true; nothing else writes them meanwhile
# (the row lock). Without a ledger (every other caller) each question is a query.
LEDGER_KEY = "gongwen_item_ledger"


@dataclass
class Ledger:
    """One locked circulation's work items in this transaction (filled by the first question)."""

    items: list[WorkItem] | None = None  # every item seen open in this transaction (status read on use)
    steps_run: int | None = None  # its finished items: ``steps_run``
    done: list[WorkItem] | None = None  # the items finished before this transaction (``finished_at``)


def keep_ledger(session: Session, circulation_id: int) -> None:
    """Answer this transaction's questions about the (locked) circulation's items from a ledger."""
    session.info.setdefault(LEDGER_KEY, {}).setdefault(circulation_id, Ledger())


@event.listens_for(Session, "after_soft_rollback")
def _forget_ledgers(session: Session, _previous: object) -> None:
    """A rollback — a savepoint's too (``Engine.run_steps``) — undoes writes the ledgers saw: what is
    asked next is read again (the next chain keeps a new ledger)."""
    session.info.pop(LEDGER_KEY, None)


def _ledger(session: Session, circulation_id: int) -> Ledger | None:
    ledgers = session.info.get(LEDGER_KEY)
    return ledgers.get(circulation_id) if ledgers else None


def _filled(session: Session, circulation_id: int) -> Ledger | None:
    """The circulation's ledger, filled at its first question with both answers at once — its open
    items and how many are done — from one query (None: no ledger is kept)."""
    ledger = _ledger(session, circulation_id)
    if ledger is None or ledger.items is not None:  # none kept, or filled already (only here: both at once)
        return ledger
    stmt = (
        select(WorkItem)
        .where(WorkItem.circulation_id == circulation_id, col(WorkItem.status).in_((WorkItemStatus.open, WorkItemStatus.done)))
        .order_by(col(WorkItem.seq), col(WorkItem.id))
    )
    rows = list(session.exec(stmt))
    ledger.items = [i for i in rows if i.status == WorkItemStatus.open]
    ledger.done = [i for i in rows if i.status == WorkItemStatus.done]
    ledger.steps_run = len(ledger.done)
    return ledger


# ---- opening a step's items ------------------------------------------------------------------------------


def users_for(config: Config, circ: Circulation, step: Step) -> list[User]:
    """The people of the circulation's organisation with the step's role, in a fixed order."""
    users = sorted(config.users_with(circ.org, step.role), key=lambda u: u.id)
    if not users:
        raise Refusal(
            f"{config.org(circ.org).short_name} 没有“{config.role_label(step.role)}”角色的用户，环节“{step.title}”无人办理：请系统管理员在用户名单中添加"
        )
    return users


def new_item(session: Session, config: Config, circ: Circulation, step_name: str, step: Step, user: User | None, seq: int) -> WorkItem:
    """One item of ``step`` (for ``user``, or for anyone with the step's role), with its time limit."""
    if not step.human:
        slot, role, due = "auto", None, None
    else:
        slot = f"user:{user.id}" if user else f"role:{step.role}"
        role = step.role
        due = due_after(calendar_of(config), utcnow(), step.due_working_days, step.due_days, circ.org)
    item = WorkItem(
        circulation_id=saved_id(circ),
        step=step_name,
        kind=WorkItemKind.human if step.human else WorkItemKind.auto,
        slot=slot,
        role=role,
        assignee=user.id if user else None,
        seq=seq,
        org=circ.org,
        due_at=due,
    )
    session.add(item)  # inserted with the step's other writes (its id is not needed before)
    ledger = _ledger(session, item.circulation_id)
    if ledger is not None and ledger.items is not None:
        ledger.items.append(item)  # new: not among them yet (after them: the ledger is in creation order)
    return item


def create_items(session: Session, config: Config, definition: FlowDefinition, circ: Circulation, step_name: str) -> list[WorkItem]:
    """The items of a step entered now (auto: one; human: by mode)."""
    step = definition.step(step_name)
    if not step.human or step.mode == "one":
        return [new_item(session, config, circ, step_name, step, None, 0)]
    users = users_for(config, circ, step)
    if step.mode == "sequence":
        return [new_item(session, config, circ, step_name, step, users[0], 0)]
    return [new_item(session, config, circ, step_name, step, u, i) for i, u in enumerate(users)]


def open_items(session: Session, config: Config, definition: FlowDefinition, circ: Circulation, step_name: str) -> list[WorkItem]:
    """The open items of the current step, created on first entry (auto: one; human: by mode);
    items still open at other steps are cancelled then. One query for both (none in a chain whose
    ledger knows them)."""
    ledger = _filled(session, saved_id(circ))
    if ledger is not None and ledger.items is not None:
        still_open = sorted((i for i in ledger.items if i.status == WorkItemStatus.open), key=lambda i: i.seq)  # stable: by id within a seq
    else:
        still_open = list(
            session.exec(
                select(WorkItem)
                .where(WorkItem.circulation_id == saved_id(circ), WorkItem.status == WorkItemStatus.open)
                .order_by(col(WorkItem.seq), col(WorkItem.id))
            )
        )
    existing = [item for item in still_open if item.step == step_name]
    if existing:
        return existing
    for stale in still_open:
        stale.status, stale.finished_at = WorkItemStatus.cancelled, utcnow()
        session.add(stale)
    return create_items(session, config, definition, circ, step_name)


def steps_run(session: Session, circulation_id: int) -> int:
    """How many steps the circulation has run (its finished work items: one per automatic step,
    one per person who acted); the engine's run-time guard against a flow that never ends."""
    ledger = _filled(session, circulation_id)
    if ledger is not None and ledger.steps_run is not None:
        return ledger.steps_run
    stmt = select(func.count()).select_from(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == WorkItemStatus.done)
    return session.exec(stmt).one()


def finished_at(session: Session, circulation_id: int, steps: Collection[str]) -> datetime | None:
    """When the circulation last finished one of ``steps`` (None: it has not) — from its ledger while
    a chain keeps one (the items done before it and those it saw open or made, the last made last),
    else read (``step_finished_at``)."""
    ledger = _filled(session, circulation_id)
    if ledger is None or ledger.items is None or ledger.done is None:
        return step_finished_at(session, circulation_id, steps)
    seen = enumerate([*ledger.done, *ledger.items])
    done = [(item.id is None, item.id or 0, n, item) for n, item in seen if item.status == WorkItemStatus.done and item.step in steps]
    return max(done, key=lambda entry: entry[:3])[3].finished_at if done else None  # not flushed yet: made in this chain, after all read


def done_items(session: Session, circulation_id: int) -> list[WorkItem]:
    """The circulation's finished items in the order they finished (then by id) — from its ledger
    while a chain keeps one (the record a chain re-issues at its end), else read."""
    ledger = _filled(session, circulation_id)
    if ledger is None or ledger.items is None or ledger.done is None:
        stmt = select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == WorkItemStatus.done)
        return list(session.exec(stmt.order_by(col(WorkItem.finished_at), col(WorkItem.id))))
    done = [item for item in [*ledger.done, *ledger.items] if item.status == WorkItemStatus.done]
    return sorted(done, key=lambda item: (_as_stored(item.finished_at), item.id is None, item.id or 0))


def _as_stored(moment: datetime | None) -> datetime:
    """A time as the database orders it: UTC without its zone (SQLite gives back naive UTC times,
    an item finished in this transaction still holds its aware one); none first."""
    if moment is None:
        return datetime.min
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def open_at(session: Session, circ: Circulation, step_name: str) -> list[WorkItem]:
    """The items of ``step_name`` still open (the others of a step acted on by several people)."""
    ledger = _ledger(session, saved_id(circ))
    if ledger is not None and ledger.items is not None:
        return [i for i in ledger.items if i.step == step_name and i.status == WorkItemStatus.open]
    stmt = select(WorkItem).where(WorkItem.circulation_id == saved_id(circ), WorkItem.step == step_name, WorkItem.status == WorkItemStatus.open)
    return list(session.exec(stmt))


def finish_item(
    session: Session, definition: FlowDefinition, circ: Circulation, item: WorkItem, outcome: str | None, actor: str, comment: str | None, worker: str
) -> None:
    """Close ``item`` with ``outcome`` (None: ``done``) and audit it, with the words the outcome reads as
    (the record reads the same after the flow files change; 归档 keeps it) and the ``worker`` process."""
    done = outcome or "done"
    ledger = _ledger(session, item.circulation_id)
    if ledger is not None and ledger.steps_run is not None and item.status != WorkItemStatus.done:
        ledger.steps_run += 1
    item.status, item.outcome, item.actor, item.comment, item.finished_at = WorkItemStatus.done, done, actor, comment, utcnow()
    item.attempts += 1
    session.add(item)
    detail = {"title": definition.step(item.step).title, "outcome": done, "outcome_label": definition.outcome_label(done), "worker": worker}
    if comment:
        detail["comment"] = comment
    if item.acted_for:
        detail["acted_for"] = item.acted_for
    record_about(session, actor, f"step:{item.step}", circ, circ.document_id or circ.received_id, item.step, detail)


# ---- a person acting on an item -------------------------------------------------------------------------


def lock_item(session: Session, definition_of: Callable[[Circulation, Session], FlowDefinition], work_item_id: int) -> tuple[WorkItem, Circulation, Step]:
    """The open human item ``work_item_id`` with its circulation, row-locked, and its step."""
    item = session.get(WorkItem, work_item_id)
    if item is None:
        raise Refusal(f"待办事项 {work_item_id} 不存在")
    circ = db.lock_circulation(session, item.circulation_id)
    session.refresh(item)
    if circ is None or item.status != WorkItemStatus.open or circ.step != item.step:
        raise Refusal(f"待办事项 {work_item_id} {_closed_words(item)}，不能重复办理")
    step = definition_of(circ, session).step(item.step)
    if not step.human:
        raise Refusal(f"环节“{step.title}”由系统自动办理，不能人工办理")
    return item, circ, step


def _closed_words(item: WorkItem) -> str:
    """How a closed item reads to the person who tries it again."""
    return {WorkItemStatus.cancelled: "已撤销（本环节已由他人退回或另行办理）"}.get(item.status, "已办理")


def principals(session: Session, config: Config, deputy: User) -> list[User]:
    """The people who delegated to ``deputy`` for now (委托代办)."""
    return [config.users[p] for p in principals_of(session, deputy.id, utcnow()) if p in config.users]


def may_act(session: Session, config: Config, user: User, item: WorkItem, step: Step, action: Action = Action.act) -> str:
    """Who ``user`` acts for on ``item``: themselves, or the principal who delegated to them."""
    return acting_for(config, user, action, item_target(item, step.title), principals(session, config, user)).id


def hand_over(session: Session, config: Config, item: WorkItem, circ: Circulation, step: Step, user: User, target: User, comment: str | None) -> None:
    """转办: ``user`` hands the locked ``item`` to ``target``, a colleague with the step's role."""
    may_act(session, config, user, item, step, Action.reassign)
    if not allowed(config, target, Action.act, Item(circ.org, step.role)):  # the colleague must be able to take it
        raise Refusal(f"不能转给 {target.name}：须为本单位具有“{config.role_label(step.role)}”角色的人员")
    if item.assignee == target.id:
        raise Refusal(f"待办事项 {item.id} 已是 {target.name} 的")
    if any(other.slot == f"user:{target.id}" for other in open_at(session, circ, item.step)):
        raise Refusal(f"{target.name} 在本环节已有待办，不能重复转办")
    before = item.assignee or item.slot
    item.assignee, item.slot = target.id, f"user:{target.id}"
    session.add(item)
    detail = {"from": before, "to": target.id, **({"comment": comment} if comment else {})}
    record_about(session, user.id, "reassigned", circ, circ.document_id or circ.received_id, item.step, detail)


@retry_transient(in_doubt="refuse")  # a second run would record a second delegation
def delegate(
    config: Config, bind: SqlEngine, principal: str, deputy: str, starts_at: datetime, ends_at: datetime, actor: str, reason: str | None = None
) -> Delegation:
    """委托: ``principal`` lets ``deputy`` act on their items (same organisation) for a period."""
    p, d = config.user(principal), config.user(deputy)
    authorize(config, config.user(actor), Action.delegate, Person(principal))
    if p.org != d.org:
        raise Refusal(f"委托只能在本单位内：{p.name} 与 {d.name} 不在同一单位")
    if principal == deputy:
        raise Refusal("不能委托给自己")
    if ends_at <= starts_at:
        raise Refusal("委托结束时间必须晚于开始时间")
    starts_at, ends_at = starts_at.astimezone(UTC), ends_at.astimezone(UTC)  # stored in UTC (SQLite keeps the wall time only)
    with db.transaction(bind) as session:
        row = Delegation(principal=principal, deputy=deputy, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=actor)
        session.add(row)
        session.flush()
        detail = {"principal": principal, "deputy": deputy, "from": starts_at.isoformat(), "to": ends_at.isoformat(), **({"reason": reason} if reason else {})}
        record_about(session, actor, "delegated", None, None, None, detail)
        return row


@retry_transient(in_doubt="retry")  # one reminder per item (unique key)
def send_reminders(bind: SqlEngine, now: datetime | None = None, config: Config | None = None) -> list[Reminder]:
    """催办: one reminder per overdue open item, never twice (a unique key per item)."""
    now = now or utcnow()
    sent = []
    with db.transaction(bind) as session:
        overdue = session.exec(
            select(WorkItem).where(
                WorkItem.status == WorkItemStatus.open, WorkItem.kind == WorkItemKind.human, col(WorkItem.due_at).is_not(None), col(WorkItem.due_at) < now
            )
        )
        for item in overdue:
            if item.due_at is None or session.exec(select(Reminder).where(Reminder.work_item_id == item.id, Reminder.kind == "overdue")).first():
                continue
            recipient = item.assignee or item.slot
            reminder = Reminder(work_item_id=saved_id(item), kind="overdue", recipient=recipient, sent_at=now)
            session.add(reminder)
            circ = session.get(Circulation, item.circulation_id)
            document_id = (circ.document_id or circ.received_id) if circ else None
            record_about(session, "system", "reminded", circ, document_id, item.step, {"recipient": recipient, "due_at": item.due_at.isoformat()})
            text = f"待办超期：流转 {item.circulation_id} 中交给您的待办已过办理时限，请尽快办理。"
            people = [recipient]
            if not item.assignee and item.role and config:  # an item any holder of the role may take: each of them is told
                people = [u.id for u in config.users_with(item.org, item.role)] or people
            messages.post(session, people, "overdue", text, org=item.org, circulation_id=item.circulation_id, at=now)
            sent.append(reminder)
    return sent
