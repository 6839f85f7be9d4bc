"""Reads of the archive pages: an item by its archive code (档号)."""

from __future__ import annotations

from sqlmodel import Session, select

from gongwen_engine.models.tables import ArchiveItem


def item_by_code(session: Session, archive_code: str) -> ArchiveItem | None:
    return session.exec(select(ArchiveItem).where(ArchiveItem.archive_code == archive_code.strip())).first()
