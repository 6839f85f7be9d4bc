"""The base package (底版) of every rendered document: built once per process with python-docx.

Everything a GB/T 9704-2012 document shares is made here — A4 page, margins, the 22 × 28
grid, the Normal style (三号仿宋), even/odd footers with "— N —" page numbers, the font table
with fallbacks — and frozen into a zip of all package parts except ``word/document.xml``.
Per document, :mod:`gongwen_engine.doc_templates.render` renders the body with jinja2 and
appends it to a copy of that zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import docx
from docx.enum.section import WD_SECTION
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.section import Section
from docx.shared import Twips

from gongwen_engine.doc_templates import layout as L

DOCUMENT_PART = "word/document.xml"
# Fixed zip entry time (the zip format starts in 1980): the same input gives the same bytes.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_CORE_TIME = datetime(2012, 7, 1, tzinfo=UTC)  # GB/T 9704-2012 took effect

# Parts python-docx's default template carries that a GB/T 9704 document does not need.
_DROPPED_DOCUMENT_RELS = {
    "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects",
    RT.CUSTOM_XML,
    RT.NUMBERING,
    RT.WEB_SETTINGS,
}
_DROPPED_PACKAGE_RELS = {RT.THUMBNAIL}
# Styles kept from the default template: the defaults every part may point at implicitly.
_KEPT_STYLE_IDS = {"Normal", "DefaultParagraphFont", "TableNormal", "NoList", "Footer"}
_FONT_FAMILY = {L.FONT_HEITI: "modern"}  # everything else is a serif ("roman") face


@dataclass(frozen=True)
class BasePackage:
    """The prepared package: zip bytes without the body, and the body's frame.

    ``document_head`` is ``word/document.xml`` up to and including ``<w:body>`` (the XML
    declaration and the root element with python-docx's namespace declarations);
    ``sect_pr`` is the section properties element that closes the body (page, margins,
    grid, footer references); ``sect_pr_unnumbered`` is the same page with empty footers, for
    the blank page(s) and the 版记 page after them (domain README §3.4: blank pages before the
    版记 page carry no number, nor does the 版记 page then).
    """

    zip_bytes: bytes
    document_head: str
    sect_pr: str
    sect_pr_unnumbered: str

    @property
    def sect_pr_letter(self) -> str:
        """``sect_pr`` without a number on the first page (信函格式): a title page whose footer is
        the unnumbered section's empty one."""
        empty = re.search(r'w:footerReference w:type="default" r:id="(\w+)"', self.sect_pr_unnumbered)
        assert empty is not None  # built by build_document
        first = f'<w:footerReference w:type="first" r:id="{empty[1]}"/>'
        return self.sect_pr.replace("<w:pgSz", first + "<w:pgSz", 1).replace("<w:docGrid", "<w:titlePg/><w:docGrid", 1)


def rfonts_xml(east_asia: str, latin: str = L.FONT_LATIN) -> str:
    """``w:rFonts`` naming the East-Asian face and the Latin face (digits, letters)."""
    return f'<w:rFonts {nsdecls("w")} w:ascii="{latin}" w:hAnsi="{latin}" w:cs="{latin}" w:eastAsia="{east_asia}" w:hint="eastAsia"/>'


def _set_page(section: Section) -> None:
    """页面: A4, the GB/T 9704 margins, footer distance and the 22 × 28 document grid."""
    section.page_width = Twips(L.PAGE_WIDTH)
    section.page_height = Twips(L.PAGE_HEIGHT)
    section.top_margin = Twips(L.MARGIN_TOP)
    section.bottom_margin = Twips(L.MARGIN_BOTTOM)
    section.left_margin = Twips(L.MARGIN_LEFT)
    section.right_margin = Twips(L.MARGIN_RIGHT)
    section.header_distance = Twips(L.HEADER_DISTANCE)
    section.footer_distance = Twips(L.FOOTER_DISTANCE)
    sect_pr = section._sectPr
    for grid in sect_pr.findall(qn("w:docGrid")):
        sect_pr.remove(grid)
    sect_pr.append(parse_xml(f'<w:docGrid {nsdecls("w")} w:type="linesAndChars" w:linePitch="{L.LINE_PITCH}" w:charSpace="{L.CHAR_SPACE}"/>'))


def _set_styles(document: docx.document.Document) -> None:
    """Normal = 三号仿宋, exact line pitch 579, justified, 28 characters a line (see layout)."""
    styles = document.styles.element
    for child in list(styles):
        if child.tag == qn("w:latentStyles") or (child.tag == qn("w:style") and child.get(qn("w:styleId")) not in _KEPT_STYLE_IDS):
            styles.remove(child)
        for link in child.findall(qn("w:link")):  # links pointed at the dropped char styles
            child.remove(link)
    size = L.pt_to_half_points(L.BODY_SIZE)
    defaults = styles.find(qn("w:docDefaults"))
    defaults.find(qn("w:pPrDefault")).clear()  # the template's 10 pt after / 1.15 lines
    rpr_default = defaults.find(qn("w:rPrDefault"))
    rpr_default.clear()
    rpr_default.append(
        parse_xml(
            f'<w:rPr {nsdecls("w")}>{rfonts_xml(L.FONT_FANGSONG)}<w:kern w:val="2"/>'
            f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
            f'<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/></w:rPr>'
        )
    )
    normal = document.styles["Normal"].element
    for child in list(normal):
        if child.tag in (qn("w:pPr"), qn("w:rPr")):
            normal.remove(child)
    normal.append(
        parse_xml(
            f'<w:pPr {nsdecls("w")}><w:widowControl w:val="0"/><w:snapToGrid w:val="0"/>'
            f'<w:spacing w:line="{L.LINE_PITCH}" w:lineRule="exact"/><w:jc w:val="both"/></w:pPr>'
        )
    )
    normal.append(
        parse_xml(
            f"<w:rPr {nsdecls('w')}>{rfonts_xml(L.FONT_FANGSONG)}"
            f'<w:spacing w:val="{L.BODY_CHAR_SPACING}"/>'
            f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'
        )
    )


def page_number_runs_xml() -> str:
    """页码 "— N —": em dashes around a PAGE field, 四号 half-width 宋体."""
    size = L.pt_to_half_points(L.PAGE_NUMBER_SIZE)
    rpr = f'<w:rPr>{rfonts_xml(L.FONT_SONGTI, L.FONT_SONGTI)}<w:sz w:val="{size}"/><w:szCs w:val="{size}"/></w:rPr>'

    def run(inner: str) -> str:
        return f"<w:r>{rpr}{inner}</w:r>"

    return (
        run('<w:t xml:space="preserve">— </w:t>')
        + run('<w:fldChar w:fldCharType="begin"/>')
        + run('<w:instrText xml:space="preserve"> PAGE </w:instrText>')
        + run('<w:fldChar w:fldCharType="separate"/>')
        + run("<w:t>1</w:t>")
        + run('<w:fldChar w:fldCharType="end"/>')
        + run('<w:t xml:space="preserve"> —</w:t>')
    )


def _page_number_paragraph_xml(odd: bool) -> str:
    """Odd pages: right-aligned one 四号 character in from the right; even: mirrored."""
    indent = f'w:right="{L.SIHAO_CHAR}"' if odd else f'w:left="{L.SIHAO_CHAR}"'
    return (
        f'<w:p {nsdecls("w")}><w:pPr><w:pStyle w:val="Footer"/>'
        f'<w:spacing w:line="{L.PAGE_NUMBER_LINE}" w:lineRule="exact"/><w:ind {indent}/>'
        f'<w:jc w:val="{"right" if odd else "left"}"/></w:pPr>'
        f"{page_number_runs_xml()}</w:p>"
    )


def _set_footers(section: Section) -> None:
    """Default (odd-page) and even-page footers carrying the page number."""
    for footer, odd in ((section.footer, True), (section.even_page_footer, False)):
        container = footer._element
        for paragraph in list(container):
            container.remove(paragraph)
        container.append(parse_xml(_page_number_paragraph_xml(odd)))


def _font_table_xml() -> bytes:
    """字体表: the faces the document names, each with a fallback (``w:altName``)."""
    fonts = []
    for name in (L.FONT_FANGSONG, L.FONT_KAITI, L.FONT_HEITI, L.FONT_XIAOBIAOSONG, L.FONT_SONGTI):
        fonts.append(
            f'<w:font w:name="{name}"><w:altName w:val="{L.FONT_FALLBACKS[name]}"/>'
            f'<w:charset w:val="86"/><w:family w:val="{_FONT_FAMILY.get(name, "roman")}"/>'
            f'<w:pitch w:val="variable"/></w:font>'
        )
    fonts.append(f'<w:font w:name="{L.FONT_LATIN}"><w:charset w:val="00"/><w:family w:val="roman"/><w:pitch w:val="variable"/></w:font>')
    return (f"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<w:fonts {nsdecls('w')}>{''.join(fonts)}</w:fonts>").encode()


def _drop_unused_parts(document: docx.document.Document) -> None:
    """Remove the template's stylesWithEffects, customXml, numbering, webSettings, thumbnail."""
    for rels, dropped in ((document.part.rels, _DROPPED_DOCUMENT_RELS), (document.part.package.rels, _DROPPED_PACKAGE_RELS)):
        for rid in [rid for rid, rel in rels.items() if rel.reltype in dropped]:
            del rels[rid]


def _set_settings(document: docx.document.Document) -> None:
    """设置: different even/odd footers; Chinese as the East-Asian theme language."""
    document.settings.odd_and_even_pages_header_footer = True
    settings = document.settings.element
    for child in settings.findall(qn("w:rsids")):
        settings.remove(child)
    lang = settings.find(qn("w:themeFontLang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")


def _set_core_properties(document: docx.document.Document) -> None:
    """Fixed core properties so that the package bytes never depend on the clock."""
    core = document.core_properties
    core.author = "gongwen"
    core.comments = ""
    core.last_modified_by = "gongwen"
    core.created = FIXED_CORE_TIME
    core.modified = FIXED_CORE_TIME
    core.revision = 1


def build_document() -> docx.document.Document:
    """The base document as a python-docx object (no body content)."""
    document = docx.Document()
    _drop_unused_parts(document)
    _set_styles(document)
    _set_settings(document)
    _set_core_properties(document)
    section = document.sections[0]
    _set_page(section)
    _set_footers(section)
    # a second section with its own, empty footers: the unnumbered blank and 版记 pages
    unnumbered = document.add_section(WD_SECTION.NEW_PAGE)
    for footer in (unnumbered.footer, unnumbered.even_page_footer):
        footer.is_linked_to_previous = False
    return document


def _split_document_xml(xml: str) -> tuple[str, str, str]:
    """Cut python-docx's ``word/document.xml`` into the head (to ``<w:body>``), the numbered
    section's sectPr (in the paragraph that ends it) and the unnumbered one (closing the body)."""
    head, _, rest = xml.partition("<w:body>")
    sections = []
    for _ in range(2):
        start = rest.index("<w:sectPr")
        end = rest.index("</w:sectPr>") + len("</w:sectPr>")
        sections.append(rest[start:end])
        rest = rest[end:]
    return head + "<w:body>", sections[0], sections[1]


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with the fixed timestamp, deflated."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


@cache
def base_package() -> BasePackage:
    """Build the base package once per process (about 0.1 s) and keep it."""
    buffer = io.BytesIO()
    build_document().save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w") as target:
        head, sect_pr, sect_pr_unnumbered = _split_document_xml(source.read(DOCUMENT_PART).decode("utf-8"))
        for info in source.infolist():
            if info.filename == DOCUMENT_PART:
                continue
            data = _font_table_xml() if info.filename == "word/fontTable.xml" else source.read(info.filename)
            target.writestr(zip_entry(info.filename), data, compresslevel=6)
    return BasePackage(zip_bytes=out.getvalue(), document_head=head, sect_pr=sect_pr, sect_pr_unnumbered=sect_pr_unnumbered)
