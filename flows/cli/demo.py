"""``gongwen demo``: the seed chain, 全国妇联 down to the counties (演示)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli._common import console, friendly
from gongwen_engine.flows.cli.reporting import print_board
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.flows.services.engine import open_engine

group = typer.Typer()


@group.command()
@friendly
def demo(
    out: Annotated[Path, typer.Option(help="folder for the .docx files, manifest.json and the demo database")],
    concurrency: Annotated[int, typer.Option(help="circulations run at once")] = 4,
    interactive: Annotated[bool, typer.Option(help="leave the province's sign-off (签发) waiting for a person")] = False,
) -> None:
    """Run the seed chains: 全国妇联 issues 妇字〔2012〕2号, 山东省妇联 forwards it to 16 cities, cities to counties
    (seed 001); 湖南省妇联 receives 全国妇联办公厅's notice and issues its own with both attachments (seed 000)."""
    out = out.resolve()
    if (out / "manifest.json").exists():
        raise Refusal(f"{out} 已有一次演示结果（manifest.json）。请换一个空目录，或先删除该目录")
    out.mkdir(parents=True, exist_ok=True)
    url = os.environ.get("GONGWEN_DATABASE_URL")
    settings = Settings(home=out / ".gongwen", storage=out, database_url=SecretStr(url) if url else None)
    started = demo_mod.timer()
    engine = open_engine(settings)
    if status_counts(engine):  # a demo killed half-way: launching again would send the notice twice
        raise Refusal(f"{out} 的数据库中已有一次演示（未完成）。继续它：GONGWEN_HOME={settings.home} GONGWEN_STORAGE={out} gongwen run；或换一个空目录")
    org, content = demo_mod.load_notice()
    # + 山东省妇联's report (报送) and 全国妇联's receipt of it (阅知), seed 000's two
    total = demo_mod.expected_circulations(engine, org) + (0 if interactive else 2) + 2
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        bar = progress.add_task("流转", total=total)
        root = engine.launch(org, "issuing", content, policy="demo_interactive" if interactive else "demo", actor=f"{org}_secretary")
        reporting.add_requirements(engine, root, reporting.load_requirement_specs(demo_mod.NATIONAL_NOTICE), f"{org}_secretary")
        from gongwen_engine.flows.runtime.runner import run_until_idle

        run_until_idle(engine, concurrency=concurrency, on_progress=lambda: progress.update(bar, completed=demo_mod.count_circulations(engine)))
        # Seed 000, after 妇字〔2012〕2号 has reached 湖南省妇联 (its register numbers follow the dates):
        # 全国妇联办公厅's notice received, then Hunan's own notice with 附件1/附件2.
        demo_mod.launch_seed_000(engine)
        if not interactive:  # 山东省妇联 sends its 活动实施方案 up; 湖南省妇联 does not (the board shows it missing)
            reporting.demo_submission(engine)
        run_until_idle(engine, concurrency=concurrency)
        progress.update(bar, completed=demo_mod.count_circulations(engine))
    manifest = demo_mod.write_manifest(engine, out)
    s = demo_mod.summarise(engine, manifest, demo_mod.timer() - started)
    console.print(
        f"documents {s.documents} · deliveries {s.deliveries} · registrations {s.registrations} · archive items {s.archive_items} · "
        f"audit events {s.audit_events}\ncirculations {s.circulations} · {s.seconds:.1f} s · peak memory {s.peak_rss_mb:.0f} MB\nmanifest: {s.manifest}"
    )
    if s.ofd_verified or s.ofd_failed:
        console.print(f"OFD 电子印章核验：{s.ofd_verified} 份通过" + (f"，{len(s.ofd_failed)} 份未通过：{'；'.join(s.ofd_failed)}" if s.ofd_failed else ""))
    if s.ofd_failed:
        raise Refusal("演示生成的 OFD 电子印章未通过核验（见上）：请检查 config/seals.yaml 与 GONGWEN_HOME 下的演示证书")
    console.print("\n督办台账")
    print_board(reporting.board(engine))
    if interactive:
        env = f"GONGWEN_HOME={settings.home} GONGWEN_STORAGE={out}"
        console.print(
            "\n省级单位的签发正在等待领导办理：\n"
            f"  {env} gongwen inbox --user shandong_leader\n"
            f"  {env} gongwen approve <item> --user shandong_leader --comment 同意\n"
            "办理后，级联继续下达到各市、县。",
            markup=False,
        )
        return
    if set(s.circulations) != {"done"}:
        raise Refusal(f"演示未全部完成：{s.circulations}（用 gongwen status 查看）")
