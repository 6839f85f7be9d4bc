"""残留文件: what a process killed with SIGKILL leaves behind, found and cleaned.

- temporary files of ``write_atomically`` (``.NAME.PID-XXXX.tmp``) beside documents, records and
  snapshots in storage and in GONGWEN_HOME, whose writer is gone (``config/files.py``);
- in the temporary folder: PDF staging folders (``gongwen-pdf-PID-*``, copies of documents),
  LibreOffice profiles (``gongwen-lo-PID-*``) and pipe sockets (``OSL_PIPE_UID_gongwen-PID-*``) of
  processes that are gone (``doc_templates/pdf.py``).

Every command that opens an engine cleans them at start-up (``open_engine``); the commands that
inspect — ``gongwen check-invariants`` and ``gongwen archive verify`` — leave them and report what
remains with document data in it (pipes and profiles hold none and are machine-wide: a parallel
installation's killed process would make every other installation's check fail). A file of a
process still running is never touched.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from gongwen_engine.config.files import remove_stale_temporaries, stale_temporaries
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates import pdf

log = logging.getLogger(__name__)
# A temporary file named without its writer's pid (written before the pid was in the name) is a
# leftover once it is this old.
UNNAMED_AGE_S = 3600.0


@dataclass(frozen=True)
class Leftover:
    path: Path
    what: str  # Chinese: what kind of leftover

    def __str__(self) -> str:
        return f"{self.what}：{self.path}"


def _folders(settings: Settings) -> list[Path]:
    return list(dict.fromkeys([settings.resolved_storage, settings.home.resolve()]))


def _kind(path: Path) -> str:
    if path.name.startswith(pdf.PROFILE_PREFIX):
        return "LibreOffice 用户配置残留"
    if path.name.startswith(pdf.STAGING_PREFIX):
        return "PDF 转换暂存目录残留（含文档副本）"
    if path.name.startswith("OSL_PIPE_"):
        return "LibreOffice 管道残留"
    return "原子写入的临时文件残留"


def _holds_data(path: Path) -> bool:
    """A leftover with document data in it: not a LibreOffice pipe socket or user profile, which
    hold none, are machine-wide (any gongwen installation's dead process may have left them) and
    are removed at every start-up."""
    return not path.name.startswith(("OSL_PIPE_", pdf.PROFILE_PREFIX))


def find_leftovers(settings: Settings, temp_folder: Path | None = None) -> list[Leftover]:
    """What processes that are gone left with document data in it: temporary files in storage and
    GONGWEN_HOME, PDF staging folders (copies of documents) in the temporary folder."""
    paths = [*stale_temporaries(_folders(settings), time.time() - UNNAMED_AGE_S), *pdf.dead_process_leftovers(temp_folder)]
    return [Leftover(p, _kind(p)) for p in paths if _holds_data(p)]


def clean_leftovers(settings: Settings, temp_folder: Path | None = None) -> list[Leftover]:
    """Remove what ``find_leftovers`` finds (a command's start-up); returns what was removed."""
    paths = [*remove_stale_temporaries(_folders(settings), time.time() - UNNAMED_AGE_S), *pdf.remove_dead_process_leftovers(temp_folder)]
    if paths:
        log.warning("removed %d leftover(s) of processes that are gone: %s", len(paths), ", ".join(str(p) for p in paths[:5]))
    return [Leftover(p, _kind(p)) for p in paths]
