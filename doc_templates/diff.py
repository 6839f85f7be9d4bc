"""痕迹保留: a readable difference between two versions of a document (title, recipients, text)."""

from __future__ import annotations

import difflib
from typing import Any

FIELDS = (("title", "标题"), ("main_recipients", "主送"), ("cc", "抄送"), ("body", "正文"), ("attachment_notes", "附件"))


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def diff_contents(old: dict[str, Any], new: dict[str, Any], old_label: str, new_label: str) -> list[str]:
    """Unified-diff lines per changed field, each field headed by its Chinese name."""
    out: list[str] = []
    for key, label in FIELDS:
        a, b = _lines(old.get(key)), _lines(new.get(key))
        if a == b:
            continue
        out.append(f"【{label}】")
        out.extend(line for line in difflib.unified_diff(a, b, fromfile=old_label, tofile=new_label, lineterm="", n=1))
    return out
