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

import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, select

from gongwen_engine.models import db
from gongwen_engine.models.tables import Circulation, utcnow

from .engine import CLAIM_LEASE

if TYPE_CHECKING:
    from .engine import Engine

RELEASE_CHECK_EVERY_S = 2.0  # how often a dispatcher looks for claims of dead processes on its machine
_last_check: dict[int, float] = {}  # per Engine (id): when this process last looked


def claimable() -> Any:
    """Circulations a dispatcher may claim: ready ones, and running ones whose claim's lease ran out."""
    stale = utcnow() - CLAIM_LEASE
    return (Circulation.status == "ready") | ((Circulation.status == "running") & (Circulation.claimed_at < stale))


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


def release_abandoned_claims(engine: "Engine", force: bool = False) -> int:
    """Give back (status ``ready``) the running circulations claimed by a dead process of this
    machine; audited as ``claim_released``. Looks at most every ``RELEASE_CHECK_EVERY_S``
    (``force``: now). Returns how many were released."""
    now = time.monotonic()
    if not force and now - _last_check.get(id(engine), float("-inf")) < RELEASE_CHECK_EVERY_S:
        return 0
    _last_check[id(engine)] = now
    with Session(engine.db) as session:
        running = session.exec(select(Circulation.id, Circulation.claimed_by).where(Circulation.status == "running")).all()
    released = 0
    for cid, holder in running:
        if not claimant_gone(holder):
            continue
        with db.transaction(engine.db) as session:
            circ = db.lock_circulation(session, cid)
            if circ is None or circ.status != "running" or circ.claimed_by != holder:
                continue  # it moved on meanwhile
            circ.status, circ.claimed_by = "ready", None
            session.add(circ)
            engine.audit(session, "system", "claim_released", circ, circ.document_id or circ.received_id, circ.step,
                         {"worker": holder, "reason": "the claiming process is gone"})
            released += 1
    return released
