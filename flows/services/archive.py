"""The archivist's workplace (档案员): search, one item, the catalogue — each retrieval logged
(``log_retrieval``, 利用登记). Who may see what is ``archiving.archivist`` / ``item_in_fonds``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from gongwen_engine.flows.actions.archiving import Archivist, item_in_fonds, items_of, log_retrieval
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive_exports import write_catalogue
from gongwen_engine.models import db
from gongwen_engine.models.archive_search import Hit, SearchQuery, search
from gongwen_engine.models.queries.archive import item_by_code
from gongwen_engine.models.rules.permissions import Action
from gongwen_engine.models.tables import ArchiveItem


def search_archive(engine: Engine, who: Archivist, query: SearchQuery, asked: dict[str, Any]) -> list[Hit]:
    """The hits of ``query`` in ``who``'s fonds; the search is logged with what was ``asked``."""
    with db.transaction(engine.db) as session:
        hits = search(session, query)
        log_retrieval(session, who.user.id, who.fonds, "search", len(hits), **asked)
    return hits


def fonds_years(engine: Engine, fonds: str) -> list[int]:
    """The years with filed items, latest first."""
    with Session(engine.db) as session:
        return sorted({i.year for i in items_of(session, fonds)}, reverse=True)


def find_item(engine: Engine, who: Archivist, code: str, action: Action) -> ArchiveItem | None:
    """The item by archive code (None if there is none), if ``who`` may ``action`` it; else ``PermissionDenied``."""
    with Session(engine.db) as session:
        return item_in_fonds(session, who, code, action) if item_by_code(session, code) else None


def log_show(engine: Engine, who: Archivist, item: ArchiveItem) -> None:
    with db.transaction(engine.db) as session:
        log_retrieval(session, who.user.id, who.fonds, "show", 1, archive_code=item.archive_code)


@dataclass(frozen=True)
class Catalogue:
    """A catalogue file (归档文件目录) and how many items it lists."""

    name: str
    data: bytes
    items: int


def catalogue(engine: Engine, who: Archivist, year: int, retention: str | None, docx: bool) -> Catalogue | None:
    """The catalogue of ``who``'s fonds for ``year`` as .docx or .xlsx (None when nothing is filed); logged."""
    with db.transaction(engine.db) as session, tempfile.TemporaryDirectory(prefix="gongwen-catalogue-") as tmp:
        items = items_of(session, who.fonds, year, retention)
        if not items:
            return None
        paths = write_catalogue(items, who.fonds, year, retention, Path(tmp), engine.config.org(who.user.org).classification)
        path = paths[0] if docx else paths[1]
        log_retrieval(session, who.user.id, who.fonds, "catalogue", len(items), year=year, retention=retention, format="docx" if docx else "xlsx")
        return Catalogue(path.name, path.read_bytes(), len(items))
