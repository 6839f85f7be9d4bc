"""Archive search over 1,000,000 filed records on SQLite (FTS5) and PostgreSQL (GIN): prints
p50/p95/p99 per query kind (1, 2 and 4 characters; common and rare words).

    python benchmarks/archive_search_bench.py                       # both, 1,000,000 records
    python benchmarks/archive_search_bench.py --records 100000 --backend sqlite
    python benchmarks/archive_search_bench.py --keep /var/tmp/archive-bench   # build once, reuse later

With ``--keep DIR`` the SQLite file (DIR/bench-N.db) and the PostgreSQL database
(gongwen_archive_bench_N) are kept and reused by later runs with the same N; ``migrate()`` still
runs on them, so a new search migration is applied to the kept records.

Records are 80-character passages cut from the seeds (simplified and traditional), each an
archive item with a 20-character title, in two fonds (90 % Z109, the one searched), dated over
25 years, from five issuers (one of them on 2 % of the records). Queries: words of 1, 2 and 4
characters, common and rare, alone and with filters (year, retention, issuer, a month, a day,
an open date range), and filters without words. Every
query goes through the application's own ``search()``: the fonds filter, the bigram phrase,
the ranking of the newest matches and the highlighted excerpts. It takes minutes (building the
PostgreSQL GIN index most of all); it is not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import text
from sqlmodel import Session

from gongwen_engine.models.archive_search import FTS_TABLE, SearchQuery, bigrams, facets, normalise, search
from gongwen_engine.models.db import get_engine, migrate

SEEDS = Path(__file__).resolve().parents[1] / "tests" / "seeds"  # copies of shared/seeds
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
QUERIES = {  # kind -> words and filters (the fonds filter is always on: Z109, 90 % of the records)
    "1 char, common": {"words": "妇"},
    "1 char, rare": {"words": "鹤"},
    "2 chars, common": {"words": "妇联"},
    "2 chars, rare": {"words": "鹤山"},
    "4 chars, common": {"words": "妇女儿童"},
    "4 chars, rare": {"words": "监测评估"},
    "2 chars, common + year": {"words": "妇联", "year": 2012},
    "2 chars, common + issuer (2 %)": {"words": "妇联", "issuer": "国务院妇儿工委"},
    "2 chars, common + one month": {"words": "妇联", "date_from": date(2012, 3, 1), "date_to": date(2012, 3, 31)},
    "2 chars, common + one day": {"words": "妇联", "date_from": date(2012, 3, 15), "date_to": date(2012, 3, 15)},
    "2 chars, common + from a date": {"words": "妇联", "date_from": date(2024, 6, 1)},
    "4 chars, rare + year + retention": {"words": "监测评估", "year": 2012, "retention": "D30"},
    "no words, issuer + one month": {"issuer": "国务院妇儿工委", "date_from": date(2012, 3, 1), "date_to": date(2012, 3, 31)},
}
DATA_VERSION = 2  # kept databases are named by it: a change of the generated records needs a new build
RUNS = 30
CHUNK = 10_000
console = Console()


def corpus() -> str:
    paths = sorted(SEEDS.glob("*.txt")) or sorted(Path("/work/shared/seeds").glob("*.txt"))
    return "".join(p.read_text(encoding="utf-8").replace("\n", "") for p in paths)


def records(n: int):
    source, rng = corpus(), random.Random(9)
    for i in range(1, n + 1):
        start = rng.randrange(0, len(source) - 80)
        body = source[start : start + 80]
        fonds = "Z109" if i % 10 else "S037"
        year = 2000 + i % 25
        yield i, fonds, year, body[:20], body


def progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console)


ISSUERS = ("山东省妇女联合会", "全国妇联", "山东省人民政府办公厅", "济南市妇女联合会")


def issuer_of(i: int) -> str:
    """责任者: four issuers in turn, and 国务院妇儿工委 for 2 % of the records."""
    return "国务院妇儿工委" if i % 47 == 7 else ISSUERS[i % 4]


def dated_of(i: int, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=(i * 7) % 365)


def item_row(i: int, fonds: str, year: int, title: str) -> dict:
    return {
        "id": i,
        "org": fonds.lower(),
        "fonds": fonds,
        "year": year,
        "retention": "D30",
        "dept_code": "BGS",
        "item_no": i,
        "archive_code": f"{fonds}-WS·{year}-D30-BGS-{i:07d}",
        "title": title,
        "responsible": issuer_of(i),
        "dated": dated_of(i, year),
    }


def search_row(i: int, fonds: str, year: int, title: str, body: str) -> dict:
    issuer, dated = issuer_of(i), dated_of(i, year)
    return {
        "item_id": i,
        "fonds": fonds,
        "year": year,
        "retention": "D30",
        "issuer": issuer,
        "dated": dated,
        "facets": facets(fonds, year, "D30", dated, issuer, i),
        "title_terms": bigrams(normalise(title)),
        "body_terms": bigrams(normalise(body)),
        "text": f"{title}\n{body}",
    }


ITEM_SQL = (
    "INSERT INTO archiveitem (id, org, circulation_id, fonds, year, retention, dept_code, item_no, archive_code, title, responsible, dated, "
    "files, filed_at, doc_type, pages, history) "
    "VALUES (:id, :org, NULL, :fonds, :year, :retention, :dept_code, :item_no, :archive_code, :title, :responsible, :dated, "
    "'[]', CURRENT_TIMESTAMP, '通知', 1, '[]')"
)
SEARCH_SQL = (
    "INSERT INTO archivesearch (item_id, fonds, year, retention, issuer, dated, facets, title_terms, body_terms, text) "
    "VALUES (:item_id, :fonds, :year, :retention, :issuer, :dated, :facets, :title_terms, :body_terms, :text)"
)


def loaded(url: str, n: int) -> bool:
    """A kept database already holds the n records and its index (the load ran to its end)."""
    engine = get_engine(url)
    with engine.connect() as conn:
        if not conn.dialect.has_table(conn, "archivesearch"):
            return False
        return conn.exec_driver_sql("SELECT count(*) FROM retrievallog WHERE action = 'bench-loaded'").scalar() == 1


def load(url: str, n: int, label: str) -> None:
    migrate(url)
    if loaded(url, n):
        console.print(f"{label}: reusing the kept {n:,} records")
        return
    engine = get_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_archivesearch_tsv")
    with progress() as bar:
        task = bar.add_task(f"{label}: filing records", total=n)
        batch_items, batch_search = [], []
        for i, fonds, year, title, body in records(n):
            batch_items.append(item_row(i, fonds, year, title))
            batch_search.append(search_row(i, fonds, year, title, body))
            if len(batch_items) == CHUNK or i == n:
                with engine.begin() as conn:
                    conn.execute(text(ITEM_SQL), batch_items)
                    conn.execute(text(SEARCH_SQL), batch_search)
                bar.advance(task, len(batch_items))
                batch_items, batch_search = [], []
        index = bar.add_task(f"{label}: building the index", total=None)
        started = time.perf_counter()
        with engine.begin() as conn:
            if postgres:
                conn.exec_driver_sql("SET maintenance_work_mem = '1GB'")
                conn.exec_driver_sql("CREATE INDEX ix_archivesearch_tsv ON archivesearch USING gin (tsv)")
                conn.exec_driver_sql("ANALYZE archivesearch")
            else:
                conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES('rebuild')")
                conn.exec_driver_sql(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES('optimize')")
            conn.exec_driver_sql("INSERT INTO retrievallog (at, user_id, action, detail, results) VALUES (CURRENT_TIMESTAMP, 'bench', 'bench-loaded', '{}', 0)")
        if not postgres:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # searches then read the database file, not a 500 MB WAL
        bar.update(index, total=1, completed=1)
        console.print(f"{label}: index built in {time.perf_counter() - started:.0f} s")


def measure(url: str, label: str) -> list[tuple[str, str, int, float, float, float]]:
    engine = get_engine(url)
    rows = []
    with Session(engine) as session:
        for kind, asked in QUERIES.items():
            query = SearchQuery(fonds="Z109", limit=20, **asked)
            search(session, query)  # warm
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                hits = search(session, query)
                times.append((time.perf_counter() - started) * 1000)
            q = statistics.quantiles(times, n=100)
            rows.append((kind, asked.get("words", ""), len(hits), q[49], q[94], q[98]))
    table = Table(f"{label}", "words", "hits shown", "p50 ms", "p95 ms", "p99 ms", "≤ 50 ms")
    for kind, word, hits, p50, p95, p99 in rows:
        table.add_row(kind, word, str(hits), f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}", "met" if p95 <= 50 else "NOT met")
    console.print(table)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--keep", type=Path, help="keep the SQLite file and the PostgreSQL database (and reuse them when present)")
    args = parser.parse_args()
    console.print(f"load average at start: {os.getloadavg()[0]:.1f}")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
            folder = args.keep or Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"bench-v{DATA_VERSION}-{args.records}.db"
            url = f"sqlite:///{path}"
            load(url, args.records, "SQLite")
            console.print(f"SQLite database: {path.stat().st_size / 1e6:.0f} MB")
            measure(url, f"SQLite FTS5, {args.records:,} records")
    if args.backend in ("postgres", "both"):
        name = f"gongwen_archive_bench_v{DATA_VERSION}_{args.records}" if args.keep else f"gongwen_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        try:
            load(url, args.records, "PostgreSQL")
            measure(url, f"PostgreSQL GIN, {args.records:,} records")
        finally:
            get_engine(url).dispose()
            if not args.keep:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    console.print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
