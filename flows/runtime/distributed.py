"""Distributed mode: the batch dispatcher as a Prefect deployment on a process work pool.

Topology (one machine in the tests, several in production — see README):

* a Prefect server backed by PostgreSQL (``prefect server start`` with
  ``PREFECT_SERVER_DATABASE_CONNECTION_URL``);
* a ``process`` work pool and the deployment ``gongwen-batch-dispatch/<name>`` whose entrypoint is the
  installed module ``gongwen_engine.flows.runtime.batch:dispatch_batches`` (no code is pulled: every
  worker machine has gongwen installed, like any other dependency);
* two or more ``prefect worker start --pool <pool>`` processes; each flow run they take runs
  in its own process and reads ``GONGWEN_DATABASE_URL`` (the application database, PostgreSQL),
  ``GONGWEN_STORAGE`` (a shared folder) and ``GONGWEN_CONFIG_DIR`` from the worker's environment;
* ``gongwen cascade --deployment …`` launches the notice and starts ``runs`` flow runs of the
  deployment; they share the work through ``claim_batch`` (``FOR UPDATE SKIP LOCKED``) and each
  step's re-check under the row lock.

Why a work pool with ``prefect worker`` rather than ``flow.serve``: a served flow is tied to the
process that serves it, while a pool lets any number of worker machines join or leave without
redeploying, and the UI shows the pool, its workers and which run went where.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

if TYPE_CHECKING:
    from gongwen_engine.flows.engine.engine import Engine

log = logging.getLogger(__name__)

ENTRYPOINT = "gongwen_engine.flows.runtime.batch:dispatch_batches"
FLOW_NAME = "gongwen-batch-dispatch"
DEFAULT_POOL = "gongwen"
DEFAULT_DEPLOYMENT = "cascade"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STALL_S = 60.0  # no step finished for this long while work is left: start more flow runs


def run_server_env(home: Path, database_url: str) -> dict[str, str]:
    """``os.environ`` for a ``prefect server start`` made for one run (the distributed tests, the
    benchmarks' PostgreSQL cascade and crash campaign): its own ``home`` and PostgreSQL database
    (``database_url`` with any driver prefix: the server is given asyncpg), no ``PREFECT_API_URL``
    pointing elsewhere, and the services such a run does not need — schedules, late runs, pause
    expirations, the UI, analytics — off (less CPU on a small machine). A long-lived server for
    deployments with schedules keeps them on."""
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": "postgresql+asyncpg://" + database_url.split("://", 1)[1],
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    return env


def wait_for_server(api_url: str, server: subprocess.Popen, log_file: Path, timeout_s: float = 300) -> None:
    """Wait until the Prefect server started as ``server`` answers ``{api_url}/health``; raise
    (naming its log) if it exits or is not up within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the Prefect server exited (code {server.returncode}); see {log_file}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not start in {timeout_s:.0f} s; see {log_file}")


async def deploy(pool: str = DEFAULT_POOL, name: str = DEFAULT_DEPLOYMENT, concurrency: int = 2, batch: int = 16) -> UUID:
    """Create (or update) the process work pool and the dispatch deployment; returns its id."""
    async with get_client() as client:
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = await client.create_flow_from_name(FLOW_NAME)
        return await client.create_deployment(
            flow_id=flow_id,
            name=name,
            work_pool_name=pool,
            entrypoint=ENTRYPOINT,
            pull_steps=[],
            parameters={"concurrency": concurrency, "batch": batch, "until_all_done": True},
            enforce_parameter_schema=False,
        )


async def run_across_workers(deployment: str, runs: int, timeout_s: float = 3600, engine: Engine | None = None, stall_s: float = STALL_S) -> dict[str, str]:
    """Start ``runs`` flow runs of ``deployment`` ("gongwen-batch-dispatch/cascade") and wait until
    they are done; returns each run's name and final state.

    With ``engine`` (the application database), the work decides, not the runs — so a killed
    worker or a restarted Prefect server does not leave the caller waiting for ever:

    * it returns as soon as no circulation is ready or running (a run whose process was killed
      with its worker stays "Running" on the server for ever);
    * when every run it started has ended, or nothing moved for ``stall_s`` seconds, while work
      is left, it starts ``runs`` more (the claims of dead processes are released by the runs,
      ``Engine.release_abandoned_claims``; the steps re-check under the row lock, so an extra
      run is harmless);
    * while the Prefect server cannot be reached it keeps trying until the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    ids: list[UUID] = []
    last: dict[UUID, FlowRun] = {}
    progress, moved_at = -1, loop.time()
    while True:
        try:
            async with get_client() as client:
                dep = await client.read_deployment_by_name(deployment)
                while True:
                    if engine is not None:
                        done_steps, left = work_left(engine)
                        if left == 0:
                            return {r.name: _state_name(r) for r in last.values()}
                        if done_steps != progress:
                            progress, moved_at = done_steps, loop.time()
                    states = {fid: await client.read_flow_run(fid) for fid in ids}
                    last.update(states)
                    ended = all(r.state and r.state.type.value in FINAL for r in states.values())
                    if ended and engine is None and ids:
                        return {r.name: _state_name(r) for r in states.values()}
                    if not ids or ended or (engine is not None and loop.time() - moved_at > stall_s):
                        if ids:
                            log.warning(
                                "work left and %s: starting %d more flow run(s) of %s",
                                "every run ended" if ended else f"nothing moved for {stall_s:.0f} s",
                                runs,
                                deployment,
                            )
                        ids += [(await client.create_flow_run_from_deployment(dep.id)).id for _ in range(runs)]
                        moved_at = loop.time()
                    if loop.time() > deadline:
                        raise TimeoutError(f"flow runs of {deployment} not finished after {timeout_s:.0f} s: is a worker polling pool {dep.work_pool_name}?")
                    await asyncio.sleep(0.5)
        except (httpx.HTTPError, OSError, PrefectHTTPStatusError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("Prefect server unreachable (%s); retrying", type(exc).__name__)
            await asyncio.sleep(2)


def _state_name(run: FlowRun) -> str:
    return run.state.type.value if run.state else "?"


def work_left(engine: Engine) -> tuple[int, int]:
    """(steps done so far, circulations ready or running) in the application database."""
    from sqlmodel import Session, col, func, select

    from gongwen_engine.models.tables import Circulation, CirculationStatus, WorkItem, WorkItemStatus

    with Session(engine.db) as session:
        done = session.exec(select(func.count()).select_from(WorkItem).where(WorkItem.status == WorkItemStatus.done)).one()
        left = session.exec(
            select(func.count()).select_from(Circulation).where(col(Circulation.status).in_((CirculationStatus.ready, CirculationStatus.running)))
        ).one()
    return done, left
