"""``gongwen check`` (config/ and flows/ valid?) and ``gongwen init`` (create or migrate the database)."""

from __future__ import annotations

import typer

from gongwen_engine.config.loader import FILES, load_config
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.config.yamlsrc import SourceErrors
from gongwen_engine.flows.cli._common import console, friendly
from gongwen_engine.flows.engine.definition import policy_errors
from gongwen_engine.flows.engine.versions import Behind
from gongwen_engine.flows.services import admin
from gongwen_engine.flows.services.engine import flow_definitions
from gongwen_engine.flows.services.flow_versions import behind_in_database
from gongwen_engine.models import db
from gongwen_engine.models.rules.dates import today
from gongwen_engine.models.rules.workdays import calendar_of, next_year_missing

group = typer.Typer()


@group.command()
@friendly
def check() -> None:
    """Validate config/ and flows/ (every error names file:line and the fix); list circulations in flight on older flow versions."""
    settings = Settings()
    config = load_config(settings.config_dir)
    flows = flow_definitions(settings)
    if errors := policy_errors(config.directory / FILES["policies"], flows):
        raise SourceErrors(errors)
    seals = load_seal_config(config.directory, config.organisations, settings.home)  # 用印 keys and images
    counts = (
        f"机关 {len(config.organisations)} 个，用户 {len(config.users)} 个，执行策略 {len(config.policies)} 个，印章密钥 {len(seals.file.organisations)} 个"
    )
    console.print(f"配置无误：{counts}（{config.directory}）")
    if generation := admin.database_generation(settings):
        console.print(
            f"[yellow]注意：人员、单位、部门、发文字号方案和节假日安排已由管理员在数据库中维护（第 {generation} 次变更），"
            "users.yaml、organisations.yaml、numbering.yaml 的修改不再生效；导出当前状态：gongwen config export 目录[/]"
        )
    calendar = calendar_of(config)
    if (year := next_year_missing(calendar, today())) is not None:
        console.print(f"[yellow]提醒：工作日历还没有 {year} 年的国家法定节假日安排，{year} 年的工作日时限将无法计算。{calendar.how_to_enter(year)}。[/]")
    for f in flows.values():
        console.print(f"流程无误：{f.flow}（版本 {f.version}）：" + " → ".join(s.title for s in f.steps.values()))
    print_behind(behind_in_database(settings) or [])


def print_behind(behind: list[Behind]) -> None:
    """The circulations in flight on an older flow version, and whether each can move to the current one."""
    if not behind:
        return
    console.print(f"[yellow]有 {len(behind)} 个流转仍按旧版本流程办理（办结前保持原版本；迁移：gongwen migrate-flow 流转号 --to current）：[/]")
    for b in behind:
        where = f"当前环节“{b.step_title}”" if b.step else "无当前环节"
        fate = f"新版本中对应“{b.counterpart}”，可迁移" if b.counterpart else f"不能迁移：{b.reason}"
        console.print(f"  流转 {b.circulation_id}（{b.org}）：{b.flow} 版本 {b.version} → 当前 {b.current}；{where}；{fate}", markup=False)


@group.command()
@friendly
def init() -> None:
    """Create or migrate the database (Alembic) at GONGWEN_DATABASE_URL or ./.gongwen/gongwen.db."""
    url = Settings().resolved_database_url
    db.migrate(url)
    console.print(f"数据库已就绪：{db.get_engine(url).url.render_as_string(hide_password=True)}")
