"""系统管理 in Chromium (issue 24, "done means"), within one run of `gongwen serve`: an administrator
appoints a new deputy and gives her the leader role, and she signs a document; a secretary is
disabled and his open 拟稿 item reaches the remaining secretary; a 2027 calendar is entered and a
working-day limit into January 2027 computes; a 20-organisation spreadsheet imports after preview."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from browser import Shots, follow, sign_in
from driving import drive
from sqlmodel import Session, select
from test_admin import NOTICE, tree_csv

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.rules.workdays import calendar_of
from gongwen_engine.models.tables import Circulation, WorkItem

NEW_PASSWORD = "her-own-password-2027"


def open_items(engine, circ: int) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circ, WorkItem.status == "open")))


def act(engine, circ: int, step: str, user: str, outcome: str = "approve") -> None:
    item = next(i for i in open_items(engine, circ) if i.step == step and i.assignee in (None, user))
    engine.complete(item.id, user, outcome)
    drive(engine)


def temporary_password(admin_page, user_id: str) -> str:
    """重设密码 on the person's page; the flash shows the new password once."""
    admin_page.goto(f"/admin/person/{user_id}")
    follow(admin_page, "button:has-text('重设密码')")
    shown = admin_page.locator(".flash").first.inner_text()
    return re.search(r"临时密码（只显示这一次，请当面或电话告知本人）：(\S+?)。", shown).group(1)


def first_sign_in(browser, base: str, user_id: str, password: str):
    """The first sign-in after a reset goes to 修改密码 before anything else."""
    page = sign_in(browser, base, user_id, password)
    assert page.url.endswith("/password")
    page.goto("/inbox")
    assert page.url.endswith("/password")  # every page sends her back until she sets her own
    page.fill("input[name=new_password]", NEW_PASSWORD)
    page.fill("input[name=again]", NEW_PASSWORD)
    follow(page, "button:has-text('保存')")
    assert "密码已修改" in page.content()
    return page


def add_person(admin_page, user_id: str, name: str, title: str, roles: list[str]) -> None:
    admin_page.goto("/admin?org=acwf")
    form = admin_page.locator("#add-person")
    form.locator("input[name=user_id]").fill(user_id)
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=title]").fill(title)
    for role in roles:
        form.locator(f"input[name=roles][value={role}]").check()
    follow(admin_page, form.locator("button[type=submit]"))
    assert f"已添加人员 {name}（{user_id}" in admin_page.content()


@pytest.mark.slow  # a browser and a web process
def test_administration_in_the_browser(quiet_server: tuple[str, Path], browser, tmp_path: Path) -> None:
    base, home = quiet_server
    engine = open_engine(Settings(home=home))  # the server's database; the server is a process of its own
    shots = Shots(tmp_path / "screenshots")
    admin_page = sign_in(browser, base, "acwf_admin")
    assert admin_page.url.endswith("/admin")  # an administrator's home
    shots(admin_page, "admin-home")

    # -- a new deputy (副主席) appointed, given the leader role, signs off -----------------------------
    circ = engine.launch("acwf", "outgoing", NOTICE, actor="acwf_secretary")
    drive(engine)
    act(engine, circ, "draft", "acwf_secretary", "submit")
    act(engine, circ, "review", "acwf_reviewer")
    act(engine, circ, "countersign", "acwf_org_dept")
    act(engine, circ, "countersign", "acwf_pub_dept")
    assert [i.step for i in open_items(engine, circ)] == ["sign_off"]
    add_person(admin_page, "acwf_deputy3", "钱晓梅", "副主席", ["reviewer"])
    admin_page.goto("/admin/person/acwf_deputy3")
    admin_page.locator("#change-person input[name=roles][value=reviewer]").uncheck()
    admin_page.locator("#change-person input[name=roles][value=leader]").check()
    follow(admin_page, admin_page.locator("#change-person button[type=submit]"))
    assert "已修改人员 钱晓梅" in admin_page.content()
    shots(admin_page, "deputy-given-leader")
    deputy = first_sign_in(browser, base, "acwf_deputy3", temporary_password(admin_page, "acwf_deputy3"))
    deputy.goto("/inbox")
    follow(deputy, deputy.locator("a.button", has_text="签发").first)
    follow(deputy, "button[name=outcome][value=approve]")
    shots(deputy, "deputy-signed")
    drive(engine)
    with Session(engine.db) as session:
        signed = session.get(Circulation, circ)
        assert signed.step != "sign_off"
    assert any(i.actor == "acwf_deputy3" for i in _items(engine, circ, "sign_off"))

    # -- a secretary disabled: his open 拟稿 item reaches the remaining secretary -----------------------
    add_person(admin_page, "acwf_secretary2", "赵秘书", "", ["secretary"])
    second = engine.launch("acwf", "outgoing", NOTICE, actor="acwf_secretary")
    drive(engine)
    [draft] = open_items(engine, second)
    engine.reassign(draft.id, "acwf_secretary2", "acwf_secretary")  # 转办: the 拟稿 item is now his alone
    assert [i.assignee for i in open_items(engine, second)] == ["acwf_secretary"]
    admin_page.goto("/admin/person/acwf_secretary")
    follow(admin_page, "button:has-text('停用')")
    assert "1 件待办已转给本单位相应角色的人员" in admin_page.content()
    shots(admin_page, "secretary-disabled")
    gone = sign_in(browser, base, "acwf_secretary")
    assert "用户名或密码不正确" in gone.content()  # a disabled person cannot sign in
    remaining = first_sign_in(browser, base, "acwf_secretary2", temporary_password(admin_page, "acwf_secretary2"))
    remaining.goto("/inbox")
    follow(remaining, remaining.locator("a.button", has_text="拟稿").first)
    follow(remaining, "button[name=outcome][value=submit]")
    drive(engine)
    assert [i.step for i in open_items(engine, second)] == ["review"]

    # -- the 2027 calendar, and a working-day limit into January 2027 ------------------------------------
    admin_page.goto("/admin")
    calendar = admin_page.locator("#calendar")
    calendar.locator("input[name=year]").fill("2027")
    calendar.locator("input[name=notice]").fill("国务院办公厅关于2027年部分节假日安排的通知（示例）")
    calendar.locator("textarea[name=holidays]").fill("元旦 2027-01-01 2027-01-03\n春节 2027-02-05 2027-02-12")
    calendar.locator("textarea[name=workdays]").fill("2027-02-20")
    follow(admin_page, calendar.locator("button[type=submit]"))
    assert "已录入 2027 年节假日安排" in admin_page.content()
    later = open_engine(Settings(home=home))
    assert calendar_of(later.config).add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 5)

    # -- a 20-organisation spreadsheet, previewed, then imported -----------------------------------------
    sheet = tmp_path / "济南新区.csv"
    sheet.write_bytes(tree_csv(20, parent="jinan"))
    admin_page.goto("/admin/import")
    admin_page.set_input_files("#import-upload input[name=file]", str(sheet))
    follow(admin_page, "#import-upload button[type=submit]")
    rows = admin_page.locator("#import-preview tbody tr")
    assert rows.count() == 20 and admin_page.locator("#import-errors").count() == 0
    assert "jn_district" not in open_engine(Settings(home=home)).config.organisations  # the preview changed nothing
    shots(admin_page, "import-preview")
    follow(admin_page, "#import-apply button[type=submit]")
    assert "新增 20 个单位" in admin_page.content()
    assert len(open_engine(Settings(home=home)).config.children("jn_district")) == 19

    # -- the administrative changes are on the audit page --------------------------------------------------
    admin_page.goto("/admin/log")
    log = admin_page.locator("#admin-log").inner_text()
    for words in ("添加人员", "修改人员", "停用人员", "重设密码", "录入节假日安排", "导入单位名单"):
        assert words in log
    shots(admin_page, "admin-log")
    print(f"\nscreenshots: {shots.folder}")


def _items(engine, circ: int, step: str) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circ, WorkItem.step == step)))
