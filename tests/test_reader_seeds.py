"""The seeds, received as text, yield exactly what they state (values written from reading the
seeds in shared/seeds), and report as not found what they lack."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from gongwen_engine.doc_templates.reader import read_file
from gongwen_engine.models.rules.dates import parse_cn_date
from gongwen_engine.models.rules.doc_numbers import normalise_doc_number
from gongwen_engine.models.rules.titles import forwarding_title

SEEDS = Path(os.environ.get("GONGWEN_SEEDS", Path(__file__).resolve().parent / "seeds"))  # copies of shared/seeds


def seed(prefix: str) -> Path:
    return next(SEEDS.glob(f"{prefix}_*.txt"))


def values(part) -> dict:
    return {name: f.value for name, f in part.fields.items()}


def test_seed_000_hunan_notice_with_its_attachments() -> None:
    reading = read_file(seed("000"))
    main = values(reading.main)
    assert main["issuer_mark"] == "湖南省妇女联合会"  # a text copy: the mark without 文件
    assert main["title"] == "关于进一步做好全国妇联《妇工要情》信息报送工作的通知"
    assert main["main_recipients"] == ["各市州妇联", "省直妇工委", "机关各部室"]
    assert main["attachment_notes"] == ["全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》", "2012年2一3月全国妇联《妇工要情》信息报送要点"]
    assert main["signature"] == "湖南省妇联办公室"
    assert main["issued_on"] == date(2012, 2, 29)
    assert reading.missing == ["doc_number"]  # the notice has no number
    notice, points = reading.parts[1], reading.parts[2]
    assert [notice.kind, points.kind] == ["attachment", "attachment"]
    assert values(notice)["title"] == "关于进一步做好《妇工要情》信息报送工作的通知"
    assert values(notice)["signature"] == "全国妇联办公厅" and values(notice)["issued_on"] == date(2012, 2, 3)
    assert values(notice)["printed_by"] == "全国妇联办公厅" and values(notice)["printed_on"] == date(2012, 2, 6)
    assert values(notice)["copies_printed"] == 180 and values(notice)["subject_words"] == "《妇工要情》 信息报送 通知"
    assert values(notice)["notes"] == ["联系人：全国妇联办公厅调研二处 董 葵", "联系电话：010—65103046 65103043"]
    assert values(points)["attachment_heading"] == "附件二"
    assert [(d.text, d.kind, d.start, d.end) for d in reading.deadlines] == [("2月下旬", "xun", date(2012, 2, 21), date(2012, 2, 29))]
    assert reading.deadlines[0].source == "第26行"


def test_seed_001_forwarding_notice_and_the_original_it_forwards() -> None:
    reading = read_file(seed("001"))
    main, original = values(reading.main), values(reading.part("forwarded"))
    assert main["issuer_mark"] == "山东省妇女联合会文件" and main["doc_number"] == "鲁妇发〔2012〕10号"
    assert main["title"] == "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"
    assert main["main_recipients"] == ["各市妇联"]
    assert main["signature"] == "山东省妇女联合会" and main["issued_on"] == date(2012, 1, 31)
    assert reading.missing == []
    assert original["issuer_mark"] == "中华全国妇女联合会文件" and original["doc_number"] == "妇字〔2012〕2号"
    assert original["title"] == "关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见"
    assert original["main_recipients"] == ["各省、自治区、直辖市妇联", "新疆生产建设兵团妇联"]
    assert original["signature"] == "全国妇联" and original["issued_on"] == date(2012, 1, 6)
    assert original["report_to"] == ["中办、国办"] and original["send_to"] == ["全国妇联名誉主席、主席、副主席、书记处书记"]
    assert original["distribute_to"] == ["中直机关妇工委、中央国家机关妇工委", "解放军总政组织部", "全国妇联机关各部门、各直属单位"]
    assert original["printed_by"] == "全国妇联办公厅" and original["printed_on"] == date(2012, 1, 6)
    assert [b.level for b in reading.part("forwarded").body][:3] == [0, 1, 1]  # 一、 headings
    assert [(d.text, d.kind, d.start, d.end) for d in reading.deadlines] == [("2012年2月底前", "month_end", date(2012, 2, 29), date(2012, 2, 29))]
    # a forward of this forward names the original (the title rule applies to received documents)
    assert forwarding_title("山东省妇联", main["title"]) == main["title"]


def test_seed_002_is_a_collection_not_a_document() -> None:
    reading = read_file(seed("002"))
    assert len(reading.collection) == 8 and reading.collection[0] == "妇联工作问题及工作建议篇1"
    assert reading.fields == {} and reading.parts == []  # no fields invented for the file as a whole
    assert reading.missing == ["issuer_mark", "doc_number", "title", "main_recipients", "signature", "issued_on"]
    assert any("8 篇文字的合集" in w for w in reading.warnings)
    # each sample text is read on its own: none has a header, title, signature or date, none a deadline
    assert [t.heading for t in reading.texts] == reading.collection
    assert [t.source for t in reading.texts] == ["第7行", "第63行", "第99行", "第127行", "第225行", "第463行", "第499行", "第553行"]
    assert all(t.reading.fields == {} for t in reading.texts) and reading.deadlines == []
    assert reading.texts[0].reading.main.body[0].text == "一、总体要求" and reading.texts[0].reading.main.body[0].level == 1


def test_seed_003_has_no_number_and_its_date_under_the_title() -> None:
    reading = read_file(seed("003"))
    main = values(reading.main)
    assert main["title"] == "山东省妇联关于贯彻落实全国妇联和省委、省政府领导同志重要批示精神的意见"
    assert main["issuer"] == "山东省妇联"  # named in the title
    assert main["issued_on"] == date(2012, 2, 6)
    assert main["main_recipients"] == ["各市妇联", "省直机关妇工委", "省高校妇工委", "各有关企业女职工委员会"]
    assert reading.missing == ["issuer_mark", "doc_number", "signature"]
    assert reading.deadlines == []
    assert reading.fields["issued_on"].source == "第4行" and reading.fields["issued_on"].confidence < 0.9


def test_seed_004_no_header_traditional_script_two_texts_each_read() -> None:
    reading = read_file(seed("004"))
    assert reading.script == "traditional"
    assert reading.collection == ["篇一", "篇二"]
    assert reading.fields == {}  # two unrelated texts: the file as a whole is not one document
    assert reading.missing == ["issuer_mark", "doc_number", "title", "main_recipients", "signature", "issued_on"]
    assert any("拼音" in w for w in reading.warnings) and any("繁体" in w for w in reading.warnings)
    first, second = reading.texts
    # 篇一 has no header, title, 主送 line (its opening sentence ends in ':' but is a request), signature or date
    assert first.source == "第1行" and first.reading.fields == {}
    assert [p.text[:8] for p in first.reading.main.body if p.level == 1] == ["一、加強組織領導", "二、建立規劃監測", "三、按時按質完成", "四、認真撰寫年度"]
    # its three deadlines, as stated: three tables 5月19日前, the reports 5月25日前, the summary 6月10日前.
    # No year is written and there is no date of writing, so no date is invented (start/end None).
    assert [(d.text, d.kind, d.source, d.start, d.end) for d in reading.deadlines] == [
        ("5月19日前", "date", "第8行", None, None),
        ("5月25日前", "date", "第11行", None, None),
        ("6月10日前", "date", "第11行", None, None),
    ]
    assert any(w.startswith("篇一：") and "没有写年份" in w for w in reading.warnings)
    # 篇二 (a village women's congress work plan, 1、 … 8、) states no deadline
    assert second.source == "第12行" and second.reading.fields == {} and second.reading.deadlines == []
    assert [p.level for p in second.reading.main.body].count(3) == 8


@pytest.mark.parametrize(
    ("written", "standard", "changes"),
    [
        ("鲁妇发〔2012〕10号", "鲁妇发〔2012〕10号", 0),
        ("鲁妇发[2012]10号", "鲁妇发〔2012〕10号", 1),
        ("鲁妇发（2012）10号", "鲁妇发〔2012〕10号", 1),
        ("鲁妇发〔2012〕第10号", "鲁妇发〔2012〕10号", 1),
        ("济妇发（2012）第003号", "济妇发〔2012〕3号", 3),
        ("妇字 【２０１２】 02 號", "妇字〔2012〕2号", 5),
    ],
)
def test_number_look_alikes_are_normalised_with_a_warning(written: str, standard: str, changes: int) -> None:
    number, what = normalise_doc_number(written)
    assert str(number) == standard and len(what) == changes


def test_number_that_is_none_is_refused() -> None:
    with pytest.raises(ValueError):
        normalise_doc_number("鲁妇发〔2012〕0号")
    with pytest.raises(ValueError):
        normalise_doc_number("关于转发的通知")


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("二〇一二年一月三十一日", date(2012, 1, 31)),
        ("二○一二年二月二十九日", date(2012, 2, 29)),
        ("2012年01月06日", date(2012, 1, 6)),
        ("二〇一二年十二月十日", date(2012, 12, 10)),
    ],
)
def test_dates_in_chinese_numerals(text: str, day: date) -> None:
    assert parse_cn_date(text)[0] == day


def test_impossible_dates_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_cn_date("二〇一二年二月三十日")
