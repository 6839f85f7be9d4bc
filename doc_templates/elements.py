"""Layout decisions for the elements (要素) of one 公文 part, made before the XML is written.

:func:`part_view` turns a :class:`DocumentContent` into a :class:`PartView`: the text of
every element plus the figures that need a computation (the mark's size and scaling, the
heading level of each paragraph, the indents of the attachment note and of the signature).
The jinja2 template only writes XML from it; the benchmark's python-docx baseline reads the
same view, so both paths lay out the same document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from gongwen_engine.config.schema import AttachmentNumbers, Faces, HouseStyle, NoteStyle
from gongwen_engine.doc_templates import layout as L
from gongwen_engine.models.content import Attachment, DocumentContent, LegacyColophon
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.rules.doc_kinds import Direction, DocFormat, format_of, mark_in_format
from gongwen_engine.models.rules.titles import break_title

# Characters XML 1.0 forbids (C0 controls other than tab/newline/CR, lone surrogates, FFFE/FFFF).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LEADING_SPACE = " \t\u3000"

# 层次序数 heading levels, GB/T 9704-2012 §7.3.3: 一、 /（一）/ 1. /（1）.
_CN_NUMERAL = "一二三四五六七八九十百零〇"
_HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(f"[{_CN_NUMERAL}]+、")),
    (2, re.compile(f"[（(][{_CN_NUMERAL}]+[）)]")),
    (3, re.compile(r"[0-9]+[.．](?![0-9])")),  # 1. / 1． but not 1.5万
    (4, re.compile(r"[（(][0-9]+[）)]")),
)
HEADING_FONTS = {0: L.FONT_FANGSONG, 1: L.FONT_HEITI, 2: L.FONT_KAITI, 3: L.FONT_FANGSONG, 4: L.FONT_FANGSONG}


def clean_text(text: str) -> str:
    """Drop characters that XML 1.0 cannot carry (escaping is the template's job)."""
    return _XML_INVALID.sub("", text)


def heading_level(text: str) -> int:
    """标题层次: 1 for "一、", 2 for "（一）", 3 for "1." / "1．", 4 for "（1）", 0 for text."""
    stripped = text.lstrip(_LEADING_SPACE)
    for level, pattern in _HEADING_PATTERNS:
        if pattern.match(stripped):
            return level
    return 0


@dataclass(frozen=True)
class BodyParagraph:
    """正文段落: ``lead`` in the heading's font (黑体/楷体), ``rest`` in 仿宋. A paragraph split in two
    (see :func:`split_last_paragraph`): ``runs_on`` on the first piece (its last line justified
    like any line inside a paragraph), ``continues`` on the second (no indent)."""

    level: int
    lead: str
    rest: str
    runs_on: bool = False
    continues: bool = False

    @property
    def lead_font(self) -> str:
        return HEADING_FONTS[self.level]


def body_paragraph(text: str) -> BodyParagraph:
    """Split a paragraph into its heading sentence and the text that follows on the line.

    A heading run in as the first sentence of a paragraph ("一、充分认识….2012年是…") takes
    the heading font up to and including the first "。"; a heading without "。" is all lead.
    """
    text = clean_text(text).lstrip(_LEADING_SPACE)
    level = heading_level(text)
    if level in (0, 3, 4):  # 仿宋 like the text: nothing to split
        return BodyParagraph(level, "", text)
    head, stop, rest = text.partition("。")
    return BodyParagraph(level, head + stop, rest)


def split_last_paragraph(paragraphs: list[BodyParagraph], tail: int) -> list[BodyParagraph]:
    """The last paragraph split in two, its last ``tail`` characters (white space not counted)
    in the second piece: the piece chained (keepNext) with the 附件说明 and the signature, so
    that only the paragraph's last lines go with them to the next page and the first lines stay
    (the text starts on page 1; ``doc_templates/pages.py``). Unchanged when ``tail`` does not
    leave text in both pieces."""
    if not paragraphs:
        return paragraphs
    last = paragraphs[-1]
    text = last.lead + last.rest
    at, count = len(text), 0
    while at > 0 and count < tail:
        at -= 1
        count += not text[at].isspace()
    if count < tail or not text[:at].strip():
        return paragraphs
    cut = len(last.lead)
    if at <= cut:
        head = replace(last, lead=last.lead[:at], rest="", runs_on=True)
        rest = replace(last, lead=last.lead[at:], continues=True)
    else:
        head = replace(last, rest=last.rest[: at - cut], runs_on=True)
        rest = replace(last, lead="", rest=last.rest[at - cut :], continues=True)
    return [*paragraphs[:-1], head, rest]


# 纪要格式: the attendance lines after the text, "出席：" in 三号黑体 and the names in 仿宋.
MINUTES_LABELS = ("出席：", "请假：", "列席：")


def minutes_paragraph(text: str) -> BodyParagraph:
    """A paragraph of a 纪要: an attendance line's label in 黑体, anything else as in the body."""
    text = clean_text(text).lstrip(_LEADING_SPACE)
    for label in MINUTES_LABELS:
        if text.startswith(label):
            return BodyParagraph(1, label, text[len(label) :])
    return body_paragraph(text)


@dataclass(frozen=True)
class MarkFit:
    """发文机关标志 size in points and horizontal scaling (``w:w``) in per cent."""

    size: float
    scale: int

    @property
    def line(self) -> int:
        """Exact line height of the mark paragraph: one em, so the space before the
        paragraph is the distance to the top of the glyphs' em box (twips)."""
        return round(self.size * L.TWIPS_PER_PT)


def mark_spacing(top_lines: int, mark_line: int, top_mm: float = L.MARK_TOP_MM) -> tuple[int, int]:
    """Space before and after the mark (twips): its top ``top_mm`` below the type area's top (35 mm;
    20 mm in the order format), and the block of 份号/密级/紧急程度 lines plus the mark filling whole
    grid lines."""
    used = top_lines * L.LINE_PITCH
    before = max(0, L.mm_to_twips(top_mm) - used)
    end = used + before + mark_line
    return before, math.ceil(end / L.LINE_PITCH) * L.LINE_PITCH - end


def fit_mark(mark: str) -> MarkFit:
    """The largest mark size whose scaling stays ≥ MARK_MIN_SCALE; never wider than 156 mm."""
    width_em = max(L.text_width_em(mark), 1.0)
    available_pt = L.TYPE_AREA_WIDTH / L.TWIPS_PER_PT
    for size in L.MARK_SIZES:
        scale = min(100, math.floor(100 * available_pt / (width_em * size)))
        if scale >= L.MARK_MIN_SCALE:
            return MarkFit(size, scale)
    size = L.MARK_SIZES[-1]
    return MarkFit(size, max(1, math.floor(100 * available_pt / (width_em * size))))


@dataclass(frozen=True)
class NoteLine:
    """附件说明 line: text, left indent and hanging indent in twips."""

    text: str
    left: int
    hanging: int


def attachment_note_lines(names: list[str], style: HouseStyle | None = None) -> list[NoteLine]:
    """附件说明 two characters in; a wrapped name continues under its own first character.

    One: "附件：name". Several: "附件：1.name", then "2.name" with "2." under "1."; in the house
    style with Chinese numbers (seed 000): "附件一：name", "附件二：name", one label a line.
    """
    if style is not None and style.attachment_numbers is AttachmentNumbers.chinese and len(names) > 1:
        lines = []
        for number, name in enumerate(names, start=1):
            label = f"附件{chinese_number(number)}："
            left = 2 * L.CHAR + round(L.text_width_em(label) * L.CHAR)
            lines.append(NoteLine(label + clean_text(name), left, left - 2 * L.CHAR))
        return lines
    label = "附件："
    base = 2 * L.CHAR + round(L.text_width_em(label) * L.CHAR)
    if len(names) == 1:
        return [NoteLine(label + clean_text(names[0]), base, base - 2 * L.CHAR)]
    lines = []
    for number, name in enumerate(names, start=1):
        prefix = f"{number}."
        left = base + round(L.text_width_em(prefix) * L.CHAR)
        first_line_start = 2 * L.CHAR if number == 1 else base
        text = (label if number == 1 else "") + prefix + clean_text(name)
        lines.append(NoteLine(text, left, left - first_line_start))
    return lines


@dataclass(frozen=True)
class SignatureBlock:
    """发文机关署名 and 成文日期 with their right indents (twips)."""

    organisation: str | None
    organisation_right: int
    date: str
    date_right: int


def signature_block(content: DocumentContent) -> SignatureBlock:
    """GB/T 9704-2012 §7.3.5 placement of the signature and the date of writing.

    Unsealed: the organisation two characters in from the right, one blank line below the
    text; the date on the next line, its first character two characters right of the
    organisation's first; when the date is the longer, the date goes two characters in from
    the right and the organisation moves left to keep the two-character step.
    Sealed: the date four characters in from the right, the organisation centred over it,
    also one blank line below the text: the seal (≈ 42 mm, four lines) then starts within a
    line of the text, as the standard asks, and its centre falls on the two lines.
    """
    date = format_cn_date(content.issued_on)
    organisation = clean_text(content.signature) if content.signature else None
    date_em = L.text_width_em(date)
    org_em = L.text_width_em(organisation) if organisation else 0.0
    if content.sealed:
        date_right_em = 4.0
        org_right_em = max(0.0, date_right_em + (date_em - org_em) / 2)
    else:
        date_right_em = max(2.0, org_em - date_em) if organisation else 2.0
        org_right_em = date_right_em + date_em + 2.0 - org_em
    return SignatureBlock(organisation, round(org_right_em * L.CHAR), date, round(date_right_em * L.CHAR))


def note_text(note: str, style: HouseStyle | None = None) -> str:
    """附注 in full-width parentheses: "（联系人：… 电话：…）"; without them in the house style
    ``notes: plain``."""
    note = clean_text(note).strip()
    wrapped = note.startswith("（") and note.endswith("）")
    if style is not None and style.notes is NoteStyle.plain:
        return note[1:-1] if wrapped else note
    return note if wrapped else f"（{note}）"


@dataclass(frozen=True)
class ColophonRow:
    """One line of the 版记: a label and text, with its indents and separator lines.

    ``kind`` is "subject" (主题词, above the lines), "list" (抄送/报/送/发), "printing"
    (印发机关 + 印发日期) or "copies" (共印N份, below the lines). Border widths are eighths of
    a point, 0 for none.
    """

    kind: str
    label: str
    text: str
    left: int = 0
    hanging: int = 0
    right_text: str = ""
    border_top: int = 0
    border_bottom: int = 0


def _list_row(label: str, names: list[str], stop: str) -> ColophonRow:
    """ "抄送：A，B。" one 四号 character in on both sides, continuation after the colon."""
    hanging = round(L.text_width_em(label) * L.SIHAO_CHAR)
    return ColophonRow("list", label, "，".join(clean_text(n) for n in names) + stop, left=L.SIHAO_CHAR + hanging, hanging=hanging)


def colophon_rows(content: DocumentContent, as_received: bool = False) -> list[ColophonRow]:
    """版记 rows in order, with the thick first/last and thin middle separator lines; in the
    letter format (信函格式) only 抄送, without separator lines, printing office or date — unless
    the document is reproduced as it was received (``as_received``: every field it came with)."""
    if not as_received and format_of(content.doc_type, content.issuer_mark) is DocFormat.letter:
        return [_list_row("抄送：", content.cc, "。")] if content.cc else []
    legacy = content.legacy or LegacyColophon()
    head: list[ColophonRow] = []
    if legacy.subject_words:
        head.append(ColophonRow("subject", "主题词：", clean_text(legacy.subject_words)))
    ruled: list[ColophonRow] = []
    for label, names in (("报：", legacy.report_to), ("送：", legacy.send_to)):
        if names:
            ruled.append(_list_row(label, names, ""))
    if content.cc:
        ruled.append(_list_row("抄送：", content.cc, "。"))
    if legacy.distribute_to:
        ruled.append(_list_row("发：", legacy.distribute_to, ""))
    if content.printed_by or content.printed_on:
        printed_on = f"{format_cn_date(content.printed_on)}印发" if content.printed_on else ""
        ruled.append(ColophonRow("printing", "", clean_text(content.printed_by or ""), left=L.SIHAO_CHAR, right_text=printed_on))
    tail: list[ColophonRow] = []
    if legacy.copies_printed:
        tail.append(ColophonRow("copies", "", f"（共印{legacy.copies_printed}份）"))
    last = len(ruled) - 1
    ruled = [
        replace(row, border_top=L.COLOPHON_THICK_SZ if i == 0 else 0, border_bottom=L.COLOPHON_THICK_SZ if i == last else L.COLOPHON_THIN_SZ)
        for i, row in enumerate(ruled)
    ]
    return head + ruled + tail


@dataclass(frozen=True)
class AttachmentView:
    """附件 page: "附件N" label, title lines, paragraphs; or, for a received document attached as
    it was received, ``document``: its view, printed from its title on (no red header)."""

    label: str
    title: str
    paragraphs: list[BodyParagraph]
    document: PartView | None = None


def chinese_number(number: int) -> str:
    """1 -> 一 … 10 -> 十, 11 -> 十一, 20 -> 二十 (attachments are never a hundred)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(number, 10)
    if tens == 0:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def attachment_views(attachments: list[Attachment], style: HouseStyle | None = None) -> list[AttachmentView]:
    """ "附件" alone for a single attachment, "附件1", "附件2"… for several (附件一、附件二… in the
    house style with Chinese numbers)."""
    single = len(attachments) == 1
    chinese = style is not None and style.attachment_numbers is AttachmentNumbers.chinese
    return [
        AttachmentView(
            "附件" if single else f"附件{chinese_number(number) if chinese else number}",
            title_text(attachment.title),
            [body_paragraph(p) for p in attachment.body],
            part_view(attachment.document, new_page=False, as_received=True) if attachment.document else None,
        )
        for number, attachment in enumerate(attachments, start=1)
    ]


def title_lines(title: str) -> list[str]:
    """标题 as lines: the author's own line breaks ("\\n") kept, blank lines and surrounding
    spaces dropped; a title without them that is longer than a line broken between words into
    a trapezoid or diamond (models/rules/titles.break_title)."""
    lines = [line.strip() for line in clean_text(title).splitlines() if line.strip()]
    if len(lines) == 1:
        return break_title(lines[0], L.TITLE_CHARS_PER_LINE)
    return lines


def title_text(title: str) -> str:
    """标题 with its line breaks as "\\n" (the template writes them as ``w:br``)."""
    return "\n".join(title_lines(title))


@dataclass(frozen=True)
class PartView:
    """Everything the template needs for one part (a document, or one forwarded document)."""

    new_page: bool
    top_lines: list[tuple[str, str]]  # 份号 / 密级 / 紧急程度: (text, East-Asian font)
    mark: str
    mark_fit: MarkFit
    mark_space_before: int  # twips from the last top line (or the type area top) to the mark
    mark_space_after: int  # twips from the mark to the next grid line
    format: DocFormat  # 文件格式 / 信函格式 / 纪要格式 / 命令格式 (models/rules/doc_kinds.format_of)
    upward: bool
    doc_number: str
    signer: str | None
    title: str
    recipients: str
    paragraphs: list[BodyParagraph]
    attachment_notes: list[NoteLine]
    signature: SignatureBlock
    notes: list[str]
    attachments: list[AttachmentView]
    colophon: list[ColophonRow]
    faces: Faces  # the face of each role (house style; GB/T 9704-2012's by default)


def part_view(content: DocumentContent, new_page: bool, style: HouseStyle | None = None, as_received: bool = False) -> PartView:
    """Lay out one :class:`DocumentContent` (see the module docstring)."""
    top_lines = [
        (clean_text(text), font)
        for text, font in ((content.copy_number, L.FONT_FANGSONG), (content.security, L.FONT_HEITI), (content.urgency, L.FONT_HEITI))
        if text
    ]
    fmt = format_of(content.doc_type, content.issuer_mark)
    mark = clean_text(mark_in_format(content.issuer_mark, fmt, content.doc_type, style is None or style.mark_suffix))
    mark_fit = fit_mark(mark)
    before, after = mark_spacing(len(top_lines), mark_fit.line, L.ORDER_MARK_TOP_MM if fmt is DocFormat.order else L.MARK_TOP_MM)
    recipients = "，".join(clean_text(r) for r in content.main_recipients)
    return PartView(
        new_page=new_page,
        top_lines=top_lines,
        mark=mark,
        mark_fit=mark_fit,
        mark_space_before=before,
        mark_space_after=after,
        format=fmt,
        upward=content.direction is Direction.up,
        doc_number=clean_text(content.doc_number or ""),
        signer=clean_text(content.signer) if content.signer else None,
        title=title_text(content.title),
        recipients=f"{recipients}：" if recipients else "",
        paragraphs=[minutes_paragraph(p) if fmt is DocFormat.minutes else body_paragraph(p) for p in content.body],
        attachment_notes=attachment_note_lines(content.attachment_notes, style) if content.attachment_notes else [],
        signature=signature_block(content),
        notes=[note_text(n, style) for n in content.notes],
        attachments=attachment_views(content.attachments, style),
        colophon=colophon_rows(content, as_received),
        faces=style.faces if style is not None else Faces(),
    )


class ColophonPlace(StrEnum):
    """Where the 版记 of the whole document goes (GB/T 9704-2012 §7.4, domain README §3.3–3.4).

    ``inline``: at the bottom of the last page of text; ``new_page``: alone on the next page
    (numbered); ``after_blank``: an unnumbered blank page, then the 版记 alone on the page after
    it, also unnumbered. Which one makes the 版记 page even is known only from the pages
    LibreOffice lays out: ``doc_templates/pages.py`` chooses it.
    """

    inline = "inline"
    new_page = "new_page"
    after_blank = "after_blank"


@dataclass(frozen=True)
class DocumentView:
    """The whole issued document: the issuer's part first (its 版记 taken out), then what it
    forwards (each as issued, with its own 版记 as received); the issuer's 版记 closes the whole,
    after the attachments and the forwarded originals."""

    parts: list[PartView]
    colophon: list[ColophonRow]
    colophon_place: ColophonPlace


def carries_own_colophon(part: PartView) -> bool:
    """Does the last page of ``part`` (its last attachment, if any) hold a 版记 of its own?"""
    if part.attachments and part.attachments[-1].document is not None:
        return bool(part.attachments[-1].document.colophon)
    return bool(part.colophon) and not part.attachments


def document_view(
    contents: Sequence[DocumentContent], place: ColophonPlace | None = None, style: HouseStyle | None = None, tail: int | None = None
) -> DocumentView:
    """Lay out the parts (every part after the first on a new page) and the closing 版记.

    ``place`` None: inline when nothing with a 版记 of its own comes last, else on a new page
    (two 版记 never share a page). ``tail``: only the last so many characters of the issuer's
    last paragraph are kept with its signature (:func:`split_last_paragraph`); None: the whole
    paragraph.
    """
    if not contents:
        raise ValueError("render needs at least one document part")
    # the issuer's house style (版式变体) is the issuer's part's; a forwarded original keeps its own print
    views = [part_view(content, new_page=index > 0, style=style if index == 0 else None, as_received=index > 0) for index, content in enumerate(contents)]
    first = views[0]
    paragraphs = first.paragraphs if tail is None else split_last_paragraph(first.paragraphs, tail)
    parts = [replace(first, colophon=[], paragraphs=paragraphs), *views[1:]]
    if place is None:
        place = ColophonPlace.new_page if first.colophon and carries_own_colophon(parts[-1]) else ColophonPlace.inline
    return DocumentView(parts, first.colophon, place)
