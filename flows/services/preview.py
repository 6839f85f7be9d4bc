"""打印预览 of a draft before anything is launched: ``gongwen preview FILE.yaml --out DIR``.

Writes the .docx and its PDF exactly as 印制 and 用印 would lay them out (``doc_templates/pages``:
the 版记 on an even page; LibreOffice for the pages) and lists the layout problems the GB/T 9704
page checks find (``doc_templates/checks``), in Chinese, so a secretary sees them before 签发.
Nothing is launched and nothing is stored in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.schema import HouseStyle
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.checks import Problem, check_pdf
from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf, page_texts
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.models.content import DocumentContent

# The number is given at 编号, after 签发: the preview shows where it will stand.
NUMBER_PLACEHOLDER = "〔待编号〕"


@dataclass(frozen=True)
class Preview:
    """What ``gongwen preview`` wrote and found."""

    org: str
    docx: Path
    pdf: Path
    pages: int
    problems: list[Problem]


def house_style(org: str) -> HouseStyle | None:
    """The organisation's house style from the config folder in use (none if it is unknown)."""
    config = load_config(Settings().config_dir)
    return config.organisations[org].house_style if org in config.organisations else None


def preview(notice: Path, out: Path) -> Preview:
    """Lay out the draft of ``notice`` (a launch file: org: and content:) into ``out``."""
    org, content = load_notice(notice)
    return preview_content(org, content, out, notice.stem, house_style(org))


def preview_content(org: str, content: DocumentContent, out: Path, name: str, style: HouseStyle | None) -> Preview:
    """Lay out ``content`` of ``org`` as 印制 and 用印 would, into ``out/name.docx`` and ``.pdf``, and
    check its pages (the web compose page's 预览 and ``gongwen preview`` both come here)."""
    if not content.doc_number:
        content = content.model_copy(update={"doc_number": NUMBER_PLACEHOLDER})
    out.mkdir(parents=True, exist_ok=True)
    docx = out / f"{name}.docx"
    render_issued([content], docx, style)
    pdf_bytes = docx_bytes_to_pdf(docx)
    pdf = out / f"{name}.pdf"
    write_atomically(pdf_bytes, pdf)
    return Preview(org, docx, pdf, len(page_texts(pdf_bytes)), check_pdf(pdf_bytes, [content]))
