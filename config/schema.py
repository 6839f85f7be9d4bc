"""Pydantic models of the files in ``config/``: the organisation tree, numbering schemes,
users and roles, policies and the retention schedule."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(StrEnum):
    """行政层级 of an organisation."""

    national = "national"  # 全国
    provincial = "provincial"  # 省级
    prefectural = "prefectural"  # 地市级
    county = "county"  # 县级


class Role(StrEnum):
    """The role *meanings* code knows (what a secretary or a leader may do, who is told of a
    failure). The set of roles an installation has, and their labels, is data: ``roles.yaml``
    (``RoleDef``); an office may add its own (机要员, 督办员) and name them in flows' ``by:``."""

    secretary = "secretary"  # 秘书 / 文书: launches circulations, registers incoming documents
    reviewer = "reviewer"  # 核稿人: office review
    leader = "leader"  # 领导: signs off (签发), writes instructions (批示)
    archivist = "archivist"  # 档案员
    department_head = "department_head"  # 部门负责人: countersigns drafts (会签)
    administrator = "administrator"  # 管理员: people, organisations, numbering, calendar of its organisation and those under it


ROLE_CODE = r"^[a-z][a-z0-9_]*$"


class RoleDef(Strict):
    """One role of the installation (``roles.yaml``): its code (flows' ``by:``, users' ``roles:``) and label."""

    code: str = Field(pattern=ROLE_CODE, description="identifier used in flows (by:) and users.yaml (roles:)")
    label: str = Field(min_length=1, max_length=20, description="the Chinese label people see, e.g. 秘书")


class RolesFile(Strict):
    roles: list[RoleDef] = Field(min_length=1)


class AttachmentNumbers(StrEnum):
    """How attachments are numbered: 附件1、附件2 (GB/T 9704-2012's example) or 附件一、附件二."""

    arabic = "arabic"
    chinese = "chinese"


class HouseStyle(Strict):
    """版式变体: the choices an organisation makes within GB/T 9704-2012 (domain README §7);
    everything not chosen here is the standard's default (doc_templates/layout.py)."""

    attachment_numbers: AttachmentNumbers = Field(
        default=AttachmentNumbers.arabic, description="附件1 (arabic) or 附件一 (chinese), in the 附件说明 and on the attachment pages"
    )


class Organisation(Strict):
    """An issuing organisation (发文机关) in the tree."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="stable identifier used in flows and the database")
    name: str = Field(min_length=2, description="full name (全称)")
    short_name: str = Field(min_length=2, description="normalised short name (规范化简称), e.g. 全国妇联")
    level: Level
    parent: str | None = None
    prefixes: list[str] = Field(min_length=1, description="机关代字; the first is used for forwarding notices")
    mark: str = Field(description="issuing-authority mark (发文机关标志), e.g. 山东省妇女联合会文件")
    printed_by: str = Field(description="printing office (印发机关), e.g. 全国妇联办公厅")
    fonds: str = Field(pattern=r"^[A-Z0-9]{1,10}$", description="fonds number (全宗号), e.g. Z109")
    dept_code: str = Field(default="BGS", pattern=r"^[A-Z]{3}$", description="filing department code (机构代码); BGS = 办公室")
    classification: str = Field(
        default="year-retention-dept",
        pattern=r"^year-(retention-dept|dept-retention)$",
        description="归档分类方案: 年度-保管期限-机构 or 年度-机构-保管期限 (DA/T 22-2015 §6.1)",
    )
    children_as: str | None = Field(default=None, description="how the body addresses all its children as main recipients, e.g. 各市妇联")
    house_style: HouseStyle = Field(default_factory=HouseStyle, description="版式变体 within GB/T 9704-2012, e.g. attachment_numbers: chinese")
    issued_formats: Literal["pdf", "ofd", "both"] = Field(
        default="pdf",
        description=(
            "用印 writes the signed PDF (pdf), the OFD with its SM2 electronic seal alone as the issued copy (ofd), "
            "or both, the OFD beside the PDF (both); docs/sealing.md"
        ),
    )

    @field_validator("prefixes")
    @classmethod
    def _prefixes_distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a prefix is listed twice for this organisation")
        return value


class OrganisationsFile(Strict):
    organisations: list[Organisation] = Field(min_length=1)


class NumberScheme(Strict):
    """A document-number sequence (发文字号): per prefix and year, starting at ``start``."""

    prefix: str
    year: int = Field(ge=1949, le=2100)
    start: int = Field(default=1, ge=1, description="the first serial to allocate in that year")


class NumberingFile(Strict):
    schemes: list[NumberScheme] = Field(default_factory=list)


class User(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    org: str
    roles: list[str] = Field(min_length=1, description="role codes of roles.yaml")
    department: str | None = Field(default=None, description="处室/部门, e.g. 组织部")
    title: str | None = Field(default=None, description="职务, e.g. 主席 (the name is the person's: 签发人 prints the name)")
    deputy: str | None = Field(default=None, description="副职 of: the user id of the person this one deputises for (informative)")
    disabled: bool = Field(default=False, description="停用: cannot sign in or act; open items went to the role (gongwen admin person disable)")

    @field_validator("roles")
    @classmethod
    def _role_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.match(ROLE_CODE, code):
                raise ValueError(f"role '{code}' is not a role code (lower-case letters, digits, _)")
        if len(set(value)) != len(value):
            raise ValueError("a role is listed twice for this user")
        return value


class UsersFile(Strict):
    users: list[User] = Field(default_factory=list)


class Policy(Strict):
    """A named execution policy. Human steps are auto-approved only when a policy says so."""

    description: str
    auto_approve: dict[str, str] = Field(default_factory=dict, description="step kind (flows/definitions: kind:) -> outcome taken automatically")
    wait_at_levels: list[Level] = Field(default_factory=list, description="organisation levels whose human steps still wait for a person")
    clock: dict[Level, date] = Field(default_factory=dict, description="replay dates: the business date per organisation level (demo)")
    cover_letter: dict[Level, str] = Field(
        default_factory=dict, description="replay words: what a forwarding notice asks of its recipients, per organisation level (demo; else the usual phrase)"
    )


class PoliciesFile(Strict):
    policies: dict[str, Policy] = Field(default_factory=dict)


class Retention(StrEnum):
    """保管期限 and its archive-code letter."""

    permanent = "Y"  # 永久
    years30 = "D30"  # 定期30年
    years10 = "D10"  # 定期10年


class RetentionMatch(Strict):
    item: str | None = Field(default=None, description="forwarding | issued | received | reference")
    from_level: str | None = Field(default=None, description="superior | own | peer | subordinate")
    doc_type: list[str] | None = Field(default=None, description="文种 the rule applies to, e.g. [报告, 请示]; absent: any")


class RetentionRule(Strict):
    """One line of the retention schedule; ``keep: none`` means the item is not filed (不归档)."""

    when: RetentionMatch = Field(default_factory=RetentionMatch)
    keep: Retention | None
    why: str

    @field_validator("keep", mode="before")
    @classmethod
    def _none_means_not_filed(cls, value: object) -> object:
        return None if value == "none" else value


class RetentionFile(Strict):
    rules: list[RetentionRule] = Field(min_length=1)
