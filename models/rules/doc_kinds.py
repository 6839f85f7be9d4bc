"""文种: the kinds of official document, in one place.

The 15 kinds of the 党政机关公文处理工作条例 (2012, domain README §4) — 命令（令） listed as both 命令
and 令, as titles end with either — each with its direction (行文方向): 请示 and 报告 go up to
superiors (上行文, the header carries 签发人), 函 goes between organisations of no line relation
(平行文), the others go down (下行文). A new draft must be one of them (:func:`check_official`);
a received document's title may also end with a word for issued material (方案, 办法, …), which the
reader recognises as its 文种 (:func:`kind_of_title`).
"""

from __future__ import annotations

from enum import StrEnum

from gongwen_engine.config.errors import Refusal


class Direction(StrEnum):
    """行文方向: the value stored in a document's content (``DocumentContent.direction``)."""

    down = "down"  # 下行文
    up = "up"  # 上行文
    parallel = "parallel"  # 平行文


OFFICIAL_KINDS: dict[str, Direction] = {
    "决议": Direction.down,
    "决定": Direction.down,
    "命令": Direction.down,
    "令": Direction.down,
    "公报": Direction.down,
    "公告": Direction.down,
    "通告": Direction.down,
    "意见": Direction.down,
    "通知": Direction.down,
    "通报": Direction.down,
    "报告": Direction.up,
    "请示": Direction.up,
    "批复": Direction.down,
    "议案": Direction.down,
    "函": Direction.parallel,
    "纪要": Direction.down,
}
# What else a title ends with: material issued or forwarded with a 通知 (印发/转发), read as its 文种.
MATERIAL_KINDS = ("方案", "办法", "规定", "要点", "计划", "规划", "细则", "条例", "规则", "总结")
TITLE_ENDINGS = (*OFFICIAL_KINDS, *MATERIAL_KINDS)
DEFAULT_KIND = "通知"
# 文种 whose documents may go out without a 正文 of their own. None of the 15 does: even a 令 or an
# 印发/转发 通知 says in a sentence what it orders or passes on. A kind listed here would be.
WITHOUT_BODY: frozenset[str] = frozenset()


def is_official(name: str) -> bool:
    """One of the 15 kinds a new document may have."""
    return name in OFFICIAL_KINDS


def unofficial_reason(name: str) -> str:
    """Why ``name`` cannot be a new document's 文种 (Chinese, for the person who chose it)."""
    return f"文种“{name}”不在 15 种法定文种之内；可选：{'、'.join(OFFICIAL_KINDS)}"


def check_official(name: str) -> None:
    """Refuse a new document whose 文种 is not one of the 15 (the web form and the CLI launch alike)."""
    if not is_official(name):
        raise Refusal(unofficial_reason(name))


def body_required(name: str) -> bool:
    """Must a new document of this 文种 have a 正文 (models/rules/text_input.py checks it)?"""
    return name not in WITHOUT_BODY


def direction_of(name: str) -> Direction:
    """The direction a document of this kind goes (下行文 for a kind not listed)."""
    return OFFICIAL_KINDS.get(name, Direction.down)


def kind_of_title(title: str) -> str | None:
    """The 文种 a title ends with (the longest match: 命令 before 令), or None."""
    return next((kind for kind in sorted(TITLE_ENDINGS, key=len, reverse=True) if title.endswith(kind)), None)
