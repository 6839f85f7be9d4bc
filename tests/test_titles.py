"""The forwarding-title rule (转发标题, domain README §5): models/rules/titles.py."""

from __future__ import annotations

import pytest

from gongwen_engine.models.rules.titles import forwarding_title, nest_book_title_marks

ACWF_OPINION = "关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见"
SEED_001_TITLE = "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"
HESHAN_TITLE = "关于印发《鹤山市妇女发展规划（2014-2016年）》主要定量指标的通知"
HESHAN_FORWARD = "关于转发江门市妇联《关于印发〈鹤山市妇女发展规划（2014-2016年）〉主要定量指标的通知》的通知"


def test_seed_001_title_is_reproduced_exactly():
    assert forwarding_title("全国妇联", ACWF_OPINION) == SEED_001_TITLE


def test_surrounding_whitespace_of_inputs_is_ignored():
    assert forwarding_title(" 全国妇联\n", f"  {ACWF_OPINION} ") == SEED_001_TITLE


def test_inner_book_title_marks_become_angle_brackets():
    assert forwarding_title("江门市妇联", HESHAN_TITLE) == HESHAN_FORWARD


def test_forwarded_title_has_exactly_one_pair_of_book_title_marks():
    title = forwarding_title("江门市妇联", HESHAN_TITLE)
    assert title.count("《") == 1 and title.count("》") == 1
    assert title.count("〈") == 1 and title.count("〉") == 1


def test_nest_book_title_marks_replaces_every_mark():
    assert nest_book_title_marks("《甲》与《乙》") == "〈甲〉与〈乙〉"
    assert nest_book_title_marks("没有书名号") == "没有书名号"


def test_forwarding_a_forward_refers_to_the_original_document():
    shandong = forwarding_title("全国妇联", ACWF_OPINION)
    jinan = forwarding_title("山东省妇联", shandong)
    assert jinan == SEED_001_TITLE
    assert "山东省妇联" not in jinan


def test_forwarding_a_forward_never_stacks_forwarding_titles():
    shandong = forwarding_title("全国妇联", ACWF_OPINION)
    jinan = forwarding_title("山东省妇联", shandong)
    county = forwarding_title("济南市妇联", jinan)
    for title in (jinan, county):
        assert title.count("关于转发") == 1
        assert "的通知》的通知" not in title


def test_forwarding_a_forward_of_a_nested_title_keeps_the_single_nesting():
    jiangmen = forwarding_title("江门市妇联", HESHAN_TITLE)
    assert forwarding_title("鹤山市妇联", jiangmen) == HESHAN_FORWARD
    assert "〈〈" not in forwarding_title("鹤山市妇联", jiangmen)


def test_an_original_notice_keeps_its_own_de_tongzhi_inside_the_marks():
    # Only a forward is collapsed; an ordinary 通知 is forwarded under its own title.
    assert forwarding_title("全国妇联", "关于做好2012年妇女工作的通知") == "关于转发全国妇联《关于做好2012年妇女工作的通知》的通知"


@pytest.mark.parametrize(
    ("issuer", "title"),
    [("", ACWF_OPINION), ("   ", ACWF_OPINION), ("全国妇联", ""), ("全国妇联", " \t\n"), ("", "")],
)
def test_empty_inputs_are_refused(issuer, title):
    with pytest.raises(ValueError):
        forwarding_title(issuer, title)
