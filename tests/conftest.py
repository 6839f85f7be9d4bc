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
