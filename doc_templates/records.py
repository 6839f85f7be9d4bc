"""Process records: the draft sheet (发文稿纸) and the incoming processing slip (收文处理单).

Both are re-issued after every human step (and after automatic steps a flow marks with
``record: true``) from the circulation's work items, so each opinion, instruction (批示) and
reading mark appears verbatim with the person and the date.

Like the issued documents (``render.py``), a record is a base package built once per process
with python-docx (page, styles, the heading paragraph's and the table's frame) plus a
``word/document.xml`` that jinja2 renders from ``record_sheets/document.xml.j2`` per record:
the XML is the one python-docx would build for the same rows, without building it (the
national cascade writes ~6,000 records), and the zip entries carry a fixed time, so the same
record always has the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from docx import Document as Docx
from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from lxml import etree
from markupsafe import Markup

from gongwen_engine.config.files import write_atomically
from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates.base import DOCUMENT_PART, _drop_unused_parts, zip_entry
from gongwen_engine.doc_templates.render import DOCUMENT_COMPRESSLEVEL, RenderResult
from gongwen_engine.models.records import Opinion, RecordData, RecordKind
from gongwen_engine.models.rules.dates import format_cn_date

TITLES = {RecordKind.draft_sheet: "发文稿纸", RecordKind.processing_slip: "收文处理单"}

Cell = tuple[str, str]  # (label, text)
FormRow = tuple[Cell, ...]  # one cell across the form's width, or two side by side
# Rows where people write their opinions: taller, so the printed form has room to sign by hand.
OPINION_LABELS = frozenset({"签发", "会签", "核稿", "拟办意见", "领导批示", "承办结果", "传阅"})
# Where each step kind's opinions go on the printed forms (flows/definitions kind:), and whether
# the step's title leads them (a second kind sharing a row: 复核 in the 核稿 cell); a kind not
# named here is listed after the fixed rows under its step's title.
DRAFT_SHEET_ROWS = {"sign_off": ("签发", False), "countersign": ("会签", False), "review": ("核稿", False), "recheck": ("核稿", True), "draft": ("拟稿", False)}
SLIP_ROWS = {
    "screen": ("拟办意见", True),
    "decide": ("拟办意见", False),
    "instruct": ("领导批示", False),
    "draft": ("承办结果", True),
    "sign_off": ("承办结果", True),
    "circulate": ("传阅", False),
    "conclude": ("办结", False),
}


def record_heading(record: RecordData) -> str:
    """用于表头: the organisation's short name and the record's name (山东省妇联收文处理单)."""
    return f"{record.org_short_name}{TITLES[record.kind]}"


def _opinion_text(opinion: Opinion, titled: bool) -> str:
    """意见　姓名　日期 as written on the form (the outcome's word, the comment verbatim)."""
    person = opinion.person + (f"（代{opinion.acting_for}）" if opinion.acting_for else "")
    text = opinion.outcome_label + (f"：{opinion.comment}" if opinion.comment else "")
    when = format_cn_date(opinion.finished_on) if opinion.finished_on else ""
    prefix = f"{opinion.step_title}：" if titled else ""
    return f"{prefix}{text}　{person}　{when}".rstrip("　")


def _by_row(record: RecordData, rows: dict[str, tuple[str, bool]]) -> tuple[dict[str, list[str]], list[Cell]]:
    """The opinions written into each fixed row, and the others as extra cells (by step title)."""
    cells: dict[str, list[str]] = {}
    extra: list[Cell] = []
    for opinion in record.opinions:
        if opinion.step_kind in rows:
            label, titled = rows[opinion.step_kind]
            cells.setdefault(label, []).append(_opinion_text(opinion, titled))
        else:
            extra.append((opinion.step_title, _opinion_text(opinion, False)))
    return cells, extra


def _attachment_names(names: list[str]) -> str:
    """附件 as the 附件说明 numbers them: one name alone, several as 1.… 2.…"""
    return names[0] if len(names) == 1 else "\n".join(f"{n}.{name}" for n, name in enumerate(names, start=1))


def _joined(lines: list[str] | None) -> str:
    return "\n".join(lines or [])


def active_content_note(active: tuple[str, ...]) -> str:
    """The 安全提示 of a received PDF with active content: what it holds and that it was never run."""
    return f"来文 PDF 含有活动内容：{'、'.join(active)}。系统未执行，原件按原样存档；请勿用会执行脚本的阅读器打开"


def record_rows(record: RecordData) -> list[FormRow]:
    """The printed form: a fixed table in the order offices use, every row kept even when empty.

    发文稿纸: 签发, 会签, 核稿, 拟稿单位 | 拟稿人, 标题, 主送, 抄送, 文号 | 密级, 缓急 | 印数, 附件.
    收文处理单: 来文单位 | 来文字号, 收文日期 | 收文编号, 标题, 拟办意见, 领导批示, 承办结果, 传阅, 办结.
    """
    draft = record.draft
    if record.kind == RecordKind.draft_sheet:
        cells, extra = _by_row(record, DRAFT_SHEET_ROWS)
        drafter = draft.drafter if draft else ""
        if cells.get("拟稿"):  # the draft step's own actions (提交) stand beside the 拟稿人
            drafter = "\n".join([drafter, *cells["拟稿"]]) if drafter else _joined(cells["拟稿"])
        copies = str(draft.copies) if draft and draft.copies else ""
        return [
            (("签发", _joined(cells.get("签发"))),),
            (("会签", _joined(cells.get("会签"))),),
            (("核稿", _joined(cells.get("核稿"))),),
            (("拟稿单位", draft.drafting_unit if draft else record.org_short_name), ("拟稿人", drafter)),
            (("标题", draft.title if draft else ""),),
            (("主送", "、".join(draft.main_recipients) if draft else ""),),
            (("抄送", "、".join(draft.cc) if draft else ""),),
            (("文号", (draft.doc_number or "") if draft else ""), ("密级", draft.security if draft else "")),
            (("缓急", draft.urgency if draft else ""), ("印数", copies)),
            (("附件", _attachment_names(draft.attachments if draft else [])),),
            *(((label, text),) for label, text in extra),
        ]
    received = record.received
    cells, extra = _by_row(record, SLIP_ROWS)
    handled = list(cells.get("承办结果") or [])
    if draft is not None:  # the forwarding notice drafted in reply (承办: 拟转发)
        number = f"（{draft.doc_number}）" if draft.doc_number else ""
        handled.insert(0, f"拟转发：{draft.title}{number}")
    return [
        (("来文单位", received.sender if received else ""), ("来文字号", (received.doc_number or "") if received else "")),
        (
            ("收文日期", format_cn_date(received.received_on) if received and received.received_on else ""),
            ("收文编号", (received.register_number or "") if received else ""),
        ),
        (("标题", received.title if received else ""),),
        *([(("安全提示", active_content_note(received.active_content)),)] if received and received.active_content else []),
        (("拟办意见", _joined(cells.get("拟办意见"))),),
        (("领导批示", _joined(cells.get("领导批示"))),),
        (("承办结果", _joined(handled)),),
        (("传阅", _joined(cells.get("传阅"))),),
        (("办结", _joined(cells.get("办结"))),),
        *(((label, text),) for label, text in extra),
    ]


def _half_points(pt: float) -> int:
    """``w:sz`` as python-docx writes ``Pt(pt)``."""
    return int(Pt(pt).pt * 2)


@dataclass(frozen=True)
class SheetStyle:
    """The record's fonts, sizes (half-points) and column widths (twips), as the template uses them."""

    title_font: str = layout.FONT_XIAOBIAOSONG  # black: a record is no issued document and carries no red mark
    title_size: int = _half_points(layout.ERHAO)
    label_font: str = layout.FONT_HEITI
    text_font: str = layout.FONT_FANGSONG
    cell_size: int = _half_points(layout.SIHAO)
    label_width: int = Mm(25).twips  # four columns: label | text | label | text = 156 mm, the type area
    text_width: int = Mm(53).twips
    wide_width: int = Mm(131).twips  # a text across three columns
    opinion_height: int = Mm(24).twips  # a row people write an opinion in
    row_height: int = Mm(10).twips  # any other row (at least)


@dataclass(frozen=True)
class RecordBase:
    """The record package without ``word/document.xml``, and that part's fixed pieces:
    ``head`` (to ``<w:body>``), ``table_head`` (the table's properties and grid, no rows) and
    ``sect_pr`` (page size and margins)."""

    zip_bytes: bytes
    head: str
    table_head: str
    sect_pr: str


def _between(xml: str, start: str, end: str) -> str:
    """``xml`` from the first ``start`` through the first ``end`` after it."""
    i = xml.index(start)
    return xml[i : xml.index(end, i) + len(end)]


# The styles a record uses (the table's Table Grid and what it and the paragraphs fall back on);
# python-docx's template brings 164 more and their latent definitions, ~0.8 MB that every record
# and its archive stamp (归档章, which rewrites the package) would carry and compress again.
RECORD_STYLE_IDS = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList", "TableGrid"}


def _keep_used_styles(doc: DocxDocument) -> None:
    styles = doc.styles.element
    for child in list(styles):
        if child.tag == qn("w:latentStyles") or (child.tag == qn("w:style") and child.get(qn("w:styleId")) not in RECORD_STYLE_IDS):
            styles.remove(child)


@cache
def record_base() -> RecordBase:
    """Built once per process with python-docx: A4, the margins, the table style (Table Grid);
    without the template's parts and styles a record does not use (as the issued documents'
    base package, ``base.py``)."""
    doc = Docx()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(layout.PAGE_WIDTH_MM), Mm(layout.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(layout.MARGIN_TOP_MM), Mm(layout.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(layout.MARGIN_LEFT_MM), Mm(layout.MARGIN_RIGHT_MM)
    doc.add_table(rows=0, cols=4).style = "Table Grid"
    _drop_unused_parts(doc)
    _keep_used_styles(doc)
    buffer = io.BytesIO()
    doc.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w") as target:
        xml = source.read(DOCUMENT_PART).decode("utf-8")
        for info in source.infolist():
            if info.filename != DOCUMENT_PART:
                target.writestr(zip_entry(info.filename), source.read(info.filename), compresslevel=6)
    head = xml[: xml.index("<w:body>") + len("<w:body>")]
    table_head = _between(xml, "<w:tbl>", "</w:tblGrid>")
    style = SheetStyle()
    widths = (style.label_width, style.text_width, style.label_width, style.text_width)
    grid = "<w:tblGrid>" + "".join(f'<w:gridCol w:w="{w}"/>' for w in widths) + "</w:tblGrid>"
    table_head = table_head[: table_head.index("<w:tblGrid>")] + grid
    return RecordBase(out.getvalue(), head, table_head, _between(xml, "<w:sectPr", "</w:sectPr>"))


def run_content_xml(text: str) -> Markup:
    """A run's content as python-docx writes it: ``w:t`` pieces (``xml:space="preserve"`` when a
    piece starts or ends with white space), ``w:tab`` for a tab, ``w:br`` for a line break."""
    etree.Element("t").text = text  # the same ValueError python-docx raises for control characters
    pieces: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        piece = "".join(buffer)
        buffer.clear()
        if piece:
            space = ' xml:space="preserve"' if len(piece.strip()) < len(piece) else ""
            escaped = piece.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            pieces.append(f"<w:t{space}>{escaped}</w:t>")

    for char in text:
        if char == "\t":
            flush()
            pieces.append("<w:tab/>")
        elif char in "\r\n":
            flush()
            pieces.append("<w:br/>")
        else:
            buffer.append(char)
    flush()
    return Markup("".join(pieces))


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "record_sheets"), autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["wt"] = run_content_xml
    env.globals["S"] = SheetStyle()
    return env.get_template("document.xml.j2")


def record_document_xml(heading: str, rows: list[FormRow]) -> str:
    """``word/document.xml`` of a record: the heading, then the form's rows (one cell across, or two side by side)."""
    base = record_base()
    return _template().render(
        head=Markup(base.head), table_head=Markup(base.table_head), sect_pr=Markup(base.sect_pr), heading=heading, rows=rows, tall=OPINION_LABELS
    )


def record_docx_bytes(heading: str, rows: list[FormRow]) -> bytes:
    """The record's .docx bytes: the base package plus the rendered ``word/document.xml``."""
    body = record_document_xml(heading, rows).encode("utf-8")
    buffer = io.BytesIO(record_base().zip_bytes)
    with zipfile.ZipFile(buffer, "a") as package:
        package.writestr(zip_entry(DOCUMENT_PART), body, compresslevel=DOCUMENT_COMPRESSLEVEL)
    return buffer.getvalue()


def record_bytes(record: RecordData) -> bytes:
    """The record's .docx bytes from its data."""
    return record_docx_bytes(record_heading(record), record_rows(record))


def render_record(record: RecordData, path: Path) -> RenderResult:
    """Write the record's .docx to ``path`` (atomically)."""
    data = record_bytes(record)
    write_atomically(data, path)
    return RenderResult(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
