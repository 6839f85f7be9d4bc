"""The cascade's profile by step kind, and the LibreOffice floor (issue 25).

``Profiler`` wraps, for one process, the engine's steps (``Engine._chain_locked``; their
transactions, ``run_steps``' groups and ``_run_step``'s single ones, are rows of their own), the batch
runner's preparations outside the steps (用印/归档 conversions, claims) and the conversions
themselves, and attributes to the step kind that runs on the thread: wall and thread CPU
seconds, SQL statements, commits, Python ``os.fsync`` calls (SQLite's own syncs: one per commit
under WAL + synchronous=NORMAL only at checkpoints, so commits are the figure to watch),
LibreOffice seconds and conversions. Prefect's share is the embedded server's start plus the
dispatch flow's wall time not covered by batch work (task-run bookkeeping, polling).

``floor`` converts the cascade's issued .docx files the way the issue measured the floor:
``soffice --headless --convert-to pdf``, one process per 100 files, a fresh profile.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import event
from sqlmodel import Session

from gongwen_engine.doc_templates import pdf as pdf_mod
from gongwen_engine.flows.engine import engine as engine_mod
from gongwen_engine.flows.runtime import batch as batch_mod
from gongwen_engine.flows.runtime import embedded as embedded_mod
from gongwen_engine.flows.runtime import processes as processes_mod
from gongwen_engine.flows.services import demo as demo_mod


@dataclass
class Row:
    count: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    sql: int = 0
    commits: int = 0
    fsyncs: int = 0
    lo_s: float = 0.0
    lo_n: int = 0


@dataclass
class Profiler:
    rows: dict[str, Row] = field(default_factory=lambda: defaultdict(Row))
    local: threading.local = field(default_factory=threading.local)
    lock: threading.Lock = field(default_factory=threading.Lock)
    busy: list[tuple[float, float]] = field(default_factory=list)
    held: list[tuple[float, float]] = field(default_factory=list)  # SQLite's write lock held (BEGIN IMMEDIATE → end)
    converting: list[tuple[float, float]] = field(default_factory=list)  # LibreOffice converting
    prefect_start: float = 0.0
    dispatch_wall: float = 0.0
    undo: list = field(default_factory=list)
    undo_events: list = field(default_factory=list)  # (target, event name, listener) to remove
    helper_rss_mb: list[float] = field(default_factory=list)  # each helper process's peak RSS (merge_helpers)

    def kind(self) -> str:
        return getattr(self.local, "kind", None) or "other"

    def _bump(self, attr: str, amount: float = 1) -> None:
        row = self.rows[self.kind()]
        with self.lock:
            setattr(row, attr, getattr(row, attr) + amount)

    def _timed(self, label_of, fn, busy: bool = False, container: bool = False):
        """``fn`` counted under its label. Inside another timed call it is counted in the enclosing
        kind, unless that one is a ``container`` (a transaction holding several circulations'
        steps): then each inner call is counted under its own kind and the container keeps only
        what is its own (BEGIN, COMMIT, the audit chain, savepoints)."""
        prof = self

        def wrapper(*args, **kwargs):
            outer = getattr(prof.local, "kind", None)
            label = label_of(*args, **kwargs) if callable(label_of) else label_of
            parent_inner = getattr(prof.local, "inner", None)  # set while the enclosing call is a container
            if outer is not None and outer != "other" and parent_inner is None:
                return fn(*args, **kwargs)  # counted in the enclosing kind
            inner = [0.0, 0.0]
            prof.local.kind, prof.local.inner = label, inner if container else None
            w, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dw, dc = time.perf_counter() - w, time.thread_time() - c
                prof.local.kind, prof.local.inner = outer, parent_inner
                if parent_inner is not None:
                    parent_inner[0] += dw
                    parent_inner[1] += dc
                row = prof.rows[label]
                with prof.lock:
                    row.count += 1
                    row.wall += dw - inner[0]
                    row.cpu += dc - inner[1]
                    if busy:
                        prof.busy.append((w, w + dw))

        return wrapper

    def _patch(self, owner, name: str, new) -> None:
        old = getattr(owner, name)
        setattr(owner, name, new)
        self.undo.append((owner, name, old))

    def install(self, sql_engine_factory) -> None:
        def step_label(engine, session, circulation_id, expected_step, then=frozenset()):
            # a chain of steps (batch.CHAINED) is counted under its first step's kind
            return f"step {_kind_of(engine, expected_step)}" + (" (+ chained)" if then else "")

        self._patch(engine_mod.Engine, "_chain_locked", self._timed(step_label, engine_mod.Engine._chain_locked))
        # the transactions around the chains: a group's (batch.run_group), or one circulation's
        self._patch(engine_mod.Engine, "run_steps", self._timed("transaction: group of circulations", engine_mod.Engine.run_steps, busy=True, container=True))
        self._patch(engine_mod.Engine, "_run_step", self._timed("transaction: one circulation", engine_mod.Engine._run_step, busy=True, container=True))
        for name, label in (
            ("prepare_receipts", "outside: prepare 签收 seal checks"),
            ("prepare_printing", "outside: prepare 印制 PDFs"),
            ("prepare_seals", "outside: prepare 用印 PDFs"),
            ("prepare_filing", "outside: prepare 归档 pages"),
            ("claim_batch", "outside: claim batch"),
        ):
            self._patch(batch_mod, name, self._timed(label, getattr(batch_mod, name), busy=True))
        self._patch(demo_mod, "write_manifest", self._timed("outside: manifest", demo_mod.write_manifest))
        prof = self

        def lo(fn):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return fn(*args, **kwargs)
                finally:
                    with prof.lock:
                        prof.converting.append((t, time.perf_counter()))
                    prof._bump("lo_s", time.perf_counter() - t)
                    prof._bump("lo_n", len(args[0]) if fn is one_shot else 1)

            return wrapper

        one_shot = pdf_mod.one_shot_docx_to_pdf
        self._patch(pdf_mod.WarmConverter, "convert", lo(pdf_mod.WarmConverter.convert))
        self._patch(pdf_mod, "one_shot_docx_to_pdf", lo(one_shot))
        real_fsync = os.fsync

        def fsync(fd):
            prof._bump("fsyncs")
            return real_fsync(fd)

        self._patch(os, "fsync", fsync)
        real_start = embedded_mod.start_embedded_server

        def start(home):
            t = time.perf_counter()
            try:
                return real_start(home)
            finally:
                prof.prefect_start += time.perf_counter() - t

        self._patch(batch_mod, "start_embedded_server", start)
        real_run = batch_mod.run_batches_until_idle

        def run(*args, **kwargs):
            t = time.perf_counter()
            try:
                return real_run(*args, **kwargs)
            finally:
                prof.dispatch_wall += time.perf_counter() - t

        self._patch(batch_mod, "run_batches_until_idle", run)
        self.sql_engine_factory = sql_engine_factory
        if DUMP_DIR_VARIABLE not in os.environ:  # the starting process: its helpers (processes.py) run profiled and write here
            os.environ[DUMP_DIR_VARIABLE] = tempfile.mkdtemp(prefix="gongwen-profile-")
        helper = Path(__file__).with_name("profiled_helper.py")
        self._patch(processes_mod, "helper_command", lambda slots, batch: [sys.executable, str(helper), "--slots", str(slots), "--batch", str(batch)])

    def dump(self, path: Path) -> None:
        """This process's figures, for the starting process (``merge_helpers``)."""
        figures = {
            "rows": {label: asdict(row) for label, row in self.rows.items()},
            "busy": self.busy,
            "held": self.held,
            "converting": self.converting,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        path.write_text(json.dumps(figures), encoding="utf-8")

    def merge_helpers(self) -> None:
        """Add the helper processes' figures to this process's (perf_counter is CLOCK_MONOTONIC on
        Linux: one clock for all processes, so their intervals merge with these)."""
        folder = Path(os.environ[DUMP_DIR_VARIABLE])
        for path in sorted(folder.glob("helper-*.json")):
            figures = json.loads(path.read_text(encoding="utf-8"))
            for label, values in figures["rows"].items():
                row = self.rows[label]
                for attr, value in values.items():
                    setattr(row, attr, getattr(row, attr) + value)
            for name in ("busy", "held", "converting"):
                getattr(self, name).extend(tuple(span) for span in figures[name])
            self.helper_rss_mb.append(figures["rss_mb"])
            path.unlink()

    def watch(self, sql_engine) -> None:
        event.listen(sql_engine, "before_cursor_execute", lambda *a, **k: self._bump("sql"))
        event.listen(sql_engine, "commit", lambda *a, **k: self._bump("commits"))
        prof = self

        def began(_session, transaction, connection) -> None:
            if transaction.parent is None and connection.get_execution_options().get("immediate"):
                prof.local.held_since = time.perf_counter()

        def ended(_session, transaction) -> None:
            since = getattr(prof.local, "held_since", None)
            if transaction.parent is None and since is not None:
                prof.local.held_since = None
                with prof.lock:
                    prof.held.append((since, time.perf_counter()))

        event.listen(Session, "after_begin", began)
        event.listen(Session, "after_transaction_end", ended)
        self.undo_events += [(Session, "after_begin", began), (Session, "after_transaction_end", ended)]

    def uninstall(self) -> None:
        for owner, name, old in reversed(self.undo):
            setattr(owner, name, old)
        self.undo.clear()
        for target, name, fn in self.undo_events:
            event.remove(target, name, fn)
        self.undo_events.clear()

    def covered(self) -> float:
        """Wall seconds during which at least one thread did batch work (union of intervals)."""
        return _length(_union(self.busy))

    def timeline(self, wall: float) -> str:
        """The critical path's two resources: SQLite's one write lock and LibreOffice, each held how
        long, and how much of the time both were busy or neither was."""
        held, lo = _union(self.held), _union(self.converting)
        both = _length(_intersection(held, lo))
        h, c = _length(held), _length(lo)
        neither = max(0.0, wall - (h + c - both))
        start = min((a for a, _ in held + lo), default=0.0)
        tenth = wall / 10
        windows = []
        for n in range(10):
            window = [(start + n * tenth, start + (n + 1) * tenth)]
            windows.append(f"{100 * _length(_intersection(held, window)) / tenth:.0f}/{100 * _length(_intersection(lo, window)) / tenth:.0f}")
        return (
            f"    write lock held {h:.1f} s ({100 * h / wall:.0f} % of the wall, {len(self.held)} write transactions); "
            f"LibreOffice converting {c:.1f} s; both at once {both:.1f} s; neither {neither:.1f} s\n"
            f"    by tenth of the wall, % held / % converting: {' · '.join(windows)}"
        )

    def prefect_seconds(self) -> float:
        return self.prefect_start + max(0.0, self.dispatch_wall - self.prefect_start - self.covered())

    def report(self, wall: float) -> str:
        head = f"    {'kind':32} {'n':>6} {'wall s':>8} {'ms/n':>7} {'CPU s':>7} {'SQL':>7} {'SQL/n':>6} {'commits':>7} {'fsync':>6} {'LO s':>7} {'LO n':>5}"
        lines = [head]
        total = Row()
        for label, r in sorted(self.rows.items(), key=lambda kv: -kv[1].wall):
            lines.append(
                f"    {label:32} {r.count:6d} {r.wall:8.1f} {r.wall / max(r.count, 1) * 1000:7.1f} {r.cpu:7.1f} {r.sql:7d} "
                f"{r.sql / max(r.count, 1):6.1f} {r.commits:7d} {r.fsyncs:6d} {r.lo_s:7.1f} {r.lo_n:5d}"
            )
            for attr in ("count", "wall", "cpu", "sql", "commits", "fsyncs", "lo_s", "lo_n"):
                setattr(total, attr, getattr(total, attr) + getattr(r, attr))
        summed = f"sum ({1 + len(self.helper_rss_mb)} process(es): may exceed wall)"
        lines.append(
            f"    {summed:32} {total.count:6d} {total.wall:8.1f} {'':7} {total.cpu:7.1f} {total.sql:7d} {'':6} "
            f"{total.commits:7d} {total.fsyncs:6d} {total.lo_s:7.1f} {total.lo_n:5d}"
        )
        lines.append(
            f"    Prefect: {self.prefect_seconds():.1f} s (embedded server start {self.prefect_start:.1f} s + dispatch wall not covered by batch work "
            f"{max(0.0, self.dispatch_wall - self.prefect_start - self.covered()):.1f} s); "
            f"dispatch wall {self.dispatch_wall:.1f} s of the cascade's {wall:.1f} s"
        )
        return "\n".join(lines)


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _intersection(x: list[tuple[float, float]], y: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, i, j = [], 0, 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if a < b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _length(spans: list[tuple[float, float]]) -> float:
    return sum(b - a for a, b in spans)


_kinds: dict[tuple[int, str], str] = {}


def _kind_of(engine, step: str | None) -> str:
    if step is None:
        return "?"
    key = (id(engine), step)
    if key not in _kinds:
        found = {str(f.steps[step].kind.value) for f in engine.flows.values() if step in f.steps}
        _kinds[key] = "/".join(sorted(found)) if found else step
    return _kinds[key]


DUMP_DIR_VARIABLE = "GONGWEN_BENCH_PROFILE_DIR"  # where profiled helper processes write their figures

FLOOR_CHUNK = 100  # one soffice process per 100 files: a single one silently stops after ~250


def floor(docx_files: list[Path], work: Path) -> tuple[float, int]:
    """``soffice --headless --convert-to pdf`` over the files, one process per 100, a fresh
    profile; returns (seconds, PDFs written)."""
    staged = work / "floor-in"
    out = work / "floor-out"
    staged.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for n, f in enumerate(docx_files):
        names.append(staged / f"f{n:05d}.docx")
        shutil.copyfile(f, names[-1])
    profile = tempfile.mkdtemp(prefix="gongwen-floor-profile-")
    started = time.perf_counter()
    try:
        for i in range(0, len(names), FLOOR_CHUNK):
            subprocess.run(
                [
                    pdf_mod.soffice(),
                    f"-env:UserInstallation=file://{profile}",
                    "--headless",
                    "--convert-to",
                    "pdf",
                    "--outdir",
                    str(out),
                    *map(str, names[i : i + FLOOR_CHUNK]),
                ],
                capture_output=True,
                stdin=subprocess.DEVNULL,
                env=pdf_mod.office_env(),
                timeout=1800,
                check=False,
            )
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return seconds, len(list(out.glob("*.pdf")))
