"""No password, session secret or database password in what a person or an operator sees:
CLI errors, web pages (error pages and the sign-in failure), server logs, the audit trail."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli.web import DEMO_PASSWORD
from gongwen_engine.flows.web.app import create_app
from gongwen_engine.models.audit import canonical
from gongwen_engine.models.tables import AuditEvent

DB_PASSWORD = "secretpw"
SESSION_SECRET = "s3ss10n-s3cr3t-never-shown-0123456789abcdef"
WRONG_PASSWORD = "wr0ng-pa55word-typed-by-a-person"


def gongwen(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gongwen_engine.flows", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", "GONGWEN_DB_RETRY_SECONDS": "1", **env},
    )


# ---- the database password ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{DB_PASSWORD}@127.0.0.1:1/x",  # unreachable
        f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:notaport/x",  # malformed port
        f"postgresql+nosuchdriver://u:{DB_PASSWORD}@127.0.0.1/x",  # driver not installed
        f"u:{DB_PASSWORD}@127.0.0.1/x",  # not a URL at all
    ],
)
def test_a_database_url_with_a_password_never_reaches_the_terminal(url: str, tmp_path: Path) -> None:
    commands = (["status"], ["audit", "verify"], ["init"]) if ":1/" in url else (["status"],)
    for command in commands:
        proc = gongwen(*command, env={"GONGWEN_DATABASE_URL": url, "GONGWEN_HOME": str(tmp_path)})
        assert proc.returncode != 0
        assert DB_PASSWORD not in proc.stdout + proc.stderr, (command, proc.stderr)
        assert proc.stderr.strip(), "the refusal says something"


def test_a_malformed_database_url_is_refused_in_chinese_without_a_traceback(tmp_path: Path) -> None:
    proc = gongwen("status", env={"GONGWEN_DATABASE_URL": f"postgresql+nosuchdriver://u:{DB_PASSWORD}@h/x", "GONGWEN_HOME": str(tmp_path)})
    assert proc.returncode == 2 and "GONGWEN_DATABASE_URL 无法识别" in proc.stderr and "Traceback" not in proc.stderr


def test_settings_never_show_the_database_url() -> None:
    settings = Settings(database_url=f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1/x")
    assert DB_PASSWORD not in repr(settings) + str(settings) + settings.model_dump_json()
    assert DB_PASSWORD in settings.resolved_database_url  # still handed to SQLAlchemy as it was given


@pytest.mark.postgres
def test_a_working_database_url_is_printed_with_its_password_hidden(pg_url: str, tmp_path: Path) -> None:
    # Trust authentication ignores the password, so the URL works with one in it.
    with_password = pg_url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    assert DB_PASSWORD in with_password
    proc = gongwen("init", env={"GONGWEN_DATABASE_URL": with_password, "GONGWEN_HOME": str(tmp_path)})
    assert proc.returncode == 0 and "数据库已就绪：postgresql+psycopg://postgres:***@" in proc.stdout
    assert DB_PASSWORD not in proc.stdout + proc.stderr


# ---- the web: sign-in, error pages, logs --------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setenv("GONGWEN_WEB_SECRET", SESSION_SECRET)
    web_app = create_app(Settings(home=tmp_path / "home"), run_steps=False)

    @web_app.get("/test-failure")
    def failure() -> None:  # an unexpected error whose message carries secrets
        raise RuntimeError(f"connection to postgresql://u:{DB_PASSWORD}@db/x failed; secret {SESSION_SECRET}")

    return web_app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)


def sign_in(client: TestClient, account: str, password: str, token: str | None = None):
    return client.post(
        "/login", data={"csrf": csrf(client) if token is None else token, "account": account, "password": password, "next": "/"}, follow_redirects=False
    )


def shown(response) -> str:
    """Everything the browser receives: status line aside, headers and body."""
    return json.dumps(dict(response.headers)) + response.text


def test_sign_in_failures_never_echo_the_password_or_the_session_secret(client: TestClient) -> None:
    pages = [
        sign_in(client, "hunan_leader", WRONG_PASSWORD),  # wrong password: the form again
        sign_in(client, "nobody_at_all", WRONG_PASSWORD),  # unknown account
        sign_in(client, "hunan_leader", WRONG_PASSWORD, token="forged"),  # CSRF refused
        client.post("/login", data={"password": WRONG_PASSWORD}),  # no token, no account
    ]
    for _ in range(6):  # the sixth is throttled
        pages.append(sign_in(client, "hunan_secretary", WRONG_PASSWORD))
    assert pages[0].status_code == 401 and "用户名或密码不正确" in pages[0].text
    assert pages[-1].status_code == 429
    for page in pages:
        assert WRONG_PASSWORD not in shown(page) and SESSION_SECRET not in shown(page), page.status_code
    signed_in = sign_in(client, "hunan_leader", DEMO_PASSWORD)
    assert signed_in.status_code == 303 and DEMO_PASSWORD not in shown(signed_in) and SESSION_SECRET not in shown(signed_in)
    assert SESSION_SECRET not in client.cookies.get("gongwen_session", "")


def test_error_pages_never_show_the_error_behind_them(client: TestClient) -> None:
    failed = client.get("/test-failure")
    assert failed.status_code == 500 and "系统内部错误" in failed.text
    assert DB_PASSWORD not in shown(failed) and SESSION_SECRET not in shown(failed) and "RuntimeError" not in failed.text
    for page in (client.get("/no-such-page"), client.get("/healthz")):
        assert SESSION_SECRET not in shown(page)


def test_the_server_log_of_sign_in_carries_no_password(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sign_in(client, "hunan_leader", WRONG_PASSWORD)
        sign_in(client, "hunan_leader", DEMO_PASSWORD)
    logged = "\n".join(r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "") for r in caplog.records)
    for secret in (WRONG_PASSWORD, DEMO_PASSWORD, SESSION_SECRET):
        assert secret not in logged


def test_the_audit_trail_of_sign_in_carries_no_password(client: TestClient, app: FastAPI) -> None:
    sign_in(client, "hunan_leader", WRONG_PASSWORD)
    sign_in(client, "nobody_at_all", WRONG_PASSWORD)
    sign_in(client, "hunan_leader", DEMO_PASSWORD)
    client.post("/logout", data={"csrf": csrf(client)})
    with Session(app.state.web.engine.db) as session:
        events = session.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert {"sign_in_failed", "sign_in", "sign_out"} <= {e.action for e in events}
    for event in events:
        recorded = canonical(event).decode("utf-8")
        for secret in (WRONG_PASSWORD, DEMO_PASSWORD, SESSION_SECRET):
            assert secret not in recorded, event.action
