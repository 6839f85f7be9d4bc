"""The issued copy as OFD (GB/T 33190-2016, 版式文档), written from the issued PDF's page objects.

One layout: the PDF is what LibreOffice laid out (and what the seal was placed on), so the OFD
takes its pages from the PDF through pypdfium2 rather than laying the document out a second
time: every text character with its origin, font and size (text stays text, selectable and
searchable: one ``TextObject`` per run, a ``TextCode`` with ``X``/``Y`` and ``DeltaX``), every
vector path (the red separator line, the colophon rules) as a ``PathObject`` with the PDF's
segments, every image as an ``ImageObject``, and each font program as the PDF embeds it
(``FPDFFont_GetFontData``: LibreOffice's subsets). Coordinates are millimetres from the top-left
corner of the page (the PDF's points from the bottom-left, converted).

The package (a zip) holds ``OFD.xml`` (DocInfo with the title, the issuer and CustomDatas with
发文字号 and 成文日期), ``Doc_0/Document.xml``, ``Doc_0/PublicRes.xml`` (fonts),
``Doc_0/DocumentRes.xml`` (images), ``Doc_0/Res/*`` and ``Doc_0/Pages/Page_N/Content.xml``.
The electronic seal (GB/T 38540) is added by ``ofd_seal.py``; it is checked by ``ofd_verify.py``.
"""

from __future__ import annotations

import ctypes
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

OFD_NS = "http://www.ofdspec.org/2016"
MM_PER_PT = 25.4 / 72
DOC_ROOT = "Doc_0"
# zip entries are written with a fixed time so that the same PDF gives the same bytes
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class OfdMetadata:
    """What OFD.xml says about the document (DocInfo and CustomDatas)."""

    title: str
    issuer: str
    doc_number: str | None = None  # 发文字号
    issued_on: str | None = None  # 成文日期, ISO date
    doc_id: str = "00000000000000000000000000000000"


@dataclass
class _Run:
    font: int
    size: float  # mm
    colour: tuple[int, int, int]
    y: float
    xs: list[float] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class _Page:
    width: float
    height: float
    runs: list[_Run] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # PathObject elements without the ID
    images: list[tuple[int, tuple[float, float, float, float]]] = field(default_factory=list)


@dataclass
class OfdParts:
    """The package before it is zipped: part name → bytes; the seal adds its parts here."""

    files: dict[str, bytes]
    page_ids: list[int]  # the ID of each page's Page element, for the stamp annotation
    page_sizes: list[tuple[float, float]]  # mm
    next_id: int

    def zip(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files.items():
                info = zipfile.ZipInfo(name, _ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        return out.getvalue()


def _mm(value: float) -> str:
    return f"{value * MM_PER_PT:.3f}".rstrip("0").rstrip(".") or "0"


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _handle(obj: Any) -> int:
    return ctypes.cast(obj, ctypes.c_void_p).value or 0


def _colour(getter, obj) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    r, g, b, a = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    if not getter(obj, r, g, b, a):
        return (0, 0, 0)
    return (r.value, g.value, b.value)


def _font_data(font) -> bytes:  # type: ignore[no-untyped-def]
    import pypdfium2.raw as pdfium_c

    size = ctypes.c_size_t()
    if not pdfium_c.FPDFFont_GetFontData(font, None, 0, size) or size.value == 0:
        return b""
    buffer = (ctypes.c_uint8 * size.value)()
    pdfium_c.FPDFFont_GetFontData(font, buffer, size.value, size)
    return bytes(buffer)


def _font_name(font) -> str:  # type: ignore[no-untyped-def]
    import pypdfium2.raw as pdfium_c

    length = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
    buffer = ctypes.create_string_buffer(length)
    pdfium_c.FPDFFont_GetBaseFontName(font, buffer, length)
    name = buffer.value.decode("utf-8", "replace")
    return name.split("+", 1)[1] if "+" in name[:7] else name  # drop the subset tag ABCDEF+


class _Fonts:
    def __init__(self, first_id: int) -> None:
        self.next_id = first_id
        self.by_data: dict[bytes, int] = {}
        self.entries: list[tuple[int, str, bytes]] = []

    def id_of(self, font) -> int:  # type: ignore[no-untyped-def]
        data = _font_data(font)
        name = _font_name(font)
        key = data or name.encode()
        if key not in self.by_data:
            self.by_data[key] = self.next_id
            self.entries.append((self.next_id, name, data))
            self.next_id += 1
        return self.by_data[key]


def _read_pages(pdf: bytes) -> tuple[list[_Page], _Fonts, list[bytes]]:
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    from gongwen_engine.doc_templates.pdf import PDFIUM_LOCK

    fonts = _Fonts(first_id=2)
    images: list[bytes] = []
    pages: list[_Page] = []
    with PDFIUM_LOCK:
        document = pypdfium2.PdfDocument(pdf)
        try:
            for index in range(len(document)):
                page = document[index]
                width, height = page.get_size()
                out = _Page(width * MM_PER_PT, height * MM_PER_PT)
                _read_text(page, height, fonts, out, pdfium_c)
                for obj in page.get_objects(max_depth=8):
                    if obj.type == pdfium_c.FPDF_PAGEOBJ_PATH:
                        element = _path_element(obj, height, pdfium_c)
                        if element:
                            out.paths.append(element)
                    elif obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                        left, bottom, right, top = obj.get_bounds()
                        picture = obj.get_bitmap(render=True).to_pil()
                        buffer = io.BytesIO()
                        picture.save(buffer, "PNG")
                        images.append(buffer.getvalue())
                        box = (left * MM_PER_PT, (height - top) * MM_PER_PT, (right - left) * MM_PER_PT, (top - bottom) * MM_PER_PT)
                        out.images.append((len(images) - 1, box))
                pages.append(out)
        finally:
            document.close()
    return pages, fonts, images


def _read_text(page, height: float, fonts: _Fonts, out: _Page, pdfium_c) -> None:  # type: ignore[no-untyped-def]
    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        current: _Run | None = None
        current_obj = 0
        x, y = ctypes.c_double(), ctypes.c_double()
        for i in range(pdfium_c.FPDFText_CountChars(raw)):
            if pdfium_c.FPDFText_IsGenerated(raw, i):
                current = None
                continue
            char = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
            if char in "\r\n" or not pdfium_c.FPDFText_GetCharOrigin(raw, i, x, y):
                current = None
                continue
            obj = pdfium_c.FPDFText_GetTextObject(raw, i)
            baseline = (height - y.value) * MM_PER_PT
            handle = _handle(obj)
            if current is None or handle != current_obj or abs(baseline - current.y) > 0.01:
                size = pdfium_c.FPDFText_GetFontSize(raw, i) * MM_PER_PT
                current = _Run(fonts.id_of(pdfium_c.FPDFTextObj_GetFont(obj)), size, _colour(pdfium_c.FPDFPageObj_GetFillColor, obj), baseline)
                current_obj = handle
                out.runs.append(current)
            current.xs.append(x.value * MM_PER_PT)
            current.text.append(char)
    finally:
        textpage.close()


_SEGMENT = {0: "L", 1: "B", 2: "M"}  # FPDF_SEGMENT_LINETO, BEZIERTO, MOVETO


def _path_element(obj, height: float, pdfium_c) -> str | None:  # type: ignore[no-untyped-def]
    raw = obj.raw
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    pdfium_c.FPDFPath_GetDrawMode(raw, fill_mode, stroke)
    if not fill_mode.value and not stroke.value:
        return None
    a, b, c, d, e, f = obj.get_matrix().get()
    ops: list[str] = []
    bezier: list[str] = []
    px, py = ctypes.c_float(), ctypes.c_float()
    for i in range(pdfium_c.FPDFPath_CountSegments(raw)):
        segment = pdfium_c.FPDFPath_GetPathSegment(raw, i)
        pdfium_c.FPDFPathSegment_GetPoint(segment, px, py)
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        gx, gy = a * px.value + c * py.value + e, b * px.value + d * py.value + f
        point = f"{_mm(gx)} {_mm(height - gy)}"
        if kind == 1:  # three points per cubic Bézier in PDFium, one in OFD's "B x1 y1 x2 y2 x3 y3"
            bezier.append(point)
            if len(bezier) == 3:
                ops.append("B " + " ".join(bezier))
                bezier = []
        else:
            ops.append(f"{_SEGMENT.get(kind, 'L')} {point}")
        if pdfium_c.FPDFPathSegment_GetClose(segment):
            ops.append("C")
    if not ops:
        return None
    width = ctypes.c_float()
    pdfium_c.FPDFPageObj_GetStrokeWidth(raw, width)
    scale = abs(a * d - b * c) ** 0.5 or 1.0
    fill = _colour(pdfium_c.FPDFPageObj_GetFillColor, raw)
    stroke_colour = _colour(pdfium_c.FPDFPageObj_GetStrokeColor, raw)
    attributes = f'Stroke="{"true" if stroke.value else "false"}" Fill="{"true" if fill_mode.value else "false"}" LineWidth="{_mm(width.value * scale)}"'
    if fill_mode.value == 1:  # FPDF_FILLMODE_ALTERNATE
        attributes += ' Rule="Even-Odd"'
    body = ""
    if fill_mode.value:
        body += f'<ofd:FillColor Value="{fill[0]} {fill[1]} {fill[2]}"/>'
    if stroke.value:
        body += f'<ofd:StrokeColor Value="{stroke_colour[0]} {stroke_colour[1]} {stroke_colour[2]}"/>'
    return f"{attributes}>{body}<ofd:AbbreviatedData>{' '.join(ops)}</ofd:AbbreviatedData>"


def _font_suffix(data: bytes) -> str:
    """The font program's kind: TrueType, OpenType/CFF, or (LibreOffice's subsets of CFF
    faces) Type 1, which OFD readers may not load: they fall back to the font's name."""
    if data[:4] in (b"\x00\x01\x00\x00", b"true"):
        return "ttf"
    if data[:4] == b"OTTO":
        return "otf"
    return "t1" if data[:2] == b"%!" or data[:1] == b"\x80" else "bin"


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _page_xml(page: _Page, first_id: int, image_ids: list[int]) -> tuple[bytes, int]:
    next_id = first_id
    box = f"0 0 {_num(page.width)} {_num(page.height)}"
    items: list[str] = []
    for path in page.paths:
        items.append(f'<ofd:PathObject ID="{next_id}" Boundary="{box}" {path}</ofd:PathObject>')
        next_id += 1
    for index, (x, y, w, h) in page.images:
        items.append(
            f'<ofd:ImageObject ID="{next_id}" Boundary="{_num(x)} {_num(y)} {_num(w)} {_num(h)}" '
            f'CTM="{_num(w)} 0 0 {_num(h)} 0 0" ResourceID="{image_ids[index]}"/>'
        )
        next_id += 1
    for run in page.runs:
        deltas = " ".join(_num(b - a) for a, b in zip(run.xs, run.xs[1:], strict=False))
        delta = f" DeltaX={quoteattr(deltas)}" if deltas else ""
        fill = "" if run.colour == (0, 0, 0) else f'<ofd:FillColor Value="{run.colour[0]} {run.colour[1]} {run.colour[2]}"/>'
        items.append(
            f'<ofd:TextObject ID="{next_id}" Boundary="{box}" Font="{run.font}" Size="{_num(run.size)}">{fill}'
            f'<ofd:TextCode X="{_num(run.xs[0])}" Y="{_num(run.y)}"{delta}>{escape("".join(run.text))}</ofd:TextCode></ofd:TextObject>'
        )
        next_id += 1
    body = (
        f'<ofd:Page xmlns:ofd="{OFD_NS}"><ofd:Area><ofd:PhysicalBox>{box}</ofd:PhysicalBox></ofd:Area>'
        f'<ofd:Content><ofd:Layer ID="{next_id}">{"".join(items)}</ofd:Layer></ofd:Content></ofd:Page>'
    )
    return _xml(body), next_id + 1


def pdf_to_ofd_parts(pdf: bytes, meta: OfdMetadata) -> OfdParts:
    """The OFD package's parts for the pages of ``pdf`` (not yet sealed)."""
    pages, fonts, images = _read_pages(pdf)
    files: dict[str, bytes] = {}
    next_id = fonts.next_id
    font_xml = []
    for font_id, name, data in fonts.entries:
        file_name = f"font_{font_id}.{_font_suffix(data)}"
        file_part = f"<ofd:FontFile>{file_name}</ofd:FontFile>" if data else ""
        font_xml.append(f'<ofd:Font ID="{font_id}" FontName={quoteattr(name)} FamilyName={quoteattr(name)}>{file_part}</ofd:Font>')
        if data:
            files[f"{DOC_ROOT}/Res/{file_name}"] = data
    image_ids = []
    media = []
    for index, png in enumerate(images):
        image_ids.append(next_id)
        media.append(f'<ofd:MultiMedia ID="{next_id}" Type="Image" Format="PNG"><ofd:MediaFile>image_{index}.png</ofd:MediaFile></ofd:MultiMedia>')
        files[f"{DOC_ROOT}/Res/image_{index}.png"] = png
        next_id += 1
    page_ids = []
    page_entries = []
    for number, page in enumerate(pages):
        page_ids.append(next_id)
        page_entries.append(f'<ofd:Page ID="{next_id}" BaseLoc="Pages/Page_{number}/Content.xml"/>')
        content, next_id = _page_xml(page, next_id + 1, image_ids)
        files[f"{DOC_ROOT}/Pages/Page_{number}/Content.xml"] = content
    first = pages[0] if pages else _Page(210.0, 297.0)
    files[f"{DOC_ROOT}/PublicRes.xml"] = _xml(f'<ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res"><ofd:Fonts>{"".join(font_xml)}</ofd:Fonts></ofd:Res>')
    files[f"{DOC_ROOT}/DocumentRes.xml"] = _xml(f'<ofd:Res xmlns:ofd="{OFD_NS}" BaseLoc="Res"><ofd:MultiMedias>{"".join(media)}</ofd:MultiMedias></ofd:Res>')
    files[f"{DOC_ROOT}/Document.xml"] = _xml(
        f'<ofd:Document xmlns:ofd="{OFD_NS}"><ofd:CommonData><ofd:MaxUnitID>{next_id}</ofd:MaxUnitID>'
        f"<ofd:PageArea><ofd:PhysicalBox>0 0 {_num(first.width)} {_num(first.height)}</ofd:PhysicalBox></ofd:PageArea>"
        "<ofd:PublicRes>PublicRes.xml</ofd:PublicRes><ofd:DocumentRes>DocumentRes.xml</ofd:DocumentRes></ofd:CommonData>"
        f"<ofd:Pages>{''.join(page_entries)}</ofd:Pages></ofd:Document>"
    )
    files = {"OFD.xml": ofd_xml(meta, signed=False), **files}
    return OfdParts(files, page_ids, [(p.width, p.height) for p in pages], next_id)


def ofd_xml(meta: OfdMetadata, signed: bool) -> bytes:
    custom = []
    if meta.doc_number:
        custom.append(f'<ofd:CustomData Name="发文字号">{escape(meta.doc_number)}</ofd:CustomData>')
    if meta.issued_on:
        custom.append(f'<ofd:CustomData Name="成文日期">{escape(meta.issued_on)}</ofd:CustomData>')
    custom.append(f'<ofd:CustomData Name="发文机关">{escape(meta.issuer)}</ofd:CustomData>')
    signatures = f"<ofd:Signatures>{DOC_ROOT}/Signs/Signatures.xml</ofd:Signatures>" if signed else ""
    creation = f"<ofd:CreationDate>{meta.issued_on}</ofd:CreationDate>" if meta.issued_on else ""
    return _xml(
        f'<ofd:OFD xmlns:ofd="{OFD_NS}" Version="1.0" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
        f"<ofd:DocID>{meta.doc_id}</ofd:DocID><ofd:Title>{escape(meta.title)}</ofd:Title>"
        f"<ofd:Author>{escape(meta.issuer)}</ofd:Author>{creation}<ofd:Creator>gongwen</ofd:Creator>"
        f"<ofd:CustomDatas>{''.join(custom)}</ofd:CustomDatas></ofd:DocInfo>"
        f"<ofd:DocRoot>{DOC_ROOT}/Document.xml</ofd:DocRoot>{signatures}</ofd:DocBody></ofd:OFD>"
    )


def pdf_to_ofd(pdf: bytes, meta: OfdMetadata) -> bytes:
    """An unsealed OFD of ``pdf``'s pages."""
    return pdf_to_ofd_parts(pdf, meta).zip()
