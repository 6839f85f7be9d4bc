"""The one clock and the date forms: Beijing time for every time a person reads or gives, and
the date of writing (成文日期) and printing date (印发日期) formats, GB/T 9704-2012 §7.3.5.

Times are stored in UTC; everything shown to a person (CLI, JSON for people, web, records,
reminders) is Beijing time (``CHINA``), and a date a person gives (``--until 2027-12-31``, a due
date) means that day in Beijing, to its end. ``now()`` and ``today()`` are the project's clock.

Full Arabic numerals, no leading zeros: 2012年1月31日 (never 二〇一二年, never 01月).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")  # the one clock people read: Beijing time (北京时间); stored times are UTC
SHOWN = "%Y-%m-%d %H:%M"  # how a time is shown to a person (Beijing time)


def now() -> datetime:
    """The current moment in Beijing time (aware; compare and store it like any aware time)."""
    return datetime.now(CHINA)


def today() -> date:
    """Today's date in Beijing."""
    return now().date()


def aware(moment: datetime) -> datetime:
    """A stored time as an aware UTC time: SQLite returns naive UTC datetimes, PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def beijing(moment: datetime) -> datetime:
    """A stored time (aware, or naive UTC as the database returns it) in Beijing time."""
    return aware(moment).astimezone(CHINA)


def china_date(moment: datetime) -> date:
    """The date in Beijing at ``moment`` (naive datetimes are taken as UTC, as the database stores them)."""
    return beijing(moment).date()


def shown(moment: datetime | None, form: str = SHOWN) -> str:
    """A time as a person reads it: Beijing time, to the minute by default; '' for none."""
    return beijing(moment).strftime(form) if moment else ""


def end_of_day(day: date) -> datetime:
    """The last moment of ``day`` in Beijing: a date a person gives means "by the end of that day"."""
    return datetime.combine(day + timedelta(days=1), time(), CHINA) - timedelta(microseconds=1)


def given_time(text: str, *, day_end: bool) -> datetime:
    """A time a person typed, as the aware UTC instant the database compares: ``2027-12-31`` is
    that day in Beijing, from its start or (``day_end``) to its end; ``2027-12-31T18:00`` is Beijing
    time unless it names its zone. Raises ValueError for anything else."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = end_of_day(day) if day_end else datetime.combine(day, time(), CHINA)
    else:
        moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=CHINA)).astimezone(UTC)


def format_cn_date(day: date) -> str:
    """2012-01-31 -> '2012年1月31日'."""
    return f"{day.year}年{day.month}月{day.day}日"


# Reading dates as senders write them (收文): Arabic (2012年1月31日, 2012年01月31日) or Chinese
# numerals (二〇一二年一月三十一日, 二○一二年元月卅一日). The converter is small enough to keep here.
_CN_DIGITS = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMERAL = "〇○零ＯO一二两三四五六七八九十廿卅元"
CN_DATE_RE = re.compile(
    rf"(?P<year>[0-9０-９]{{4}}|[{_CN_NUMERAL}]{{4}})\s*年\s*(?P<month>[0-9０-９]{{1,2}}|[{_CN_NUMERAL}]{{1,3}})\s*月"
    rf"\s*(?P<day>[0-9０-９]{{1,2}}|[{_CN_NUMERAL}]{{1,3}})\s*[日号]"
)
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def cn_numeral_value(text: str) -> int:
    """'2012', '二〇一二', '十二', '三十一', '廿一', '元' -> int (digits read one by one when there is no 十)."""
    text = text.translate(_FULLWIDTH)
    if text.isdigit():
        return int(text)
    if text == "元":
        return 1
    text = text.replace("廿", "二十").replace("卅", "三十")
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    value = 0
    for char in text:
        value = value * 10 + _CN_DIGITS[char]
    return value


def parse_cn_date(text: str) -> tuple[date, list[str]]:
    """Find the date in ``text`` ('二〇一二年一月三十一日' -> 2012-01-31) and say what differs from
    the standard form (format_cn_date). Raises ValueError when there is no valid date."""
    match = CN_DATE_RE.search(text)
    if not match:
        raise ValueError(f"'{text}' contains no date like 2012年1月31日")
    try:
        day = date(cn_numeral_value(match["year"]), cn_numeral_value(match["month"]), cn_numeral_value(match["day"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"'{match[0]}' is not a valid date ({exc})") from None
    changes = []
    if re.sub(r"\s+", "", match[0]) != format_cn_date(day):
        changes.append(f"日期 {match[0]} 按标准写作 {format_cn_date(day)}（阿拉伯数字，不编虚位）")
    return day, changes
