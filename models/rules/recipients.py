"""Whom a document goes to (发送范围): ONE resolver from a version's printed 主送 and 抄送 to the
organisations 核发 delivers to.

Recipients are data of the document version (``DocumentContent.main_recipients`` and ``cc``):
what is printed is what is delivered, on every path (compose, every revision — the signed version's
recipients are the ones delivered —, 批办 转发, the automatic forward, ``gongwen launch --to``).
Each printed name resolves to

* a configured organisation, by its full name (全称) or normalised short name (规范化简称),
  whitespace and trailing punctuation ignored; a name several organisations share (市中区妇联 in
  济南 and 枣庄) means the issuer's child or parent of that name, and is otherwise printed only;
* an organisation's own office, as its ``printed_by`` names it (全国妇联办公厅, 山东省妇联办公室):
  the organisation itself — its office signs for and registers what comes in (a report 报全国妇联办公厅
  reaches 全国妇联);
* a collective name (各市妇联, 各区县妇联, 各下级组织 …): the set it names in the tree, i.e. the
  issuer's direct children when the name addresses that level (the ``children_as`` of the issuer
  or of any organisation of its level, or the generic 各下级组织/各下级单位); an issuer with no
  children names no one by it (printed only, with the warning);
* anything else: printed only, not delivered through the platform — the secretary is told (a
  warning in Chinese) before launch and before 签发, never silently.

抄送 delivers too, as a copy for information (the recipient reads it, no handling); a name both in
主送 and 抄送 is refused. Contradictory choices (the collective of all children plus some of those
children) are refused in plain Chinese when the draft is made or revised (``check``); at 核发 the
resolution is the same set either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Organisation

if TYPE_CHECKING:
    from gongwen_engine.models.content import DocumentContent

GENERIC_COLLECTIVES = ("各下级组织", "各下级单位")  # addresses every direct child, whatever the level
_TRAILING = "：:。，,、；; \u3000"
_SPLIT = re.compile(r"[，,；;]")  # one printed line may name several recipients: 济南市妇联，青岛市妇联


def normalise(name: str) -> str:
    """A printed recipient as compared: no whitespace, no trailing punctuation (主送 ends with "：")."""
    return re.sub(r"\s+", "", name).strip(_TRAILING)


@dataclass(frozen=True)
class Recipients:
    """A version's recipients resolved: delivered for handling (主送), delivered as copies for
    information (抄送), and printed only (outside the platform)."""

    main: tuple[Organisation, ...]
    copies: tuple[Organisation, ...]
    printed_only: tuple[str, ...]
    collectives: tuple[str, ...] = ()  # collective names printed (各市妇联 …), resolved to the issuer's children

    @property
    def codes(self) -> set[str]:
        """Every organisation the document is delivered to (主送 and 抄送)."""
        return {o.code for o in (*self.main, *self.copies)}

    @property
    def copy_codes(self) -> set[str]:
        return {o.code for o in self.copies}

    def warning(self) -> str | None:
        """The secretary's (and signer's) warning when some printed names are delivered to no one."""
        if not self.printed_only:
            return None
        names = "、".join(self.printed_only)
        nobody = "" if self.codes else "本文件将不经本平台送达任何单位。"
        return (
            f"注意：{names} 不是本平台组织机构中的单位（或不是本单位可以行文的范围），只印在文件上，不经本平台送达。{nobody}"
            "如需送达，请改用组织机构中的全称或规范化简称（如“济南市妇联”），或勾选下级单位；确需发往平台外的单位，请另行寄送。"
        )


@dataclass(frozen=True)
class _Names:
    orgs: dict[str, list[Organisation]]  # full and short names -> organisations (short names repeat: 市中区妇联 in 济南 and 枣庄)
    collectives: dict[str, set[str]]  # level of the addressing organisation -> collective names (children_as)


def _names(config: Config) -> _Names:
    """The tree's names, built once per loaded config (the national tree has 3,225 organisations)."""
    cached: _Names | None = config.__dict__.get("_recipient_names")
    if cached is None:
        orgs: dict[str, list[Organisation]] = {}
        collectives: dict[str, set[str]] = {}
        for org in config.organisations.values():
            for name in dict.fromkeys((normalise(org.short_name), normalise(org.name), normalise(org.printed_by))):
                orgs.setdefault(name, []).append(org)  # its office (printed_by) receives for it
            if org.children_as:  # the whole name, and each part of it that addresses a set (各省、自治区、直辖市妇联)
                parts = [normalise(p) for p in _SPLIT.split(org.children_as) if normalise(p).startswith("各")]
                collectives.setdefault(org.level, set()).update({normalise(org.children_as), *parts})
        cached = _Names(orgs, collectives)
        config.__dict__["_recipient_names"] = cached
    return cached


def _collective_names(config: Config, org: Organisation) -> set[str]:
    """The collective names that address ``org``'s direct children: its own ``children_as``, the
    ``children_as`` of every organisation of its level (各县（市、区）妇联 from any city), and the
    generic ones."""
    return {normalise(n) for n in GENERIC_COLLECTIVES} | _names(config).collectives.get(org.level, set())


def _resolve_names(config: Config, issuer: Organisation, names: Iterable[str]) -> tuple[list[Organisation], list[str], list[str]]:
    """Organisations named (in order, once), names printed only, collective names used."""
    index, collectives = _names(config).orgs, _collective_names(config, issuer)
    children = config.children(issuer.code)
    found: dict[str, Organisation] = {}
    printed: list[str] = []
    used: list[str] = []

    def one(name: str) -> bool:
        key = normalise(name)
        if not key:
            return True
        if key in collectives:
            if not children:
                return False
            used.append(name.strip())
            for child in children:
                found.setdefault(child.code, child)
            return True
        named = index.get(key, [])
        near = [o for o in named if o.parent == issuer.code or o.code == issuer.parent]  # a child or the parent first
        org = near[0] if near else (named[0] if len(named) == 1 else None)  # else only an unambiguous name
        if org is None or org.code == issuer.code:
            return False
        found.setdefault(org.code, org)
        return True

    for raw in names:
        if one(raw):
            continue
        parts = [p for p in _SPLIT.split(raw) if normalise(p)]
        if len(parts) > 1:
            for part in parts:
                if not one(part):
                    printed.append(normalise(part))
        else:
            printed.append(normalise(raw))
    return list(found.values()), list(dict.fromkeys(printed)), used


def resolve(config: Config, issuer: str, main_recipients: Iterable[str], cc: Iterable[str] = ()) -> Recipients:
    """The delivery targets of a version printed with ``main_recipients`` and ``cc`` by ``issuer``."""
    org = config.org(issuer)
    main, printed_main, used_main = _resolve_names(config, org, main_recipients)
    copies, printed_cc, used_cc = _resolve_names(config, org, cc)
    main_codes = {o.code for o in main}
    return Recipients(
        main=tuple(main),
        copies=tuple(o for o in copies if o.code not in main_codes),
        printed_only=tuple(dict.fromkeys([*printed_main, *printed_cc])),
        collectives=tuple(dict.fromkeys([*used_main, *used_cc])),
    )


def of_content(config: Config, issuer: str, content: Mapping[str, Any] | Any) -> Recipients:
    """``resolve`` over a stored content (dict) or a ``DocumentContent``."""
    if isinstance(content, Mapping):
        return resolve(config, issuer, content.get("main_recipients") or [], content.get("cc") or [])
    return resolve(config, issuer, content.main_recipients, content.cc)


def check(config: Config, issuer: str, main_recipients: list[str], cc: list[str]) -> Recipients:
    """``resolve``, refusing contradictory choices in plain Chinese (at compose, launch and revision):
    the collective of all children printed together with some of those children; a recipient both
    in 主送 and in 抄送."""
    org = config.org(issuer)
    resolved = resolve(config, issuer, main_recipients, cc)
    children = {c.code for c in config.children(issuer)}
    collectives = set(_collective_names(config, org)) if children else set()
    for label, names in (("主送", main_recipients), ("抄送", cc)):
        said = [n for n in names if normalise(n) in collectives]
        if not said:
            continue
        singles, _, _ = _resolve_names(config, org, [n for n in names if normalise(n) not in collectives])
        also = [o.short_name for o in singles if o.code in children]
        if also:
            raise Refusal(
                f"{label}机关既有“{said[0]}”（全部下级单位），又单列了 {'、'.join(also)}：两者矛盾。"
                f"发给全部下级单位请只写“{said[0]}”；只发给部分单位请去掉“{said[0]}”，逐个列出。"
            )
    main_only, _, _ = _resolve_names(config, org, main_recipients)
    copied, _, _ = _resolve_names(config, org, cc)
    twice = [o.short_name for o in copied if o.code in {m.code for m in main_only}]
    if twice:
        raise Refusal(f"{'、'.join(twice)} 既在主送机关又在抄送机关：同一单位只能列一处，请从抄送中删去。")
    return resolved


def names_for(config: Config, issuer: str, codes: list[str]) -> list[str]:
    """The printed 主送 for chosen organisation codes: the collective name when all direct children
    are chosen, else each one's short name (in the configured order)."""
    org = config.org(issuer)
    children = [c.code for c in config.children(issuer)]
    if children and set(codes) >= set(children) and len(set(codes)) == len(children):
        return [org.children_as or GENERIC_COLLECTIVES[0]]
    return [config.org(code).short_name for code in codes]


def with_chosen_recipients(config: Config, issuer: str, content: DocumentContent, chosen: list[str] | None) -> DocumentContent:
    """The content with recipients chosen by code (``launch --to``): they become the printed 主送
    when it names none; when it names some, both must name the same organisations (refused in
    Chinese otherwise: the print and the deliveries can never differ)."""
    if chosen is None:
        return content
    if not content.main_recipients:
        return content.model_copy(update={"main_recipients": names_for(config, issuer, chosen)})
    printed = {o.code for o in resolve(config, issuer, content.main_recipients).main}
    if printed != set(chosen):
        said = "、".join(content.main_recipients)
        wanted = "、".join(config.org(c).short_name for c in chosen)
        raise Refusal(
            f"--to 指定的送达单位（{wanted}）与文件所印主送机关（{said}）不一致：核发只送达文件所印的主送、抄送机关。"
            f"请把文件的 main_recipients 改为 [{'，'.join(names_for(config, issuer, chosen))}]，或去掉 main_recipients 由 --to 填写，或不用 --to。"
        )
    return content


def chosen_recipients(config: Config, org: str, codes: Iterable[str] | None) -> list[str] | None:
    """Validate recipients chosen by code (``launch --to``, 批办 转发's pick): distinct direct children
    of ``org``, in the configured order. Nothing chosen (None or empty) means every child (None)."""
    wanted = list(dict.fromkeys(code.strip() for code in codes or [] if code.strip()))
    if not wanted:
        return None
    children = {child.code: child for child in config.children(org)}
    unknown = [code for code in wanted if code not in children]
    if unknown:
        names = "、".join(config.organisations[c].short_name if c in config.organisations else c for c in unknown)
        offered = "、".join(f"{c.code}（{c.short_name}）" for c in children.values()) or "（无下级单位）"
        raise Refusal(f"发送范围有误：{names} 不是{config.org(org).short_name}的直接下级单位，核发只能送达直接下级单位。可选：{offered}")
    return [code for code in children if code in wanted]
