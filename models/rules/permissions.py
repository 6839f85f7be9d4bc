"""谁可以做什么 (who may do what): the one authorization rule of gongwen.

Every command (``flows/cli*.py``) and every web page (``flows/web/``) asks this module, through
the services they share (the engine, receiving, archiving, reporting), so the CLI and the web
cannot answer differently. The rule is data: ``GRANTS`` lists, per action, which roles (角色) may
do it and over what scope; ``authorize`` finds a grant that covers the user and the target or
raises ``PermissionDenied`` with a Chinese message saying what was refused, who may do it, and
what to do instead.

Terms (术语):

* 角色 role — 秘书 secretary, 核稿人 reviewer, 部门负责人 department_head, 领导 leader,
  档案员 archivist (``config/users.yaml``).
* 本单位 own organisation; 上级单位 parent (superior); 下级单位 child (subordinate); 同级单位 peer.
* 全宗 fonds — the archive of one organisation (全宗号, ``organisations.yaml``).
* 待办 work item; 办理 act on it (同意 approve, 退回 return, 批示 instruct, …); 转办 reassign;
  委托 delegate (a deputy acts for a principal for a period, 代办).
* 发起 launch a circulation (流转); 收文登记 register an incoming document; 报送 submit a report;
  督办台账 the supervision board; 档案检索 search the archive; 查阅 view an archive record;
  归档文件目录 catalogue; 移交 transfer package; 校验 fixity verify; 四性检测 four-properties check.

Scopes (范围), seen from the person acting:

* ``own_org`` 本单位 — the target belongs to the person's own organisation (never its parent or
  its children);
* ``own_org_or_below`` 本单位及下级单位 — the person's organisation or any organisation under it
  (a province sees its cities' circulations; a city does not see its province's);
* ``own_fonds`` 本全宗 — the fonds of the person's own organisation only;
* ``holder`` 待办的办理人 — the person the item is for, or anyone of the item's organisation with
  the item's role (a deputy acts for them through ``acting_for``);
* ``self`` 本人 — the person named by the target.

Commands run without ``--user`` (``gongwen archive verify``, ``gongwen board``, ``gongwen status``)
are the operator's on the server and are not checked; a command that names a user is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Role, User

ROLE_NAMES = {Role.secretary: "秘书", Role.reviewer: "核稿人", Role.department_head: "部门负责人", Role.leader: "领导", Role.archivist: "档案员"}


class Action(StrEnum):
    """What a person asks to do."""

    launch = "launch"  # 发起流转（拟稿发文）
    act = "act"  # 办理待办：同意、退回、批示、已阅 …
    reassign = "reassign"  # 转办
    delegate = "delegate"  # 委托代办
    receive = "receive"  # 收文登记
    view_circulation = "view_circulation"  # 查看流转（进度、级联图、时间线）
    download = "download"  # 下载流转文件（.docx、用印件、稿纸、处理单、收文原件）
    archive_search = "archive_search"  # 档案检索
    archive_show = "archive_show"  # 查阅档案（著录项目、归档章、处理过程）
    archive_download = "archive_download"  # 下载档案文件
    archive_export = "archive_export"  # 归档文件目录、移交包、接收移交
    archive_verify = "archive_verify"  # 校验、四性检测
    submit_report = "submit_report"  # 报送
    view_board = "view_board"  # 督办台账
    retry = "retry"  # 重试出错的自动环节
    void_number = "void_number"  # 作废发文字号（撤回已发文件）


class Scope(StrEnum):
    own_org = "own_org"
    own_org_or_below = "own_org_or_below"
    own_fonds = "own_fonds"
    holder = "holder"
    self = "self"


SCOPE_WORDS = {
    Scope.own_org: "本单位",
    Scope.own_org_or_below: "本单位及下级单位",
    Scope.own_fonds: "本全宗",
    Scope.holder: "本人或本岗位的待办（含委托）",
    Scope.self: "本人",
}


@dataclass(frozen=True)
class ActionInfo:
    """How an action is named to people (``name``; in refusals ``verb`` + the target, or ``thing``),
    where it is reached, and what to do when refused."""

    name: str
    verb: str
    thing: str
    cli: str
    web: str
    hint: str


ACTIONS: dict[Action, ActionInfo] = {
    Action.launch: ActionInfo("发起流转", "发起", "流转", "gongwen launch", "拟稿发文 /launch", "请用本单位秘书的账号发起。"),
    Action.act: ActionInfo(
        "办理待办", "办理", "待办事项", "gongwen approve / return / act", "待办 /items/{id}", "请回到您自己的“待办”列表，办理属于您的事项。"
    ),
    Action.reassign: ActionInfo("转办", "转办", "待办事项", "gongwen reassign", "待办 /items/{id}/reassign", "只能转办您自己可以办理的事项。"),
    Action.delegate: ActionInfo("设置委托", "设置", "委托", "gongwen delegate", "待办 /delegate", "请由委托人本人或其所在单位的秘书设置。"),
    Action.receive: ActionInfo("收文登记", "登记", "收文", "gongwen receive", "收文登记 /receive", "请用收文单位秘书的账号登记。"),
    Action.view_circulation: ActionInfo(
        "查看流转", "查看", "流转", "gongwen status --user", "流转 /circulations/{id}、待办 /items/{id}", "只能查看本单位及下级单位的流转。"
    ),
    Action.download: ActionInfo(
        "下载流转文件", "下载", "文件", "—", "/circulations/{id}/files/…、/documents/{id}/docx", "只能下载本单位及下级单位流转中的文件。"
    ),
    Action.archive_search: ActionInfo("检索档案", "检索", "档案", "gongwen archive search", "档案检索 /archive", "档案检索只对本全宗的档案员开放。"),
    Action.archive_show: ActionInfo(
        "查阅档案", "查阅", "档案", "gongwen archive show", "/archive/items/{档号}", "如需查阅其他全宗的档案，请按利用制度向该全宗的档案室申请。"
    ),
    Action.archive_download: ActionInfo(
        "下载档案文件", "下载", "档案文件", "—", "/archive/items/{档号}/files/…", "如需其他全宗的档案文件，请按利用制度向该全宗的档案室申请。"
    ),
    Action.archive_export: ActionInfo(
        "导出目录或移交包", "导出", "目录或移交包", "gongwen archive catalogue / export / import", "/archive/catalogue", "只能导出本全宗的目录和移交包。"
    ),
    Action.archive_verify: ActionInfo(
        "校验档案", "校验", "档案", "gongwen archive verify --user / check", "—", "只能校验本全宗；系统管理员可不带 --user 校验全部全宗。"
    ),
    Action.submit_report: ActionInfo("报送", "报送", "报告", "gongwen submit-report", "—", "请用报送单位秘书的账号报送。"),
    Action.retry: ActionInfo(
        "重试出错环节", "重试", "流转", "gongwen retry / act --outcome retry", "待办 /items/{id}", "请由该流转所属单位的秘书或管理员重试。"
    ),
    Action.void_number: ActionInfo("作废文号", "作废", "文号", "gongwen number void", "发文登记簿 /numbers", "只有发文单位的秘书或领导可以作废本单位的文号。"),
    Action.view_board: ActionInfo(
        "查看督办台账", "查看", "督办台账", "gongwen board --user", "督办台账 /board", "只能查看本单位及下级单位提出的报送要求的台账。"
    ),
}


@dataclass(frozen=True)
class Grant:
    """One line of the rule: ``roles`` (None: any role) may do ``action`` within ``scope``."""

    action: Action
    roles: frozenset[Role] | None
    scope: Scope


def _grant(action: Action, roles: Iterable[Role] | None, scope: Scope) -> Grant:
    return Grant(action, frozenset(roles) if roles is not None else None, scope)


SECRETARY, LEADER, ARCHIVIST, ADMINISTRATOR = (Role.secretary,), (Role.leader,), (Role.archivist,), (Role.administrator,)
GRANTS: tuple[Grant, ...] = (
    _grant(Action.launch, SECRETARY, Scope.own_org),
    _grant(Action.act, None, Scope.holder),
    _grant(Action.reassign, None, Scope.holder),
    _grant(Action.delegate, None, Scope.self),
    _grant(Action.delegate, SECRETARY, Scope.own_org),
    _grant(Action.receive, SECRETARY, Scope.own_org),
    _grant(Action.view_circulation, None, Scope.own_org_or_below),
    _grant(Action.download, None, Scope.own_org_or_below),
    _grant(Action.archive_search, ARCHIVIST, Scope.own_fonds),
    _grant(Action.archive_show, ARCHIVIST, Scope.own_fonds),
    _grant(Action.archive_download, ARCHIVIST, Scope.own_fonds),
    _grant(Action.archive_export, ARCHIVIST, Scope.own_fonds),
    _grant(Action.archive_verify, ARCHIVIST, Scope.own_fonds),
    _grant(Action.submit_report, SECRETARY, Scope.own_org),
    _grant(Action.view_board, SECRETARY + LEADER, Scope.own_org_or_below),
    _grant(Action.retry, SECRETARY + ADMINISTRATOR, Scope.own_org),
    _grant(Action.void_number, SECRETARY + LEADER, Scope.own_org),
)


# ---- targets ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    """Something of an organisation (a circulation, its files, a board); ``what`` names it in messages."""

    code: str
    what: str = ""


@dataclass(frozen=True)
class Fonds:
    """A fonds (全宗), or something in it (``what``: an archive code)."""

    code: str
    what: str = ""


@dataclass(frozen=True)
class Item:
    """A work item: for one person (``assignee``), or for anyone with ``role`` at ``org``."""

    org: str
    role: str | None
    assignee: str | None = None
    id: int | None = None
    step_title: str = ""


@dataclass(frozen=True)
class Person:
    """A person some action is about (the principal of a delegation)."""

    user_id: str


Target = Org | Fonds | Item | Person


class PermissionDenied(Refusal):
    """无权操作: the person may not do this to that. The message is user-facing (Chinese)."""

    def __init__(self, message: str, action: Action, hint: str) -> None:
        super().__init__(message)
        self.action, self.hint = action, hint


# ---- the rule -------------------------------------------------------------------------------------------


def within(config: Config, org: str, ancestor: str) -> bool:
    """True when ``org`` is ``ancestor`` or below it in the organisation tree."""
    code: str | None = org
    while code:
        if code == ancestor:
            return True
        parent = config.parent(code)
        code = parent.code if parent else None
    return False


def fonds_of(config: Config, org: str) -> str:
    return config.org(org).fonds


def _target_org(config: Config, target: Target) -> str | None:
    if isinstance(target, Item):
        return target.org
    if isinstance(target, Org):
        return target.code
    if isinstance(target, Person):
        person = config.users.get(target.user_id)
        return person.org if person else None
    owners = [o.code for o in config.organisations.values() if o.fonds == target.code]
    return owners[0] if owners else None


def _in_scope(config: Config, user: User, scope: Scope, target: Target) -> bool:
    if scope is Scope.holder:
        if not isinstance(target, Item):
            return False
        if target.assignee:
            return target.assignee == user.id
        return user.org == target.org and target.role in user.roles
    if scope is Scope.self:
        return isinstance(target, Person) and target.user_id == user.id
    if scope is Scope.own_fonds:
        return isinstance(target, Fonds) and user.org in config.organisations and target.code == fonds_of(config, user.org)
    org = _target_org(config, target)
    if org is None or org not in config.organisations:
        return False
    if scope is Scope.own_org:
        return org == user.org
    return user.org in config.organisations and within(config, org, user.org)


def grants_for(action: Action) -> list[Grant]:
    return [g for g in GRANTS if g.action is action]


def allowed(config: Config, user: User, action: Action, target: Target) -> bool:
    """Whether ``user`` may do ``action`` to ``target`` (no message; see ``authorize``); a disabled person may do nothing."""
    if user.disabled:
        return False
    return any((g.roles is None or g.roles & set(user.roles)) and _in_scope(config, user, g.scope, target) for g in grants_for(action))


def authorize(config: Config, user: User, action: Action, target: Target) -> None:
    """Let ``user`` do ``action`` to ``target``, or raise ``PermissionDenied`` saying why not."""
    if not allowed(config, user, action, target):
        raise denial(config, user, action, target)


def acting_for(config: Config, user: User, action: Action, item: Item, principals: Iterable[User]) -> User:
    """Whom ``user`` acts for on ``item``: themselves, or a principal who delegated to them (委托代办)."""
    if allowed(config, user, action, item):
        return user
    for principal in principals:
        if allowed(config, principal, action, item):
            return principal
    raise denial(config, user, action, item, deputies=True)


# ---- messages ------------------------------------------------------------------------------------------


def _org_name(config: Config, code: str | None) -> str:
    org = config.organisations.get(code or "")
    return org.short_name if org else (code or "未知单位")


def _roles_text(roles: Iterable[Role | str], config: Config | None = None) -> str:
    """Role labels joined with 或, in roles.yaml's order (the known roles' own labels without a config)."""
    labels = config.roles if config else {r.value: name for r, name in ROLE_NAMES.items()}
    order = list(labels)
    return "或".join(labels.get(r, str(r)) for r in sorted(set(map(str, roles)), key=lambda r: order.index(r) if r in order else len(order)))


def describe(config: Config, target: Target) -> str:
    """The target in words, e.g. 待办事项 12（全国妇联 · 签发）, 档案 S037-…（全宗 S037，山东省妇联）."""
    if isinstance(target, Item):
        where = f"{_org_name(config, target.org)}{' · ' + target.step_title if target.step_title else ''}"
        return f"待办事项 {target.id}（{where}）" if target.id is not None else f"待办事项（{where}）"
    if isinstance(target, Person):
        person = config.users.get(target.user_id)
        return f"（委托人：{person.name if person else target.user_id}）"
    if isinstance(target, Fonds):
        return f"{target.what}（全宗 {target.code}，{_org_name(config, _target_org(config, target))}）"
    return f"{target.what}（{_org_name(config, target.code)}）"


def who_may(config: Config, action: Action, target: Target) -> str:
    """Who may do ``action`` to ``target``, in words, e.g. 山东省妇联的秘书."""
    org = _target_org(config, target)
    phrases = []
    for g in grants_for(action):
        people = _roles_text(g.roles, config) if g.roles else "人员"
        if g.scope is Scope.holder and isinstance(target, Item):
            if target.assignee:
                person = config.users.get(target.assignee)
                phrases.append(f"该事项的办理人{person.name if person else target.assignee}")
            else:
                phrases.append(f"{_org_name(config, target.org)}具有“{_roles_text([target.role], config) if target.role else '相应'}”角色的人员")
        elif g.scope is Scope.self and isinstance(target, Person):
            person = config.users.get(target.user_id)
            phrases.append(f"{person.name if person else target.user_id}本人")
        elif g.scope is Scope.own_fonds:
            phrases.append(f"{_org_name(config, org)}的{people}")
        elif g.scope is Scope.own_org_or_below:
            phrases.append(f"{_org_name(config, org)}及其上级单位的{people}")
        else:
            phrases.append(f"{_org_name(config, org)}的{people}")
    return "或".join(phrases)


def denial(config: Config, user: User, action: Action, target: Target, deputies: bool = False) -> PermissionDenied:
    info = ACTIONS[action]
    needed = set().union(*(g.roles for g in grants_for(action) if g.roles)) if all(g.roles for g in grants_for(action)) else set()
    situation = f"{user.name}是{_org_name(config, user.org)}的{_roles_text(user.roles, config)}"
    if needed and not needed & set(user.roles):
        situation += f"，不是{_roles_text(needed, config)}"
    by = who_may(config, action, target) + ("，或由其委托的人员代办" if deputies else "")
    what = describe(config, target)
    if what.startswith("（"):  # the target has no name of its own: name the kind of thing
        what = info.thing + what
    message = f"{user.name}（{user.id}）无权{info.verb}{what}：只有{by}可以{info.verb}；{situation}。"
    return PermissionDenied(message, action, info.hint)


# ---- the matrix, for people (README) -------------------------------------------------------------------


def matrix_cells() -> dict[Action, dict[Role, str]]:
    """Action -> role -> the scope in which that role may do it ('—': never)."""
    cells: dict[Action, dict[Role, str]] = {}
    for action in Action:
        row = {}
        for role in Role:
            scopes = [SCOPE_WORDS[g.scope] for g in grants_for(action) if g.roles is None or role in g.roles]
            row[role] = "；".join(dict.fromkeys(scopes)) or "—"
        cells[action] = row
    return cells


def matrix_markdown() -> str:
    """The README's table “Who may do what”, generated from ``GRANTS``."""
    roles = list(ROLE_NAMES)
    lines = [
        "| 操作 action | CLI | web | " + " | ".join(f"{ROLE_NAMES[r]} {r.value}" for r in roles) + " |",
        "|---|---|---|" + "---|" * len(roles),
    ]
    for action, row in matrix_cells().items():
        info = ACTIONS[action]
        cli = f"`{info.cli}`" if info.cli != "—" else info.cli
        lines.append(f"| {info.name} `{action.value}` | {cli} | {info.web} | " + " | ".join(row[r] for r in roles) + " |")
    return "\n".join(lines)
