"""Administration (系统管理, issue 24): people, organisations, departments, numbering schemes and
calendar years, changed by an administrator without editing YAML or restarting.

**Who may.** A person with the ``administrator`` role (管理员) administers their own organisation
and every organisation under it; the administrator of the tree's root administers the whole tree
(and alone enters the national calendar). Everything else is refused with a ``Refusal`` saying
what, where and how to fix it.

**How a change is made.** One transaction: the database is seeded from ``config/*.yaml`` if it
does not hold the state yet (``models/admin.py``), the change is checked against the state as it
is now and stored, the generation is bumped, and one audit record (who, what, before → after) is
chained with it. Running processes see the new generation at their next request or step.

**Work in flight.** Disabling a person gives their open items to their role (anyone of the
organisation with it) and ends their sessions; renaming an organisation changes its names only:
its code, fonds, prefixes and numbers, and so its history, stay.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from pydantic import ValidationError
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Level, NumberScheme, Organisation, Role, User
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.signin import end_sessions
from gongwen_engine.models import admin, db
from gongwen_engine.models.audit import record
from gongwen_engine.models.rules.workdays import Holiday, YearArrangement, year_days
from gongwen_engine.models.tables import (
    AdminCalendarYear,
    AdminDepartment,
    AdminOrganisation,
    AdminPerson,
    AdminScheme,
    AuditEvent,
    NumberCounter,
    WorkItem,
    WorkItemStatus,
    utcnow,
)

ADMIN_PREFIX = "admin."  # audit actions of administrative changes: admin.person_added, admin.org_renamed, …
CHILD_LEVEL = {Level.national: Level.provincial, Level.provincial: Level.prefectural, Level.prefectural: Level.county, Level.county: Level.county}
_HASHER = PasswordHasher()
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Change:
    """What a change did, for the person: the words and the audit record's detail."""

    text: str
    detail: dict[str, Any]
    org: str | None = None  # the organisation the change concerns (the audit record's)


# ---- who may --------------------------------------------------------------------------------------


def administered(config: Config, actor_id: str) -> list[str]:
    """The organisation codes ``actor_id`` administers: their own and all below it (none if not an administrator)."""
    actor = config.users.get(actor_id)
    if actor is None or actor.disabled or Role.administrator not in actor.roles:
        return []
    found, todo = [], [actor.org]
    while todo:
        code = todo.pop(0)
        found.append(code)
        todo.extend(c.code for c in config.children(code))
    return found


def _may_administer(config: Config, actor_id: str, org: str, what: str) -> None:
    if actor_id not in config.users:
        raise Refusal(f"未知用户“{actor_id}”：请用管理员的用户名办理{what}")
    actor = config.users[actor_id]
    if Role.administrator not in actor.roles or actor.disabled:
        raise Refusal(f"{actor.name}（{actor_id}）不是管理员，不能{what}：请由本单位的管理员办理，或请上级管理员授予“管理员”角色")
    if org not in config.organisations:
        raise Refusal(f"未知单位代码“{org}”：请核对单位代码（gongwen admin orgs 列出可管理的单位）")
    if org not in administered(config, actor_id):
        mine = config.org(actor.org).short_name
        raise Refusal(
            f"{actor.name}（{actor_id}）是{mine}的管理员，不能{what}（{config.org(org).short_name}不在{mine}及其下级单位中）："
            f"请由{config.org(org).short_name}或其上级单位的管理员办理"
        )


def _root_admin(config: Config, actor_id: str, what: str) -> None:
    actor = config.user(actor_id)
    roots = [o.code for o in config.organisations.values() if o.parent is None]
    if Role.administrator not in actor.roles or actor.disabled or actor.org not in roots:
        raise Refusal(f"{actor.name}（{actor_id}）不能{what}：全国工作日历只能由最上级单位（{'、'.join(config.org(r).short_name for r in roots)}）的管理员录入")


# ---- the one way a change is made -----------------------------------------------------------------


def _change(engine: Engine, actor: str, action: str, org: str | None, apply: Callable[[Session, Config], Change]) -> Change:
    """Seed if needed, check and apply against the state now, bump, audit — one transaction."""
    with db.transaction(engine.db) as session:
        admin.seed(session, engine.files_config)
        config = admin.config_of(session, engine.files_config)
        done = apply(session, config)
        generation = admin.bump(session, actor)
        record(session, actor, ADMIN_PREFIX + action, org=done.org or org, detail={**done.detail, "generation": generation})
    engine.refresh_config()
    return done


def _person_row(session: Session, user_id: str) -> AdminPerson:
    row = session.get(AdminPerson, user_id)
    if row is None:
        raise Refusal(f"未知用户“{user_id}”：请核对用户名（gongwen admin people --org 单位代码 列出本单位人员）")
    return row


def _check_person(config: Config, user: User) -> None:
    unknown = [r for r in user.roles if r not in config.roles]
    if unknown:
        raise Refusal(f"未知角色“{'、'.join(unknown)}”：可选 {'、'.join(f'{c}（{label}）' for c, label in config.roles.items())}（角色见 config/roles.yaml）")
    if user.department and user.department not in config.departments.get(user.org, ()):
        known = "、".join(config.departments.get(user.org, ())) or "无"
        raise Refusal(f"{config.org(user.org).short_name}没有部门“{user.department}”：现有 {known}；请先添加部门（gongwen admin department add）")
    if user.deputy is not None:
        principal = config.users.get(user.deputy)
        if principal is None or principal.org != user.org or principal.id == user.id:
            raise Refusal(f"副职所属的负责人“{user.deputy}”须为同一单位的另一人员：请核对用户名")


def _user(**fields: Any) -> User:
    if len(str(fields.get("id", ""))) > 64 or not 1 <= len(str(fields.get("name") or "")) <= 50 or len(str(fields.get("title") or "")) > 30:
        raise Refusal("用户名不超过 64 个字符，姓名须为 1 至 50 个字，职务不超过 30 个字")
    try:
        return User.model_validate(fields)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc']))}：{e['msg']}" for e in exc.errors())
        raise Refusal(f"人员信息不完整或有误（{problems}）：用户名须为小写字母开头的字母、数字、下划线，姓名和角色必填") from None


# ---- people ---------------------------------------------------------------------------------------


def add_person(
    engine: Engine,
    actor: str,
    user_id: str,
    name: str,
    org: str,
    roles: list[str],
    department: str | None = None,
    title: str | None = None,
    deputy: str | None = None,
) -> Change:
    """添加人员: a new person of ``org`` with ``roles``; they sign in after a password is set (``reset_password``)."""

    def apply(session: Session, config: Config) -> Change:
        _may_administer(config, actor, org, "添加人员")
        if user_id in config.users:
            raise Refusal(f"用户名“{user_id}”已被 {config.users[user_id].name} 使用：请另选一个用户名")
        user = _user(id=user_id, name=name.strip(), org=org, roles=roles, department=department or None, title=title or None, deputy=deputy or None)
        _check_person(config, user)
        session.add(AdminPerson(id=user_id, position=admin.next_position(session, AdminPerson), data=admin.dump(user)))
        return Change(f"已添加人员 {user.name}（{user_id}，{config.org(org).short_name}）", {"target": user_id, "before": None, "after": admin.dump(user)})

    return _change(engine, actor, "person_added", org, apply)


def change_person(engine: Engine, actor: str, user_id: str, **changes: Any) -> Change:
    """修改人员: name, organisation, department, title, roles, deputy (None leaves a field as it is;
    an empty text clears department, title or deputy). Moving a person checks both organisations."""

    def apply(session: Session, config: Config) -> Change:
        row = _person_row(session, user_id)
        before = User.model_validate(row.data)
        _may_administer(config, actor, before.org, "修改人员")
        given = {k: v for k, v in changes.items() if v is not None}
        for key in ("department", "title", "deputy"):
            if given.get(key) == "":
                given[key] = None
        if given.get("org", before.org) != before.org:  # moved: the old organisation's department and principal do not follow
            for key in ("department", "deputy"):
                if given.get(key, getattr(before, key)) == getattr(before, key):
                    given[key] = None
        after = _user(**{**admin.dump(before), **given})
        if after.org != before.org:
            _may_administer(config, actor, after.org, "把人员调入该单位")
        _check_person(config, after)
        if after == before:
            raise Refusal(f"{before.name}（{user_id}）的信息没有变化：请给出要修改的项")
        row.data = admin.dump(after)
        session.add(row)
        _reassign_items(session, config, before, after)
        old, new = admin.dump(before), admin.dump(after)
        changed = [k for k in new if old.get(k) != new.get(k)]  # before → after of what changed only
        detail = {"target": user_id, "before": {k: old.get(k) for k in changed}, "after": {k: new[k] for k in changed}}
        return Change(f"已修改人员 {after.name}（{user_id}）", detail, before.org)

    return _change(engine, actor, "person_changed", None, apply)


def disable_person(engine: Engine, actor: str, user_id: str) -> Change:
    """停用人员: they can no longer sign in or act; their open items go to their role; sessions end."""

    def apply(session: Session, config: Config) -> Change:
        row = _person_row(session, user_id)
        before = User.model_validate(row.data)
        _may_administer(config, actor, before.org, "停用人员")
        if before.disabled:
            raise Refusal(f"{before.name}（{user_id}）已停用")
        if user_id == actor:
            raise Refusal("不能停用自己：请由另一位管理员办理")
        after = before.model_copy(update={"disabled": True})
        row.data = admin.dump(after)
        session.add(row)
        moved = _reassign_items(session, config, before, after)
        return Change(
            f"已停用 {before.name}（{user_id}）；其 {moved} 件待办已转给本单位相应角色的人员",
            {"target": user_id, "before": {"disabled": False}, "after": {"disabled": True}, "items_to_role": moved},
            before.org,
        )

    done = _change(engine, actor, "person_disabled", None, apply)
    end_sessions(engine, user_id, "ended_by_admin")
    return done


def enable_person(engine: Engine, actor: str, user_id: str) -> Change:
    """启用人员 again (a password reset may be needed: ``reset_password``)."""

    def apply(session: Session, config: Config) -> Change:
        row = _person_row(session, user_id)
        before = User.model_validate(row.data)
        _may_administer(config, actor, before.org, "启用人员")
        if not before.disabled:
            raise Refusal(f"{before.name}（{user_id}）未停用")
        row.data = admin.dump(before.model_copy(update={"disabled": False}))
        session.add(row)
        return Change(f"已启用 {before.name}（{user_id}）", {"target": user_id, "before": {"disabled": True}, "after": {"disabled": False}}, before.org)

    return _change(engine, actor, "person_enabled", None, apply)


def _reassign_items(session: Session, config: Config, before: User, after: User) -> int:
    """A person's open items they may no longer act on (disabled, moved, a role taken away) go to
    the item's role: anyone of the organisation holding it (an item of that role already open for
    the step takes its place)."""
    moved = 0
    for item in session.exec(select(WorkItem).where(WorkItem.assignee == before.id, WorkItem.status == WorkItemStatus.open)):
        if not after.disabled and after.org == item.org and (item.role is None or item.role in after.roles):
            continue
        slot = f"role:{item.role}"
        taken = session.exec(
            select(WorkItem).where(
                WorkItem.circulation_id == item.circulation_id, WorkItem.step == item.step, WorkItem.slot == slot, WorkItem.status == WorkItemStatus.open
            )
        ).first()
        if taken is not None:
            item.status, item.finished_at = WorkItemStatus.cancelled, utcnow()
        else:
            item.assignee, item.slot = None, slot
        session.add(item)
        moved += 1
    session.flush()
    return moved


def reset_password(engine: Engine, actor: str, user_id: str) -> str:
    """重设密码: a new random password, shown once to the administrator; the person must set their
    own at next sign-in, and their sessions end."""
    password = secrets.token_urlsafe(9)

    def apply(session: Session, config: Config) -> Change:
        row = _person_row(session, user_id)
        org = User.model_validate(row.data).org
        _may_administer(config, actor, org, "重设密码")
        row.password_hash, row.must_change_password = _HASHER.hash(password), True
        session.add(row)
        return Change(f"已重设 {row.data['name']}（{user_id}）的密码", {"target": user_id, "before": None, "after": {"must_change_password": True}}, org)

    _change(engine, actor, "password_reset", None, apply)
    end_sessions(engine, user_id, "ended_by_admin")
    return password


def change_own_password(engine: Engine, user_id: str, new_password: str) -> None:
    """The person sets their own password (after a reset, or any time); their other sessions end."""
    if len(new_password) < MIN_PASSWORD:
        raise Refusal(f"新密码太短：至少 {MIN_PASSWORD} 个字符")
    if len(new_password) > 128:
        raise Refusal("新密码太长：不超过 128 个字符")

    def apply(session: Session, config: Config) -> Change:
        row = _person_row(session, user_id)
        row.password_hash, row.must_change_password = _HASHER.hash(new_password), False
        session.add(row)
        return Change("密码已修改", {"target": user_id, "before": None, "after": {"must_change_password": False}})

    _change(engine, user_id, "password_changed", None, apply)


def use_file_password(engine: Engine, user_id: str) -> None:
    """``gongwen passwords --user`` wrote the person's hash to passwords.yaml: a password set in the
    database (a reset, their own change) no longer takes precedence over it."""
    with db.transaction(engine.db) as session:
        row = session.get(AdminPerson, user_id)
        if row is not None and (row.password_hash or row.must_change_password):
            row.password_hash, row.must_change_password = None, False
            session.add(row)


def database_generation(settings: Settings) -> int | None:
    """The administrative generation of the installation's database (``gongwen check``): 0 while the
    config files hold the state, None when there is no database yet (nothing is created)."""
    from sqlalchemy.engine import make_url

    from gongwen_engine.flows.services.engine import open_engine

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None
    return open_engine(settings).config.generation


def password_state(engine: Engine) -> tuple[dict[str, str], frozenset[str]]:
    """Passwords set in the database (user id -> argon2 hash; they take precedence over passwords.yaml)
    and who must change theirs at next sign-in."""
    with Session(engine.db) as session:
        rows = list(session.exec(select(AdminPerson).where(col(AdminPerson.password_hash).is_not(None))))
    return {r.id: r.password_hash for r in rows if r.password_hash}, frozenset(r.id for r in rows if r.must_change_password)


def end_person_sessions(engine: Engine, actor: str, user_id: str) -> int:
    """结束会话: every live web session of the person ends now (audited)."""
    config = engine.refresh_config()
    _may_administer(config, actor, config.user(user_id).org, "结束人员的登录会话")
    ended = end_sessions(engine, user_id, "ended_by_admin")
    with db.transaction(engine.db) as session:
        record(session, actor, ADMIN_PREFIX + "sessions_ended", org=config.user(user_id).org, detail={"target": user_id, "ended": ended})
    return ended


def people(engine: Engine, actor: str, org: str) -> list[User]:
    """The people of ``org`` (disabled ones too), for an administrator of it."""
    config = engine.refresh_config()
    _may_administer(config, actor, org, "查看人员")
    return [u for u in config.users.values() if u.org == org]


# ---- organisations and departments ----------------------------------------------------------------


def add_organisation(
    engine: Engine,
    actor: str,
    code: str,
    name: str,
    short_name: str,
    parent: str,
    prefixes: list[str],
    fonds: str,
    mark: str | None = None,
    printed_by: str | None = None,
) -> Change:
    """添加下级单位 under ``parent`` (which the administrator administers)."""

    def apply(session: Session, config: Config) -> Change:
        _may_administer(config, actor, parent, "添加下级单位")
        org = _new_org(config, code, name, short_name, parent, prefixes, fonds, mark, printed_by)
        session.add(AdminOrganisation(code=code, position=admin.next_position(session, AdminOrganisation), data=admin.dump(org)))
        return Change(
            f"已添加单位 {org.short_name}（{code}，上级 {config.org(parent).short_name}）", {"target": code, "before": None, "after": admin.dump(org)}
        )

    return _change(engine, actor, "org_added", parent, apply)


def _new_org(
    config: Config,
    code: str,
    name: str,
    short_name: str,
    parent: str,
    prefixes: list[str],
    fonds: str,
    mark: str | None = None,
    printed_by: str | None = None,
    taken_prefixes: dict[str, str] | None = None,
) -> Organisation:
    if len(code) > 64 or not 2 <= len(name.strip()) <= 100 or not 2 <= len(short_name.strip()) <= 50 or len(prefixes) > 10:
        raise Refusal("单位代码不超过 64 个字符，全称 2 至 100 个字，简称 2 至 50 个字，机关代字不超过 10 个")
    if code in config.organisations:
        raise Refusal(f"单位代码“{code}”已被 {config.organisations[code].short_name} 使用：请另选一个代码")
    owners = taken_prefixes if taken_prefixes is not None else {p: o.code for o in config.organisations.values() for p in o.prefixes}
    for prefix in prefixes:
        if prefix in owners:
            raise Refusal(f"机关代字“{prefix}”已属于 {owners[prefix]}：每个代字只能属于一个单位，请另选")
    try:
        return Organisation(
            code=code,
            name=name.strip(),
            short_name=short_name.strip(),
            level=CHILD_LEVEL[config.org(parent).level],
            parent=parent,
            prefixes=prefixes,
            mark=mark or f"{name.strip()}文件",
            printed_by=printed_by or f"{short_name.strip()}办公室",
            fonds=fonds,
        )
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc']))}：{e['msg']}" for e in exc.errors())
        raise Refusal(f"单位信息有误（{problems}）：代码为小写字母开头的字母、数字、下划线，全宗号为 1-10 位大写字母或数字，至少一个机关代字") from None


def rename_organisation(engine: Engine, actor: str, code: str, name: str | None = None, short_name: str | None = None, mark: str | None = None) -> Change:
    """更名: the names change; the code, fonds, prefixes and numbers (its history) stay."""

    def apply(session: Session, config: Config) -> Change:
        _may_administer(config, actor, code, "更改单位名称")
        row = session.get(AdminOrganisation, code)
        assert row is not None  # seeded with every configured organisation
        before = Organisation.model_validate(row.data)
        update = {k: v.strip() for k, v in {"name": name, "short_name": short_name, "mark": mark}.items() if v and v.strip()}
        if not update:
            raise Refusal("请给出新的全称或简称")
        if any(not 2 <= len(v) <= 100 for v in update.values()):
            raise Refusal("全称、简称和发文机关标志须为 2 至 100 个字")
        after = Organisation.model_validate({**admin.dump(before), **update})
        row.data = admin.dump(after)
        session.add(row)
        changed = {k: (before.model_dump()[k], v) for k, v in update.items()}
        return Change(
            f"已更名：{before.short_name} → {after.short_name}（{after.name}）；代码 {code}、全宗号 {after.fonds}、机关代字和文号不变",
            {"target": code, "before": {k: b for k, (b, _) in changed.items()}, "after": {k: a for k, (_, a) in changed.items()}},
        )

    return _change(engine, actor, "org_renamed", code, apply)


def add_department(engine: Engine, actor: str, org: str, name: str) -> Change:
    def apply(session: Session, config: Config) -> Change:
        _may_administer(config, actor, org, "添加部门")
        name_ = name.strip()
        if not name_ or len(name_) > 30 or "/" in name_:
            raise Refusal("部门名称须为 1 至 30 个字")
        if name_ in config.departments.get(org, ()):
            raise Refusal(f"{config.org(org).short_name}已有部门“{name_}”")
        session.add(AdminDepartment(org=org, name=name_))
        return Change(f"已添加部门 {config.org(org).short_name}·{name_}", {"target": f"{org}/{name_}", "before": None, "after": name_})

    return _change(engine, actor, "department_added", org, apply)


def rename_department(engine: Engine, actor: str, org: str, old: str, new: str) -> Change:
    """部门更名: the department and everyone in it."""

    def apply(session: Session, config: Config) -> Change:
        _may_administer(config, actor, org, "更改部门名称")
        row = session.exec(select(AdminDepartment).where(AdminDepartment.org == org, AdminDepartment.name == old)).first()
        if row is None:
            raise Refusal(f"{config.org(org).short_name}没有部门“{old}”：现有 {'、'.join(config.departments.get(org, ())) or '无'}")
        if not 1 <= len(new.strip()) <= 30:
            raise Refusal("部门名称须为 1 至 30 个字")
        if new.strip() in config.departments.get(org, ()):
            raise Refusal(f"{config.org(org).short_name}已有部门“{new.strip()}”")
        row.name = new.strip()
        session.add(row)
        for person in session.exec(select(AdminPerson)):
            if person.data.get("org") == org and person.data.get("department") == old:
                person.data = {**person.data, "department": row.name}
                session.add(person)
        return Change(f"已将部门“{old}”更名为“{row.name}”", {"target": org, "before": old, "after": row.name})

    return _change(engine, actor, "department_renamed", org, apply)


# ---- numbering schemes and the calendar -----------------------------------------------------------


def set_scheme(engine: Engine, actor: str, prefix: str, year: int, start: int) -> Change:
    """发文字号方案: the first serial of ``prefix`` in ``year`` (each year starts its own sequence);
    refused once numbers of that year were issued past it."""

    if not (1949 <= year <= 2100) or not (1 <= start <= 999_999):
        raise Refusal("年度须在 1949 至 2100 之间，起始号在 1 至 999999 之间")

    def apply(session: Session, config: Config) -> Change:
        owner = config.org_by_prefix.get(prefix)
        if owner is None:
            raise Refusal(f"机关代字“{prefix}”不属于任何单位：请先把它加到单位的机关代字中")
        _may_administer(config, actor, owner.code, "设置发文字号")
        counter = session.get(NumberCounter, (prefix, year))
        if counter is not None and counter.last >= start:
            raise Refusal(f"{prefix}〔{year}〕已编到 {counter.last} 号：起始号须大于 {counter.last}，或不再修改")
        row = session.get(AdminScheme, (prefix, year))
        before = row.start if row else None
        session.merge(AdminScheme(prefix=prefix, year=year, start=start))
        NumberScheme(prefix=prefix, year=year, start=start)
        return Change(f"{prefix}〔{year}〕从 {start} 号起编", {"target": f"{prefix}/{year}", "before": before, "after": start})

    return _change(engine, actor, "scheme_set", None, apply)


def set_calendar_year(engine: Engine, actor: str, year: int, notice: str, holidays: list[tuple[str, date, date | None]], workdays: list[date]) -> Change:
    """录入一年的节假日安排 (国务院办公厅通知): holidays (name, from, to) and 调休 working days."""
    if not 2000 <= year <= 2100:
        raise Refusal(f"年度“{year}”无效：请填写 2000 至 2100 之间的年份")
    if not notice.strip() or len(notice) > 200 or len(holidays) > 40 or len(workdays) > 40:
        raise Refusal("通知名称须为 1 至 200 个字，假日和调休上班日各不超过 40 个")

    def apply(session: Session, config: Config) -> Change:
        _root_admin(config, actor, "录入节假日安排")
        try:
            arrangement = YearArrangement(
                notice=notice, holidays=[Holiday.model_validate({"name": n, "from": f, "to": t}) for n, f, t in holidays], workdays=workdays
            )
        except ValidationError:
            raise Refusal("节假日安排不完整：须有通知名称和至少一个假日（名称、起止日期）") from None
        year_days(year, arrangement)  # refuses dates outside the year, twice, or 调休 on a weekday
        data = arrangement.model_dump(mode="json", by_alias=True)
        row = session.get(AdminCalendarYear, year)
        before = dict(row.data) if row else None
        session.merge(AdminCalendarYear(year=year, data=data))
        return Change(
            f"已录入 {year} 年节假日安排（{len(holidays)} 个假日，{len(workdays)} 个调休上班日）", {"target": str(year), "before": before, "after": data}
        )

    return _change(engine, actor, "calendar_year_set", None, apply)


# ---- the audit of administration ------------------------------------------------------------------


def admin_changes(engine: Engine, actor: str, limit: int = 200) -> list[AuditEvent]:
    """The administrative changes an administrator may see: those about their organisations (newest first)."""
    config = engine.refresh_config()
    mine = set(administered(config, actor))
    if not mine:
        _may_administer(config, actor, config.user(actor).org, "查看管理记录")
    with Session(engine.db) as session:
        rows = session.exec(
            select(AuditEvent).where(col(AuditEvent.action).startswith(ADMIN_PREFIX)).order_by(col(AuditEvent.id).desc()).limit(limit * 5)
        ).all()
    seen = []
    for row in rows:
        target = str(row.detail.get("target", ""))
        org = row.org or (config.users[target].org if target in config.users else None) or (config.users[row.actor].org if row.actor in config.users else None)
        if org in mine:
            seen.append(row)
    return seen[:limit]


# ---- importing a tree from a spreadsheet ----------------------------------------------------------

COLUMNS = {  # header as people write it -> field
    "代码": "code",
    "单位代码": "code",
    "code": "code",
    "全称": "name",
    "名称": "name",
    "name": "name",
    "简称": "short_name",
    "short name": "short_name",
    "short_name": "short_name",
    "上级": "parent",
    "上级代码": "parent",
    "parent": "parent",
    "机关代字": "prefix",
    "代字": "prefix",
    "prefix": "prefix",
    "全宗号": "fonds",
    "fonds": "fonds",
}
REQUIRED = ("code", "name", "short_name", "parent", "prefix", "fonds")
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class ImportLine:
    row: int  # the spreadsheet's row number (the header is row 1)
    code: str
    what: str  # 新增 | 更名 | 不变
    text: str


@dataclass(frozen=True)
class ImportPreview:
    """What an import would change, row by row, and the rows that are wrong (Chinese, with the row number)."""

    digest: str
    filename: str
    lines: list[ImportLine]
    errors: list[tuple[int, str]]

    @property
    def changes(self) -> int:
        return sum(1 for line in self.lines if line.what != "不变")


def _rows(filename: str, data: bytes) -> list[dict[str, str]]:
    """The spreadsheet's rows as header field -> text (.csv in UTF-8/GB18030, or .xlsx's first sheet)."""
    if len(data) > MAX_BYTES:
        raise Refusal(f"表格太大（{len(data) // 1024} KB）：单位名单表格不超过 {MAX_BYTES // 1024 // 1024} MB")
    lower = filename.lower()
    table: list[list[str]]
    if lower.endswith(".csv"):
        import csv
        import io

        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise Refusal("表格不是 UTF-8 或 GB18030 编码的 CSV：请用 Excel 另存为“CSV UTF-8”后再上传")
        table = [row for row in csv.reader(io.StringIO(text))]
    elif lower.endswith(".xlsx"):
        import io
        import zipfile

        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
            table = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1)]
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError):
            raise Refusal("无法读取这个 .xlsx 文件：请确认是 Excel 工作簿（不是改了扩展名的其他文件），或另存为 CSV 后上传") from None
    else:
        raise Refusal(f"不支持的文件“{filename}”：请上传 .xlsx 或 .csv 表格（列：代码、全称、简称、上级、机关代字、全宗号）")
    table = [row for row in table if any(cell.strip() for cell in row)]
    if not table:
        raise Refusal("表格是空的：第一行写列名（代码、全称、简称、上级、机关代字、全宗号），其后每行一个单位")
    header = [COLUMNS.get(cell.strip().lower(), COLUMNS.get(cell.strip(), "")) for cell in table[0]]
    missing = [f for f in REQUIRED if f not in header]
    if missing:
        names = {"code": "代码", "name": "全称", "short_name": "简称", "parent": "上级", "prefix": "机关代字", "fonds": "全宗号"}
        raise Refusal(f"表格第 1 行缺少列：{'、'.join(names[f] for f in missing)}（第一行须为列名：代码、全称、简称、上级、机关代字、全宗号）")
    if len(table) - 1 > MAX_ROWS:
        raise Refusal(f"表格超过 {MAX_ROWS} 行：请分批导入")
    return [{field: (row[i].strip() if i < len(row) else "") for i, field in enumerate(header) if field} for row in table[1:]]


def _plan(config: Config, actor: str, filename: str, data: bytes) -> tuple[ImportPreview, list[Organisation], list[tuple[str, str, str]]]:
    """The preview, the organisations to add (parents first) and the renames (code, name, short name)."""
    import hashlib

    mine = set(administered(config, actor))
    if not mine:
        _may_administer(config, actor, config.user(actor).org if actor in config.users else "", "导入单位名单")
    rows = _rows(filename, data)
    digest = hashlib.sha256(data).hexdigest()
    lines: list[ImportLine] = []
    errors: list[tuple[int, str]] = []
    new: dict[str, tuple[int, dict[str, str]]] = {}
    renames: list[tuple[str, str, str]] = []
    for i, row in enumerate(rows, start=2):
        code = row["code"]
        if not code:
            errors.append((i, "代码为空：每行须有单位代码（小写字母开头，如 jinan_new）"))
            continue
        if code in new:
            errors.append((i, f"代码“{code}”在第 {new[code][0]} 行已出现：每个单位只列一次"))
            continue
        existing = config.organisations.get(code)
        if existing is not None:
            if code not in mine:
                errors.append((i, f"单位“{existing.short_name}”（{code}）不在您管理的范围内：请由其上级单位的管理员导入"))
            elif row["fonds"] and row["fonds"] != existing.fonds:
                errors.append((i, f"{existing.short_name}的全宗号是 {existing.fonds}，不能改为 {row['fonds']}：全宗号一经使用不再变更，请核对"))
            elif row["parent"] and row["parent"] != (existing.parent or ""):
                errors.append((i, f"{existing.short_name}的上级是 {existing.parent or '无'}：导入不改变已有单位的上级，请核对上级代码"))
            elif (row["name"] or existing.name) != existing.name or (row["short_name"] or existing.short_name) != existing.short_name:
                renames.append((code, row["name"] or existing.name, row["short_name"] or existing.short_name))
                lines.append(
                    ImportLine(i, code, "更名", f"{existing.short_name} → {row['short_name'] or existing.short_name}（{row['name'] or existing.name}）")
                )
            else:
                lines.append(ImportLine(i, code, "不变", existing.short_name))
            continue
        new[code] = (i, row)
    # new organisations, parents first: a parent is an administered organisation or another new row
    owners = {p: o.code for o in config.organisations.values() for p in o.prefixes}
    added: list[Organisation] = []
    placed: dict[str, Organisation] = {}
    pending = dict(new)
    while pending:
        ready = [c for c, (_, row) in pending.items() if row["parent"] in placed or row["parent"] in config.organisations]
        if not ready:
            for i, row in sorted(pending.values(), key=lambda entry: entry[0]):
                errors.append((i, f"上级“{row['parent'] or '（空）'}”不是已有单位，也不是表中其他行的单位（或上下级成环）：请填写上级单位的代码"))
            break
        for code in sorted(ready, key=lambda c: pending[c][0]):
            i, row = pending.pop(code)
            parent = row["parent"]
            if parent in config.organisations and parent not in mine:
                errors.append((i, f"上级单位“{config.org(parent).short_name}”不在您管理的范围内：只能在本单位及下级单位之下添加"))
                continue
            if parent not in config.organisations and parent not in placed:
                continue
            prefixes = [p.strip() for p in row["prefix"].replace("，", ",").replace("、", ",").split(",") if p.strip()]
            try:
                scratch = _with_new(config, placed)
                org = _new_org(scratch, code, row["name"], row["short_name"], parent, prefixes, row["fonds"], taken_prefixes=owners)
            except Refusal as exc:
                errors.append((i, str(exc)))
                continue
            for p in prefixes:
                owners[p] = code
            placed[code] = org
            added.append(org)
            lines.append(
                ImportLine(
                    i, code, "新增", f"{org.short_name}（上级 {placed[parent].short_name if parent in placed else config.org(parent).short_name}，{org.level}）"
                )
            )
    lines.sort(key=lambda line: line.row)
    errors.sort()
    return ImportPreview(digest, filename, lines, errors), added, renames


def _with_new(config: Config, placed: dict[str, Organisation]) -> Config:
    """``config`` with the organisations placed so far (for the next row's parent and level)."""
    if not placed:
        return config
    from gongwen_engine.config.loader import with_state

    return with_state(
        config,
        [*config.organisations.values(), *placed.values()],
        list(config.schemes.values()),
        list(config.users.values()),
        config.departments,
        config.calendar_years,
        config.generation,
    )


def _import_folder(engine: Engine) -> Path:
    folder = engine.settings.home / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def preview_tree(engine: Engine, actor: str, filename: str, data: bytes) -> ImportPreview:
    """导入预览: what importing the spreadsheet would add or rename, and the rows that are wrong.
    The file is kept (by its digest) until it is imported."""
    preview, _, _ = _plan(engine.refresh_config(), actor, filename, data)
    if not preview.errors:
        (_import_folder(engine) / f"{preview.digest}.json").write_text(json.dumps({"filename": filename, "data": data.hex(), "actor": actor}), encoding="utf-8")
    return preview


def import_tree(engine: Engine, actor: str, digest: str) -> Change:
    """导入: apply a previewed spreadsheet (planned again against the state now, in one transaction)."""
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise Refusal("没有这个待导入的表格：请重新上传并预览")
    path = _import_folder(engine) / f"{digest}.json"
    if not path.is_file():
        raise Refusal("没有待导入的表格（或已导入）：请重新上传并预览")
    kept = json.loads(path.read_text(encoding="utf-8"))
    if kept["actor"] != actor:
        raise Refusal("这份表格是另一位管理员预览的：请自己上传并预览后再导入")
    filename, data = kept["filename"], bytes.fromhex(kept["data"])

    def apply(session: Session, config: Config) -> Change:
        preview, added, renames = _plan(config, actor, filename, data)
        if preview.errors:
            raise Refusal(f"表格有 {len(preview.errors)} 处错误，没有导入：第 {preview.errors[0][0]} 行：{preview.errors[0][1]}")
        position = admin.next_position(session, AdminOrganisation)
        for k, org in enumerate(added):
            session.add(AdminOrganisation(code=org.code, position=position + k, data=admin.dump(org)))
        for code, name, short_name in renames:
            row = session.get(AdminOrganisation, code)
            assert row is not None  # an existing organisation
            row.data = {**row.data, "name": name, "short_name": short_name}
            session.add(row)
        text = f"已从“{filename}”导入：新增 {len(added)} 个单位，更名 {len(renames)} 个"
        return Change(text, {"target": filename, "before": None, "after": {"added": [o.code for o in added], "renamed": [r[0] for r in renames]}})

    done = _change(engine, actor, "tree_imported", engine.config.user(actor).org if actor in engine.config.users else None, apply)
    path.unlink(missing_ok=True)
    return done


# ---- config export / import (the files round-trip) ------------------------------------------------

STATE_FILES = ("organisations", "users", "numbering")  # config/loader.py FILES keys; calendar.yaml besides


def _state_documents(config: Config) -> dict[str, dict[str, Any]]:
    """The administrative state as the config files hold it (defaults left out)."""
    calendar_file = config.directory / "calendar.yaml"
    closures: list[Any] = []
    years: dict[int, Any] = {}
    if calendar_file.is_file():
        from gongwen_engine.config.yamlsrc import load_yaml

        raw = load_yaml(calendar_file).data or {}
        closures, years = list(raw.get("closures") or []), dict(raw.get("years") or {})
    years.update(config.calendar_years)
    return {
        "organisations.yaml": {"organisations": [o.model_dump(mode="json", exclude_defaults=True) for o in config.organisations.values()]},
        "users.yaml": {"users": [u.model_dump(mode="json", exclude_defaults=True) for u in config.users.values()]},
        "numbering.yaml": {"schemes": [s.model_dump(mode="json", exclude_defaults=True) for s in config.schemes.values()]},
        "calendar.yaml": {"closures": _plain(closures), "years": {int(y): _plain(v) for y, v in sorted(years.items())}},
    }


def _plain(value: Any) -> Any:
    """YAML-ready: dates as ISO text, nested containers plain."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def export_config(engine: Engine, folder: Path) -> list[Path]:
    """``gongwen config export``: the state as it is now (the database's, or the files') written as
    config files into ``folder``, with the other config files copied beside them, so the folder is
    a whole installation (``GONGWEN_CONFIG_DIR``) and ``import_config`` reads it back."""
    import shutil

    from gongwen_engine.config.files import write_atomically

    config = engine.refresh_config()
    folder.mkdir(parents=True, exist_ok=True)
    for source in config.directory.glob("*.yaml"):
        if source.name not in _state_documents(config) and source.resolve() != (folder / source.name).resolve():
            shutil.copyfile(source, folder / source.name)
    written = []
    for name, document in _state_documents(config).items():
        path = folder / name
        write_atomically(_yaml_text(document).encode("utf-8"), path)
        written.append(path)
    return written


def _yaml_text(document: dict[str, Any]) -> str:
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = None
    yaml.width = 4096
    text = io.StringIO()
    yaml.dump(document, text)
    return "# written by `gongwen config export`: the administrative state; `gongwen config import` reads it back\n" + text.getvalue()


def config_diff(engine: Engine, folder: Path) -> list[str]:
    """What importing ``folder`` would change, one Chinese line each (empty: nothing). The folder is
    checked like any config folder first (file:line errors)."""
    from gongwen_engine.config.loader import load_config

    incoming = load_config(folder)
    current = engine.refresh_config()
    lines: list[str] = []
    lines += _diff("单位", current.organisations, incoming.organisations, lambda o: o.short_name)
    lines += _diff("人员", current.users, incoming.users, lambda u: u.name)
    lines += _diff("发文字号方案", current.schemes, incoming.schemes, lambda s: f"{s.prefix}〔{s.year}〕从 {s.start} 号")
    years_now = {**_file_years(current), **current.calendar_years}
    years_new = _file_years(incoming)
    for year in sorted(set(years_now) | set(years_new)):
        if years_now.get(year) != years_new.get(year):
            lines.append(f"工作日历 {year} 年：{'新增' if year not in years_now else '删除' if year not in years_new else '修改'}")
    return lines


def _file_years(config: Config) -> dict[int, Any]:
    path = config.directory / "calendar.yaml"
    if not path.is_file():
        return {}
    from gongwen_engine.config.yamlsrc import load_yaml

    raw = load_yaml(path).data or {}
    return {int(y): YearArrangement.model_validate(v).model_dump(mode="json", by_alias=True) for y, v in (raw.get("years") or {}).items()}


def _diff(what: str, before: dict[Any, Any], after: dict[Any, Any], name: Callable[[Any], str]) -> list[str]:
    lines = []
    for key in before.keys() - after.keys():
        lines.append(f"删除{what} {name(before[key])}（{_key(key)}）")
    for key in after.keys() - before.keys():
        lines.append(f"新增{what} {name(after[key])}（{_key(key)}）")
    for key in before.keys() & after.keys():
        if before[key] != after[key]:
            old, new = before[key].model_dump(mode="json"), after[key].model_dump(mode="json")
            fields = "、".join(f"{k}: {old.get(k)} → {new.get(k)}" for k in new if old.get(k) != new.get(k))
            lines.append(f"修改{what} {name(after[key])}（{_key(key)}）：{fields}")
    return sorted(lines)


def _key(key: Any) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def import_config(engine: Engine, actor: str, folder: Path) -> Change:
    """``gongwen config import``: the folder's organisations, people, schemes and calendar years
    replace the database's (the whole tree's administrator only; passwords set in the database stay)."""
    from gongwen_engine.config.loader import load_config

    incoming = load_config(folder)
    diff = config_diff(engine, folder)

    def apply(session: Session, config: Config) -> Change:
        _root_admin(config, actor, "导入整套配置")
        kept = {r.id: (r.password_hash, r.must_change_password) for r in session.exec(select(AdminPerson))}
        for table in admin.STATE_TABLES:
            for row in session.exec(select(table)):
                session.delete(row)
        session.flush()
        for i, org in enumerate(incoming.organisations.values()):
            session.add(AdminOrganisation(code=org.code, position=i, data=admin.dump(org)))
        for i, user in enumerate(incoming.users.values()):
            password, must_change = kept.get(user.id, (None, False))
            session.add(AdminPerson(id=user.id, position=i, data=admin.dump(user), password_hash=password, must_change_password=must_change))
        for code, names in incoming.departments.items():
            for dept in names:
                session.add(AdminDepartment(org=code, name=dept))
        for scheme in incoming.schemes.values():
            session.add(AdminScheme(prefix=scheme.prefix, year=scheme.year, start=scheme.start))
        for year, data in _file_years(incoming).items():
            session.add(AdminCalendarYear(year=year, data=data))
        return Change(f"已导入配置（{len(diff)} 项变更）", {"target": str(folder), "before": None, "after": diff})

    return _change(engine, actor, "config_imported", None, apply)


# ---- an organisation's seal (用印: image, key, certificate) -----------------------------------------

MAX_SEAL_FILE = 2 * 1024 * 1024


@dataclass(frozen=True)
class SealSummary:
    """What is shown of an uploaded seal: never the key, nor the image itself."""

    subject: str
    not_after: str
    certificate_sha256: str
    image_sha256: str


def upload_seal(engine: Engine, actor: str, org: str, image: bytes, key: bytes, certificate: bytes) -> SealSummary:
    """上传印章: the organisation's seal image (PNG), private key (PEM, unencrypted: the server
    signs unattended) and certificate (PEM or DER), validated (the key is the certificate's, the
    certificate is valid now, the image a square PNG) and kept under ``$GONGWEN_HOME/seals/uploaded/``
    (the key readable by gongwen only). They take precedence over ``seals.yaml`` for that
    organisation (``config/seals.py``) and are never shown again: the audit and the page keep the
    certificate's subject, validity and fingerprint and the image's digest."""
    import hashlib
    import io
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from PIL import Image, UnidentifiedImageError

    from gongwen_engine.config.files import write_atomically
    from gongwen_engine.config.seals import uploaded_seal_folder

    config = engine.refresh_config()
    _may_administer(config, actor, org, "上传印章")
    if max(len(image), len(key), len(certificate)) > MAX_SEAL_FILE:
        raise Refusal(f"印章文件太大：每个文件不超过 {MAX_SEAL_FILE // 1024 // 1024} MB")
    try:
        with Image.open(io.BytesIO(image)) as picture:
            kind, (width, height) = picture.format, picture.size
    except (UnidentifiedImageError, OSError):
        raise Refusal("印章图片无法读取：请上传 PNG 图片（红色印文、透明背景、正方形）") from None
    if kind != "PNG" or width < 200 or abs(width - height) > width // 10:
        raise Refusal(f"印章图片须为至少 200×200 像素、近似正方形的 PNG 图片（收到 {kind} {width}×{height}）")
    try:
        private = serialization.load_pem_private_key(key, None)
    except TypeError:
        raise Refusal("私钥有口令保护：请上传不加口令的 PEM 私钥（服务器无人值守签名），或在 seals.yaml 中配置口令来源") from None
    except ValueError:
        raise Refusal("私钥无法读取：请上传 PEM 格式的私钥（以 -----BEGIN PRIVATE KEY----- 开头）") from None
    try:
        cert = x509.load_pem_x509_certificate(certificate) if b"-----BEGIN" in certificate else x509.load_der_x509_certificate(certificate)
    except ValueError:
        raise Refusal("证书无法读取：请上传 PEM 或 DER 格式的证书") from None
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise Refusal("私钥与证书不匹配：请上传同一对私钥和证书")
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Refusal(f"证书不在有效期内（{cert.not_valid_before_utc:%Y-%m-%d} 至 {cert.not_valid_after_utc:%Y-%m-%d}）：请上传有效的证书")
    summary = SealSummary(
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc.date().isoformat(),
        certificate_sha256=hashlib.sha256(cert.public_bytes(der)).hexdigest(),
        image_sha256=hashlib.sha256(image).hexdigest(),
    )
    folder = uploaded_seal_folder(engine.settings.home, org)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_atomically(key_pem, folder / "key.pem")
    (folder / "key.pem").chmod(0o600)
    write_atomically(cert.public_bytes(serialization.Encoding.PEM), folder / "certificate.pem")
    write_atomically(image, folder / "seal.png")

    def apply(session: Session, config: Config) -> Change:
        return Change(f"已上传{config.org(org).short_name}的印章", {"target": org, "before": None, "after": summary.__dict__}, org)

    _change(engine, actor, "seal_uploaded", org, apply)  # the generation moves: workers load the new keys at their next step
    return summary
