"""Issuers (发文机关) inside and outside the organisation tree.

A document issued by an organisation in ``config/organisations.yaml`` has its code in
``Document.org``. A document received from outside (a ministry, another system's body) has the
reserved code :data:`EXTERNAL_ISSUER` there and its names, as read from the file and confirmed
by the secretary, in ``Document.issuer_name`` (全称, e.g. from the mark 中华全国总工会文件) and
``Document.issuer_short_name`` (规范化简称, used by the forwarding title rule). A document its
office (办公厅/办公室) issued under the office's own name has the organisation's code and the
office's names. Everything that
needs an issuer's names asks :func:`issuer_names`, so both kinds work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Organisation
from gongwen_engine.models.tables import Document

EXTERNAL_ISSUER = "external"  # reserved organisation code: an issuer outside config/organisations.yaml


@dataclass(frozen=True)
class IssuerNames:
    """An issuer's full name (全称) and normalised short name (规范化简称)."""

    name: str
    short_name: str


def issuer_names(config: Config, doc: Document) -> IssuerNames:
    """The names of ``doc``'s issuer, configured or external."""
    if doc.org == EXTERNAL_ISSUER or doc.org not in config.organisations:
        name = doc.issuer_name or doc.issuer_short_name or "（外单位）"
        return IssuerNames(name, doc.issuer_short_name or name)
    org = config.org(doc.org)
    if doc.issuer_short_name:  # the organisation's office (办公厅/办公室) issued it under its own name
        return IssuerNames(doc.issuer_name or doc.issuer_short_name, doc.issuer_short_name)
    return IssuerNames(org.name, org.short_name)


def office_of(config: Config, names: tuple[str | None, ...]) -> Organisation | None:
    """The configured organisation whose office (办公厅/办公室, its ``printed_by``) a received
    document names as its issuer, e.g. 全国妇联办公厅 → 全国妇联: the document stands at that
    organisation's level (a superior's document for its children) and keeps the office's name."""
    for name in names:
        for org in config.organisations.values():
            if name and org.printed_by and name == org.printed_by:
                return org
    return None


def match_organisation(config: Config, *, mark: str | None = None, names: tuple[str | None, ...] = (), prefix: str | None = None) -> Organisation | None:
    """The configured organisation a received document names: by its mark, its full or short
    name, or the prefix (机关代字) of its number. None: an external issuer."""
    for org in config.organisations.values():
        if mark and mark in (org.mark, org.name):
            return org
    for name in names:
        for org in config.organisations.values():
            if name and name in (org.name, org.short_name):
                return org
    if prefix and prefix in config.org_by_prefix:
        return config.org_by_prefix[prefix]
    return None
