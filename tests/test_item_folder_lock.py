"""An archive item's folder is locked by its filing until that filing's transaction has ended in
this process (``archiving.hold_item_folder``, ``db.after_transaction``): a filing whose
transaction was killed on the server cannot write into the folder of the circulation that got
its number next (the database fault campaign's soak found such copies)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from gongwen_engine.flows.actions.archiving import hold_item_folder
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
            hold_item_folder(session, folder)
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
        hold_item_folder(session, folder)
        assert folder.is_dir()
        assert not locked_elsewhere(folder)
