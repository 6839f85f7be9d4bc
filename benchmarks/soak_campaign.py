"""Concurrency soak on PostgreSQL: clients doing random valid and invalid actions for a bounded time.

    python benchmarks/soak_campaign.py [--clients 8] [--seconds 60] [--seed 1] [--sqlite]

A fresh PostgreSQL database on ``127.0.0.1:5432`` (``GONGWEN_TEST_PG_ADMIN`` for another admin
URL; ``--sqlite`` for a SQLite file instead). ``--clients`` threads (``tests/soak.py``) launch,
approve, return, delegate, receive (the seeds in ``tests/seeds``), search the archive, read and
verify archive items, read inboxes and run the automatic steps, about one action in five invalid
on purpose, for ``--seconds``. Then the automatic work left is run and the invariants checked
(``flows/invariants.py``: numbers unique and contiguous per prefix and year, every delivery,
registration and archive item once, the audit trail complete; plus no work item held twice).
Prints throughput (actions/s by kind) and error counts (expected refusals against unexpected
errors); exits 1 on an unexpected error or a violated invariant.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import psycopg
from soak import soak

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.services.engine import open_engine

PG_ADMIN = os.environ.get("GONGWEN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients act (the drain and the checks come after)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    name = f"gongwen_soak_{uuid.uuid4().hex[:8]}"
    url = None
    if not args.sqlite:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    try:
        with tempfile.TemporaryDirectory(prefix="gongwen-soak-") as tmp:
            engine = open_engine(Settings(home=Path(tmp), storage=Path(tmp) / "storage", database_url=url))
            result = soak(engine, clients=args.clients, seconds=args.seconds, seed=args.seed)
            print(f"== soak on {'SQLite' if args.sqlite else 'PostgreSQL'} ==")
            print("\n".join(result.lines()))
            engine.db.dispose()
    finally:
        if url:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0 if not result.violations and result.tally.total("unexpected") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
