"""版式检查: GB/T 9704-2012 checks of an issued document over its fixed-layout copy (PDF).

One home for the page rules that can only be seen on real pages, used by the tests, by
``gongwen preview`` and by the pagination of 印制 (``doc_templates/pages.py``):

* 正文 (§7.3.3, domain README §3.2): the text starts on page 1 (公文首页必须显示正文);
* 署名与成文日期 (§7.3.5): the 成文日期 on the same page as the 发文机关署名 right above it, and
  that page also holds at least one line of the body text (正文);
* 版记 (§7.4, domain README §3.3): the colophon on the last page of the whole document (after the
  attachments and forwarded originals), and that page is even;
* 标题 (§7.3.1): broken between words, not inside a quotation or 《》 name when avoidable
  (``models/rules/titles``), each line printed as one line.

The page text is read with pdfplumber's line layout (the same reading 用印 uses to find the
signature). Lines are compared without spaces: PDF text extraction puts spaces between digits
and Chinese.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.elements import colophon_rows, title_lines
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.rules.doc_kinds import DocFormat, format_of
from gongwen_engine.models.rules.titles import title_break_problems

_SPACES = re.compile(r"\s+")
_PAGE_NUMBER = re.compile(r"^—?\d+—?$")


def squash(text: str) -> str:
    """``text`` without any white space (how lines are compared)."""
    return _SPACES.sub("", text)


@dataclass(frozen=True)
class Line:
    """One text line of a page: its text without spaces and its vertical extent (points)."""

    text: str
    top: float
    bottom: float


@dataclass(frozen=True)
class Problem:
    """A layout problem: the rule (Chinese name), the 1-based page (None: the whole document)
    and what is wrong, in Chinese, with what to do."""

    rule: str
    page: int | None
    message: str

    def __str__(self) -> str:
        where = f"第{self.page}页：" if self.page else ""
        return f"【{self.rule}】{where}{self.message}"


def pdf_lines(pdf: bytes, last: int | None = None) -> list[list[Line]]:
    """The text lines of every page, top to bottom (page numbers included). ``last``: lay out
    only the last so many pages (pdfplumber takes ~25 ms a page); the others are left empty."""
    import pdfplumber

    pages: list[list[Line]] = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        skip = 0 if last is None else max(0, len(doc.pages) - last)
        for index, page in enumerate(doc.pages):
            if index < skip:
                pages.append([])
                continue
            lines = page.extract_text_lines(layout=False, strip=True)
            pages.append([Line(squash(line["text"]), float(line["top"]), float(line["bottom"])) for line in lines if squash(line["text"])])
    return pages


def is_page_number(line: Line) -> bool:
    """A footer line "— N —"."""
    return bool(_PAGE_NUMBER.match(line.text))


def paragraph_lines(pages: list[list[Line]], text: str) -> tuple[int, list[Line]] | None:
    """The 0-based page where the paragraph ``text`` starts and its lines (on that page and the
    next), or None when its first line is on no page."""
    whole = squash(text)
    if not whole:
        return None
    for index, lines in enumerate(pages):
        for i, line in enumerate(lines):
            if not whole.startswith(line.text) or len(line.text) < min(len(whole), 2):
                continue
            found, read = [], ""
            for following in [*lines[i:], *(pages[index + 1] if index + 1 < len(pages) else [])]:
                if is_page_number(following) or not whole.startswith(read + following.text):
                    continue
                found.append(following)
                read += following.text
                if read == whole:
                    break
            return index, found
    return None


def text_start_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """正文 starts on page 1."""
    if not content.body or not pages:
        return []
    start = paragraph_lines(pages, content.body[0])
    if start is None or start[0] == 0:
        return []
    message = f"首页没有正文，正文从第{start[0] + 1}页开始（GB/T 9704-2012 第7.3.3条：公文首页必须显示正文）。请缩短标题或主送机关，或调整正文。"
    return [Problem("正文", 1, message)]


def signature_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """署名与成文日期 together, with at least one line of the text on their page."""
    rule = "署名与成文日期"
    date = squash(format_cn_date(content.issued_on))
    name = squash(content.signature) if content.signature else None
    body = "".join(squash(p) for p in content.body)
    for index, lines in enumerate(pages):
        for i, line in enumerate(lines):
            if line.text != date:
                continue
            above = lines[:i]
            if name:
                if not above or above[-1].text != name:
                    if index > 0 and pages[index - 1] and any(x.text == name for x in pages[index - 1][-3:]):
                        message = f"成文日期与上一页的发文机关署名“{content.signature}”被分在两页。请调整正文（如删减或合并段落），使署名和日期同页。"
                        return [Problem(rule, index + 1, message)]
                    continue  # a date line without the name over it is not the signature
                above = above[:-1]
            if body and not any(x.text and x.text in body for x in above):
                return [
                    Problem(
                        rule,
                        index + 1,
                        "署名和成文日期所在页没有正文（GB/T 9704-2012 第7.3.5条不允许署名页无正文）。请调整正文使最后一行正文与署名同页。",
                    )
                ]
            return []
    what = f"署名“{content.signature}”下一行的成文日期" if name else "成文日期"
    return [Problem(rule, None, f"版式文件中找不到{what}“{format_cn_date(content.issued_on)}”。")]


def colophon_marker(content: DocumentContent) -> str | None:
    """The line that ends the 版记 of ``content`` (印发机关 + 印发日期印发, or the 抄送 line), squashed."""
    if content.printed_by or content.printed_on:
        printed_on = f"{format_cn_date(content.printed_on)}印发" if content.printed_on else ""
        return squash((content.printed_by or "") + printed_on)
    if content.cc:
        return squash("抄送：" + "，".join(content.cc))[:12]
    return None


def colophon_page(pages: list[list[Line]], content: DocumentContent) -> int | None:
    """The 0-based page holding the 版记 of ``content`` (the last such page), or None."""
    marker = colophon_marker(content)
    if marker is None:
        return None
    found = None
    for index, lines in enumerate(pages):
        if any(line.text.startswith(marker) for line in lines):
            found = index
    return found


def holds_more_than_colophon(lines: list[Line], content: DocumentContent) -> bool:
    """Does a page hold anything besides the 版记 of ``content`` and the page number?"""
    colophon = "".join(squash(row.label + row.text + row.right_text) for row in colophon_rows(content))
    return any(not is_page_number(line) and line.text not in colophon for line in lines)


def needs_even_page(content: DocumentContent) -> bool:
    """The 版记 goes on an even page, except in the letter format (信函格式), whose 抄送 line has no
    separator lines nor printing office and closes the letter where it ends *(our reading of
    GB/T 9704-2012 §10.1: the letter format has no 版记 page of its own)*."""
    return format_of(content.doc_type, content.issuer_mark) is not DocFormat.letter


def colophon_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """版记 on the last page, which is even."""
    rule = "版记"
    marker = colophon_marker(content)
    if marker is None:
        return []
    index = colophon_page(pages, content)
    total = len(pages)
    if index is None:
        return [Problem(rule, None, "版式文件中找不到版记（印发机关和印发日期）。")]
    problems = []
    if index != total - 1:
        problems.append(Problem(rule, index + 1, f"版记不在最后一页（共{total}页）：附件和被转发的文件应排在版记之前，版记在全文最后一页的下方。"))
    if (index + 1) % 2 and needs_even_page(content):
        problems.append(Problem(rule, index + 1, "版记所在页是奇数页：版记应在偶数页（封四），必要时在其前插入空白页。"))
    return problems


def title_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """标题: broken between words (models/rules/titles), and printed in the lines it was laid out
    in (LibreOffice did not wrap a line again)."""
    lines = title_lines(content.title)
    problems = [Problem("标题", 1, message) for message in title_break_problems(lines, L.TITLE_CHARS_PER_LINE)]
    first_page = {line.text for line in pages[0]} if pages else set()
    for number, line in enumerate(lines, start=1):
        if squash(line) not in first_page:
            problems.append(Problem("标题", 1, f"标题第{number}行“{line}”在版面上没有排成一行（超出版心宽度而被再次折行）。请缩短该行或在词与词之间另行回行。"))
    return problems


def check_pdf(pdf: bytes, parts: Sequence[DocumentContent]) -> list[Problem]:
    """Every page check of the document ``parts`` (the issuer's document first, then what it
    forwards) over its PDF; empty when the layout is right."""
    pages = pdf_lines(pdf)
    whole = parts[0]
    problems = title_problems(pages, whole) + text_start_problems(pages, whole) + signature_problems(pages, whole) + colophon_problems(pages, whole)
    return problems
