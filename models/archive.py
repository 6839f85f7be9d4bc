"""Archive codes (档号) and retention (保管期限) per DA/T 22-2015, in one place."""

from __future__ import annotations

import re

from gongwen_engine.config.schema import Retention, RetentionFile

CATEGORY_DOCUMENTS = "WS"  # 门类代码: 文书
ARCHIVE_CODE_RE = re.compile(r"^(?P<fonds>[A-Z0-9]+)-WS·(?P<year>\d{4})-(?P<retention>Y|D30|D10)-(?P<dept>[A-Z]{3})-(?P<item>\d{4})$")


def format_archive_code(fonds: str, year: int, retention: Retention | str, dept_code: str, item_no: int) -> str:
    """全宗号-门类·年度-保管期限-机构-件号, e.g. Z109-WS·2012-Y-BGS-0001."""
    if not 1 <= item_no <= 9999:
        raise ValueError(f"item number {item_no} outside 1..9999")
    return f"{fonds}-{CATEGORY_DOCUMENTS}·{year}-{Retention(retention).value}-{dept_code}-{item_no:04d}"


def item_sequence(fonds: str, retention: Retention | str, dept_code: str) -> str:
    """The name of the gap-free item-number sequence of one lowest class (per year)."""
    return f"archive:{fonds}:{Retention(retention).value}:{dept_code}"


def retention_for(schedule: RetentionFile, item: str, from_level: str) -> tuple[Retention, str]:
    """First matching rule of the configured schedule: (retention, why)."""
    for rule in schedule.rules:
        if rule.when.item not in (None, item):
            continue
        if rule.when.from_level not in (None, from_level):
            continue
        return rule.keep, rule.why
    raise LookupError(f"no retention rule matches item={item}, from_level={from_level}; add a catch-all rule to retention.yaml")
