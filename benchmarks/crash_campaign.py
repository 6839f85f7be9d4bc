"""Crash campaign (issue 12): kill the cascade with SIGKILL at random moments, resume it each
time with the documented command, then check every invariant.

    python benchmarks/crash_campaign.py                                 # 上海 (p31, 18 organisations), SQLite, 20 kills
    python benchmarks/crash_campaign.py --database postgres             # the same on a fresh PostgreSQL database
    python benchmarks/crash_campaign.py --province shandong --kills 40  # a bigger tree; --national for the whole country
    python benchmarks/crash_campaign.py --distributed                   # Prefect server + 2 `prefect worker`s on PostgreSQL:
                                                                        # the cascade driver, workers and the server are killed

What it does (local mode): ``gongwen cascade --out DIR --province p31`` runs as a subprocess in
its own session; at each of ``--kills`` moments the whole session (the CLI, its embedded Prefect
server, LibreOffice) gets SIGKILL; then ``gongwen cascade --out DIR --province p31 --resume``
(the README's resume command) runs, and is killed again, and so on; after the last kill the
resume runs to the end. The moments are drawn from ``--seed``: a number of finished steps
(0 to 90 % of all the cascade's steps) plus a random delay of up to ``--jitter`` seconds, and
each run lives at least a random 0–``--startup-window`` seconds, so kills land in imports,
migrations, the Prefect server's start, inside steps, during LibreOffice conversions and
between commits. Finally ``gongwen check-invariants --out DIR --json`` checks the result
(flows/invariants.py). Prints kills, resumes, documents checked and violations; exit 1 on any
violation.

Distributed mode: a Prefect server on its own PostgreSQL database, the application database
on another, ``gongwen deploy``, two ``prefect worker start`` processes and the driver
``gongwen cascade --deployment gongwen-batch-dispatch/cascade``. Each kill picks a victim: the
driver (resumed with ``--resume``), a worker with the flow runs it started (a new worker is
started), or the Prefect server (killed, started again on the same database and port after a
pause). The first kill comes after a random number of finished steps (within the first 30 %); each next one once at
least one more step finished since the previous kill, plus a random 0–``--jitter`` seconds,
and at least a random 0–``--gap`` seconds after it: each kill hits a system that recovered and
is working.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PG_ADMIN = os.environ.get("GONGWEN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
CLI = [sys.executable, "-m", "gongwen_engine.flows"]
# Steps a circulation of the cascade runs (flows/issuing.yaml, flows/forwarding.yaml): the root
# issues (签发 … 归档), an organisation with subordinates forwards (签收 … 归档), a leaf files.
STEPS_ROOT, STEPS_FORWARDING, STEPS_LEAF = 6, 10, 4


# ---- databases -----------------------------------------------------------------------------------


def create_pg_database(prefix: str) -> tuple[str, str]:
    """A fresh database on the PostgreSQL server; returns its name and its psycopg URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlalchemy_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def finished_steps(out: Path, pg_url: str | None) -> int:
    """Steps done so far (work items done), read without disturbing the writers; 0 before the database exists."""
    query = "SELECT count(*) FROM workitem WHERE status = 'done'"
    try:
        if pg_url:
            import psycopg

            with psycopg.connect(pg_url, connect_timeout=5) as conn:
                return conn.execute(query).fetchone()[0]
        path = out / ".gongwen" / "gongwen.db"
        if not path.is_file():
            return 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(query).fetchone()[0]
    except Exception:  # no table yet, a lock, a restarting server: no progress seen
        return 0


def tree(work: Path, provinces: list[str], children: int | None) -> tuple[Path, list[str]]:
    """The config folder the campaign's cascade runs on, and the ``gongwen cascade`` arguments naming it.

    ``children``: keep only the first N subordinates of each organisation below the provinces
    (a small tree); otherwise the packaged national tree, cut to ``provinces`` by ``--province``."""
    from gongwen_engine.flows.services.cascade import NATIONAL_CONFIG_DIR, subtree_config

    if children is not None:
        config = subtree_config(work / "config", provinces, max_children=children)
        return config, ["--config", str(config)]
    if provinces:
        return subtree_config(work / "config", provinces), [a for p in provinces for a in ("--province", p)]
    return NATIONAL_CONFIG_DIR, []


def cascade_steps(config_dir: Path) -> tuple[int, int]:
    """(organisations, steps) of the cascade over the tree of ``config_dir``."""
    from gongwen_engine.config.loader import load_config

    config = load_config(config_dir)
    root = next(o.code for o in config.organisations.values() if o.parent is None)
    orgs, steps, todo = 0, 0, [root]
    while todo:
        code = todo.pop()
        children = [c.code for c in config.children(code)]
        orgs += 1
        steps += STEPS_ROOT if code == root else STEPS_FORWARDING if children else STEPS_LEAF
        todo.extend(children)
    return orgs, steps


# ---- processes -------------------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A process in its own session, so SIGKILL reaches everything it started."""
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(args)}\n")
    return subprocess.Popen(args, env=env, stdout=log.open("a"), stderr=subprocess.STDOUT, start_new_session=True)


def processes() -> dict[int, tuple[int, int]]:
    """Every live process: pid -> (parent pid, session id)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 4 and fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), int(fields[3]))
    return found


def session_members(sid: int) -> list[int]:
    """Processes still in session ``sid``, and every descendant of them (a Prefect worker starts
    each flow run in a session of its own)."""
    table = processes()
    members = {pid for pid, (_, session) in table.items() if session == sid}
    if sid in table:
        members.add(sid)
    grew = True
    while grew:
        more = {pid for pid, (parent, _) in table.items() if parent in members} - members
        members |= more
        grew = bool(more)
    return sorted(members)


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL the process's whole session and its descendants (a machine that dies takes them all)."""
    for _ in range(3):
        doomed = session_members(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            continue
        if not session_members(proc.pid):
            return


# ---- the campaign ---------------------------------------------------------------------------------


@dataclass
class Kill:
    victim: str
    at_s: float  # seconds into that process's life
    steps: int  # steps finished when it was killed


@dataclass
class CampaignResult:
    kills: list[Kill] = field(default_factory=list)
    resumes: int = 0
    restarts: Counter = field(default_factory=Counter)
    final_rc: int | None = None
    report: dict = field(default_factory=dict)
    seconds: float = 0.0
    steps_total: int = 0
    organisations: int = 0
    log: Path | None = None

    @property
    def violations(self) -> list[dict]:
        found = list(self.report.get("violations", []))
        if self.final_rc != 0:
            found.append({"rule": "resume_failed", "where": "final resume", "detail": f"exit code {self.final_rc}; see {self.log}"})
        return found

    def summary(self) -> str:
        checked = self.report.get("checked", {})
        victims = Counter(k.victim for k in self.kills)
        lines = [
            f"kills {len(self.kills)} ({', '.join(f'{v} {n}' for v, n in sorted(victims.items()))}) · resumes {self.resumes}"
            + (f" · restarts {dict((k, v) for k, v in self.restarts.items() if v)}" if any(self.restarts.values()) else ""),
            "killed after steps: " + " ".join(str(k.steps) for k in self.kills) + f" (of {self.steps_total}, {self.organisations} organisations)",
            f"documents checked {checked.get('documents', 0)} (expected {checked.get('expected_documents', 0)}) · "
            f"manifest entries {checked.get('manifest_entries', 0)} · "
            f"circulations {checked.get('circulations', 0)} · numbers {checked.get('numbers', 0)} · deliveries {checked.get('deliveries', 0)} · "
            f"registrations {checked.get('registrations', 0)} · "
            f"archive items {checked.get('archive_items', 0)} ({checked.get('archive_files', 0)} files verified) · "
            f"audited steps {checked.get('audit_steps', 0)}",
            f"violations {len(self.violations)}",
            *[f"  ✗ {v['rule']}: {v['where']} — {v.get('detail', '')}" for v in self.violations[:50]],
            f"{self.seconds:.0f} s · load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} · log {self.log}",
        ]
        return "\n".join(lines)


def kill_moments(rng: random.Random, kills: int, steps_total: int, jitter: float, window: float) -> list[tuple[int, float, float]]:
    """(finished steps to wait for, delay after them, minimum age of the process) for each kill."""
    targets = sorted(rng.randint(0, max(0, int(steps_total * 0.9) - 1)) for _ in range(kills))
    return [(t, rng.uniform(0, jitter), rng.uniform(0, window)) for t in targets]


def wait_and_kill(proc: subprocess.Popen, out: Path, pg_url: str | None, target: int, delay: float, min_age: float, born: float) -> Kill | None:
    """Wait for ``target`` finished steps (or the process's end), then ``delay`` more, then SIGKILL."""
    while proc.poll() is None and finished_steps(out, pg_url) < target:
        time.sleep(0.2)
    deadline = max(time.monotonic() + delay, born + min_age)
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        return None  # it finished (or failed) before the moment came
    steps = finished_steps(out, pg_url)
    age = time.monotonic() - born
    kill_session(proc)
    return Kill("cascade", age, steps)


def local_campaign(
    out: Path,
    provinces: list[str],
    kills: int,
    seed: int,
    pg_url: str | None,
    work: Path,
    children: int | None = None,
    jitter: float = 2.0,
    window: float = 15.0,
    timeout: float = 3600,
) -> CampaignResult:
    """Kill ``gongwen cascade`` ``kills`` times, resume it each time, check the invariants."""
    started = time.monotonic()
    result = CampaignResult(log=work / "campaign.log")
    config, tree_args = tree(work, provinces, children)
    result.organisations, result.steps_total = cascade_steps(config)
    env = campaign_env(work, pg_url)
    command = [*CLI, "cascade", "--out", str(out), *tree_args]
    rng = random.Random(seed)
    first = True
    for target, delay, min_age in kill_moments(rng, kills, result.steps_total, jitter, window):
        proc = start(command + ([] if first else ["--resume"]), env, result.log)
        result.resumes += 0 if first else 1
        first = False
        kill = wait_and_kill(proc, out, pg_url, target, delay, min_age, time.monotonic())
        if kill is None:
            break  # the cascade ended before this moment: fewer kills than asked (reported)
        result.kills.append(kill)
    proc = start(command + ([] if first else ["--resume"]), env, result.log)
    result.resumes += 0 if first else 1
    try:
        result.final_rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc)
        result.final_rc = -1
    result.report = check(out, env, result.log)
    result.seconds = time.monotonic() - started
    return result


def campaign_env(work: Path, pg_url: str | None, **extra: str) -> dict[str, str]:
    # A temporary folder of the campaign's own: the leftovers its kills leave (PDF staging folders)
    # are its to sweep and report; another job's killed process on this machine is not its finding.
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home"), "TMPDIR": str(work / "tmp"), "COLUMNS": "200", **extra}
    env.pop("GONGWEN_DATABASE_URL", None)
    env.pop("PREFECT_API_URL", None)
    if pg_url:
        env["GONGWEN_DATABASE_URL"] = sqlalchemy_url(pg_url)
    env.update(extra)
    return env


def check(out: Path, env: dict[str, str], log: Path) -> dict:
    """``gongwen check-invariants --out DIR --json`` (flows/invariants.py)."""
    proc = subprocess.run([*CLI, "check-invariants", "--out", str(out), "--json"], env=env, capture_output=True, text=True, timeout=1800)
    with log.open("a") as f:
        f.write(f"\n$ gongwen check-invariants --out {out} --json (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError:
        failure = {"rule": "checker_failed", "where": "check-invariants", "detail": (proc.stdout + proc.stderr)[-500:]}
        return {"ok": False, "checked": {}, "violations": [failure]}


# ---- distributed mode -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Topology:
    """The Prefect server and the workers of the distributed mode, each restartable."""

    work: Path
    env: dict[str, str]
    server_env: dict[str, str]
    port: int
    pool: str
    server: subprocess.Popen | None = None
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    started_workers: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start_server(self, timeout: float = 300) -> None:
        from gongwen_engine.flows.runtime.distributed import wait_for_server

        self.server = start(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)], self.server_env, self.work / "server.log"
        )
        wait_for_server(self.api, self.server, self.work / "server.log", timeout)

    def start_worker(self) -> str:
        self.started_workers += 1
        name = f"worker-{self.started_workers}"
        self.workers[name] = start(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", self.pool, "--type", "process", "--name", name, "--limit", "1"],
            self.env,
            self.work / f"{name}.log",
        )
        return name

    def keep_workers(self, wanted: int = 2) -> int:
        """Start workers until ``wanted`` are alive (one may exit while the server is away); returns how many were started."""
        for name in [n for n, p in self.workers.items() if p.poll() is not None]:
            del self.workers[name]
        started = 0
        while len(self.workers) < wanted:
            self.start_worker()
            started += 1
        return started

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.server]:
            if proc is not None and proc.poll() is None:
                kill_session(proc)


def distributed_campaign(
    out: Path,
    provinces: list[str],
    kills: int,
    seed: int,
    work: Path,
    children: int | None = None,
    jitter: float = 3.0,
    window: float = 12.0,
    server_pause: float = 5.0,
    timeout: float = 3600,
) -> CampaignResult:
    """Kill the driver, the workers and the Prefect server at random moments of a cascade run on workers."""
    started = time.monotonic()
    result = CampaignResult(log=work / "campaign.log")
    config, _ = tree(work, provinces, children)
    result.organisations, result.steps_total = cascade_steps(config)
    prefect_db, prefect_url = create_pg_database("prefect_crash")
    app_db, app_url = create_pg_database("gongwen_crash")
    port = free_port()
    from gongwen_engine.flows.runtime.distributed import run_server_env

    server_env = run_server_env(work / "prefect-server", prefect_url)
    env = campaign_env(
        work,
        app_url,
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        GONGWEN_STORAGE=str(out),
        GONGWEN_CONFIG_DIR=str(config),
        GONGWEN_HOME=str(work / "home"),
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    topo = Topology(work, env, server_env, port, "gongwen-crash")
    try:
        topo.start_server()
        deployed = subprocess.run([*CLI, "deploy", "--pool", topo.pool, "--batch", "4"], env=env, capture_output=True, text=True, timeout=300)
        if deployed.returncode != 0:
            raise RuntimeError(deployed.stdout + deployed.stderr)
        topo.start_worker()
        topo.start_worker()
        command = [*CLI, "cascade", "--out", str(out), "--config", str(config), "--deployment", "gongwen-batch-dispatch/cascade", "--runs", "2"]
        rng = random.Random(seed)
        driver = start(command, env, result.log)
        born = {"driver": time.monotonic(), "last": time.monotonic()}
        for target, delay, min_age in kill_moments(rng, kills, result.steps_total, jitter, window):
            victim = rng.choice(["driver", "worker", "worker", "server"])
            result.restarts["worker exited"] += topo.keep_workers()
            # The next kill once the system recovered and moved on (steps come in bursts of a batch);
            # the first one early enough that the other kills find work left.
            target = result.kills[-1].steps + 1 if result.kills else min(target, result.steps_total * 3 // 10)
            while driver.poll() is None and finished_steps(out, app_url) < target:
                time.sleep(0.2)
            deadline = max(time.monotonic() + delay, born["last"] + min_age)  # kills spread in time, not only over steps
            while driver.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if driver.poll() is not None:
                if driver.returncode == 0:
                    break  # finished before this moment
                result.restarts["driver exited"] += 1  # e.g. the server was down when it started: resume
                driver = start([*command, "--resume"], env, result.log)
                result.resumes += 1
                born["driver"] = time.monotonic()
                continue
            steps = finished_steps(out, app_url)
            born["last"] = time.monotonic()
            if victim == "driver":
                kill_session(driver)
                result.kills.append(Kill("driver", time.monotonic() - born["driver"], steps))
                driver = start([*command, "--resume"], env, result.log)
                result.resumes += 1
                born["driver"] = time.monotonic()
            elif victim == "worker":
                name = rng.choice(sorted(topo.workers))
                kill_session(topo.workers.pop(name))
                result.kills.append(Kill("worker", 0.0, steps))
                topo.start_worker()
                result.restarts["worker"] += 1
            else:
                kill_session(topo.server)
                result.kills.append(Kill("server", 0.0, steps))
                time.sleep(server_pause)
                topo.start_server()
                result.restarts["server"] += 1
        while True:  # the last driver runs to the end (resumed if the server's absence made it give up)
            deadline = time.monotonic() + timeout
            while driver.poll() is None and time.monotonic() < deadline:
                result.restarts["worker exited"] += topo.keep_workers()
                time.sleep(1)
            if driver.poll() is None:
                kill_session(driver)
                rc = -1
            else:
                rc = driver.returncode
            if rc == 0 or rc == -1 or result.restarts["driver exited"] > kills + 3:
                break
            result.restarts["driver exited"] += 1
            driver = start([*command, "--resume"], env, result.log)
            result.resumes += 1
        result.final_rc = rc
        # A worker killed after the driver's last start (late in the run) leaves its PDF staging
        # folder until the next start removes it (services/leftovers.py): start one, as an operator
        # would after a failure, then check — check-invariants itself only reports.
        subprocess.run([*CLI, "status"], env=env, capture_output=True, text=True, timeout=300)
        result.report = check(out, env, result.log)
    finally:
        topo.stop()
        drop_pg_database(app_db)
        drop_pg_database(prefect_db)
    result.seconds = time.monotonic() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", action="append", help="provincial-level unit(s) to run (default p31, 上海)")
    parser.add_argument("--national", action="store_true", help="the whole country (3,225 organisations): hours on a small machine")
    parser.add_argument("--children", type=int, help="keep only the first N subordinates of each organisation (a small tree)")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--distributed", action="store_true", help="Prefect server + workers on PostgreSQL (implies --database postgres)")
    parser.add_argument("--jitter", type=float, default=2.0, help="seconds of random delay after the chosen number of finished steps")
    parser.add_argument("--startup-window", type=float, default=15.0, help="each run lives a random 0..N seconds at least (kills during start-up)")
    parser.add_argument("--gap", type=float, default=12.0, help="distributed: a random 0..N seconds at least between two kills")
    parser.add_argument("--work", type=Path, help="folder for the output and the logs (default: a new temporary folder, kept)")
    args = parser.parse_args()
    provinces = [] if args.national else (args.province or ["p31"])
    work = (args.work or Path(tempfile.mkdtemp(prefix="gongwen-crash-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = work / "out"
    mode = "distributed" if args.distributed else args.database
    print(f"crash campaign: {mode}, {'national' if args.national else ' '.join(provinces)}, {args.kills} kills, seed {args.seed}, work {work}", flush=True)
    if args.distributed:
        result = distributed_campaign(out, provinces, args.kills, args.seed, work, args.children, jitter=max(args.jitter, 3.0), window=args.gap)
    else:
        pg = create_pg_database("gongwen_crash") if args.database == "postgres" else None
        try:
            result = local_campaign(out, provinces, args.kills, args.seed, pg[1] if pg else None, work, args.children, args.jitter, args.startup_window)
        finally:
            if pg:
                drop_pg_database(pg[0])
    print(result.summary())
    return 1 if result.violations else 0


if __name__ == "__main__":
    sys.exit(main())
