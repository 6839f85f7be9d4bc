"""Stopping on SIGTERM within a bound, and Prefect's stop signal recognised without importing
Prefect (the CLI starts faster without it).

``gongwen worker`` and ``gongwen serve`` stop within ``STOP_WITHIN_S`` (10 s) of SIGTERM in every
state — idle, lingering in a flow run, mid-step, LibreOffice busy. The first SIGTERM (or the
cancellation a flow run turns it into: Prefect installs its own handler while a run runs) sets
``stopping`` — the dispatcher's slots claim nothing more — and arms a deadline: the process
unwinds normally (steps in progress finish or roll back, exit handlers run, claims are given
back); if it has not ended when the deadline comes (a conversion that does not answer, a thread
that does not return, an exit handler that hangs), the claims are given back from the deadline's
thread and the process ends at once with exit code 143. What was not committed rolls back; the
next start continues from the step it was at.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.exceptions import TerminationSignal


def termination_signal(exc: BaseException) -> int | None:
    """Prefect's own SIGTERM handler, active while a flow run runs, raises ``TerminationSignal``;
    in an async flow run it comes out of the event loop, past the engine that would have handed the
    signal on (``systemctl stop`` of a busy worker ended in a traceback and exit code 1). The signal's
    number if ``exc`` is one, else ``None``."""
    termination: type[TerminationSignal] | None = getattr(sys.modules.get("prefect.exceptions"), "TerminationSignal", None)  # never imported: never raised
    return exc.signal if termination is not None and isinstance(exc, termination) else None


STOP_WITHIN_S = float(os.environ.get("GONGWEN_STOP_SECONDS", "10"))
stopping = threading.Event()  # set by the first SIGTERM: claim nothing more
_armed: list[Callable[[], None]] = []  # the process stops within a bound (worker, serve): what to do at the deadline
_deadline_started = threading.Event()


def stop_within_bound_on_sigterm(on_deadline: Callable[[], None]) -> None:
    """SIGTERM (``systemctl stop``, ``kill``) ends the process like Ctrl-C — Python unwinds and its
    exit handlers run, Prefect's among them, which stops the embedded Prefect server — and at the
    latest after ``STOP_WITHIN_S``: then ``on_deadline`` (give back the claims) and ``os._exit``."""
    _armed[:] = [on_deadline]
    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, _frame: object) -> None:
            begin_stop()
            sys.exit(128 + signum)

        signal.signal(signal.SIGTERM, handler)


def begin_stop() -> None:
    """Stop claiming work and arm the deadline (once; only in a process that stops within a bound)."""
    stopping.set()
    if _armed and not _deadline_started.is_set():
        _deadline_started.set()
        threading.Thread(target=_deadline, name="gongwen-stop-deadline", daemon=True).start()


def _deadline() -> None:
    time.sleep(max(0.5, STOP_WITHIN_S - 2.0))
    for action in _armed:
        worker = threading.Thread(target=action, daemon=True)
        worker.start()
        worker.join(1.0)
    sys.stderr.write("已停止：收到终止信号（SIGTERM）后未能及时正常退出，已强制结束。未提交的步骤已回滚，再次启动后从原步骤继续。\n")
    sys.stderr.flush()
    os._exit(128 + signal.SIGTERM)
