"""Administration without editing YAML (issue 24): people, organisations, departments, numbering and
calendar years in the database; every change audited; an organisation's administrator is kept to
its own organisation and those under it; changes reach a second process without a restart."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.runtime import runner
from gongwen_engine.flows.services import admin
from gongwen_engine.flows.services.audit import verify_audit_chain
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.workdays import CalendarError, calendar_of
from gongwen_engine.models.tables import AuditEvent, Circulation, WorkItem

pytestmark = pytest.mark.usefixtures("prefect_harness")

NOTICE = DocumentContent(
    doc_type="通知",
    issuer_mark="中华全国妇女联合会文件",
    title="关于开展2012年“三八”维权周活动的通知",
    main_recipients=["各省、自治区、直辖市妇联"],
    body=["为做好维权周活动，现将有关事项通知如下。"],
    signature="全国妇联",
    issued_on=date(2012, 2, 20),
)


def open_items(engine, circulation_id: int) -> list[WorkItem]:
    with Session(engine.db) as session:
        return list(session.exec(select(WorkItem).where(WorkItem.circulation_id == circulation_id, WorkItem.status == "open")))


def act(engine, circulation_id: int, step: str, user: str, outcome: str = "approve") -> None:
    item = next(i for i in open_items(engine, circulation_id) if i.step == step and i.assignee in (None, user))
    engine.complete(item.id, user, outcome)
    runner.run_until_idle(engine)


def test_an_organisation_administrator_cannot_touch_another_organisations_people(make_engine):
    engine = make_engine()
    with pytest.raises(Refusal, match=r"山东省妇联的管理员.*湖南省妇联不在"):
        admin.disable_person(engine, "shandong_admin", "hunan_secretary")
    with pytest.raises(Refusal, match="湖南省妇联"):
        admin.add_person(engine, "shandong_admin", "hunan_new", "新文书", "hunan", ["secretary"])
    with pytest.raises(Refusal, match="不是管理员"):
        admin.disable_person(engine, "shandong_leader", "shandong_secretary")
    with pytest.raises(Refusal):
        admin.rename_organisation(engine, "shandong_admin", "acwf", short_name="全国妇女联合会")  # above its own
    with pytest.raises(Refusal):
        admin.reset_password(engine, "hunan_admin", "jinan_secretary")
    assert engine.config.generation == 0  # nothing was stored
    # below its own: a city of Shandong is the provincial administrator's; the tree's root administers all
    admin.add_person(engine, "shandong_admin", "jinan_secretary2", "济南新文书", "jinan", ["secretary"])
    admin.add_person(engine, "acwf_admin", "hunan_secretary2", "湘新文书", "hunan", ["secretary"])
    assert {"jinan_secretary2", "hunan_secretary2"} <= set(engine.config.users)
    assert "hunan" not in admin.administered(engine.config, "shandong_admin")


def test_a_new_deputy_with_the_leader_role_signs_off_and_a_disabled_secretarys_items_go_to_the_role(make_engine):
    engine = make_engine()
    other = make_engine()  # a second process on the same database (a worker, another web server)
    admin.add_person(engine, "acwf_admin", "acwf_secretary2", "赵秘书", "acwf", ["secretary"])
    circ = other.launch("acwf", "outgoing", NOTICE, actor="acwf_secretary2")  # `other` sees the new person at once
    [draft] = open_items(engine, circ)
    other.reassign(draft.id, "acwf_secretary2", "acwf_secretary")  # 转办: the 拟稿 item is now his alone
    assert [i.assignee for i in open_items(engine, circ)] == ["acwf_secretary"]
    done = admin.disable_person(engine, "acwf_admin", "acwf_secretary")
    assert "1 件待办" in done.text
    [draft] = open_items(other, circ)
    assert draft.assignee is None and draft.slot == "role:secretary"
    with pytest.raises(Refusal):
        other.complete(draft.id, "acwf_secretary", "submit")  # disabled: may do nothing
    act(other, circ, "draft", "acwf_secretary2", "submit")
    act(other, circ, "review", "acwf_reviewer")
    act(other, circ, "countersign", "acwf_org_dept")
    act(other, circ, "countersign", "acwf_pub_dept")
    admin.add_person(engine, "acwf_admin", "acwf_deputy2", "钱副主席", "acwf", ["reviewer"], title="副主席", deputy="acwf_leader")
    admin.change_person(engine, "acwf_admin", "acwf_deputy2", roles=["leader"])
    act(other, circ, "sign_off", "acwf_deputy2")
    with Session(other.db) as session:
        signed = session.exec(select(AuditEvent).where(AuditEvent.circulation_id == circ, AuditEvent.step == "sign_off")).all()
        assert any(e.actor == "acwf_deputy2" for e in signed)
        assert session.get(Circulation, circ).step != "sign_off"
    assert verify_audit_chain(engine).intact
    changes = admin.admin_changes(engine, "acwf_admin")
    assert [c.action for c in changes][:3] == ["admin.person_changed", "admin.person_added", "admin.person_disabled"]
    assert changes[0].detail["before"]["roles"] == ["reviewer"] and changes[0].detail["after"]["roles"] == ["leader"]
    assert not admin.admin_changes(engine, "hunan_admin")  # not Hunan's


def test_a_2027_calendar_makes_a_working_day_limit_into_january_compute(make_engine):
    engine = make_engine()
    with pytest.raises(CalendarError):
        calendar_of(engine.config).add_working_days(date(2026, 12, 28), 5)
    with pytest.raises(Refusal, match="最上级单位"):
        admin.set_calendar_year(engine, "shandong_admin", 2027, "通知", [("元旦", date(2027, 1, 1), None)], [])
    admin.set_calendar_year(
        engine,
        "acwf_admin",
        2027,
        "国务院办公厅关于2027年部分节假日安排的通知（示例）",
        [("元旦", date(2027, 1, 1), date(2027, 1, 3)), ("春节", date(2027, 2, 5), date(2027, 2, 12))],
        [date(2027, 2, 20)],
    )
    other = make_engine()
    cal = calendar_of(other.config)
    # 2026-12-28 (Mon) + 5 working days: 29, 30, 31 December, then 1-3 January are the holiday, 4 and 5 January work
    assert cal.add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 5)
    assert cal.is_workday(date(2027, 2, 20)) and not cal.is_workday(date(2027, 2, 8))
    with pytest.raises(Refusal, match="不在 2027 年"):
        admin.set_calendar_year(engine, "acwf_admin", 2027, "通知", [("元旦", date(2028, 1, 1), None)], [])


def test_organisations_departments_and_numbering(make_engine):
    engine = make_engine()
    done = admin.rename_organisation(engine, "shandong_admin", "shandong", short_name="山东妇联", name="山东省妇女联合会（新）")
    assert "S037" in done.text
    org = engine.config.org("shandong")
    assert org.short_name == "山东妇联" and org.fonds == "S037" and "鲁妇发" in org.prefixes
    admin.add_organisation(engine, "shandong_admin", "jinan_new", "济南市新区妇女联合会", "济南新区妇联", "jinan", ["济新妇发"], "J901")
    assert engine.config.parent("jinan_new").code == "jinan" and engine.config.org("jinan_new").level == "county"
    with pytest.raises(Refusal, match="机关代字“鲁妇发”已属于"):
        admin.add_organisation(engine, "shandong_admin", "jinan_x", "某妇女联合会", "某妇联", "jinan", ["鲁妇发"], "J902")
    admin.add_department(engine, "shandong_admin", "shandong", "权益部")
    admin.change_person(engine, "shandong_admin", "shandong_reviewer", department="权益部")
    admin.rename_department(engine, "shandong_admin", "shandong", "权益部", "权益保障部")
    assert engine.config.user("shandong_reviewer").department == "权益保障部"
    with pytest.raises(Refusal, match="没有部门"):
        admin.change_person(engine, "shandong_admin", "shandong_leader", department="不存在部")
    admin.set_scheme(engine, "shandong_admin", "鲁妇发", 2027, 5)
    assert engine.config.start_of("鲁妇发", 2027) == 5
    with pytest.raises(Refusal):
        admin.set_scheme(engine, "hunan_admin", "鲁妇发", 2027, 6)


def test_a_reset_password_must_be_changed(make_engine):
    engine = make_engine()
    password = admin.reset_password(engine, "shandong_admin", "shandong_secretary")
    hashes, must_change = admin.password_state(engine)
    assert "shandong_secretary" in hashes and "shandong_secretary" in must_change and password not in hashes["shandong_secretary"]
    with pytest.raises(Refusal, match="太短"):
        admin.change_own_password(engine, "shandong_secretary", "short")
    admin.change_own_password(engine, "shandong_secretary", "a-longer-password")
    assert "shandong_secretary" not in admin.password_state(engine)[1]


def tree_csv(n: int = 20, parent: str = "jinan") -> bytes:
    lines = ["代码,全称,简称,上级,机关代字,全宗号"]
    lines.append(f"jn_district,济南市新区妇女联合会,济南新区妇联,{parent},济新妇发,J900")
    for k in range(1, n):
        lines.append(f"jn_town{k},济南新区第{k}街道妇女联合会,新区{k}街道妇联,jn_district,济新{k}妇,J9{k:02d}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_a_tree_of_20_organisations_imports_after_preview(make_engine):
    engine = make_engine()
    preview = admin.preview_tree(engine, "shandong_admin", "tree.csv", tree_csv())
    assert not preview.errors and preview.changes == 20 and [line.what for line in preview.lines] == ["新增"] * 20
    assert "jn_district" not in engine.config.organisations  # a preview changes nothing
    done = admin.import_tree(engine, "shandong_admin", preview.digest)
    assert "新增 20 个单位" in done.text
    assert len(engine.config.children("jn_district")) == 19 and engine.config.org("jn_town3").parent == "jn_district"
    with pytest.raises(Refusal, match="已导入"):
        admin.import_tree(engine, "shandong_admin", preview.digest)


def test_an_xlsx_tree_with_wrong_rows_is_refused_row_by_row(make_engine, tmp_path):
    from openpyxl import Workbook

    engine = make_engine()
    book = Workbook()
    sheet = book.active
    sheet.append(["代码", "全称", "简称", "上级", "机关代字", "全宗号"])
    sheet.append(["hn_new", "湖南某妇女联合会", "湖南某妇联", "hunan", "湘某妇发", "H900"])  # not Shandong's
    sheet.append(["jn_a", "济南甲妇女联合会", "济南甲妇联", "jinan", "鲁妇发", "J800"])  # a prefix Shandong uses
    sheet.append(["jn_b", "济南乙妇女联合会", "济南乙妇联", "nowhere", "济乙妇发", "J801"])  # no such parent
    sheet.append(["shandong", "山东省妇女联合会", "山东省妇联", "acwf", "鲁妇发", "X1"])  # a fonds never changes
    sheet.append(["jinan", "济南市妇女联合会", "济南妇联", "shandong", "济妇发", ""])  # a rename: fine
    path = tmp_path / "tree.xlsx"
    book.save(path)
    preview = admin.preview_tree(engine, "shandong_admin", "tree.xlsx", path.read_bytes())
    assert [row for row, _ in preview.errors] == [2, 3, 4, 5]
    assert "不在您管理的范围内" in preview.errors[0][1] and "鲁妇发" in preview.errors[1][1] and "nowhere" in preview.errors[2][1]
    assert "全宗号" in preview.errors[3][1]
    assert [(line.row, line.what) for line in preview.lines] == [(6, "更名")]
    with pytest.raises(Refusal, match="重新上传"):
        admin.import_tree(engine, "shandong_admin", preview.digest)  # not kept: it had errors
    with pytest.raises(Refusal, match="不支持"):
        admin.preview_tree(engine, "shandong_admin", "tree.txt", b"x")


def _signed_in_client(app, account: str):
    import re

    from fastapi.testclient import TestClient

    client = TestClient(app)
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"account": account, "password": "gongwen-demo", "csrf": token, "next": "/"})
    page = client.get("/admin")
    return client, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_the_admin_pages_keep_an_organisations_administrator_to_its_own(tmp_path):
    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.web.app import create_app

    app = create_app(Settings(home=tmp_path / "home", storage=tmp_path / "storage"), run_steps=False)
    client, csrf = _signed_in_client(app, "shandong_admin")
    assert client.get("/admin/person/hunan_secretary").status_code == 409
    refused = client.post("/admin/person/hunan_secretary/disable", data={"csrf": csrf})
    assert refused.status_code == 409 and "湖南省妇联不在山东省妇联及其下级单位中" in refused.text
    assert client.post("/admin/person/hunan_secretary/password", data={"csrf": csrf}).status_code == 409
    assert client.post("/admin/person/jinan_secretary/disable", data={"csrf": "wrong"}).status_code == 403  # CSRF
    page = client.get("/admin?org=hunan")  # not administered: its own organisation is shown instead
    assert "山东省妇联" in page.text and "hunan_secretary" not in page.text
    leader, _ = _signed_in_client(app, "shandong_leader")
    assert leader.get("/admin").status_code == 409  # not an administrator
    done = client.post("/admin/person/jinan_secretary/disable", data={"csrf": csrf})
    assert done.status_code == 200 and "已停用 刘文书" in done.text  # a city under Shandong: its own to administer


def test_config_export_and_import_round_trip_with_a_diff_first(make_engine, tmp_path):
    engine = make_engine()
    admin.add_person(engine, "acwf_admin", "acwf_deputy2", "钱副主席", "acwf", ["leader"], title="副主席")
    admin.set_calendar_year(engine, "acwf_admin", 2027, "通知（示例）", [("元旦", date(2027, 1, 1), date(2027, 1, 3))], [])
    folder = tmp_path / "exported"
    admin.export_config(engine, folder)
    assert admin.config_diff(engine, folder) == []  # what was written is what there is
    admin.rename_organisation(engine, "shandong_admin", "shandong", short_name="山东妇联")
    admin.disable_person(engine, "acwf_admin", "acwf_deputy2")
    diff = admin.config_diff(engine, folder)
    assert any("山东妇联 → 山东省妇联" in line for line in diff) and any("acwf_deputy2" in line and "disabled" in line for line in diff)
    with pytest.raises(Refusal, match="最上级单位"):
        admin.import_config(engine, "shandong_admin", folder)
    admin.import_config(engine, "acwf_admin", folder)
    assert admin.config_diff(engine, folder) == []
    assert engine.config.org("shandong").short_name == "山东省妇联" and not engine.config.user("acwf_deputy2").disabled
    assert calendar_of(engine.config).add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_the_admin_pages_speak_chinese(tmp_path):
    from test_web_chinese import latin_words

    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.web.app import create_app

    app = create_app(Settings(home=tmp_path / "home", storage=tmp_path / "storage"), run_steps=False)
    client, csrf = _signed_in_client(app, "shandong_admin")
    client.post("/admin/person/jinan_secretary/password", data={"csrf": csrf})
    sheet = "代码,全称,简称,上级,机关代字,全宗号\njn_x,济南某妇女联合会,济南某妇联,no_such_org,济某妇发,J1\n".encode()
    pages = {
        "/admin": client.get("/admin"),
        "/admin?org=jinan": client.get("/admin?org=jinan"),
        "/admin/person/jinan_secretary": client.get("/admin/person/jinan_secretary"),
        "/admin/log": client.get("/admin/log"),
        "/admin/import": client.get("/admin/import"),
        "preview": client.post("/admin/import", data={"csrf": csrf}, files={"file": ("单位.csv", sheet)}),
        "refused": client.post("/admin/person/hunan_secretary/disable", data={"csrf": csrf}),
        "bad calendar": client.post("/admin/calendar", data={"csrf": csrf, "year": "2027", "notice": "通知", "holidays": "元旦 明天"}),
        "bad seal": client.post(
            "/admin/seal", data={"csrf": csrf, "org": "shandong"}, files={"image": ("印章.png", b"x"), "key": ("k", b"x"), "certificate": ("c", b"x")}
        ),
    }
    image, key, cert = _seal_files(tmp_path)
    files = {"image": ("印章.png", image), "key": ("私钥", key), "certificate": ("证书", cert)}
    uploaded = client.post("/admin/seal", data={"csrf": csrf, "org": "jinan"}, files=files)
    assert uploaded.status_code == 200 and "印章已上传并通过校验" in uploaded.text and key.decode()[40:80] not in uploaded.text
    for where, response in pages.items():
        latin = set(latin_words(response.text)) - {"PNG"}  # an image format, read as is like PDF
        assert not latin, f"{where}: {latin}"


def _seal_files(tmp_path, days: int = 365):
    import io

    from certificates import self_signed_p256
    from cryptography.hazmat.primitives import serialization
    from PIL import Image

    key, cert = self_signed_p256("山东省妇女联合会", days)
    image = io.BytesIO()
    Image.new("RGBA", (300, 300), (200, 0, 0, 0)).save(image, "PNG")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return image.getvalue(), pem, cert.public_bytes(serialization.Encoding.PEM)


def test_an_uploaded_seal_is_validated_kept_and_never_shown(make_engine, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec

    from gongwen_engine.config.seals import load_seal_config
    from gongwen_engine.doc_templates.signing import Keyring

    engine = make_engine()
    image, key, cert = _seal_files(tmp_path)
    _, other_key, _ = _seal_files(tmp_path)
    with pytest.raises(Refusal, match="不匹配"):
        admin.upload_seal(engine, "shandong_admin", "shandong", image, other_key, cert)
    with pytest.raises(Refusal, match="PNG"):
        admin.upload_seal(engine, "shandong_admin", "shandong", b"GIF89a", key, cert)
    with pytest.raises(Refusal, match="湖南省妇联"):
        admin.upload_seal(engine, "shandong_admin", "hunan", image, key, cert)
    summary = admin.upload_seal(engine, "shandong_admin", "shandong", image, key, cert)
    assert "山东省妇女联合会" in summary.subject
    seals = load_seal_config(engine.config.directory, engine.config.organisations, engine.settings.home)
    identity = Keyring(seals).identity(engine.config.org("shandong"))
    assert isinstance(identity.key, ec.EllipticCurvePrivateKey) and seals.image("shandong").read_bytes() == image
    [event] = [e for e in admin.admin_changes(engine, "shandong_admin") if e.action == "admin.seal_uploaded"]
    assert key.decode() not in str(event.detail) and event.detail["after"]["certificate_sha256"] == summary.certificate_sha256
    assert oct(seals.resolve(seals.entry("shandong").key).stat().st_mode & 0o777) == "0o600"


def test_administration_on_postgresql_reaches_another_process(make_engine, pg_url):
    engine, other = make_engine(pg_url), make_engine(pg_url)
    admin.add_person(engine, "acwf_admin", "acwf_secretary2", "赵秘书", "acwf", ["secretary"])
    admin.disable_person(engine, "acwf_admin", "acwf_secretary")
    assert other.config.generation == 0  # built before the changes: rebuilt at its next request or step
    config = other.refresh_config()
    assert config.generation == 2 and config.user("acwf_secretary").disabled
    assert [u.id for u in config.users_with("acwf", "secretary")] == ["acwf_secretary2"]
    admin.set_calendar_year(engine, "acwf_admin", 2027, "通知（示例）", [("元旦", date(2027, 1, 1), date(2027, 1, 3))], [])
    assert calendar_of(other.refresh_config()).add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_the_admin_forms_never_answer_5xx_or_a_traceback(tmp_path):
    """The bad-input campaign's web fuzz (tests/bad_input_web.py) over the 系统管理 routes, as the
    administrators who may use them (the campaign itself visits as a secretary, a leader, an archivist)."""
    import schemathesis
    from bad_input_common import Tally
    from bad_input_web import SLOW_OPERATIONS, Visitor, _fuzz_operation, openapi_schema, web_app
    from bad_input_web import sign_in as visit
    from fastapi.testclient import TestClient
    from schemathesis import GenerationMode

    tally = Tally("admin forms")
    with web_app(tmp_path / "web") as (app, visitors):
        with TestClient(app) as client:
            admins = [visit(client, "shandong_admin"), visit(client, "acwf_admin")]
        schema = schemathesis.openapi.from_dict(openapi_schema(app))
        schema.app = app
        slow = {*SLOW_OPERATIONS, ("POST", "/password"), ("POST", "/admin/person/{user_id}/password")}
        for result in schema.get_all_operations():
            operation = result.ok()
            if not (operation.path.startswith("/admin") or operation.path == "/password"):
                continue
            count = 2 if (operation.method.upper(), operation.path) in slow else 6
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(operation, mode, [*admins, visitors[0], Visitor(None, None, None)], count, 0, tally, tmp_path / "downloads")
    assert tally.tried > 100 and not tally.failures, "\n".join(tally.failures[:10])


def test_a_person_moved_to_a_city_takes_their_items_off_and_leaves_the_department(make_engine):
    engine = make_engine()
    admin.change_person(engine, "shandong_admin", "shandong_org_dept", org="jinan")
    moved = engine.config.user("shandong_org_dept")
    assert moved.org == "jinan" and moved.department is None
    assert "shandong_org_dept" not in [u.id for u in engine.config.users_with("shandong", "department_head")]
    with pytest.raises(Refusal, match="湖南省妇联"):
        admin.change_person(engine, "shandong_admin", "shandong_pub_dept", org="hunan")
