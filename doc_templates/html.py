"""The document as it will print (打印预览), in HTML: the same layout view as the .docx.

:func:`render_html` lays out the parts with :func:`gongwen_engine.doc_templates.elements.document_view`
(the :class:`~gongwen_engine.doc_templates.elements.PartView` the .docx template reads) and
writes them with ``gbt9704/document.html.j2``: A4 sheets with the GB/T 9704-2012 margins and
type area, the 22-line grid pitch, the red mark scaled as in the .docx, the number, the red
line, the title, the recipients, the body with its heading fonts, signature and date at their
computed indents, notes, attachments and the colophon with its thick and thin lines. Every
figure comes from :mod:`gongwen_engine.doc_templates.layout`; this module only converts units.

Not paginated: a part is one sheet that grows with its text (the .docx, opened in Word or
LibreOffice, is the page-exact copy one click away). ``@page`` rules make the browser's own
print use A4 and the same margins.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import jinja2
from markupsafe import Markup

from gongwen_engine.doc_templates import layout
from gongwen_engine.doc_templates.elements import document_view
from gongwen_engine.doc_templates.render import gbt9704_environment
from gongwen_engine.models.content import DocumentContent

TEMPLATE_NAME = "document.html.j2"

# CSS font stacks: the face the standard names first, then what an office PC and a Debian
# machine (fonts-noto-cjk) have. Single quotes: the stacks also go into style="…" attributes.
FONT_STACKS = {
    layout.FONT_FANGSONG: "'仿宋_GB2312', '仿宋', FangSong, STFangsong, 'Noto Serif CJK SC', serif",
    layout.FONT_KAITI: "'楷体_GB2312', '楷体', KaiTi, STKaiti, 'Noto Serif CJK SC', serif",
    layout.FONT_HEITI: "'黑体', SimHei, STHeiti, 'Noto Sans CJK SC', sans-serif",
    layout.FONT_XIAOBIAOSONG: "'方正小标宋简体', '方正小标宋_GBK', '华文中宋', STZhongsong, 'Noto Serif CJK SC', serif",
    layout.FONT_SONGTI: "'宋体', SimSun, 'Noto Serif CJK SC', serif",
}


def pt(twips: float) -> str:
    """Twips as a CSS length in points."""
    return f"{twips / layout.TWIPS_PER_PT:.2f}pt"


def font(name: str) -> Markup:
    """The CSS ``font-family`` for a font the layout names."""
    return Markup(FONT_STACKS.get(name, FONT_STACKS[layout.FONT_FANGSONG]))


def border_pt(eighths: int) -> str:
    """A border width given in eighths of a point (``w:sz`` of borders) as CSS points."""
    return f"{eighths / 8:.3f}pt"


@cache
def _template() -> jinja2.Template:
    env = gbt9704_environment()
    env.globals.update(pt=pt, font=font, border_pt=border_pt)
    return env.get_template(TEMPLATE_NAME)


def render_html(parts: Sequence[DocumentContent]) -> Markup:
    """The parts (a cover letter and what it forwards) as HTML sheets, ready to embed in a page."""
    return Markup(_template().render(doc=document_view(parts)))
