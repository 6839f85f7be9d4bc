"""The national cascade (issue 6): the generated organisation tree, `gongwen cascade` on a
municipality through the CLI and Prefect, exactly once per organisation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.national import generate
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.cascade import NATIONAL_CONFIG_DIR, subtree_config
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, CirculationFile, Delivery, Document, IssuedNumber, Registration


@pytest.fixture(scope="module")
def national():
    return load_config(NATIONAL_CONFIG_DIR)


def test_national_tree_has_every_level_from_the_division_table(national) -> None:
    levels = Counter(o.level.value for o in national.organisations.values())
    assert levels["national"] == 1
    assert levels["provincial"] == 32  # 31 provinces, autonomous regions and municipalities + 兵团
    assert 330 <= levels["prefectural"] - 14 <= 340  # ~333 prefecture-level + the 兵团's 14 divisions
    assert 2800 <= levels["county"] <= 2900
    provinces = {o.name for o in national.children("acwf")}
    assert {"新疆生产建设兵团妇女联合会", "山东省妇女联合会", "西藏自治区妇女联合会", "重庆市妇女联合会"} <= provinces
    assert not {n for n in provinces if "香港" in n or "台湾" in n}
    # 石河子市 is run by the 兵团's 第八师 (师市合一), not by 新疆's autonomous-region level
    shihezi = national.org("x659001")
    assert national.org(shihezi.parent).name == "新疆生产建设兵团第八师妇女联合会"


def test_every_unit_has_its_own_fonds_and_name(national) -> None:
    orgs = list(national.organisations.values())
    assert len({o.fonds for o in orgs}) == len(orgs)
    assert len({o.short_name for o in orgs}) == len(orgs)  # 朝阳区 (北京) vs 朝阳区 (长春) are told apart
    assert all(o.mark.endswith("文件") and o.printed_by.endswith(("办公室", "办公厅")) for o in orgs)
    assert all(o.children_as for o in orgs if national.children(o.code))
    # the demo tree keeps its codes and prefixes, so the shared users and numbering files hold
    assert national.org("shandong").prefixes[0] == "鲁妇发" and national.org("jinan").parent == "shandong"
    assert national.org("p11").prefixes == ["京妇发"] and national.org("p66").prefixes == ["兵团妇发"]


def test_generated_file_is_what_the_table_gives() -> None:
    assert generate.main(["--check"]) == 0


def test_contested_prefixes_go_to_neither_so_order_does_not_matter() -> None:
    prov = generate.Unit("37", "山东省", "省", "provincial")
    a = generate.Unit("3701", "济南市", "地级市", "prefectural", prov)
    b = generate.Unit("3708", "济宁市", "地级市", "prefectural", prov)
    c = generate.Unit("3702", "青岛市", "地级市", "prefectural", prov)
    for order in ([a, b, c], [c, b, a]):
        for u in order:
            u.prefix = ""
        generate.assign_prefixes(order, {"鲁妇发"})
        assert (a.prefix, b.prefix, c.prefix) == ("济南妇发", "济宁妇发", "青妇发")


def test_core_names() -> None:
    assert [generate.core_name(n) for n in ["恩施土家族苗族自治州", "博尔塔拉蒙古自治州", "内蒙古自治区", "济南市", "历下区", "科尔沁左翼后旗"]] == [
        "恩施",
        "博尔塔拉",
        "内蒙古",
        "济南",
        "历下",
        "科尔沁左翼后",
    ]


def test_subtree_refuses_an_unknown_province(tmp_path: Path) -> None:
    with pytest.raises(Refusal, match="不是省级单位的代码：jinan"):
        subtree_config(tmp_path, ["jinan"])


def gongwen(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GONGWEN_HOME": str(home), "PREFECT_HOME": str(home / "prefect"), "COLUMNS": "200"}
    env.pop("GONGWEN_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "gongwen_engine.flows", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow  # 18 circulations through the CLI, Prefect and LibreOffice
def test_cascade_cli_runs_a_municipality_exactly_once(tmp_path: Path) -> None:
    """上海: 全国妇联 → 上海市妇联 → its 16 districts, through the CLI, Prefect and LibreOffice."""
    out = tmp_path / "out"
    proc = gongwen("cascade", "--out", str(out), "--province", "p31", home=tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "documents/s" in proc.stdout and "peak memory" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [e["org_code"] for e in manifest] == ["acwf", "p31"]
    assert manifest[1]["forwarded_from"] == manifest[0]["doc_number"] and manifest[1]["doc_number"] == "沪妇发〔2012〕1号"
    assert all((out / e["file"]).is_file() and (out / e["signed_pdf"]).is_file() for e in manifest)  # printed and sealed

    engine = open_engine(Settings(home=out / ".gongwen", storage=out, config_dir=out / ".gongwen" / "config"))
    districts = {o.code for o in engine.config.children("p31")}
    assert len(districts) == 16
    with Session(engine.db) as s:
        circs = s.exec(select(Circulation)).all()
        assert len(circs) == 18 and {c.status for c in circs} == {"done"}
        assert Counter(c.org for c in circs).most_common(1)[0][1] == 1  # one circulation per organisation
        assert s.exec(select(func.count()).select_from(Registration)).one() == 17
        assert {r.org for r in s.exec(select(Registration))} == districts | {"p31"}
        deliveries = s.exec(select(Delivery)).all()
        assert len(deliveries) == 17 and len({(d.document_id, d.recipient) for d in deliveries}) == 17
        assert s.exec(select(func.count()).select_from(ArchiveItem)).one() == 18
        assert s.exec(select(func.count()).select_from(IssuedNumber)).one() == 2
        assert s.exec(select(func.count()).select_from(CirculationFile).where(CirculationFile.role == "signed_pdf")).one() == 2
        # every district verified the seal of what it received (印章核验 at 签收)
        checks = s.exec(select(AuditEvent).where(AuditEvent.action == "seal_checked")).all()
        assert len(checks) == 17 and {c.detail["status"] for c in checks} == {"valid"}
        assert s.exec(select(func.count()).select_from(Document).where(Document.file.is_not(None))).one() == 2
