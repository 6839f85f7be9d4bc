"""标题回行: long titles break between words into a trapezoid or diamond (models/rules/titles)."""

from __future__ import annotations

import pytest

from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.elements import title_lines
from gongwen_engine.models.rules.titles import break_title, title_break_problems

SEED_001_ORIGINAL = "关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见"
SEED_001_FORWARD = "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"
SEED_000 = "关于进一步做好全国妇联《妇工要情》信息报送工作的通知"


def test_the_seed_001_original_breaks_as_printed_before_its_quotation() -> None:
    # the seed itself: 关于在全国县以上妇联组织开展 / “下基层、访妇情、办实事”活动的意见
    assert break_title(SEED_001_ORIGINAL, 20) == ["关于在全国县以上妇联组织开展", "“下基层、访妇情、办实事”活动的意见"]


def test_the_seed_001_forward_never_breaks_inside_a_word_or_the_quotation() -> None:
    lines = break_title(SEED_001_FORWARD, L.TITLE_CHARS_PER_LINE)
    assert "".join(lines) == SEED_001_FORWARD
    assert len(lines) == 3
    assert all(len(line) <= L.TITLE_CHARS_PER_LINE for line in lines)
    assert "“下基层、访妇情、办实事”" in lines[1]  # the quotation is kept whole
    assert title_break_problems(lines, L.TITLE_CHARS_PER_LINE) == []
    widths = [len(line) for line in lines]
    assert widths[1] == max(widths)  # a diamond: the longest line in the middle


@pytest.mark.parametrize(
    ("lines", "word"),
    [
        (
            ["关于转发全国妇联《关于在全国县以上妇联组", "织开展“下基层、访妇情、办实事”活动的意", "见》的通知"],
            "联组|织开",
        ),  # the issue's …妇联组|织开展…的意|见》
        (["关于在全国县以上妇联组织开展“下基层、访", "妇情、办实事”活动的意见"], "访|妇情"),  # the issue's 访|妇情
    ],
)
def test_the_issues_bad_breaks_are_reported(lines: list[str], word: str) -> None:
    problems = title_break_problems(lines, L.TITLE_CHARS_PER_LINE)
    assert problems and any(word in p for p in problems)


def test_a_two_line_title_is_a_trapezoid_with_the_shorter_line_on_top() -> None:
    top, bottom = break_title("关于认真学习贯彻全国妇联有关文件精神的通知", 20)
    assert len(top) <= len(bottom)
    assert (top, bottom) == ("关于认真学习贯彻", "全国妇联有关文件精神的通知")


def test_a_book_title_name_is_kept_whole_when_it_fits() -> None:
    lines = break_title(SEED_000, 20)
    assert any("《妇工要情》" in line for line in lines)
    assert title_break_problems(lines, L.TITLE_CHARS_PER_LINE) == []


def test_a_title_that_fits_and_the_authors_own_breaks_are_kept() -> None:
    assert title_lines("关于做好信息报送工作的通知") == ["关于做好信息报送工作的通知"]
    assert title_lines("关于在全国县以上妇联组织开展\n“下基层、访妇情、办实事”活动的意见") == [
        "关于在全国县以上妇联组织开展",
        "“下基层、访妇情、办实事”活动的意见",
    ]


def test_a_title_is_broken_once_and_each_caller_gets_its_own_lines() -> None:
    """``break_title`` keeps its answer per title (印制 lays a forward's title out several times, and
    every child forwarding the same notice has the same title); a caller changing its list changes
    nobody else's."""
    from gongwen_engine.models.rules import titles

    titles._title_lines.cache_clear()
    first = break_title(SEED_001_FORWARD, L.TITLE_CHARS_PER_LINE)
    first.append("改动")
    again = break_title(SEED_001_FORWARD, L.TITLE_CHARS_PER_LINE)
    assert again == first[:-1] and "改动" not in again
    assert titles._title_lines.cache_info().hits == 1
