"""Database fault campaign: PostgreSQL connections terminated and the server unreachable
mid-run, then several CLI processes at once on one SQLite home.

    python benchmarks/db_fault_campaign.py [--terminations 10] [--outages 5] [--outage-seconds 3]
        [--clients 6] [--seconds 90] [--processes 6] [--only pg|sqlite] [--seed 1]

1. **PostgreSQL** (``127.0.0.1:5432``; ``GONGWEN_TEST_PG_ADMIN`` for another admin URL): a
   fresh database behind a small TCP proxy (``tests/db_faults.py``; the real server is never
   stopped). The soak's clients (``tests/soak.py``: launch, approve, return, delegate, receive,
   search, archive, run) act for ``--seconds`` while ``pg_terminate_backend`` kills every
   connection ``--terminations`` times and the proxy drops and refuses every connection for
   ``--outage-seconds`` ``--outages`` times. Then the invariants. Last, a CLI process meets a
   server that stays unreachable longer than its retries: it must fail cleanly (exit 2, a
   message in Chinese, no traceback).
2. **SQLite**: waves of ``--processes`` ``gongwen`` processes at once on one fresh
   ``GONGWEN_HOME`` (init + launch on an empty database, launch + run + inbox, each sign-off
   approved by two processes at once, run). None may crash or show "database is locked".

Prints faults injected, operations, retries, clean failures, duplicates found and violations;
exits 1 if anything is wrong.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import psycopg
from db_faults import GONGWEN, FaultInjector, FaultProxy, Swarm, cli_campaign
from soak import soak, work_item_checks

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.models import db

PG_ADMIN = os.environ.get("GONGWEN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def duplicates(violations: list[str]) -> int:
    return sum(1 for v in violations if "duplicate" in v.split(":")[0])


def pg_campaign(args: argparse.Namespace, work: Path) -> bool:
    name = f"gongwen_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    direct = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    ok = True
    try:
        with FaultProxy("127.0.0.1", 5432) as proxy:
            url = proxy.url_for(direct)
            engine = open_engine(Settings(home=work / "pg", storage=work / "pg" / "storage", database_url=url))
            injector = FaultInjector(proxy, direct, PG_ADMIN, args.terminations, args.outages, args.seconds, args.outage_seconds)
            before = Counter(db.RETRY_COUNTS)
            result = soak(engine, clients=args.clients, seconds=args.seconds, seed=args.seed, during=injector, resume=True)
            retries = Counter(db.RETRY_COUNTS)
            retries.subtract(before)
            print("== PostgreSQL: connections terminated, server unreachable ==")
            print(injector.summary())
            print("\n".join(result.lines()))
            print(
                f"retries: {retries['retried']} transactions run again, {retries['in_doubt_retried']} after an in-doubt commit, "
                f"{retries['in_doubt_refused']} in-doubt refusals, {retries['gave_up']} gave up"
            )
            print(f"duplicates found: {duplicates(result.violations)}")
            ok = not result.violations and result.tally.total("unexpected") == 0
            ok &= stays_unreachable(proxy, url, work)
            engine.db.dispose()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return ok


def stays_unreachable(proxy: FaultProxy, url: str, work: Path) -> bool:
    """A CLI process whose database stays down longer than its retries: exit 2, Chinese, no traceback."""
    proxy.outage()
    try:
        env = {**os.environ, "GONGWEN_DATABASE_URL": url, "GONGWEN_HOME": str(work / "pg"), "GONGWEN_DB_RETRY_SECONDS": "3", "NO_COLOR": "1"}
        started = time.monotonic()
        proc = subprocess.run([GONGWEN, "inbox", "--user", "acwf_leader"], env=env, capture_output=True, text=True, timeout=300)
        took = time.monotonic() - started
    finally:
        proxy.restore()
    clean = proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout and "数据库" in proc.stderr
    print(
        f"server down longer than the retries: `gongwen inbox` exit {proc.returncode} after {took:.1f} s, "
        f"{'clean' if clean else 'NOT clean'}: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '(no message)'}"
    )
    return clean


def sqlite_campaign(args: argparse.Namespace, work: Path) -> bool:
    swarm = Swarm.create(work / "sqlite")
    started = time.monotonic()
    cli_campaign(swarm, args.processes)
    took = time.monotonic() - started
    engine = open_engine(Settings(home=work / "sqlite" / ".gongwen"))
    report = check_invariants(engine)
    violations = [str(v) for v in report.violations] + work_item_checks(engine)
    crashed = [r for r in swarm.runs if r.crashed]
    by_command = Counter(r.args[0] for r in swarm.runs)
    print(f"== SQLite: {len(swarm.runs)} CLI processes in waves of up to {args.processes} at once, one GONGWEN_HOME ({took:.0f} s) ==")
    print("processes: " + ", ".join(f"{k} {v}" for k, v in sorted(by_command.items())))
    print(
        f"done {sum(r.returncode == 0 for r in swarm.runs)}, refused cleanly {sum(r.refused for r in swarm.runs)} "
        f"(e.g. {next((r.stderr.strip().splitlines()[-1] for r in swarm.runs if r.refused), '-')}), crashed {len(crashed)}"
    )
    for r in crashed[:5]:
        print(f"  crashed: gongwen {' '.join(r.args)} → exit {r.returncode}\n    " + (r.stderr.strip() or r.stdout.strip())[-800:].replace("\n", "\n    "))
    print("invariants: " + ", ".join(f"{k} {v}" for k, v in report.checked.items()) + f" · circulations {status_counts(engine)}")
    print(f"duplicates found: {duplicates(violations)} · violations: {len(violations)}")
    for v in violations[:20]:
        print("  " + v)
    engine.db.dispose()
    return not crashed and not violations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminations", type=int, default=10, help="rounds of pg_terminate_backend")
    parser.add_argument("--outages", type=int, default=5, help="times the server becomes unreachable")
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=6, help="soak clients acting during the faults")
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the clients act")
    parser.add_argument("--processes", type=int, default=6, help="CLI processes at once on SQLite")
    parser.add_argument("--only", choices=("pg", "sqlite"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    ok = True
    with tempfile.TemporaryDirectory(prefix="gongwen-faults-") as tmp:
        if args.only in (None, "pg"):
            ok &= pg_campaign(args, Path(tmp))
        if args.only in (None, "sqlite"):
            ok &= sqlite_campaign(args, Path(tmp))
    print(f"load average {os.getloadavg()[0]:.1f} at end · {'HELD' if ok else 'VIOLATIONS OR CRASHES FOUND'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
