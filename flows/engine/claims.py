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

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, literal
from sqlmodel import Session, select

from gongwen_engine.flows.engine.engine import CLAIM_LEASE
from gongwen_engine.models import db
from gongwen_engine.models.tables import Circulation, CirculationStatus, utcnow

if TYPE_CHECKING:
    from gongwen_engine.flows.engine.engine import Engine

log = logging.getLogger(__name__)
RELEASE_CHECK_EVERY_S = 2.0  # how often a dispatcher looks for claims of dead processes on its machine
_last_check: dict[int, float] = {}  # per Engine (id): when this process last looked


def claimable() -> Any:
    """Circulations a dispatcher may claim: ready ones, and running ones whose claim's lease ran out."""
    stale = utcnow() - CLAIM_LEASE
    return (Circulation.status == CirculationStatus.ready) | ((Circulation.status == CirculationStatus.running) & (Circulation.claimed_at < stale))


def take(session: Session, stmt: Any, engine: Engine) -> list[Circulation]:
    """Claim the circulations ``stmt`` selects for ``engine``'s process (rows another
    dispatcher holds are skipped on PostgreSQL; SQLite's write transaction serialises claims)."""
    if db.is_postgres(engine.db):
        stmt = stmt.with_for_update(skip_locked=True)
    claimed = list(session.exec(stmt))
    for circ in claimed:
        circ.status, circ.claimed_by, circ.claimed_at = CirculationStatus.running, engine.worker_name, utcnow()
        session.add(circ)
    return claimed


def step_priority(engine: Engine) -> Any:
    """The declared ``priority`` of each circulation's current step (flows/*.yaml), as SQL."""
    ranked = [
        ((Circulation.flow == flow.flow) & (Circulation.step == name), step.priority)
        for flow in engine.flows.values()
        for name, step in flow.steps.items()
        if step.priority
    ]
    return case(*ranked, else_=0) if ranked else literal(0)


def claim_order(engine: Engine) -> list[Any]:
    """ORDER BY of claims: the current step's priority, highest first, then the oldest
    circulation. Sending out an approved document (编号 → 核发) is declared urgent, so a leader's
    approval is not queued behind the registration and filing (登记, 归档) of the documents
    delivered just before it."""
    return [step_priority(engine).desc(), Circulation.id]


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


def release_abandoned_claims(engine: Engine, force: bool = False) -> int:
    """Give back (status ``ready``) the running circulations claimed by a dead process of this
    machine; audited as ``claim_released``. Looks at most every ``RELEASE_CHECK_EVERY_S``
    (``force``: now). Returns how many were released."""
    now = time.monotonic()
    if not force and now - _last_check.get(id(engine), float("-inf")) < RELEASE_CHECK_EVERY_S:
        return 0
    _last_check[id(engine)] = now
    with Session(engine.db) as session:
        running = session.exec(select(Circulation.id, Circulation.claimed_by).where(Circulation.status == CirculationStatus.running)).all()
    released = 0
    for cid, holder in running:
        if not claimant_gone(holder):
            continue
        with db.transaction(engine.db) as session:
            circ = db.lock_circulation(session, cid)
            if circ is None or circ.status != CirculationStatus.running or circ.claimed_by != holder:
                continue  # it moved on meanwhile
            circ.status, circ.claimed_by = CirculationStatus.ready, None
            session.add(circ)
            engine.audit(
                session,
                "system",
                "claim_released",
                circ,
                circ.document_id or circ.received_id,
                circ.step,
                {"worker": holder, "reason": "the claiming process is gone"},
            )
            released += 1
    return released


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

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = threading.Lock()
        self._news = threading.Condition()
        self._generation = 0
        self._conn: Any = None

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when woken by a notification."""
        if not db.is_postgres(self._engine.db):
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

        url = self._engine.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        conn.execute(f"LISTEN {db.WORK_CHANNEL}")
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None


def has_claimable(engine: Engine) -> bool:
    """Is there automatic work to claim? (one read, no lock: cheap enough to ask every poll)"""
    with Session(engine.db) as session:
        return session.exec(select(Circulation.id).where(claimable()).limit(1)).first() is not None


_signals: dict[int, WorkSignal] = {}


def work_signal(engine: Engine) -> WorkSignal:
    """The engine's one ``WorkSignal`` in this process (one listening connection per engine)."""
    if id(engine) not in _signals:
        _signals[id(engine)] = WorkSignal(engine)
    return _signals[id(engine)]
