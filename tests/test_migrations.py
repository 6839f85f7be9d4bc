"""The Alembic migrations create exactly the schema the SQLModel tables describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gongwen_engine.models import tables
from gongwen_engine.models.db import get_engine, include_name, migrate


def _drift(url: str) -> list:
    migrate(url)
    migrate(url)  # idempotent
    with get_engine(url).connect() as conn:
        # the metadata the imported tables module registers its tables in
        return compare_metadata(MigrationContext.configure(conn, opts={"include_name": include_name}), tables.SQLModel.metadata)


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    assert _drift(f"sqlite:///{tmp_path / 'm.db'}") == []


@pytest.mark.postgres
def test_migrations_match_models_on_postgres(pg_url: str) -> None:
    assert _drift(pg_url) == []
