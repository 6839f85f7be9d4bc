"""Load and cross-check the whole ``config/`` folder into one :class:`Config`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import (
    NumberingFile,
    NumberScheme,
    Organisation,
    OrganisationsFile,
    PoliciesFile,
    Policy,
    RetentionFile,
    Role,
    RoleDef,
    RolesFile,
    User,
    UsersFile,
)
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, load_yaml

PACKAGED_CONFIG_DIR = Path(__file__).parent

FILES = {
    "organisations": "organisations.yaml",
    "numbering": "numbering.yaml",
    "users": "users.yaml",
    "policies": "policies.yaml",
    "retention": "retention.yaml",
    "roles": "roles.yaml",
}
DEFAULT_ROLES = (
    RoleDef(code=Role.secretary, label="秘书"),
    RoleDef(code=Role.reviewer, label="核稿人"),
    RoleDef(code=Role.leader, label="领导"),
    RoleDef(code=Role.archivist, label="档案员"),
    RoleDef(code=Role.department_head, label="部门负责人"),
    RoleDef(code=Role.administrator, label="管理员"),
)  # a config folder without roles.yaml has these


@dataclass(frozen=True)
class Config:
    """Everything in ``config/``, validated and cross-checked."""

    directory: Path
    organisations: dict[str, Organisation]
    schemes: dict[tuple[str, int], NumberScheme]
    users: dict[str, User]
    policies: dict[str, Policy]
    retention: RetentionFile
    roles: dict[str, str] = field(default_factory=lambda: {r.code: r.label for r in DEFAULT_ROLES})  # code -> label (roles.yaml)
    generation: int = 0  # the database's administrative generation this was built from (0: the files alone)
    departments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # org -> 处室/部门 (the database's; else those people name)
    calendar_years: dict[int, dict[str, Any]] = field(default_factory=dict)  # year -> 节假日安排 entered by an administrator (database)
    _children: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def org(self, code: str) -> Organisation:
        """The configured organisation ``code``; an unknown code is refused in Chinese."""
        org = self.organisations.get(code)
        if org is None:
            raise Refusal(f"未知单位代码“{code}”：请核对单位代码（单位名单见 {self.directory / FILES['organisations']}）")
        return org

    def user(self, user_id: str) -> User:
        """The configured person ``user_id``; an unknown id is refused in Chinese."""
        user = self.users.get(user_id)
        if user is None:
            raise Refusal(f"未知用户“{user_id}”：请核对用户名（用户名单见 {self.directory / FILES['users']}）")
        return user

    def children(self, code: str) -> list[Organisation]:
        return [self.organisations[c] for c in self._children.get(code, [])]

    @cached_property
    def with_subordinates(self) -> frozenset[str]:
        """The organisations with subordinates (下级单位): what they receive they may forward."""
        return frozenset(code for code, children in self._children.items() if children)

    def parent(self, code: str) -> Organisation | None:
        parent = self.org(code).parent
        return self.organisations[parent] if parent else None

    @cached_property
    def org_by_prefix(self) -> dict[str, Organisation]:
        return {p: o for o in self.organisations.values() for p in o.prefixes}

    def start_of(self, prefix: str, year: int) -> int:
        scheme = self.schemes.get((prefix, year))
        return scheme.start if scheme else 1

    def users_with(self, org: str, role: str) -> list[User]:
        """The people of ``org`` holding ``role`` (disabled people hold none)."""
        return [u for u in self.users.values() if u.org == org and role in u.roles and not u.disabled]

    def role_label(self, role: str | None) -> str:
        """The label people see for a role code (roles.yaml), e.g. 秘书; an unknown code as itself."""
        return self.roles.get(role or "", role or "")

    def principal_leader(self, org: str) -> User | None:
        """The organisation's principal leader (主要负责人): the first leader users.yaml lists for it.
        A policy that approves a sign-off (签发) does so in this person's name."""
        leaders = self.users_with(org, Role.leader)
        return leaders[0] if leaders else None

    def policy(self, name: str) -> Policy:
        """The named policy; an unknown name is refused in Chinese with the names there are."""
        policy = self.policies.get(name)
        if policy is None:
            known = "、".join(sorted(self.policies)) or "无"
            raise Refusal(f"未知办理策略“{name}”：可选 {known}（策略见 {self.directory / FILES['policies']}）")
        return policy


def load_roles(directory: Path | None = None) -> dict[str, str]:
    """The roles of ``directory/roles.yaml`` (code -> label); the known six when the file is absent.
    Every role meaning code knows (``Role``) must be listed."""
    directory = Path(directory) if directory else PACKAGED_CONFIG_DIR
    path = directory / FILES["roles"]
    if not path.exists():
        return {r.code: r.label for r in DEFAULT_ROLES}
    doc = load_yaml(path)
    errors: list[SourceError] = []
    roles: dict[str, str] = {}
    for i, role in enumerate(doc.validate(RolesFile).roles):
        if role.code in roles:
            errors.append(doc.error(("roles", i, "code"), f"role '{role.code}' is listed twice", "list every role once"))
        roles[role.code] = role.label
    missing = [r.value for r in Role if r.value not in roles]
    if missing:
        errors.append(
            doc.error(("roles",), f"roles the code relies on are missing: {', '.join(missing)}", "keep the six known roles (change their labels if you like)")
        )
    if errors:
        raise SourceErrors(errors)
    return roles


def load_config(directory: Path | None = None) -> Config:
    """Read every config file; raise :class:`SourceErrors` listing all problems found."""
    directory = Path(directory) if directory else PACKAGED_CONFIG_DIR
    errors: list[SourceError] = []
    roles = load_roles(directory)

    org_doc = load_yaml(directory / FILES["organisations"])
    orgs_file = org_doc.validate(OrganisationsFile)
    organisations: dict[str, Organisation] = {}
    owner_of_prefix: dict[str, str] = {}
    for i, org in enumerate(orgs_file.organisations):
        loc = ("organisations", i)
        if org.code in organisations:
            errors.append(org_doc.error((*loc, "code"), f"duplicate organisation code '{org.code}'", "give every organisation its own code"))
            continue
        organisations[org.code] = org
        for j, prefix in enumerate(org.prefixes):
            if prefix in owner_of_prefix:
                errors.append(
                    org_doc.error(
                        (*loc, "prefixes", j),
                        f"prefix (机关代字) '{prefix}' of '{org.code}' is already used by '{owner_of_prefix[prefix]}'",
                        "every prefix must belong to exactly one organisation; choose another prefix",
                    )
                )
            owner_of_prefix[prefix] = org.code
    children: dict[str, list[str]] = {}
    for i, org in enumerate(orgs_file.organisations):
        if org.parent is None:
            continue
        if org.parent not in organisations:
            errors.append(
                org_doc.error(
                    ("organisations", i, "parent"),
                    f"unknown parent '{org.parent}' of '{org.code}'",
                    "use the code of an organisation defined in this file, or null for the root",
                )
            )
        else:
            children.setdefault(org.parent, []).append(org.code)
    errors.extend(_cycles(org_doc, orgs_file.organisations, organisations))

    num_doc = load_yaml(directory / FILES["numbering"])
    schemes: dict[tuple[str, int], NumberScheme] = {}
    for i, scheme in enumerate(num_doc.validate(NumberingFile).schemes):
        if scheme.prefix not in owner_of_prefix:
            errors.append(
                num_doc.error(
                    ("schemes", i, "prefix"),
                    f"prefix '{scheme.prefix}' belongs to no organisation",
                    f"add it to an organisation's prefixes in {FILES['organisations']}",
                )
            )
        if (scheme.prefix, scheme.year) in schemes:
            errors.append(num_doc.error(("schemes", i), f"two schemes for {scheme.prefix} {scheme.year}", "keep one"))
        schemes[(scheme.prefix, scheme.year)] = scheme

    user_doc = load_yaml(directory / FILES["users"])
    users: dict[str, User] = {}
    for i, user in enumerate(user_doc.validate(UsersFile).users):
        if user.org not in organisations:
            errors.append(user_doc.error(("users", i, "org"), f"user '{user.id}' belongs to unknown organisation '{user.org}'", "use an organisation code"))
        if user.id in users:
            errors.append(user_doc.error(("users", i, "id"), f"duplicate user id '{user.id}'", "user ids must be unique"))
        for j, role in enumerate(user.roles):
            if role not in roles:
                errors.append(
                    user_doc.error(("users", i, "roles", j), f"user '{user.id}' has unknown role '{role}'", f"use one of {', '.join(roles)} (roles.yaml)")
                )
        users[user.id] = user
    if not users:
        errors.append(
            user_doc.error(
                ("users",) if isinstance(user_doc.data, dict) and "users" in user_doc.data else (),
                "no users: nobody could sign in, sign for, sign off or file anything",
                "list the people under users: (id, name, org, roles), e.g. copy config/users.yaml",
            )
        )

    policies = load_yaml(directory / FILES["policies"]).validate(PoliciesFile).policies
    retention = load_yaml(directory / FILES["retention"]).validate(RetentionFile)

    if errors:
        raise SourceErrors(errors)
    departments = _departments_of(users.values())
    return Config(directory, organisations, schemes, users, policies, retention, roles, 0, departments, {}, children)


def _departments_of(users: Iterable[User]) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = {}
    for user in users:
        if user.department:
            found.setdefault(user.org, set()).add(user.department)
    return {org: tuple(sorted(names)) for org, names in found.items()}


def with_state(
    files: Config,
    organisations: list[Organisation],
    schemes: list[NumberScheme],
    users: list[User],
    departments: dict[str, tuple[str, ...]],
    calendar_years: dict[int, dict[str, Any]],
    generation: int,
) -> Config:
    """The configuration with the administrative state the database holds (``models/admin.py``);
    policies, retention and roles stay the files'. The administration services check each change
    before storing it, so this only builds."""
    orgs = {o.code: o for o in organisations}
    children: dict[str, list[str]] = {}
    for org in organisations:
        if org.parent:
            children.setdefault(org.parent, []).append(org.code)
    return Config(
        files.directory,
        orgs,
        {(s.prefix, s.year): s for s in schemes},
        {u.id: u for u in users},
        files.policies,
        files.retention,
        files.roles,
        generation,
        departments,
        calendar_years,
        children,
    )


def _cycles(doc, listed: list[Organisation], organisations: dict[str, Organisation]) -> list[SourceError]:
    errors = []
    reported: set[str] = set()
    for i, org in enumerate(listed):
        seen = [org.code]
        node = org
        while node.parent and node.parent in organisations:
            if node.parent in seen:
                cycle = [*seen[seen.index(node.parent) :], node.parent]
                if not reported.intersection(cycle):
                    errors.append(
                        doc.error(
                            ("organisations", i, "parent"),
                            f"parent cycle: {' -> '.join(cycle)}",
                            "an organisation cannot be its own ancestor; fix one of these parents",
                        )
                    )
                    reported.update(cycle)
                break
            seen.append(node.parent)
            node = organisations[node.parent]
    return errors
