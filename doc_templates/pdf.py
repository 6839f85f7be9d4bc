"""The fixed-layout copy (版式文件): .docx → PDF with LibreOffice headless.

**One warm LibreOffice per process.** Starting ``soffice --convert-to`` costs about 1 s even for
one small file, so every conversion goes to a LibreOffice started once per process (lazily, on
the first conversion) and kept: a 1–6 page document then converts in about 0.1–0.3 s. It is
driven through UNO by ``uno_bridge.py``, a small script run by a Python that has LibreOffice's
``uno`` module — Debian's ``/usr/bin/python3`` with ``python3-uno`` (``GONGWEN_UNO_PYTHON``
names another); gongwen's own Python (a pyenv or venv 3.11) cannot import ``uno``. The bridge
answers JSON lines on stdin/stdout. It was chosen over the ``unoserver`` package because
unoserver listens on a TCP port (one per process to allocate, open to every local user), must
be installed into Debian's Python (``pip --break-system-packages``) and outlives a killed
client; the bridge is ~150 lines of standard library, and it and its LibreOffice die with the
process that started them (stdin's end, a parent watch, ``PR_SET_PDEATHSIG``, and a process
group killed on restart or exit).

* One conversion at a time per process (a lock): LibreOffice is one process; 2 cores.
* A bridge that dies or does not answer within ``BRIDGE_TIMEOUT_S`` is killed with its
  LibreOffice, started again with a fresh profile, and the conversion is tried once more.
* Where ``uno`` is missing (``python3-uno`` not installed), conversions fall back to one
  ``soffice --convert-to`` run per call, with one warning in the log: slower, same PDFs.

Each LibreOffice gets its own user profile (``-env:UserInstallation``): two ``soffice``
processes sharing a profile hand their work to each other or fail. Profiles are named with the
owning process's pid and removed when it exits; a process killed with SIGKILL leaves its
profile, which the next process removes (``remove_profiles_of_dead_processes``).
The PDF is PDF/A-2b (fonts embedded, a long-term archival format, DA/T 70 usability), which
keeps its conformance when a signature is added as an incremental update; both paths use the
same export filter and options (``PDF_EXPORT_FILTER``, ``PDF_FILTER_DATA``).

The .docx renderer writes deterministic bytes, so a conversion is a function of those bytes:
a small per-process cache keyed by their SHA-256 spares a retried 用印 step (or a re-issue of
the same bytes) a second conversion.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gongwen_engine.config.files import pid_alive

log = logging.getLogger(__name__)

SOFFICE_TIMEOUT_S = 180
# writer_pdf_Export options: PDF/A-2b (SelectPdfVersion 2), no thumbnails; spelled as --convert-to's JSON.
PDF_EXPORT_FILTER = "writer_pdf_Export"
PDF_FILTER_DATA = {"SelectPdfVersion": {"type": "long", "value": "2"}, "ExportNotes": {"type": "boolean", "value": "false"}}
PDF_FILTER = f"pdf:{PDF_EXPORT_FILTER}:{json.dumps(PDF_FILTER_DATA, separators=(',', ':'))}"
INSTALL_HINT = "apt-get install -y --no-install-recommends libreoffice-writer-nogui python3-uno fonts-noto-cjk fonts-arphic-gkai00mp fonts-lxgw-wenkai"

# The Chinese faces: fontconfig maps the fonts the .docx names (仿宋_GB2312, 方正小标宋简体, 黑体,
# 楷体_GB2312, 宋体) to Debian packages' SC faces in every LibreOffice gongwen starts (docs/layout.md).
FONTS_CONF = Path(__file__).with_name("fonts.conf")
UNO_PYTHON_ENV = "GONGWEN_UNO_PYTHON"
DEFAULT_UNO_PYTHON = "/usr/bin/python3"  # Debian's, where python3-uno installs uno
BRIDGE_SCRIPT = Path(__file__).with_name("uno_bridge.py")
BRIDGE_START_TIMEOUT_S = 90.0  # a new profile, LibreOffice's first start, a loaded machine
BRIDGE_TIMEOUT_S = 60.0  # one document (a 6-page one takes ~0.2 s)
CLOSE_WAIT_S = 5.0

CACHE_ENTRIES = 256  # PDFs of about 0.1–0.3 MB each: what the batch runner prepares for two slots' batches of 64 stays until their 印制 and 用印 steps
_profiles = threading.local()
_all_profiles: list[str] = []
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_lock = threading.Lock()


class ConversionError(RuntimeError):
    """LibreOffice is missing or could not convert a file (message says how to fix it)."""


def office_env() -> dict[str, str]:
    """The environment of the LibreOffice processes gongwen starts: ours, with FONTCONFIG_FILE
    naming ``fonts.conf`` (which includes the system's configuration)."""
    return {**os.environ, "FONTCONFIG_FILE": str(FONTS_CONF)}


def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        raise ConversionError(f"未找到 LibreOffice（soffice），无法生成版式文件（PDF）。请安装：{INSTALL_HINT}")
    return found


PROFILE_PREFIX = "gongwen-lo-"


def _new_profile() -> str:
    """An empty profile folder named with this process's pid (see remove_profiles_of_dead_processes),
    removed at exit."""
    if not _all_profiles:
        remove_profiles_of_dead_processes()
    profile = tempfile.mkdtemp(prefix=f"{PROFILE_PREFIX}{os.getpid()}-")
    _all_profiles.append(profile)
    return profile


def _profile() -> str:
    """This thread's profile for one-shot ``soffice --convert-to`` runs (the fallback path)."""
    profile = getattr(_profiles, "path", None)
    if profile is None:
        profile = _profiles.path = _new_profile()
    return profile


def remove_profiles_of_dead_processes(folder: Path | None = None) -> list[Path]:
    """A process killed with SIGKILL never runs its exit handler: its profile (about 0.5 MB)
    stays in the temporary folder. Profiles are named with their process's pid, so the next
    process removes those whose process is gone. Returns what was removed."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PROFILE_PREFIX}*-*"):
        pid = path.name[len(PROFILE_PREFIX) :].split("-", 1)[0]
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


STAGING_PREFIX = "gongwen-pdf-"  # + pid: a conversion's staging folder (copies of the documents)
PIPE_PREFIX = "gongwen-"  # + pid: the warm LibreOffice's named pipe (uno_bridge.Office.pipe)


def dead_process_leftovers(folder: Path | None = None) -> list[Path]:
    """What processes killed with SIGKILL left in the temporary folder: LibreOffice profiles,
    PDF staging folders (copies of documents) and LibreOffice pipe sockets, each named with the
    pid of its process, whose process is gone. A process still running keeps its own."""
    found: list[Path] = []
    base = Path(folder or tempfile.gettempdir())
    pipe_prefix = f"OSL_PIPE_{os.getuid()}_{PIPE_PREFIX}"
    places: list[tuple[Path, tuple[str, ...]]] = [(base, (PROFILE_PREFIX, STAGING_PREFIX, pipe_prefix))]
    if folder is None and base != Path("/tmp"):
        places.append((Path("/tmp"), (pipe_prefix,)))  # LibreOffice's sockets live in /tmp whatever TMPDIR says
    for place, prefixes in places:
        if not place.is_dir():
            continue
        for path in place.iterdir():
            prefix = next((p for p in prefixes if path.name.startswith(p)), None)
            if prefix is None:
                continue
            pid = path.name[len(prefix) :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                found.append(path)
    return sorted(found)


def remove_dead_process_leftovers(folder: Path | None = None) -> list[Path]:
    """Remove what ``dead_process_leftovers`` finds; returns what was removed."""
    removed = []
    for path in dead_process_leftovers(folder):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if not path.exists():
            removed.append(path)
    return removed


@atexit.register
def _remove_profiles() -> None:
    shutdown()
    for profile in _all_profiles:
        shutil.rmtree(profile, ignore_errors=True)


# ---- the warm LibreOffice (uno_bridge.py) ----------------------------------------------------------


class BridgeUnavailable(RuntimeError):
    """No Python with ``uno`` (python3-uno not installed): use the one-shot path."""


class BridgeFailed(RuntimeError):
    """The bridge or its LibreOffice died, did not start or did not answer in time."""


def soffice_bin() -> str:
    """LibreOffice's own binary beside the ``soffice`` script: the bridge starts it directly, so
    that it stays the bridge's child (the script's oosplash would fork it out of reach)."""
    script = Path(os.path.realpath(soffice()))
    binary = script.with_name("soffice.bin")
    return str(binary if binary.is_file() else script)


class WarmConverter:
    """One LibreOffice kept running for this process (up to ``CONVERTERS`` of them), driven through ``uno_bridge.py``.

    Thread-safe: conversions take turns (a lock). A dead or hung bridge is killed with its
    LibreOffice (its own process group), started again and the conversion tried once more."""

    def __init__(self, python: str | None = None, timeout_s: float = BRIDGE_TIMEOUT_S) -> None:
        self.python = python or os.environ.get(UNO_PYTHON_ENV) or DEFAULT_UNO_PYTHON
        self.timeout_s = timeout_s
        self.owner = os.getpid()
        self.users = 0  # threads converting with it now or about to (``_converting``; under _warm_lock)
        self.office_pid: int | None = None
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._buffer = b""

    def convert(self, src: Path, dst: Path) -> None:
        """``src`` (.docx) → ``dst`` (PDF/A-2b). BridgeUnavailable where uno is missing;
        ConversionError when LibreOffice cannot convert the file, or failed twice."""
        request = {"src": str(src.resolve()), "dst": str(dst.resolve()), "filter": PDF_EXPORT_FILTER, "data": PDF_FILTER_DATA}
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._proc is None or self._proc.poll() is not None:
                        self._start()
                    answer = self._ask(request)
                except BridgeFailed as exc:
                    self._stop()
                    if attempt == 2:
                        raise ConversionError(f"LibreOffice (uno_bridge) failed twice converting {src.name}: {exc}") from None
                    log.warning("LibreOffice bridge failed (%s); starting it again and retrying %s", exc, src.name)
                    continue
                if answer.get("ok") and dst.is_file():
                    return
                if answer.get("fatal"):
                    self._stop()
                    if attempt == 1:
                        continue
                raise ConversionError(f"LibreOffice could not convert {src.name}: {answer.get('error', 'no PDF written')}")

    def busy(self) -> bool:
        """Converting (or starting) now, in some thread."""
        return self._lock.locked()

    def start(self) -> bool:
        """Start the bridge and its LibreOffice now (a worker warming up before its first 用印);
        False where uno is missing or LibreOffice did not start (the first conversion tries again)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                return True
            try:
                self._start()
                return True
            except BridgeUnavailable as exc:
                _give_up_on_uno(str(exc))
            except (BridgeFailed, ConversionError) as exc:
                self._stop()
                log.warning("LibreOffice did not start ahead of use: %s", exc)
            return False

    def close(self) -> None:
        """Let the bridge stop its LibreOffice (stdin's end), then kill what is left. Waits at most
        ``CLOSE_WAIT_S`` for a conversion in another thread (at exit, it may never end)."""
        locked = self._lock.acquire(timeout=CLOSE_WAIT_S)
        try:
            self._stop(graceful=True)
        finally:
            if locked:
                self._lock.release()

    def _start(self) -> None:
        self._stop()
        office = soffice_bin()
        self._profile = _new_profile()
        cmd = [self.python, str(BRIDGE_SCRIPT), "--soffice", office, "--profile", self._profile]
        try:
            # Its own process group: killing the group takes LibreOffice with it. stdin stays
            # ours: when this process dies, the bridge reads its end and stops LibreOffice.
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, env=office_env()
            )
        except OSError as exc:
            raise BridgeUnavailable(f"{self.python}: {exc}") from None
        self._buffer = b""
        hello = self._read(BRIDGE_START_TIMEOUT_S)
        if hello.get("ready"):
            self.office_pid = hello.get("pid")
            return
        if hello.get("uno") is False:
            self._stop()
            raise BridgeUnavailable(hello.get("error", "no uno"))
        raise BridgeFailed(hello.get("error", "the bridge did not start"))

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(request).encode("ascii") + b"\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise BridgeFailed(f"the bridge is gone ({exc})") from None
        return self._read(self.timeout_s)

    def _read(self, timeout_s: float) -> dict[str, Any]:
        """One JSON line from the bridge within ``timeout_s``."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BridgeFailed(f"no answer within {timeout_s:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise BridgeFailed(f"the bridge exited (code {self._proc.wait()})")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:
            raise BridgeFailed(f"the bridge said something else than JSON: {line[:200]!r}") from None
        return answer

    def _stop(self, graceful: bool = False) -> None:
        """Kill the bridge's process group (the bridge and its LibreOffice) and drop its profile;
        ``graceful``: first close its stdin and give it ``CLOSE_WAIT_S`` to stop LibreOffice itself."""
        proc, self._proc, self.office_pid = self._proc, None, None
        if proc is not None:
            if graceful and proc.poll() is None and proc.stdin is not None:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    proc.stdin.close()
                    proc.wait(CLOSE_WAIT_S)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            if self._profile in _all_profiles:
                _all_profiles.remove(self._profile)
            self._profile = None


# Warm LibreOffices per process, started as conversions overlap (the batch runner's two slots
# prepare at once): each converts one file at a time, and a document's conversion is single-threaded
# in LibreOffice, so a second one is what lets two conversions use the machine's two CPUs.
CONVERTERS = 2  # the engine's setting (Settings.converters, GONGWEN_CONVERTERS): use_converters
_warm: list[WarmConverter] = []
_warm_lock = threading.Lock()
_uno_missing = False


def use_converters(limit: int) -> None:
    """Run at most ``limit`` warm LibreOffices in this process (those started stay until ``shutdown``)."""
    global CONVERTERS
    CONVERTERS = max(1, limit)


def warm_converter() -> WarmConverter | None:
    """One of this process's warm converters — one no thread is using, a new one while there are
    fewer than ``CONVERTERS``, else the least used (its turn comes) — or None where uno is missing
    (the one-shot path)."""
    with _warm_lock:
        return _least_used()


def _least_used() -> WarmConverter | None:
    if _uno_missing:
        return None
    if _warm and _warm[0].owner != os.getpid():  # a forked child never uses its parent's bridges
        _warm.clear()
    idle = next((warm for warm in _warm if warm.users == 0 and not warm.busy()), None)
    if idle is not None:
        return idle
    if len(_warm) < CONVERTERS:
        _warm.append(WarmConverter())
        return _warm[-1]
    return min(_warm, key=lambda warm: warm.users)


@contextlib.contextmanager
def _converting() -> Iterator[WarmConverter | None]:
    """A warm converter for this thread's conversions: chosen and counted as used in one step, so
    two threads converting at once get two converters (while ``CONVERTERS`` allows)."""
    with _warm_lock:
        warm = _least_used()
        if warm is not None:
            warm.users += 1
    try:
        yield warm
    finally:
        if warm is not None:
            with _warm_lock:
                warm.users -= 1


def _give_up_on_uno(reason: str) -> None:
    global _uno_missing
    with _warm_lock:
        if not _uno_missing:
            log.warning(
                "LibreOffice's Python bridge is unavailable (%s): converting with one soffice run per call, "
                "about 1 s more each. Install it: apt-get install -y --no-install-recommends python3-uno",
                reason,
            )
        _uno_missing = True


def warm_up() -> threading.Thread | None:
    """Start this process's LibreOffice in the background (about 2–3 s), so that the first 用印
    of a worker does not wait for it. None where uno is known to be missing."""
    warm = warm_converter()
    if warm is None:
        return None
    thread = threading.Thread(target=warm.start, name="gongwen-libreoffice-warm-up", daemon=True)
    thread.start()
    return thread


def shutdown() -> None:
    """Stop this process's warm LibreOffices (at exit; tests) and forget a missing-uno decision."""
    global _uno_missing
    with _warm_lock:
        started, _uno_missing = list(_warm), False
        _warm.clear()
    for warm in started:
        if warm.owner == os.getpid():
            warm.close()


def docx_to_pdf(docx_files: list[Path], out_dir: Path) -> list[Path]:
    """Convert ``docx_files`` to PDF/A-2b in ``out_dir`` (same stems, same order): one by one in
    the warm LibreOffice, or in one ``soffice`` run where uno is missing."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with _converting() as warm:
        if warm is not None:
            try:
                pdfs = []
                for docx in docx_files:
                    pdfs.append(out_dir / (docx.stem + ".pdf"))
                    warm.convert(docx, pdfs[-1])
                return pdfs
            except BridgeUnavailable as exc:
                _give_up_on_uno(str(exc))
    return one_shot_docx_to_pdf(docx_files, out_dir)


def one_shot_docx_to_pdf(docx_files: list[Path], out_dir: Path) -> list[Path]:
    """Convert ``docx_files`` with one ``soffice --convert-to`` run (its start-up, ~1 s, is most
    of the cost); returns the PDFs in ``out_dir``, in the same order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        soffice(),
        f"-env:UserInstallation=file://{_profile()}",
        "--headless",
        "--norestore",
        "--nologo",
        "--convert-to",
        PDF_FILTER,
        "--outdir",
        str(out_dir),
        *(str(f) for f in docx_files),
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=SOFFICE_TIMEOUT_S, stdin=subprocess.DEVNULL, env=office_env())
    except subprocess.TimeoutExpired:
        raise ConversionError(f"LibreOffice did not finish converting {len(docx_files)} file(s) within {SOFFICE_TIMEOUT_S} s") from None
    pdfs = [out_dir / (f.stem + ".pdf") for f in docx_files]
    missing = [p.name for p in pdfs if not p.is_file()]
    if done.returncode != 0 or missing:
        raise ConversionError(f"LibreOffice could not convert {', '.join(missing) or 'the files'} (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return pdfs


PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe
# The text layers read lately, by the PDF's SHA-256: one issued PDF is read by 印制's layout checks
# (three of them), 用印's search for the signature and 归档's page count, ~11 ms for 8 pages each
# time; the digest costs ~0.2 ms. Guarded by PDFIUM_LOCK.
TEXTS_ENTRIES = 128
_texts: OrderedDict[bytes, tuple[str, ...]] = OrderedDict()


def page_texts(pdf: bytes) -> list[str]:
    """The text layer of each page of a PDF, read in-process with pypdfium2 (C: about a
    millisecond a page, where pdfplumber's layout analysis takes tens), or as read before for the
    same bytes. Raises ``pypdfium2.PdfiumError`` for bytes that are not a PDF."""
    key = hashlib.sha256(pdf).digest()
    with PDFIUM_LOCK:
        texts = _texts.get(key)
        if texts is None:
            texts = _texts[key] = tuple(_read_page_texts(pdf))
            while len(_texts) > TEXTS_ENTRIES:
                _texts.popitem(last=False)
        else:
            _texts.move_to_end(key)
    return list(texts)


def _read_page_texts(pdf: bytes) -> list[str]:
    """Each page's text layer, read with pypdfium2 (the caller holds PDFIUM_LOCK)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            text = page.get_textpage()
            try:
                texts.append(text.get_text_range())
            finally:
                text.close()
                page.close()
        return texts
    finally:
        document.close()


def docx_files_to_pdf_bytes(docx_files: list[Path]) -> list[bytes]:
    """The PDF of each .docx, in order (staged under distinct names: two organisations may
    issue files named alike); not cached."""
    with tempfile.TemporaryDirectory(prefix=f"{STAGING_PREFIX}{os.getpid()}-") as tmp:
        staged = []
        for n, docx in enumerate(docx_files):
            staged.append(Path(tmp) / f"d{n}.docx")
            shutil.copyfile(docx, staged[-1])
        return [pdf.read_bytes() for pdf in docx_to_pdf(staged, Path(tmp) / "pdf")]


def docx_bytes_to_pdf(docx: Path) -> bytes:
    """One .docx → PDF bytes (converted in a private temporary folder; cached by digest)."""
    key = hashlib.sha256(docx.read_bytes()).hexdigest()
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    with tempfile.TemporaryDirectory(prefix=f"{STAGING_PREFIX}{os.getpid()}-") as tmp:
        [pdf] = docx_to_pdf([docx], Path(tmp))
        data = pdf.read_bytes()
    with _cache_lock:
        _cache[key] = data
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return data


def prepare_pdfs(docx_files: list[Path]) -> dict[Path, bytes]:
    """Convert many .docx together and keep their PDFs in the cache, so the 用印 steps that
    follow find them (the national cascade: a province's cities seal together, outside any
    transaction). At most ``CACHE_ENTRIES`` files per call.
    Returns each .docx with its PDF bytes, so callers may measure other things (pages) from the
    same conversion."""
    if len(docx_files) > CACHE_ENTRIES:
        raise ValueError(f"prepare at most {CACHE_ENTRIES} documents at a time (got {len(docx_files)})")
    keys = [hashlib.sha256(docx.read_bytes()).hexdigest() for docx in docx_files]
    with _cache_lock:  # 印制 converted most of them already (doc_templates/pages.py): only the others
        cached = {docx: _cache[key] for key, docx in zip(keys, docx_files, strict=True) if key in _cache}
    missing = [docx for docx in docx_files if docx not in cached]
    out = {**cached, **dict(zip(missing, docx_files_to_pdf_bytes(missing) if missing else [], strict=True))}
    with _cache_lock:
        for key, docx in zip(keys, docx_files, strict=True):
            _cache[key] = out[docx]
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return out
