"""Helper processes for the batch runner: more than one interpreter on one machine.

One Python process runs Python on one CPU at a time (the GIL): in the national cascade the steps,
the renderings (印制), the signatures (用印) and the archive's copies all take turns in it, while
the machine's other CPU runs little more than LibreOffice. With ``Settings.processes`` = N > 1
(``GONGWEN_PROCESSES``, default 2), ``run_batches_until_idle`` spreads its slots over N processes:
this one and N − 1 helpers (``python -m gongwen_engine.flows.runtime.processes``), each running
the dispatch flow (``batch.dispatch_batches``) with its share of the slots, against the same
database and the same Prefect server (the embedded server's address is handed over in
``PREFECT_API_URL``), so every batch is still a Prefect task run of that server.

The work is shared by the claims, as between the workers of a PostgreSQL deployment: a slot
claims one sender's ready circulations, and they stay claimed between their steps
(``Engine.run_step``'s ``keep_claim``), so another process does not take one halfway and prepare
its conversions a second time. On SQLite the write transactions of all the processes queue for
the one write lock (``BEGIN IMMEDIATE``, as any two writers of that file do); what each step
checks under its lock is unchanged.

A helper dies with the process that started it (``PR_SET_PDEATHSIG``): a killed cascade leaves no
process working beside its ``--resume``. A helper that dies alone leaves its claims to the
others (``claims.release_abandoned_claims`` gives back at once the claims of a dead process of
this machine); what it left unfinished is done by them. Its output goes to
``GONGWEN_HOME/batch-helper-K.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PARENT_VARIABLE = "GONGWEN_HELPER_PARENT"  # the pid of the process that started the helper
STOP_WAIT_S = 10.0  # after SIGTERM, how long a helper may take to end before it is killed
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass
class Helper:
    """One helper process and where its output goes."""

    process: subprocess.Popen[bytes]
    log_path: Path


def slots_per_process(concurrency: int, processes: int) -> list[int]:
    """The slots of each process (this one first): ``concurrency`` spread over at most ``processes``
    processes, none without a slot (2 slots, 2 processes: one each; 3 over 2: two here, one there)."""
    count = max(1, min(processes, concurrency))
    return [concurrency // count + (1 if n < concurrency % count else 0) for n in range(count)]


def start_helpers(home: Path, environment: dict[str, str], slots: list[int], batch: int, api_url: str | None) -> list[Helper]:
    """Start one helper process per entry of ``slots`` (its number of slots), with the settings
    ``environment`` (``Settings.environment``) and, when given, the Prefect server ``api_url``.
    Call from the thread that stays until the helpers are stopped: Linux signals a helper when
    the *thread* that started it ends (PR_SET_PDEATHSIG)."""
    helpers = []
    env = {**os.environ, **environment, PARENT_VARIABLE: str(os.getpid())}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    for n, count in enumerate(slots, start=1):
        log_path = Path(home) / f"batch-helper-{n}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            process = subprocess.Popen(helper_command(count, batch), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        helpers.append(Helper(process, log_path))
        log.info("batch helper %d started (pid %d, %d slot(s)), output in %s", n, process.pid, count, log_path)
    return helpers


def helper_command(slots: int, batch: int) -> list[str]:
    """The command line of a helper (``main``); the cascade's profile runs its own instead
    (``benchmarks/profiled_helper.py``, which profiles the helper and then calls ``main``)."""
    return [sys.executable, "-m", __name__, "--slots", str(slots), "--batch", str(batch)]


def finish_helpers(helpers: list[Helper]) -> None:
    """Wait for the helpers, which end when no work is left anywhere. One that failed is reported
    (its log named): what it left unfinished was taken over by the others, so this is a warning."""
    for n, helper in enumerate(helpers, start=1):
        code = helper.process.wait()
        if code != 0:
            log.warning("batch helper %d (pid %d) ended with exit code %s; its output: %s", n, helper.process.pid, code, helper.log_path)


def stop_helpers(helpers: list[Helper]) -> None:
    """Stop the helpers still running (the starting process is ending early: an error, Ctrl-C):
    SIGTERM, then SIGKILL after ``STOP_WAIT_S``. A step cut off rolls back with its transaction."""
    running = [h.process for h in helpers if h.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _die_with_parent(parent: int) -> None:
    """Be killed when the starting process ends, however it ends (Linux ``prctl``); if it already
    ended before this ran, end now."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("PR_SET_PDEATHSIG failed (errno %d): this helper may outlive its parent", ctypes.get_errno())
    if os.getppid() != parent:
        raise SystemExit("the process that started this helper has ended")


def main(argv: list[str] | None = None) -> int:
    """A helper: the dispatch flow with ``--slots`` slots until no work is left anywhere."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description="a batch runner helper process (started by gongwen itself)")
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args(argv)
    parent = os.environ.get(PARENT_VARIABLE)
    if parent is None or not parent.isdigit():
        parser.error(f"{PARENT_VARIABLE} is not set: helpers are started by gongwen (run_batches_until_idle), not by hand")
    _die_with_parent(int(parent))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    from gongwen_engine.flows.runtime.batch import dispatch_batches
    from gongwen_engine.flows.runtime.runner import current_engine

    current_engine()  # the settings from GONGWEN_* (Settings.environment); leftovers are the starting process's to clean
    counts = asyncio.run(dispatch_batches(concurrency=args.slots, batch=args.batch, until_all_done=True))
    log.info("batch helper done: %s", counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
