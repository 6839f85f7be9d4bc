"""The sealed OFD on the web: offered for download wherever the signed PDF is (the circulation's
files, the archive record's files), with the PDF's permission checks, and an OFD uploaded at 收文
read and its seal reported like a PDF's.

The world is rows and files written directly (no LibreOffice): a circulation of 山东省妇联 with
a signed PDF and a sealed OFD (sealed with the demo SM2 authority under the world's home), and
an archive item filing both.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from driving import drive
from fastapi.testclient import TestClient
from ofd_samples import sample_pdf
from sqlmodel import Session, select
from typer.testing import CliRunner

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.ofd import OfdMetadata, pdf_to_ofd_parts
from gongwen_engine.doc_templates.ofd_seal import DemoSm2Authority, StampPlace, seal_ofd
from gongwen_engine.doc_templates.seal import specimen_png
from gongwen_engine.doc_templates.signing import CheckStatus, sha256_hex
from gongwen_engine.flows.actions.archiving import item_folder
from gongwen_engine.flows.cli.main import app as cli_app
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.intake import receive_file, seal_words
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, CirculationFile

META = OfdMetadata(title="关于开展宣传活动的通知", issuer="山东省妇女联合会", doc_number="鲁妇发〔2012〕10号", issued_on="2012-02-20")


def sealed_ofd(home: Path, text: str = "Notice of the test") -> bytes:
    identity = DemoSm2Authority(home / "seals" / "demo-sm2").identity("shandong", "山东省妇女联合会")
    parts = pdf_to_ofd_parts(sample_pdf([(text, 100, 700)]), META)
    return seal_ofd(parts, META, identity, specimen_png("山东省妇女联合会", 42), StampPlace(0, 120, 200, 42, 42))


@dataclass
class World:
    engine: Engine
    home: Path
    circulation: int
    code: str
    ofd: bytes
    ofd_name: str  # its name in the archive item's folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("ofdweb") / "home"
    engine = open_engine(Settings(home=home))
    content = DocumentContent(
        issuer_mark="山东省妇女联合会文件",
        title=META.title,
        main_recipients=["各市妇联"],
        body=["请认真贯彻落实。"],
        signature="山东省妇女联合会",
        issued_on=date(2012, 2, 20),
    )
    circ = engine.launch("shandong", "issuing", content, actor="shandong_secretary")
    ofd, pdf = sealed_ofd(home), sample_pdf([("Notice of the test", 100, 700)])
    storage = engine.storage
    files = {"signed_pdf": ("shandong/鲁妇发〔2012〕10号.pdf", pdf), "signed_ofd": ("shandong/鲁妇发〔2012〕10号.ofd", ofd)}
    fonds = engine.config.org("shandong").fonds
    code = f"{fonds}-WS·2012-D30-BGS-0001"
    folder = item_folder(fonds, 2012, code)
    filed = []
    with db.transaction(engine.db) as session:
        for seq, (role, (relative, data)) in enumerate(files.items(), start=1):
            (storage / relative).parent.mkdir(parents=True, exist_ok=True)
            (storage / relative).write_bytes(data)
            session.add(CirculationFile(circulation_id=circ, role=role, file=relative, sha256=sha256_hex(data), size=len(data)))
            archived = f"{folder}/{seq:03d}{Path(relative).suffix}"
            (storage / archived).parent.mkdir(parents=True, exist_ok=True)
            (storage / archived).write_bytes(data)
            filed.append(
                {
                    "seq": seq,
                    "role": role,
                    "file": archived,
                    "source": relative,
                    "format": Path(relative).suffix[1:],
                    "size": len(data),
                    "sha256": sha256_hex(data),
                    "sm3": "0" * 64,
                    "pages": 1,
                    "pages_method": None,
                }
            )
        session.add(
            ArchiveItem(
                org="shandong",
                fonds=fonds,
                year=2012,
                retention="D30",
                dept_code="BGS",
                item_no=1,
                archive_code=code,
                title=META.title,
                responsible="山东省妇女联合会",
                dated=date(2012, 2, 20),
                files=filed,
            )
        )
    return World(engine, home, circ, code, ofd, Path(filed[1]["file"]).name)


@pytest.fixture(scope="module")
def web(world: World) -> Iterator[Callable[[str], TestClient]]:
    app = create_app(Settings(home=world.home), run_steps=False)
    clients: dict[str, TestClient] = {}

    def as_user(account: str) -> TestClient:
        if account not in clients:
            client = TestClient(app)
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
            signed = client.post("/login", data={"csrf": token, "account": account, "password": DEMO_PASSWORD, "next": "/"}, follow_redirects=False)
            assert signed.status_code == 303, signed.text
            clients[account] = client
        return clients[account]

    yield as_user
    for client in clients.values():
        client.close()


def test_the_circulation_page_offers_the_ofd_beside_the_pdf_and_sends_it(world: World, web) -> None:
    secretary = web("shandong_secretary")
    page = secretary.get(f"/circulations/{world.circulation}").text
    assert f"/circulations/{world.circulation}/files/signed_pdf" in page and f"/circulations/{world.circulation}/files/signed_ofd" in page
    assert "用印件（OFD）" in page
    response = secretary.get(f"/circulations/{world.circulation}/files/signed_ofd")
    assert response.status_code == 200 and response.content == world.ofd
    assert response.headers["content-type"] == "application/ofd"
    assert f"用印件-{world.circulation}.ofd" in _filename(response)
    pdf = secretary.get(f"/circulations/{world.circulation}/files/signed_pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize("account", ["hunan_secretary", "jinan_secretary"])
def test_another_organisation_gets_neither_the_ofd_nor_the_pdf(world: World, web, account: str) -> None:
    for role in ("signed_ofd", "signed_pdf"):
        response = web(account).get(f"/circulations/{world.circulation}/files/{role}")
        assert response.status_code in (403, 404) and world.ofd not in response.content
        assert "无权" in response.text or "不存在" in response.text


def test_a_role_the_circulation_has_not_is_a_404_in_chinese(world: World, web) -> None:
    response = web("shandong_secretary").get(f"/circulations/{world.circulation}/files/final_draft")
    assert response.status_code == 404 and "没有“定稿”文件" in response.text


def test_the_archive_record_offers_the_filed_ofd_to_its_archivist_only(world: World, web) -> None:
    archivist = web("shandong_archivist")
    page = archivist.get(f"/archive/items/{world.code}").text
    assert world.ofd_name in page
    assert "<dt>审计锚点</dt><dd>无（锚点启用前归档或由移交接收）</dd>" in page  # an item written without filing: a calm note (issue 26)
    response = archivist.get(f"/archive/items/{world.code}/files/{world.ofd_name}")
    assert response.status_code == 200 and response.content == world.ofd and response.headers["content-type"] == "application/ofd"
    assert _filename(response).endswith(".ofd")
    missing = archivist.get(f"/archive/items/{world.code}/files/009.ofd")
    assert missing.status_code == 404 and "没有文件“009.ofd”" in missing.text
    for other in ("jinan_archivist", "shandong_secretary"):
        refused = web(other).get(f"/archive/items/{world.code}/files/{world.ofd_name}")
        assert refused.status_code == 403 and world.ofd not in refused.content


def _filename(response) -> str:  # type: ignore[no-untyped-def]
    from urllib.parse import unquote

    return unquote(response.headers["content-disposition"])


# --- an OFD received from outside (收文): read, and its seal verified like a PDF's -----------------------


def tampered(data: bytes) -> bytes:
    """The OFD with one byte of its first page's content changed (the text still reads)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith("Page_0/Content.xml"):
                content = content.replace(b"Notice", b"Notica", 1)
            archive.writestr(info.filename, content)
    return out.getvalue()


INCOMING = {"title": "关于开展测试的通知", "issuer": "山东省妇女联合会", "issued_on": "2012-02-20"}


def test_an_ofd_from_outside_is_read_and_its_seal_verified_at_intake_and_sign_for(world: World, tmp_path: Path) -> None:
    path = tmp_path / "来文.ofd"
    path.write_bytes(sealed_ofd(world.home, "Notice received from Shandong"))
    received = receive_file(world.engine, path, "jinan", INCOMING, user="jinan_secretary")
    assert received.reading.format == "ofd" and received.reading.fields["title"].value.startswith("Noticereceived")  # the page's text, read
    assert received.seal is not None and received.seal.status == CheckStatus.valid
    assert "山东省妇女联合会" in (received.seal.signer or "")
    assert not [w for w in received.warnings if "印章" in w]
    assert seal_words(received.seal, "ofd").startswith("印章核验（OFD 电子印章）：电子印章有效")
    drive(world.engine)  # 签收 verifies the stored original again and audits it
    check = _seal_checked(world, received.document_id)
    assert (check["status"], check["format"], check["sha256_matches_record"]) == ("valid", "ofd", True)


def test_a_tampered_ofd_is_received_with_its_seal_reported_changed_in_chinese(world: World, tmp_path: Path) -> None:
    path = tmp_path / "改过的来文.ofd"
    path.write_bytes(tampered(sealed_ofd(world.home, "Notice changed after sealing")))
    received = receive_file(world.engine, path, "jinan", {**INCOMING, "title": "关于改动测试的通知"}, user="jinan_secretary")
    assert received.circulation_id is not None  # like a PDF at 签收: reported, not refused (the document did arrive)
    assert received.seal is not None and received.seal.status == CheckStatus.changed
    warning = next(w for w in received.warnings if w.startswith("印章核验（OFD 电子印章）"))
    assert "盖章后被改动过" in warning and "Content.xml" in warning
    drive(world.engine)
    check = _seal_checked(world, received.document_id)
    assert check["status"] == "changed" and any(p.endswith("Content.xml") for p in check["parts"]["changed"])


def test_the_cli_says_the_seal_check_of_a_received_ofd(world: World, tmp_path: Path) -> None:
    path = tmp_path / "命令行来文.ofd"
    path.write_bytes(tampered(sealed_ofd(world.home, "Notice for the command line")))
    sets = [arg for k, v in INCOMING.items() for arg in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(
        cli_app,
        ["receive", str(path), "--org", "jinan", "--dry-run", *sets],
        env={"GONGWEN_HOME": str(world.home), "GONGWEN_STORAGE": None, "GONGWEN_DATABASE_URL": None, "GONGWEN_CONFIG_DIR": None},
    )
    assert result.exit_code == 0, result.output
    said = "".join(result.output.split())  # as rich wrapped it
    assert "印章核验（OFD电子印章）：文件在盖章后被改动过" in said and "Content.xml" in said


def test_the_web_upload_shows_the_seal_check_before_registering(world: World, web, tmp_path: Path) -> None:
    secretary = web("jinan_secretary")
    csrf = re.search(r'name="csrf" value="([^"]+)"', secretary.get("/receive").text).group(1)  # type: ignore[union-attr]
    good = sealed_ofd(world.home, "Notice uploaded on the web")
    page = secretary.post("/receive", data={"csrf": csrf, "flow": "forwarding"}, files={"file": ("网上来文.ofd", good, "application/ofd")})
    assert page.status_code == 200, page.text[:500]
    assert "印章核验（OFD 电子印章）：电子印章有效" in page.text
    bad = secretary.post("/receive", data={"csrf": csrf, "flow": "forwarding"}, files={"file": ("网上改过的来文.ofd", tampered(good), "application/ofd")})
    assert bad.status_code == 200 and "盖章后被改动过" in bad.text and "电子印章有效" not in bad.text


def _seal_checked(world: World, document_id: int | None) -> dict:
    with Session(world.engine.db) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "seal_checked", AuditEvent.document_id == document_id)).all()
    assert len(events) == 1
    return events[0].detail


def test_an_ofd_whose_seal_part_is_damaged_in_the_zip_is_received_with_its_seal_unreadable(world: World, tmp_path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(sealed_ofd(world.home, "Notice with a damaged seal part")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
    data = bytearray(out.getvalue())
    info = next(i for i in zipfile.ZipFile(io.BytesIO(bytes(data))).infolist() if i.filename.endswith("SignedValue.dat"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF  # inside the stored SES_Signature: its CRC no longer matches
    path = tmp_path / "坏的来文.ofd"
    path.write_bytes(bytes(data))
    received = receive_file(world.engine, path, "jinan", {**INCOMING, "title": "关于损坏测试的通知"}, user="jinan_secretary", dry_run=True)
    assert received.seal is not None and received.seal.status == CheckStatus.unreadable
    assert any(w.startswith("印章核验（OFD 电子印章）：无法读取该文件") for w in received.warnings)
