"""The cascade picture (级联图): a circulation and everything its distribution started, as the
organisation tree with each node's state — delivered, received (签收), waiting for whom,
signed (签发), distributed (核发), archived (归档) — and overdue nodes marked.

Read-only: it reads circulations (``parent_id`` links a recipient's circulation to the
sender's), their work items and archive items, a few queries per tree level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gongwen_engine.config.schema import Organisation
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.records import actor_name
from gongwen_engine.flows.services.workplace import cascade_picture_rows
from gongwen_engine.models.rules.dates import aware
from gongwen_engine.models.rules.recipients import of_content
from gongwen_engine.models.tables import Circulation, WorkItem, utcnow

# State -> (label, CSS class). Ordered from furthest to least far along.
STATES: dict[str, str] = {
    "failed": "出错",
    "archived": "已归档",
    "done": "已办结",
    "waiting": "待办理",
    "distributed": "已分发",
    "signed": "已签发",
    "received": "已签收",
    "delivered": "已送达",
    "pending": "尚未分发",
}
# The kinds of step whose completion moves a node on (furthest first), and the state it reaches.
PASSED: tuple[tuple[StepKind, str], ...] = ((StepKind.distribute, "distributed"), (StepKind.sign_off, "signed"), (StepKind.sign_for, "received"))


@dataclass
class CascadeNode:
    """One organisation in the picture."""

    org: Organisation
    state: str
    circulation_id: int | None = None
    doc_number: str | None = None
    waiting_for: str = ""
    overdue: bool = False
    due_at: datetime | None = None
    children: list[CascadeNode] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.state == "waiting" and self.waiting_for:
            return f"待{self.waiting_for}"
        return STATES[self.state]


def cascade(engine: Engine, circulation_id: int, now: datetime | None = None) -> CascadeNode:
    """The picture rooted at ``circulation_id``."""
    now = now or utcnow()
    rows = cascade_picture_rows(engine, circulation_id)
    circs, items, done_steps, archived, numbers = rows.circulations, rows.human_items, rows.done_steps, rows.archived, rows.doc_numbers
    flow_of = {c.id: engine.definition_of(c) for c in circs}
    done_kinds = {(c, flow_of[c].steps[s].kind) for c, s in done_steps if s in flow_of[c].steps}
    open_items: dict[int, list[WorkItem]] = {}
    for item in items:
        if item.status == "open":
            open_items.setdefault(item.circulation_id, []).append(item)
    by_parent: dict[int | None, list[Circulation]] = {}  # circs[1:] all have a parent
    for circ in circs[1:]:
        by_parent.setdefault(circ.parent_id, []).append(circ)

    def node(circ: Circulation) -> CascadeNode:
        assert circ.id is not None  # read from the database
        waiting = open_items.get(circ.id, [])
        number = numbers.get(circ.document_id) if circ.document_id is not None else None
        n = CascadeNode(engine.config.org(circ.org), _state(circ, done_kinds, archived), circ.id, number)
        if n.state == "waiting":
            n.waiting_for = _waiting_for(engine, circ, waiting)
        dues = [i.due_at for i in waiting if i.due_at]
        n.due_at = min(dues) if dues else None
        n.overdue = any(aware(d) < now for d in dues)
        started = {c.org: c for c in by_parent.get(circ.id, [])}
        content = rows.contents.get(circ.document_id) if circ.document_id is not None else None
        if content is not None:  # the draft's 主送 and 抄送: where 核发 will deliver
            recipients = of_content(engine.config, circ.org, content)
            expected = [*recipients.main, *recipients.copies]
        else:  # nothing drafted yet: a forward goes to the children picked at 批办, else to all of them
            expected = [c for c in engine.config.children(circ.org) if circ.deliver_to is None or c.code in circ.deliver_to]
        for child in expected:
            if child.code in started:
                n.children.append(node(started.pop(child.code)))
            elif circ.status != "done" and _distributes(engine, circ):
                n.children.append(CascadeNode(child, "pending"))
        n.children.extend(node(c) for c in started.values())  # recipients outside the configured children
        return n

    return node(circs[0])


def _state(circ: Circulation, done_kinds: set[tuple[int, StepKind]], archived: set[int]) -> str:
    if circ.status == "failed":
        return "failed"
    if circ.id in archived:
        return "archived"
    if circ.status == "done":
        return "done"
    if circ.status == "waiting":
        return "waiting"
    for kind, state in PASSED:
        if (circ.id, kind) in done_kinds:
            return state
    return "delivered"


def _waiting_for(engine: Engine, circ: Circulation, items: list[WorkItem]) -> str:
    """'徐建平签发' (a person's item) / '领导（周红梅、褚云霞）签发' (anyone with the role): who the open
    items wait for, and the step."""
    step = engine.definition_of(circ).step(circ.step) if circ.step else None
    people = []
    for item in items:
        if item.assignee:
            people.append(actor_name(engine.config, item.assignee))
        elif item.role:
            holders = "、".join(u.name for u in engine.config.users_with(circ.org, item.role))
            label = engine.config.role_label(item.role)
            people.append(f"{label}（{holders}）" if holders else label)
    return "、".join(dict.fromkeys(people)) + (step.title if step else "")


def _distributes(engine: Engine, circ: Circulation) -> bool:
    """The circulation's flow delivers to the organisation's children (a step with start_flow)."""
    return any(step.start_flow for step in engine.definition_of(circ).steps.values())


def count_states(root: CascadeNode) -> dict[str, int]:
    """How many organisations are in each state (the legend's figures)."""
    counts: dict[str, int] = {}
    stack = [root]
    while stack:
        n = stack.pop()
        counts[n.state] = counts.get(n.state, 0) + 1
        stack.extend(n.children)
    return counts
