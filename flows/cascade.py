"""The national cascade (全国级联): 全国妇联's notice down to every county, under the named
``national`` policy (sign-off by policy, the seed's dates replayed).

The organisation tree is ``config/national/`` (generated from the GB/T 2260 table, see
``config/national/generate.py``); ``subtree_config`` writes a smaller folder with only some
provinces (the tests and the distributed run use one province).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from gongwen_engine.config.loader import FILES, PACKAGED_CONFIG_DIR

from . import demo as demo_mod
from .demo import DemoSummary
from .engine import Engine

NATIONAL_CONFIG_DIR = PACKAGED_CONFIG_DIR / "national"
NATIONAL_POLICY = "national"
SHARED_FILES = ("users", "numbering", "policies", "retention")
SEALS_FILE = "seals.yaml"


def subtree_config(target: Path, provinces: list[str], source: Path = NATIONAL_CONFIG_DIR) -> Path:
    """A config folder with the root and only the named provinces (and everything below them).

    The other files are copied from ``source`` (users of organisations that are left out are
    dropped, so the folder loads)."""
    yaml = YAML(typ="safe")
    orgs = yaml.load((source / FILES["organisations"]).read_text(encoding="utf-8"))["organisations"]
    by_code = {o["code"]: o for o in orgs}
    unknown = [p for p in provinces if p not in by_code or by_code[p]["level"] != "provincial"]
    if unknown:
        known = ", ".join(sorted(o["code"] for o in orgs if o["level"] == "provincial"))
        raise ValueError(f"不是省级单位的代码：{', '.join(unknown)}（provincial codes: {known}）")

    def kept(org: dict) -> bool:
        if org["parent"] is None:
            return True  # the root
        while org["parent"] is not None and org["code"] not in provinces:
            org = by_code[org["parent"]]
        return org["code"] in provinces

    target.mkdir(parents=True, exist_ok=True)
    chosen = [o for o in orgs if kept(o)]
    codes = {o["code"] for o in chosen}
    _dump({"organisations": chosen}, target / FILES["organisations"])
    users = yaml.load((source / FILES["users"]).read_text(encoding="utf-8"))
    _dump({"users": [u for u in users.get("users", []) if u["org"] in codes]}, target / FILES["users"])
    prefixes = {p for o in chosen for p in o["prefixes"]}
    numbering = yaml.load((source / FILES["numbering"]).read_text(encoding="utf-8"))
    _dump({"schemes": [s for s in numbering.get("schemes", []) if s["prefix"] in prefixes]}, target / FILES["numbering"])
    for name in ("policies", "retention"):
        shutil.copyfile(source / FILES[name], target / FILES[name])
    if (source / SEALS_FILE).is_file():
        shutil.copyfile(source / SEALS_FILE, target / SEALS_FILE)
    return target


def _dump(data: dict, path: Path) -> None:
    yaml = YAML()
    yaml.default_flow_style = None
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(data, f)


def config_dir(explicit: Path | None) -> Path:
    """--config, else $GONGWEN_CONFIG_DIR, else the packaged national tree."""
    if explicit:
        return explicit
    env = os.environ.get("GONGWEN_CONFIG_DIR")
    return Path(env) if env else NATIONAL_CONFIG_DIR


@dataclass
class CascadeResult:
    """What ``run_cascade`` did: the demo's summary plus the expected count and rate."""

    summary: DemoSummary
    expected: int

    @property
    def per_second(self) -> float:
        return self.summary.documents / self.summary.seconds if self.summary.seconds else 0.0


def run_cascade(engine: Engine, out: Path, concurrency: int = 2, batch: int = 64, on_done: Callable[[int], None] | None = None,
                started: float | None = None, deployment: str | None = None, runs: int = 2) -> CascadeResult:
    """Launch the national notice under the ``national`` policy and run it to every organisation
    of ``engine``'s tree in organisation batches — here, or with ``deployment`` in ``runs`` flow
    runs of that Prefect deployment taken by its workers — then write ``out/manifest.json``."""
    started = demo_mod.timer() if started is None else started
    org, content = demo_mod.load_notice()
    engine.config.policy(NATIONAL_POLICY)  # a clear error when the config folder lacks it
    expected = demo_mod.expected_circulations(engine, org)
    engine.launch(org, "issuing", content, policy=NATIONAL_POLICY, actor=f"{org}_secretary")
    if deployment:
        import asyncio

        from .distributed import run_across_workers

        asyncio.run(run_across_workers(deployment, runs))
    else:
        from .batch import run_batches_until_idle

        run_batches_until_idle(engine, concurrency=concurrency, batch=batch, on_done=on_done)
    manifest = demo_mod.write_manifest(engine, out)
    return CascadeResult(demo_mod.summarise(engine, manifest, demo_mod.timer() - started), expected)
