"""Distributed mode: the batch dispatcher as a Prefect deployment on a process work pool.

Topology (one machine in the tests, several in production — see README):

* a Prefect server backed by PostgreSQL (``prefect server start`` with
  ``PREFECT_SERVER_DATABASE_CONNECTION_URL``);
* a ``process`` work pool and the deployment ``gongwen-dispatch/<name>`` whose entrypoint is the
  installed module ``gongwen_engine.flows.batch:dispatch_batches`` (no code is pulled: every
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
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectNotFound

ENTRYPOINT = "gongwen_engine.flows.batch:dispatch_batches"
FLOW_NAME = "gongwen-dispatch"
DEFAULT_POOL = "gongwen"
DEFAULT_DEPLOYMENT = "cascade"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


async def deploy(pool: str = DEFAULT_POOL, name: str = DEFAULT_DEPLOYMENT, concurrency: int = 2, batch: int = 16) -> UUID:
    """Create (or update) the process work pool and the dispatch deployment; returns its id."""
    async with get_client() as client:
        try:
            await client.read_work_pool(pool)
        except ObjectNotFound:
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = await client.create_flow_from_name(FLOW_NAME)
        return await client.create_deployment(
            flow_id=flow_id, name=name, work_pool_name=pool, entrypoint=ENTRYPOINT, pull_steps=[],
            parameters={"concurrency": concurrency, "batch": batch, "until_all_done": True}, enforce_parameter_schema=False,
        )


async def run_across_workers(deployment: str, runs: int, timeout_s: float = 3600) -> dict[str, str]:
    """Start ``runs`` flow runs of ``deployment`` ("gongwen-dispatch/cascade") and wait for all;
    returns each run's name and final state."""
    async with get_client() as client:
        dep = await client.read_deployment_by_name(deployment)
        ids = [(await client.create_flow_run_from_deployment(dep.id)).id for _ in range(runs)]
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            states = {fid: await client.read_flow_run(fid) for fid in ids}
            if all(r.state and r.state.type.value in FINAL for r in states.values()):
                return {r.name: r.state.type.value for r in states.values()}
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"flow runs of {deployment} not finished after {timeout_s:.0f} s: is a worker polling pool {dep.work_pool_name}?")
            await asyncio.sleep(0.5)
