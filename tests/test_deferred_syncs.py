"""Files written inside a database transaction are flushed to disk beside its work and waited for
just before its COMMIT (``config.files.syncs_deferred``, ``models.db.transaction``): the file is
in place at once, on disk before the commit that records it, and a flush that fails stops the commit."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gongwen_engine.config import files
from gongwen_engine.config.files import stage_file, syncs_deferred, write_atomically
from gongwen_engine.models import db
from gongwen_engine.models.tables import NumberCounter


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads that flushed a file to disk, in order."""
    seen: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        real(fd)
        seen.append(threading.current_thread().name)

    monkeypatch.setattr(files.os, "fsync", fsync)
    return seen


def test_outside_the_block_a_write_is_flushed_before_it_returns(tmp_path: Path, synced: list[str]) -> None:
    write_atomically(b"abc", tmp_path / "a.txt")
    assert synced == [threading.current_thread().name] and (tmp_path / "a.txt").read_bytes() == b"abc"


def test_inside_the_block_the_flush_runs_beside_and_is_waited_for(tmp_path: Path, synced: list[str]) -> None:
    with syncs_deferred() as wait:
        write_atomically(b"one", tmp_path / "1.txt")
        staged = stage_file(b"two", tmp_path / "2.txt")
        assert (tmp_path / "1.txt").read_bytes() == b"one" and staged.read_bytes() == b"two"  # in place at once
        wait()
        assert len(synced) == 2 and all(name.startswith("gongwen-fsync") for name in synced)
    assert oct(staged.stat().st_mode & 0o777) == oct(files.FILE_MODE)


def test_a_failed_flush_stops_the_commit_of_the_transaction_that_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.get_engine(f"sqlite:///{tmp_path / 'gongwen.db'}")
    db.migrate(engine.url.render_as_string(hide_password=False))

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "fsync", broken)
    with pytest.raises(OSError, match="Input/output error"), db.transaction(engine) as session:
        session.add(NumberCounter(sequence="s", year=2012, last=1))
        write_atomically(b"x", tmp_path / "x.txt")
    with Session(engine) as session:
        assert session.exec(select(NumberCounter)).all() == []  # not committed


def test_a_forked_child_flushes_on_a_pool_of_its_own(tmp_path: Path) -> None:
    """A child forked after the parent's pool started has none of its threads: it starts its own
    (else its transactions would wait for their flushes for ever)."""
    with syncs_deferred() as wait:
        write_atomically(b"parent", tmp_path / "parent.txt")
        wait()
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its deferred write is flushed and in place
        code = 1
        try:
            with syncs_deferred() as wait:
                write_atomically(b"child", tmp_path / "child.txt")
                wait()
            code = 0 if (tmp_path / "child.txt").read_bytes() == b"child" else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
