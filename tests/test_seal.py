"""用印: the demo tree's issued documents become signed PDFs with the seal over the name and
date of writing; verification reports a valid seal, a changed byte, a removed signature and an
unknown certificate; recipients verify on 签收; seals.yaml errors name file:line.

Real parts throughout: LibreOffice converts, pyHanko signs and verifies, pdftoppm renders.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pdfplumber
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from driving import drive
from PIL import Image, ImageChops
from sqlmodel import Session, select
from test_engine import launch_national
from typer.testing import CliRunner
from yaml_edit import copy_yaml_folder, edit

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.doc_templates import signing
from gongwen_engine.doc_templates.seal import MM_PER_PT, SealPlacementError, find_signature, seal_picture, specimen_png
from gongwen_engine.doc_templates.signing import CheckStatus, DemoAuthority, Keyring, verify_pdf
from gongwen_engine.flows.actions import sealing
from gongwen_engine.flows.actions.sealing import seal_document
from gongwen_engine.flows.cli.main import app
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR
from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.tables import AuditEvent, Circulation, CirculationFile, Document

ISSUERS = {"acwf", "shandong", "jinan"}
DPI = 100
LINE_PITCH_PT = 29  # GB/T 9704: 22 lines in 225 mm


# --- the demo tree, sealed once for the module ---------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory):
    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.services.engine import open_engine

    root = tmp_path_factory.mktemp("sealed")
    # Filing is not under test here and converts every file again (about 3.5 s per circulation
    # now): the 归档 step only records that it ran. Every other step is the packaged one.
    flows = copy_yaml_folder(PACKAGED_FLOWS_DIR, root / "flows")
    edit(flows, "_shared/issue_tail.yaml", "    kind: archive\n    title: 归档\n    do: archive\n", "    kind: conclude\n    title: 归档\n    do: conclude\n")
    engine = open_engine(Settings(home=root / ".gongwen", storage=root / "storage", flows_dir=flows))
    launch_national(engine, "demo")
    drive(engine)
    assert status_counts(engine) == {"done": 31}
    return engine


def sealed_copies(engine) -> dict[str, tuple[Document, CirculationFile]]:
    with Session(engine.db) as session:
        rows = session.exec(
            select(Document, CirculationFile)
            .join(CirculationFile, CirculationFile.circulation_id == Document.circulation_id)
            .where(CirculationFile.role == "signed_pdf")
        )
        return {doc.org: (doc, file) for doc, file in rows}


def demo_roots(engine) -> list:
    return [DemoAuthority(engine.settings.home / "seals" / "demo-ca").root()[1]]


def audits(engine, action: str) -> list[AuditEvent]:
    with Session(engine.db) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def unsigned_revision(signed: bytes) -> bytes:
    """The file as it was before the signature's incremental update (the signature removed)."""
    cut = signed.rfind(b"%%EOF", 0, signed.index(b"/ByteRange")) + len(b"%%EOF")
    while signed[cut : cut + 1] in (b"\r", b"\n"):
        cut += 1
    return signed[:cut]


# --- sealing and verifying -----------------------------------------------------------------------


def test_every_issued_document_gets_a_signed_pdf_beside_its_docx(tree) -> None:
    copies = sealed_copies(tree)
    assert set(copies) == ISSUERS
    sealed_events = {e.org: e.detail for e in audits(tree, "sealed")}
    for org, (doc, file) in copies.items():
        assert file.file == str(Path(doc.file).with_suffix(".pdf"))
        data = (tree.storage / file.file).read_bytes()
        assert data.startswith(b"%PDF-") and len(data) == file.size
        assert sealed_events[org]["sha256"] == file.sha256
        assert sealed_events[org]["specimen"] is True  # no organisation image configured: the 样章


def test_sealed_copies_verify_with_signer_time_and_certificate(tree) -> None:
    sealed_events = {e.org: e.detail for e in audits(tree, "sealed")}
    copies = sealed_copies(tree)
    assert set(copies) == ISSUERS
    for org, (_, file) in copies.items():
        result = verify_pdf((tree.storage / file.file).read_bytes(), demo_roots(tree))
        assert result.status == CheckStatus.valid, result
        assert result.organisation == tree.config.org(org).name
        assert "演示用" in result.signer  # a demo certificate says so in its name
        assert result.certificate["sha256"] == sealed_events[org]["certificate_sha256"]
        assert result.signed_at and result.covers_whole_file


def test_recipients_verify_the_seal_when_they_sign_for_it(tree) -> None:
    checks = audits(tree, "seal_checked")
    assert len(checks) == 30  # every delivery
    assert {c.detail["status"] for c in checks} == {"valid"}
    assert all(c.detail["sha256_matches_record"] for c in checks)


def test_a_changed_byte_is_reported(tree) -> None:
    _, file = sealed_copies(tree)["shandong"]
    data = bytearray((tree.storage / file.file).read_bytes())
    data[data.index(b"stream") + 300] ^= 0x01  # inside a page's content, within the signed bytes
    result = verify_pdf(bytes(data), demo_roots(tree))
    assert result.status == CheckStatus.changed
    assert "改动" in result.message


def test_a_removed_signature_is_reported(tree) -> None:
    _, file = sealed_copies(tree)["shandong"]
    data = (tree.storage / file.file).read_bytes()
    stripped = verify_pdf(unsigned_revision(data), demo_roots(tree))
    assert stripped.status == CheckStatus.unsigned and "没有数字签名" in stripped.message
    start = data.index(b"/Contents <") + len(b"/Contents <")  # the signature value zeroed out
    end = data.index(b">", start)
    blanked = verify_pdf(data[:start] + b"0" * (end - start) + data[end:], demo_roots(tree))
    assert blanked.status in (CheckStatus.invalid, CheckStatus.unreadable) and not blanked.ok


def test_an_unknown_certificate_is_reported(tree, tmp_path: Path) -> None:
    _, file = sealed_copies(tree)["shandong"]
    data = (tree.storage / file.file).read_bytes()
    other_ca = DemoAuthority(tmp_path / "another-ca").root()[1]
    for roots in ([], [other_ca]):
        result = verify_pdf(data, roots)
        assert result.status == CheckStatus.untrusted and "未知证书" in result.message
        assert result.signer and result.certificate  # who signed is still told


def test_a_tampered_copy_is_reported_at_sign_for(tree) -> None:
    doc, file = sealed_copies(tree)["acwf"]
    path = tree.storage / file.file
    original = path.read_bytes()
    tampered = bytearray(original)
    tampered[tampered.index(b"stream") + 300] ^= 0x01
    path.write_bytes(bytes(tampered))
    try:
        with Session(tree.db) as session:
            hunan = session.exec(select(Circulation).where(Circulation.org == "hunan")).one()
        with db.transaction(tree.db) as session:  # as if Hunan received it again
            circ = db.lock_circulation(session, hunan.id)
            circ.step, circ.status = "sign_for", "ready"
            session.add(circ)
        assert tree.run_step(hunan.id, "sign_for").ran
    finally:
        path.write_bytes(original)
    last = audits(tree, "seal_checked")[-1]
    assert (last.org, last.document_id, last.detail["status"]) == ("hunan", doc.id, "changed")
    assert last.detail["sha256_matches_record"] is False


# --- where the seal is -----------------------------------------------------------------------------


def render_page(pdf: bytes, page: int, folder: Path, name: str) -> Image.Image:
    source = folder / f"{name}.pdf"
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "-singlefile", "-f", str(page), "-l", str(page), str(source), str(folder / name)], check=True)
    return Image.open(folder / f"{name}.png").convert("RGB")


def test_seal_presses_name_and_date_and_leaves_the_text_clear(tree, tmp_path: Path) -> None:
    doc, file = sealed_copies(tree)["shandong"]
    content = DocumentContent.model_validate(doc.content)
    signed = (tree.storage / file.file).read_bytes()
    # the seal is what the signed first page has and the unsigned one has not
    before, after = render_page(unsigned_revision(signed), 1, tmp_path, "before"), render_page(signed, 1, tmp_path, "after")
    changed = ImageChops.difference(before, after)
    x0, top, x1, bottom = (v * 72 / DPI for v in changed.getbbox())
    seal = [p for p, d in zip(after.get_flattened_data(), changed.get_flattened_data(), strict=True) if max(d) > 64]
    red, green, blue = (sum(channel) / len(seal) for channel in zip(*seal, strict=True))
    assert red > 1.5 * green and red > 1.5 * blue  # a red seal
    with pdfplumber.open(io.BytesIO(signed)) as pdf:
        lines = pdf.pages[0].extract_text_lines()

    def squash(s: str) -> str:
        return "".join(s.split())

    [i_date] = [i for i, text_line in enumerate(lines) if squash(text_line["text"]) == format_cn_date(content.issued_on)]
    name, date = lines[i_date - 1], lines[i_date]
    assert squash(name["text"]) == content.signature == "山东省妇女联合会"
    for line in (name, date):  # pressed: the seal covers the middle of the name and of the date
        assert x0 < (line["x0"] + line["x1"]) / 2 < x1 and top < (line["top"] + line["bottom"]) / 2 < bottom
    assert abs((x0 + x1) / 2 - (date["x0"] + date["x1"]) / 2) < 16  # centred on them (within one character)
    assert (name["top"] + date["bottom"]) / 2 >= (top + bottom) / 2  # name and date a little below the centre
    body = lines[: i_date - 1]
    assert body and all(above["bottom"] <= top or above["x1"] <= x0 or above["x0"] >= x1 for above in body)  # not over the text
    assert top - max(above["bottom"] for above in body) < LINE_PITCH_PT  # its top within one line of the text
    assert abs((x1 - x0) - 42 / MM_PER_PT) < 4  # a 42 mm seal


def test_the_seal_goes_where_the_date_is_even_on_a_later_page(tree) -> None:
    sealed = {e.org: e.detail for e in audits(tree, "sealed")}
    assert sealed["shandong"]["page"] == 1 and sealed["jinan"]["page"] == 1  # cover letters end on page 1
    assert sealed["acwf"]["page"] > 1  # the national notice's signature is on its last text page


def test_without_the_date_of_writing_on_the_page_the_seal_is_refused(tree) -> None:
    _, file = sealed_copies(tree)["shandong"]
    with pytest.raises(SealPlacementError, match="2013年1月31日"):
        find_signature((tree.storage / file.file).read_bytes(), "2013年1月31日", "山东省妇女联合会")


@pytest.fixture
def signatures(monkeypatch) -> list[int]:
    """PAdES signatures made (``signing.sign_pdf`` calls), and no seal prepared before."""
    calls: list[int] = []
    real = signing.sign_pdf

    def sign_pdf(pdf, *args, **kwargs):
        calls.append(len(pdf))
        return real(pdf, *args, **kwargs)

    monkeypatch.setattr(signing, "sign_pdf", sign_pdf)
    monkeypatch.setattr(sealing, "_prepared", type(sealing._prepared)())
    return calls


def test_a_seal_prepared_outside_the_lock_is_the_one_written(tree, tmp_path: Path, signatures: list[int]) -> None:
    doc, _ = sealed_copies(tree)["acwf"]
    content, org, keys = DocumentContent.model_validate(doc.content), tree.config.org("acwf"), sealing.keyring(tree)
    assert org.issued_formats == "both"  # the PDF and the OFD are both prepared
    sealing.prepare_seal(tree.storage / doc.file, tmp_path / "out.pdf", content, org, keys)
    assert len(signatures) == 1
    assert not list(tmp_path.iterdir())  # made, nothing written: not the copy, not a scratch file
    copy = seal_document(tree.storage / doc.file, tmp_path / "out.pdf", content, org, keys)
    assert len(signatures) == 1  # written, not signed again
    assert copy.path == tmp_path / "out.pdf" and copy.sha256 == signing.sha256_hex(copy.path.read_bytes()) and copy.size == copy.path.stat().st_size
    assert verify_pdf(copy.path.read_bytes(), keys.trust_roots()).status == CheckStatus.valid
    assert copy.ofd is not None and copy.ofd.path == tmp_path / "out.ofd" and copy.ofd.sha256 == signing.sha256_hex(copy.ofd.path.read_bytes())
    assert sealing.verify_sealed(copy.ofd.path.read_bytes(), keys).ok
    seal_document(tree.storage / doc.file, tmp_path / "out.pdf", content, org, keys)
    assert len(signatures) == 2  # a prepared copy is written once
    sealing.prepare_seal(tree.storage / doc.file, tmp_path / "out.pdf", content, org, keys)
    seal_document(tree.storage / doc.file, tmp_path / "elsewhere.pdf", content, org, keys)
    assert len(signatures) == 4  # prepared for another place: made again (its description names its paths)


def test_a_prepared_seal_is_not_used_for_other_bytes_content_or_keys(tree, tmp_path: Path, signatures: list[int]) -> None:
    doc, _ = sealed_copies(tree)["acwf"]
    content, org, keys = DocumentContent.model_validate(doc.content), tree.config.org("acwf"), sealing.keyring(tree)
    docx = tree.storage / doc.file
    other_keys = Keyring(load_seal_config(tree.config.directory, tree.config.organisations, tmp_path / "other-home"))
    for n, (other_content, other_org, other_ring) in enumerate(
        (
            (content.model_copy(update={"title": content.title + "（修订）"}), org, keys),  # other content
            (content, org, other_keys),  # other keys
            (content, org.model_copy(update={"issued_formats": "pdf"}), keys),  # other settings
        )
    ):
        sealing.prepare_seal(docx, tmp_path / f"{n}.pdf", content, org, keys)
        before = len(signatures)
        copy = seal_document(docx, tmp_path / f"{n}.pdf", other_content, other_org, other_ring)
        assert len(signatures) == before + 1  # made again, for what was asked
        assert verify_pdf(copy.path.read_bytes(), other_ring.trust_roots()).status == CheckStatus.valid
        assert (copy.ofd is None) == (other_org.issued_formats == "pdf")
    changed = tmp_path / "changed.docx"
    changed.write_bytes(docx.read_bytes() + b"\0")
    target = tmp_path / "x.pdf"
    assert sealing._prepared_key(changed, target, content, org) != sealing._prepared_key(docx, target, content, org)  # other bytes: another key


def test_the_signature_shows_the_picture_its_png_holds(tmp_path: Path) -> None:
    """The picture a signature shows is the one drawn (no PNG written and read back), pixel for
    pixel what the specimen's PNG (an OFD's seal) and a configured image file hold."""
    drawn = seal_picture(None, "山东省妇女联合会", 42)
    from_png = Image.open(io.BytesIO(specimen_png("山东省妇女联合会", 42)))
    assert drawn.mode == from_png.mode == "RGBA"
    assert ImageChops.difference(drawn, from_png).getbbox() is None
    own = tmp_path / "own.png"
    Image.new("RGBA", (40, 40), (200, 10, 10, 255)).save(own)
    read = seal_picture(own, "山东省妇女联合会", 42)
    assert read.size == (40, 40) and read.getpixel((20, 20)) == (200, 10, 10, 255)


def test_the_specimen_is_red_on_transparent() -> None:
    image = Image.open(io.BytesIO(specimen_png("山东省妇女联合会", 42))).convert("RGBA")
    assert image.size == (496, 496)  # 42 mm at 300 dpi
    inked = [p for p in image.get_flattened_data() if p[3] > 0]
    opaque = [(r, g, b) for r, g, b, alpha in inked if alpha > 128]
    assert inked and opaque and all(r > 150 and g < 120 and b < 120 for r, g, b in opaque)
    assert image.getpixel((248, 248))[3] == 0 or image.getpixel((0, 0))[3] == 0


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_verify_says_who_when_and_whether_it_changed(tree, tmp_path: Path) -> None:
    _, file = sealed_copies(tree)["jinan"]
    path = tree.storage / file.file
    runner = CliRunner()
    env = {"GONGWEN_HOME": str(tree.settings.home), "COLUMNS": "200"}
    ok = runner.invoke(app, ["seal", "verify", str(path), "--json"], env=env)
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output)
    assert report["ok"] and report["organisation"] == "济南市妇女联合会" and report["certificate"]["sha256"]
    table = runner.invoke(app, ["seal", "verify", str(path)], env=env)
    assert table.exit_code == 0 and "印章有效" in table.output and "签名时间" in table.output
    tampered = tmp_path / "tampered.pdf"
    data = bytearray(path.read_bytes())
    data[data.index(b"stream") + 300] ^= 0x01
    tampered.write_bytes(bytes(data))
    bad = runner.invoke(app, ["seal", "verify", str(tampered)], env=env)
    assert bad.exit_code == 1 and "改动" in bad.output
    unknown = runner.invoke(app, ["seal", "verify", str(path)], env={**env, "GONGWEN_HOME": str(tmp_path / "elsewhere")})
    assert unknown.exit_code == 1 and "不受信任" in unknown.output
    missing = runner.invoke(app, ["seal", "verify", str(tmp_path / "nope.pdf")], env=env)
    assert missing.exit_code == 2 and "文件不存在" in missing.output


# --- config/seals.yaml -----------------------------------------------------------------------------


def own_ca(folder: Path, passphrase: bytes) -> tuple[Path, Path]:
    """An organisation's own PKCS#12 (key + certificate + CA) and its CA certificate file."""
    authority = DemoAuthority(folder / "ca")
    identity = authority.identity("acwf", "中华全国妇女联合会")
    p12 = folder / "acwf.p12"
    encryption = serialization.BestAvailableEncryption(passphrase)
    p12.write_bytes(pkcs12.serialize_key_and_certificates(b"acwf", identity.key, identity.certificate, list(identity.chain), encryption))
    return p12, authority.root_path


def test_configured_pkcs12_passphrase_and_image_are_used(tree, tmp_path: Path, monkeypatch) -> None:
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    organisations = config_dir / "organisations.yaml"  # PDF only: an own PKCS#12 here, no SM2 seal for OFD
    organisations.write_text(organisations.read_text(encoding="utf-8").replace("issued_formats: both", "issued_formats: pdf"), encoding="utf-8")
    p12, ca = own_ca(tmp_path, b"s3cret")
    image = tmp_path / "acwf-seal.png"
    image.write_bytes(specimen_png("自备印模", 40))
    (config_dir / "seals.yaml").write_text(
        f"demo_certificates: false\ntrust: [{ca}]\norganisations:\n"
        f"  acwf:\n    pkcs12: {p12}\n    passphrase_env: TEST_ACWF_PASSPHRASE\n    image: {image}\n    diameter_mm: 40\n",
        encoding="utf-8",
    )
    config = load_config(config_dir)
    seals = Keyring(load_seal_config(config_dir, config.organisations, tmp_path / "home"))
    doc, _ = sealed_copies(tree)["acwf"]
    content = DocumentContent.model_validate(doc.content)
    with pytest.raises(SourceError, match="TEST_ACWF_PASSPHRASE") as missing:
        seal_document(tree.storage / doc.file, tmp_path / "out.pdf", content, config.org("acwf"), seals)
    assert missing.value.line == 6  # the passphrase_env line
    monkeypatch.setenv("TEST_ACWF_PASSPHRASE", "s3cret")
    copy = seal_document(tree.storage / doc.file, tmp_path / "out.pdf", content, config.org("acwf"), seals)
    assert copy.specimen is False and copy.visible
    assert abs((copy.box[2] - copy.box[0]) - 40 / MM_PER_PT) < 0.5
    assert verify_pdf(copy.path.read_bytes(), seals.trust_roots()).status == CheckStatus.valid
    with pytest.raises(SourceError, match="no signing key") as no_key:  # demo certificates are off
        seals.identity(config.org("shandong"))
    assert "seals.yaml" in no_key.value.fix
    assert not (tmp_path / "home" / "seals").exists()  # no demo CA was created


def test_seals_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    (config_dir / "seals.yaml").write_text(
        "demo_certificates: true\norganisations:\n  nowhere:\n    image: seal.png\n  acwf:\n    pkcs12: missing.p12\n    key: acwf.key\n", encoding="utf-8"
    )
    config = load_config(config_dir)
    with pytest.raises(SourceErrors) as caught:
        load_seal_config(config_dir, config.organisations, tmp_path / "home")
    assert [e.line for e in caught.value.errors] == [5]  # the acwf entry: pkcs12 and key together (the schema comes first)
    assert "not both" in caught.value.errors[0].message
    (config_dir / "seals.yaml").write_text("organisations:\n  nowhere:\n    image: seal.png\n  acwf:\n    pkcs12: missing.p12\n", encoding="utf-8")
    with pytest.raises(SourceErrors) as caught:
        load_seal_config(config_dir, config.organisations, tmp_path / "home")
    found = {(e.line, e.message.split(":")[0]) for e in caught.value.errors}
    assert found == {(2, "unknown organisation 'nowhere'"), (3, "image"), (5, "pkcs12")}
    assert all(str(config_dir / "seals.yaml") in str(e) for e in caught.value.errors)


def test_the_archive_accepts_only_intact_seals_made_with_a_recorded_certificate(tree, tmp_path: Path) -> None:
    from gongwen_engine.flows.actions.sealing import filed_seal_problem, sealed_fingerprints

    history = [{"action": e.action, "detail": e.detail} for e in audits(tree, "sealed")]  # as an item's 处理过程 holds it
    known = sealed_fingerprints(history)
    assert len(known) == 6  # per issuing organisation (3): its PAdES certificate and its SM2 certificate (issued_formats: both)
    _, file = sealed_copies(tree)["jinan"]
    data = (tree.storage / file.file).read_bytes()
    assert filed_seal_problem(data, known) is None
    changed = bytearray(data)
    changed[changed.index(b"stream") + 300] ^= 0x01
    assert "改动" in filed_seal_problem(bytes(changed), known)
    assert "没有数字签名" in filed_seal_problem(unsigned_revision(data), known)
    assert "用印时记录" in filed_seal_problem(data, set())  # a certificate gongwen never sealed with


def test_gongwen_check_validates_seals_yaml(tmp_path: Path) -> None:
    config_dir = copy_yaml_folder(PACKAGED_CONFIG_DIR, tmp_path / "config")
    (config_dir / "seals.yaml").write_text("diameter_mm: 200\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["check"], env={"GONGWEN_CONFIG_DIR": str(config_dir), "GONGWEN_HOME": str(tmp_path), "COLUMNS": "200"})
    assert result.exit_code == 2
    output = result.output.replace("\n", "")  # rich wraps long paths
    assert f"{config_dir / 'seals.yaml'}:1" in output and "diameter_mm" in output


def test_a_long_organisation_name_fits_its_demo_certificate(tmp_path) -> None:
    """Found by the first national cascade: 新疆生产建设兵团第十三师妇女联合会 made a 66-byte common name
    and its 用印 failed for good. The CN is cut to 64 UTF-8 bytes; the full name stays in O."""
    from cryptography.x509.oid import NameOID

    from gongwen_engine.doc_templates.signing import fit_common_name

    name = "新疆生产建设兵团第十三师妇女联合会"
    identity = DemoAuthority(tmp_path / "ca").identity("c6613", name)
    cn = identity.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    org = identity.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert org == name
    assert len(cn.encode("utf-8")) <= 64 and cn.endswith("…") and cn.startswith("新疆生产建设兵团第十三师")
    assert fit_common_name("山东省妇女联合会（演示用）") == "山东省妇女联合会（演示用）"  # short names untouched


def test_demo_keys_and_certificates_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """The demo CA's files go through the one atomic write with mode 0600 (config/files.write_atomically)."""
    from gongwen_engine.doc_templates.signing import DemoAuthority

    DemoAuthority(tmp_path / "demo-ca").root()
    written = [p for p in (tmp_path / "demo-ca").rglob("*.pem") if p.is_file()]  # the key and the certificate (not the lock file)
    assert written and all(p.stat().st_mode & 0o777 == 0o600 for p in written)
    assert not [p for p in (tmp_path / "demo-ca").rglob(".*.tmp")]  # no temporary file left
