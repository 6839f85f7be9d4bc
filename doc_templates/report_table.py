"""A report with a table (报表): the GB/T 9704 document with the table in its attachment.

Submissions of tables (报表) and summaries (汇总) print the rows as a real Word table on the
attachment page (附件), right under the attachment's title, so a person can read and copy it.
The document itself is laid out by :mod:`.render`; the table is inserted into the rendered
package with python-docx and the package is re-zipped with fixed timestamps, so the same input
always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import docx
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.shared import Pt

from gongwen_engine.config.files import write_atomically
from gongwen_engine.doc_templates.base import zip_entry
from gongwen_engine.doc_templates.render import RenderResult, render_docx_bytes
from gongwen_engine.models.content import DocumentContent

TABLE_FONT = "仿宋_GB2312"
TABLE_SIZE_PT = 12  # 小四: a table's cells are set smaller than the 三号 text (common practice)


@dataclass(frozen=True)
class ReportTable:
    """报表: a header row and rows of cells (first column the unit), printed under ``title``."""

    title: str
    header: list[str]
    rows: list[list[str]]


def render_report_docx(parts: Sequence[DocumentContent], table: ReportTable | None, path: Path) -> RenderResult:
    """Render the document; with ``table``, put it under the attachment titled ``table.title``."""
    data = render_docx_bytes(parts)
    if table is not None:
        data = _with_table(data, table)
    write_atomically(data, Path(path))
    return RenderResult(path=Path(path), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _with_table(data: bytes, table: ReportTable) -> bytes:
    document = docx.Document(io.BytesIO(data))
    anchors = [p for p in document.paragraphs if p.text.strip() == table.title]
    if not anchors:
        raise ValueError(f"the document has no attachment titled “{table.title}” to hold the table (add it to attachments)")
    grid = document.add_table(rows=0, cols=len(table.header))
    grid.style = "Table Grid" if "Table Grid" in [s.name for s in document.styles] else None
    for cells in [table.header, *table.rows]:
        row = grid.add_row().cells
        for cell, text in zip(row, cells, strict=False):  # a short row leaves its last cells empty
            run = cell.paragraphs[0].add_run(text)
            run.font.size = Pt(TABLE_SIZE_PT)
            run.font.name = TABLE_FONT
            run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), TABLE_FONT)
    _borders(grid._tbl)
    anchors[-1]._p.addnext(grid._tbl)
    raw = io.BytesIO()
    document.save(raw)
    return _fixed_zip(raw.getvalue())


def _borders(tbl: CT_Tbl) -> None:
    """Single black borders on every cell (the base package may not carry a table style)."""
    pr = tbl.tblPr
    borders = pr.makeelement(qn("w:tblBorders"), {})
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        borders.append(pr.makeelement(qn(f"w:{side}"), {qn("w:val"): "single", qn("w:sz"): "4", qn("w:space"): "0", qn("w:color"): "000000"}))
    pr.append(borders)


def _fixed_zip(data: bytes) -> bytes:
    """The same package with fixed entry timestamps (python-docx stamps the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(zip_entry(info.filename), source.read(info.filename), compresslevel=1)
    return out.getvalue()
