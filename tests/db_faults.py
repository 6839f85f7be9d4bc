"""Database faults for the campaigns and their tests: a TCP proxy that can drop and refuse
connections (the server "briefly unreachable" without stopping the real server), and
``pg_terminate_backend`` of every other connection to a database.

Used by ``tests/test_db_faults.py`` and ``benchmarks/db_fault_campaign.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
import yaml
from sqlalchemy.engine import make_url

NOTICE = Path(__file__).resolve().parents[1] / "config" / "demo" / "national_notice.yaml"
GONGWEN = shutil.which("gongwen") or str(Path(sys.executable).with_name("gongwen"))


class FaultProxy:
    """A TCP proxy in a background thread: ``outage()`` drops every open connection and refuses
    new ones (closes them at once) until ``restore()``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.refusing = False
        self.connections = 0
        self.dropped = 0
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fault-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        def _close() -> None:
            if self._server:
                self._server.close()
            self._drop_all()
            self._loop.stop()

        self._loop.call_soon_threadsafe(_close)
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    # ---- faults -------------------------------------------------------------------------------
    def outage(self) -> None:
        """The server becomes unreachable: open connections are cut, new ones closed at once."""
        done = threading.Event()

        def _cut() -> None:
            self.refusing = True
            self._drop_all()
            done.set()

        self._loop.call_soon_threadsafe(_cut)
        done.wait(5)

    def restore(self) -> None:
        self.refusing = False

    def drop_all(self) -> None:
        """Cut every open connection once (new ones are accepted)."""
        done = threading.Event()

        def _cut() -> None:
            self._drop_all()
            done.set()

        self._loop.call_soon_threadsafe(_cut)
        done.wait(5)

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            self.dropped += 1
            with suppress(Exception):
                writer.transport.abort()
        self._writers.clear()

    # ---- plumbing -----------------------------------------------------------------------------
    def url_for(self, database_url: str) -> str:
        """``database_url`` with host and port pointing at this proxy."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        self._writers.discard(writer)
        self._writers.discard(up_writer)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with suppress(Exception):
                writer.transport.abort()


def terminate_backends(database_url: str, admin_url: str) -> int:
    """``pg_terminate_backend`` every connection to ``database_url``'s database; returns how many."""
    name = make_url(database_url).database
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)).fetchall()
    return sum(1 for (ok,) in rows if ok)


class FaultInjector:
    """Beside a workload: ``terminations`` rounds of ``pg_terminate_backend`` and ``outages``
    outages of ``outage_seconds`` through the proxy, spread over ``seconds``, interleaved."""

    def __init__(
        self, proxy: FaultProxy, database_url: str, admin_url: str, terminations: int, outages: int, seconds: float, outage_seconds: float = 3.0
    ) -> None:
        self.proxy, self.database_url, self.admin_url = proxy, database_url, admin_url
        paired = min(terminations, outages)
        self.plan = ["terminate", "outage"] * paired + ["terminate"] * (terminations - paired) + ["outage"] * (outages - paired)
        # the outages take their own time: every planned fault must fall inside ``seconds``
        self.interval = max(0.1, (seconds - outages * outage_seconds) / (len(self.plan) + 1))
        self.outage_seconds = outage_seconds
        self.terminated = 0  # connections killed
        self.termination_rounds = 0
        self.outage_count = 0

    def __call__(self, stop: threading.Event) -> None:
        for kind in self.plan:
            if stop.wait(self.interval):
                return
            if kind == "terminate":
                self.terminated += terminate_backends(self.database_url, self.admin_url)
                self.termination_rounds += 1
            else:
                self.proxy.outage()
                self.outage_count += 1
                stop.wait(self.outage_seconds)
                self.proxy.restore()

    def summary(self) -> str:
        return (
            f"faults injected: {self.termination_rounds} termination rounds ({self.terminated} connections killed), "
            f"{self.outage_count} outages of {self.outage_seconds:.0f} s (connections dropped {self.proxy.dropped}, refused {self.proxy.refused})"
        )


# ---- SQLite: several CLI processes at once against one GONGWEN_HOME ------------------------------------
LOCKED_WORDS = ("database is locked", "database is busy")


@dataclass
class CliRun:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def crashed(self) -> bool:
        """A crash: a traceback, "database is locked" shown to the user, or an exit code other than
        0 (done) and 2 (refused with a message)."""
        text = self.stdout + self.stderr
        return "Traceback" in text or any(w in text.lower() for w in LOCKED_WORDS) or self.returncode not in (0, 2)

    @property
    def refused(self) -> bool:
        return self.returncode == 2 and not self.crashed


@dataclass
class Swarm:
    """Waves of ``gongwen`` processes started at once, and what each did."""

    home: Path
    env: dict[str, str]
    runs: list[CliRun] = field(default_factory=list)
    notices: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, home: Path, database_url: str | None = None) -> Swarm:
        home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "GONGWEN_HOME": str(home / ".gongwen"),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
        env.pop("GONGWEN_STORAGE", None)
        env.pop("PREFECT_API_URL", None)  # each process runs Prefect embedded, as on a secretary's machine
        if database_url:
            env["GONGWEN_DATABASE_URL"] = database_url
        else:
            env.pop("GONGWEN_DATABASE_URL", None)
        return cls(home, env)

    def notice(self, org: str, n: int) -> Path:
        """A launchable notice of ``org`` (the demo's content, a title of its own, no 报送要求)."""
        path = self.home / f"notice-{org}-{n}.yaml"
        if not path.exists():
            data = yaml.safe_load(NOTICE.read_text(encoding="utf-8"))
            data["org"] = org
            data.pop("requirements", None)
            data["issued_on"] = data["content"]["issued_on"] = date.today()  # not 2012: the seeds carry 2012's numbers
            data["content"]["title"] = f"关于做好第{n}批妇女儿童工作的通知（{org}）"
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return path

    def wave(self, commands: list[list[str]], timeout: float = 900) -> list[CliRun]:
        """Start every command at once; wait for all."""
        procs = [
            (args, subprocess.Popen([GONGWEN, *args], env=self.env, cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            for args in commands
        ]
        runs = []
        for args, proc in procs:
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            runs.append(CliRun(args, proc.returncode, out, err))
        self.runs.extend(runs)
        return runs

    def inbox(self, user: str) -> list[int]:
        [run] = self.wave([["inbox", "--user", user, "--json"]])
        if run.returncode != 0:
            return []
        return [entry["item"] for entry in json.loads(run.stdout or "[]")]


def cli_campaign(swarm: Swarm, processes: int, orgs: tuple[str, ...] = ("acwf", "hunan", "jinan", "qingdao", "zibo", "jinan_lixia")) -> None:
    """Waves of ``processes`` CLI processes at once on one home (a fresh database the first wave
    creates concurrently):

    1. ``gongwen init`` and ``gongwen launch … --no-run`` at once (concurrent migrations);
    2. launches, ``gongwen run`` and ``gongwen inbox`` at once;
    3. every open sign-off approved by TWO processes at once (one must be refused: already done),
       beside ``gongwen inbox`` (and ``gongwen run`` in the first of these waves);
    4. one last ``gongwen run`` to settle the automatic steps.
    """
    leaders = [f"{o}_leader" for o in orgs]
    half = max(1, processes // 2)
    swarm.wave(
        [["init"]] * (processes - half)
        + [["launch", "issuing", str(swarm.notice(orgs[i % len(orgs)], i)), "--user", f"{orgs[i % len(orgs)]}_secretary", "--no-run"] for i in range(half)]
    )
    second = [
        ["launch", "issuing", str(swarm.notice(orgs[i % len(orgs)], 100 + i)), "--user", f"{orgs[i % len(orgs)]}_secretary", "--no-run"]
        for i in range(max(1, processes - 2))
    ]
    swarm.wave([*second, ["run"], ["inbox", "--user", leaders[0]]])
    approvals: list[list[str]] = []
    for leader in leaders:
        for item in swarm.inbox(leader):
            approvals += [["approve", str(item), "--user", leader, "--no-run"]] * 2  # the same decision twice, at once
    size = max(2, (processes - 1) // 2 * 2)  # even: both copies of a decision start in the same wave
    for start in range(0, max(len(approvals), 1), size):
        beside = [["run"]] if start == 0 else []  # one dispatcher beside the first decisions (Prefect starts in each run)
        swarm.wave(approvals[start : start + size] + beside + [["inbox", "--user", leaders[start % len(leaders)], "--json"]])
    swarm.wave([["run"]])
