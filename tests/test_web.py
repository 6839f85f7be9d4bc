"""The web workplace end to end in a real browser: Debian's chromium driven by Playwright.

`gongwen serve` runs as its own process on a fresh database under tmp_path (automatic steps in
Prefect, in the server's background thread). Shandong's secretary uploads 妇字〔2012〕2号 and
launches the forward; Shandong's leader signs it in another browser context; Jinan's secretary
sees Shandong's 鲁妇发〔…〕N号 arrive; Shandong's archivist finds it, reads the record and exports the
catalogue. Refusals on the way: a leader acting on another organisation's item, a POST without
its CSRF token, a path-traversal download, an archivist of another fonds.

Screenshots of every page are kept under the test's tmp folder (printed at the end); they are
artifacts to look at, not committed.
"""

from __future__ import annotations

import re
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
from browser import Shots, csrf_of, follow, sign_in, wait_for_text
from driving import drive
from sqlalchemy import create_engine, text
from sqlmodel import Session

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.render import render_docx
from gongwen_engine.flows.actions.reporting import send_report_reminders
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.tables import ReportSubmission

NATIONAL_NUMBER = "妇字〔2012〕2号"
SHANDONG_NUMBER = re.compile(r"鲁妇发〔\d{4}〕\d+号")  # the year of today: the manual policy dates the forward when it is signed
FORWARD_TITLE = "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"


def national_notice(folder: Path) -> Path:
    """妇字〔2012〕2号 as 全国妇联 issued it, the file Shandong's secretary uploads."""
    _, content = load_notice()
    path = folder / f"{NATIONAL_NUMBER}.docx"
    render_docx([content.model_copy(update={"doc_number": NATIONAL_NUMBER})], path)
    return path


@pytest.mark.slow  # Prefect's embedded server starts in the web process; LibreOffice seals and counts pages
def test_forward_signed_received_and_archived_in_the_browser(server: tuple[str, Path], browser, tmp_path: Path) -> None:
    base, home = server
    shots = Shots(tmp_path / "screenshots")
    started, phases = time.monotonic(), {}
    upload = national_notice(tmp_path)

    # -- sign-in: a wrong password is refused in Chinese, the right one lets the secretary in
    secretary = sign_in(browser, base, "shandong_secretary", "wrong-password")
    assert "用户名或密码不正确" in secretary.content()
    shots(secretary, "login-refused")
    secretary.fill("input[name=password]", DEMO_PASSWORD)
    follow(secretary, "button[type=submit]")
    assert secretary.url.endswith("/circulations")
    shots(secretary, "secretary-circulations-empty")

    # -- the compose page offers the flows and the organisation tree (the upload path launches here)
    secretary.goto("/launch")
    assert secretary.locator("input[name=recipients][value=济南市妇联]").count() == 1
    shots(secretary, "secretary-compose")

    # -- the secretary uploads the national notice, checks what was read, corrects one field and confirms
    secretary.goto("/receive")
    secretary.set_input_files("input[name=file]", str(upload))
    secretary.check("input[name=flow][value=forwarding]")
    shots(secretary, "secretary-upload")
    follow(secretary, "button[type=submit]")
    assert "/receive" in secretary.url and secretary.input_value("input[name=field_doc_number]") == NATIONAL_NUMBER
    assert "发文机关（全称）" in secretary.content() and "把握" in secretary.content()  # Chinese labels, confidence
    secretary.fill("input[name=field_issuer_short_name]", "全国妇联")  # corrected in place
    shots(secretary, "secretary-confirm-reading")
    follow(secretary, "button:has-text('确认登记')")
    match = re.search(r"/circulations/(\d+)$", secretary.url)
    assert match, secretary.url
    circulation_url = secretary.url
    assert "已收文登记" in secretary.content()
    wait_for_text(secretary, circulation_url, "待领导（周红梅、褚云霞）签发")
    shots(secretary, "secretary-cascade-waiting")
    phases["launched, waiting for the leader"] = time.monotonic() - started

    # -- Shandong's leader: the inbox, the document as it will print, the .docx one click away
    leader = sign_in(browser, base, "shandong_leader")
    assert leader.url.endswith("/inbox")
    assert FORWARD_TITLE in leader.content()
    shots(leader, "leader-inbox")
    follow(leader, f"text={FORWARD_TITLE}")
    item_url = leader.url
    assert re.search(r"/items/\d+$", item_url)
    sheets = leader.locator("section.gw-sheet")
    assert sheets.count() == 3  # the cover letter, the forwarded notice as issued, then the 版记 that closes the whole
    assert sheets.nth(2).get_attribute("aria-label") == "版记"
    assert sheets.nth(0).locator(".gw-mark").inner_text().strip() == "山东省妇女联合会文件"
    assert sheets.nth(1).locator(".gw-number").inner_text().strip() == NATIONAL_NUMBER
    assert leader.locator(".gw-red-line").count() == 2
    shots(leader, "leader-item-print-view")
    with leader.expect_download() as download:
        leader.click("text=下载 .docx")
    docx_path = tmp_path / "draft.docx"
    download.value.save_as(docx_path)
    assert docx_path.read_bytes()[:2] == b"PK"

    # -- refusal: Jinan's leader may neither see nor approve Shandong's item
    other = sign_in(browser, base, "jinan_leader")
    response = other.goto(item_url)
    assert response.status == 403 and "无权" in other.content()
    shots(other, "refused-other-leader")
    other.goto("/inbox")
    forged = other.request.post(item_url + "/act", form={"csrf": csrf_of(other), "outcome": "approve"})
    assert forged.status == 403 and "无权办理" in forged.text()

    # -- refusal: a POST without the CSRF token does nothing
    missing = leader.request.post(item_url + "/act", form={"outcome": "approve"})
    assert missing.status == 403 and "CSRF" in missing.text()
    leader.goto(item_url)
    assert leader.locator("button[name=outcome][value=approve]").count() == 1  # still open

    # -- the leader signs with an instruction
    leader.fill("textarea[name=comment]", "同意。请办公室转发各市，抓好落实。")
    follow(leader, "button[name=outcome][value=approve]")
    assert leader.url.endswith("/inbox")
    assert "已办理：签发 · 同意" in leader.content()
    shots(leader, "leader-signed")
    leader.goto("/done")
    assert FORWARD_TITLE in leader.content() and "同意。请办公室转发各市" in leader.content()  # 已办
    shots(leader, "leader-done")
    phases["leader signed"] = time.monotonic() - started

    # -- the cascade: Shandong distributes and files; Jinan waits for its own leader
    wait_for_text(secretary, circulation_url, r"state-archived\">已归档")
    wait_for_text(secretary, circulation_url, "待领导（徐建平）签发")
    number = SHANDONG_NUMBER.search(secretary.inner_text(".tree")).group(0)
    shots(secretary, "secretary-cascade-distributed")
    phases["filed and distributed"] = time.monotonic() - started

    # -- Jinan's secretary sees it arrive
    city = sign_in(browser, base, "jinan_secretary")
    assert number in city.content() and "山东省妇联" in city.content()
    row = city.locator(f"table.list tbody tr:has-text('{number}')").inner_text()
    assert f"来文：{number}" in row  # the number received stays with its own title, not the city's forward's
    shots(city, "city-secretary-arrived")
    follow(city, f"text={number}")
    assert "待领导（徐建平）签发" in city.content()
    shots(city, "city-circulation")
    city.goto("/circulations?q=" + number)
    assert city.locator("table.list tbody tr").count() == 1  # search by number
    cookies = city.context.cookies()
    follow(city, "button:has-text('退出')")
    city.context.add_cookies(cookies)  # the cookie of the signed-out session, replayed
    city.goto("/circulations")
    assert "/login" in city.url  # refused: signing out ended the session

    # -- Shandong's archivist finds it, reads the record, downloads a file and the catalogue
    archivist = sign_in(browser, base, "shandong_archivist")
    archivist.goto("/archive?words=下基层")
    hits = archivist.locator("ol.hits li")
    assert hits.count() >= 1
    assert archivist.locator("ol.hits mark").first.inner_text() == "下基层"
    shots(archivist, "archivist-search")
    follow(archivist, hits.first.locator("h3 a"))
    record_url = archivist.url
    code = archivist.locator(".page-head code").inner_text()
    assert re.fullmatch(r"S037-WS·\d{4}-\w+-BGS-\d{4}", code), code
    assert number in archivist.content()
    assert "归档章" in archivist.content() and "SHA-256" in archivist.content()
    shots(archivist, "archivist-record")
    with archivist.expect_download() as download:
        archivist.locator("table.list a").first.click()
    filed = tmp_path / "filed.docx"
    download.value.save_as(filed)
    assert filed.read_bytes()[:2] == b"PK"
    archivist.goto("/archive")
    with archivist.expect_download() as download:
        archivist.click("text=导出目录")
    assert download.value.suggested_filename.endswith(".xlsx")

    # -- refusal: a path-traversal download gets nothing from outside the item's folder
    for sneaky in ("..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "..%2F..%2F..%2F..%2Fgongwen.db"):
        response = archivist.request.get(f"{record_url}/files/{sneaky}")
        assert response.status == 403 and "超出" in response.text()
        assert "root:" not in response.text()

    # -- refusal: an archivist of another fonds
    jinan_archivist = sign_in(browser, base, "jinan_archivist")
    response = jinan_archivist.goto(record_url)
    assert response.status == 403 and "无权查阅" in jinan_archivist.content()
    shots(jinan_archivist, "refused-other-fonds")
    phases["archivist done"] = time.monotonic() - started
    jinan_archivist.goto("/archive?words=下基层")
    assert code not in jinan_archivist.content()

    # -- everything is in the audit trail
    db = create_engine(f"sqlite:///{home / 'gongwen.db'}")
    with db.connect() as conn:
        actions = {row[0] for row in conn.execute(text("SELECT DISTINCT action FROM auditevent"))}
    db.dispose()
    assert {
        "sign_in",
        "sign_in_failed",
        "received",
        "step:sign_off",
        "download",
        "download_refused",
        "archive_search",
        "archive_show",
        "archive_refused",
        "csrf_refused",
    } <= actions
    print("\n" + " · ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()) + f"\nscreenshots: {shots.folder}")


def test_the_supervision_board_in_the_browser(quiet_server: tuple[str, Path], browser, tmp_path: Path) -> None:
    """督办台账 as Shandong's leader sees it: one city submitted on time, fifteen overdue and reminded."""
    base, home = quiet_server
    engine = open_engine(Settings(home=home))  # the server's database: the requirement is recorded as `gongwen deadlines add` would
    _, content = load_notice()
    content = content.model_copy(update={"main_recipients": ["各市妇联"]})  # Shandong addresses its own cities
    circ_id = engine.launch("shandong", "issuing", content, policy="manual", actor="shandong_secretary")
    [plan] = reporting.add_requirements(engine, circ_id, [reporting.RequirementSpec(what="活动实施方案", due="2012-02-29")], "shandong_secretary")
    reporting.add_requirements(engine, circ_id, [reporting.RequirementSpec(what="信息联络员名单", due="5个工作日内", form="names")], "shandong_secretary")
    with Session(engine.db) as session:
        session.add(ReportSubmission(requirement_id=plan.id, org="jinan", status="submitted", submitted_on=date(2012, 2, 27)))
        session.commit()
    assert len(send_report_reminders(engine)) == 15  # every city but Jinan, escalated to its leader
    shots = Shots(tmp_path / "screenshots")
    leader = sign_in(browser, base, "shandong_leader")
    follow(leader, "nav >> text=督办台账")
    assert leader.url.endswith("/board")
    overdue = leader.locator("tr.status-overdue")
    assert overdue.count() == 15 and leader.locator("tr.status-on_time").count() == 1
    assert "逾期催办（报领导）" in overdue.first.inner_text()
    red = overdue.first.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")
    plain = leader.locator("tr.status-on_time td").first.evaluate("td => getComputedStyle(td).backgroundColor")
    assert red != plain  # overdue rows are highlighted
    badge = overdue.first.locator(".badge").bounding_box()
    cell = overdue.first.locator("td").nth(3).bounding_box()
    assert badge["height"] < 30 and badge["x"] + badge["width"] <= cell["x"] + cell["width"] + 1  # the status word fits its cell on one line
    shots(leader, "leader-board")
    print(f"\nscreenshots: {shots.folder}")


@pytest.mark.slow  # a browser and a web process
def test_a_returned_draft_shows_why_and_what_changed_in_the_browser(quiet_server: tuple[str, Path], browser, tmp_path: Path) -> None:
    """拟稿 → 核稿 退回 → 修改 in Chromium (issue 22): the compose page defaults to the full 发文办理; the
    reviewer's return is in their 已办; the secretary's 待办 marks the draft 退回 with the comment, the
    item puts it on top; the revision shows on the circulation page as coloured word changes."""
    base, home = quiet_server
    engine = open_engine(Settings(home=home))  # the server's database: this test runs the (few) automatic passes itself
    shots = Shots(tmp_path / "screenshots")
    secretary = sign_in(browser, base, "shandong_secretary")
    secretary.goto("/launch")
    assert secretary.locator("input[name=flow][value=outgoing]").is_checked()  # the full 发文办理 by default
    secretary.fill("input[name=title]", "关于开展妇女儿童权益保障宣传活动的通知")
    secretary.fill("textarea[name=body]", "为做好宣传工作，现通知如下。\n一、宣传时间。3月1日至8日。")
    follow(secretary, "button:has-text('发起流转')")
    circulation_url = secretary.url
    assert re.search(r"/circulations/\d+$", circulation_url) and "待秘书" in secretary.content()  # not 待系统办理
    drive(engine)
    secretary.goto("/inbox")
    follow(secretary, secretary.locator("a.button", has_text="拟稿").first)
    follow(secretary, "button[name=outcome][value=submit]")
    assert "下一环节：核稿，待核稿人" in secretary.content()
    drive(engine)

    reviewer = sign_in(browser, base, "shandong_reviewer")
    follow(reviewer, reviewer.locator("a.button", has_text="核稿").first)
    reviewer.fill("textarea[name=comment]", "请在标题中写明年份。")
    follow(reviewer, "button[name=outcome][value=return]")
    drive(engine)
    reviewer.goto("/done")
    assert "退回" in reviewer.content() and "请在标题中写明年份。" in reviewer.content()
    shots(reviewer, "reviewer-done")

    secretary.goto("/inbox")
    row = secretary.locator("table.list tbody tr.returned")
    assert row.count() == 1 and "陈主任退回：请在标题中写明年份。" in row.inner_text()
    shots(secretary, "secretary-inbox-returned")
    follow(secretary, row.locator("a.button"))
    assert "请在标题中写明年份。" in secretary.locator("section.returned").inner_text()  # on top of the item
    shots(secretary, "secretary-item-returned")
    secretary.fill("input[name=title]", "关于开展2012年妇女儿童权益保障宣传活动的通知")
    follow(secretary, "button[name=outcome][value=submit]")
    secretary.goto(circulation_url)
    assert secretary.locator("p.diff ins.diff-ins").first.inner_text() == "2012年"
    shots(secretary, "secretary-revision-diff")
    print(f"\nscreenshots: {shots.folder}")


def test_the_print_view_paginates_with_the_type_area_and_page_numbers(browser, tmp_path: Path) -> None:
    """Printed from the browser, a long document runs over several A4 pages, each with the type
    area's margins (天头 37 mm, 订口 28 mm) and "— N —" under it: odd pages right, even left."""
    from gongwen_engine.doc_templates import layout as L
    from gongwen_engine.doc_templates.html import render_html
    from gongwen_engine.models.content import DocumentContent

    body = [f"第{n}段。" + "各级妇联组织要结合实际，认真抓好贯彻落实，" * 6 for n in range(1, 25)]
    content = DocumentContent(issuer_mark="山东省妇女联合会文件", title="关于分页打印的通知", body=body, issued_on="2012-01-31")
    page = browser.new_page()
    page.set_content(f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>{render_html([content])}</body></html>')
    pdf = tmp_path / "print.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', p) for p in bbox.split("<page ")[1:]]
    assert len(pages) >= 3
    mm = 72 / 25.4
    width, bottom_of_type_area = 595.0, 842.0 - L.MARGIN_BOTTOM_MM * mm
    for n, words in enumerate(pages, start=1):
        numbers = [(float(x0), float(x1)) for x0, y0, x1, _y1, w in words if w == str(n) and float(y0) > bottom_of_type_area]
        assert len(numbers) == 1, f"page {n}: no page number under the type area"
        x0, x1 = numbers[0]
        assert (x0 > width / 2) if n % 2 else (x1 < width / 2), f"page {n}: number on the wrong side"
        text = [(float(x0), float(y1)) for x0, y0, _x1, y1, w in words if float(y0) <= bottom_of_type_area]
        top_line = min(y for _, y in text)  # the first line's glyph bottoms (a glyph box's top includes the font's ascent)
        assert top_line > L.MARGIN_TOP_MM * mm, f"page {n}: text above the 天头"
        if n > 1:  # page 1 opens with the issuing-authority mark, lower down
            assert top_line < L.MARGIN_TOP_MM * mm + 2 * L.LINE_PITCH / 20, f"page {n}: the text does not start at the 天头"
        assert min(x for x, _ in text) >= L.MARGIN_LEFT_MM * mm - 2, f"page {n}: text in the 订口"


@pytest.mark.slow  # a browser (cheap, but Chromium under load can take 20 s to start)
def test_printing_never_splits_the_head_from_its_number(browser, tmp_path: Path) -> None:
    """The 版头 (发文机关标志, 发文字号, red line) is one block the print engine keeps on one page:
    pushed down the page by a spacer until, without the rule, the mark and the number land on
    different pages — with the rule, they are printed on the same page."""
    from gongwen_engine.doc_templates.html import render_html

    _, content = load_notice()
    content = content.model_copy(update={"doc_number": NATIONAL_NUMBER})
    sheet = str(render_html([content]))
    mark, number = content.issuer_mark, content.doc_number
    assert ".gw-head { break-inside: avoid;" in sheet
    page = browser.new_page()

    def pages_of(html: str, spacer_mm: int) -> list[str]:
        page.set_content(f'<html lang="zh-CN"><body style="margin:0"><div style="height:{spacer_mm}mm"></div>{html}</body></html>')
        pdf = tmp_path / f"head-{spacer_mm}.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True)
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        return [p.replace(" ", "") for p in text.split("\f")]

    def split(pages: list[str]) -> bool:
        on = [i for i, p in enumerate(pages) if mark.replace(" ", "") in p], [i for i, p in enumerate(pages) if number.replace(" ", "") in p]
        assert on[0] and on[1], "the mark or the number is not in the PDF's text"
        return on[0][:1] != on[1][:1]

    without = sheet.replace(".gw-head { break-inside: avoid; page-break-inside: avoid; }", "")
    spacer = next((mm for mm in range(120, 226, 3) if split(pages_of(without, mm))), None)
    assert spacer is not None, "no spacer height splits the head without the rule: the check would prove nothing"
    assert not split(pages_of(sheet, spacer))
