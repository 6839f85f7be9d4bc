"""Drafting (拟稿) documents from the templates in ``doc_templates/``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import jinja2

from gongwen_engine.config.schema import Organisation
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.titles import forwarding_title, nest_book_title_marks

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
    org: Organisation, original: DocRef, received: DocRef, issued_on: date, template: str = "forwarding_notice.j2", requirement: str | None = None
) -> DocumentContent:
    """The cover letter (转发通知) with which ``org`` forwards ``received`` to its children;
    ``requirement``: what it asks of them (None: the template's usual phrase)."""
    return DocumentContent(
        doc_type="通知",
        issuer_mark=org.mark,
        title=forwarding_title(original.issuer, original.title),
        main_recipients=[org.children_as or "各下级组织"],
        body=render_paragraphs(template, original=original, received=received, org=org, requirement=requirement),
        signature=org.name,
        issued_on=issued_on,
        sealed=True,  # 加盖印章: the flows seal what they issue (用印 step), so lay out name and date for it
        printed_by=org.printed_by,
        printed_on=issued_on,
    )
