"""``gongwen check-invariants``: nothing lost, nothing twice (see ``flows/invariants.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.cli._common import console, friendly
from gongwen_engine.flows.services import demo as demo_mod
from gongwen_engine.flows.services.cascade import RunRecord, cascade_settings
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.invariants import check_invariants

group = typer.Typer()


def folder_settings(out: Path) -> Settings:
    """The settings of a cascade or demo folder (its database under DIR/.gongwen, its documents in DIR)."""
    if not (out / ".gongwen").is_dir():
        raise Refusal(f"{out} 不是级联或演示的输出目录（没有 .gongwen 子目录）：请给出 gongwen cascade/demo 的 --out 目录")
    record = RunRecord.read(out)
    if record is not None:
        return cascade_settings(out, record)
    return Settings(home=out / ".gongwen", storage=out, database_url=Settings().database_url)


@group.command("check-invariants")
@friendly
def check_invariants_cmd(
    out: Annotated[
        Path | None, typer.Option(help="a `gongwen cascade` or `gongwen demo` folder (default: the database of GONGWEN_HOME / GONGWEN_DATABASE_URL)")
    ] = None,
    root: Annotated[
        str | None,
        typer.Option(
            help="the organisation whose notice went down the tree: every organisation below it must hold its share once "
            "(default with --out: the notice's issuer)"
        ),
    ] = None,
    finished: Annotated[bool | None, typer.Option("--finished/--unfinished-ok", help="every circulation must be done (default: yes with --out)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report")] = False,
) -> None:
    """Check the invariants: every document once, numbers contiguous per prefix and year, every
    delivery, registration and archive item once, `archive verify` clean, every step audited.
    Exit code 1 when anything is violated."""
    if out is not None:
        out = out.resolve()
        settings = folder_settings(out)
        root = root or demo_mod.load_notice()[0]
        finished = True if finished is None else finished
        required = finished and RunRecord.read(out) is not None  # a finished cascade writes it; a demo continued with `gongwen run` does not
        manifest = out / "manifest.json" if (out / "manifest.json").exists() or required else None
    else:
        settings, manifest = Settings(), None
    engine = open_engine(settings, clean=False)  # leftovers are reported, not removed
    try:
        report = check_invariants(engine, root=root, expect_finished=bool(finished), manifest=manifest)
    finally:
        engine.db.dispose()
    if as_json:
        print(report.as_json())
    else:
        for v in report.violations:
            console.print(f"[red]✗[/] {v}", highlight=False)
        checked = " · ".join(f"{k} {v}" for k, v in report.checked.items())
        console.print(f"已核对：{checked}\n违反规则 {len(report.violations)} 处", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
