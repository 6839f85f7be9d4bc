"""An office day in Chromium (issue 22): Shandong's secretary uploads the 正文 drafted in Word and two
attachment files, previews the red-header layout, launches; the reviewer returns the draft with a
comment and the revision shows as coloured word changes; 核稿, 会签, 签发 and 复核 by the people
whose steps they are; the document is numbered, sealed and delivered to 济南; Jinan's secretary
sees it arrive with its attachments and downloads one; Jinan's leader 批办 with a 批示, which the
收文处理单 shows; Jinan files it and its archivist downloads the attachment from the record.
(Registering an upload after correcting a field and a signed-out cookie refused: test_web.py.)

The web process runs without automatic steps (``--no-run``); the test runs them itself between the
people's actions (``drive``), as the returned-draft browser test does. Screenshots under the test's
tmp folder (printed at the end).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from browser import Shots, follow, sign_in
from driving import drive
from sqlmodel import Session, select
from test_web_files import PDF, word_draft

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.tables import ArchiveItem, Circulation

# Which outcome a person gives when several are offered: the way forward, never 退回 or 转发.
TITLE = "关于开展2027年三八妇女节系列活动的通知"  # the revision after the reviewer's return
INSTRUCTION = "请各部门认真学习，结合实际抓好落实。"  # Jinan's leader's 批示 at 批办
PREFERRED = ("submit", "approve", "agree", "sign", "file", "confirm", "done", "read")


def run_steps(engine: Engine) -> None:
    """The automatic steps, in a thread of their own: Playwright's sync API keeps an event loop
    running in this one, and a step that runs a coroutine (asyncio.run) cannot start inside it."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(drive, engine).result()


def act_on_everything(page, engine: Engine, rounds: int = 6, comment: str = "同意。") -> int:
    """The signed-in person opens each 待办 and gives the preferred outcome with ``comment`` (a
    leader's 批示); returns how many they acted on."""
    acted = 0
    for _ in range(rounds):
        run_steps(engine)
        page.goto("/inbox")
        links = page.locator("table.list a.button")
        if links.count() == 0:
            return acted
        follow(page, links.first)
        offered = [b.get_attribute("value") for b in page.locator("button[name=outcome]").all()]
        choice = next((o for o in PREFERRED if o in offered), next((o for o in offered if o not in ("return", "forward")), None))
        if choice is None:
            return acted
        if page.locator("textarea[name=comment]").count():
            page.fill("textarea[name=comment]", comment)
        follow(page, f"button[name=outcome][value={choice}]")
        acted += 1
    run_steps(engine)
    return acted


@pytest.mark.slow  # a browser, a web process, LibreOffice for the seal and the archive's page counts
def test_an_office_day_with_a_word_draft_and_an_attachment_file(quiet_server: tuple[str, Path], browser, tmp_path: Path) -> None:
    base, home = quiet_server
    engine = open_engine(Settings(home=home))
    shots = Shots(tmp_path / "screenshots")
    (tmp_path / "三八活动通知.docx").write_bytes(word_draft())
    (tmp_path / "活动安排表.pdf").write_bytes(PDF)
    second = PDF.replace(b"%%EOF", b"% second\n%%EOF")
    (tmp_path / "报名表.pdf").write_bytes(second)

    # -- Shandong's secretary: the Word draft and an attachment file, previewed, then launched
    secretary = sign_in(browser, base, "shandong_secretary")
    secretary.goto("/launch")
    secretary.set_input_files("input[name=body_file]", str(tmp_path / "三八活动通知.docx"))
    secretary.set_input_files("input[name=attachment_files]", [str(tmp_path / "活动安排表.pdf"), str(tmp_path / "报名表.pdf")])
    for box in secretary.locator("input[name=recipients]").all():
        box.uncheck()
    secretary.check("input[name=recipients][value=济南市妇联]")
    follow(secretary, "button[name=preview]")
    assert "已从“三八活动通知.docx”读取正文" in secretary.content()
    preview = secretary.locator("section.paper-view").inner_text()
    assert "一、活动时间" in preview and "（一）集中宣传" in preview and "山东省妇女联合会文件" in preview
    assert secretary.locator("input[name=title]").input_value() == "关于开展三八妇女节系列活动的通知"
    kept = secretary.locator("input[name=keep_files]")
    assert kept.count() == 2 and all(box.is_checked() for box in kept.all())  # both files stay with the draft
    shots(secretary, "compose-preview")
    follow(secretary, "button:has-text('发起流转')")
    assert re.search(r"/circulations/\d+$", secretary.url), secretary.content()[:2000]
    circ_id = int(secretary.url.rsplit("/", 1)[1])
    assert "附件1：活动安排表.pdf" in secretary.content() and "附件2：报名表.pdf" in secretary.content()
    shots(secretary, "circulation-launched")

    # -- 拟稿 提交; the reviewer returns it with a comment; the revision shows as coloured word changes
    run_steps(engine)
    secretary.goto("/inbox")
    follow(secretary, secretary.locator("a.button", has_text="拟稿").first)
    follow(secretary, "button[name=outcome][value=submit]")
    run_steps(engine)
    reviewer = sign_in(browser, base, "shandong_reviewer")
    reviewer.goto("/inbox")
    follow(reviewer, reviewer.locator("a.button", has_text="核稿").first)
    reviewer.fill("textarea[name=comment]", "请在标题中写明年份。")
    follow(reviewer, "button[name=outcome][value=return]")
    run_steps(engine)
    secretary.goto("/inbox")
    follow(secretary, secretary.locator("table.list tbody tr.returned a.button").first)
    assert "请在标题中写明年份。" in secretary.locator("section.returned").inner_text()
    secretary.fill("input[name=title]", TITLE)
    follow(secretary, "button[name=outcome][value=submit]")
    run_steps(engine)
    secretary.goto(f"/circulations/{circ_id}")
    assert secretary.locator("p.diff ins.diff-ins").first.inner_text() == "2027年"
    shots(secretary, "revision-coloured-changes")

    # -- 拟稿 提交, 核稿, 会签, 签发, 复核: each by the people whose step it is
    pages = {"shandong_reviewer": reviewer}
    people = ["shandong_secretary", "shandong_reviewer", "shandong_org_dept", "shandong_pub_dept", "shandong_leader", "shandong_secretary"]
    for _ in range(3):
        for account in people:
            pages.setdefault(account, secretary if account == "shandong_secretary" else sign_in(browser, base, account))
            act_on_everything(pages[account], engine)
    run_steps(engine)
    with Session(engine.db) as session:
        received = session.exec(select(Circulation).where(Circulation.org == "jinan", Circulation.parent_id == circ_id)).first()
    assert received is not None, "delivered to 济南"
    leader = pages["shandong_leader"]
    leader.goto("/done")
    assert TITLE in leader.content()
    shots(leader, "leader-done")

    # -- Jinan's secretary sees it arrive with its attachment, downloads it, and Jinan handles it
    city = sign_in(browser, base, "jinan_secretary")
    city.goto(f"/circulations/{received.id}")
    assert "附件1：活动安排表.pdf" in city.content() and "附件2：报名表.pdf" in city.content()
    shots(city, "jinan-received")
    with city.expect_download() as download:
        city.click("a:has-text('附件1：活动安排表.pdf')")
    assert Path(download.value.path()).read_bytes() == PDF
    city_leader = sign_in(browser, base, "jinan_leader")
    for _ in range(3):
        act_on_everything(city, engine)
        act_on_everything(city_leader, engine, comment=INSTRUCTION)
    city.goto(f"/circulations/{received.id}/record")
    assert "济南市妇联收文处理单" in city.content() and INSTRUCTION in city.content()  # the 批示 on the 处理单
    shots(city, "jinan-processing-slip")

    # -- Jinan's archivist finds the filed item and downloads the attachment file from the record
    with Session(engine.db) as session:
        item = session.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == received.id)).first()
    assert item is not None, "filed at 济南"
    assert [f["role"] for f in item.files][-2:] == ["attachment_1", "attachment_2"]
    archivist = sign_in(browser, base, "jinan_archivist")
    archivist.goto(f"/archive/items/{item.archive_code}")
    assert "附件1" in archivist.content()
    shots(archivist, "jinan-archive-record")
    with archivist.expect_download() as download:
        archivist.locator("table.list a", has_text=re.compile("attachment_1|附件1")).first.click()
    assert Path(download.value.path()).read_bytes() == PDF
    print(f"\nscreenshots: {shots.folder}")
