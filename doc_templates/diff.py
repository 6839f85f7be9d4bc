"""痕迹保留: a readable difference between two versions of a document (title, recipients, text)."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
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


# ---- the web's 修改痕迹: an inline diff by words, insertions and deletions marked --------------------


@dataclass
class Change:
    """One stretch of a field's text: kept (``equal``), taken out (``delete``) or put in (``insert``)."""

    op: str
    text: str


@dataclass
class FieldChanges:
    """A changed field (标题, 正文, …) as stretches of text, in reading order."""

    label: str
    changes: list[Change]


def words_of(text: str) -> list[str]:
    """Chinese text cut into words (jieba, when installed), else into characters; runs of Latin letters
    or digits and whitespace stay whole either way."""
    if _jieba is not None:
        return list(_jieba.cut(text, HMM=False))
    return re.findall(r"[A-Za-z0-9]+|\s+|.", text, re.S)


def inline_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChanges]:
    """Per changed field, the new text with what was deleted and inserted, by words (difflib over words)."""
    out = []
    for key, label in FIELDS:
        a, b = "\n".join(_lines(old.get(key))), "\n".join(_lines(new.get(key)))
        if a == b:
            continue
        wa, wb = words_of(a), words_of(b)
        changes: list[Change] = []
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
            if op == "equal":
                changes.append(Change("equal", "".join(wa[i1:i2])))
                continue
            if i2 > i1:
                changes.append(Change("delete", "".join(wa[i1:i2])))
            if j2 > j1:
                changes.append(Change("insert", "".join(wb[j1:j2])))
        out.append(FieldChanges(label, changes))
    return out


try:  # word segmentation for the diff; characters without it
    import jieba as _jieba

    _jieba.setLogLevel(60)  # no "Building prefix dict" lines on stderr
except ImportError:  # pragma: no cover - jieba is a dependency; the fallback keeps the diff working
    _jieba = None
