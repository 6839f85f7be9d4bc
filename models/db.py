"""Database engine, sessions, migrations and the row lock that serialises a circulation.

SQLite (embedded default): WAL journal, a busy timeout, and every transaction opened with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing with "database is locked"
on lock upgrade. PostgreSQL: ``SELECT ... FOR UPDATE`` on the circulation row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine, select

from . import tables

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# What a migration creates that the SQLModel metadata cannot describe: SQLite's FTS5 search
# index with its shadow tables, PostgreSQL's generated tsvector column and its GIN index (all
# derived from ``archivesearch``; see migration 0003).
DERIVED_TABLE_PREFIXES = ("archive_fts",)
DERIVED_INDEXES = ("ix_archivesearch_tsv",)
DERIVED_COLUMNS = (("archivesearch", "tsv"),)


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:  # noqa: ARG001
    """Alembic's ``include_name`` hook: leave derived search structures out of schema comparisons."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(DERIVED_TABLE_PREFIXES)
    if type_ == "column":
        return (parent_names.get("table_name"), name) not in DERIVED_COLUMNS
    return not (type_ == "index" and name in DERIVED_INDEXES)


@cache
def get_engine(url: str) -> Engine:
    """One engine per URL per process."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _make_sqlite_transactions_immediate(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # noqa: ANN001
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        # Writers (see transaction()) take the write lock up front; readers start deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revisions (idempotent)."""
    engine = get_engine(url)
    with engine.begin() as conn:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # several features may add independent branches


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work that writes: commit on success, roll back on any error."""
    with Session(engine.execution_options(immediate=True), expire_on_commit=False) as session:
        with session.begin():
            yield session


def lock_circulation(session: Session, circulation_id: int) -> tables.Circulation | None:
    """Take the process lock (Viewflow's select_for_update_lock) and return the fresh row."""
    stmt = select(tables.Circulation).where(tables.Circulation.id == circulation_id)
    if is_postgres(session.get_bind()):
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()
