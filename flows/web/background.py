"""The automatic steps after a person acts, off the request thread.

When a secretary launches or a leader signs, the circulation becomes ``ready``; its automatic
steps (编号, 印制, 用印, 核发, 归档, and the recipients' 签收, 登记, …) run in Prefect through
:func:`gongwen_engine.flows.runtime.runner.run_until_idle`, exactly as ``gongwen run`` and ``gongwen
worker`` run them. The request only wakes :class:`StepRunner` and returns at once; one
background thread runs ``run_until_idle`` (again, if woken while it ran) and also every
``poll_seconds``, sending reminders (催办) like a worker does.

With ``gongwen serve --no-run`` nothing runs here: ``gongwen worker`` processes (on this or
other machines, one database) pick the work up. Both may run at once: claims and row locks make
every step happen once.
"""

from __future__ import annotations

import logging
import threading

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime.signals import STOP_WITHIN_S

log = logging.getLogger("gongwen.web")

# At a SIGTERM the pass in hand may finish its step: the stop's deadline (signals.py, armed at the
# signal) ends the process first if it takes too long — then with one line, not Prefect's
# tracebacks of a step ending while Python shuts down.
STOP_WAIT_S = STOP_WITHIN_S


class StepRunner:
    """One daemon thread that runs the automatic steps whenever it is woken (or polled)."""

    def __init__(self, engine: Engine, poll_seconds: float = 30.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0  # completed passes, for the health page
        self.last_error: str | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="gongwen-steps", daemon=True)
            self._thread.start()
            self.wake()  # resume whatever was left ready, and start Prefect early

    def wake(self) -> None:
        self._wake.set()

    def stop(self, wait: float = STOP_WAIT_S) -> None:
        """No new pass; the pass in hand is given ``wait`` seconds to end (at the web process's
        stop, its steps claim nothing more: ``signals.begin_stop``), so its flow run ends while
        Python still runs; after SIGTERM the deadline bounds the wait."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(wait)

    def _loop(self) -> None:
        from gongwen_engine.flows.runtime.runner import run_until_idle

        while not self._stop.is_set():
            self._wake.wait(timeout=self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                run_until_idle(self.engine)
                self.engine.send_reminders()
                self.last_error = None
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("automatic steps failed")
            self.runs += 1
