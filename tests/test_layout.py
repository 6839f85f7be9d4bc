"""Page layout of issued documents on real pages (render → LibreOffice PDF → checks).

The text starting on page 1, keep-together (署名, 成文日期 and at least one line of text on one
page), the 版记 last and on an even page, through the same checks ``gongwen preview`` uses (doc_templates/checks.py). The
default run takes a few bodies through the real flow with 用印 (policy demo); the sweep over 1 to
40 paragraphs is marked slow.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gongwen_engine.doc_templates import layout as L
from gongwen_engine.doc_templates.checks import (
    check_pdf,
    colophon_page,
    gbt9704_problems,
    is_page_number,
    paragraph_lines,
    signature_problems,
    text_start_problems,
)
from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf, office_env
from gongwen_engine.doc_templates.pdf_lines import pdf_lines
from gongwen_engine.doc_templates.render import render_docx
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.rules.doc_kinds import DocFormat, format_of
from gongwen_engine.models.tables import AuditEvent, CirculationFile, Document

SHORT = "请各市妇联认真组织学习，结合本地实际抓好贯彻落实工作。"
LONG = SHORT * 4
NOTE = "联系人：张敏  电话：0531-86012345"


def body(paragraphs: int, long: bool) -> list[str]:
    """``paragraphs`` paragraphs, every third one long when ``long``."""
    return [LONG if long and i % 3 == 2 else SHORT for i in range(paragraphs)]


def shandong_notice(paragraphs: int, long: bool = False, attachments: bool = False, notes: bool = False, headings: bool = False) -> DocumentContent:
    """``headings``: the first two paragraphs open with a 一、 (黑体) and a （一） (楷体) heading."""
    text = body(paragraphs, long)
    if headings:
        text = [f"{lead}{p}" for lead, p in zip(("一、总体要求。", "（一）学习内容。"), text, strict=False)] + text[2:]
    return DocumentContent(
        issuer_mark="山东省妇女联合会文件",
        title="关于认真学习贯彻全国妇联有关文件精神的通知",
        main_recipients=["各市妇联"],
        body=text,
        attachment_notes=["学习材料目录", "2026年学习安排表"] if attachments else [],
        signature="山东省妇女联合会",
        issued_on=date(2026, 3, 2),
        sealed=True,
        notes=[NOTE] if notes else [],
        cc=["省委办公厅"],
        printed_by="山东省妇联办公室",
        printed_on=date(2026, 3, 2),
    )


# Embedded font names (pdffonts, subset prefix dropped). Noto CJK's collections share one CFF
# table named after the JP face, so the SC faces embed as "NotoSerifCJKjp-…"; the glyphs are the
# SC ones (the SC index's cmap; docs/layout.md). GBZenKai-Medium is AR PL KaitiM GB, DejaVuSerif
# the Latin digits (Times New Roman's stand-in).
CHINESE_FACES = {"NotoSerifCJKjp-Regular", "NotoSerifCJKjp-Bold", "NotoSansCJKjp-Regular", "GBZenKai-Medium", "DejaVuSerif"}


def embedded_faces(pdf: Path) -> set[str]:
    """The font families pdffonts lists, without subset prefixes and CID sub-font suffixes."""
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    return {re.sub(r"-VKana$|-Ideographs$|-Generic\w*$|-Dingbats$|-Proportional$|-HKana$|-Alphabetic$", "", line.split()[0].split("+", 1)[-1]) for line in out}


def drive_one(engine, circulation_id: int) -> None:
    """Run the automatic steps of one circulation until it waits or ends (the recipients'
    circulations it starts are left alone)."""
    for _ in range(100):
        mine = [c for c in engine.claim_ready() if c.id == circulation_id]
        if not mine:
            return
        for circ in mine:
            engine.run_step(circ.id, circ.step)
    raise AssertionError("the circulation never stopped")


# --- through the real flow: 签发 → 编号 → 印制 → 用印 (policy demo) --------------------------------

FLOW_CASES = [
    pytest.param(7, False, False, False, id="7-short"),  # the case: split at 用印 before
    pytest.param(8, False, False, False, id="8-short"),  # the case: a page without text before
    pytest.param(6, True, True, True, id="6-long-attachments-notes"),
]


@pytest.mark.parametrize(("paragraphs", "long", "attachments", "notes"), FLOW_CASES)
def test_an_issuing_launch_seals_with_signature_date_and_text_on_one_page(make_engine, paragraphs, long, attachments, notes) -> None:
    engine = make_engine()
    content = shandong_notice(paragraphs, long, attachments, notes, headings=paragraphs == 6)
    content = content.model_copy(update={"main_recipients": ["济南市妇联"]})  # printed as delivered (--to jinan)
    circ = engine.launch("shandong", "issuing", content, policy="demo", actor="shandong_secretary", deliver_to=["jinan"])
    drive_one(engine, circ)
    with Session(engine.db) as session:
        sealed = session.exec(select(AuditEvent).where(AuditEvent.circulation_id == circ, AuditEvent.action == "sealed")).one()
        pdf_row = session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circ, CirculationFile.role == "signed_pdf")).one()
        doc = session.exec(select(Document).where(Document.circulation_id == circ)).one()
        issued = content_of(doc)
    assert sealed.detail["visible"] is True
    pdf = (engine.storage / pdf_row.file).read_bytes()
    assert issued.body == content.body
    assert check_pdf(pdf, [issued]) == []
    pages = pdf_lines(pdf)
    if paragraphs == 6:  # once: the faces embedded in a signed PDF are the Chinese stand-ins (doc_templates/fonts.conf)
        assert embedded_faces(engine.storage / pdf_row.file) == CHINESE_FACES
    date_line = format_cn_date(issued.issued_on)
    assert sealed.detail["page"] == next(i + 1 for i, lines in enumerate(pages) if any(line.text == date_line for line in lines))


# --- render → PDF only: a representative subset by default, the sweep slow ------------------------


def render_pdf(content: DocumentContent, folder: Path) -> bytes:
    """The issued copy as 印制 writes it (the 版记 on an even page), converted to PDF."""
    path = folder / "doc.docx"
    render_issued([content], path)
    return docx_bytes_to_pdf(path)


SUBSET = [(1, False, False, False), (7, True, False, True), (15, False, True, False), (22, True, True, True)]
VARIANTS = ((False, False, False), (True, True, True), (False, True, False), (True, False, True))  # long, attachments, notes
SWEEP = [(n, long, att, notes) for n in range(1, 41) for long, att, notes in VARIANTS]


@pytest.mark.parametrize(("paragraphs", "long", "attachments", "notes"), SUBSET)
def test_signature_with_text_and_an_even_colophon_page(tmp_path: Path, paragraphs, long, attachments, notes) -> None:
    content = shandong_notice(paragraphs, long, attachments, notes)
    assert gbt9704_problems(render_pdf(content, tmp_path), [content]) == []


@pytest.mark.slow
def test_signature_with_text_and_an_even_colophon_page_for_1_to_40_paragraphs(tmp_path: Path) -> None:
    """Every PDF passes the whole GB/T 9704 check (gbt9704_problems): the text starts on page 1,
    the signature and date with text, the 版记 even, header, faces, page numbers; also a single
    paragraph of 1 to 12 lines with two long 附件说明 (one line cannot be split: it fits on page 1
    with a tighter line pitch, 调整行距)."""
    cases = [(shandong_notice(paragraphs, long, attachments, notes), (paragraphs, long, attachments, notes)) for paragraphs, long, attachments, notes in SWEEP]
    cases += [(single_paragraph_notice(lines), ("single", lines)) for lines in range(1, 13)]
    failures = []
    for content, case in cases:
        pdf = render_pdf(content, tmp_path)
        problems = [str(p) for p in gbt9704_problems(pdf, [content])]
        if paragraph_lines(pdf_lines(pdf), content.body[0]) is None:
            problems.append("正文的第一行读不出")  # the 正文 rule must have found the text to look at
        if problems:
            failures.append((case, problems))
    assert failures == []


# --- the text starts on page 1 (GB/T 9704-2012 §7.3.3, domain README §3.2) ----------------------------

LONG_NOTES = [
    "全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》及其附件的全部内容",
    "2012年2—3月全国妇联《妇工要情》信息报送要点及各市州妇联信息报送任务分解表",
]


def single_paragraph_notice(lines: int) -> DocumentContent:
    """One body paragraph of about ``lines`` lines (28 characters a line), two 附件说明 lines
    that wrap, a two-line title: the shape of 湘妇发〔2012〕1号 (config/demo/hunan_notice.yaml)."""
    text = ("请各市州妇联高度重视信息报送工作，明确专人负责，按时报送。" * 20)[: 28 * lines - 5] + "。"
    return shandong_notice(1).model_copy(
        update={"title": "关于进一步做好全国妇联《妇工要情》信息报送工作的通知", "body": [text], "attachment_notes": LONG_NOTES}
    )


def test_a_single_paragraph_with_attachment_notes_starts_on_page_one_and_keeps_its_last_lines_with_the_signature(tmp_path: Path) -> None:
    content = single_paragraph_notice(5)
    # the keep-together chain alone moves the whole paragraph off page 1 (the bug of 湘妇发〔2012〕1号)
    first = tmp_path / "first.docx"
    render_docx([content], first)
    [problem] = text_start_problems(pdf_lines(docx_bytes_to_pdf(first)), content)
    assert problem.rule == "正文" and "首页没有正文" in problem.message
    pdf = render_pdf(content, tmp_path)
    assert check_pdf(pdf, [content]) == []
    pages = pdf_lines(pdf)
    page, lines = paragraph_lines(pages, content.body[0])
    assert page == 0
    on_page_one = [line for line in lines if line in pages[0]]
    assert 1 <= len(on_page_one) < len(lines)  # the paragraph splits across the pages...
    date_page = next(i for i, p in enumerate(pages) if any(line.text == "2026年3月2日" for line in p))
    assert [line for line in lines if line in pages[date_page]] == lines[-2:]  # ...its last two lines with the signature
    assert "".join(line.text for line in lines) == content.body[0].replace(" ", "")  # nothing lost, nothing doubled


def test_split_last_paragraph_keeps_the_heading_font_and_all_the_text() -> None:
    from gongwen_engine.doc_templates.elements import body_paragraph, split_last_paragraph

    first = body_paragraph(SHORT)
    last = body_paragraph("一、总体要求。" + SHORT)
    head, tail = split_last_paragraph([first, last], 10)[1:]
    assert (head.lead, head.rest + tail.rest, tail.lead) == ("一、总体要求。", SHORT, "")
    assert len(tail.rest) == 10 and head.runs_on and tail.continues and not head.continues
    head, tail = split_last_paragraph([last], len(SHORT) + 3)  # the cut inside the heading
    assert (head.lead, tail.lead, tail.rest, tail.lead_font) == ("一、总体", "要求。", SHORT, L.FONT_HEITI)
    assert split_last_paragraph([first], len(SHORT)) == [first]  # nothing left before the cut: unchanged


def test_the_check_sees_a_split_signature(tmp_path: Path) -> None:
    """The check can fail: the old template's page without text is reported."""
    content = shandong_notice(8)
    pdf = render_pdf(content, tmp_path)
    pages = pdf_lines(pdf)
    # drop every body line from the signature's page: what the page looked like without keep-together
    date_page = next(i for i, lines in enumerate(pages) if any(line.text == "2026年3月2日" for line in lines))
    stripped = [lines if i != date_page else [line for line in lines if line.text not in (SHORT, SHORT[:10])] for i, lines in enumerate(pages)]
    [problem] = signature_problems(stripped, content)
    assert "没有正文" in problem.message


# --- the 版记 page: even, after a blank page when needed (domain README §3.3–3.4) --------------------


def test_a_one_page_text_gets_its_colophon_alone_on_page_two_numbered(tmp_path: Path) -> None:
    content = shandong_notice(1)
    pages = pdf_lines(render_pdf(content, tmp_path))
    assert len(pages) == 2
    assert [line.text for line in pages[1]] == ["抄送：省委办公厅。", "山东省妇联办公室2026年3月2日印发", "—2—"]


def test_a_colophon_alone_on_an_odd_page_gets_an_unnumbered_blank_page_before_it(tmp_path: Path) -> None:
    content = shandong_notice(14, long=True)  # the text fills page 2; the 版记 fell alone on page 3
    path = tmp_path / "first.docx"
    render_docx([content], path)
    assert colophon_page(pdf_lines(docx_bytes_to_pdf(path)), content) == 2
    pages = pdf_lines(render_pdf(content, tmp_path))
    assert len(pages) == 4
    assert [line.text for line in pages[1]][-2:] == ["2026年3月2日", "—2—"]
    assert pages[2] == []  # blank, no page number
    assert [line.text for line in pages[3]] == ["抄送：省委办公厅。", "山东省妇联办公室2026年3月2日印发"]  # no page number either


# --- the faces (doc_templates/fonts.conf) -----------------------------------------------------------

STAND_INS = {
    L.FONT_FANGSONG: "Noto Serif CJK SC:Regular",
    "仿宋": "Noto Serif CJK SC:Regular",
    L.FONT_XIAOBIAOSONG: "Noto Serif CJK SC:Bold",
    L.FONT_HEITI: "Noto Sans CJK SC:Regular",
    L.FONT_KAITI: "AR PL KaitiM GB:Regular",
    "楷体": "AR PL KaitiM GB:Regular",
    L.FONT_SONGTI: "Noto Serif CJK SC:Regular",
}


@pytest.mark.parametrize(("named", "stand_in"), STAND_INS.items())
def test_fonts_conf_maps_every_named_face_to_a_simplified_chinese_face(named: str, stand_in: str) -> None:
    found = subprocess.run(["fc-match", "-f", "%{family[0]}:%{style[0]}\t%{lang}", named], capture_output=True, text=True, check=True, env=office_env()).stdout
    face, _, langs = found.partition("\t")
    assert face == stand_in
    assert "zh-cn" in langs.split("|")


# --- special formats: 信函格式 and 纪要格式, chosen from the 文种 and the issuer (models/rules/doc_kinds) ---


@pytest.mark.parametrize(
    ("doc_type", "mark", "expected"),
    [
        ("函", "山东省妇女联合会文件", DocFormat.letter),
        ("通知", "湖南省妇联办公室", DocFormat.letter),
        ("通知", "全国妇联办公厅文件", DocFormat.letter),
        ("通知", "山东省妇女联合会文件", DocFormat.document),
        ("请示", "山东省妇联办公室", DocFormat.document),
        ("纪要", "山东省妇女联合会文件", DocFormat.minutes),
    ],
)
def test_the_format_follows_the_kind_and_the_issuer(doc_type: str, mark: str, expected: DocFormat) -> None:
    assert format_of(doc_type, mark) is expected


def test_a_letter_has_the_name_as_mark_no_number_on_page_one_and_its_cc_where_it_ends(tmp_path: Path) -> None:
    content = shandong_notice(5).model_copy(
        update={"doc_type": "函", "title": "关于商请支持开展妇女儿童权益保障调研工作的函", "printed_by": None, "printed_on": None}
    )
    pdf = render_pdf(content, tmp_path)
    pages = pdf_lines(pdf)
    texts = [line.text for line in pages[0]]
    assert texts[0] == "山东省妇女联合会"  # no 文件
    assert len(pages) == 1 and not any(is_page_number(line) for line in pages[0])
    assert texts[-1] == "抄送：省委办公厅。"  # no separator lines, printing office or date; not moved to an even page
    assert check_pdf(pdf, [content]) == []


def test_minutes_have_the_minutes_mark_and_attendance_labels_in_heiti(tmp_path: Path) -> None:
    from gongwen_engine.doc_templates.elements import part_view

    content = shandong_notice(2).model_copy(update={"doc_type": "纪要", "title": "省妇联主席办公会议纪要", "body": [SHORT, "出席：张敏、李华", "列席：陈静"]})
    view = part_view(content, new_page=False)
    assert view.mark == "山东省妇女联合会纪要"
    assert [(p.lead, p.lead_font) for p in view.paragraphs[1:]] == [("出席：", L.FONT_HEITI), ("列席：", L.FONT_HEITI)]
    assert check_pdf(render_pdf(content, tmp_path), [content]) == []


# --- gongwen preview: the draft as it will print, nothing launched -----------------------------------


def test_preview_writes_docx_and_pdf_and_lists_problems_in_chinese(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from gongwen_engine.flows.cli.main import app

    monkeypatch.setenv("GONGWEN_HOME", str(tmp_path / "home"))
    notice = tmp_path / "draft.yaml"
    lines = "\n".join(f"    - {SHORT}" for _ in range(7))
    notice.write_text(
        "org: shandong\ncontent:\n  issuer_mark: 山东省妇女联合会文件\n"
        '  title: "关于在全国县以上妇联组\\n织开展学习活动的通知"\n'  # the author's break inside 组织
        f"  main_recipients: [各市妇联]\n  signature: 山东省妇女联合会\n  issued_on: 2026-03-02\n  sealed: true\n"
        f"  printed_by: 山东省妇联办公室\n  printed_on: 2026-03-02\n  body:\n{lines}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["preview", str(notice), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert (tmp_path / "out" / "draft.docx").is_file() and (tmp_path / "out" / "draft.pdf").is_file()
    assert "【标题】第1页：标题在“联组|织开”处把一个词拆在两行" in result.output
    assert "署名与成文日期" not in result.output  # 7 paragraphs: kept together
    assert not (tmp_path / "home" / "gongwen.db").exists()  # nothing stored
    fixed = notice.read_text(encoding="utf-8").replace("妇联组\\n织开展", "妇联组织开展")
    notice.write_text(fixed, encoding="utf-8")
    result = CliRunner().invoke(app, ["preview", str(notice), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "版式检查通过" in result.output


# --- house styles (版式变体, config/organisations.yaml house_style) -----------------------------------


def test_a_house_style_with_chinese_numbers_labels_attachments_as_seed_000_does() -> None:
    from gongwen_engine.config.loader import load_config
    from gongwen_engine.doc_templates.elements import part_view
    from gongwen_engine.models.content import Attachment

    config = load_config()
    names = ["全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》", "2012年2—3月全国妇联《妇工要情》信息报送要点"]
    content = shandong_notice(2).model_copy(update={"attachment_notes": names, "attachments": [Attachment(title=n, body=[SHORT]) for n in names]})
    hunan = part_view(content, new_page=False, style=config.org("hunan").house_style)
    assert [line.text for line in hunan.attachment_notes] == [f"附件一：{names[0]}", f"附件二：{names[1]}"]
    assert [a.label for a in hunan.attachments] == ["附件一", "附件二"]
    shandong = part_view(content, new_page=False, style=config.org("shandong").house_style)
    assert [line.text for line in shandong.attachment_notes] == [f"附件：1.{names[0]}", f"2.{names[1]}"]
    assert [a.label for a in shandong.attachments] == ["附件1", "附件2"]


def test_a_received_document_attached_keeps_its_own_colophon_even_from_a_general_office() -> None:
    """附件 as received (seed 000's 附件一, a 全国妇联办公厅 notice): printed from its title on, with its
    own 版记 — the letter format's trimming is for what we issue, not for what we reproduce."""
    from gongwen_engine.doc_templates.elements import document_view
    from gongwen_engine.models.content import Attachment, LegacyColophon

    received = DocumentContent(
        issuer_mark="全国妇联办公厅",
        title="关于进一步做好《妇工要情》信息报送工作的通知",
        body=[SHORT],
        signature="全国妇联办公厅",
        issued_on=date(2012, 2, 20),
        printed_by="全国妇联办公厅",
        printed_on=date(2012, 2, 21),
        legacy=LegacyColophon(send_to=["全国妇联领导"]),
    )
    content = shandong_notice(2).model_copy(update={"attachment_notes": ["来文"], "attachments": [Attachment(title="来文", document=received)]})
    view = document_view([content])
    [attached] = view.parts[0].attachments
    assert attached.document is not None
    assert [row.kind for row in attached.document.colophon] == ["list", "printing"]
    assert view.colophon_place == "new_page"  # the whole's 版记 never shares the page of the attachment's own
