"""Hostile files and names (issue 26, point 6): a web upload whose name is longer than a file
system allows is cut at 255 bytes (not characters), extension kept, and registered — never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_reader_seeds import seed
from test_web_pages import csrf, sign_in

from gongwen_engine.config.files import fit_file_name
from gongwen_engine.config.settings import Settings
from gongwen_engine.models.tables import Circulation, CirculationFile


def test_a_name_is_cut_at_255_bytes_keeping_its_extension() -> None:
    name = "关" * 295 + ".docx"
    cut = fit_file_name(name)
    assert len(cut.encode("utf-8")) <= 255 and cut.endswith(".docx") and cut.startswith("关关")
    assert len(cut.encode("utf-8")) > 250  # no more cut than needed (3-byte characters: 83 of them + .docx)
    assert fit_file_name("通知.docx") == "通知.docx"
    mixed = "a" + "通" * 100 + ".txt"  # the cut never splits a character
    assert fit_file_name(mixed).encode("utf-8").decode("utf-8") == fit_file_name(mixed)
    assert len(fit_file_name("x" * 300).encode()) == 255


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    from gongwen_engine.flows.web.app import create_app

    with TestClient(create_app(Settings(home=tmp_path / "home"), run_steps=False)) as c:
        yield c


def test_a_web_upload_with_a_295_character_name_is_registered(client: TestClient) -> None:
    sign_in(client, "jinan_secretary")
    long_name = "关于" + "转发" * 146 + "的通知.txt"  # 297 characters, 887 bytes
    response = client.post(
        "/receive",
        data={"csrf": csrf(client, "/receive"), "flow": "forwarding"},
        files={"file": (long_name, seed("001").read_bytes())},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:500]
    with Session(client.app.state.web.engine.db) as session:
        assert session.exec(select(Circulation)).first() is not None
        assert session.exec(select(CirculationFile)).first() is not None
