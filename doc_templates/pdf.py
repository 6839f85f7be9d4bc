"""The fixed-layout copy (版式文件): .docx → PDF with LibreOffice headless.

Each thread of each process gets its own LibreOffice user profile (``-env:UserInstallation``):
two ``soffice`` processes sharing a profile hand their work to each other or fail. The profile
is created by the first conversion (about 1 s more) and removed when the process exits.
The PDF is PDF/A-2b (fonts embedded, a long-term archival format, DA/T 70 usability), which
keeps its conformance when a signature is added as an incremental update.

The .docx renderer writes deterministic bytes, so a conversion is a function of those bytes:
a small per-process cache keyed by their SHA-256 spares a retried 用印 step (or a re-issue of
the same bytes) a second LibreOffice run.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

SOFFICE_TIMEOUT_S = 180
# writer_pdf_Export options: PDF/A-2b (SelectPdfVersion 2), no thumbnails.
PDF_FILTER = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"},"ExportNotes":{"type":"boolean","value":"false"}}'
INSTALL_HINT = "apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-noto-cjk"

CACHE_ENTRIES = 32  # PDFs of about 0.3 MB each
_profiles = threading.local()
_all_profiles: list[str] = []
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


class ConversionError(RuntimeError):
    """LibreOffice is missing or could not convert a file (message says how to fix it)."""


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise ConversionError(f"未找到 LibreOffice（soffice），无法生成版式文件（PDF）。请安装：{INSTALL_HINT}")
    return found


PROFILE_PREFIX = "gongwen-lo-"


def _profile() -> str:
    profile = getattr(_profiles, "path", None)
    if profile is None:
        if not _all_profiles:
            remove_profiles_of_dead_processes()
        profile = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")  # the pid: see remove_profiles_of_dead_processes
        _profiles.path = profile
        _all_profiles.append(profile)
    return profile


def remove_profiles_of_dead_processes(folder: Path | None = None) -> list[Path]:
    """A process killed with SIGKILL never runs its exit handler: its profile (about 0.5 MB)
    stays in the temporary folder. Profiles are named with their process's pid, so the next
    process removes those whose process is gone. Returns what was removed."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PROFILE_PREFIX}*-*"):
        pid = path.name[len(PROFILE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # alive (or another user's: left alone)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        except PermissionError:
            continue
    return removed


@atexit.register
def _remove_profiles() -> None:
    for profile in _all_profiles:
        shutil.rmtree(profile, ignore_errors=True)


def docx_to_pdf(docx_files: list[Path], out_dir: Path) -> list[Path]:
    """Convert ``docx_files`` with one ``soffice`` run (its start-up is most of the cost);
    returns the PDFs in ``out_dir``, in the same order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [soffice(), f"-env:UserInstallation=file://{_profile()}", "--headless", "--norestore", "--nologo",
           "--convert-to", PDF_FILTER, "--outdir", str(out_dir), *(str(f) for f in docx_files)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"LibreOffice did not finish converting {len(docx_files)} file(s) within {SOFFICE_TIMEOUT_S} s") from None
    pdfs = [out_dir / (f.stem + ".pdf") for f in docx_files]
    missing = [p.name for p in pdfs if not p.is_file()]
    if done.returncode != 0 or missing:
        raise ConversionError(f"LibreOffice could not convert {', '.join(missing) or 'the files'} (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return pdfs


def docx_bytes_to_pdf(docx: Path) -> bytes:
    """One .docx → PDF bytes (converted in a private temporary folder; cached by digest)."""
    key = hashlib.sha256(docx.read_bytes()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with tempfile.TemporaryDirectory(prefix="gongwen-pdf-") as tmp:
        [pdf] = docx_to_pdf([docx], Path(tmp))
        data = pdf.read_bytes()
    with _cache_lock:
        _cache[key] = data
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return data


def prepare_pdfs(docx_files: list[Path]) -> dict[Path, bytes]:
    """Convert many .docx in ONE ``soffice`` run and keep their PDFs in the cache, so the 用印
    steps that follow find them (the national cascade: a province's cities seal together and
    LibreOffice starts once for them). At most ``CACHE_ENTRIES`` files per call.
    Returns each .docx with its PDF bytes, so callers may measure other things (pages) from the
    same run."""
    if len(docx_files) > CACHE_ENTRIES:
        raise ValueError(f"prepare at most {CACHE_ENTRIES} documents at a time (got {len(docx_files)})")
    with tempfile.TemporaryDirectory(prefix="gongwen-pdf-") as tmp:
        staged = []
        for n, docx in enumerate(docx_files):  # distinct names: two organisations may issue files named alike
            staged.append(Path(tmp) / f"d{n}.docx")
            shutil.copyfile(docx, staged[-1])
        pdfs = docx_to_pdf(staged, Path(tmp) / "pdf")
        out: dict[Path, bytes] = {}
        with _cache_lock:
            for docx, stage, pdf in zip(docx_files, staged, pdfs):
                data = pdf.read_bytes()
                _cache[hashlib.sha256(stage.read_bytes()).hexdigest()] = data
                out[docx] = data
            while len(_cache) > CACHE_ENTRIES:
                _cache.popitem(last=False)
    return out
