"""An archive item's folder is locked by its filing until that filing's transaction has ended in
this process (``db.hold_folder``, ``db.after_transaction``): a filing whose
transaction was killed on the server cannot write into the folder of the circulation that got
its number next (the database fault campaign's soak found such copies)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gongwen_engine.models import db


def locked_elsewhere(folder: Path) -> bool:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also releases the lock if it was taken
    return False


@pytest.mark.parametrize("ends", ["commit", "error"])
def test_the_folder_stays_locked_until_the_transaction_has_ended(tmp_path: Path, ends: str) -> None:
    bind = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder = tmp_path / "archive" / "S037" / "2026" / "S037-WS·2026-Y-BGS-0002"
    held, release = threading.Event(), threading.Event()

    def filing() -> None:
        with db.transaction(bind) as session:
            db.hold_folder(session, folder)
            held.set()
            release.wait(10)
            if ends == "error":
                raise ConnectionError("the server terminated the connection")

    thread = threading.Thread(target=filing)
    thread.start()
    try:
        assert held.wait(10)
        assert locked_elsewhere(folder)  # another filing of this number waits here
    finally:
        release.set()
        thread.join(10)
    assert not locked_elsewhere(folder)


def test_outside_a_unit_of_work_nothing_is_held(tmp_path: Path) -> None:
    from sqlmodel import Session

    bind = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder = tmp_path / "item"
    with Session(bind) as session:
        db.hold_folder(session, folder)
        assert folder.is_dir()
        assert not locked_elsewhere(folder)


def test_a_transaction_holds_a_folder_once_however_often_it_writes_there(tmp_path: Path) -> None:
    """Two writes into one folder in one unit of work (a step's copy and its OFD, two re-issued
    records) take the folder's lock once: a second ``flock`` of its own would wait for itself."""
    bind = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder = tmp_path / "shandong" / "records"
    done = threading.Event()

    def twice() -> None:
        with db.transaction(bind) as session:
            db.hold_folder(session, folder)
            db.hold_folder(session, tmp_path / "shandong" / "." / "records")  # the same folder, spelt otherwise
            done.set()

    thread = threading.Thread(target=twice, daemon=True)
    thread.start()
    assert done.wait(10), "the transaction waited for its own lock"
    thread.join(10)
    assert not locked_elsewhere(folder)


def test_every_step_that_writes_a_file_holds_its_folder(make_engine, monkeypatch) -> None:
    """印制 (the issued copy), 用印 (the sealed copies) and the records are written under their
    folder's lock (``db.hold_folder``), as 归档's item folder is."""
    from test_chained_steps import launch

    from gongwen_engine.flows.runtime import batch

    engine = make_engine()
    held: list[Path] = []
    real = db.hold_folder
    monkeypatch.setattr(db, "hold_folder", lambda session, folder: (held.append(folder), real(session, folder))[1])
    batch.advance_many(engine, [launch(engine)])
    storage = engine.storage.resolve()
    relative = {f.resolve().relative_to(storage).as_posix() for f in held}
    assert {"shandong", "shandong/records"} <= relative, relative
    assert any(r.startswith("archive/") for r in relative), relative


def test_an_empty_folder_is_removed_only_when_no_filing_holds_it(tmp_path: Path) -> None:
    """``db.remove_unheld_folder`` (copies prepared for a number that went elsewhere): the folder a
    filing holds stays — its holder writes into it next — and goes once that filing has ended."""
    bind = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    folder = tmp_path / "archive" / "S037" / "2026" / "S037-WS·2026-Y-BGS-0003"
    with db.transaction(bind) as session:
        db.hold_folder(session, folder)
        db.remove_unheld_folder(folder)
        assert folder.is_dir()
    (folder / "01-issued_copy.docx").write_bytes(b"x")
    db.remove_unheld_folder(folder)
    assert folder.is_dir()  # not empty
    (folder / "01-issued_copy.docx").unlink()
    db.remove_unheld_folder(folder)
    assert not folder.exists()
    db.remove_unheld_folder(folder)  # gone already: nothing to do
