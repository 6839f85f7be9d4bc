"""The sealed OFD on the web: offered for download wherever the signed PDF is (the circulation's
files, the archive record's files), with the PDF's permission checks, and an OFD uploaded at 收文
read and its seal reported like a PDF's.

The world is rows and files written directly (no LibreOffice): a circulation of 山东省妇联 with
a signed PDF and a sealed OFD (sealed with the demo SM2 authority under the world's home), and
an archive item filing both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ofd_samples import sample_pdf

from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.ofd import OfdMetadata, pdf_to_ofd_parts
from gongwen_engine.doc_templates.ofd_seal import DemoSm2Authority, StampPlace, seal_ofd
from gongwen_engine.doc_templates.seal import specimen_png
from gongwen_engine.doc_templates.signing import sha256_hex
from gongwen_engine.flows.actions.archiving import item_folder
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import ArchiveItem, CirculationFile

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
