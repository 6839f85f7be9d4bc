"""What the audit chain costs per write: transactions shaped like an engine step (lock a
circulation row, update it, add one audit record, commit), timed with the chain's commit hook
and with the hook removed, on SQLite and PostgreSQL, 1 and 8 writers. Prints the mean time per
transaction, the difference per audit record, and checks the chain afterwards.

    python benchmarks/audit_chain_bench.py                          # both backends, 400 transactions
    python benchmarks/audit_chain_bench.py --backend sqlite --transactions 2000

The chained and unchained runs alternate (3 rounds each) so that load on a shared machine
falls on both; the figures are for the machine it runs on (print ``uptime`` beside them).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlmodel import Session

from gongwen_engine.models import audit, db
from gongwen_engine.models.tables import Circulation

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def setup(url: str, circulations: int) -> list[int]:
    db.migrate(url)
    with db.transaction(db.get_engine(url)) as session:
        rows = [Circulation(org="acwf", flow="bench", flow_version="0") for _ in range(circulations)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def step_like(url: str, circulation_id: int, n: int) -> None:
    engine = db.get_engine(url)
    for i in range(n):
        with db.transaction(engine) as session:
            circ = db.lock_circulation(session, circulation_id)
            circ.updated_at = datetime.now(UTC)
            session.add(circ)
            audit.record(session, "bench", "step:bench", org=circ.org, circulation_id=circ.id, detail={"i": i, "comment": "同意"})


@contextmanager
def chain_disabled() -> Iterator[None]:
    """Without the chain: the commit hook removed and db.transaction's call made a no-op."""
    real = audit.chain_new_records
    event.remove(Session, "before_commit", real)
    audit.chain_new_records = lambda session: None  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.chain_new_records = real
        event.listen(Session, "before_commit", real)


def run(url: str, ids: list[int], writers: int, transactions: int) -> float:
    """Seconds per transaction (wall time over all writers)."""
    per_writer = transactions // writers
    threads = [threading.Thread(target=step_like, args=(url, ids[w % len(ids)], per_writer)) for w in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - started) / (per_writer * writers)


def measure(name: str, url: str, transactions: int, rounds: int = 3) -> None:
    ids = setup(url, 8)
    for writers in (1, 8):
        chained, unchained = [], []
        for _ in range(rounds):
            chained.append(run(url, ids, writers, transactions))
            with chain_disabled():
                unchained.append(run(url, ids, writers, transactions))
        c, u = statistics.median(chained) * 1e3, statistics.median(unchained) * 1e3
        print(
            f"{name:10} writers {writers}: chained {c:.2f} ms/tx, unchained {u:.2f} ms/tx, "
            f"chain +{(c - u) * 1e3:.0f} µs per audit record ({(c / u - 1) * 100:+.0f} %)"
        )
    with Session(db.get_engine(url)) as session:
        report = audit.verify_chain(session)
    outside = sum(b.kind == "unchained" for b in report.breaks)  # written by the unchained rounds, on purpose
    print(
        f"{name:10} chain after the runs: {report.head_seq} chained records, breaks {len(report.breaks) - outside} "
        f"(+{outside} records written with the hook removed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--transactions", type=int, default=400)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            measure("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.transactions)
    if args.backend in ("postgres", "both"):
        name = f"gongwen_audit_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        try:
            measure("postgres", url, args.transactions)
        finally:
            db.get_engine(url).dispose()
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
