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

The page text is read as lines by ``pdf_lines.py`` (pdfium; the same reading 用印 uses to find
the signature). Lines are compared without spaces: PDF text extraction puts spaces between digits
and Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gongwen_engine.config.schema import Faces, HouseStyle
from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.elements import MINUTES_LABELS, colophon_rows, heading_level, title_lines
from gongwen_engine.doc_templates.pdf_lines import Line, face_name, pdf_lines, squash
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.rules.doc_kinds import Direction, DocFormat, format_of, mark_in_format
from gongwen_engine.models.rules.titles import title_break_problems

_PAGE_NUMBER = re.compile(r"^—?\d+—?$")
# 发文字号 (domain README §3.1): 机关代字〔2012〕10号, the year in 六角括号, the serial without 第 and
# without leading zeros; an order's number (命令格式) is 第N号, numbered on.
_DOC_NUMBER = re.compile(r"(\S〔\d{4}〕[1-9]\d*号|^第[1-9]\d*号)$")


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
    if format_of(content.doc_type, content.issuer_mark) is DocFormat.order:
        return []  # the order format prints no title line (GB/T 9704-2012 §10.2)
    lines = title_lines(content.title)
    problems = [Problem("标题", 1, message) for message in title_break_problems(lines, L.TITLE_CHARS_PER_LINE)]
    first_page = {line.text for line in pages[0]} if pages else set()
    for number, line in enumerate(lines, start=1):
        if squash(line) not in first_page:
            problems.append(Problem("标题", 1, f"标题第{number}行“{line}”在版面上没有排成一行（超出版心宽度而被再次折行）。请缩短该行或在词与词之间另行回行。"))
    return problems


# --- header, 主送, faces, page numbers, embedded fonts (domain README §2–3.5) ------------------------

PT_PER_MM = 72 / 25.4
POSITION_TOLERANCE_MM = 4.0  # the glyphs' box in the PDF is not the em box the layout places
# The face embedded for each face a .docx names: the stand-ins of doc_templates/fonts.conf as the
# PDF names them (Noto CJK's collections embed every face under the JP face's name; the glyphs are
# the SC ones, docs/layout.md). Only Chinese characters are compared (digits take the Latin face).
STAND_INS: dict[str, str] = {
    "方正小标宋简体": "NotoSerifCJKjp-Bold",
    "小标宋": "NotoSerifCJKjp-Bold",
    "宋体": "NotoSerifCJKjp-Regular",
    "仿宋_GB2312": "NotoSerifCJKjp-Regular",
    "仿宋": "NotoSerifCJKjp-Regular",
    "黑体": "NotoSansCJKjp-Regular",
    "楷体_GB2312": "GBZenKai-Medium",
    "楷体": "GBZenKai-Medium",
}


def mm(points: float) -> float:
    """Points -> millimetres."""
    return points / PT_PER_MM


def printed_mark(content: DocumentContent, style: HouseStyle | None = None) -> str:
    """The 发文机关标志 as printed (the format's, the house style's choice of 文件), squashed."""
    fmt = format_of(content.doc_type, content.issuer_mark)
    return squash(mark_in_format(content.issuer_mark, fmt, content.doc_type, style is None or style.mark_suffix))


def header_problems(pages: list[list[Line]], content: DocumentContent, style: HouseStyle | None = None) -> list[Problem]:
    """版头 on page 1: the 发文机关标志 as the format prints it, red, its top where the format puts
    it (35 mm below the type area's top; letters 30 mm from the page's top; orders 20 mm below
    the type area's top), then the 发文字号 below it (letters: flush right)."""
    rule = "版头"
    if not pages:
        return [Problem(rule, None, "版式文件没有页面。")]
    fmt = format_of(content.doc_type, content.issuer_mark)
    mark = printed_mark(content, style)
    lines = pages[0]
    found = next((line for line in lines if line.text == mark), None)
    if found is None:
        return [Problem(rule, 1, f"首页找不到发文机关标志“{mark}”。")]
    problems = []
    if not found.red:
        problems.append(Problem(rule, 1, f"发文机关标志“{mark}”不是红色。"))
    expected = {DocFormat.letter: L.LETTER_MARK_TOP_MM, DocFormat.order: L.MARGIN_TOP_MM + L.ORDER_MARK_TOP_MM}.get(fmt, L.MARGIN_TOP_MM + L.MARK_TOP_MM)
    if abs(mm(found.top) - expected) > POSITION_TOLERANCE_MM:
        problems.append(Problem(rule, 1, f"发文机关标志上边缘距页面上边{mm(found.top):.0f}毫米，应为{expected:.0f}毫米。"))
    if content.doc_number and not _DOC_NUMBER.search(squash(content.doc_number)):
        problems.append(Problem(rule, 1, f"发文字号“{content.doc_number}”不合规范：年份用六角括号〔〕括入，序号不编虚位（1不编为01）、不加“第”，后加“号”。"))
    if content.doc_number:
        number = squash(content.doc_number)
        below = [line for line in lines if line.top > found.bottom]
        line = next((x for x in below if x.text.startswith(number)), None)
        if line is None:
            problems.append(Problem(rule, 1, f"发文机关标志下找不到发文字号“{content.doc_number}”。"))
        elif fmt is DocFormat.letter and abs(line.x1 - right_edge()) > POSITION_TOLERANCE_MM * PT_PER_MM:
            problems.append(Problem(rule, 1, "信函格式的发文字号应在红色双线下居右。"))
        elif content.direction is Direction.up and content.signer and not line.text.endswith(squash("签发人：" + content.signer)):
            problems.append(Problem(rule, 1, f"上行文的发文字号一行应有“签发人：{content.signer}”。"))
    return problems


def right_edge() -> float:
    """The right edge of the type area, in points from the page's left edge."""
    return (L.PAGE_WIDTH - L.MARGIN_RIGHT) / L.TWIPS_PER_PT


def recipients_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """主送机关 printed on page 1, flush left, ending with "："."""
    if not content.main_recipients:
        return []
    printed = "，".join(content.main_recipients) + "："
    found = paragraph_lines(pages, printed)
    if found is None or found[0] != 0 or "".join(line.text for line in found[1]) != squash(printed):
        return [Problem("主送机关", 1, f"首页找不到主送机关“{printed}”。")]
    left = L.MARGIN_LEFT / L.TWIPS_PER_PT
    if abs(found[1][0].x0 - left) > POSITION_TOLERANCE_MM * PT_PER_MM:
        return [Problem("主送机关", 1, "主送机关应顶格（左空零字）。")]
    return []


def face_problems(pages: list[list[Line]], content: DocumentContent, style: HouseStyle | None = None) -> list[Problem]:
    """字体: the mark and the title in 小标宋, the text's plain paragraphs and the signature in 仿宋,
    or the faces the house style chooses for them (``style.faces``), as their stand-ins embed."""
    faces = style.faces if style is not None else Faces()
    problems = []
    first = pages[0] if pages else []
    mark = printed_mark(content, style)
    # the first line that reads as the mark (a signature below may read the same: 山东省妇女联合会)
    expected: list[tuple[str, str, list[Line]]] = [("发文机关标志", faces.mark, [line for line in first if line.text == mark][:1])]
    expected.append(("标题", faces.title, [line for line in first if line.text in {squash(t) for t in title_lines(content.title)}]))
    plain = next((p for p in content.body if heading_level(p) == 0 and not p.lstrip().startswith(MINUTES_LABELS)), None)
    if plain is not None:
        found = paragraph_lines(pages, plain)
        expected.append(("正文", faces.text, found[1] if found else []))
    for role, named, lines in expected:
        wrong = sorted({f for line in lines for f in line.faces} - {STAND_INS[named]})
        if wrong:
            problems.append(Problem("字体", 1, f"{role}应为{named}（{STAND_INS[named]}），版式文件中是{'、'.join(wrong)}。"))
    return problems


def page_number_problems(pages: list[list[Line]], content: DocumentContent) -> list[Problem]:
    """页码 (§7.5, domain README §3.4): "— N —" in 四号, 7 mm below the type area, odd pages one
    character in from the right, even pages one from the left, numbered on from page 1; none on
    page 1 of a letter, none on a blank page before the 版记 page and then none on that page."""
    rule = "页码"
    problems: list[Problem] = []
    letter = format_of(content.doc_type, content.issuer_mark) is DocFormat.letter
    last = len(pages) - 1
    blank_before_colophon = last >= 1 and not pages[last - 1] and colophon_page(pages, content) == last
    type_bottom = (L.PAGE_HEIGHT - L.MARGIN_BOTTOM) / L.TWIPS_PER_PT
    tolerance = POSITION_TOLERANCE_MM * PT_PER_MM
    for index, lines in enumerate(pages):
        numbers = [line for line in lines if is_page_number(line)]
        unnumbered = (letter and index == 0) or (blank_before_colophon and index >= last - 1)
        if unnumbered:
            if numbers:
                problems.append(Problem(rule, index + 1, "此页不应有页码（信函格式首页、版记前的空白页及其后的版记页不编页码）。"))
            continue
        if not numbers:
            problems.append(Problem(rule, index + 1, "此页没有页码。"))
            continue
        number = numbers[-1]
        if number.text != f"—{index + 1}—":
            problems.append(Problem(rule, index + 1, f"页码是“{number.text}”，应为“— {index + 1} —”（页码连续编排）。"))
        if abs(mm(number.top - type_bottom) - L.PAGE_NUMBER_GAP_MM) > POSITION_TOLERANCE_MM:
            problems.append(Problem(rule, index + 1, "页码应在版心下边缘之下7毫米。"))
        if (index + 1) % 2:
            off = abs(number.x1 - (right_edge() - L.SIHAO_CHAR / L.TWIPS_PER_PT))
            where = "单页码应居右空一字"
        else:
            off = abs(number.x0 - (L.MARGIN_LEFT + L.SIHAO_CHAR) / L.TWIPS_PER_PT)
            where = "双页码应居左空一字"
        if off > tolerance:
            problems.append(Problem(rule, index + 1, f"{where}。"))
    return problems


def embedding_problems(pdf: bytes) -> list[Problem]:
    """Every font embedded (pdffonts: the issued copy prints alike on every machine)."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as file:
        file.write(pdf)
        file.flush()
        out = subprocess.run(["pdffonts", file.name], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return [Problem("字体", None, "无法读取版式文件的字体（pdffonts）。")]
    missing = sorted({face_name(row.split()[0]) for row in out.stdout.splitlines()[2:] if row.split() and row.split()[-5] != "yes"})
    return [Problem("字体", None, f"字体未嵌入版式文件：{'、'.join(missing)}。")] if missing else []


def gbt9704_problems(pdf: bytes, parts: Sequence[DocumentContent], style: HouseStyle | None = None) -> list[Problem]:
    """The whole GB/T 9704 check of an issued document: :func:`check_pdf`'s layout checks plus the
    header, 主送, faces, page numbers and embedded fonts (the demo's documents are held to it)."""
    pages = pdf_lines(pdf)
    whole = parts[0]
    return (
        page_problems(pages, whole)
        + header_problems(pages, whole, style)
        + recipients_problems(pages, whole)
        + face_problems(pages, whole, style)
        + page_number_problems(pages, whole)
        + embedding_problems(pdf)
    )


def page_problems(pages: list[list[Line]], whole: DocumentContent) -> list[Problem]:
    """The layout checks over read pages: title, text start, signature, 版记."""
    return title_problems(pages, whole) + text_start_problems(pages, whole) + signature_problems(pages, whole) + colophon_problems(pages, whole)


def check_pdf(pdf: bytes, parts: Sequence[DocumentContent]) -> list[Problem]:
    """Every page check of the document ``parts`` (the issuer's document first, then what it
    forwards) over its PDF; empty when the layout is right."""
    return page_problems(pdf_lines(pdf), parts[0])
