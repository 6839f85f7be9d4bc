"""End to end: the `gongwen` CLI runs the seed chain through Prefect; the documents it writes
are GB/T 9704 .docx files that LibreOffice converts to PDF."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docx import Document as Docx
from docx.shared import Mm

from gongwen_engine.config.loader import load_config
from gongwen_engine.models.rules.archive import ARCHIVE_CODE_RE
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.rules.doc_numbers import parse_doc_number

SEED_001_COVER = (
    "现将全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》（妇字〔2012〕2号）转发给你们，"
    "请结合实际，抓好贯彻落实，确保“下基层、访妇情、办实事”活动取得实效。"
)
SHANDONG_TITLE = "关于转发全国妇联《关于在全国县以上妇联组织开展“下基层、访妇情、办实事”活动的意见》的通知"


def gongwen(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    # Each CLI process gets its own Prefect home, so parallel test workers never share one
    # embedded Prefect database.
    (home / "prefect").mkdir(parents=True, exist_ok=True)  # Prefect does not create parent folders
    env = {**os.environ, "GONGWEN_HOME": str(home), "PREFECT_HOME": str(home / "prefect"), "COLUMNS": "200"}
    env.pop("GONGWEN_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "gongwen_engine.flows", *args], capture_output=True, text=True, env=env, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"gongwen {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict], str]:
    out = tmp_path_factory.mktemp("demo")
    proc = gongwen("demo", "--out", str(out), home=out / "home")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest, "the demo issued no document: the tests that look at each one would check nothing"
    return out, manifest, proc.stdout


def test_help_explains_every_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "gongwen_engine.flows", "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0
    for command in [
        "demo",
        "launch",
        "inbox",
        "approve",
        "return",
        "act",
        "reassign",
        "delegate",
        "diff",
        "remind",
        "run",
        "worker",
        "status",
        "audit",
        "check",
        "init",
        "number",
        "retry",
    ]:
        assert re.search(rf"│ {command}\s+\S", proc.stdout), f"--help does not explain '{command}'"


def test_demo_manifest_lists_every_document(demo_run) -> None:
    out, manifest, stdout = demo_run
    config = load_config()
    # 全国妇联 + 山东省妇联 + every city that has counties configured issue a document; 湖南省妇联 its own (seed 000).
    issuers = {"acwf", "shandong", "hunan"} | {c.code for c in config.children("shandong") if config.children(c.code)}
    assert {e["org_code"] for e in manifest} == issuers
    for entry in manifest:
        assert set(entry) >= {"org", "doc_number", "title", "file", "forwarded_from", "archive_code", "attachments"}
        assert (out / entry["file"]).is_file()
        parse_doc_number(entry["doc_number"])
        assert ARCHIVE_CODE_RE.match(entry["archive_code"]), entry["archive_code"]
    # 3 notices, 山东省妇联's report (报送, issue 10) and 湖南省妇联's notice (seed 000): 31 circulations of the
    # cascade, the report's, Hunan's receipt of the office's notice and Hunan's own notice.
    assert "documents 5" in stdout and "circulations {'done': 35}" in stdout
    assert "督办台账" in stdout and "按时报送" in stdout and "逾期未报" in stdout


def test_demo_writes_a_signed_pdf_beside_each_docx(demo_run) -> None:
    """用印: the issued copy as a sealed PDF next to every .docx, valid against the demo CA."""
    from gongwen_engine.doc_templates.signing import CheckStatus, DemoAuthority, verify_pdf

    out, manifest, _ = demo_run
    ca = DemoAuthority(out / ".gongwen" / "seals" / "demo-ca").root()[1]
    for entry in manifest:
        assert entry["signed_pdf"] == str(Path(entry["file"]).with_suffix(".pdf"))
        data = (out / entry["signed_pdf"]).read_bytes()
        assert verify_pdf(data, [ca]).status == CheckStatus.valid, entry["doc_number"]


def test_demo_writes_and_verifies_an_ofd_beside_each_signed_pdf(demo_run) -> None:
    """Issue 23: every issued document of the demo also as an OFD with its SM2 electronic seal; the
    demo verifies them; one byte flipped inside a part makes `seal verify` fail naming that part."""
    import io
    import zipfile

    out, manifest, stdout = demo_run
    assert all(entry["signed_ofd"] == str(Path(entry["file"]).with_suffix(".ofd")) for entry in manifest)
    assert f"OFD 电子印章核验：{len(manifest)} 份通过" in stdout
    ofd = out / manifest[0]["signed_ofd"]
    ok = gongwen("seal", "verify", "--json", str(ofd), home=out / ".gongwen")
    assert json.loads(ok.stdout)["ok"] is True
    with zipfile.ZipFile(ofd) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    page = next(name for name in parts if name.endswith("Content.xml"))
    flipped = bytearray(parts[page])
    flipped[len(flipped) // 2] ^= 0x01
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, data in parts.items():
            package.writestr(name, bytes(flipped) if name == page else data)
    tampered = out / "tampered.ofd"
    tampered.write_bytes(buffer.getvalue())
    bad = gongwen("seal", "verify", "--json", str(tampered), home=out / ".gongwen", check=False)
    assert bad.returncode == 1 and page in bad.stdout


def test_demo_shandong_cover_letter_matches_seed(demo_run) -> None:
    _, manifest, _ = demo_run
    shandong = next(e for e in manifest if e["org_code"] == "shandong")
    assert shandong["doc_number"] == "鲁妇发〔2012〕10号"
    assert shandong["title"] == SHANDONG_TITLE
    assert shandong["forwarded_from"] == "妇字〔2012〕2号"
    national = next(e for e in manifest if e["org_code"] == "acwf")
    assert national["doc_number"] == "妇字〔2012〕2号" and national["forwarded_from"] is None
    jinan = next(e for e in manifest if e["org_code"] == "jinan")
    # forwarding a forward refers to the original document
    assert jinan["title"] == SHANDONG_TITLE and jinan["forwarded_from"] == "鲁妇发〔2012〕10号"


def test_demo_documents_follow_gbt9704(demo_run) -> None:
    out, manifest, _ = demo_run
    shandong = next(e for e in manifest if e["org_code"] == "shandong")
    doc = Docx(str(out / shandong["file"]))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert abs(section.top_margin - Mm(37)) < Mm(1) and abs(section.left_margin - Mm(28)) < Mm(1)
    texts = [p.text for p in doc.paragraphs]
    assert "山东省妇女联合会文件" in texts and "鲁妇发〔2012〕10号" in texts
    assert "各市妇联：" in texts
    assert "2012年1月31日" in texts  # date of writing: Arabic numerals, no leading zeros
    assert SEED_001_COVER in texts  # the cover letter's words come from the policy replaying seed 001
    # the forwarded document follows as issued, with its own header
    assert texts.index("中华全国妇女联合会文件") > texts.index("鲁妇发〔2012〕10号")
    assert "妇字〔2012〕2号" in texts


def test_every_issued_document_of_the_demo_passes_the_gbt9704_check(demo_run) -> None:
    """Every sealed PDF of the manifest, held to doc_templates/checks.gbt9704_problems (title,
    text on page 1, signature with text, 版记 on the last even page, header, 主送, faces, page
    numbers, embedded fonts; tests/test_pages_check.py shows it fails a broken document), and
    its printed 主送 and 抄送 are the organisations it was delivered to (models/rules/recipients)."""
    from sqlmodel import Session, create_engine, select

    from gongwen_engine.doc_templates.checks import gbt9704_problems
    from gongwen_engine.models.documents import content_of
    from gongwen_engine.models.rules import recipients
    from gongwen_engine.models.tables import Delivery, Document

    out, manifest, _ = demo_run
    config = load_config()
    db = create_engine(f"sqlite:///{out / '.gongwen' / 'gongwen.db'}")
    checked, failures, reports = 0, {}, []
    with Session(db) as session:
        for entry in manifest:
            if not entry["signed_pdf"]:
                continue
            doc = session.exec(select(Document).where(Document.file == entry["file"])).one()
            content = content_of(doc)
            problems = [str(p) for p in gbt9704_problems((out / entry["signed_pdf"]).read_bytes(), [content], config.org(doc.org).house_style)]
            delivered = {d.recipient for d in session.exec(select(Delivery).where(Delivery.document_id == doc.id))}
            if doc.doc_type == "报告":
                reports.append(delivered)
            if delivered != recipients.resolve(config, doc.org, content.main_recipients, content.cc).codes:
                problems.append(f"主送/抄送与分发不符：{sorted(delivered)}")
            if problems:
                failures[entry["doc_number"]] = problems
            checked += 1
    db.dispose()
    assert checked == len(manifest)  # every document of the demo is issued sealed
    assert failures == {}
    assert reports == [{"acwf"}]  # 山东省妇联's report, 主送 全国妇联办公厅, reaches 全国妇联


def test_demo_issues_seed_000_with_the_received_notice_attached(demo_run) -> None:
    out, manifest, _ = demo_run
    hunan = next(e for e in manifest if e["org_code"] == "hunan")
    assert hunan["title"] == "关于进一步做好全国妇联《妇工要情》信息报送工作的通知"
    assert hunan["archive_code"].split("-")[2] == "Y"  # its own notice: kept permanently, not 10 years
    assert hunan["attachments"] == [
        {"number": 1, "name": "全国妇联办公厅《关于进一步做好〈妇工要情〉信息报送工作的通知》", "as_received": True, "doc_number": None},
        {"number": 2, "name": "2012年2—3月全国妇联《妇工要情》信息报送要点", "as_received": False, "doc_number": None},
    ]
    text = "".join(p.text for p in Docx(str(out / hunan["file"])).paragraphs)
    assert "各市州妇联、省直妇工委、机关各部室：" in text and "湖南省妇联办公室" in text and "2012年2月29日" in text
    for entry in manifest:  # a document without 文号 is never cited with empty brackets
        assert "（）" not in "".join(p.text for p in Docx(str(out / entry["file"])).paragraphs), entry["file"]


def test_demo_documents_convert_to_pdf(demo_run, tmp_path: Path) -> None:
    out, manifest, _ = demo_run
    files = [str(out / e["file"]) for e in manifest]
    pdf_dir = tmp_path / "pdf"
    proc = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{tmp_path}/lo-profile", "--headless", "--convert-to", "pdf", "--outdir", str(pdf_dir), *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for entry in manifest:
        pdf = pdf_dir / (Path(entry["file"]).stem + ".pdf")
        assert pdf.is_file(), f"LibreOffice did not convert {entry['file']}"
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert entry["doc_number"] in re.sub(r"\s+", "", text)  # pdftotext spaces CJK from digits


def test_demo_refuses_a_folder_that_has_a_run(demo_run) -> None:
    out, _, _ = demo_run
    before = (out / "manifest.json").read_bytes()
    proc = gongwen("demo", "--out", str(out), home=out / "home", check=False)
    assert proc.returncode == 2
    assert "manifest.json" in proc.stderr and "空目录" in proc.stderr
    assert (out / "manifest.json").read_bytes() == before


def test_people_act_through_the_cli(tmp_path: Path) -> None:
    """Manual policy: the leader's sign-off waits in the database until the leader acts."""
    home = tmp_path / "home"
    notice = Path(__file__).parents[1] / "config" / "demo" / "national_notice.yaml"
    gongwen("launch", "issuing", str(notice), "--user", "acwf_secretary", home=home)
    listing = gongwen("inbox", "--user", "acwf_leader", home=home).stdout
    assert "签发" in listing
    item = re.search(r"│ (\d+)\s+│ 全国妇联", listing)
    assert item, listing
    refused = gongwen("approve", item.group(1), "--user", "shandong_leader", home=home, check=False)
    assert refused.returncode == 2 and "无权" in refused.stderr
    gongwen("approve", item.group(1), "--user", "acwf_leader", "--comment", "同意", home=home)
    # 全国妇联's document went out; the provinces now wait for their own leaders' sign-off.
    assert "全国妇联" not in gongwen("inbox", "--user", "acwf_leader", home=home).stdout
    assert "签发" in gongwen("inbox", "--user", "shandong_leader", home=home).stdout
    # signed today by the leader (manual policy): the 成文日期, and so the number's year, is today's in Beijing
    trail = gongwen("audit", "--doc-number", f"妇字〔{today().year}〕1号", home=home).stdout
    assert "acwf_leader" in trail and "numbered" in trail and "delivered" in trail
    assert "acwf_leader" in gongwen("audit", "list", "--org", "acwf", home=home).stdout
    typo = gongwen("audit", "list", "--org", "acfw", home=home, check=False)  # a typo is refused, not shown an empty trail
    assert typo.returncode != 0 and "未知机关代码 acfw" in typo.stderr and "organisations.yaml" in typo.stderr


def test_dispatch_runs_in_prefect(prefect_harness, make_engine) -> None:
    """Every step is a Prefect task run named '<organisation> · <step> · <document>' in a dispatch flow run."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    from gongwen_engine.flows.runtime import runner
    from gongwen_engine.flows.services import demo

    engine = make_engine()
    org, content = demo.load_notice()
    engine.launch(org, "issuing", content, policy="demo")
    counts = runner.run_until_idle(engine)
    assert counts == {"done": 31}

    async def task_runs(name: str):
        async with get_client() as client:
            return await client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[name])))

    runs = asyncio.run(task_runs(f"山东省妇联 · 签发 · {SHANDONG_TITLE[:23]}…"))  # before numbering: the title
    assert runs and all(r.state and r.state.is_completed() for r in runs)
    runs = asyncio.run(task_runs("山东省妇联 · 印制 · 鲁妇发〔2012〕10号"))  # after numbering: the number
    assert runs and all(r.state and r.state.is_completed() for r in runs)
