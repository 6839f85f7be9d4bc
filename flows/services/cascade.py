"""The national cascade (全国级联): 全国妇联's notice down to every county, under the named
``national`` policy (sign-off by policy, the seed's dates replayed).

The organisation tree is ``config/national/`` (generated from the GB/T 2260 table, see
``config/national/generate.py``); ``subtree_config`` writes a smaller folder with only some
provinces (the tests and the distributed run use one province).
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr
from ruamel.yaml import YAML
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.loader import FILES, PACKAGED_CONFIG_DIR
from gongwen_engine.config.settings import Settings
from gongwen_engine.config.yamlsrc import load_yaml
from gongwen_engine.flows.engine.claims import release_abandoned_claims
from gongwen_engine.flows.engine.engine import AlreadyLaunched, Engine
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.demo import DemoSummary
from gongwen_engine.flows.services.leftovers import clean_leftovers
from gongwen_engine.models import db
from gongwen_engine.models.tables import Circulation

log = logging.getLogger(__name__)

NATIONAL_CONFIG_DIR = PACKAGED_CONFIG_DIR / "national"
NATIONAL_POLICY = "national"
NOTICE_FLOW = "issuing"
LOCK_FILE = "cascade.lock"  # under DIR/.gongwen: held by the one process running the cascade of DIR
RUN_RECORD = "cascade.json"  # under DIR/.gongwen: what the cascade was started with, for --resume
SHARED_FILES = ("users", "numbering", "policies", "retention")
SEALS_FILE = "seals.yaml"


def subtree_config(target: Path, provinces: list[str], source: Path = NATIONAL_CONFIG_DIR, max_children: int | None = None) -> Path:
    """A config folder with the root and only the named provinces (and everything below them).

    The other files are copied from ``source`` (users of organisations that are left out are
    dropped, so the folder loads). ``max_children``: below the provinces, keep only the first
    N subordinates of each organisation (a small tree for tests and campaigns)."""
    orgs = load_yaml(source / FILES["organisations"]).data["organisations"]  # libyaml: the national tree in ~0.5 s
    by_code = {o["code"]: o for o in orgs}
    unknown = [p for p in provinces if p not in by_code or by_code[p]["level"] != "provincial"]
    if unknown:
        known = ", ".join(sorted(o["code"] for o in orgs if o["level"] == "provincial"))
        raise Refusal(f"不是省级单位的代码：{', '.join(unknown)}（provincial codes: {known}）")

    def kept(org: dict) -> bool:
        if org["parent"] is None:
            return True  # the root
        while org["parent"] is not None and org["code"] not in provinces:
            org = by_code[org["parent"]]
        return org["code"] in provinces

    target.mkdir(parents=True, exist_ok=True)
    chosen = [o for o in orgs if kept(o)]
    if max_children is not None:
        taken: dict[str, int] = {}
        trimmed, codes = [], set()
        for o in chosen:  # parents come before their children in the file
            parent = o["parent"]
            if parent is not None and (parent not in codes or (by_code[parent]["level"] != "national" and taken.get(parent, 0) >= max_children)):
                continue
            if parent is not None:
                taken[parent] = taken.get(parent, 0) + 1
            trimmed.append(o)
            codes.add(o["code"])
        chosen = trimmed
    codes = {o["code"] for o in chosen}
    _dump({"organisations": chosen}, target / FILES["organisations"])
    users = load_yaml(source / FILES["users"]).data
    _dump({"users": [u for u in users.get("users", []) if u["org"] in codes]}, target / FILES["users"])
    prefixes = {p for o in chosen for p in o["prefixes"]}
    numbering = load_yaml(source / FILES["numbering"]).data
    _dump({"schemes": [s for s in numbering.get("schemes", []) if s["prefix"] in prefixes]}, target / FILES["numbering"])
    for name in ("policies", "retention"):
        write_atomically((source / FILES[name]).read_bytes(), target / FILES[name])  # read first: source may be target
    for optional in (SEALS_FILE, FILES["roles"]):  # the roles the users and flows name (roles.yaml, issue 24)
        if (source / optional).is_file():
            write_atomically((source / optional).read_bytes(), target / optional)
    return target


def _dump(data: dict, path: Path) -> None:
    """Written atomically: a process reading the snapshot while another writes it sees the whole
    old file or the whole new one, never an empty ``organisations.yaml``."""
    yaml = YAML()
    yaml.default_flow_style = None
    text = io.StringIO()
    yaml.dump(data, text)
    write_atomically(text.getvalue().encode("utf-8"), path)


def config_dir(explicit: Path | None) -> Path:
    """--config, else $GONGWEN_CONFIG_DIR, else the packaged national tree."""
    if explicit:
        return explicit
    env = os.environ.get("GONGWEN_CONFIG_DIR")
    return Path(env) if env else NATIONAL_CONFIG_DIR


def config_source(explicit: Path | None) -> str | None:
    """The config folder a cascade remembers in ``cascade.json``: --config, else
    $GONGWEN_CONFIG_DIR (so ``--resume`` in another shell uses the same tree), resolved;
    None: the packaged national tree."""
    if explicit:
        return str(explicit.resolve())
    env = os.environ.get("GONGWEN_CONFIG_DIR")
    return str(Path(env).resolve()) if env else None


@dataclass(frozen=True)
class RunRecord:
    """What ``gongwen cascade`` was started with in a folder; ``--resume`` continues with the same."""

    config: str | None  # --config or $GONGWEN_CONFIG_DIR, resolved (None: the packaged tree)
    provinces: tuple[str, ...]

    @staticmethod
    def path(out: Path) -> Path:
        return out / ".gongwen" / RUN_RECORD

    @classmethod
    def read(cls, out: Path) -> RunRecord | None:
        path = cls.path(out)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data.get("config"), tuple(data.get("provinces") or ()))

    def write(self, out: Path) -> None:
        data = {"config": self.config, "provinces": list(self.provinces)}
        write_atomically(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"), self.path(out))


def cascade_settings(out: Path, record: RunRecord) -> Settings:
    """The settings of the cascade in ``out``: its database and documents there, the config
    folder it was started with (one or more provinces: a subtree written under ``out/.gongwen``);
    ``GONGWEN_DATABASE_URL`` (PostgreSQL) when set."""
    folder = config_dir(Path(record.config) if record.config else None)
    if not (folder / "organisations.yaml").is_file():
        raise Refusal(f"配置目录 {folder} 中没有 organisations.yaml（--config 应指向含组织机构、用户、策略等文件的目录，如 config/national）")
    if record.provinces:
        folder = subtree_config(out / ".gongwen" / "config", list(record.provinces), folder)
    url = os.environ.get("GONGWEN_DATABASE_URL")
    return Settings(home=out / ".gongwen", storage=out, config_dir=folder, database_url=SecretStr(url) if url else None)


@dataclass
class CascadeResult:
    """What ``run_cascade`` did: the demo's summary plus the expected count and rate."""

    summary: DemoSummary
    expected: int

    @property
    def per_second(self) -> float:
        return self.summary.documents / self.summary.seconds if self.summary.seconds else 0.0


class CascadeRunning(Refusal):
    """Another process runs the cascade of this folder (or of this database's notice)."""


def _running(out: Path, holder: str) -> CascadeRunning:
    return CascadeRunning(
        f"级联已在运行：{out} 的级联正由另一个进程（{holder}）运行，本次没有发起任何流转。"
        "等它结束后查看结果（gongwen status）；它若被中断，再运行 gongwen cascade --out DIR --resume 继续"
    )


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """One cascade process per folder: an exclusive lock on ``out/.gongwen/cascade.lock`` held
    while the process runs (released by the kernel when it dies, so kill -9 leaves no stale lock).
    A second process is refused at once with 级联已在运行 before it writes anything."""
    path = out / ".gongwen" / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise _running(out, f"pid {handle.read().strip() or '?'}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def notice_key(root: str) -> str:
    """The key that makes the national notice of a database one launch (``LaunchOnce``) and
    names the advisory lock its cascade holds on PostgreSQL."""
    return f"cascade:{root}:{NATIONAL_POLICY}"


def launched_notice(engine: Engine, root: str) -> int | None:
    """The circulation of the national notice this database already launched, if any."""
    with Session(engine.db) as session:
        stmt = (
            select(Circulation.id)
            .where(Circulation.org == root, col(Circulation.parent_id).is_(None), Circulation.flow == NOTICE_FLOW, Circulation.policy == NATIONAL_POLICY)
            .order_by(col(Circulation.id))
        )
        return session.exec(stmt).first()


def run_cascade(
    engine: Engine,
    out: Path,
    concurrency: int = 2,
    batch: int = 64,
    started: float | None = None,
    deployment: str | None = None,
    runs: int = 2,
    resume: bool = False,
) -> CascadeResult:
    """Launch the national notice under the ``national`` policy and run it to every organisation
    of ``engine``'s tree in organisation batches — here, or with ``deployment`` in ``runs`` flow
    runs of that Prefect deployment taken by its workers — then write ``out/manifest.json``.

    ``resume``: the database already holds an interrupted cascade (its process was killed, the
    machine restarted): the notice is not launched again; claims left by dead processes are
    released and every unfinished circulation continues from the step it was at (a step that
    was cut off rolled back with its transaction and runs again). Without ``resume`` a database
    that already launched the notice is refused, so a second national notice is never sent."""
    started = demo_mod.timer() if started is None else started
    org, _content = demo_mod.load_notice()
    engine.config.policy(NATIONAL_POLICY)  # a clear error when the config folder lacks it
    expected = demo_mod.expected_circulations(engine, org)
    with cascade_started(engine, out, resume):
        return _run(engine, out, expected, started, concurrency, batch, deployment, runs)


@contextmanager
def cascade_started(engine: Engine, out: Path, resume: bool) -> Iterator[bool]:
    """Hold the notice's advisory lock (PostgreSQL: one cascade process per notice, whatever its
    folder; another is refused with 级联已在运行) and launch the notice once while the block runs.
    Yields whether this call launched it; resuming, claims of dead processes are released."""
    org, _content = demo_mod.load_notice()
    with db.held_lock(engine.db, notice_key(org)) as taken:
        if not taken:
            raise _running(out, "同一数据库中的另一个级联进程")
        launched = launch_notice(engine, resume)
        if not launched:
            released = release_abandoned_claims(engine.db, force=True)  # safe: the lock says no other cascade process runs
            if released:
                log.warning("resume: %d circulation(s) claimed by a dead process released", released)
        yield launched


def launch_notice(engine: Engine, resume: bool) -> bool:
    """Launch the national notice once (its ``LaunchOnce`` key): True when this call launched it.
    A database that launched it already is refused unless ``resume``."""
    org, content = demo_mod.load_notice()
    existing = launched_notice(engine, org)
    if existing is None:
        try:
            engine.launch(org, NOTICE_FLOW, content, policy=NATIONAL_POLICY, actor=f"{org}_secretary", once=notice_key(org))
            return True
        except AlreadyLaunched:
            existing = launched_notice(engine, org)
    if not resume:
        raise Refusal(
            f"此数据库已发起过全国通知（流转 #{existing}），不能再发一次。继续中断的级联：重新运行同一命令并加 --resume"
            "（e.g. gongwen cascade --out DIR --resume）；或换一个空目录"
        )
    return False


def _run(
    engine: Engine,
    out: Path,
    expected: int,
    started: float,
    concurrency: int,
    batch: int,
    deployment: str | None,
    runs: int,
) -> CascadeResult:
    if deployment:
        import asyncio

        from gongwen_engine.flows.runtime.distributed import run_across_workers

        asyncio.run(run_across_workers(deployment, runs, engine=engine))
    else:
        from gongwen_engine.flows.runtime.batch import run_batches_until_idle

        run_batches_until_idle(engine, concurrency=concurrency, batch=batch, processes=engine.settings.processes)
    # What processes killed during the run left (a worker's flow run killed while it prepared PDFs:
    # staging copies of documents) is removed at the end too, not only at the next start — after a
    # kill late in the run no process may start again (the distributed crash campaign found one).
    clean_leftovers(engine.settings)
    manifest = demo_mod.write_manifest(engine, out)
    return CascadeResult(demo_mod.summarise(engine, manifest, demo_mod.timer() - started), expected)
