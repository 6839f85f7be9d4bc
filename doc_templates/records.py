"""Process records: the draft sheet (发文稿纸) and the incoming processing slip (收文处理单).

Both are re-issued after every human step (and after automatic steps a flow marks with
``record: true``) from the circulation's work items, so each opinion, instruction (批示) and
reading mark appears verbatim with the person and the date. python-docx builds them: a record
is a small table, written once per step, so its ~20 ms does not matter.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

from docx import Document as Docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from sqlmodel import Session, select

from gongwen_engine.models.dates import format_cn_date
from gongwen_engine.models.tables import Circulation, Document, Registration, WorkItem

from . import layout
from .render import RenderResult, write_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from gongwen_engine.flows.engine import Engine

TITLES = {"draft_sheet": "发文稿纸", "processing_slip": "收文处理单"}

# How an outcome reads on a record.
OUTCOME_WORDS = {
    "approve": "同意",
    "return": "退回",
    "submit": "提交",
    "read": "已阅",
    "forward": "转发",
    "file": "存档",
    "reply": "答复",
    "reject": "不予受理",
    "done": "已办",
}


def outcome_word(outcome: str | None) -> str:
    return OUTCOME_WORDS.get(outcome or "", outcome or "")


def actor_name(engine: "Engine", actor: str | None) -> str:
    """A person's name; a policy reads as what it is (演示策略自动办理), never as a person."""
    if actor in engine.config.users:
        return engine.config.users[actor].name
    if actor and actor.startswith("policy:"):
        return f"（策略“{actor.removeprefix('policy:')}”自动办理）"
    return {"system": "（系统）"}.get(actor or "", actor or "")


def record_rows(engine: "Engine", session: Session, circ: Circulation, kind: str) -> list[tuple[str, str]]:
    """(label, text) rows: the document's particulars, then every person's action in order."""
    org = engine.config.org(circ.org)
    rows: list[tuple[str, str]] = []
    doc = session.get(Document, circ.document_id) if circ.document_id else None
    received = session.get(Document, circ.received_id) if circ.received_id else None
    if kind == "processing_slip" and received is not None:
        reg = session.exec(select(Registration).where(Registration.org == circ.org, Registration.document_id == received.id)).first()
        sender = engine.config.organisations.get(received.org)
        rows += [
            ("收文登记号", reg.register_number if reg else "（待登记）"),
            ("收文日期", format_cn_date(engine.business_date(circ)) if reg else ""),
            ("来文单位", sender.name if sender else received.org),
            ("来文字号", received.doc_number or "（无）"),
            ("标题", received.title),
        ]
    if doc is not None:
        content = doc.content
        rows += [
            ("发文字号", doc.doc_number or "（待编号）"),
            ("标题" if kind == "draft_sheet" else "转发文稿", doc.title),
            ("主送", "，".join(content.get("main_recipients") or [])),
            ("抄送", "，".join(content.get("cc") or [])),
            ("文稿版本", f"第{doc.version}稿"),
        ]
    steps = engine.flow(circ.flow).steps
    items = session.exec(select(WorkItem).where(WorkItem.circulation_id == circ.id, WorkItem.kind == "human", WorkItem.status == "done").order_by(WorkItem.finished_at, WorkItem.id))
    for item in items:
        title = steps[item.step].title if item.step in steps else item.step
        person = actor_name(engine, item.actor)
        if item.acted_for and item.acted_for in engine.config.users:
            person += f"（代{engine.config.users[item.acted_for].name}）"
        opinion = outcome_word(item.outcome) + (f"：{item.comment}" if item.comment else "")
        when = format_cn_date(item.finished_at.date()) if item.finished_at else ""
        rows.append((title, f"{opinion}　{person}　{when}"))
    rows.append(("单位", org.name))
    return rows


def render_record(engine: "Engine", session: Session, circ: Circulation, kind: str, path: "Path") -> RenderResult:
    """Write the record of ``kind`` for ``circ`` to ``path`` (atomically)."""
    doc = Docx()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(layout.PAGE_WIDTH_MM), Mm(layout.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(layout.MARGIN_TOP_MM), Mm(layout.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(layout.MARGIN_LEFT_MM), Mm(layout.MARGIN_RIGHT_MM)
    heading = doc.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(heading, f"{engine.config.org(circ.org).short_name}{TITLES[kind]}", layout.FONT_XIAOBIAOSONG, layout.ERHAO, color=True)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, text in record_rows(engine, session, circ, kind):
        cells = table.add_row().cells
        cells[0].width, cells[1].width = Mm(30), Mm(126)
        _run(cells[0].paragraphs[0], label, layout.FONT_HEITI, layout.SIHAO)
        _run(cells[1].paragraphs[0], text, layout.FONT_FANGSONG, layout.SIHAO)
    buffer = io.BytesIO()
    doc.save(buffer)
    data = buffer.getvalue()
    write_atomically(data, path)
    return RenderResult(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _run(paragraph, text: str, font: str, size: float, color: bool = False) -> None:  # noqa: ANN001
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.font.name = font
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)
    if color:
        from docx.shared import RGBColor

        run.font.color.rgb = RGBColor.from_string(layout.RED)
