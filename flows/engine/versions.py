"""Flow versions: a circulation runs the flow definition it started with until it ends.

A launch (and each circulation a delivery starts) pins the flow's current version
(``Circulation.flow_version``, the content hash of the flow text and its included files) and keeps
that text in the database (``models/flow_versions.py``). The engine resolves a circulation's
definition by its pin: the current one when they match, else the kept text, parsed once per
process. Changing a flow file therefore never changes the path of a circulation in flight; an
operator moves one to the current version explicitly (``Engine.migrate_flow``), which is refused
when its current step has no counterpart there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session

from gongwen_engine.flows.engine.definition import FlowDefinition, Step, StepKind, flow_named, load_flow_parts
from gongwen_engine.models.flow_versions import in_flight_elsewhere, store_version, stored_parts
from gongwen_engine.models.tables import Circulation, saved_id

_PINNED = "gongwen_pinned_flow_versions"  # session.info key: the versions this transaction stored already


@event.listens_for(Session, "after_soft_rollback")
def _forget_pins(session: Session, _previous: object) -> None:
    """A rollback — a savepoint's too (``Engine.run_steps``) — may take a stored version with it: pin
    stores it again the next time it is asked (its insert does nothing where it is kept)."""
    session.info.pop(_PINNED, None)


@dataclass(frozen=True)
class Behind:
    """A circulation in flight on an older version than the current one, and where it stands."""

    circulation_id: int
    org: str
    flow: str
    version: str
    current: str
    step: str | None
    step_title: str
    counterpart: str | None  # its current step in the current version (None: there is none)
    reason: str  # why there is no counterpart ("" when there is one)


@dataclass
class FlowVersions:
    """The current flows and every kept version this process has needed, by (flow, version)."""

    current: Mapping[str, FlowDefinition]
    action_kinds: Mapping[str, StepKind]
    db: SqlEngine
    _kept: dict[tuple[str, str], FlowDefinition] = field(default_factory=dict, repr=False)

    def pin(self, session: Session, definition: FlowDefinition) -> str:
        """Keep ``definition``'s text (once per version) and return the version a new circulation runs."""
        pinned: set[tuple[str, str]] = session.info.setdefault(_PINNED, set())
        key = (definition.flow, definition.version)
        if key not in pinned:
            store_version(session, definition.flow, definition.version, definition.parts)
            pinned.add(key)
        return definition.version

    def of(self, circ: Circulation, session: Session | None = None) -> FlowDefinition:
        """The definition ``circ`` runs: its pinned version (a circulation launched before versions
        were kept, with a version never stored, runs the current one)."""
        current = flow_named(self.current, circ.flow)
        if circ.flow_version in (current.version, ""):
            return current
        key = (circ.flow, circ.flow_version)
        if key not in self._kept:
            if session is None:
                with Session(self.db) as own:
                    parts = stored_parts(own, *key)
            else:
                parts = stored_parts(session, *key)
            self._kept[key] = current if parts is None else load_flow_parts(parts, self.action_kinds)
        return self._kept[key]

    def behind(self, session: Session) -> list[Behind]:
        """The circulations in flight on a version other than the current one, oldest first."""
        rows = in_flight_elsewhere(session, {name: f.version for name, f in self.current.items()})
        found = []
        for circ in rows:
            old, new = self.of(circ, session), flow_named(self.current, circ.flow)
            target, reason = counterpart(old, new, circ.step)
            title = old.steps[circ.step].title if circ.step in old.steps else (circ.step or "")
            found.append(Behind(saved_id(circ), circ.org, circ.flow, circ.flow_version, new.version, circ.step, title, target, reason))
        return found


def counterpart(old: FlowDefinition, new: FlowDefinition, step_name: str | None) -> tuple[str | None, str]:
    """The step of ``new`` a circulation at ``step_name`` of ``old`` continues at, or None and why
    not (in Chinese). The counterpart is the step of the same name and kind, else the one step of
    that kind; a person's step must keep its role and mode (its open items stay as they are)."""
    if step_name is None or step_name not in old.steps:
        return None, f"当前环节“{step_name or '无'}”不在其原版本中"
    step = old.steps[step_name]
    same_kind = new.steps_of(step.kind)
    if step_name in same_kind:
        target = step_name
    elif len(same_kind) == 1:
        target = next(iter(same_kind))
    else:
        titles = "、".join(s.title for s in same_kind.values())
        where = f"新版本有 {len(same_kind)} 个同类环节（{titles}），无法确定对应哪一个" if same_kind else "新版本没有这一类环节"
        return None, f"当前环节“{step.title}”（{step.kind}）在新版本中没有对应环节：{where}"
    return (target, "") if _same_work(step, same_kind[target]) else (None, f"当前环节“{step.title}”在新版本中的办理人或办理方式已改变")


def _same_work(old: Step, new: Step) -> bool:
    """Open items of ``old`` serve ``new`` unchanged: same kind, same role, same mode."""
    return (old.kind, old.by, old.mode, old.do) == (new.kind, new.by, new.mode, new.do)
