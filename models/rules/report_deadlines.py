"""报送时限 (reporting deadlines) as rules: the periods of a recurring requirement, their due
dates, and which 催办 (reminder) a unit is due on a given day.

Pure functions of a requirement's dates and the working-day calendar (``workdays``): no database.
The requirements themselves, the board and the summary live in ``flows/services/reporting.py``;
the reminders that apply these rules are sent by ``flows/actions/reporting.py``.
"""

from __future__ import annotations

import calendar as month_calendar
from datetime import date

from gongwen_engine.models.rules.workdays import WorkCalendar
from gongwen_engine.models.tables import ReportingRequirement

REMIND_BEFORE_WORKING_DAYS = 2  # 提前催办: two working days before the due date (common practice; unconfirmed as a rule)


def _shift_months(day: date, months: int, month_end: bool) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = month_calendar.monthrange(year, month)[1]
    return date(year, month, last if month_end else min(day.day, last))


def period_due(req: ReportingRequirement, period: int) -> tuple[date | None, date | None]:
    """(window start, due date) of ``period``: recurring periods move by ``every_months``."""
    if req.due_on is None or period == 0:
        return req.window_start, req.due_on
    months = period * (req.every_months or 0)
    start = _shift_months(req.window_start, months, False) if req.window_start else None
    return start, _shifted_due(req, req.due_on, period)


def _shifted_due(req: ReportingRequirement, due_on: date, period: int) -> date:
    """The due date of ``period`` of a requirement first due on ``due_on``."""
    keep_end = req.due_kind in ("month_end", "xun")
    return _shift_months(due_on, period * (req.every_months or 0), keep_end)


def period_count(req: ReportingRequirement) -> int:
    """How many periods the requirement has (1 unless it recurs)."""
    due_on = req.due_on
    if not req.every_months or due_on is None:
        return 1
    count = 1
    while req.until and _shifted_due(req, due_on, count) <= req.until:
        count += 1
    return count


def visible_periods(req: ReportingRequirement, today: date) -> list[int]:
    """The periods already due and the next one coming (a recurring requirement does not list a whole year ahead)."""
    shown = []
    for k in range(period_count(req)):
        shown.append(k)
        due = period_due(req, k)[1]
        if due is None or due >= today:
            break
    return shown


def reminder_kind(cal: WorkCalendar, due: date, today: date, org: str) -> str | None:
    """before: within two working days before the due date; due: on its last working day; escalated: after it."""
    if today > due:
        return "escalated"
    last_workday = due if cal.is_workday(due, org) else cal.subtract_working_days(due, 1, org)
    if today >= last_workday:
        return "due"
    if today >= cal.subtract_working_days(last_workday, REMIND_BEFORE_WORKING_DAYS, org):
        return "before"
    return None
