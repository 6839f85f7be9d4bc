"""Drafting (拟稿) documents from the templates in ``doc_templates/``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import jinja2

from gongwen_engine.config.schema import Organisation
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.doc_kinds import Direction
from gongwen_engine.models.rules.titles import forwarding_title, nest_book_title_marks, reply_title

TEMPLATES_DIR = Path(__file__).parent


@dataclass(frozen=True)
class DocRef:
    """How a template refers to another document: its issuer's short name, title and number."""

    issuer: str
    title: str
    doc_number: str


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    env.filters["nest"] = nest_book_title_marks
    return env


def render_paragraphs(template: str, **context: object) -> list[str]:
    """Render a text template; blank lines separate paragraphs."""
    text = _env().get_template(template).render(**context)
    return [" ".join(block.split()) for block in text.split("\n\n") if block.strip()]


def draft_forwarding_notice(
    org: Organisation,
    original: DocRef,
    received: DocRef,
    issued_on: date,
    template: str = "forwarding_notice.j2",
    main_recipients: list[str] | None = None,
    requirement: str | None = None,
) -> DocumentContent:
    """The cover letter (转发通知) with which ``org`` forwards ``received`` to its children (or to
    ``main_recipients``, those picked at 批办), addressed by the collective name by default;
    ``requirement``: what it asks of them (None: the template's usual phrase)."""
    return DocumentContent(
        doc_type="通知",
        issuer_mark=org.mark,
        title=forwarding_title(original.issuer, original.title),
        main_recipients=main_recipients or [org.children_as or "各下级组织"],
        body=render_paragraphs(template, original=original, received=received, org=org, requirement=requirement),
        signature=org.name,
        issued_on=issued_on,
        sealed=True,  # 加盖印章: the flows seal what they issue (用印 step), so lay out name and date for it
        printed_by=org.printed_by,
        printed_on=issued_on,
    )


def draft_reply(org: Organisation, received: DocRef, upward: bool, issued_on: date, template: str = "reply.j2") -> DocumentContent:
    """答复: ``org``'s reply to the sender of ``received`` — a 报告 to a superior (with 签发人), else a
    函 — addressed to the sender by its short name, the received document as its reference."""
    return DocumentContent(
        doc_type="报告" if upward else "函",
        direction=Direction.up if upward else Direction.parallel,
        issuer_mark=org.mark,
        title=reply_title(received.title, upward),
        main_recipients=[received.issuer],
        body=render_paragraphs(template, received=received, org=org, upward=upward),
        signature=org.name,
        issued_on=issued_on,
        sealed=True,
        printed_by=org.printed_by,
        printed_on=issued_on,
    )
