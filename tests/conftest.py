"""Shared fixtures: a fresh database per test (SQLite file or a real PostgreSQL database),
an Engine over it, and Prefect's test harness (a temporary Prefect database for the session)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")

import psycopg
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, serve

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.engine import open_engine

PG_ADMIN = os.environ.get("GONGWEN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """A throw-away Prefect database for the whole session (real engine, embedded server)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    name = f"gongwen_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{base}/{name}"
    yield url
    from gongwen_engine.models.db import get_engine

    get_engine(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., Engine]:
    """Build an Engine on a fresh database under tmp_path (or on ``database_url``)."""

    def build(database_url: str | None = None, flows_dir: Path | None = None, config_dir: Path | None = None) -> Engine:
        return open_engine(
            Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", database_url=database_url, flows_dir=flows_dir, config_dir=config_dir)
        )

    return build


@pytest.fixture
def client(tmp_path: Path) -> Iterator[object]:
    """The web workplace in-process (FastAPI's TestClient) on a fresh database, no automatic steps."""
    from fastapi.testclient import TestClient

    from gongwen_engine.flows.web.app import create_app

    with TestClient(create_app(Settings(home=tmp_path / "home"), run_steps=False)) as c:
        yield c


# ---- the browser tests' fixtures (the harness: tests/browser.py) ------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The web process running the automatic steps in Prefect (polling every 2 s)."""
    yield from serve(tmp_path, "--poll", "2")


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The web process without automatic steps (--no-run): pages only, no Prefect to start."""
    yield from serve(tmp_path, "--no-run")


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
