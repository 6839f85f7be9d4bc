"""Date of writing (成文日期) and printing date (印发日期) formats, GB/T 9704-2012 §7.3.5.

Full Arabic numerals, no leading zeros: 2012年1月31日 (never 二〇一二年, never 01月).
"""

from __future__ import annotations

from datetime import date


def format_cn_date(day: date) -> str:
    """2012-01-31 -> '2012年1月31日'."""
    return f"{day.year}年{day.month}月{day.day}日"
