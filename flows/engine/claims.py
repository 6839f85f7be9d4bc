"""Claims on circulations (who is running them) and what a dead process leaves behind.

A dispatcher claims a ready circulation (status ``running``, ``claimed_by`` = ``host:pid``,
``claimed_at``) before it advances it. A process killed with SIGKILL, or a worker machine
that dies, leaves its claims behind: they would wait for their lease (``CLAIM_LEASE``, 10
minutes) before anyone took them over. A claim made by a process of *this* machine that is
gone is released at once instead (``release_abandoned_claims``), so ``gongwen cascade
--resume``, ``gongwen run`` or a sibling worker continues the circulation straight away. A
claim from another machine is left to the lease (its process cannot be checked from here).
Releasing is always safe: every step re-checks the circulation's state under its row lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, case, literal
from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from gongwen_engine.flows.engine.definition import FlowDefinition
from gongwen_engine.models import db
from gongwen_engine.models.audit import record_about
from gongwen_engine.models.db import retry_transient
from gongwen_engine.models.tables import Circulation, CirculationStatus, utcnow

log = logging.getLogger(__name__)
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this is taken over (its worker died)
RELEASE_CHECK_EVERY_S = 2.0  # how often a dispatcher looks for claims of dead processes on its machine
_last_check: dict[int, float] = {}  # per database engine (id): when this process last looked


def claimable() -> ColumnElement[bool]:
    """Circulations a dispatcher may claim: ready ones, and running ones whose claim's lease ran out."""
    stale = utcnow() - CLAIM_LEASE
    return (col(Circulation.status) == CirculationStatus.ready) | (
        (col(Circulation.status) == CirculationStatus.running) & (col(Circulation.claimed_at) < stale)
    )


def take(session: Session, stmt: SelectOfScalar[Circulation], worker_name: str) -> list[Circulation]:
    """Claim the circulations ``stmt`` selects for the process ``worker_name`` (rows another
    dispatcher holds are skipped on PostgreSQL; SQLite's write transaction serialises claims)."""
    if db.is_postgres(session.get_bind()):
        stmt = stmt.with_for_update(skip_locked=True)
    claimed = list(session.exec(stmt))
    for circ in claimed:
        circ.status, circ.claimed_by, circ.claimed_at = CirculationStatus.running, worker_name, utcnow()
        session.add(circ)
    return claimed


def step_priority(flows: Mapping[str, FlowDefinition]) -> ColumnElement[int]:
    """The declared ``priority`` of each circulation's current step (flows/*.yaml), as SQL."""
    ranked = [
        ((col(Circulation.flow) == flow.flow) & (col(Circulation.step) == name), step.priority)
        for flow in flows.values()
        for name, step in flow.steps.items()
        if step.priority
    ]
    return case(*ranked, else_=0) if ranked else literal(0)


def claim_order(flows: Mapping[str, FlowDefinition]) -> list[ColumnElement[Any]]:
    """ORDER BY of claims: the current step's priority, highest first, then the oldest
    circulation. Sending out an approved document (编号 → 核发) is declared urgent, so a leader's
    approval is not queued behind the registration and filing (登记, 归档) of the documents
    delivered just before it."""
    return [step_priority(flows).desc(), col(Circulation.id).asc()]


@retry_transient(in_doubt="retry")  # an in-doubt claim is given back after its lease
def claim_ready(
    bind: SqlEngine,
    flows: Mapping[str, FlowDefinition],
    worker_name: str,
    limit: int = 50,
    min_priority: int | None = None,
    excluding: frozenset[int] = frozenset(),
) -> list[Circulation]:
    """Claim for ``worker_name`` up to ``limit`` circulations with automatic work to do (SKIP LOCKED
    on PostgreSQL), most urgent step first; ``min_priority``: only those whose step is at least that
    urgent; ``excluding``: circulations the caller is already advancing (ready between their steps)."""
    release_abandoned_claims(bind)  # claims of killed processes of this machine
    with db.transaction(bind) as session:
        stmt = select(Circulation).where(claimable()).order_by(*claim_order(flows)).limit(limit)
        if min_priority is not None:
            stmt = stmt.where(step_priority(flows) >= min_priority)
        if excluding:
            stmt = stmt.where(col(Circulation.id).not_in(excluding))
        return take(session, stmt, worker_name)


def claimant_gone(worker_name: str | None, host: str | None = None) -> bool:
    """Is the process that made a claim (``host:pid``, ``Engine.worker_name``) known to be dead?

    Only a process of this machine can be checked (``kill(pid, 0)``; a zombie — killed, not yet
    reaped — counts as dead); a claim from another machine is left to its lease."""
    if not worker_name:
        return True
    claim_host, _, pid_text = worker_name.rpartition(":")
    if claim_host != (host or socket.gethostname()) or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def release_abandoned_claims(bind: SqlEngine, force: bool = False) -> int:
    """Give back (status ``ready``) the running circulations claimed by a dead process of this
    machine; audited as ``claim_released``. Looks at most every ``RELEASE_CHECK_EVERY_S``
    (``force``: now). Returns how many were released."""
    now = time.monotonic()
    if not force and now - _last_check.get(id(bind), float("-inf")) < RELEASE_CHECK_EVERY_S:
        return 0
    _last_check[id(bind)] = now
    with Session(bind) as session:
        running = session.exec(select(Circulation.id, Circulation.claimed_by).where(Circulation.status == CirculationStatus.running)).all()
    released = 0
    for cid, holder in running:
        if cid is None or not claimant_gone(holder):
            continue
        with db.transaction(bind) as session:
            circ = db.lock_circulation(session, cid)
            if circ is None or circ.status != CirculationStatus.running or circ.claimed_by != holder:
                continue  # it moved on meanwhile
            circ.status, circ.claimed_by = CirculationStatus.ready, None
            session.add(circ)
            detail = {"worker": holder, "reason": "the claiming process is gone"}
            record_about(session, "system", "claim_released", circ, circ.document_id or circ.received_id, circ.step, detail)
            released += 1
    return released


def release_claims_of(bind: SqlEngine, worker_name: str, only: Collection[int] | None = None, reason: str = "the worker stopped") -> int:
    """Give back (``ready``) what the process ``worker_name`` claimed and did not finish — a worker
    that stops (SIGTERM) hands its claims to the others at once instead of after the lease; a batch
    that stops on an error gives back its own (``only``: those circulations). A row
    a step of it still holds locked is skipped (PostgreSQL): that step rolls back when the process
    ends, and the claim of a gone process is released by ``release_abandoned_claims``. Audited as
    ``claim_released``; returns how many."""
    with db.transaction(bind) as session:
        stmt = select(Circulation).where(Circulation.status == CirculationStatus.running, Circulation.claimed_by == worker_name)
        if only is not None:
            stmt = stmt.where(col(Circulation.id).in_(list(only)))
        if db.is_postgres(session.get_bind()):
            stmt = stmt.with_for_update(skip_locked=True)
        claimed = list(session.exec(stmt))
        for circ in claimed:
            circ.status, circ.claimed_by = CirculationStatus.ready, None
            session.add(circ)
            detail = {"worker": worker_name, "reason": reason}
            record_about(session, "system", "claim_released", circ, circ.document_id or circ.received_id, circ.step, detail)
        return len(claimed)


# ---- waking idle dispatchers --------------------------------------------------------------------


class WorkSignal:
    """Wait until some transaction makes a circulation ready, or ``timeout`` passes.

    On PostgreSQL a transaction that makes a circulation ready sends ``NOTIFY gongwen_work``
    on commit (``models/db.py``); here one dedicated autocommit connection per engine LISTENs,
    so an idle worker on any machine wakes within milliseconds of a leader's approval instead of
    at its next poll. Notifications that arrive while nobody waits are buffered by the
    connection and wake the next wait, so none is lost between a poll and a wait. Several
    threads may wait at once: one reads the connection, the others wait for its news. The
    poll still runs after ``timeout`` (a notification is a hint, the claim query decides), and
    on SQLite, or while the listening connection is broken, waiting is plain sleeping.
    """

    def __init__(self, bind: SqlEngine) -> None:
        self._bind = bind
        self._reader = threading.Lock()
        self._news = threading.Condition()
        self._generation = 0
        self._conn: Any = None

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when woken by a notification."""
        if not db.is_postgres(self._bind):
            time.sleep(timeout)
            return False
        if not self._reader.acquire(blocking=False):
            with self._news:
                seen = self._generation
                return self._news.wait_for(lambda: self._generation != seen, timeout)
        try:
            woken = self._read(timeout)
        finally:
            self._reader.release()
        if woken:
            with self._news:
                self._generation += 1
                self._news.notify_all()
        return woken

    def _read(self, timeout: float) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._listen()
            return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))
        except Exception as exc:
            log.warning("work notifications unavailable (%s); polling", exc)
            self.close()
            time.sleep(timeout)
            return False

    def _listen(self) -> Any:
        import psycopg

        url = self._bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        conn.execute(f"LISTEN {db.WORK_CHANNEL}")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail: it is dropped either way
                self._conn.close()
            self._conn = None


def has_claimable(bind: SqlEngine) -> bool:
    """Is there automatic work to claim? (one read, no lock: cheap enough to ask every poll)"""
    with Session(bind) as session:
        return session.exec(select(Circulation.id).where(claimable()).limit(1)).first() is not None


_signals: dict[int, WorkSignal] = {}


def work_signal(bind: SqlEngine) -> WorkSignal:
    """The database's one ``WorkSignal`` in this process (one listening connection per database engine)."""
    if id(bind) not in _signals:
        _signals[id(bind)] = WorkSignal(bind)
    return _signals[id(bind)]
