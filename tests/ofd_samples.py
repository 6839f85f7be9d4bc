"""Small PDFs made with pypdfium2 (no LibreOffice) for the OFD tests, and an OFD reader written
for the tests from the standard (GB/T 33190-2016), independent of doc_templates/ofd.py."""

from __future__ import annotations

import ctypes
import io
import zipfile
from xml.etree import ElementTree

import pypdfium2
import pypdfium2.raw as pdfium_c

NS = {"ofd": "http://www.ofdspec.org/2016"}
A4 = (595.28, 841.89)  # points


def _wide(text: str) -> ctypes.Array:
    data = (text + "\0").encode("utf-16-le")
    return ctypes.cast(ctypes.create_string_buffer(data, len(data)), ctypes.POINTER(ctypes.c_ushort))


def sample_pdf(lines: list[tuple[str, float, float]], rule_y: float | None = 600.0, size: float = 16.0) -> bytes:
    """An A4 page with ``lines`` (text, x, y in points from the bottom-left; Helvetica) and a red
    rule across it at ``rule_y``."""
    document = pypdfium2.PdfDocument.new()
    page = document.new_page(*A4)
    for text, x, y in lines:
        obj = pdfium_c.FPDFPageObj_NewTextObj(document.raw, b"Helvetica", size)
        pdfium_c.FPDFText_SetText(obj, _wide(text))
        pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, x, y)
        pdfium_c.FPDFPage_InsertObject(page.raw, obj)
    if rule_y is not None:
        path = pdfium_c.FPDFPageObj_CreateNewPath(80, rule_y)
        pdfium_c.FPDFPath_LineTo(path, 515, rule_y)
        pdfium_c.FPDFPageObj_SetStrokeColor(path, 255, 0, 0, 255)
        pdfium_c.FPDFPageObj_SetStrokeWidth(path, 1.5)
        pdfium_c.FPDFPath_SetDrawMode(path, 0, True)
        pdfium_c.FPDFPage_InsertObject(page.raw, path)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


class OfdReader:
    """Reads an OFD package the way a reader would: OFD.xml → DocRoot → pages and resources."""

    def __init__(self, data: bytes) -> None:
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.ofd = self.xml("OFD.xml")
        root = self.ofd.find("ofd:DocBody/ofd:DocRoot", NS)
        assert root is not None and root.text
        self.doc_root = root.text.strip("/")
        self.doc_dir = self.doc_root.rsplit("/", 1)[0]
        self.document = self.xml(self.doc_root)

    def xml(self, name: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.zip.read(name))

    def info(self) -> dict[str, str]:
        found = {e.tag.split("}")[1]: e.text or "" for e in self.ofd.find("ofd:DocBody/ofd:DocInfo", NS) or []}
        for custom in self.ofd.findall("ofd:DocBody/ofd:DocInfo/ofd:CustomDatas/ofd:CustomData", NS):
            found[custom.get("Name", "")] = custom.text or ""
        return found

    def pages(self) -> list[ElementTree.Element]:
        return [self.xml(f"{self.doc_dir}/{p.get('BaseLoc')}") for p in self.document.findall("ofd:Pages/ofd:Page", NS)]

    def page_text(self, page: ElementTree.Element) -> str:
        return "".join(code.text or "" for code in page.iter(f"{{{NS['ofd']}}}TextCode"))

    def fonts(self) -> dict[str, bytes | None]:
        public = self.document.find("ofd:CommonData/ofd:PublicRes", NS)
        assert public is not None and public.text
        res = self.xml(f"{self.doc_dir}/{public.text}")
        base = res.get("BaseLoc", "")
        out: dict[str, bytes | None] = {}
        for font in res.findall("ofd:Fonts/ofd:Font", NS):
            file = font.find("ofd:FontFile", NS)
            out[font.get("ID", "")] = self.zip.read(f"{self.doc_dir}/{base}/{file.text}") if file is not None and file.text else None
        return out
