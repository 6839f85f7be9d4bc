"""Several `gongwen worker` processes on one PostgreSQL database share a cascade; every effect
happens exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import alive, command_line, descendants
from sqlalchemy import func
from sqlmodel import Session, select

from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, Delivery, IssuedNumber, Registration

NOTICE = Path(__file__).parents[1] / "config" / "demo" / "national_notice.yaml"


@pytest.mark.postgres
def test_two_workers_share_a_cascade_on_postgres(pg_url: str, tmp_path: Path, make_engine) -> None:
    env = {**os.environ, "GONGWEN_DATABASE_URL": pg_url, "GONGWEN_STORAGE": str(tmp_path / "storage"), "COLUMNS": "200"}

    def gongwen(*args: str, prefect_home: str = "p0") -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "gongwen_engine.flows", *args],
            env={**env, "PREFECT_HOME": str(tmp_path / prefect_home)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    launch = gongwen("launch", "issuing", str(NOTICE), "--user", "acwf_secretary", "--policy", "demo", "--no-run")
    assert launch.wait(timeout=120) == 0, launch.stderr.read()
    workers = [gongwen("worker", "--once", "--concurrency", "3", prefect_home=f"p{i}") for i in (1, 2)]
    for w in workers:
        assert w.wait(timeout=600) == 0, w.stderr.read()

    engine = make_engine(database_url=pg_url)
    with Session(engine.db) as session:

        def count(stmt) -> int:
            return session.exec(stmt).one()

        assert status_counts(engine) == {"done": 31}
        assert count(select(func.count()).select_from(IssuedNumber)) == count(select(func.count(func.distinct(IssuedNumber.doc_number)))) == 3
        assert count(select(func.count()).select_from(Delivery)) == 30
        assert count(select(func.count()).select_from(Registration)) == 30
        assert count(select(func.count()).select_from(ArchiveItem)) == count(select(func.count()).select_from(Circulation)) == 31
        workers_seen = {e.detail.get("worker") for e in session.exec(select(AuditEvent).where(AuditEvent.action.like("step:%")))}
        assert workers_seen and None not in workers_seen


@pytest.mark.postgres
@pytest.mark.parametrize("moment", ["idle", "in a flow run"])
def test_a_worker_stopped_with_sigterm_exits_cleanly_and_leaves_no_process_behind(moment: str, pg_url: str, tmp_path: Path) -> None:
    """``systemctl stop`` sends SIGTERM: the worker ends with 143 and one line in Chinese (no
    traceback), and so do the embedded Prefect server and the LibreOffice it started. Idle, our
    handler ends it (killed outright, the server process used to stay running); in a flow run too
    (the run is off the main thread: Prefect's handler, which raised TerminationSignal out of the
    event loop — a traceback and exit code 1, once swallowed by the loop — is never installed)."""
    import signal
    import time

    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.services.engine import open_engine

    env = {**os.environ, "GONGWEN_DATABASE_URL": pg_url, "GONGWEN_STORAGE": str(tmp_path / "storage"), "PREFECT_HOME": str(tmp_path / "prefect")}
    launch = subprocess.run(
        [sys.executable, "-m", "gongwen_engine.flows", "launch", "issuing", str(NOTICE), "--user", "acwf_secretary", "--policy", "demo", "--no-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert launch.returncode == 0, launch.stderr
    linger = "1" if moment == "idle" else "600"  # lingering, the flow run stays open after the work is done
    errors = tmp_path / "worker.stderr"
    worker = subprocess.Popen(
        [sys.executable, "-m", "gongwen_engine.flows", "worker", "--linger", linger],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors.open("w"),
        start_new_session=True,
    )
    engine = open_engine(Settings(home=tmp_path / "home", storage=tmp_path / "storage", database_url=pg_url))
    try:
        deadline, children = time.monotonic() + 300, set()
        while time.monotonic() < deadline:  # until the worker has started its Prefect server and done the work
            children |= descendants(worker.pid)
            serving = any("uvicorn" in Path(f"/proc/{c}/cmdline").read_text(errors="replace") for c in children if alive(c))
            if serving and status_counts(engine) == {"done": 31}:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the worker did not do the work: {status_counts(engine)}")
        time.sleep(3)  # idle: the run lingered 1 s and ended; in a flow run: it lingers for 600 s
        children |= descendants(worker.pid)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=90) == 128 + signal.SIGTERM, errors.read_text()
        said = errors.read_text()
        assert "Traceback" not in said, said
        if moment == "in a flow run":
            assert "已停止：收到终止信号" in said, said
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(c) for c in children):
            time.sleep(0.5)
        assert not [c for c in children if alive(c)], "processes left behind by the stopped worker"
    finally:
        engine.db.dispose()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)


@pytest.mark.slow  # 20 workers started and stopped (each starts its embedded Prefect server and LibreOffice)
@pytest.mark.postgres
def test_sigterm_at_random_moments_stops_the_worker_within_ten_seconds(pg_url: str, tmp_path: Path) -> None:
    """Issue 26: SIGTERM at random moments — starting, mid-step, LibreOffice busy, lingering, idle —
    and the worker is gone within 10 s, exit code 143, no traceback, none of its claims left."""
    import random
    import signal
    import time

    from gongwen_engine.flows.services.demo import load_notice

    reps = int(os.environ.get("GONGWEN_SIGTERM_REPS", "20"))
    rng = random.Random(26)
    env, engine = campaign_home(pg_url, tmp_path)
    org, content = load_notice()
    stops: list[float] = []
    try:
        for rep in range(reps):
            if rep % 3 == 0:  # new work now and then, so some signals land mid-step
                engine.launch(org, "issuing", content, policy="demo", actor=f"{org}_secretary")
            errors = tmp_path / f"worker{rep}.stderr"
            worker = subprocess.Popen(
                [sys.executable, "-m", "gongwen_engine.flows", "worker", "--linger", rng.choice(["1", "600"]), "--interval", "0.5"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=errors.open("w"),
                start_new_session=True,
            )
            try:
                time.sleep(rng.uniform(0.5, 25.0))
                stops.append(stop_and_check(worker, f"rep {rep}", errors, engine))
            finally:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
    finally:
        engine.db.dispose()
    print(f"{reps} SIGTERMs: stopped in {min(stops):.1f}–{max(stops):.1f} s (median {sorted(stops)[len(stops) // 2]:.1f} s)")


@pytest.mark.slow  # web processes started and stopped (each runs the automatic steps: its embedded Prefect server and LibreOffice)
@pytest.mark.postgres
def test_sigterm_at_random_moments_stops_serve_within_ten_seconds(pg_url: str, tmp_path: Path) -> None:
    """Issue 26: `gongwen serve` too — SIGTERM while starting, serving pages, mid-step (the demo
    policy's tree in the background) or idle, and it is gone within 10 s, with 0 or 143, no
    traceback in its output, none of its claims left and no process behind."""
    import random
    import signal
    import threading
    import time
    import urllib.request

    from browser import free_port

    from gongwen_engine.flows.services.demo import load_notice

    reps = int(os.environ.get("GONGWEN_SIGTERM_REPS", "6"))
    rng = random.Random(2026)
    env, engine = campaign_home(pg_url, tmp_path, GONGWEN_WEB_SECRET="test-secret-not-for-production")
    org, content = load_notice()
    stops: list[float] = []
    try:
        for rep in range(reps):
            if rep % 2 == 0:  # new work now and then, so some signals land mid-step
                engine.launch(org, "issuing", content, policy="demo", actor=f"{org}_secretary")
            port = free_port()
            output = tmp_path / f"serve{rep}.log"
            serve = subprocess.Popen(
                [sys.executable, "-m", "gongwen_engine.flows", "serve", "--port", str(port), "--poll", "1"],
                env=env,
                stdout=output.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            asking = threading.Event()

            def ask(port: int = port, asking: threading.Event = asking) -> None:  # pages asked for while it stops
                while not asking.is_set():
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).read()
                    except OSError:
                        time.sleep(0.2)

            reader = threading.Thread(target=ask)
            reader.start()
            try:
                time.sleep(rng.uniform(0.5, 20.0))
                stops.append(stop_and_check(serve, f"rep {rep}", output, engine))
            finally:
                asking.set()
                reader.join()
                if serve.poll() is None:
                    os.killpg(serve.pid, signal.SIGKILL)
    finally:
        engine.db.dispose()
    print(f"{reps} SIGTERMs to serve: stopped in {min(stops):.1f}–{max(stops):.1f} s (median {sorted(stops)[len(stops) // 2]:.1f} s)")


STUCK_AT_EXIT = """
import sys, threading, time
from pathlib import Path
from prefect.server.api.server import SubprocessASGIServer
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.runtime import runner
from gongwen_engine.flows.runtime.embedded import start_embedded_server
from gongwen_engine.flows.services.engine import open_engine

home = Path(sys.argv[1])
runner.stop_cleanly_on_sigterm(open_engine(Settings(home=home)))
start_embedded_server(home)
threading.Thread(target=time.sleep, args=(600,)).start()  # Python's exit waits for it: exit handlers never run
print(SubprocessASGIServer().server_process.pid, flush=True)  # ready: the test's SIGTERM may come now
time.sleep(600)
"""


def test_a_forced_stop_takes_the_embedded_prefect_server_with_it(tmp_path: Path) -> None:
    """A process whose exit hangs (here a thread Python's exit waits for) is ended at the SIGTERM
    deadline with ``os._exit``, which skips Prefect's exit handler that stops its server: the
    deadline kills the server itself (the SIGTERM campaign once found a uvicorn left behind)."""
    import signal
    import time

    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "GONGWEN_STOP_SECONDS": "4"}
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-c", STUCK_AT_EXIT, str(tmp_path / "home")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server = int(process.stdout.readline() or 0)
        assert server and alive(server), process.stderr.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM
        assert "已强制结束" in process.stderr.read()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(server):
            time.sleep(0.2)
        assert not alive(server), f"left behind: {command_line(server)}"
    finally:
        if process.poll() is None:
            process.kill()


def stop_and_check(process: subprocess.Popen, rep: str, output: Path, engine) -> float:
    """SIGTERM ``process`` (a worker or a web process) and check how it stopped: within 10 s,
    with 0 or 143 (-15: the signal came while Python was still starting, before any handler or
    work: the default action), no traceback in its ``output``, none of its claims left, no child
    process behind. Returns the seconds it took."""
    import signal
    import socket
    import time

    children = descendants(process.pid)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    took = time.monotonic() - sent
    said = output.read_text(errors="replace")
    assert code in (0, 128 + signal.SIGTERM, -signal.SIGTERM), f"{rep}: exit {code}\n{said}"
    assert "Traceback" not in said, f"{rep}:\n{said}"
    assert took <= 10.0, f"{rep}: stopped after {took:.1f} s\n{said}"
    name = f"{socket.gethostname()}:{process.pid}"
    with Session(engine.db) as session:
        held = session.exec(select(Circulation).where(Circulation.status == "running", Circulation.claimed_by == name)).all()
    assert not held, f"{rep}: claims left by the stopped process: {[c.id for c in held]}\n{said}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(c) for c in children):
        time.sleep(0.3)
    left = [command_line(c) for c in children if alive(c)]
    assert not left, f"{rep}: processes left behind: {left}\n{said}"
    return took


def campaign_home(pg_url: str, tmp_path: Path, **extra: str):
    """The environment of a SIGTERM campaign's processes (PostgreSQL, a home, storage and Prefect
    home under ``tmp_path``) and an engine on the same database and storage, for the checks."""
    from gongwen_engine.config.settings import Settings
    from gongwen_engine.flows.services.engine import open_engine

    env = {
        **os.environ,
        "GONGWEN_DATABASE_URL": pg_url,
        "GONGWEN_HOME": str(tmp_path / "home"),
        "GONGWEN_STORAGE": str(tmp_path / "storage"),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        **extra,
    }
    return env, open_engine(Settings(home=tmp_path / "home", storage=tmp_path / "storage", database_url=pg_url))
