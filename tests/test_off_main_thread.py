"""Flow runs off the main thread (``runner.off_the_main_thread``): the main thread keeps the
signals, and a stop asked while a run is in hand waits for that run to end before the process
goes on stopping (issue 26: a worker that did not stop; Prefect tracebacks at exit)."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from gongwen_engine.flows.runtime import signals
from gongwen_engine.flows.runtime.runner import off_the_main_thread


@pytest.fixture
def unarmed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No deadline in the test process, ``stopping`` clear before and after (it is process-wide),
    and Python's own Ctrl-C handler (an earlier test in the same process may have left SIGINT
    ignored or at its default, and then ``interrupt_main`` does nothing)."""
    monkeypatch.setattr(signals, "_armed", [])
    signals.stopping.clear()
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
        signals.stopping.clear()


def test_the_work_runs_in_another_thread_and_its_result_comes_back(unarmed: None) -> None:
    seen: list[str] = []

    def work() -> int:
        seen.append(threading.current_thread().name)
        return 42

    assert off_the_main_thread(work) == 42
    assert seen == ["gongwen-dispatch"]


def test_an_error_of_the_work_is_raised_in_the_caller(unarmed: None) -> None:
    def work() -> int:
        raise LookupError("步骤失败")

    with pytest.raises(LookupError, match="步骤失败"):
        off_the_main_thread(work)


def test_off_the_main_thread_already_the_work_runs_inline(unarmed: None) -> None:
    names: list[str] = []

    def outer() -> None:
        names.append(off_the_main_thread(lambda: threading.current_thread().name))

    caller = threading.Thread(target=outer, name="web-steps")
    caller.start()
    caller.join()
    assert names == ["web-steps"]


def test_an_interrupt_stops_the_slots_and_waits_for_the_step_in_hand(unarmed: None) -> None:
    """Ctrl-C (here: ``interrupt_main``) while the work runs: ``stopping`` is set at once, and the
    interrupt is raised only after the work has ended. With ``Thread.join`` as the wait, CPython 3.11
    took the interrupted thread for ended (bpo-45274) and the process exited under a running step."""
    finished: list[bool] = []
    stopping_seen: list[bool] = []

    def work() -> str:
        threading.Timer(0.05, _thread.interrupt_main).start()
        deadline = time.monotonic() + 5
        while not signals.stopping.is_set() and time.monotonic() < deadline:  # a slot between two steps
            time.sleep(0.01)
        stopping_seen.append(signals.stopping.is_set())
        time.sleep(0.3)  # the step in hand finishing
        finished.append(True)
        return "done"

    with pytest.raises(KeyboardInterrupt):
        off_the_main_thread(work)
    assert stopping_seen == [True]
    assert finished == [True]
