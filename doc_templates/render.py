"""GB/T 9704-2012 .docx renderer (公文排版): the fast path.

The base package (styles, settings, page, footers) is built once per process with
python-docx (:mod:`.base`); per document, jinja2 renders ``word/document.xml`` from
``gbt9704/document.xml.j2`` and the result is appended to a copy of the base zip. Files are
written atomically with fixed zip timestamps, so the same input always gives the same bytes.

Public API::

    render_docx(parts, path) -> RenderResult
    render_docx_bytes(parts) -> bytes
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.schema import HouseStyle
from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates.base import DOCUMENT_PART, base_package, zip_entry
from gongwen_engine.doc_templates.elements import ColophonPlace, PartView, document_view, part_view
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.doc_kinds import DocFormat

TEMPLATE_DIR = Path(__file__).parent / "gbt9704"
TEMPLATE_NAME = "document.xml.j2"
DOCUMENT_COMPRESSLEVEL = 1  # fastest deflate: the body is small, time matters more than size
_RUN_BREAKS = re.compile("(\t|\n)")
_RUN_BREAK_XML = {"\t": "<w:tab/>", "\n": "<w:br/>"}


@dataclass(frozen=True)
class RenderResult:
    """A written .docx: where it is, the SHA-256 of its bytes (hex) and its size in bytes."""

    path: Path
    sha256: str
    size: int


def run_content_xml(text: str) -> Markup:
    """A run's content: escaped ``w:t`` pieces, tabs as ``w:tab``, newlines as ``w:br``."""
    pieces = []
    for piece in _RUN_BREAKS.split(text):
        if piece in _RUN_BREAK_XML:
            pieces.append(_RUN_BREAK_XML[piece])
        elif piece:
            pieces.append(f'<w:t xml:space="preserve">{escape(piece)}</w:t>')
    return Markup("".join(pieces))


def gbt9704_environment() -> jinja2.Environment:
    """A new environment over ``gbt9704/`` (the .docx and the HTML templates): autoescaped, since
    both write markup; undefined names fail; the layout figures as ``L``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["L"] = layout
    return env


@cache
def _template() -> jinja2.Template:
    """The document template, loaded once."""
    env = gbt9704_environment()
    env.filters["hp"] = layout.pt_to_half_points
    env.filters["wt"] = run_content_xml
    return env.get_template(TEMPLATE_NAME)


def part_views(parts: Sequence[DocumentContent]) -> list[PartView]:
    """Lay out the parts; every part after the first starts on a new page."""
    if not parts:
        raise ValueError("render needs at least one document part")
    return [part_view(content, new_page=index > 0) for index, content in enumerate(parts)]


def render_document_xml(parts: Sequence[DocumentContent], place: ColophonPlace | None = None, style: HouseStyle | None = None, tail: int | None = None) -> str:
    """``word/document.xml`` for the parts, one after another, the 版记 of the whole at the end
    (``place``: see :class:`ColophonPlace`; None: the default of :func:`document_view`; ``tail``:
    see :func:`document_view`)."""
    base = base_package()
    view = document_view(parts, place, style, tail)
    return _template().render(
        head=Markup(base.document_head),
        doc=view,
        # the numbered section: in the letter format (信函格式) without a number on page 1
        first_sect_pr=Markup(base.sect_pr_letter if view.parts[0].format is DocFormat.letter else base.sect_pr),
        sect_pr_unnumbered=Markup(base.sect_pr_unnumbered),
    )


def render_docx_bytes(parts: Sequence[DocumentContent], place: ColophonPlace | None = None, style: HouseStyle | None = None, tail: int | None = None) -> bytes:
    """The .docx bytes: the base package plus the rendered ``word/document.xml`` (``style``: the
    issuer's house style, config/schema.HouseStyle)."""
    body = render_document_xml(parts, place, style, tail).encode("utf-8")
    buffer = io.BytesIO(base_package().zip_bytes)
    with zipfile.ZipFile(buffer, "a") as package:
        package.writestr(zip_entry(DOCUMENT_PART), body, compresslevel=DOCUMENT_COMPRESSLEVEL)
    return buffer.getvalue()


def render_docx(
    parts: Sequence[DocumentContent], path: Path, place: ColophonPlace | None = None, style: HouseStyle | None = None, tail: int | None = None
) -> RenderResult:
    """Render the parts into one .docx at ``path`` (a forwarding document: cover letter first,
    then the forwarded document as issued, then the 版记; page numbers run on)."""
    path = Path(path)
    data = render_docx_bytes(parts, place, style, tail)
    write_atomically(data, path)
    return RenderResult(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
