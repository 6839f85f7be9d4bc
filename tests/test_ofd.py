"""The issued copy as OFD (GB/T 33190) with its electronic seal (GB/T 38540, SM2/SM3).

The writer (doc_templates/ofd.py) is checked by re-reading the package with the tests' own
reader (ofd_samples.OfdReader); the seal (doc_templates/ofd_seal.py) by the separate verifier
(doc_templates/ofd_verify.py), which parses the zip and the ASN.1 and checks SM3 digests and the
SM2 signature itself.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import pytest
from ofd_samples import A4, NS, OfdReader, sample_pdf
from typer.testing import CliRunner

from gongwen_engine.doc_templates.ofd import MM_PER_PT, OfdMetadata, pdf_to_ofd, pdf_to_ofd_parts
from gongwen_engine.doc_templates.ofd_seal import DemoSm2Authority, StampPlace, seal_ofd
from gongwen_engine.doc_templates.ofd_verify import verify_ofd
from gongwen_engine.doc_templates.seal import specimen_png
from gongwen_engine.doc_templates.signing import CheckStatus
from gongwen_engine.flows.cli.main import app

if TYPE_CHECKING:
    from gongwen_engine.flows.engine.engine import Engine

META = OfdMetadata(title="关于开展测试的通知", issuer="山东省妇女联合会", doc_number="鲁妇发〔2012〕10号", issued_on="2012-03-01")


def test_text_stays_text_at_its_place_with_the_red_rule_and_a4_pages() -> None:
    pdf = sample_pdf([("Notice of the test", 100, 700), ("Second line", 100, 650)], rule_y=600)
    reader = OfdReader(pdf_to_ofd(pdf, META))
    pages = reader.pages()
    assert len(pages) == 1
    box = pages[0].find("ofd:Area/ofd:PhysicalBox", NS)
    assert box is not None and [round(float(v)) for v in (box.text or "").split()] == [0, 0, 210, 297]
    assert reader.page_text(pages[0]) == "Notice of the testSecond line"
    first = pages[0].find(".//ofd:TextCode", NS)
    assert first is not None
    assert abs(float(first.get("X", "0")) - 100 * MM_PER_PT) < 0.5
    assert abs(float(first.get("Y", "0")) - (A4[1] - 700) * MM_PER_PT) < 0.5  # the baseline, from the top
    deltas = [float(d) for d in first.get("DeltaX", "").split()]
    assert len(deltas) == len("Notice of the test") - 1 and all(d > 0 for d in deltas)
    rule = pages[0].find(".//ofd:PathObject", NS)
    assert rule is not None
    colour = rule.find("ofd:StrokeColor", NS)
    assert colour is not None and colour.get("Value") == "255 0 0"
    data = (rule.findtext("ofd:AbbreviatedData", namespaces=NS) or "").split()
    assert data[0] == "M" and data[3] == "L"
    assert abs(float(data[2]) - (A4[1] - 600) * MM_PER_PT) < 0.1 and abs(float(data[4]) - 515 * MM_PER_PT) < 0.1


def test_metadata_is_in_docinfo_and_customdatas() -> None:
    info = OfdReader(pdf_to_ofd(sample_pdf([("x", 100, 700)]), META)).info()
    assert info["Title"] == META.title
    assert info["Author"] == META.issuer
    assert info["发文字号"] == "鲁妇发〔2012〕10号"
    assert info["成文日期"] == "2012-03-01"


def test_the_same_pdf_gives_the_same_bytes() -> None:
    pdf = sample_pdf([("same", 100, 700)])
    assert pdf_to_ofd(pdf, META) == pdf_to_ofd(pdf, META)


# --- the electronic seal ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two sealed OFDs of one organisation (demo SM2 keys under a temporary home)."""
    home = tmp_path_factory.mktemp("home")
    authority = DemoSm2Authority(home / "seals" / "demo-sm2")
    identity = authority.identity("shandong", "山东省妇女联合会")
    out = {"home": home, "root": authority.root_path.read_bytes()}
    for name, text in (("one", "First notice"), ("two", "Second notice")):
        parts = pdf_to_ofd_parts(sample_pdf([(text, 100, 700)]), META)
        out[name] = seal_ofd(parts, META, identity, specimen_png("山东省妇女联合会", 42), StampPlace(0, 120, 200, 42, 42))
    return out


def _edit(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    files = {i.filename: z for i, z in ((i, zipfile.ZipFile(io.BytesIO(data)).read(i)) for i in zipfile.ZipFile(io.BytesIO(data)).infolist())}
    change(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_a_sealed_ofd_verifies_with_signer_time_and_certificate(sealed) -> None:
    result = verify_ofd(sealed["one"], [sealed["root"]])
    assert result.status == CheckStatus.valid, result.detail
    assert result.signer == "山东省妇女联合会（演示用电子印章）" and result.organisation == "山东省妇女联合会（演示用）"
    assert result.signed_at and result.certificate and len(result.certificate["sha256"]) == 64
    assert verify_ofd(sealed["one"], []).status == CheckStatus.untrusted  # no trusted root: untrusted, not valid


def test_the_stamp_annotation_is_where_the_pdf_seal_goes(sealed) -> None:
    reader = OfdReader(sealed["one"])
    stamp = ElementTree.fromstring(reader.zip.read("Doc_0/Signs/Sign_0/Signature.xml")).find(".//ofd:StampAnnot", NS)
    page_id = reader.document.find("ofd:Pages/ofd:Page", NS)
    assert stamp is not None and page_id is not None and stamp.get("PageRef") == page_id.get("ID")
    assert [float(v) for v in (stamp.get("Boundary") or "").split()] == [120, 200, 42, 42]


def test_a_flipped_byte_in_a_page_is_named(sealed) -> None:
    page = "Doc_0/Pages/Page_0/Content.xml"

    def flip(files: dict) -> None:
        files[page] = files[page].replace(b"First", b"Firsu")

    result = verify_ofd(_edit(sealed["one"], flip), [sealed["root"]])
    assert result.status == CheckStatus.changed and result.parts == {"changed": [page]}
    assert page in result.message and "被改动" in result.message


def test_a_removed_part_is_named(sealed) -> None:
    result = verify_ofd(_edit(sealed["one"], lambda files: files.pop("Doc_0/PublicRes.xml")), [sealed["root"]])
    assert result.status == CheckStatus.changed and result.parts == {"removed": ["Doc_0/PublicRes.xml"]}
    assert "被删除的部分：Doc_0/PublicRes.xml" in result.message


def test_an_added_part_is_named(sealed) -> None:
    result = verify_ofd(_edit(sealed["one"], lambda files: files.update({"Doc_0/Pages/Page_1/Content.xml": b"<x/>"})), [sealed["root"]])
    assert result.status == CheckStatus.changed and result.parts == {"added": ["Doc_0/Pages/Page_1/Content.xml"]}


def test_a_signature_swapped_from_another_document_is_named(sealed) -> None:
    other = zipfile.ZipFile(io.BytesIO(sealed["two"])).read("Doc_0/Signs/Sign_0/SignedValue.dat")
    result = verify_ofd(_edit(sealed["one"], lambda files: files.update({"Doc_0/Signs/Sign_0/SignedValue.dat": other})), [sealed["root"]])
    assert result.status == CheckStatus.invalid and result.parts == {"changed": ["Doc_0/Signs/Sign_0/SignedValue.dat"]}


def test_a_damaged_signature_value_is_invalid(sealed) -> None:
    def damage(files: dict) -> None:
        value = bytearray(files["Doc_0/Signs/Sign_0/SignedValue.dat"])
        value[-10] ^= 0x01  # inside the SM2 signature (r, s) at the end
        files["Doc_0/Signs/Sign_0/SignedValue.dat"] = bytes(value)

    assert verify_ofd(_edit(sealed["one"], damage), [sealed["root"]]).status == CheckStatus.invalid


def test_an_unsealed_ofd_and_a_non_ofd_are_said_so() -> None:
    assert verify_ofd(pdf_to_ofd(sample_pdf([("x", 100, 700)]), META), []).status == CheckStatus.unsigned
    assert verify_ofd(b"not a zip", []).status == CheckStatus.unreadable


def test_cli_verify_reads_an_ofd(sealed, tmp_path: Path) -> None:
    path = tmp_path / "鲁妇发〔2012〕10号.ofd"
    path.write_bytes(sealed["one"])
    env = {"GONGWEN_HOME": str(sealed["home"]), "COLUMNS": "200"}
    runner = CliRunner()
    ok = runner.invoke(app, ["seal", "verify", str(path), "--json"], env=env)
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] and report["status"] == "valid" and report["signer"] == "山东省妇女联合会（演示用电子印章）"
    bad = tmp_path / "bad.ofd"
    bad.write_bytes(_edit(sealed["one"], lambda files: files.pop("Doc_0/Document.xml")))
    table = runner.invoke(app, ["seal", "verify", str(bad)], env=env)
    assert table.exit_code == 1 and "Doc_0/Document.xml" in table.output and "被删除" in table.output


# --- 用印 with issued_formats: both (LibreOffice: slow, run through /work/tools/heavy) ---------------


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_sealing_writes_a_verifying_ofd_with_the_pdf_text_and_the_seal_where_the_pdf_has_it(tmp_path: Path) -> None:
    from samples import forwarding_sample

    from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
    from gongwen_engine.config.seals import load_seal_config
    from gongwen_engine.doc_templates.ofd_seal import ofd_trust_roots
    from gongwen_engine.doc_templates.pdf import page_texts
    from gongwen_engine.doc_templates.render import render_docx
    from gongwen_engine.doc_templates.signing import Keyring, verify_pdf
    from gongwen_engine.flows.actions.sealing import seal_document

    config = load_config(PACKAGED_CONFIG_DIR)
    org = config.organisations["shandong"].model_copy(update={"issued_formats": "both"})
    seals = load_seal_config(config.directory, config.organisations, tmp_path / "home")
    keyring = Keyring(seals)
    parts = [p.model_copy(update={"sealed": True}) for p in forwarding_sample()]
    docx = tmp_path / "doc.docx"
    render_docx(parts, docx)
    copy = seal_document(docx, tmp_path / "doc.pdf", parts[0], org, keyring)
    assert copy.ofd is not None and copy.ofd.path == tmp_path / "doc.ofd"
    assert verify_pdf(copy.path.read_bytes(), keyring.trust_roots()).status == CheckStatus.valid
    data = copy.ofd.path.read_bytes()
    result = verify_ofd(data, ofd_trust_roots(seals))
    assert result.status == CheckStatus.valid, result.detail
    reader = OfdReader(data)
    pdf_texts = page_texts(copy.path.read_bytes())
    pages = reader.pages()
    assert len(pages) == len(pdf_texts)
    for page, text in zip(pages, pdf_texts, strict=True):  # the same characters in the same order
        assert "".join(reader.page_text(page).split()) == "".join(text.split())
    assert all(reader.fonts().values())  # every font program embedded
    stamp = ElementTree.fromstring(reader.zip.read("Doc_0/Signs/Sign_0/Signature.xml")).find(".//ofd:StampAnnot", NS)
    assert stamp is not None and copy.box is not None and copy.page is not None
    x, y, w, h = (float(v) for v in (stamp.get("Boundary") or "").split())
    height = [float(v) for v in (pages[copy.page - 1].findtext("ofd:Area/ofd:PhysicalBox", namespaces=NS) or "").split()][3]
    assert abs(x - copy.box[0] * MM_PER_PT) < 0.2 and abs(w - (copy.box[2] - copy.box[0]) * MM_PER_PT) < 0.2
    assert abs(y + h - (height - copy.box[1] * MM_PER_PT)) < 0.2
    assert OfdReader(data).info()["发文字号"] == parts[0].doc_number


def test_the_archive_accepts_an_intact_ofd_sealed_with_the_recorded_certificate(sealed) -> None:
    from gongwen_engine.doc_templates.ofd_seal import identity_fingerprint
    from gongwen_engine.flows.actions.sealing import filed_seal_problem, sealed_fingerprints

    identity = DemoSm2Authority(sealed["home"] / "seals" / "demo-sm2").identity("shandong", "山东省妇女联合会")
    history = [{"action": "sealed", "detail": {"certificate_sha256": "pdf-cert", "ofd_certificate_sha256": identity_fingerprint(identity)}}]
    assert filed_seal_problem(sealed["one"], sealed_fingerprints(history)) is None
    assert filed_seal_problem(sealed["one"], {"pdf-cert"}) == "签名证书不是用印时记录的证书（certificate not recorded at sealing）"
    flipped = _edit(sealed["one"], lambda files: files.update({"OFD.xml": files["OFD.xml"].replace(b"gongwen", b"gongwem")}))
    problem = filed_seal_problem(flipped, sealed_fingerprints(history))
    assert problem is not None and "OFD.xml" in problem


# --- the independent reading: ofd.js in Chromium ----------------------------------------------------

OFDJS = Path(os.environ.get("GONGWEN_OFDJS", Path.home() / ".cache/gongwen/ofdjs/node_modules/ofd.js/lib/ofd.umd.min.js"))
VIEWER = """<!doctype html><html><head><meta charset="utf-8"><script src="%s"></script>
<style>body{margin:0;background:#fff}</style></head><body><div id="out"></div><script>
window.renderBytes = (b64, width) => new Promise((resolve, reject) => {
  const bin = atob(b64), buf = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
  ofd.parseOfdDocument({ofd: new File([buf], "doc.ofd"), success(res) {
    try { const divs = ofd.renderOfd(width, res[0]); for (const d of divs) document.getElementById("out").appendChild(d);
          resolve(divs.length); } catch (e) { reject(String(e)); } }, fail(e) { reject(String(e)); }});
});
</script></body></html>"""
PAGE_PX = (794, 1123)  # A4 at 96 dpi
CELL = 8  # px: the layouts are compared on 8 px (≈ 2.1 mm) cells


def _ink_cells(image, dilate: bool = False):  # type: ignore[no-untyped-def]
    import numpy as np
    from PIL import ImageFilter

    grey = image.convert("L")
    if dilate:
        grey = grey.filter(ImageFilter.MinFilter(2 * CELL + 1))  # ink one cell around counts as in place
    ink = np.asarray(grey) < 160
    h, w = ink.shape[0] // CELL * CELL, ink.shape[1] // CELL * CELL
    return ink[:h, :w].reshape(h // CELL, CELL, w // CELL, CELL).any(axis=(1, 3))


@pytest.mark.slow
def test_ofdjs_renders_the_sealed_ofd_like_the_pdf(tmp_path: Path) -> None:
    """ofd.js (npm, an OFD reader written independently of gongwen) renders the sealed OFD in Chromium;
    its first page is compared with pdftoppm's image of the PDF on 8 px cells: at least 90 % of the
    PDF's inked cells are inked in the OFD render within one cell, and the other way round (the faces
    differ: ofd.js cannot load LibreOffice's Type 1 subsets and falls back to a system face)."""
    assert OFDJS.is_file(), f"ofd.js 0.2.6 is not at {OFDJS}: .ci/run installs it (npm install --prefix ~/.cache/gongwen/ofdjs ofd.js@0.2.6)"
    from PIL import Image
    from playwright.sync_api import sync_playwright

    copy = _seal_sample(tmp_path)
    assert copy.ofd is not None
    viewer = tmp_path / "view.html"
    viewer.write_text(VIEWER % OFDJS.as_uri(), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--allow-file-access-from-files", "--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": PAGE_PX[0], "height": PAGE_PX[1]})
            page.goto(viewer.as_uri())
            pages = page.evaluate("([b, w]) => renderBytes(b, w)", [base64.b64encode(copy.ofd.path.read_bytes()).decode(), PAGE_PX[0]])
            page.wait_for_timeout(500)
            # ofd.js draws each page in its own box, at its own scale (≈ 0.977 of the width asked for)
            page.locator("#out > div").first.screenshot(path=str(tmp_path / "ofd.png"))
        finally:
            browser.close()
    assert pages == len(OfdReader(copy.ofd.path.read_bytes()).pages())
    subprocess.run(["pdftoppm", "-r", "96", "-f", "1", "-l", "1", "-png", "-singlefile", str(copy.path), str(tmp_path / "pdf")], check=True)
    ofd_image = Image.open(tmp_path / "ofd.png").convert("RGB")
    pdf_image = Image.open(tmp_path / "pdf.png").convert("RGB")
    ofd_image = ofd_image.resize(pdf_image.size)
    pdf_cells, ofd_cells = _ink_cells(pdf_image), _ink_cells(ofd_image)
    found = (pdf_cells & _ink_cells(ofd_image, dilate=True)).sum() / pdf_cells.sum()
    placed = (ofd_cells & _ink_cells(pdf_image, dilate=True)).sum() / ofd_cells.sum()
    assert found >= 0.9 and placed >= 0.9, (found, placed)


def _seal_sample(tmp_path: Path):  # type: ignore[no-untyped-def]
    from samples import forwarding_sample

    from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
    from gongwen_engine.config.seals import load_seal_config
    from gongwen_engine.doc_templates.render import render_docx
    from gongwen_engine.doc_templates.signing import Keyring
    from gongwen_engine.flows.actions.sealing import seal_document

    config = load_config(PACKAGED_CONFIG_DIR)
    org = config.organisations["shandong"].model_copy(update={"issued_formats": "both"})
    parts = [p.model_copy(update={"sealed": True}) for p in forwarding_sample()]
    docx = tmp_path / "doc.docx"
    render_docx(parts, docx)
    return seal_document(docx, tmp_path / "doc.pdf", parts[0], org, Keyring(load_seal_config(config.directory, config.organisations, tmp_path / "home")))


# --- the flow: 用印 → 归档 → 四性 ----------------------------------------------------------------------


def _acwf_issuing(tmp_path: Path, formats: str) -> tuple[Engine, Path]:
    """An engine of 全国妇联 and 湖南省妇联 only, 全国妇联 issuing ``formats``, its notice issued,
    delivered, received and archived (driven to the end); and the config folder."""
    from driving import drive
    from ruamel.yaml import YAML

    from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.services.demo import load_notice
    from gongwen_engine.flows.services.engine import open_engine

    config = tmp_path / "config"
    shutil.copytree(PACKAGED_CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    yaml = YAML()
    for name, key in (("organisations.yaml", "organisations"), ("users.yaml", "users")):
        data = yaml.load(config / name)
        data[key] = [e for e in data[key] if (e.get("code") or e.get("org")) in {"acwf", "hunan"}]
        for entry in data[key]:
            if entry.get("code") == "acwf":
                entry["issued_formats"] = formats
        yaml.dump(data, config / name)
    prefixes = {p for e in yaml.load(config / "organisations.yaml")["organisations"] for p in e["prefixes"]}
    numbering = yaml.load(config / "numbering.yaml")
    numbering["schemes"] = [e for e in numbering["schemes"] if e["prefix"] in prefixes]
    yaml.dump(numbering, config / "numbering.yaml")
    engine = open_engine(Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", config_dir=config))
    org, content = load_notice()
    engine.launch(org, "issuing", content, policy="demo", actor="acwf_secretary")
    drive(engine)
    return engine, config


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_an_organisation_issuing_both_files_a_sealed_ofd_that_the_archive_check_verifies(tmp_path: Path) -> None:
    from sqlmodel import Session, select

    from gongwen_engine.flows.services.archive_check import four_properties
    from gongwen_engine.models.tables import ArchiveItem, AuditEvent, CirculationFile

    engine, config = _acwf_issuing(tmp_path, "both")
    with Session(engine.db) as session:
        ofd_row = session.exec(select(CirculationFile).where(CirculationFile.role == "signed_ofd")).one()
        sealed = [e for e in session.exec(select(AuditEvent).where(AuditEvent.action == "sealed"))]
        item = next(i for i in session.exec(select(ArchiveItem)) if i.org == "acwf")
        assert ofd_row.file.endswith(".ofd") and len(sealed) == 1 and sealed[0].detail["ofd_file"] == ofd_row.file
        filed = next(f for f in item.filed_files() if f.role == "signed_ofd")
        assert filed.sm3 and filed.sha256 == ofd_row.sha256 and filed.format == "ofd" and filed.pages >= 1
        checked = [e.detail for e in session.exec(select(AuditEvent).where(AuditEvent.action == "seal_checked"))]
        assert checked and all((d["format"], d["status"], d["ofd"]["format"], d["ofd"]["status"]) == ("pdf", "valid", "ofd", "valid") for d in checked)
        report = four_properties(session, engine.storage, engine.config, item.fonds, item.year)
        assert report.passed, [(c.name, c.failures) for c in report.checks if c.failures]
        seals = next(c for c in report.checks if "电子印章" in c.name)
        assert "OFD" in seals.looked_at
        path = engine.storage / filed.file
        path.write_bytes(_edit(path.read_bytes(), lambda files: files.update({"OFD.xml": files["OFD.xml"] + b" "})))
        broken = four_properties(session, engine.storage, engine.config, item.fonds, item.year)
        failures = [f for c in broken.checks if "电子印章" in c.name for f in c.failures]
        assert len(failures) == 1 and "OFD.xml" in failures[0]
    verify = CliRunner().invoke(
        app,
        ["seal", "verify", str(engine.storage / ofd_row.file), "--json"],
        env={"GONGWEN_HOME": str(tmp_path / ".gongwen"), "GONGWEN_CONFIG_DIR": str(config)},
    )
    assert verify.exit_code == 0 and json.loads(verify.output)["ok"], verify.output


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
def test_an_organisation_issuing_ofd_only_issues_delivers_and_files_the_sealed_ofd_and_no_pdf(tmp_path: Path) -> None:
    from sqlmodel import Session, col, select

    from gongwen_engine.flows.services.archive_check import four_properties
    from gongwen_engine.models import db
    from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, CirculationFile

    engine, _ = _acwf_issuing(tmp_path, "ofd")
    with Session(engine.db) as session:
        roles = [f.role for f in session.exec(select(CirculationFile))]
        assert "signed_pdf" not in roles and roles.count("signed_ofd") == 1
        ofd_row = session.exec(select(CirculationFile).where(CirculationFile.role == "signed_ofd")).one()
        assert not (engine.storage / ofd_row.file).with_suffix(".pdf").exists()  # the PDF made the layout; it is not issued
        (sealed,) = session.exec(select(AuditEvent).where(AuditEvent.action == "sealed")).all()
        assert sealed.detail["format"] == "ofd" and sealed.detail["file"] == ofd_row.file == sealed.detail["ofd_file"]
        assert sealed.detail["certificate_sha256"] == sealed.detail["ofd_certificate_sha256"] and sealed.detail["visible"]
        checked = [e.detail for e in session.exec(select(AuditEvent).where(AuditEvent.action == "seal_checked"))]
        assert checked and all((d["format"], d["status"], d["file"]) == ("ofd", "valid", ofd_row.file) for d in checked)  # 签收 at 湖南省妇联
        item = next(i for i in session.exec(select(ArchiveItem)) if i.org == "acwf")
        filed = [f.role for f in item.filed_files()]
        assert "signed_ofd" in filed and "signed_pdf" not in filed
        report = four_properties(session, engine.storage, engine.config, item.fonds, item.year)
        assert report.passed, [(c.name, c.failures) for c in report.checks if c.failures]
        hunan = session.exec(select(Circulation).where(Circulation.org == "hunan")).one()

    # a tampered OFD is reported at 签收 as a tampered PDF is (tests/test_seal.py): in the audit trail, not a stop
    path = engine.storage / ofd_row.file
    path.write_bytes(_edit(path.read_bytes(), lambda files: files.update({"Doc_0/Document.xml": files["Doc_0/Document.xml"] + b" "})))
    with db.transaction(engine.db) as session:  # as if 湖南省妇联 received it again
        circ = db.lock_circulation(session, hunan.id)
        circ.step, circ.status = "sign_for", "ready"
        session.add(circ)
    assert engine.run_step(hunan.id, "sign_for").ran
    with Session(engine.db) as session:
        last = session.exec(select(AuditEvent).where(AuditEvent.action == "seal_checked").order_by(col(AuditEvent.id).desc())).first()
    assert last is not None and (last.org, last.detail["format"], last.detail["status"]) == ("hunan", "ofd", "changed")
    assert last.detail["parts"]["changed"] == ["Doc_0/Document.xml"] and last.detail["sha256_matches_record"] is False


# --- receiving an OFD ------------------------------------------------------------------------------


def test_a_received_ofd_is_read_line_by_line_from_its_pages(sealed) -> None:
    from gongwen_engine.doc_templates.reader import read_text
    from gongwen_engine.doc_templates.reader.errors import IntakeError
    from gongwen_engine.doc_templates.reader.loading import ReadLimits, sniff_format

    pdf = sample_pdf([("Second line", 100, 650), ("Notice of", 100, 700), ("the test", 170, 700)])
    assert read_text(pdf_to_ofd(pdf, META), "来文.ofd") == ["Notice ofthe test", "Second line"]
    assert sniff_format(sealed["one"], "来文.ofd", ReadLimits()) == "ofd"
    assert read_text(sealed["one"], "来文.ofd") == ["First notice"]
    with pytest.raises(IntakeError, match=r"扩展名是 \.pdf，内容却是OFD"):
        sniff_format(sealed["one"], "来文.pdf", ReadLimits())
    blank = pdf_to_ofd(sample_pdf([]), META)
    with pytest.raises(IntakeError, match="没有文字的 OFD"):
        read_text(blank, "空白.ofd")


def test_a_seal_not_signed_by_its_maker_is_invalid(sealed) -> None:
    from dataclasses import replace

    from gongwen_engine.doc_templates.ofd_seal import Sm2Key

    identity = DemoSm2Authority(sealed["home"] / "seals" / "demo-sm2").identity("shandong", "山东省妇女联合会")
    forged = replace(identity, maker_key=Sm2Key.generate())  # the maker's certificate, another key
    data = seal_ofd(pdf_to_ofd_parts(sample_pdf([("x", 100, 700)]), META), META, forged, b"png", None)
    result = verify_ofd(data, [sealed["root"]])
    assert result.status == CheckStatus.invalid and "maker" in (result.detail or "")
    assert verify_ofd(seal_ofd(pdf_to_ofd_parts(sample_pdf([("x", 100, 700)]), META), META, identity, b"png", None), [sealed["root"]]).ok
