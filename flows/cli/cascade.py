"""``gongwen cascade``: the national notice down to every county (全国级联)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import console, friendly, polling
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.cascade import RUN_RECORD, RunRecord, cascade_settings, config_source, folder_lock, run_cascade
from gongwen_engine.flows.services.engine import open_engine

group = typer.Typer()


@group.command()
@friendly
def cascade(
    out: Annotated[Path, typer.Option(help="folder for the .docx files, manifest.json and the cascade's database")],
    config: Annotated[Path | None, typer.Option(help="config folder (default: $GONGWEN_CONFIG_DIR, else the packaged national tree config/national)")] = None,
    province: Annotated[list[str] | None, typer.Option(help="only these provincial-level units (codes, e.g. shandong, p64); repeatable")] = None,
    concurrency: Annotated[int, typer.Option(help="organisation batches run at once")] = 2,
    batch: Annotated[int, typer.Option(help="circulations per batch (one Prefect task run each)")] = 64,
    deployment: Annotated[
        str | None,
        typer.Option(
            help="run on the workers of this deployment instead of here, e.g. gongwen-batch-dispatch/cascade (see `gongwen deploy`); "
            "needs PREFECT_API_URL and a shared GONGWEN_DATABASE_URL/GONGWEN_STORAGE"
        ),
    ] = None,
    runs: Annotated[int, typer.Option(help="with --deployment: flow runs started (the workers share them)")] = 2,
    resume: Annotated[
        bool,
        typer.Option(
            help="continue the cascade in --out that was interrupted (killed, machine restarted): nothing is launched twice, "
            "unfinished circulations continue, the manifest is written; starts it if it never began"
        ),
    ] = False,
) -> None:
    """Run the national notice (妇字〔2012〕2号) down all levels under the named `national` policy
    (签发 by policy, the seed's dates): every organisation signs for it, registers it, forwards it
    with its own numbered, printed and sealed notice where it has subordinates, and files it.

    Interrupted (killed, power cut)? Run the same command again with --resume."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out):  # one process per folder: a second start or --resume says 级联已在运行
        _cascade(out, config, province, concurrency, batch, deployment, runs, resume)


def _cascade(out: Path, config: Path | None, province: list[str] | None, concurrency: int, batch: int, deployment: str | None, runs: int, resume: bool) -> None:
    record = RunRecord(config_source(config), tuple(province or ()))
    previous = RunRecord.read(out)
    if not resume and (previous is not None or (out / "manifest.json").exists()):
        raise Refusal(
            f"{out} 已有一次级联（{'manifest.json' if (out / 'manifest.json').exists() else RUN_RECORD}）。"
            "继续被中断的级联：重新运行同一命令并加 --resume；开始新的级联：换一个空目录，或先删除该目录"
        )
    if resume and previous is not None:
        if (config is not None and config_source(config) != previous.config) or (province and record.provinces != previous.provinces):
            raise Refusal(
                f"--resume 的参数与 {out} 中原级联不同（原为 --config {previous.config or '默认'} --province {' '.join(previous.provinces) or '全部'}）："
                "请用原来的参数，或只写 gongwen cascade --out DIR --resume"
            )
        record = previous
    record.write(out)  # first, so a run killed at any later moment can be resumed with the same arguments
    if deployment and not (os.environ.get("PREFECT_API_URL") and os.environ.get("GONGWEN_DATABASE_URL")):
        raise Refusal("--deployment 需要 PREFECT_API_URL（Prefect 服务器）和 GONGWEN_DATABASE_URL（各工作机共用的 PostgreSQL）")
    settings = cascade_settings(out, record)
    started = demo_mod.timer()
    engine = open_engine(settings)
    total = demo_mod.expected_circulations(engine, demo_mod.load_notice()[0])
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("circulations 流转", total=total, completed=demo_mod.count_circulations(engine))
        with polling(lambda: progress.update(bar, completed=demo_mod.count_circulations(engine))):  # helper processes' work too
            result = run_cascade(engine, out, concurrency=concurrency, batch=batch, started=started, deployment=deployment, runs=runs, resume=resume)
        progress.update(bar, completed=total)
    s = result.summary
    console.print(
        f"documents {s.documents} · deliveries {s.deliveries} · registrations {s.registrations} · archive items {s.archive_items} · "
        f"audit events {s.audit_events}\ncirculations {s.circulations} of {result.expected}\n"
        f"{s.documents} documents · {s.seconds:.1f} s · {result.per_second:.1f} documents/s · peak memory {s.peak_rss_mb:.0f} MB\nmanifest: {s.manifest}"
    )
    if set(s.circulations) != {"done"} or sum(s.circulations.values()) != result.expected:
        raise Refusal(f"级联未全部完成：{s.circulations}，应有 {result.expected} 个流转（用 gongwen status 查看）")


@group.command()
@friendly
def deploy(
    pool: Annotated[str, typer.Option(help="the process work pool (created if missing)")] = "gongwen",
    name: Annotated[str, typer.Option(help="deployment name: gongwen-batch-dispatch/<name>")] = "cascade",
    concurrency: Annotated[int, typer.Option(help="organisation batches each flow run runs at once")] = 2,
    batch: Annotated[int, typer.Option(help="circulations per batch")] = 16,
) -> None:
    """Create the work pool and the dispatch deployment on the Prefect server at PREFECT_API_URL;
    then start `prefect worker start --pool POOL` on every worker machine."""
    import asyncio

    from gongwen_engine.flows.runtime.distributed import deploy as deploy_dispatch

    if not os.environ.get("PREFECT_API_URL"):
        raise Refusal("请先设置 PREFECT_API_URL，指向 Prefect 服务器（如 http://prefect-host:4200/api）")
    deployment_id = asyncio.run(deploy_dispatch(pool, name, concurrency, batch))
    console.print(
        f"deployment gongwen-dispatch/{name} ({deployment_id}) on work pool {pool}\n"
        f"workers: prefect worker start --pool {pool}\nrun: gongwen cascade --out DIR --deployment gongwen-dispatch/{name}"
    )
