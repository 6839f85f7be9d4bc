"""One page for certain, without a layout: a safe upper bound of a .docx body's height.

归档 counts an item's pages (页数) with LibreOffice; a document whose body surely fits the page's
type area has one page and need not be converted (the national cascade's ~380 processing slips
and draft sheets). The bound follows the XML's own semantics and errs only upward:

- a paragraph's height is its spacing before and after plus its lines × the line height its
  ``w:spacing`` rule gives (``auto``: ``line``/240 × the font's height; ``atLeast``: the larger of
  the two; ``exact``: ``line``), an attribute the paragraph does not set coming from the nearest
  source that does (its style chain or its table's style — the larger where both do —, then
  docDefaults: ECMA-376 17.7.2, and what LibreOffice does: a record's cell is single-spaced as
  its Table Grid says, its heading 1.15-spaced with 10 pt after as docDefaults say);
- the font's height is ``FONT_HEIGHT_EM`` × the largest size in the paragraph (its mark
  included): above every face the LibreOffice processes use (``fonts.conf``: Noto Serif / Sans
  CJK SC 1.437 / 1.448 em — a record's 14 pt line is 20.1 pt in LibreOffice's PDF —, AR PL
  KaitiM GB 1.08, LXGW WenKai 1.32, DejaVu 1.18, as their hhea and OS/2 tables say);
- lines are counted by filling them first-fit, as LibreOffice does, with every character at
  least as wide as any of those faces draws it (``char_em``) and fewer places to break a line
  than LibreOffice has (between two ideographs, after a space between words: ``_may_break``);
- a table row is its ``w:trHeight`` or its tallest cell (cell margins included), whichever is
  larger, plus its borders. The empty paragraph Writer adds after a closing table is left out:
  it has no text, and 页数 counts the pages with text.

Whatever the bound does not model (pictures, text boxes, frames, floating tables, nested
tables, merged rows, numbering, headers and footers, a document grid, several sections, page
breaks, letter spacing) makes it give up: the document is then converted, as before.
"""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Iterator

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}
FONT_HEIGHT_EM = 1.5  # line height of a single-spaced line, in font sizes (see the module's note)
DEFAULT_TAB_PT = 72.0  # a tab advances at most this far (the default stop is 36 pt)
SIDES = ("top", "bottom", "left", "right")
WORD_DEFAULT_SIZE_PT = 10.0  # w:sz where neither docDefaults nor a style sets one
# Elements whose layout the bound does not model: give up (convert the document).
UNMODELLED = (
    "drawing",
    "pict",
    "object",
    "txbxContent",
    "framePr",
    "numPr",
    "pageBreakBefore",
    "tblpPr",
    "vMerge",
    "tblCellSpacing",
    "sdt",
    "footnoteReference",
    "endnoteReference",
    "ruby",
    "rStyle",
    "textDirection",
    "position",
    "fitText",
    "eastAsianLayout",
    "delText",
)


class Unmodelled(Exception):
    """The document has something the bound does not model."""


def _attr(el: etree._Element | None, name: str) -> str | None:
    return None if el is None else el.get(f"{{{W}}}{name}")


def _num(el: etree._Element | None, name: str) -> float | None:
    value = _attr(el, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError as exc:
        raise Unmodelled(f"w:{name}={value!r}") from exc


def char_em(ch: str) -> float:
    """A character's advance in font sizes, at least as wide as the stand-in faces draw it: full
    width (ideographs, CJK punctuation, ambiguous-width symbols) 1 em, outside the BMP's
    emoji blocks 2 em, digits, spaces and thin ASCII punctuation 0.7 em, anything else 1 em."""
    if (ch.isdigit() and ch.isascii()) or ch in " .,:;-()/'\"!|[]":
        return 0.7
    if ord(ch) >= 0x1F000:
        return 2.0
    return 1.0


def _ideograph(ch: str) -> bool:
    """A CJK unified or compatibility ideograph (UAX 14 class ID: a line may break before and after it)."""
    code = ord(ch)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x3FFFF


def _may_break(chars: list[tuple[str, float]], j: int) -> bool:
    """Whether the bound lets a line break before ``chars[j]``: between two ideographs, or after
    spaces that stand between letters, digits or ideographs. LibreOffice (ICU, UAX 14) breaks in
    more places (never fewer: no break before closing punctuation, after opening punctuation,
    around quotes — all kept together here); first-fit with fewer breaks fills lines no further."""
    a, b = chars[j - 1][0], chars[j][0]
    if _ideograph(a) and _ideograph(b):
        return True
    if a not in " \u3000" or not b.isalnum():
        return False
    k = j - 1
    while k >= 0 and chars[k][0] in " \u3000":
        k -= 1
    return k < 0 or chars[k][0].isalnum()


def count_lines(pieces: list[tuple[str, float]], width_pt: float) -> int:
    """Lines of a text (``pieces``: (text, font size pt)) filled first-fit into ``width_pt``;
    ``\\n`` ends a line, ``\\t`` advances ``DEFAULT_TAB_PT``. A run too long for a line is cut
    character by character, as LibreOffice does."""
    chars = [(ch, size) for text, size in pieces for ch in text]
    lines, used = 1, 0.0
    i = 0
    while i < len(chars):
        ch = chars[i][0]
        if ch == "\n":
            lines, used, i = lines + 1, 0.0, i + 1
            continue
        j = i + 1  # the unbreakable segment chars[i:j]
        while j < len(chars) and chars[j][0] != "\n" and not _may_break(chars, j):
            j += 1
        segment = [DEFAULT_TAB_PT if c == "\t" else char_em(c) * s for c, s in chars[i:j]]
        width = sum(segment)
        if used + width <= width_pt:
            used += width
        elif width <= width_pt:
            lines, used = lines + 1, width
        else:  # longer than a line: starts a line if this one has anything, then breaks anywhere
            if used > 0:
                lines, used = lines + 1, 0.0
            for w in segment:
                if used + w > width_pt and used > 0:
                    lines, used = lines + 1, 0.0
                used += w
        i = j
    return lines


class _Styles:
    """What the styles part says: a property's sources, nearest first (ECMA-376 17.7.2: the
    paragraph style chain, then the table style, then docDefaults). The paragraph's and the
    table's styles are one tier, the bound taking the larger value (Word's and LibreOffice's
    precedence between them differs where both set a property). Answers are kept: a record asks
    the same few questions for each of its ~30 paragraphs."""

    def __init__(self, root: etree._Element | None) -> None:
        self.root = root
        self._tiers: dict[tuple[str | None, str | None, str], list[list[etree._Element]]] = {}
        self.sizes: dict[tuple[str | None, str | None], float] = {}  # Bound.default_size's answers

    def _style(self, style_id: str | None, kind: str) -> etree._Element | None:
        if self.root is None:
            return None
        for style in self.root.iterfind("w:style", NS):
            if _attr(style, "type") == kind and (_attr(style, "styleId") == style_id if style_id else _attr(style, "default") == "1"):
                return style
        return None

    def chain(self, style_id: str | None, kind: str) -> Iterator[etree._Element]:
        seen: set[str] = set()
        style = self._style(style_id, kind)
        while style is not None and _attr(style, "styleId") not in seen:
            seen.add(_attr(style, "styleId") or "")
            yield style
            based = style.find("w:basedOn", NS)
            style = self._style(_attr(based, "val"), kind) if based is not None else None

    def defaults(self, path: str) -> list[etree._Element]:
        if self.root is None:
            return []
        found = self.root.find(f"w:docDefaults/{path}", NS)
        return [found] if found is not None else []

    def tiers(self, p_style: str | None, tbl_style: str | None, what: str) -> list[list[etree._Element]]:
        """The ``w:spacing`` / ``w:sz`` / ``w:tblCellMar`` / ``w:tblBorders`` elements that could
        apply: [the styles', docDefaults']."""
        key = (p_style, tbl_style, what)
        if key not in self._tiers:
            self._tiers[key] = self._find_tiers(p_style, tbl_style, what)
        return self._tiers[key]

    def _find_tiers(self, p_style: str | None, tbl_style: str | None, what: str) -> list[list[etree._Element]]:
        found = []
        prefix = {"spacing": "w:pPr/", "sz": "w:rPr/", "szCs": "w:rPr/", "tblCellMar": "w:tblPr/", "tblBorders": "w:tblPr/"}[what]
        for style in [*self.chain(p_style, "paragraph"), *(self.chain(tbl_style, "table") if tbl_style is not None else [])]:
            el = style.find(f"{prefix}w:{what}", NS)
            if el is not None:
                found.append(el)
        default = {"spacing": "w:pPrDefault/w:pPr/w:spacing", "sz": "w:rPrDefault/w:rPr/w:sz", "szCs": "w:rPrDefault/w:rPr/w:szCs"}.get(what)
        return [found, self.defaults(default) if default else []]


def _size_pt(rpr: etree._Element | None, fallback: float) -> float:
    """A run's font size: the larger of its w:sz and w:szCs, the inherited size where it sets no w:sz."""
    sz, sz_cs = (_num(rpr.find(f"w:{tag}", NS) if rpr is not None else None, "val") for tag in ("sz", "szCs"))
    return max(sz / 2 if sz is not None else fallback, sz_cs / 2 if sz_cs is not None else 0.0)


def _nearest(tiers: list[list[etree._Element]], name: str) -> list[etree._Element]:
    """The elements of the nearest tier that set ``name`` (none: the property's default applies)."""
    for tier in tiers:
        found = [el for el in tier if _attr(el, name) is not None]
        if found:
            return found
    return []


def _largest_margin(margins: list[etree._Element], side: str) -> float:
    """A cell's margin on one side (pt): the largest any source sets, Word's 108 twips left and right where none does."""
    given = [(_num(m.find(f"w:{side}", NS), "w") or 0.0) / 20 for m in margins if m.find(f"w:{side}", NS) is not None]
    return max(given, default=5.4 if side in ("left", "right") else 0.0)


class Bound:
    """The height bound of one document's body (raises ``Unmodelled``)."""

    def __init__(self, document: etree._Element, styles: etree._Element | _Styles | None) -> None:
        self.document = document
        self.styles = styles if isinstance(styles, _Styles) else _Styles(styles)

    def default_size(self, p_style: str | None, tbl_style: str | None) -> float:
        """The size a run that sets none has: the nearest source's (its w:sz or w:szCs, the larger)."""
        sizes = self.styles.sizes
        if (p_style, tbl_style) not in sizes:
            sizes[p_style, tbl_style] = self._default_size(p_style, tbl_style)
        return sizes[p_style, tbl_style]

    def _default_size(self, p_style: str | None, tbl_style: str | None) -> float:
        sz, sz_cs = (self.styles.tiers(p_style, tbl_style, what) for what in ("sz", "szCs"))
        for tier in zip(sz, sz_cs, strict=True):
            sizes = [_num(el, "val") for els in tier for el in els]
            if any(s is not None for s in sizes):
                return max(s / 2 for s in sizes if s is not None)
        return WORD_DEFAULT_SIZE_PT

    def paragraph(self, p: etree._Element, width_pt: float, tbl_style: str | None) -> float:
        ppr = p.find("w:pPr", NS)
        p_style = _attr(ppr.find("w:pStyle", NS), "val") if ppr is not None and ppr.find("w:pStyle", NS) is not None else None
        fallback = self.default_size(p_style, tbl_style)
        mark = ppr.find("w:rPr", NS) if ppr is not None else None
        size = _size_pt(mark, fallback)
        pieces: list[tuple[str, float]] = []
        for r in p.iter(f"{{{W}}}r"):
            run_size = _size_pt(r.find("w:rPr", NS), fallback)
            if r.find("w:rPr/w:spacing", NS) is not None or r.find("w:rPr/w:w", NS) is not None:
                raise Unmodelled("letter spacing or scaling")
            for child in r:
                tag = etree.QName(child).localname
                if tag == "t":
                    pieces.append((child.text or "", run_size))
                elif tag in ("br", "cr"):
                    if _attr(child, "type") in ("page", "column"):
                        raise Unmodelled("page break")
                    pieces.append(("\n", run_size))
                elif tag in ("tab", "ptab"):
                    pieces.append(("\t", run_size))
                elif tag not in ("rPr", "lastRenderedPageBreak", "fldChar", "instrText", "noBreakHyphen", "softHyphen"):
                    raise Unmodelled(f"w:{tag} in a run")
            size = max(size, run_size)
        width = width_pt - self.indents(ppr, size)
        if width < 4 * size:
            raise Unmodelled("a column narrower than four characters")
        lines = count_lines(pieces, width)
        spacing = ppr.find("w:spacing", NS) if ppr is not None else None
        sources = [[spacing] if spacing is not None else [], *self.styles.tiers(p_style, tbl_style, "spacing")]
        for name in ("beforeLines", "afterLines", "beforeAutospacing", "afterAutospacing"):
            if any(_attr(el, name) not in (None, "0") for tier in sources for el in tier):
                raise Unmodelled(f"w:spacing/@w:{name}")
        before = max((_num(el, "before") or 0.0 for el in _nearest(sources, "before")), default=0.0) / 20
        after = max((_num(el, "after") or 0.0 for el in _nearest(sources, "after")), default=0.0) / 20
        rules = [(_num(el, "line") or 240.0, _attr(el, "lineRule") or "auto") for el in _nearest(sources, "line")] or [(240.0, "auto")]
        line_height = max(self._line_height(line, rule, FONT_HEIGHT_EM * size) for line, rule in rules)
        return before + lines * line_height + after

    @staticmethod
    def _line_height(line: float, rule: str, font: float) -> float:
        if rule == "exact":
            return line / 20
        if rule == "atLeast":
            return max(line / 20, font)
        return max(line / 240, 1.0) * font if rule == "auto" else max(line / 20, line / 240 * font, font)

    @staticmethod
    def indents(ppr: etree._Element | None, size: float) -> float:
        ind = ppr.find("w:ind", NS) if ppr is not None else None
        if ind is None:
            return 0.0
        twips = sum(max(_num(ind, name) or 0.0, 0.0) for name in ("left", "start", "right", "end", "firstLine"))
        chars = sum(max(_num(ind, name) or 0.0, 0.0) for name in ("leftChars", "startChars", "rightChars", "endChars", "firstLineChars"))
        return twips / 20 + chars / 100 * size

    def table(self, tbl: etree._Element, width_pt: float) -> float:
        tbl_pr = tbl.find("w:tblPr", NS)
        tbl_style = _attr(tbl_pr.find("w:tblStyle", NS), "val") if tbl_pr is not None and tbl_pr.find("w:tblStyle", NS) is not None else None
        grid = [(_num(col, "w") or 0.0) / 20 for col in tbl.iterfind("w:tblGrid/w:gridCol", NS)]
        if not grid or sum(grid) > width_pt + 1:
            raise Unmodelled("a table without a grid or wider than the type area")
        margins = [
            el
            for el in [tbl_pr.find("w:tblCellMar", NS) if tbl_pr is not None else None, *self.styles.tiers(None, tbl_style, "tblCellMar")[0]]
            if el is not None
        ]
        lines = [*tbl.iterfind(".//w:tcBorders/*", NS), *(tbl_pr.iterfind("w:tblBorders/*", NS) if tbl_pr is not None else [])]
        lines += [line for el in self.styles.tiers(None, tbl_style, "tblBorders")[0] for line in el]
        border = max([(_num(line, "sz") or 0.0) / 8 for line in lines], default=0.0)  # a row's lines at most this thick (Table Grid: 0.5 pt)
        table_edge = {side: _largest_margin(margins, side) for side in SIDES}
        total = border
        for tr in tbl.iterfind("w:tr", NS):
            cells, column = [], 0
            for tc in tr.iterfind("w:tc", NS):
                tc_pr = tc.find("w:tcPr", NS)
                span = int(_num(tc_pr.find("w:gridSpan", NS) if tc_pr is not None else None, "val") or 1)
                width = sum(grid[column : column + span])
                column += span
                tc_w = tc_pr.find("w:tcW", NS) if tc_pr is not None else None
                if tc_w is not None and _attr(tc_w, "type") in (None, "dxa") and _num(tc_w, "w"):
                    width = min(width, (_num(tc_w, "w") or 0.0) / 20)
                own_margins = tc_pr.find("w:tcMar", NS) if tc_pr is not None else None
                edge = table_edge if own_margins is None else {side: _largest_margin([own_margins, *margins], side) for side in SIDES}
                inner = width - edge["left"] - edge["right"] - 2 * border
                height = edge["top"] + edge["bottom"]
                for child in tc:
                    tag = etree.QName(child).localname
                    if tag == "p":
                        height += self.paragraph(child, inner, tbl_style)
                    elif tag not in ("tcPr", "bookmarkStart", "bookmarkEnd"):
                        raise Unmodelled(f"w:{tag} in a cell")
                cells.append(height)
            if column > len(grid):
                raise Unmodelled("a row wider than the grid")
            tr_height = tr.find("w:trPr/w:trHeight", NS)
            fixed = (_num(tr_height, "val") or 0.0) / 20
            row = fixed if _attr(tr_height, "hRule") == "exact" else max([fixed, *cells])
            total += row + border
        return total

    def body(self) -> tuple[float, float]:
        """(the body's height bound, the type area's height), in points."""
        body = self.document.find("w:body", NS)
        sect = body.find("w:sectPr", NS) if body is not None else None
        if body is None or sect is None:
            raise Unmodelled("no body or no section properties")
        if sect.find("w:headerReference", NS) is not None or sect.find("w:footerReference", NS) is not None:
            raise Unmodelled("a header or footer")  # first: an issued document gives up here, before the scans
        if _attr(sect.find("w:docGrid", NS), "type") not in (None, "default"):
            raise Unmodelled("a document grid")
        if sect.find("w:cols", NS) is not None and (_num(sect.find("w:cols", NS), "num") or 1) > 1:
            raise Unmodelled("columns")
        for name in UNMODELLED:
            if self.document.find(f".//w:{name}", NS) is not None:
                raise Unmodelled(f"w:{name}")
        if self.document.find(".//w:pPr/w:sectPr", NS) is not None:
            raise Unmodelled("several sections")
        size, margins = sect.find("w:pgSz", NS), sect.find("w:pgMar", NS)
        width = ((_num(size, "w") or 11906) - (_num(margins, "left") or 0) - (_num(margins, "right") or 0) - (_num(margins, "gutter") or 0)) / 20
        available = ((_num(size, "h") or 16838) - abs(_num(margins, "top") or 0) - abs(_num(margins, "bottom") or 0)) / 20
        used = 0.0
        for child in body:
            tag = etree.QName(child).localname
            if tag == "p":
                used += self.paragraph(child, width, None)
            elif tag == "tbl":
                used += self.table(child, width)
            elif tag not in ("sectPr", "bookmarkStart", "bookmarkEnd"):
                raise Unmodelled(f"w:{tag} in the body")
        # A body ending with a table gets an empty paragraph after it in Writer: no text, so even
        # where it falls onto a page of its own, the document still has one page with text.
        return used, available


@functools.lru_cache(maxsize=8)
def _styles_of(part: bytes) -> _Styles:
    """The styles part, parsed once per content with the answers kept: every processing slip and
    draft sheet of a run carries the same one (the record templates'), asked the same questions."""
    return _Styles(etree.fromstring(part))


def body_height_bound(data: bytes) -> tuple[float, float] | None:
    """(an upper bound of the body's height, the type area's height) in points, or None where
    the document has something the bound does not model."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            document = etree.fromstring(z.read("word/document.xml"))
            names = set(z.namelist())
            styles = _styles_of(z.read("word/styles.xml")) if "word/styles.xml" in names else None
        return Bound(document, styles).body()
    except (Unmodelled, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None


def fits_one_page(data: bytes) -> bool:
    """True when the bound of the body's height fits the type area: the document has exactly one page with text."""
    bound = body_height_bound(data)
    return bound is not None and bound[0] <= bound[1]
