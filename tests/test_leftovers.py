"""残留文件 (issue 26, point 5): what a process killed with SIGKILL leaves — temporary files beside
atomic writes, PDF staging folders, LibreOffice profiles and pipes — is cleaned by the next
command's start-up and reported by check-invariants and archive verify; what belongs to a process
still running is never touched. The leftovers are planted, named with a pid that is gone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gongwen_engine.config.files import stale_temporaries, write_atomically
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates import pdf
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.invariants import check_invariants
from gongwen_engine.flows.services.leftovers import clean_leftovers, find_leftovers


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def plant(settings: Settings, temp: Path) -> tuple[list[Path], list[Path]]:
    """Leftovers of a dead process, and the same kinds of file of a live one (the test's parent)."""
    dead, alive = dead_pid(), os.getppid()
    storage, home = settings.resolved_storage, settings.home
    (storage / "acwf" / "records").mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    uid = os.getuid()
    left = [
        storage / "acwf" / "records" / f".processing_slip-3.docx.{dead}-k2j4.tmp",
        home / f".cascade.json.{dead}-x1.tmp",
        temp / f"gongwen-pdf-{dead}-abcd",
        temp / f"gongwen-lo-{dead}-efgh",
        temp / f"OSL_PIPE_{uid}_gongwen-{dead}-0a1b2c3d",
    ]
    kept = [
        storage / "acwf" / "records" / f".draft_sheet-1.docx.{alive}-zz.tmp",
        temp / f"gongwen-pdf-{alive}-live",
        temp / "gongwen-pdf-notapid",
        storage / "acwf" / "records" / "draft_sheet-1.docx",
    ]
    for path in [*left, *kept]:
        if "gongwen-pdf" in path.name or "gongwen-lo" in path.name:
            path.mkdir(parents=True)
            (path / "正文.docx").write_bytes(b"PK copy of a document")
        else:
            path.write_bytes(b"half")
    return left, kept


def test_write_atomically_names_its_temporary_file_with_its_pid_and_leaves_none(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_atomically(b"{}", target)
    assert target.read_bytes() == b"{}" and [p.name for p in target.parent.iterdir()] == ["b.json"]
    (target.parent / f".b.json.{os.getpid()}-mine.tmp").write_bytes(b"")  # this process's own: never stale
    assert stale_temporaries([tmp_path]) == []


def test_leftovers_are_found_then_cleaned_and_a_live_process_keeps_its_own(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", storage=tmp_path / "storage")
    temp = tmp_path / "tmp"
    temp.mkdir()
    left, kept = plant(settings, temp)
    with_data = [p for p in left if not p.name.startswith(("OSL_PIPE_", "gongwen-lo-"))]  # pipes and profiles hold no document
    assert sorted(found.path for found in find_leftovers(settings, temp)) == sorted(with_data)
    kinds = {found.path.name.split("-")[0]: found.what for found in find_leftovers(settings, temp)}
    assert "PDF 转换暂存目录残留（含文档副本）" in kinds.values() and "原子写入的临时文件残留" in kinds.values()
    assert sorted(found.path for found in clean_leftovers(settings, temp)) == sorted(left)  # cleaning takes them all
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)
    assert find_leftovers(settings, temp) == []


def test_a_command_start_cleans_storage_and_check_invariants_reports_what_remains(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", storage=tmp_path / "storage")
    left, _ = plant(settings, tmp_path / "tmp")
    in_storage = [p for p in left if str(p).startswith(str(tmp_path / "storage")) or str(p).startswith(str(tmp_path / "home"))]
    engine = open_engine(settings, clean=False)
    reported = {v.where for v in check_invariants(engine).violations if v.rule == "leftover"}
    assert {str(p) for p in in_storage} <= reported
    open_engine(settings)  # the next command's start-up
    assert not any(p.exists() for p in in_storage)
    assert not [v for v in check_invariants(engine).violations if v.rule == "leftover" and str(tmp_path) in v.where]


@pytest.mark.parametrize("command", [["archive", "verify"], ["check-invariants"]])
def test_archive_verify_and_check_invariants_report_leftovers_without_removing_them(tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "home"
    open_engine(Settings(home=home)).db.dispose()
    planted = Settings(home=home).resolved_storage / "acwf" / f".filed.pdf.{dead_pid()}-q.tmp"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"half a PDF")
    env = {**os.environ, "GONGWEN_HOME": str(home), "COLUMNS": "400", "TMPDIR": str(tmp_path)}
    env.pop("GONGWEN_DATABASE_URL", None)
    cli = [sys.executable, "-m", "gongwen_engine.flows"]
    proc = subprocess.run([*cli, *command], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1 and str(planted) in proc.stdout.replace("\n", ""), proc.stdout + proc.stderr
    assert ("残留" if command[0] == "archive" else "leftover") in proc.stdout
    assert planted.exists()
    status = subprocess.run([*cli, "status"], capture_output=True, text=True, env=env, timeout=300)
    assert status.returncode == 0, status.stderr
    assert not planted.exists()  # any other command's start-up removed it


def test_pdf_staging_folders_carry_the_pid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []

    def convert(files: list[Path], out: Path) -> list[Path]:
        seen.append(out)
        (out / "a.pdf").write_bytes(b"%PDF")
        return [out / "a.pdf"]

    monkeypatch.setattr(pdf, "docx_to_pdf", convert)
    docx = tmp_path / "a.docx"
    docx.write_bytes(b"PK unique bytes for the cache " + str(tmp_path).encode())
    assert pdf.docx_bytes_to_pdf(docx) == b"%PDF"
    assert seen[0].name.startswith(f"{pdf.STAGING_PREFIX}{os.getpid()}-") and not seen[0].exists()
