"""Twice the national notice (issue 26, point 1): a cascade's root launch is made unique by a key in
the database (``LaunchOnce``) and by the advisory lock its process holds on PostgreSQL; one cascade
process per folder (``cascade.lock``); config snapshots written atomically; ``cascade.json``
remembers where the config came from.

The races run threads released together by a barrier, each with its own connection: a few in the
default run, 20 in the slow campaign (through the CLI, start against --resume)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import PG_ADMIN
from driving import drive
from sqlmodel import Session, func, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import AlreadyLaunched
from gongwen_engine.flows.services.cascade import (
    NATIONAL_POLICY,
    CascadeRunning,
    RunRecord,
    cascade_settings,
    cascade_started,
    config_source,
    folder_lock,
    notice_key,
    subtree_config,
)
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.tables import Circulation, IssuedNumber, LaunchOnce

FAST_REPS = 3


@pytest.fixture
def pg_url_factory() -> Iterator[Callable[[], str]]:
    """New empty PostgreSQL databases, as many as asked, dropped afterwards."""
    names: list[str] = []
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")

    def make() -> str:
        name = f"gongwen_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        return f"{base}/{name}"

    yield make
    from gongwen_engine.models.db import get_engine

    for name in names:
        get_engine(f"{base}/{name}").dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def small_tree(folder: Path) -> Path:
    """全国妇联 → 宁夏回族自治区妇联 → two of its cities: 4 organisations."""
    return subtree_config(folder, ["p64"], max_children=2)


def race(n: int, action) -> list[object]:
    """Run ``action(i)`` in ``n`` threads released together; each result or the exception raised."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # the refusals are what the test counts
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


def roots(engine) -> list[Circulation]:
    with Session(engine.db) as s:
        return list(s.exec(select(Circulation).where(Circulation.parent_id.is_(None))).all())  # type: ignore[union-attr]


@pytest.mark.parametrize("rep", range(FAST_REPS))
def test_a_keyed_launch_happens_once_however_threads_race(pg_url: str, tmp_path: Path, rep: int) -> None:
    """No lock at all: the key alone makes four simultaneous launches one."""
    config = small_tree(tmp_path / "config")
    engines = [open_engine(Settings(home=tmp_path / f"h{i}", storage=tmp_path / "s", database_url=pg_url, config_dir=config)) for i in range(4)]
    org, content = load_notice()
    results = race(4, lambda i: engines[i].launch(org, "issuing", content, policy=NATIONAL_POLICY, actor=f"{org}_secretary", once=notice_key(org)))
    launched = [r for r in results if isinstance(r, int)]
    assert len(launched) == 1, results
    assert all(isinstance(r, AlreadyLaunched) for r in results if not isinstance(r, int)), results
    assert [c.id for c in roots(engines[0])] == launched
    with Session(engines[0].db) as s:
        assert s.exec(select(func.count()).select_from(LaunchOnce)).one() == 1


def test_a_keyed_launch_refused_on_sqlite_stores_nothing(make_engine, tmp_path: Path) -> None:
    engine = make_engine(config_dir=small_tree(tmp_path / "config"))
    org, content = load_notice()
    engine.launch(org, "issuing", content, policy=NATIONAL_POLICY, actor=f"{org}_secretary", once="k")
    with pytest.raises(AlreadyLaunched, match="已经发起过"):
        engine.launch(org, "issuing", content, policy=NATIONAL_POLICY, actor=f"{org}_secretary", once="k")
    assert len(roots(engine)) == 1


@pytest.mark.parametrize("rep", range(FAST_REPS))
def test_concurrent_start_and_resume_launch_one_notice_on_postgres(pg_url: str, tmp_path: Path, rep: int) -> None:
    """Two starts and two resumes of one cascade, at once, each in its own folder on one database:
    one launch; the others are refused (级联已在运行, or 已发起过 for a start that came second)."""
    config = small_tree(tmp_path / "config")
    engines = [open_engine(Settings(home=tmp_path / f"h{i}", storage=tmp_path / "s", database_url=pg_url, config_dir=config)) for i in range(4)]
    holding = threading.Event()

    def start(i: int) -> bool:
        with cascade_started(engines[i], tmp_path / f"out{i}", resume=i % 2 == 1) as launched:
            if launched:
                holding.wait(2)  # the winner keeps the lock a moment, as a running cascade does
            return launched

    results = race(4, start)
    holding.set()
    assert sum(r is True for r in results) == 1, results
    others = [r for r in results if r is not True]
    assert all(r is False or isinstance(r, Refusal) for r in others), results
    assert any(isinstance(r, CascadeRunning) and "级联已在运行" in str(r) for r in others), results
    assert len(roots(engines[0])) == 1


@pytest.mark.slow  # the small tree driven to the end after each race (LibreOffice seals two documents)
def test_the_raced_cascade_issues_one_number_per_prefix(pg_url: str, tmp_path: Path) -> None:
    config = small_tree(tmp_path / "config")
    engines = [open_engine(Settings(home=tmp_path / f"h{i}", storage=tmp_path / "s", database_url=pg_url, config_dir=config)) for i in range(2)]

    def start(i: int) -> bool:
        with cascade_started(engines[i], tmp_path / "out", resume=i == 1) as launched:
            drive(engines[i])
            return launched

    results = race(2, start)
    assert sum(r is True for r in results) == 1, results
    with Session(engines[0].db) as s:
        prefixes = Counter(n.prefix for n in s.exec(select(IssuedNumber)))
        assert prefixes and set(prefixes.values()) == {1}, prefixes
        circs = s.exec(select(Circulation)).all()
        assert Counter(c.org for c in circs).most_common(1)[0][1] == 1 and {c.status for c in circs} == {"done"}


def test_one_cascade_process_per_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with folder_lock(out), pytest.raises(CascadeRunning, match=f"级联已在运行.*pid {os.getpid()}"), folder_lock(out):
        pass
    with folder_lock(out):  # released: the next one goes
        pass


def test_the_cli_says_a_cascade_is_running_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("GONGWEN_DATABASE_URL", None)
    with folder_lock(out):
        proc = subprocess.run(
            [sys.executable, "-m", "gongwen_engine.flows", "cascade", "--out", str(out), "--province", "p64", "--resume"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    assert proc.returncode == 2 and "级联已在运行" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not RunRecord.path(out).exists() and not (out / ".gongwen" / "config").exists()


def test_cascade_json_remembers_gongwen_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = small_tree(tmp_path / "config")
    monkeypatch.setenv("GONGWEN_CONFIG_DIR", str(config))
    record = RunRecord(config_source(None), ("p64",))
    record.write(tmp_path / "out")
    monkeypatch.delenv("GONGWEN_CONFIG_DIR")  # another shell
    data = json.loads(RunRecord.path(tmp_path / "out").read_text(encoding="utf-8"))
    assert data["config"] == str(config.resolve())
    assert RunRecord.read(tmp_path / "out") == record
    # and --resume there runs on that tree, not the packaged national one (which left the cascade incomplete)
    settings = cascade_settings(tmp_path / "out", RunRecord.read(tmp_path / "out"))
    assert settings.config_dir is not None and set(load_config(settings.config_dir).organisations) == set(load_config(config).organisations)


def test_a_config_dir_that_is_the_folders_own_snapshot_is_no_internal_error(tmp_path: Path) -> None:
    """GONGWEN_CONFIG_DIR = DIR/.gongwen/config: the snapshot is read before it is rewritten (was SameFileError)."""
    snapshot = small_tree(tmp_path / "out" / ".gongwen" / "config")
    before = {p.name: p.read_bytes() for p in snapshot.iterdir()}
    subtree_config(snapshot, ["p64"], source=snapshot)
    assert {p.name: p.read_bytes() for p in snapshot.iterdir()} == before
    assert not list(snapshot.glob(".*.tmp"))


def test_the_config_snapshot_is_never_seen_half_written(tmp_path: Path) -> None:
    """A reader while another process rewrites the snapshot sees a whole organisations.yaml every time."""
    source = small_tree(tmp_path / "source")
    target = small_tree(tmp_path / "target")
    stop = threading.Event()
    sizes: list[int] = []

    def read() -> None:
        while not stop.is_set():
            sizes.append(len((target / "organisations.yaml").read_bytes()))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(20):
        subtree_config(target, ["p64"], source=source, max_children=2)
    stop.set()
    reader.join()
    assert sizes and min(sizes) == max(sizes) > 0


@pytest.mark.slow  # 20 × two CLI processes (start and --resume) on one folder and one PostgreSQL database
def test_cli_start_and_resume_together_twenty_times_on_postgres(tmp_path: Path, pg_url_factory) -> None:
    reps = int(os.environ.get("GONGWEN_RACE_REPS", "20"))
    config = small_tree(tmp_path / "config")
    outcomes: Counter[str] = Counter()
    for rep in range(reps):
        url = pg_url_factory()
        out = tmp_path / f"out{rep}"
        env = {**os.environ, "COLUMNS": "200", "GONGWEN_DATABASE_URL": url, "GONGWEN_CONFIG_DIR": str(config), "PREFECT_HOME": str(tmp_path / "prefect")}
        commands = [["cascade", "--out", str(out)], ["cascade", "--out", str(out), "--resume"]]
        procs = [
            subprocess.Popen([sys.executable, "-m", "gongwen_engine.flows", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for c in commands
        ]
        results = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in procs]
        for code, err in results:
            assert "Traceback" not in err, err
            assert code == 0 or (code == 2 and ("级联已在运行" in err or "--resume" in err)), err
            outcomes["ran" if code == 0 else "refused"] += 1
        assert any(code == 0 for code, _ in results), results
        engine = open_engine(Settings(home=out / ".gongwen", storage=out, database_url=url, config_dir=config))
        with Session(engine.db) as s:
            assert len(roots(engine)) == 1
            prefixes = Counter(n.prefix for n in s.exec(select(IssuedNumber)))
            assert set(prefixes.values()) == {1}, prefixes
        assert json.loads(RunRecord.path(out).read_text(encoding="utf-8"))["config"] == str(config.resolve())
    print(f"{reps} races: {dict(outcomes)}")
