"""The archivist's operations for interfaces (档案检索、查看、目录、移交、接收、校验、四性检测):
each one unit of work that also writes its 利用登记 (retrieval log) row."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.actions.archiving import Archivist, Problem, archivist, item_in_fonds, items_of, log_retrieval, verify
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.archive_check import Report, four_properties
from gongwen_engine.flows.services.archive_exports import export_package, import_package, item_metadata, write_catalogue
from gongwen_engine.models import db
from gongwen_engine.models.archive_search import Hit, SearchQuery, search
from gongwen_engine.models.queries.archive import item_by_code
from gongwen_engine.models.rules.permissions import Action
from gongwen_engine.models.tables import ArchiveItem

__all__ = [
    "Archivist",
    "Catalogue",
    "archivist",
    "catalogue",
    "catalogue_file",
    "check_year",
    "export_year",
    "find_item",
    "fonds_years",
    "import_into",
    "log_show",
    "search_archive",
    "show_item",
    "verify_files",
]

# A read of the archive and its 利用登记 row, one unit of work: run again on a transient database
# fault (a connection cut, a restart); after an in-doubt commit the cost is one more log row.
RETRIED_READ = db.retry_transient(in_doubt="retry")


@RETRIED_READ
def search_archive(engine: Engine, who: Archivist, query: SearchQuery, **logged: Any) -> list[Hit]:
    """Ranked hits in ``who``'s fonds (``query.fonds`` is theirs whatever was asked); ``logged``: the request as the log keeps it."""
    query.fonds = who.fonds
    with db.transaction(engine.db) as session:
        hits = search(session, query)
        log_retrieval(session, who.user.id, who.fonds, "search", len(hits), **logged)
    return hits


@RETRIED_READ
def show_item(engine: Engine, who: Archivist, code: str) -> dict[str, Any]:
    """One item's metadata (DA/T 46), files and history; a refused retrieval is logged too."""
    try:
        with db.transaction(engine.db) as session:
            item = item_in_fonds(session, who, code)
            log_retrieval(session, who.user.id, who.fonds, "show", 1, archive_code=code)
            return item_metadata(item)
    except Refusal as exc:
        with db.transaction(engine.db) as session:
            log_retrieval(session, who.user.id, who.fonds, "show", -1, archive_code=code, refused=str(exc))
        raise


def catalogue(engine: Engine, who: Archivist, year: int, retention: str | None, out: Path) -> tuple[int, tuple[Path, Path]]:
    """The catalogue (归档文件目录) of a year as .docx and .xlsx in ``out``: how many items, the two files."""
    with db.transaction(engine.db) as session:
        items = items_of(session, who.fonds, year, retention)
        if not items:
            raise Refusal(f"全宗 {who.fonds} {year} 年度没有归档文件")
        paths = write_catalogue(items, who.fonds, year, retention, out, engine.config.org(who.user.org).classification)
        log_retrieval(session, who.user.id, who.fonds, "catalogue", len(items), year=year, retention=retention)
    return len(items), paths


def export_year(engine: Engine, who: Archivist, year: int, out: Path) -> tuple[int, Path]:
    """The transfer package (移交包) of a year in ``out``: how many items, the zip."""
    with db.transaction(engine.db) as session:
        items = items_of(session, who.fonds, year)
        path = export_package(items, engine.storage, who.fonds, year, out)
        log_retrieval(session, who.user.id, who.fonds, "export", len(items), year=year, package=str(path))
    return len(items), path


def import_into(engine: Engine, who: Archivist, package: Path) -> int:
    """Receive a transfer package into ``who``'s fonds (digests checked first; all or nothing): how many items."""
    with db.transaction(engine.db) as session:
        items = import_package(session, engine.storage, engine.config, package, who.fonds)
        log_retrieval(session, who.user.id, who.fonds, "import", len(items), package=str(package))
    return len(items)


@RETRIED_READ
def verify_files(engine: Engine, fonds: str | None, user_id: str) -> tuple[int, list[Problem]]:
    """Fixity of every filed file (of ``fonds``; none: every fonds): files checked, problems."""
    with db.transaction(engine.db) as session:
        checked, problems = verify(session, engine.storage, fonds)
        log_retrieval(session, user_id, fonds, "verify", len(problems), checked=checked)
    return checked, problems


def check_year(engine: Engine, who: Archivist, year: int) -> Report:
    """The four-properties check (四性检测) of a year's items."""
    with db.transaction(engine.db) as session:
        report = four_properties(session, engine.storage, engine.config, who.fonds, year)
        log_retrieval(session, who.user.id, who.fonds, "check", len(report.checks), year=year, passed=report.passed)
    return report


@RETRIED_READ
def fonds_years(engine: Engine, fonds: str) -> list[int]:
    """The years with filed items, latest first."""
    with Session(engine.db) as session:
        return sorted({i.year for i in items_of(session, fonds)}, reverse=True)


@RETRIED_READ
def find_item(engine: Engine, who: Archivist, code: str, action: Action) -> ArchiveItem | None:
    """The item by archive code (None if there is none), if ``who`` may ``action`` it; else ``PermissionDenied``."""
    with Session(engine.db) as session:
        return item_in_fonds(session, who, code, action) if item_by_code(session, code) else None


def log_show(engine: Engine, who: Archivist, item: ArchiveItem) -> None:
    """The 利用登记 row of an item shown in the web workplace."""
    with db.transaction(engine.db) as session:
        log_retrieval(session, who.user.id, who.fonds, "show", 1, archive_code=item.archive_code)


@dataclass(frozen=True)
class Catalogue:
    """A catalogue file (归档文件目录) and how many items it lists."""

    name: str
    data: bytes
    items: int


def catalogue_file(engine: Engine, who: Archivist, year: int, retention: str | None, docx: bool) -> Catalogue:
    """The catalogue of ``who``'s fonds for ``year`` as one file (.docx or .xlsx), for a download; logged
    like :func:`catalogue`, which refuses a year with nothing filed."""
    with tempfile.TemporaryDirectory(prefix="gongwen-catalogue-") as tmp:
        count, (docx_path, xlsx_path) = catalogue(engine, who, year, retention, Path(tmp))
        path = docx_path if docx else xlsx_path
        return Catalogue(path.name, path.read_bytes(), count)
