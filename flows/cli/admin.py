"""Administration: ``gongwen admin …`` (系统管理, ``flows/services/admin.py``). Every command names
the administrator who acts (``--user``); each change is checked for that person's organisations,
audited, and takes effect in running servers and workers without a restart."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.cli._common import JsonOpt, console, engine_from_env, friendly
from gongwen_engine.flows.services import admin
from gongwen_engine.models.rules.dates import shown

group = typer.Typer(help="系统管理: people, organisations, departments, numbering, calendar (an administrator's commands)", no_args_is_help=True)
person = typer.Typer(help="人员: add, change, disable, enable, reset a password, end sessions", no_args_is_help=True)
org = typer.Typer(help="单位: add one under yours, rename", no_args_is_help=True)
department = typer.Typer(help="部门: add, rename", no_args_is_help=True)
group.add_typer(person, name="person")
group.add_typer(org, name="org")
group.add_typer(department, name="department")

AdminOpt = Annotated[str, typer.Option("--user", help="the administrator who acts (role administrator)")]
RolesOpt = Annotated[str | None, typer.Option(help="role codes, comma-separated, e.g. secretary,leader (config/roles.yaml)")]


def _roles(text: str | None) -> list[str] | None:
    return [r.strip() for r in text.split(",") if r.strip()] if text is not None else None


@person.command("add")
@friendly
def person_add(
    user: AdminOpt,
    user_id: Annotated[str, typer.Argument(help="the new person's user name, e.g. acwf_deputy2")],
    name: Annotated[str, typer.Option(help="姓名")],
    org_code: Annotated[str, typer.Option("--org", help="organisation code")],
    roles: Annotated[str, typer.Option(help="role codes, comma-separated")],
    department_name: Annotated[str | None, typer.Option("--department", help="部门")] = None,
    title: Annotated[str | None, typer.Option(help="职务, e.g. 副主席")] = None,
    deputy: Annotated[str | None, typer.Option(help="副职: the user id of the person this one deputises for")] = None,
) -> None:
    """添加人员 (then `gongwen admin person reset-password` gives them a first password)."""
    done = admin.add_person(engine_from_env(), user, user_id, name, org_code, _roles(roles) or [], department_name, title, deputy)
    console.print(done.text)


@person.command("change")
@friendly
def person_change(
    user: AdminOpt,
    user_id: Annotated[str, typer.Argument(help="whose details change")],
    name: Annotated[str | None, typer.Option(help="姓名")] = None,
    org_code: Annotated[str | None, typer.Option("--org", help="move to this organisation")] = None,
    roles: RolesOpt = None,
    department_name: Annotated[str | None, typer.Option("--department", help="部门 ('' clears it)")] = None,
    title: Annotated[str | None, typer.Option(help="职务 ('' clears it)")] = None,
    deputy: Annotated[str | None, typer.Option(help="副职 of ('' clears it)")] = None,
) -> None:
    """修改人员: name, organisation, roles, department, title, deputy (items they may no longer act on go to the role)."""
    done = admin.change_person(
        engine_from_env(), user, user_id, name=name, org=org_code, roles=_roles(roles), department=department_name, title=title, deputy=deputy
    )
    console.print(done.text)


@person.command("disable")
@friendly
def person_disable(user: AdminOpt, user_id: Annotated[str, typer.Argument(help="who leaves")]) -> None:
    """停用人员: no sign-in, no action; their open items go to their role; their sessions end."""
    console.print(admin.disable_person(engine_from_env(), user, user_id).text)


@person.command("enable")
@friendly
def person_enable(user: AdminOpt, user_id: Annotated[str, typer.Argument(help="who comes back")]) -> None:
    """启用人员 again."""
    console.print(admin.enable_person(engine_from_env(), user, user_id).text)


@person.command("reset-password")
@friendly
def person_reset_password(user: AdminOpt, user_id: Annotated[str, typer.Argument(help="whose password")]) -> None:
    """重设密码: prints a new password once; the person sets their own at next sign-in."""
    password = admin.reset_password(engine_from_env(), user, user_id)
    console.print(f"{user_id} 的临时密码（只显示这一次）：{password}\n对方下次登录时须设置自己的密码。")


@person.command("end-sessions")
@friendly
def person_end_sessions(user: AdminOpt, user_id: Annotated[str, typer.Argument(help="whose sessions")]) -> None:
    """结束会话: sign the person out everywhere now."""
    console.print(f"已结束 {user_id} 的 {admin.end_person_sessions(engine_from_env(), user, user_id)} 个登录会话")


@group.command("people")
@friendly
def people(user: AdminOpt, org_code: Annotated[str, typer.Option("--org", help="organisation code")], as_json: JsonOpt = False) -> None:
    """人员名单 of an organisation you administer."""
    found = admin.people(engine_from_env(), user, org_code)
    if as_json:
        console.print_json(json.dumps([u.model_dump(mode="json") for u in found], ensure_ascii=False))
        return
    for u in found:
        state = "（已停用）" if u.disabled else ""
        console.print(f"{u.id}\t{u.name}{state}\t{','.join(u.roles)}\t{u.department or ''}\t{u.title or ''}")


@org.command("add")
@friendly
def org_add(
    user: AdminOpt,
    code: Annotated[str, typer.Argument(help="the new organisation's code, e.g. jinan_new")],
    name: Annotated[str, typer.Option(help="全称")],
    short_name: Annotated[str, typer.Option(help="规范化简称")],
    parent: Annotated[str, typer.Option(help="the superior organisation's code (yours or one below it)")],
    prefixes: Annotated[str, typer.Option(help="机关代字, comma-separated")],
    fonds: Annotated[str, typer.Option(help="全宗号")],
) -> None:
    """添加下级单位."""
    done = admin.add_organisation(engine_from_env(), user, code, name, short_name, parent, [p.strip() for p in prefixes.split(",") if p.strip()], fonds)
    console.print(done.text)


@org.command("rename")
@friendly
def org_rename(
    user: AdminOpt,
    code: Annotated[str, typer.Argument(help="the organisation's code (stays)")],
    name: Annotated[str | None, typer.Option(help="新全称")] = None,
    short_name: Annotated[str | None, typer.Option(help="新简称")] = None,
    mark: Annotated[str | None, typer.Option(help="新发文机关标志")] = None,
) -> None:
    """单位更名: code, fonds, prefixes and numbers stay."""
    console.print(admin.rename_organisation(engine_from_env(), user, code, name, short_name, mark).text)


@department.command("add")
@friendly
def department_add(user: AdminOpt, org_code: Annotated[str, typer.Option("--org")], name: Annotated[str, typer.Argument(help="部门名称")]) -> None:
    """添加部门."""
    console.print(admin.add_department(engine_from_env(), user, org_code, name).text)


@department.command("rename")
@friendly
def department_rename(
    user: AdminOpt, org_code: Annotated[str, typer.Option("--org")], old: Annotated[str, typer.Argument()], new: Annotated[str, typer.Argument()]
) -> None:
    """部门更名 (the people in it follow)."""
    console.print(admin.rename_department(engine_from_env(), user, org_code, old, new).text)


@group.command("scheme")
@friendly
def scheme(
    user: AdminOpt,
    prefix: Annotated[str, typer.Argument(help="机关代字, e.g. 鲁妇发")],
    year: Annotated[int, typer.Option(help="年度")],
    start: Annotated[int, typer.Option(help="the first serial of that year")],
) -> None:
    """发文字号方案: from which number a prefix counts in a year (each year starts anew)."""
    console.print(admin.set_scheme(engine_from_env(), user, prefix, year, start).text)


def _holiday(text: str) -> tuple[str, date, date | None]:
    parts = text.split(":")
    try:
        if len(parts) == 2:
            return parts[0], date.fromisoformat(parts[1]), None
        if len(parts) == 3:
            return parts[0], date.fromisoformat(parts[1]), date.fromisoformat(parts[2])
    except ValueError:
        pass
    raise Refusal(f"假日“{text}”写法不对：写作 名称:起始日期[:结束日期]，例如 春节:2027-02-05:2027-02-12")


@group.command("calendar")
@friendly
def calendar(
    user: AdminOpt,
    year: Annotated[int, typer.Option(help="年度")],
    notice: Annotated[str, typer.Option(help="the notice's title and number, as published")],
    holiday: Annotated[list[str], typer.Option(help="NAME:FROM[:TO], repeat, e.g. 元旦:2027-01-01:2027-01-03")],
    workday: Annotated[list[str] | None, typer.Option(help="调休上班日 YYYY-MM-DD, repeat")] = None,
) -> None:
    """录入一年的节假日安排 (the whole tree's administrator)."""
    try:
        workdays = [date.fromisoformat(d) for d in workday or []]
    except ValueError:
        raise Refusal("调休上班日写作 YYYY-MM-DD，例如 2027-02-20") from None
    console.print(admin.set_calendar_year(engine_from_env(), user, year, notice, [_holiday(h) for h in holiday], workdays).text)


@group.command("log")
@friendly
def log(user: AdminOpt, limit: Annotated[int, typer.Option(help="how many")] = 50, as_json: JsonOpt = False) -> None:
    """管理记录: the administrative changes about your organisations, newest first (who, what, before → after)."""
    rows = admin.admin_changes(engine_from_env(), user, limit)
    if as_json:
        console.print_json(json.dumps([{"at": r.at.isoformat(), "actor": r.actor, "action": r.action, **r.detail} for r in rows], ensure_ascii=False))
        return
    for r in rows:
        console.print(
            f"{shown(r.at)}\t{r.actor}\t{r.action.removeprefix(admin.ADMIN_PREFIX)}\t{r.detail.get('target', '')}\t"
            f"{json.dumps(r.detail.get('before'), ensure_ascii=False)} → {json.dumps(r.detail.get('after'), ensure_ascii=False)}"
        )


@group.command("import")
@friendly
def import_tree(
    user: AdminOpt,
    sheet: Annotated[Path, typer.Argument(help=".xlsx or .csv: 代码, 全称, 简称, 上级, 机关代字, 全宗号")],
    yes: Annotated[bool, typer.Option("--yes", help="import after showing the preview (without it: preview only)")] = False,
) -> None:
    """从表格导入单位: a preview of what changes and the wrong rows; --yes imports."""
    if not sheet.is_file():
        raise Refusal(f"找不到表格文件 {sheet}：请核对路径")
    engine = engine_from_env()
    preview = admin.preview_tree(engine, user, sheet.name, sheet.read_bytes())
    for line in preview.lines:
        console.print(f"第 {line.row} 行\t{line.code}\t{line.what}\t{line.text}")
    for row, message in preview.errors:
        console.print(f"[red]第 {row} 行：{message}[/red]")
    if preview.errors:
        raise Refusal(f"表格有 {len(preview.errors)} 处错误，没有导入：改正后重新运行")
    if not yes:
        console.print(f"共 {preview.changes} 项变更；确认无误后加 --yes 导入。")
        return
    console.print(admin.import_tree(engine, user, preview.digest).text)


config_group = typer.Typer(help="配置: export the installation's state as config files, or import them (a diff first)", no_args_is_help=True)


@config_group.command("export")
@friendly
def config_export(folder: Annotated[Path, typer.Argument(help="where to write the config files")]) -> None:
    """Write the state (people, organisations, numbering, calendar; the database's if an administrator changed it) as config files."""
    for path in admin.export_config(engine_from_env(), folder):
        console.print(f"已写出 {path}")


@config_group.command("import")
@friendly
def config_import(
    user: AdminOpt,
    folder: Annotated[Path, typer.Argument(help="a config folder, e.g. one `gongwen config export` wrote")],
    yes: Annotated[bool, typer.Option("--yes", help="import after showing the differences (without it: differences only)")] = False,
) -> None:
    """Show what the folder would change; with --yes it replaces the database's state (the whole tree's administrator)."""
    engine = engine_from_env()
    lines = admin.config_diff(engine, folder)
    for line in lines:
        console.print(line)
    if not lines:
        console.print("与当前配置一致，没有变更。")
        return
    if not yes:
        console.print(f"共 {len(lines)} 项变更；确认无误后加 --yes 导入。")
        return
    console.print(admin.import_config(engine, user, folder).text)


@group.command("seal")
@friendly
def seal(
    user: AdminOpt,
    org_code: Annotated[str, typer.Option("--org", help="whose seal")],
    image: Annotated[Path, typer.Option(help="the seal image: PNG, red on transparent, square")],
    key: Annotated[Path, typer.Option(help="the private key: PEM, without a passphrase")],
    certificate: Annotated[Path, typer.Option(help="the certificate: PEM or DER")],
) -> None:
    """上传印章: validated, kept by gongwen, never shown again (only the certificate's subject and fingerprint)."""
    for path in (image, key, certificate):
        if not path.is_file():
            raise Refusal(f"找不到文件 {path}：请核对路径")
    done = admin.upload_seal(engine_from_env(), user, org_code, image.read_bytes(), key.read_bytes(), certificate.read_bytes())
    console.print(f"已上传 {org_code} 的印章：证书 {done.subject}，有效期至 {done.not_after}，指纹 SHA-256 {done.certificate_sha256}")
