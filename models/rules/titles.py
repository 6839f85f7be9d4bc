"""The title rules, in one place: the forwarding title (转发标题), replying (答复), and where a long
title breaks into lines (标题回行, below).

关于转发{issuer short name}《{original title}》的通知 — domain README §5:
- a book-title mark inside 《》 becomes 〈〉;
- forwarding a forward refers to the original document, never
  "关于转发…《关于转发…的通知》的通知". When only the received forward's title is known (no
  link to the original), the original issuer and title are recovered from it.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import re
from typing import Any

_FORWARD_RE = re.compile(r"^关于转发(?P<issuer>[^《〈]+)《(?P<title>.+)》的通知$")


def nest_book_title_marks(title: str) -> str:
    """《a》 inside a title that will itself stand in 《》 becomes 〈a〉."""
    return title.replace("《", "〈").replace("》", "〉")


def forwarding_source(title: str) -> tuple[str, str] | None:
    """(original issuer, original title) named by a forwarding title, or None if it is not one."""
    match = _FORWARD_RE.match(title.strip())
    return (match["issuer"], match["title"]) if match else None


def forwarding_title(issuer_short_name: str, original_title: str) -> str:
    """The title of a notice that forwards ``original_title`` issued by ``issuer_short_name``.

    If ``original_title`` is itself a forwarding title, the document it forwards is referred to
    instead (the rule for forwarding a forward). The original's own 的通知 is kept inside the book
    title marks (关于转发X《关于…的通知》的通知); the rule to avoid "的通知的通知" is about titles
    without 《》 (common practice; unconfirmed as a written rule, domain README §5).
    """
    issuer, title = issuer_short_name.strip(), original_title.strip()
    if not issuer or not title:
        raise ValueError("forwarding_title needs the original issuer's short name and the original title")
    match = _FORWARD_RE.match(title)
    if match:
        # The title already refers to the original: its inner title is nested once already.
        return f"关于转发{match['issuer']}《{match['title']}》的通知"
    return f"关于转发{issuer}《{nest_book_title_marks(title)}》的通知"


_MATTER = re.compile(r"^关于(?P<matter>.+?)的(?:函|通知|请示|意见|报告|通报|决定|批复)$")


def reply_title(received_title: str, upward: bool) -> str:
    """答复的标题: 关于{事由}的复函, or, to a superior, 关于{事由}有关情况的报告 (common practice: the
    matter of the received title, its 文种 dropped; a title of another shape is quoted in 〈〉)."""
    match = _MATTER.match(received_title.strip())
    matter = match["matter"] if match else f"〈{nest_book_title_marks(received_title.strip())}〉"
    return f"关于{matter}有关情况的报告" if upward else f"关于{matter}的复函"


def received_attachment_name(issuer_short_name: str, title: str) -> str:
    """The name in the 附件说明 of a received document attached as received: its issuer's short
    name and its title in 《》 (inner 《》 become 〈〉), e.g. 全国妇联办公厅《关于进一步做好〈妇工要情〉
    信息报送工作的通知》 (seed 000)."""
    issuer, title = issuer_short_name.strip(), "".join(line.strip() for line in title.splitlines())
    if not title:
        raise ValueError("received_attachment_name needs the received document's title")
    return f"{issuer}《{nest_book_title_marks(title)}》"


# --- breaking a long title into lines (标题回行), GB/T 9704-2012 §7.3.1, domain README §3.2 ----------
#
# A title that does not fit on one line breaks between words, never inside a word, a quotation
# (“…”) or a 《》 name when that can be avoided, into a trapezoid (正梯形: each line no longer than
# the one below it) or a diamond (菱形: the longest line in the middle). Words come from jieba, a
# maintained Chinese word segmenter (its dictionary loads once per process, ~1 s; only titles
# longer than a line need it). Line widths are counted in characters (digits and Latin letters
# half a character); the renderer says how many fit on a line.

_OPENING = "“‘《〈（(〔【"
_CLOSING = "”’》〉）)〕】，、。；：？！"
_PAIRS = {"“": "”", "‘": "’", "《": "》", "〈": "〉", "（": "）", "(": ")"}
# Costs of a break (the shape's cost is the squared shortfall of each line, in characters).
INSIDE_QUOTATION = 400  # inside “…” or 《…》: only when the quotation is longer than a line
BETWEEN_SINGLE_CHARACTERS = 150  # between two one-character words: jieba's way of saying "unknown word" (访|妇|情)
NOT_A_SHAPE = 1000  # neither a trapezoid nor a diamond


def _width(text: str) -> float:
    import unicodedata

    return sum(1.0 if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 0.5 for ch in text)


@functools.cache
def _segmenter() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter on stderr
    jieba.initialize()
    return jieba


def title_words(title: str) -> list[str]:
    """The title cut into words (jieba, dictionary only: the same cut on every machine)."""
    return [word for word in _segmenter().lcut(title, HMM=False) if word]


def _quotation_depths(title: str) -> list[int]:
    """For every position between characters (0..len), how many “…”/《…》 are open there."""
    depths: list[int] = [0]
    stack: list[str] = []
    for ch in title:
        if stack and ch == _PAIRS.get(stack[-1]):
            stack.pop()
        elif ch in _PAIRS:
            stack.append(ch)
        depths.append(len(stack))
    return depths


def break_costs(title: str) -> dict[int, int]:
    """Every position where the title may break (between words; not before a closing mark nor
    after an opening one), with its cost; position 0 < i < len(title)."""
    words = title_words(title)
    depths = _quotation_depths(title)
    costs: dict[int, int] = {}
    position = 0
    for before, after in itertools.pairwise(words):
        position += len(before)
        if after[0] in _CLOSING or before[-1] in _OPENING:
            continue
        cost = INSIDE_QUOTATION * depths[position]
        if len(before) == 1 and len(after) == 1 and before not in _CLOSING + _OPENING and after not in _CLOSING + _OPENING:
            cost += BETWEEN_SINGLE_CHARACTERS
        costs[position] = cost
    return costs


def _shape_cost(widths: list[float]) -> float:
    trapezoid = all(a <= b for a, b in itertools.pairwise(widths))
    top = max(range(len(widths)), key=widths.__getitem__)
    diamond = (
        0 < top < len(widths) - 1 and all(a <= b for a, b in itertools.pairwise(widths[: top + 1])) and all(a >= b for a, b in itertools.pairwise(widths[top:]))
    )
    return 0 if trapezoid or diamond else NOT_A_SHAPE


def break_title(title: str, line_width: float) -> list[str]:
    """The title's lines: one when it fits in ``line_width`` characters; else the fewest lines,
    broken between words into a trapezoid or diamond, at the lowest cost (see the constants)."""
    return list(_title_lines(title.strip(), line_width))


@functools.lru_cache(maxsize=512)
def _title_lines(title: str, line_width: float) -> tuple[str, ...]:
    """``break_title``, kept per title: a pure function of its arguments, and a forward's long title
    is laid out several times (印制 predicts, renders and checks it; every child forwarding the same
    notice has the same title) at up to a few thousand candidate breaks each."""
    return tuple(_break_title(title, line_width))


def _break_title(title: str, line_width: float) -> list[str]:
    total = _width(title)
    if total <= line_width:
        return [title]
    costs = break_costs(title)
    lines_needed = math.ceil(total / line_width)
    for count in range(lines_needed, lines_needed + 3):
        best = _best_breaks(title, costs, count, line_width)
        if best is not None:
            return [title[a:b] for a, b in zip([0, *best], [*best, len(title)], strict=True)]
    # no break between words fits (a very long word): cut where the line is full
    step = int(line_width)
    return [title[i : i + step] for i in range(0, len(title), step)]


def _best_breaks(title: str, costs: dict[int, int], count: int, line_width: float) -> list[int] | None:
    """The ``count - 1`` break positions of least cost whose lines all fit, or None."""
    positions = sorted(costs)
    prefix = [0.0, *itertools.accumulate(_width(ch) for ch in title)]  # width of title[a:b] = prefix[b] - prefix[a]
    best: tuple[float, list[int]] | None = None
    for chosen in itertools.combinations(positions, count - 1):
        edges = [0, *chosen, len(title)]
        widths = [prefix[b] - prefix[a] for a, b in itertools.pairwise(edges)]
        if max(widths) > line_width:
            continue
        mean = sum(widths) / count
        cost = sum((w - mean) ** 2 for w in widths) + sum(costs[p] for p in chosen) + _shape_cost(widths)
        if best is None or cost < best[0]:
            best = (cost, list(chosen))
    return best[1] if best else None


def title_break_problems(lines: list[str], line_width: float) -> list[str]:
    """What is wrong with where a title's lines break (Chinese, one message per break): inside a
    word, or inside a quotation or 《》 name that lines of ``line_width`` characters, as many,
    broken between words, could have avoided."""
    title = "".join(lines)
    costs = break_costs(title)
    outside = {p: c for p, c in costs.items() if c < INSIDE_QUOTATION}
    avoidable = _best_breaks(title, outside, len(lines), line_width) is not None
    problems = []
    position = 0
    for line, following in itertools.pairwise(lines):
        position += len(line)
        where = f"“{line[-2:]}|{following[:2]}”"
        if position not in costs:
            problems.append(f"标题在{where}处把一个词拆在两行。请在词与词之间回行。")
        elif costs[position] >= INSIDE_QUOTATION and avoidable:
            problems.append(f"标题在{where}处从引号或书名号中间回行。请尽量在引号、书名号之外回行。")
    return problems
