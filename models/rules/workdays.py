"""The working-day calendar (工作日历): China's official holidays and make-up workdays (调休).

One module holds the rule. A day is a working day (工作日) when the official arrangement of
the State Council's General Office (国务院办公厅关于部分节假日安排的通知, published each
year) says so — weekends that are made working days (调休上班) count, weekdays inside a
holiday do not — and the organisation has not declared a local closure for it
(``config/calendar.yaml``). The official arrangement comes from the maintained
``chinese-calendar`` package; a year it does not cover is a :class:`CalendarError`, never a
silent Monday-to-Friday guess.

Counting "N个工作日内" (within N working days): the day the document is received is not
counted; the deadline is the end of the N-th working day after it (common practice in
offices, e.g. 《党政机关公文处理工作条例》 leaves the counting to the rules of each office;
*unconfirmed as a written rule*).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.rules.dates import CHINA

CALENDAR_FILE = "calendar.yaml"
DAY = timedelta(days=1)


class CalendarError(Refusal):
    """A date the calendar cannot answer for (a year the official arrangement does not cover)."""


class LocalClosure(BaseModel):
    """本单位停止办公: a day the organisation is closed although the nation works."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: date
    reason: str = Field(min_length=1)
    orgs: list[str] = Field(default_factory=list, description="organisation codes; empty: every organisation")


class CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    closures: list[LocalClosure] = Field(default_factory=list)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: the official arrangement minus local closures."""

    closures: dict[date, tuple[str, ...]] = field(default_factory=dict)  # date -> org codes (empty: all)

    def is_workday(self, day: date, org: str | None = None) -> bool:
        """工作日: the official arrangement says work, and no local closure applies to ``org``."""
        try:
            official = chinese_calendar.is_workday(day)
        except NotImplementedError as exc:
            raise CalendarError(
                f"工作日历没有 {day.year} 年的国家法定节假日安排（{exc}）；请升级 chinese-calendar 包（pip install -U chinese-calendar），不能按周一至周五推算"
            ) from None
        if not official:
            return False
        orgs = self.closures.get(day)
        return orgs is None or (bool(orgs) and org not in orgs)

    def add_working_days(self, start: date, n: int, org: str | None = None) -> date:
        """The n-th working day after ``start`` (``start`` itself not counted); n = 0 is ``start``."""
        if n < 0:
            raise ValueError(f"working days must be 0 or more, got {n}")
        day = start
        while n:
            day += DAY
            if self.is_workday(day, org):
                n -= 1
        return day

    def subtract_working_days(self, end: date, n: int, org: str | None = None) -> date:
        """The n-th working day before ``end``."""
        day = end
        while n:
            day -= DAY
            if self.is_workday(day, org):
                n -= 1
        return day

    def working_days_after(self, start: date, end: date, org: str | None = None) -> int:
        """How many working days lie in (start, end]; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_after(end, start, org)
        count, day = 0, start
        while day < end:
            day += DAY
            count += self.is_workday(day, org)
        return count

    def working_time(self, start: datetime, end: datetime, org: str | None = None) -> float:
        """Working time between two instants, in working days: the part of the interval that
        falls on working days (China time), 24 hours to a day. An interval over a weekend or a
        holiday counts only its working days."""
        if end <= start:
            return 0.0
        start, end = start.astimezone(CHINA), end.astimezone(CHINA)
        total, day = timedelta(), start.date()
        while day <= end.date():
            day_start = datetime.combine(day, time(), CHINA)
            lo, hi = max(start, day_start), min(end, day_start + DAY)
            if hi > lo and self.is_workday(day, org):
                total += hi - lo
            day += DAY
        return total / DAY

    def end_of_day(self, day: date) -> datetime:
        """The last moment of ``day`` in China: a deadline date means "by the end of that day"."""
        return datetime.combine(day + DAY, time(), CHINA) - timedelta(microseconds=1)


def china_date(moment: datetime) -> date:
    """The date in China at ``moment`` (naive datetimes are taken as UTC, as the database stores them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(CHINA).date()


def due_after(calendar: WorkCalendar, opened_at: datetime, working_days: int | None, calendar_days: int | None, org: str | None = None) -> datetime | None:
    """办理时限: when an item opened at ``opened_at`` is due. Calendar days keep the clock time
    (opened + N×24 h); working days end with the N-th working day after the opening day."""
    if working_days is not None:
        return calendar.end_of_day(calendar.add_working_days(china_date(opened_at), working_days, org))
    if calendar_days is not None:
        return opened_at + timedelta(days=calendar_days)
    return None


@cache
def load_calendar(config_dir: Path) -> WorkCalendar:
    """The calendar with ``config_dir/calendar.yaml``'s local closures (the file is optional)."""
    path = Path(config_dir) / CALENDAR_FILE
    if not path.exists():
        return WorkCalendar()
    from gongwen_engine.config.yamlsrc import load_yaml

    doc = load_yaml(path)
    parsed = doc.validate(CalendarFile, doc.data or {})
    closures: dict[date, tuple[str, ...]] = {}
    for i, closure in enumerate(parsed.closures):
        if closure.date in closures:
            raise doc.error(
                ("closures", i, "date"), f"local closure {closure.date} is listed twice", "keep one entry per date (list the organisations in orgs:)"
            )
        closures[closure.date] = tuple(closure.orgs)
    return WorkCalendar(closures)
