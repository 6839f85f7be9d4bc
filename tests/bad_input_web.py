"""Bad input through the web forms: schemathesis generates requests from the app's OpenAPI schema
(valid and schema-violating: positive and negative generation), sent with a signed-in session of a
secretary, a leader or an archivist (or none), mostly with the session's valid CSRF token, and
with path ids sometimes pointing at rows that exist. The property: no 5xx, no Python traceback in
any response, and every 4xx page says what went wrong in Chinese.

Used by tests/test_bad_input.py (a bounded, seeded run) and benchmarks/bad_input_campaign.py.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis
from bad_input_common import Tally
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.flows.web.routes.archivist import SEARCH_FIELDS

ACCOUNTS = ("shandong_secretary", "shandong_leader", "shandong_archivist")
SESSION_COOKIE = "gongwen_session"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")
SLOW_OPERATIONS = {("POST", "/login")}  # one argon2id verification each (~0.5 s): a few examples only


@dataclass(frozen=True)
class Visitor:
    """A signed-in session: its cookie and its CSRF token (None: nobody signed in)."""

    account: str | None
    cookie: str | None
    csrf: str | None


def _token(page_text: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_text).group(1)


def sign_in(client: TestClient, account: str) -> Visitor:
    client.cookies.clear()
    token = _token(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "account": account, "password": DEMO_PASSWORD, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    token = _token(client.get("/inbox").text)
    return Visitor(account, client.cookies.get(SESSION_COOKIE), token)


def seed_a_circulation(client: TestClient, secretary: Visitor) -> None:
    """One launched circulation, so small ids in paths reach real rows."""
    client.cookies.set(SESSION_COOKIE, secretary.cookie)
    form = {
        "csrf": secretary.csrf,
        "flow": "issuing",
        "doc_type": "通知",
        "title": "关于开展宣传活动的通知",
        "recipients": ["各市妇联"],
        "body": "现通知如下。\n一、时间。",
        "issued_on": "2012-02-20",
    }
    assert client.post("/launch", data=form, follow_redirects=False).status_code == 303
    engine = client.app.state.web.engine
    from sqlmodel import Session, select

    from gongwen_engine.models.tables import Circulation

    with Session(engine.db) as session:
        for circ_id in session.exec(select(Circulation.id).where(Circulation.status == "ready")).all():
            engine.run_step(circ_id)


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema, plus the archive search's query fields (read from the query
    string by the page, so FastAPI does not list them)."""
    raw = app.openapi()
    search = raw["paths"]["/archive"]["get"]
    search["parameters"] = [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in SEARCH_FIELDS]
    return raw


@contextmanager
def web_app(home: Path) -> Iterator[tuple[FastAPI, list[Visitor]]]:
    """The app over a fresh database under ``home``, one circulation launched, and the visitors."""
    app = create_app(Settings(home=home), run_steps=False)
    with TestClient(app) as client:
        visitors = [sign_in(client, account) for account in ACCOUNTS]
        seed_a_circulation(client, visitors[0])
        yield app, [*visitors, Visitor(None, None, None)]


def check_response(status: int, text: str) -> str | None:
    """What is wrong with a response to bad input, or None."""
    if status >= 500:
        return f"HTTP {status}"
    if TRACEBACK.search(text):
        return "traceback in the page"
    if 400 <= status < 500 and status != 404 and not CHINESE.search(text):
        return f"HTTP {status} without a Chinese message"
    if status == 404 and text and not CHINESE.search(text):
        return "404 without a Chinese message"
    return None


def fuzz_web(home: Path, examples: int, seed: int = 0) -> Tally:
    """``examples`` generated requests per operation and generation mode (positive, negative)."""
    tally = Tally("web forms")
    with web_app(home) as (app, visitors):
        schema = schemathesis.openapi.from_dict(openapi_schema(app))
        schema.app = app
        for result in schema.get_all_operations():
            operation = result.ok()
            count = min(examples, 2) if (operation.method.upper(), operation.path) in SLOW_OPERATIONS else examples
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(operation, mode, visitors, count, seed, tally, home / "downloads")
        save_every_document(app, visitors[0], home / "downloads")
    return tally


def save_every_document(app: FastAPI, secretary: Visitor, folder: Path) -> None:
    """Every document's .docx as it stands after the fuzz (drafts revised with odd text included),
    fetched through the page a secretary uses, into ``folder`` (the caller parses them)."""
    from sqlmodel import Session, select

    from gongwen_engine.models.tables import Document

    with Session(app.state.web.engine.db) as session:
        ids = session.exec(select(Document.id)).all()
    folder.mkdir(parents=True, exist_ok=True)
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, secretary.cookie)
        for doc_id in ids:
            response = client.get(f"/documents/{doc_id}/docx")
            if response.status_code == 200:
                (folder / f"document-{doc_id}.docx").write_bytes(response.content)


def _fuzz_operation(operation: Any, mode: GenerationMode, visitors: list[Visitor], count: int, seed: int, tally: Tally, downloads: Path) -> None:
    label = f"{operation.method.upper()} {operation.path} ({mode.value})"

    @settings(max_examples=count, derandomize=seed == 0, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        case=operation.as_strategy(generation_mode=mode),
        visitor=st.sampled_from(visitors),
        valid_csrf=st.integers(0, 9),
        known_id=st.none() | st.integers(1, 6),
    )
    def one(case: Any, visitor: Visitor, valid_csrf: int, known_id: int | None) -> None:
        if isinstance(case.body, dict) and visitor.csrf and valid_csrf:  # 9 in 10 forms carry the session's token
            case.body["csrf"] = visitor.csrf
        if known_id is not None and case.path_parameters:
            for name in case.path_parameters:
                if name.endswith("_id"):
                    case.path_parameters[name] = known_id
        tally.tried += 1
        try:
            response = case.call(cookies={SESSION_COOKIE: visitor.cookie} if visitor.cookie else None)
        except Exception as exc:  # the app raised through the test transport: a 500 for a person
            tally.fail(
                f"{label} as {visitor.account}: {type(exc).__name__}: {str(exc)[:200]} — "
                f"path {case.path_parameters} query {case.query} body {str(case.body)[:200]}"
            )
            return
        if response.content[:2] == b"PK" and "wordprocessingml" in response.headers.get("content-type", ""):
            downloads.mkdir(parents=True, exist_ok=True)  # every .docx served is parsed afterwards
            (downloads / f"{tally.tried}.docx").write_bytes(response.content)
        text = response.content.decode("utf-8", "replace")  # downloads are binary
        problem = check_response(response.status_code, text)
        if problem:
            tally.fail(f"{label} as {visitor.account}: {problem} — path {case.path_parameters} query {case.query} body {str(case.body)[:200]}: {text[:200]}")

    if seed:  # seed 0: hypothesis's derandomized examples; any other seed: another fixed set
        one = with_seed(seed)(one)
    with contextlib.suppress(Unsatisfiable):  # negative generation found nothing to break in this operation's inputs
        one()
