"""Whom 核发 delivers to (发送范围): the recipients chosen at launch, or every child organisation.

One rule, used by distribution (``actions.distribute``), the cascade picture (``web/cascade.py``)
and reporting requirements addressed to "all recipients" (``reporting``):

* a circulation launched with chosen recipients (``Circulation.deliver_to``: organisation codes)
  delivers to exactly those;
* otherwise (``None``, the default, and every circulation a delivery starts) it delivers to every
  child organisation of its organisation, as before.

Chosen recipients must be direct children: a document goes one level down and is forwarded from
there (no skipping levels, domain README §4). The printed 主送机关 is the document's own
business (``DocumentContent.main_recipients``); the web form derives both from one choice.
"""

from __future__ import annotations

from collections.abc import Iterable

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Organisation
from gongwen_engine.models.tables import Circulation


def delivery_targets(config: Config, circ: Circulation) -> list[Organisation]:
    """The organisations ``circ``'s 核发 delivers to, in the configured order."""
    children = config.children(circ.org)
    if circ.deliver_to is None:
        return children
    chosen = set(circ.deliver_to)
    return [child for child in children if child.code in chosen]


def chosen_recipients(config: Config, org: str, codes: Iterable[str] | None) -> list[str] | None:
    """Validate the recipients chosen at launch: distinct direct children of ``org``, in the
    configured order. Nothing chosen (None or empty) means every child organisation (None)."""
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
