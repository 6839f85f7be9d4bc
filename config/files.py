"""Files written whole or not at all, and what a killed process leaves behind (残留文件).

``write_atomically`` is the one way gongwen writes a file that others read (documents, records,
config snapshots, ``cascade.json``, manifests): a temporary file beside the target, flushed,
renamed over it. The temporary file is named ``.NAME.PID-XXXX.tmp`` with the writer's pid, so a
process killed between writing and renaming leaves a file that the next start recognises as
its predecessor's (``stale_temporaries`` / ``remove_stale_temporaries``); a temporary file of a
process that is still alive is never touched.

This module is at the bottom of the import graph (config): every layer may use it.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

FILE_MODE = 0o644
# .NAME.PID-RANDOM.tmp (this module) or .NAME.RANDOM.tmp (before the pid was in the name)
_TEMPORARY = re.compile(r"^\..+\.(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+\.tmp$")


def write_atomically(data: bytes, path: Path, mode: int = FILE_MODE) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, rename it over.

    Readers see the old file or the new one, never a half-written one; a failed attempt
    leaves no temporary file behind it (a killed one does: see ``remove_stale_temporaries``).
    Missing parent folders are created. ``mode``: 0o600 for keys (readable by the owner only).
    """
    place_staged(stage_file(data, path, mode), path)


def stage_file(data: bytes, path: Path, mode: int = FILE_MODE) -> Path:
    """``write_atomically``'s first half: ``data`` written and flushed to disk in a temporary file
    beside ``path`` (named as its temporaries are: a killed process's is swept at the next start),
    returned; ``place_staged`` renames it over ``path``. The write may so happen long before the
    rename — outside a lock the rename is taken under — with the same guarantees. Inside
    ``syncs_deferred`` the flush to disk runs on a thread of its own and the block's end waits for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    pending = _pending_syncs.get()
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fchmod(fd, mode)  # mkstemp creates 0600
        if pending is None:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    if pending is None:
        os.close(fd)
    else:
        pending.append(_sync_pool().submit(_sync_and_close, fd))
    return Path(temp_name)


_pending_syncs: contextvars.ContextVar[list[Future[None]] | None] = contextvars.ContextVar("gongwen_pending_syncs", default=None)


_pools: dict[int, ThreadPoolExecutor] = {}  # by pid: a forked child has none of its parent's threads
_pools_lock = threading.Lock()


def _sync_pool() -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(os.getpid())
        if pool is None:
            pool = _pools[os.getpid()] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="gongwen-fsync")
        return pool


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def syncs_deferred() -> Iterator[Callable[[], None]]:
    """Within the block, the files this thread writes (``write_atomically``, ``stage_file``) are
    renamed into place at once but flushed to disk on a pool of threads, beside the work that
    follows; the function yielded waits until every one is on disk (raising the first failure).
    A database transaction calls it just before its COMMIT: the commit that records a file still
    comes after the file is on disk, while its writer's lock is no longer held through each
    flush in turn. (A process killed before the COMMIT leaves what a killed ``write_atomically``
    leaves: the transaction rolls back and its step runs again.)"""
    pending: list[Future[None]] = []
    token = _pending_syncs.set(pending)

    def wait() -> None:
        while pending:
            pending.pop(0).result()

    try:
        yield wait
    finally:
        _pending_syncs.reset(token)  # syncs not waited for (the block failed) finish on their own and close their files


def place_staged(temp: Path, path: Path) -> None:
    """``write_atomically``'s second half: the staged ``temp`` renamed over ``path`` (the same
    folder, so one atomic rename); a rename that fails removes the temporary file."""
    try:
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def folder_locked(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` (its ``.lock`` file, created with the folder): the
    demo authorities' key folders, which several processes may create at once."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """Is process ``pid`` running (on this machine)?"""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _is_stale(path: Path, started: float | None) -> bool:
    match = _TEMPORARY.match(path.name)
    if match is None or not path.is_file():
        return False
    pid = match.group("pid")
    if pid is not None:
        return int(pid) != os.getpid() and not pid_alive(int(pid))
    # no pid in the name: a leftover when it is older than this process
    try:
        return started is not None and path.stat().st_mtime < started
    except FileNotFoundError:
        return False


def stale_temporaries(folders: Iterable[Path], started: float | None = None) -> list[Path]:
    """Temporary files of ``write_atomically`` under ``folders`` whose writer is gone (its pid is
    not running; for names without a pid: older than ``started``, a time.time())."""
    found: list[Path] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        found.extend(p for p in folder.rglob(".*.tmp") if _is_stale(p, started))
    return sorted(found)


def remove_stale_temporaries(folders: Iterable[Path], started: float | None = None) -> list[Path]:
    """Remove what ``stale_temporaries`` finds; returns what was removed."""
    removed = []
    for path in stale_temporaries(folders, started):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


NAME_MAX_BYTES = 255  # what Linux file systems (ext4, xfs) allow in one name


def fit_file_name(name: str, max_bytes: int = NAME_MAX_BYTES) -> str:
    """``name`` cut to at most ``max_bytes`` bytes of UTF-8 (a file system counts bytes, not
    characters: 85 Chinese characters fill 255), keeping its extension and never cutting a
    character in two."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(ext.encode("utf-8")) < 16 else ""
    stem = name[: len(name) - len(suffix)]
    budget = max_bytes - len(suffix.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + suffix
