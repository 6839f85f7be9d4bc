"""Timeliness statistics (时效统计): how long each step and each organisation takes, in working time.

Handling time of a work item is the working time (models/rules/workdays.py: working days only, 调休
included, 24 hours to a day) between the item opening and its completion. Per step and per
organisation: count, median and 90th percentile (nearest rank), overdue count (finished after,
or still open past, the item's due time) and how many are still open — so an office sees where
circulations stall.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models.rules.workdays import calendar_of
from gongwen_engine.models.tables import Circulation, WorkItem, WorkItemKind, WorkItemStatus, utcnow


@dataclass
class Timeliness:
    """One group's figures (working days)."""

    key: str
    label: str
    finished: int
    open: int
    median: float | None
    p90: float | None
    overdue: int

    def as_json(self) -> dict:
        return asdict(self)


def p90(values: list[float]) -> float:
    """The 90th percentile by nearest rank (a value that occurred)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def timeliness(engine: Engine, now: datetime | None = None, include_automatic: bool = False) -> dict[str, list[Timeliness]]:
    """时效统计 ``by_step`` (flow · step) and ``by_org`` over every work item (human ones unless asked)."""
    now = _aware(now or utcnow())
    cal = calendar_of(engine.config)
    groups: dict[str, dict[str, tuple[str, list[float], list[int]]]] = {"by_step": {}, "by_org": {}}
    with Session(engine.db) as session:
        stmt = (
            select(WorkItem, Circulation.flow)
            .join(Circulation, col(Circulation.id) == WorkItem.circulation_id)
            .where(WorkItem.status != WorkItemStatus.cancelled)
        )
        if not include_automatic:
            stmt = stmt.where(WorkItem.kind == WorkItemKind.human)
        for item, flow in session.exec(stmt):
            step_title = engine.flows[flow].steps[item.step].title if flow in engine.flows and item.step in engine.flows[flow].steps else item.step
            keys = {"by_step": (f"{flow}.{item.step}", f"{step_title}（{flow}）"), "by_org": (item.org, engine.config.org(item.org).short_name)}
            finished = _aware(item.finished_at) if item.finished_at else None
            overdue = bool(item.due_at and (finished or now) > _aware(item.due_at))
            for group, (key, label) in keys.items():
                _, times, flags = groups[group].setdefault(key, (label, [], [0, 0]))
                if finished:
                    times.append(cal.working_time(_aware(item.created_at), finished, item.org))
                else:
                    flags[0] += 1
                flags[1] += overdue
    return {
        group: [
            Timeliness(
                key, label, len(times), flags[0], round(statistics.median(times), 3) if times else None, round(p90(times), 3) if times else None, flags[1]
            )
            for key, (label, times, flags) in sorted(entries.items())
        ]
        for group, entries in groups.items()
    }
