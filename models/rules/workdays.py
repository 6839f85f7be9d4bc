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

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field

from gongwen_engine.config.errors import Refusal
from gongwen_engine.models.rules.dates import CHINA, china_date, end_of_day

if TYPE_CHECKING:
    from gongwen_engine.config.loader import Config
    from gongwen_engine.config.yamlsrc import YamlDoc

CALENDAR_FILE = "calendar.yaml"
DAY = timedelta(days=1)
LIBRARY_LAST_YEAR = max(chinese_calendar.holidays).year  # the last year chinese-calendar knows


class CalendarError(Refusal):
    """A date the calendar cannot answer for (a year the official arrangement does not cover)."""


class LocalClosure(BaseModel):
    """本单位停止办公: a day the organisation is closed although the nation works."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: date
    reason: str = Field(min_length=1)
    orgs: list[str] = Field(default_factory=list, description="organisation codes; empty: every organisation")


class Holiday(BaseModel):
    """放假: one holiday of a notice, one day or a run of days (``to`` left out: one day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, description="元旦、春节、清明节、劳动节、端午节、中秋节、国庆节 …")
    first: date = Field(alias="from")
    last: date | None = Field(default=None, alias="to")

    def days(self) -> list[date]:
        last = self.last or self.first
        return [self.first + k * DAY for k in range((last - self.first).days + 1)]


class YearArrangement(BaseModel):
    """One year's 国务院办公厅关于部分节假日安排的通知, entered by an operator."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    notice: str = Field(min_length=1, description="the notice's title and number, as published")
    holidays: list[Holiday] = Field(min_length=1)
    workdays: list[date] = Field(default_factory=list, description="调休上班: weekend days that are working days")


class CalendarFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    closures: list[LocalClosure] = Field(default_factory=list)
    years: dict[int, YearArrangement] = Field(default_factory=dict)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days: the official arrangement minus local closures."""

    closures: dict[date, tuple[str, ...]] = field(default_factory=dict)  # date -> org codes (empty: all)
    declared: dict[date, bool] = field(default_factory=dict)  # calendar.yaml years: date -> working day?
    declared_years: frozenset[int] = frozenset()
    source: str = f"config/{CALENDAR_FILE}"

    def covers(self, year: int) -> bool:
        """Whether the official arrangement of ``year`` is known (entered in calendar.yaml or in the library)."""
        if year in self.declared_years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 7, 1))
        except NotImplementedError:
            return False
        return True

    def how_to_enter(self, year: int) -> str:
        """Where an operator finds and enters ``year``'s arrangement (Chinese, for people)."""
        return (
            f"请按国务院办公厅《关于{year}年部分节假日安排的通知》（中国政府网 www.gov.cn 发布）把 {year} 年的放假日期和调休上班日期"
            f"录入 {self.source} 的 years:（写法见该文件开头的说明）"
        )

    def official_workday(self, day: date) -> bool:
        """The State Council's arrangement for ``day``: calendar.yaml's years: first, then the library."""
        if day in self.declared:
            return self.declared[day]
        if day.year in self.declared_years:
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise CalendarError(
                f"工作日历没有 {day.year} 年的国家法定节假日安排（chinese-calendar 包只到 {LIBRARY_LAST_YEAR} 年，{self.source} 也没有录入）。"
                f"{self.how_to_enter(day.year)}，不能按周一至周五推算"
            ) from None

    def is_workday(self, day: date, org: str | None = None) -> bool:
        """工作日: the official arrangement says work, and no local closure applies to ``org``."""
        if not self.official_workday(day):
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


def due_after(calendar: WorkCalendar, opened_at: datetime, working_days: int | None, calendar_days: int | None, org: str | None = None) -> datetime | None:
    """办理时限: when an item opened at ``opened_at`` is due. Calendar days keep the clock time
    (opened + N×24 h); working days end with the N-th working day after the opening day."""
    if working_days is not None:
        return end_of_day(calendar.add_working_days(china_date(opened_at), working_days, org))
    if calendar_days is not None:
        return opened_at + timedelta(days=calendar_days)
    return None


def next_year_missing(calendar: WorkCalendar, today: date) -> int | None:
    """From 1 October on, next year when its arrangement is not yet known (``gongwen check`` warns)."""
    year = today.year + 1
    return year if today.month >= 10 and not calendar.covers(year) else None


def _declared_days(doc: YamlDoc, years: dict[int, YearArrangement]) -> dict[date, bool]:
    """calendar.yaml's years: as date -> working day; a day belongs to its year (or, for 元旦, the December before)."""
    declared: dict[date, bool] = {}
    for year, arrangement in years.items():
        entries = [(("years", year, "holidays", i), day, False) for i, h in enumerate(arrangement.holidays) for day in h.days()]
        entries += [(("years", year, "workdays", i), day, True) for i, day in enumerate(arrangement.workdays)]
        for loc, day, working in entries:
            if not (day.year == year or (day.year == year - 1 and day.month == 12)):
                raise doc.error(loc, f"{day} is not in {year}", f"enter the dates of the notice for {year} under years: {year}")
            if day in declared:
                raise doc.error(loc, f"{day} is listed twice", "list a day once: either a holiday or a 调休 working day")
            declared[day] = working
    return declared


@cache
def load_calendar(config_dir: Path) -> WorkCalendar:
    """The calendar with ``config_dir/calendar.yaml``'s local closures and entered years (the file is optional)."""
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
    return WorkCalendar(closures, _declared_days(doc, parsed.years), frozenset(parsed.years), str(path))


def year_days(year: int, arrangement: YearArrangement) -> dict[date, bool]:
    """One entered year as date -> working day?; a date outside the year (bar the December before,
    for 元旦) or listed twice is refused in Chinese (what an administrator typed)."""
    days: dict[date, bool] = {}
    entries = [(day, False) for h in arrangement.holidays for day in h.days()] + [(day, True) for day in arrangement.workdays]
    for day, working in entries:
        if not (day.year == year or (day.year == year - 1 and day.month == 12)):
            raise Refusal(f"{day} 不在 {year} 年：请录入 {year} 年通知中的日期（元旦可含上一年 12 月）")
        if day in days:
            raise Refusal(f"{day} 录入了两次：一天只能是放假日或调休上班日之一")
        if working and day.weekday() < 5:
            raise Refusal(f"调休上班日 {day} 不是周六或周日：只录入通知中要求上班的周末")
        days[day] = working
    return days


def calendar_of(config: Config) -> WorkCalendar:
    """The calendar of ``config``: calendar.yaml's, with the years an administrator entered in the
    database (``Config.calendar_years``) taking precedence over the file's and the library's."""
    if not config.calendar_years:
        return load_calendar(config.directory)
    return _with_years(config.directory, json.dumps(config.calendar_years, sort_keys=True, default=str))


@cache
def _with_years(config_dir: Path, years_json: str) -> WorkCalendar:
    base = load_calendar(config_dir)
    declared = dict(base.declared)
    years: set[int] = set(base.declared_years)
    for key, data in json.loads(years_json).items():
        year = int(key)
        declared = {d: w for d, w in declared.items() if d.year != year}  # the entered year replaces the file's
        declared.update(year_days(year, YearArrangement.model_validate(data)))
        years.add(year)
    return WorkCalendar(base.closures, declared, frozenset(years), f"{base.source}（及系统管理中录入的年份）")
