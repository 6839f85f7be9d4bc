"""Reporting deadlines stated in a document's text (报送时限): for the deadlines issue to use.

A deadline is a time expression tied to a reporting act: a date followed by 前/之前/以前
(“2012年2月底前将…报…”, “5月19日前将…报…”), or a month-end, ten-day period (上旬/中旬/下旬),
or “N个工作日内” in a clause that reports, sends or submits (报/送/交/提交/上报/报送). Each is
returned with its text, kind and, where the text allows, the date range it means, reading a
missing year from the date of writing (a month before the writing month is next year's).
Working days need the official holiday calendar (调休), so they are not resolved here.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from gongwen_engine.models.rules.dates import cn_numeral_value

_NUM = r"[0-9０-９]+|[一二三四五六七八九十两]+"
_DEADLINE_RE = re.compile(
    rf"(?:(?P<year>[0-9]{{4}})年)?(?P<month>[0-9]{{1,2}})月"
    rf"(?:(?P<day>[0-9]{{1,2}})[日号]|(?P<end>底|末)|(?P<xun>上旬|中旬|下旬))(?P<before>之前|以前|前)?"
    rf"|(?P<wd>{_NUM})个?工作日(?:之)?内"
)
_REPORT_CUE = re.compile(r"[报報](?!告|刊|纸|紙|道)|送|提交|上交|反馈|反饋")  # simplified or traditional script
_CLAUSE_END = re.compile(r"[。；！？!?;，,]")
_XUN = {"上旬": (1, 10), "中旬": (11, 20), "下旬": (21, None)}


@dataclass(frozen=True)
class Deadline:
    """One stated deadline: ``kind`` is date | month_end | xun | working_days."""

    text: str
    kind: str
    source: str
    start: date | None = None  # the range the text means, when it can be resolved
    end: date | None = None
    working_days: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "kind": self.kind,
            "source": self.source,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "working_days": self.working_days,
        }


def find_deadlines(text: str, source: str, written_on: date | None) -> list[Deadline]:
    """The deadlines stated in one paragraph ``text``."""
    found = []
    for match in _DEADLINE_RE.finditer(text):
        clause = _clause(text, match.start(), match.end())
        if match["wd"]:
            if _REPORT_CUE.search(clause):
                found.append(Deadline(match[0], "working_days", source, working_days=cn_numeral_value(match["wd"])))
            continue
        if not (match["before"] or _REPORT_CUE.search(clause[clause.index(match[0]) + len(match[0]) :])):
            continue
        kind = "date" if match["day"] else "month_end" if match["end"] else "xun"
        start, end = _resolve(match, written_on)
        found.append(Deadline(match[0], kind, source, start, end))
    return found


def _clause(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    right = _CLAUSE_END.search(text, end)
    return text[left : right.start() if right else len(text)]


def _resolve(match: re.Match[str], written_on: date | None) -> tuple[date | None, date | None]:
    month = int(match["month"])
    if match["year"]:
        year = int(match["year"])
    elif written_on:
        year = written_on.year + (1 if month < written_on.month else 0)
    else:
        return None, None  # no year in the text and no date of writing to read it from
    try:
        last = calendar.monthrange(year, month)[1]
        if match["day"]:
            day = date(year, month, int(match["day"]))
            return day, day
        if match["end"]:
            return date(year, month, last), date(year, month, last)
        first, final = _XUN[match["xun"]]
        return date(year, month, first), date(year, month, final or last)
    except ValueError:
        return None, None
