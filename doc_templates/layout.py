"""Layout figures of GB/T 9704-2012 《党政机关公文格式》 in one place, with unit helpers.

Every figure the .docx renderer (and its benchmark baseline) uses lives here, named after
the standard's own terms. WordprocessingML units:

* twips (twentieths of a point, 1440 per inch): page size, margins, indents, spacing;
* half-points: font sizes (``w:sz``);
* eighths of a point: border widths (``w:sz`` of ``w:pBdr``/``w:tcBorders``);
* 4096ths of a point: the character-grid correction ``w:charSpace``.
"""

from __future__ import annotations

import math
import unicodedata

# --- unit helpers -------------------------------------------------------------------------

TWIPS_PER_INCH = 1440
MM_PER_INCH = 25.4
TWIPS_PER_PT = 20


def mm_to_twips(mm: float) -> int:
    """Millimetres -> twips, rounded to the nearest twip."""
    return round(mm * TWIPS_PER_INCH / MM_PER_INCH)


def twips_to_mm(twips: float) -> float:
    """Twips -> millimetres."""
    return twips * MM_PER_INCH / TWIPS_PER_INCH


def pt_to_twips(pt: float) -> int:
    """Points -> twips, rounded."""
    return round(pt * TWIPS_PER_PT)


def pt_to_half_points(pt: float) -> int:
    """Points -> half-points, the unit of ``w:sz`` for fonts."""
    return round(pt * 2)


# --- 字号 Chinese type sizes, in points (domain README §1) ----------------------------------

CHUHAO = 42.0  # 初号
XIAOCHU = 36.0  # 小初
YIHAO = 26.0  # 一号
ERHAO = 22.0  # 二号
SANHAO = 16.0  # 三号
SIHAO = 14.0  # 四号

# --- fonts (East-Asian names as the standard names them; Latin face for digits) -----------

FONT_FANGSONG = "仿宋_GB2312"  # 仿宋: body text
FONT_HEITI = "黑体"  # 黑体: level-1 headings, 密级, 紧急程度, 附件 label, 主题词 label
FONT_KAITI = "楷体_GB2312"  # 楷体: level-2 headings, the signer's name
FONT_XIAOBIAOSONG = "方正小标宋简体"  # 小标宋: issuing-authority mark, titles
FONT_SONGTI = "宋体"  # 宋体: page numbers
FONT_LATIN = "Times New Roman"  # ascii/hAnsi face for digits and Latin letters in the text

# Fallbacks written to word/fontTable.xml as ``w:altName``: Word substitutes the alternative
# when the named font is missing (a machine without the GB2312-era fonts still has 仿宋/楷体).
FONT_FALLBACKS: dict[str, str] = {
    FONT_FANGSONG: "仿宋",
    FONT_KAITI: "楷体",
    FONT_XIAOBIAOSONG: "宋体",
    FONT_HEITI: "SimHei",
    FONT_SONGTI: "SimSun",
}

RED = "FF0000"  # 红色: the mark and the separator line under the document number

# --- page (GB/T 9704-2012 §6.2) -------------------------------------------------------------

PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_TOP_MM = 37.0  # 天头
MARGIN_BOTTOM_MM = 35.0
MARGIN_LEFT_MM = 28.0  # 订口
MARGIN_RIGHT_MM = 26.0

PAGE_WIDTH = mm_to_twips(PAGE_WIDTH_MM)  # 11906
PAGE_HEIGHT = mm_to_twips(PAGE_HEIGHT_MM)  # 16838
MARGIN_TOP = mm_to_twips(MARGIN_TOP_MM)
MARGIN_BOTTOM = mm_to_twips(MARGIN_BOTTOM_MM)
MARGIN_LEFT = mm_to_twips(MARGIN_LEFT_MM)
MARGIN_RIGHT = mm_to_twips(MARGIN_RIGHT_MM)
TYPE_AREA_WIDTH = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT  # 版心 156 mm
TYPE_AREA_HEIGHT = PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM  # 版心 225 mm

# --- grid: 22 lines x 28 characters ---------------------------------------------------------

LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
# 225 mm / 22 = 579.8 twips; 580 would push the 22nd line past the type area, so 579.
LINE_PITCH = 579
BODY_SIZE = SANHAO  # 三号: the default font size, also the Normal style's size
# 调整行距 (GB/T 9704-2012 §7.3.5: when the space left cannot hold the signature and date, adjust
# the line or character spacing): the line pitches tried, tightest last, when the last paragraph
# cannot be split and its move with the signature would leave page 1 without text (pages.py).
# Fractions of the pitch (the grid's 579 twips, or a house style's): 90 % of 579 is 521 twips, 24
# lines a page instead of 22; tighter reads crowded.
SQUEEZES = (0.97, 0.93, 0.90)


def grid_char_space(width_twips: int = TYPE_AREA_WIDTH, chars: int = CHARS_PER_LINE, font_pt: float = BODY_SIZE) -> int:
    """``w:charSpace`` for ``chars`` characters per line: the pitch minus the Normal font size.

    Word and LibreOffice both take the character pitch as the Normal style's East-Asian font
    size plus charSpace/4096 pt. Floor, so that 28 pitches never exceed the type area.
    """
    pitch_pt = width_twips / TWIPS_PER_PT / chars
    return math.floor((pitch_pt - font_pt) * 4096)


CHAR_SPACE = grid_char_space()  # -842: pitch 15.794 pt = 5.57 mm
# The 28 characters per line come from character spacing, not from snapping to the grid:
# LibreOffice gives every 16 pt character two 15.8 pt grid cells (14 per line), so all
# paragraphs are off the character grid (Normal: snapToGrid 0) and the Normal style narrows
# each character by 0.3 pt (w:spacing -6 twips) to a 15.7 pt pitch: 28 × 15.7 = 439.6 pt of
# the 442.25 pt line, the slack covering renderers' rounding (LibreOffice broke 28 × 15.75
# after 27). The grid stays in the section: it fixes the line pitch and is what Word shows.
BODY_CHAR_SPACING = math.floor(TYPE_AREA_WIDTH / CHARS_PER_LINE - pt_to_twips(BODY_SIZE)) - 1
CHAR = pt_to_twips(BODY_SIZE) + BODY_CHAR_SPACING  # one 三号 character's advance: 314 twips
# 二号 title characters a line: the Normal style's narrowing applies to the title's runs too
# (22 pt - 0.3 pt = 21.7 pt a character): 20 of them in the 442.25 pt line.
TITLE_CHARS_PER_LINE = math.floor(TYPE_AREA_WIDTH / (pt_to_twips(ERHAO) + BODY_CHAR_SPACING))
SIHAO_CHAR = pt_to_twips(SIHAO)  # one 四号 character (colophon, page numbers): 280 twips

# --- header 版头 (§7.2) --------------------------------------------------------------------

MARK_TOP_MM = 35.0  # the mark's top edge below the top of the type area
# Mark size: we keep 初号 (42 pt) for every mark so that the red headers of a cascade look
# alike, and compress the characters horizontally (w:w, Word's 字符缩放) when the name is
# wider than the type area — the usual practice for long names such as
# 中华全国妇女联合会文件 (11 × 42 pt = 163 mm > 156 mm -> 95 %). Below MARK_MIN_SCALE the
# glyphs get too thin, so very long (joint) marks step down to the next size first.
MARK_SIZES = (CHUHAO, XIAOCHU, YIHAO)
MARK_MIN_SCALE = 60  # per cent
RED_LINE_GAP_MM = 4.0  # the red separator line 4 mm below the document number
RED_LINE_SZ = 12  # 1.5 pt (≈ 0.53 mm): the standard gives no width; 1–2.25 pt is usual
# The line is the bottom border of the number's paragraph; ``w:space`` (points) counts from
# the bottom of the number's 579-twip line box, whose 三号 glyphs end about 1.5 mm above it
# (measured in LibreOffice's PDF; the em box sits low in an exact-height line). 4 mm - 1.5 mm
# = 7 pt.
RED_LINE_SPACE = 7
# The border adds its space and width to the number's paragraph; the blank line under it is
# shortened by as much, so the title and the text below stay on the 579-twip line grid (and
# a page keeps its 22 lines).
RED_LINE_HEIGHT = round((RED_LINE_SPACE + RED_LINE_SZ / 8) * TWIPS_PER_PT)
LINE_UNDER_RED_LINE = LINE_PITCH - RED_LINE_HEIGHT

# --- 信函格式 letter format (§10.1, domain README §3.5) -----------------------------------------

LETTER_MARK_TOP_MM = 30.0  # the mark's top edge 30 mm from the top of the page
LETTER_MARK_TOP = mm_to_twips(LETTER_MARK_TOP_MM)
LETTER_LINE_WIDTH = mm_to_twips(170.0)  # both red double lines are 170 mm long, centred
LETTER_LINE_LEFT = (PAGE_WIDTH - LETTER_LINE_WIDTH) // 2
LETTER_LINE_SPACE = 11  # points: the double line 4 mm (11.3 pt) below the mark
LETTER_LINE_SZ = 18  # 2.25 pt: a double line's total width (eighths of a point)
LETTER_BOTTOM_LINE = PAGE_HEIGHT - mm_to_twips(20.0)  # the second double line 20 mm from the bottom

# --- 命令（令）格式 order format (§10.2, domain README §3.5) ------------------------------------------

ORDER_MARK_TOP_MM = 20.0  # the mark ("XXXX命令" / "XXXX令") 20 mm below the top of the type area
ORDER_NUMBER_GAP_LINES = 2  # the order number two blank lines below the mark, the text two below it

# --- colophon 版记 (§7.4) -------------------------------------------------------------------
# Thick lines 0.35 mm = 0.99 pt -> 8 eighths; thin 0.25 mm = 0.71 pt -> 6 eighths (0.75 pt,
# the nearest width Word offers).
COLOPHON_THICK_SZ = 8
COLOPHON_THIN_SZ = 6
COLOPHON_SIZE = SIHAO  # 四号

# --- page numbers (§7.5) --------------------------------------------------------------------

PAGE_NUMBER_SIZE = SIHAO  # 四号 half-width 宋体 digits
PAGE_NUMBER_GAP_MM = 7.0  # below the type area
PAGE_NUMBER_LINE = pt_to_twips(SIHAO)  # the footer line's exact height: one 四号 em
# Word's footer distance runs from the page's bottom edge to the footer's last line, so the
# footer line's top edge sits 7 mm below the type area when the distance is the bottom margin
# minus 7 mm minus the line height.
FOOTER_DISTANCE = MARGIN_BOTTOM - mm_to_twips(PAGE_NUMBER_GAP_MM) - PAGE_NUMBER_LINE
HEADER_DISTANCE = mm_to_twips(15.0)  # no header is used; any value inside the top margin


def char_width_em(ch: str) -> float:
    """Advance of one character in ems: full-width (CJK) 1, half-width (digits, Latin) 0.5."""
    return 1.0 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 0.5


def text_width_em(text: str) -> float:
    """Estimated width of ``text`` in ems of its font size (ideographs 1 em, digits 0.5 em)."""
    return sum(char_width_em(ch) for ch in text)
