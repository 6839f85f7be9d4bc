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


class DocFormat(StrEnum):
    """公文格式 (GB/T 9704-2012 §10, domain README §3.5): the layout a document is issued in."""

    document = "document"  # 文件格式: the mark + 文件, red line, page numbers from page 1
    letter = "letter"  # 信函格式: the organisation's name, red double lines, no number on page 1
    minutes = "minutes"  # 纪要格式: "XXXX纪要" in red, 出席/请假/列席 after the text
    order = "order"  # 命令（令）格式: "XXXX命令" / "XXXX令" 20 mm below the type area's top, the order number, the text


# 信函格式: every 函, and the notices of an organisation's general office (办公厅/办公室), which
# issue in the letter format as a rule *(common practice, domain README §3.5: "many 办公厅
# notices")*; 纪要格式: every 纪要.
LETTER_KINDS = frozenset({"函"})
OFFICE_LETTER_KINDS = frozenset({"通知"})
GENERAL_OFFICE_ENDINGS = ("办公厅", "办公室")
MINUTES_KINDS = frozenset({"纪要"})
ORDER_KINDS = ("命令", "令")  # 命令（令）格式: the mark is the name + the kind as the title ends (命令 or 令)
MARK_SUFFIX = "文件"  # 发文机关标志 of the document format: name + 文件


def issuer_of_mark(mark: str) -> str:
    """The organisation's name in a 发文机关标志 (山东省妇女联合会文件 -> 山东省妇女联合会)."""
    for suffix in (MARK_SUFFIX, "纪要", *ORDER_KINDS):
        if mark.endswith(suffix) and len(mark) > len(suffix):
            return mark[: -len(suffix)]
    return mark


def format_of(doc_type: str, issuer_mark: str) -> DocFormat:
    """The format a document of ``doc_type`` is issued in by the organisation of ``issuer_mark``."""
    if doc_type in MINUTES_KINDS:
        return DocFormat.minutes
    if doc_type in ORDER_KINDS:
        return DocFormat.order
    if doc_type in LETTER_KINDS:
        return DocFormat.letter
    if doc_type in OFFICE_LETTER_KINDS and issuer_of_mark(issuer_mark).endswith(GENERAL_OFFICE_ENDINGS):
        return DocFormat.letter
    return DocFormat.document


def mark_in_format(issuer_mark: str, fmt: DocFormat, doc_type: str = "命令", with_suffix: bool = True) -> str:
    """The 发文机关标志 as the format prints it: name + 文件 (as given; the name alone when the house
    style drops 文件, ``with_suffix`` False), the name alone (letter), name + 纪要 (minutes),
    name + 命令 or 令 as the 文种 ``doc_type`` (order)."""
    if fmt is DocFormat.letter:
        return issuer_of_mark(issuer_mark)
    if fmt is DocFormat.minutes:
        return issuer_of_mark(issuer_mark) + "纪要"
    if fmt is DocFormat.order:
        return issuer_of_mark(issuer_mark) + (doc_type if doc_type in ORDER_KINDS else ORDER_KINDS[0])
    if not with_suffix:
        return issuer_of_mark(issuer_mark)
    return issuer_mark
