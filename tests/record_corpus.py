"""Varied process records (收文处理单, 发文稿纸) shared by the tests and benchmarks/record_pages_check.py
(test data, not part of the package): short and long titles, Latin and digits in them, several
opinions a row, long comments, acting signers, many recipients and attachments, steps outside the
fixed rows — from a plain one-page slip to records that LibreOffice lays out on two or three pages.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from gongwen_engine.models.records import DraftParticulars, Opinion, ReceivedParticulars, RecordData, RecordKind

HANZI = "关于做好全国妇联系统年度工作的通知意见办法规定实施方案报告请示批复函纪要决定开展活动组织领导建设推进落实进一步加强改革发展妇女儿童权益保障"
PEOPLE = ["张文书", "吴秀英", "徐建平", "周红梅", "欧阳明月", "李娜", "司马相如"]
LATIN = ["GB/T 9704-2012", "2026", "OFD", "PDF/A-2b", "No.12", "WWW.WOMEN.ORG.CN", "(2026)"]
SLIP_KINDS = [
    ("拟办", "screen"),
    ("批办", "decide"),
    ("批示", "instruct"),
    ("承办", "draft"),
    ("传阅", "circulate"),
    ("办结", "conclude"),
    ("督办", "supervise"),
]
SHEET_KINDS = [("签发", "sign_off"), ("会签", "countersign"), ("核稿", "review"), ("复核", "recheck"), ("拟稿", "draft"), ("校对", "proofread")]


def _text(rng: random.Random, length: int, latin: float = 0.0) -> str:
    out: list[str] = []
    while len(out) < length:
        if rng.random() < latin:
            out.extend(rng.choice(LATIN))
        else:
            out.append(rng.choice(HANZI))
        if rng.random() < 0.08:
            out.append(rng.choice("，、；：（）“”《》。"))
    return "".join(out[:length])


def _opinions(rng: random.Random, kinds: list[tuple[str, str]], count: int, comment_max: int, day: date) -> list[Opinion]:
    opinions = []
    for n in range(count):
        title, kind = rng.choice(kinds)
        comment = _text(rng, rng.randint(1, comment_max), latin=0.1) if comment_max and rng.random() < 0.7 else None
        acting = rng.choice(PEOPLE) if rng.random() < 0.2 else None
        outcome = rng.choice(["同意", "已阅", "请办公室办理", "退回修改", "已办结"])
        opinions.append(Opinion(title, kind, outcome, comment, rng.choice(PEOPLE), acting, day + timedelta(days=n)))
    return opinions


def varied_records(count: int = 60, seed: int = 25) -> list[RecordData]:
    """``count`` records, half slips and half draft sheets, from small to large (by position: the
    first third ordinary, the middle third long, the last third very long)."""
    rng = random.Random(seed)
    records = []
    for n in range(count):
        scale = 1 + 3 * n // count  # 1 ordinary, 2 long, 3 very long
        opinions = rng.randint(0, 3 * scale * scale)
        comment_max = [0, 30, 80, 200][min(scale + rng.randint(-1, 0), 3)]
        title = _text(rng, rng.randint(8, 30 * scale * scale), latin=0.15 if n % 5 == 0 else 0.0)
        day = date(2026, 1, 1) + timedelta(days=n)
        name = rng.choice(["宁夏回族自治区妇女联合会", "全国妇联", "银川市妇联", "新疆生产建设兵团第十三师妇联"])
        short = name[:6] if len(name) > 6 and n % 2 else name
        if n % 2 == 0:
            received = ReceivedParticulars(
                register_number=f"收〔2026〕{n + 1}号" if rng.random() < 0.8 else None,
                received_on=day if rng.random() < 0.9 else None,
                sender=_text(rng, rng.randint(4, 12 * scale)) + "妇女联合会",
                doc_number=f"妇字〔2026〕{rng.randint(1, 999)}号",
                title=title,
            )
            draft = None
            if rng.random() < 0.4:  # a forwarding notice drafted in reply (承办: 拟转发)
                draft = DraftParticulars(f"宁妇发〔2026〕{n}号", "关于转发" + title + "的通知", ["各市妇联"], [], 1)
            records.append(RecordData(RecordKind.processing_slip, name, short, received, draft, _opinions(rng, SLIP_KINDS, opinions, comment_max, day)))
        else:
            draft = DraftParticulars(
                doc_number=f"宁妇发〔2026〕{rng.randint(1, 99)}号" if rng.random() < 0.7 else None,
                title=title,
                main_recipients=[_text(rng, rng.randint(3, 10)) + "妇联" for _ in range(rng.randint(1, 4 * scale * scale))],
                cc=[_text(rng, rng.randint(3, 10)) + "妇联" for _ in range(rng.randint(0, 2 * scale * scale))],
                version=1,
                drafting_unit=short + "办公室",
                drafter=rng.choice(PEOPLE),
                security=rng.choice(["", "", "秘密"]),
                urgency=rng.choice(["", "", "特急", "加急"]),
                copies=rng.choice([None, 20, 150]),
                attachments=[_text(rng, rng.randint(6, 20 * scale), latin=0.1) for _ in range(rng.randint(0, 2 * scale * scale))],
            )
            records.append(RecordData(RecordKind.draft_sheet, name, short, None, draft, _opinions(rng, SHEET_KINDS, opinions, comment_max, day)))
    return records
