"""Cost of one engine step in the national cascade, by step (issue 6).

Runs one province's cascade (``flows/batch.py``'s batches, in this thread, without Prefect:
claim a batch, advance it, until nothing is left) on a fresh SQLite database and times every
circulation's chain of steps (``Engine._chain_locked``, under the circulation's row lock, as
always) with the wall clock, the thread's CPU time (less disturbed by other jobs on a shared
machine) and the SQL statements it sent; what each group transaction costs beyond its chains
(``Engine.run_steps``: BEGIN, COMMIT, the audit chain, the savepoints) is its own row.
LibreOffice's batch conversions before 用印 and 归档 run outside the steps and are not counted here (``cascade_bench.py`` times the whole cascade).

    python benchmarks/step_bench.py [--province p64] [--runs 3]

p64 is 宁夏 (29 organisations, 154 steps), p31 上海 (18). Prints a table per run and the
median over runs, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.context import StepResult
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.flows.runtime.batch import advance_many, claim_batch
from gongwen_engine.flows.services import demo
from gongwen_engine.flows.services.cascade import NATIONAL_POLICY, NOTICE_FLOW, subtree_config
from gongwen_engine.flows.services.engine import open_engine


@dataclass
class StepCost:
    """Totals for one kind of step (or all): how many, wall and CPU seconds, SQL statements."""

    steps: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    statements: int = 0

    def add(self, wall: float, cpu: float, statements: int) -> None:
        self.steps += 1
        self.wall += wall
        self.cpu += cpu
        self.statements += statements

    def row(self, name: str) -> str:
        n = max(self.steps, 1)
        return f"{name:12s} {self.steps:6d} {1000 * self.wall / n:9.1f} {1000 * self.cpu / n:8.1f} {self.statements / n:8.1f}"


@dataclass
class Run:
    total: StepCost = field(default_factory=StepCost)
    by_step: dict[str, StepCost] = field(default_factory=lambda: defaultdict(StepCost))
    group: StepCost = field(default_factory=StepCost)  # each group transaction's own cost, beyond its chains (steps: groups)
    seconds: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


def run_province(province: str) -> Run:
    """One cascade over ``province`` in a temporary folder, every step measured."""
    out = Path(tempfile.mkdtemp(prefix="gongwen-step-bench-"))
    config = subtree_config(out / ".gongwen" / "config", [province])
    engine = open_engine(Settings(home=out / ".gongwen", storage=out, config_dir=config))
    org, content = demo.load_notice()
    engine.launch(org, NOTICE_FLOW, content, policy=NATIONAL_POLICY, actor=f"{org}_secretary")
    sent = [0]

    def count(*_args: object) -> None:
        sent[0] += 1

    event.listen(engine.db, "before_cursor_execute", count)
    result = Run()
    chain_locked, run_steps = engine._chain_locked, engine.run_steps

    def measured(session: object, circulation_id: int, expected_step: str | None, then: frozenset[StepKind]) -> StepResult:
        """One circulation's chain of steps (counted under its first step), inside a group's transaction."""
        statements, wall, cpu = sent[0], time.perf_counter(), time.thread_time()
        try:
            return chain_locked(session, circulation_id, expected_step, then)
        finally:
            cost = (time.perf_counter() - wall, time.thread_time() - cpu, sent[0] - statements)
            result.total.add(*cost)
            result.by_step[expected_step or "?"].add(*cost)

    def grouped(steps: dict[int, str | None], then: frozenset[StepKind] = frozenset(), keep_claim: bool = False) -> dict:
        """One group's transaction: what it costs beyond its chains (BEGIN, COMMIT, the audit chain,
        savepoints) — the whole, less what its chains added to the total meanwhile."""
        total = result.total
        before = (total.wall, total.cpu, total.statements)
        statements, wall, cpu = sent[0], time.perf_counter(), time.thread_time()
        try:
            return run_steps(steps, then, keep_claim)
        finally:
            own = (
                time.perf_counter() - wall - (total.wall - before[0]),
                time.thread_time() - cpu - (total.cpu - before[1]),
                sent[0] - statements - (total.statements - before[2]),
            )
            result.group.add(*own)
            total.wall += own[0]
            total.cpu += own[1]
            total.statements += own[2]

    engine._chain_locked = measured  # type: ignore[method-assign]
    engine.run_steps = grouped  # type: ignore[method-assign]
    started = time.perf_counter()
    while claimed := claim_batch(engine, 64):
        advance_many(engine, [c.id for c in claimed])
    result.seconds = time.perf_counter() - started
    result.load = os.getloadavg()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--province", default="p64", help="province code (p64 宁夏, p31 上海, ...)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        run = run_province(args.province)
        runs.append(run)
        print(f"run {n + 1}: {run.total.steps} steps in {run.seconds:.1f} s, load average {run.load[0]:.1f} {run.load[1]:.1f} {run.load[2]:.1f}")
        print(f"{'step':12s} {'count':>6s} {'wall ms':>9s} {'cpu ms':>8s} {'stmts':>8s}")
        for name, cost in sorted(run.by_step.items(), key=lambda kv: -kv[1].cpu):
            print(cost.row(name))
        print(run.group.row("(group txn)") + "   per group: BEGIN, COMMIT, the audit chain, savepoints")
        print(run.total.row("all"))
    med = statistics.median
    print(
        f"median of {len(runs)} runs, per step: wall {med(1000 * r.total.wall / r.total.steps for r in runs):.1f} ms, "
        f"cpu {med(1000 * r.total.cpu / r.total.steps for r in runs):.1f} ms, "
        f"statements {med(r.total.statements / r.total.steps for r in runs):.1f}; "
        f"load average {med(r.load[0] for r in runs):.1f}"
    )


if __name__ == "__main__":
    main()
