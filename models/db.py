"""Database engine, sessions, migrations and the row lock that serialises a circulation.

SQLite (embedded default): WAL journal, a busy timeout, and every transaction opened with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing with "database is locked"
on lock upgrade. PostgreSQL: ``SELECT ... FOR UPDATE`` on the circulation row.

Transient faults (a connection terminated or refused, the server briefly unreachable, SQLite
still locked after its busy timeout, a deadlock or serialisation failure) are met by
``retry_transient``: the WHOLE unit of work (one transaction) runs again, with backoff, for up
to ``GONGWEN_DB_RETRY_SECONDS`` (default 30). A fault before COMMIT was sent rolled everything
back, so running again is safe. A fault *during* COMMIT leaves the outcome unknown ("in
doubt"): a unit declared ``in_doubt="retry"`` runs again because it re-checks its own state
under the row lock or its unique keys (a step, a claim, a reminder); one declared
``in_doubt="refuse"`` (a launch, a delegation) fails with ``DatabaseUnavailable`` telling the
person to look before doing it again. When the retries are spent, ``DatabaseUnavailable``
carries a message in Chinese that the CLI and the web show instead of a traceback.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import functools
import hashlib
import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import syncs_deferred
from gongwen_engine.models import audit, tables

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# What a migration creates that the SQLModel metadata cannot describe: SQLite's FTS5 search
# index with its shadow tables, PostgreSQL's generated tsvector column and its GIN index (all
# derived from ``archivesearch``; see migration 0003).
DERIVED_TABLE_PREFIXES = ("archive_fts",)
DERIVED_INDEXES = ("ix_archivesearch_tsv",)
DERIVED_COLUMNS = (("archivesearch", "tsv"),)
_ENGINE_URLS: list[str] = []  # the databases this process opened (passwords hidden), for error messages


def include_name(name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames) -> bool:
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
    _ENGINE_URLS.append(parsed.render_as_string(hide_password=True))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _make_sqlite_transactions_immediate(engine)
        return engine
    # pool_pre_ping: a pooled connection the server terminated is replaced before use, not failed;
    # connect_timeout: an unreachable server is reported in seconds, not after the OS's minutes.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, connect_args={"connect_timeout": 10})


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: object) -> None:  # a DB-API connection (sqlite3)
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers (see transaction()) take the write lock up front; readers start deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")


def is_postgres(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "postgresql"


# ---- transient faults: declared retries ------------------------------------------------------
log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
RETRY_SECONDS = float(os.environ.get("GONGWEN_DB_RETRY_SECONDS", "30"))
FIRST_DELAY_S, MAX_DELAY_S = 0.05, 2.0
# PostgreSQL SQLSTATEs after which the whole transaction may simply run again: connection
# exceptions (class 08), the server shutting down or starting (57P01-57P03), serialisation
# failure and deadlock (40001, 40P01).
TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})
SQLITE_BUSY_WORDS = ("database is locked", "database is busy", "database table is locked")
# What this process met, for the fault campaigns: retried, in_doubt_retried, in_doubt_refused, gave_up.
RETRY_COUNTS: Counter[str] = Counter()
_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("gongwen_retrying", default=False)
_after_in_doubt: contextvars.ContextVar[bool] = contextvars.ContextVar("gongwen_after_in_doubt", default=False)


class DatabaseUnavailable(Refusal):
    """The database could not be reached (or the outcome of a commit is unknown). Message is user-facing."""


def is_transient(exc: BaseException) -> bool:
    """Would running the whole transaction again be expected to succeed?"""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate.startswith("08") or sqlstate in TRANSIENT_SQLSTATES
    message = str(orig).lower()
    if type(orig).__module__.startswith("sqlite3"):
        return any(word in message for word in SQLITE_BUSY_WORDS)
    # psycopg raises OperationalError without a SQLSTATE when it cannot connect or the socket dies
    return type(orig).__name__ == "OperationalError"


def commit_in_doubt(exc: BaseException) -> bool:
    """Did ``exc`` interrupt a COMMIT (so the server may have committed)?"""
    return bool(getattr(exc, "gongwen_commit_in_doubt", False))


def resuming_after_in_doubt_commit() -> bool:
    """True while a unit of work runs again after a COMMIT whose outcome is unknown."""
    return _after_in_doubt.get()


def where() -> str:
    """The database(s) this process talks to, passwords hidden."""
    return "、".join(dict.fromkeys(_ENGINE_URLS)) or "GONGWEN_DATABASE_URL"


def unavailable(exc: BaseException, seconds: float) -> DatabaseUnavailable:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    return DatabaseUnavailable(
        f"数据库暂时无法访问（{where()}），已重试 {seconds:.0f} 秒仍失败：{reason}。"
        "本次操作没有生效（未提交的事务已回滚）。请检查数据库服务是否运行、网络是否连通、GONGWEN_DATABASE_URL 是否正确，"
        "恢复后重新执行本命令；已完成的步骤不会重复执行。"
    )


def refused(exc: BaseException) -> DatabaseUnavailable:
    """A database error that retrying does not cure, said plainly (the CLI's last resort)."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
    if is_transient(exc):
        return unavailable(exc, 0)
    return DatabaseUnavailable(
        f"数据库（{where()}）拒绝了本次操作：{reason}。本次操作没有生效（事务已回滚）。请重新执行本命令；若反复出现，请把这条信息交给系统管理员。"
    )


def database_failure(exc: BaseException) -> DatabaseUnavailable | None:
    """``exc`` said plainly when it is the database's (unreachable, or an error retrying did not
    cure); ``None`` for any other exception."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    return refused(exc) if isinstance(exc, DBAPIError) else None


def in_doubt_error(exc: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"提交时与数据库（{where()}）的连接中断，无法确认本次操作是否已生效。请先用 gongwen status / gongwen inbox 查看结果，确认未生效后再重新执行，以免重复。"
    )


def retry_transient(*, in_doubt: Literal["retry", "refuse"], seconds: float | None = None) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Declare that a function (one unit of work, its own transaction) runs again on a transient fault.

    ``in_doubt``: what to do when the fault hit the COMMIT — "retry" for units that re-check
    their own state (idempotent), "refuse" for units that would otherwise happen twice. Only
    the outermost declared unit retries (an inner one, called inside it, lets the fault out).
    """

    def declare(fn: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            if _retrying.get():
                return fn(*args, **kwargs)
            budget = RETRY_SECONDS if seconds is None else seconds
            first_fault, delay, attempt = 0.0, FIRST_DELAY_S, 0  # the budget runs from the first fault, not the start: a long step still gets its retries
            token = _retrying.set(True)
            doubt_token = None
            try:
                while True:
                    attempt += 1
                    try:
                        return fn(*args, **kwargs)
                    except DBAPIError as exc:
                        if not is_transient(exc):
                            raise
                        doubtful = commit_in_doubt(exc)
                        if doubtful and in_doubt == "refuse":
                            RETRY_COUNTS["in_doubt_refused"] += 1
                            raise in_doubt_error(exc) from exc
                        first_fault = first_fault or time.monotonic()
                        elapsed = time.monotonic() - first_fault
                        if elapsed + delay > budget:
                            RETRY_COUNTS["gave_up"] += 1
                            raise unavailable(exc, elapsed) from exc
                        RETRY_COUNTS["in_doubt_retried" if doubtful else "retried"] += 1
                        if doubtful and doubt_token is None:
                            doubt_token = _after_in_doubt.set(True)
                        log.warning(
                            "%s: transient database fault (%s); running the transaction again in %.2f s (attempt %d)",
                            fn.__qualname__,
                            type(getattr(exc, "orig", exc)).__name__,
                            delay,
                            attempt + 1,
                        )
                        time.sleep(delay * random.uniform(0.8, 1.2))
                        delay = min(delay * 2, MAX_DELAY_S)
            finally:
                if doubt_token is not None:
                    _after_in_doubt.reset(doubt_token)
                _retrying.reset(token)

        return run

    return declare


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig  # alembic costs a third of a second to import: only when migrating

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


MIGRATION_LOCK = 0x676F6E67  # "gong": the advisory lock that serialises concurrent `migrate` calls on PostgreSQL


@retry_transient(in_doubt="retry")  # upgrading to "heads" twice is a no-op
def migrate(url: str) -> None:
    """Bring the schema to the newest Alembic revisions (idempotent; several processes may call it at once)."""

    engine = get_engine(url)
    with engine.execution_options(immediate=True).begin() as conn:  # SQLite: BEGIN IMMEDIATE, one migrator at a time
        transaction_lock(conn, MIGRATION_LOCK)
        cfg = alembic_config(url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # several features may add independent branches


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for a name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def transaction_lock(executor: Session | Connection, key: int, shared: bool = False) -> bool:
    """Take the advisory lock ``key`` until the caller's transaction ends (PostgreSQL:
    ``pg_advisory_xact_lock``, ``_shared`` when ``shared``), on ``executor`` — a session (which
    flushes its pending writes first, as any statement of it) or a connection. SQLite has none and
    needs none: its ``BEGIN IMMEDIATE`` lets one writer in at a time. Returns whether it was taken."""
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    if not is_postgres(bind):
        return False
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    executor.execute(text(f"SELECT {function}(:key)"), {"key": key})
    return True


@contextmanager
def held_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Try to take the advisory lock ``name`` for as long as the block runs (PostgreSQL: a session
    lock on a connection of its own, released at the end or when the process dies). Yields whether
    it was taken; another process holding it gives False at once, never a wait. SQLite has no
    advisory locks: yields True (its callers hold a file lock beside the database)."""
    if not is_postgres(engine):
        yield True
        return
    key = lock_key(name)
    with engine.connect() as conn:
        taken = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        conn.commit()
        try:
            yield taken
        finally:
            if taken:
                with contextlib.suppress(DBAPIError):  # a dropped connection released it already
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()


# ``revision = '0004'`` / ``down_revision = '0003'`` (or None, or a tuple of a merge) in a migration file
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""['"]([^'"]+)['"]""")


@cache
def schema_heads() -> frozenset[str]:
    """The newest revisions in ``migrations/versions``, read from the files' revision lines
    (what ``alembic heads`` says, without importing alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).update(_QUOTED.findall(value))
    return frozenset(revisions - parents)


@retry_transient(in_doubt="retry")
def applied_revisions(url: str) -> frozenset[str]:
    """The revisions the database is at (none for a new database)."""
    with get_engine(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return frozenset()
        return frozenset(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def ensure_schema(url: str) -> None:
    """Migrate only when the database is behind the code: a command's start costs one read, not
    alembic's import and a write lock. Processes that find it behind at once queue in ``migrate``."""
    if applied_revisions(url) != schema_heads():
        migrate(url)


# ---- "there is work": waking idle dispatchers --------------------------------------------------
WORK_CHANNEL = "gongwen_work"  # PostgreSQL NOTIFY channel (flows/claims.py WorkSignal listens)
ANNOUNCE_KEY = "gongwen_announce_work"


@event.listens_for(Session, "before_flush")
def _note_ready_circulations(session: Session, _context: object, _instances: object) -> None:
    """A transaction that makes a circulation ready (launched, a person decided, a claim given
    back) announces it on commit, so idle workers start at once instead of at their next poll."""
    if any(isinstance(obj, tables.Circulation) and obj.status == tables.CirculationStatus.ready for obj in (*session.new, *session.dirty)):
        session.info[ANNOUNCE_KEY] = True


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work that writes: commit on success, roll back on any error.

    A database error raised by the COMMIT itself is marked "in doubt" (``commit_in_doubt``):
    the server may or may not have committed."""
    ended: list[Callable[[], None]] = []  # after_transaction's callbacks
    try:
        with syncs_deferred() as files_on_disk, Session(engine.execution_options(immediate=True), expire_on_commit=False) as session:
            session.info[AFTER_END_KEY] = ended
            session.begin()
            yield session  # an error in the body propagates; closing the session rolls back
            session.flush()  # pending writes fail here, before COMMIT is sent: not in doubt
            for finish in session.info.pop(BEFORE_COMMIT_KEY, {}).values():
                finish(session)  # what the unit's steps left to its end (before_commit): also not in doubt
            audit.chain_new_records(session)  # the audit chain, its lock the last one taken: also not in doubt
            if session.info.pop(ANNOUNCE_KEY, False) and is_postgres(engine):
                session.execute(text(f"NOTIFY {WORK_CHANNEL}"))  # delivered on COMMIT, dropped on rollback
            files_on_disk()  # the files the transaction wrote (flushed beside its work) are on disk before it commits
            try:
                session.commit()
            except DBAPIError as exc:
                exc.gongwen_commit_in_doubt = True  # type: ignore[attr-defined]
                raise
    finally:
        for callback in ended:
            callback()


AFTER_END_KEY = "gongwen_after_end"
BEFORE_COMMIT_KEY = "gongwen_before_commit"


def before_commit(session: Session, name: str, finish: Callable[[Session], None]) -> bool:
    """Run ``finish(session)`` once at the end of the unit of work of ``session`` (``transaction``),
    after its last flush and before its audit chain and COMMIT, whatever its savepoints kept: work
    its steps leave to the end, registered once by ``name``. False (nothing registered) outside
    ``transaction``."""
    if AFTER_END_KEY not in session.info:
        return False
    session.info.setdefault(BEFORE_COMMIT_KEY, {}).setdefault(name, finish)
    return True


def after_transaction(session: Session, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once the unit of work of ``session`` (``transaction``) has ended — committed,
    rolled back, or failed with its connection — in this process: what the process itself holds
    until then (an archive item folder's lock). False (nothing registered) outside ``transaction``."""
    callbacks = session.info.get(AFTER_END_KEY)
    if callbacks is None:
        return False
    callbacks.append(callback)
    return True


HELD_FOLDERS_KEY = "gongwen_held_folders"


def hold_folder(session: Session, folder: Path) -> None:
    """Lock ``folder`` (``flock`` on the folder itself) until this unit of work has ended in this
    process (``after_transaction``), before writing files into it that the transaction records.
    A transaction killed on the server (PostgreSQL: a terminated connection) releases its row
    locks at once, while this process, not yet aware, may still be writing; another runner of the
    same step (or the circulation that got the same archive number) waits here until this one
    has failed, so its file is the last written and the one its commit records (the fault soak
    found a 印制 copy overwritten by such a stray write after the retry had recorded its own).
    Held once per transaction and folder; outside ``transaction`` nothing is held."""
    held = session.info.setdefault(HELD_FOLDERS_KEY, set())
    key = str(folder.resolve())
    if key in held:
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    if not after_transaction(session, lambda: os.close(fd)):  # closing the descriptor releases the lock
        os.close(fd)
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.add(key)


def remove_unheld_folder(folder: Path) -> None:
    """Remove ``folder`` when it is empty and no transaction holds it (``hold_folder``): a folder
    made for a filing that went elsewhere. A held one stays — its holder is about to write into
    it, and a folder made again by that write would no longer be the one its lock is on."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # gone already
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        folder.rmdir()
    except OSError:  # held (BlockingIOError), or not empty
        pass
    finally:
        os.close(fd)  # releases the lock, if this took it


def lock_circulation(session: Session, circulation_id: int) -> tables.Circulation | None:
    """Take the process lock (Viewflow's select_for_update_lock) and return the fresh row."""
    stmt = select(tables.Circulation).where(tables.Circulation.id == circulation_id)
    if is_postgres(session.get_bind()):
        stmt = stmt.with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).first()
