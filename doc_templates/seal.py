"""用印: where the seal goes on the fixed-layout copy, and the specimen seal of the demo.

GB/T 9704-2012 §7.3.5.1 (sealed documents, one issuer): the date of writing four characters
in from the right, the organisation's name centred above it; the seal, upright, centred on
them and pressing both, so that the name and date sit a little below the seal's centre, its
top within one line of the text above. The rendered .docx already lays out the name and the
date (``elements.signature_block``); here we find where LibreOffice actually put them on the
page (text positions read with pdfium, ``pdf_lines.py``, not computed from the layout figures) and place
the seal over them, never over the body text.

gongwen never draws a realistic seal: an organisation's seal image comes from its own file
(``config/seals.yaml``); without one it gets :func:`specimen_png`, a red ring with the name,
演示用 and 样章, which nobody can take for a real seal.
"""

from __future__ import annotations

import functools
import io
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gongwen_engine.config.errors import Refusal
from gongwen_engine.doc_templates.pdf import page_texts
from gongwen_engine.doc_templates.pdf_lines import Line, PageLines, read_pages, squash

if TYPE_CHECKING:
    from PIL import Image, ImageFont

MM_PER_PT = 25.4 / 72
SPECIMEN_DPI = 300
SEAL_RED = (220, 20, 30)
SEAL_ALPHA = 215  # a stamp lets the printed text show through a little
# "Name and date a little below the seal's centre": the centre sits this share of the
# diameter above the middle of the name-and-date block *(common practice; the standard
# only says 偏下)*.
CENTRE_ABOVE_BLOCK = 0.08
TEXT_GAP_PT = 1.0  # the seal's top stays this far below the last line of text


class SealPlacementError(Refusal):
    """The name or date of writing cannot be found where a seal must go."""


@dataclass(frozen=True)
class Box:
    """A rectangle on a page: points from the top left (``pdf_lines.Line``'s coordinates)."""

    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def centre_x(self) -> float:
        return (self.x0 + self.x1) / 2

    def intersects(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.top < other.bottom and other.top < self.bottom

    def pdf_rect(self, page_height: float) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2) in PDF user space (origin bottom-left), as signature fields want."""
        return (self.x0, page_height - self.bottom, self.x1, page_height - self.top)


@dataclass(frozen=True)
class SignatureSpot:
    """Where the 发文机关署名 and 成文日期 are: page (0-based), their boxes, the text above."""

    page: int
    page_height: float
    date: Box
    name: Box | None
    text_bottom: float | None  # bottom of the lowest line above the signature on that page


def find_signature(pdf: bytes, date_text: str, name: str | None, texts: list[str] | None = None) -> SignatureSpot:
    """The first line that is exactly the date of writing, with the name on the line above.

    Lines are compared without spaces (PDF text extraction puts spaces between digits and
    Chinese). The colophon's "2012年1月31日印发" is not a match; a forwarded document that
    follows the cover letter has its own date further on, so the first match is ours.
    """
    want_date, want_name = squash(date_text), squash(name) if name else None
    # pdfium's plain text finds the pages that hold the date at all; their lines are read first,
    # in order (the others after them, should the plain text differ)
    texts = page_texts(pdf) if texts is None else texts  # ``texts``: the caller's ``page_texts(pdf)``, if it has them
    candidates = [i for i, text in enumerate(texts) if want_date in squash(text)]
    for pages in (candidates, [i for i in range(len(texts)) if i not in candidates]):
        read = read_pages(pdf, pages)
        for index in pages:
            spot = _signature_on(index, read[index], want_date, want_name) if index in read else None
            if spot is not None:
                return spot
    raise SealPlacementError(
        f"成文日期“{date_text}”{'及其上方的署名“' + name + '”' if name else ''}未在版式文件中找到，无法确定用印位置"
        "（the date of writing was not found as a line of its own; is the document laid out as sealed?）"
    )


def _signature_on(index: int, page: PageLines, want_date: str, want_name: str | None) -> SignatureSpot | None:
    """The signature on one page: a line that is the date, under the name when one is wanted."""
    lines = page.lines
    for i, line in enumerate(lines):
        if line.text != want_date:
            continue
        above = lines[:i]
        name_box = None
        if want_name and above and above[-1].text == want_name:
            name_box, above = _box(above[-1]), above[:-1]
        if want_name and name_box is None:
            continue  # a date line without the name over it is not the signature
        text_bottom = max((line_above.bottom for line_above in above), default=None)
        return SignatureSpot(index, page.height, _box(line), name_box, text_bottom)
    return None


def _box(line: Line) -> Box:
    return Box(line.x0, line.top, line.x1, line.bottom)


def seal_box(spot: SignatureSpot, diameter_mm: float) -> Box:
    """The seal's square: centred on the name and date, pressing both, clear of the text."""
    d = diameter_mm / MM_PER_PT
    r = d / 2
    first = spot.name or spot.date
    centre_x = (first.centre_x + spot.date.centre_x) / 2
    centre_y = (first.top + spot.date.bottom) / 2 - CENTRE_ABOVE_BLOCK * d
    if spot.text_bottom is not None and centre_y - r < spot.text_bottom + TEXT_GAP_PT:
        centre_y = spot.text_bottom + TEXT_GAP_PT + r
    return Box(centre_x - r, centre_y - r, centre_x + r, centre_y + r)


# ---- the specimen seal (样章) ------------------------------------------------------------------


@functools.cache
def cjk_font_file() -> tuple[str, int]:
    """A bold CJK font (file, index) from fontconfig, for the specimen's lettering."""
    for pattern in ("Noto Sans CJK SC:style=Bold", "Noto Sans CJK SC", "sans-serif:lang=zh-cn"):
        try:
            found = subprocess.run(["fc-match", "-f", "%{file}\t%{index}\t%{lang}", pattern], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            break
        file, _, rest = found.partition("\t")
        index, _, langs = rest.partition("\t")
        if file and "zh-cn" in langs.split("|"):
            return file, int(index or 0)
    raise SealPlacementError("没有可用的中文字体，无法绘制样章。请安装：apt-get install fonts-noto-cjk（no CJK font found by fc-match）")


@functools.lru_cache(maxsize=64)  # the PNG of the picture below, for an OFD's seal and for files (~20 ms to encode)
def specimen_png(org_name: str, diameter_mm: float) -> bytes:
    """样章 as a PNG (:func:`specimen_image`)."""
    out = io.BytesIO()
    specimen_image(org_name, diameter_mm).save(out, format="PNG", optimize=False)
    return out.getvalue()


# The same picture for every document an organisation seals (~14 ms to draw); ~1 MB each (496 ×
# 496 RGBA at 300 dpi), and an organisation seals a document or two at a time: a few are kept.
@functools.lru_cache(maxsize=8)
def specimen_image(org_name: str, diameter_mm: float) -> Image.Image:
    """样章: a red ring, the organisation's name along the top, 演示用 in the middle, 样章 below
    (RGBA, SPECIMEN_DPI; shared: callers must not draw on it).

    Deliberately unlike a real seal (no star, the words 演示用 and 样章), so that no output of
    the demo can pass for a sealed document of a real organisation.
    """
    from PIL import Image, ImageDraw, ImageFont

    size = round(diameter_mm / 25.4 * SPECIMEN_DPI)
    mm = size / diameter_mm
    font_file, font_index = cjk_font_file()
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = (*SEAL_RED, SEAL_ALPHA)
    ring = round(1.2 * mm)
    draw.ellipse((ring // 2, ring // 2, size - 1 - ring // 2, size - 1 - ring // 2), outline=colour, width=ring)
    inner = round(3.2 * mm)
    draw.ellipse((inner, inner, size - 1 - inner, size - 1 - inner), outline=colour, width=max(1, round(0.3 * mm)))
    font = functools.partial(ImageFont.truetype, font_file, index=font_index)
    _arc_text(image, org_name, font(round(4.6 * mm)), size / 2 - 6.2 * mm, colour)
    centre = size / 2
    draw.text((centre, centre + 0.5 * mm), "演示用", font=font(round(6.0 * mm)), fill=colour, anchor="mm")
    draw.text((centre, centre + 8.5 * mm), "样章", font=font(round(4.4 * mm)), fill=colour, anchor="mm")
    return image


def _arc_text(image: Image.Image, text: str, font: ImageFont.FreeTypeFont, radius: float, colour: tuple[int, int, int, int]) -> None:
    """Characters upright to the rim along the top arc, centred on the top (at most 220°)."""
    from PIL import Image, ImageDraw

    size = image.width
    step = min(math.radians(220) / max(len(text), 1), 1.1 * font.size / radius)
    tile = round(font.size * 1.6)
    for i, char in enumerate(text):
        angle = (i - (len(text) - 1) / 2) * step  # 0 = top, clockwise positive
        glyph = Image.new("RGBA", (tile, tile), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((tile / 2, tile / 2), char, font=font, fill=colour, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle), resample=Image.Resampling.BICUBIC)
        x = size / 2 + radius * math.sin(angle) - tile / 2
        y = size / 2 - radius * math.cos(angle) - tile / 2
        image.alpha_composite(glyph, (round(x), round(y)))


def seal_image(configured: Path | None, org_name: str, diameter_mm: float) -> bytes:
    """The organisation's own seal image file if configured, else the specimen's PNG (an OFD's seal)."""
    if configured is not None:
        return configured.read_bytes()
    return specimen_png(org_name, diameter_mm)


def seal_picture(configured: Path | None, org_name: str, diameter_mm: float) -> Image.Image:
    """The picture a PDF's signature shows: the organisation's own seal image if configured, else
    the specimen as drawn — no PNG written and read back for it (~25 ms a document)."""
    if configured is None:
        return specimen_image(org_name, diameter_mm)
    from PIL import Image

    with Image.open(io.BytesIO(configured.read_bytes())) as image:
        image.load()
        return image.copy()
