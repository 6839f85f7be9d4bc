"""The batch runner across processes (``flows/runtime/processes.py``): its slots spread over this
process and helper processes on one SQLite database, every circulation still run exactly once;
a batch's circulations stay claimed between their steps (``Engine.run_step``'s ``keep_claim``); a
batch stopped by an error gives its claims back; a helper dies with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from processes import alive
from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine import claims
from gongwen_engine.flows.runtime import batch, processes
from gongwen_engine.flows.services import cascade
from gongwen_engine.flows.services.cascade import subtree_config
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, CirculationStatus, IssuedNumber, Registration


@pytest.mark.parametrize(
    ("concurrency", "count", "expected"),
    [(2, 2, [1, 1]), (2, 1, [2]), (3, 2, [2, 1]), (1, 4, [1]), (4, 2, [2, 2]), (2, 8, [1, 1])],
)
def test_the_slots_are_spread_over_the_processes(concurrency: int, count: int, expected: list[int]) -> None:
    assert processes.slots_per_process(concurrency, count) == expected


def test_settings_reach_another_process_through_its_environment(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", storage=tmp_path / "s", converters=3, processes=4, database_url="sqlite:////tmp/x.db")
    env = settings.environment()
    assert env["GONGWEN_DATABASE_URL"] == "sqlite:////tmp/x.db" and env["GONGWEN_CONVERTERS"] == "3" and env["GONGWEN_PROCESSES"] == "4"
    probe = "from gongwen_engine.config.settings import Settings; s = Settings(); print(s.home, s.storage, s.converters, s.processes, s.resolved_database_url)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GONGWEN_")}
    out = subprocess.run([sys.executable, "-c", probe], env={**clean, **env}, capture_output=True, text=True, check=True, cwd="/").stdout.split()
    assert out == [str(tmp_path / "h"), str(tmp_path / "s"), "3", "4", "sqlite:////tmp/x.db"]


def test_a_wrong_number_of_processes_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GONGWEN_PROCESSES", "0")
    with pytest.raises(Refusal, match="GONGWEN_PROCESSES=0"):
        Settings()


def _shanghai(tmp_path: Path):
    config = subtree_config(tmp_path / "config", ["p31"])
    return open_engine(Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", config_dir=config, processes=2))


def test_two_processes_share_a_cascade_and_run_every_step_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """上海 (18 organisations) in batches of 4 over this process and one helper: both processes
    advance circulations, and every circulation is done once, as in one process. (This process
    waits before its third batch until the helper has run a step: on a loaded machine it could
    otherwise finish everything while the helper is still starting.)"""
    engine = _shanghai(tmp_path)
    assert cascade.launch_notice(engine, resume=False)
    real, calls = batch.advance_many, []

    def after_the_helper_started(engine_, ids):
        calls.append(ids)
        deadline = time.monotonic() + 180
        while len(calls) > 2 and not _steps_by_others(engine_) and time.monotonic() < deadline:
            time.sleep(0.2)
        return real(engine_, ids)

    monkeypatch.setattr(batch, "advance_many", after_the_helper_started)
    counts = batch.run_batches_until_idle(engine, concurrency=2, batch=4, processes=2)
    assert counts == {"done": 18}
    with Session(engine.db) as s:
        assert len(s.exec(select(Registration)).all()) == 17
        assert len(s.exec(select(ArchiveItem)).all()) == 18
        assert len(s.exec(select(IssuedNumber)).all()) == 2
        steps = s.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("step:"), AuditEvent.actor == "system")).all()
    workers = Counter(e.detail["worker"] for e in steps)
    assert len(workers) == 2, workers  # this process and its helper both ran steps
    per_step = Counter((e.circulation_id, e.step) for e in steps)
    assert max(per_step.values()) == 1  # no automatic step of any circulation ran twice
    assert (tmp_path / ".gongwen" / "batch-helper-1.log").is_file()


def _steps_by_others(engine) -> bool:
    with Session(engine.db) as s:
        steps = s.exec(select(AuditEvent).where(col(AuditEvent.action).startswith("step:"), AuditEvent.actor == "system")).all()
    return any(e.detail["worker"] != engine.worker_name for e in steps)


def test_a_batch_keeps_its_circulations_claimed_between_their_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After each chain the circulation is still this process's (``running``, its name), so no
    other dispatcher can claim it; a step run without a kept claim leaves its circulation ``ready``."""
    engine = _shanghai(tmp_path)
    cascade.launch_notice(engine, resume=False)
    (claimed,) = batch.claim_batch(engine, 1)
    seen: list[tuple[str, str | None, bool]] = []
    real = batch.run_group

    def spy(engine_, steps):
        result = real(engine_, steps)
        with Session(engine.db) as s:
            claimable = set(s.exec(select(Circulation.id).where(claims.claimable())))
            for cid in steps:
                row = s.get(Circulation, cid)
                seen.append((row.status, row.claimed_by, cid in claimable))
        return result

    monkeypatch.setattr(batch, "run_group", spy)
    batch.advance_many(engine, [claimed.id])
    between = [s for s in seen if s[0] not in (CirculationStatus.done, CirculationStatus.waiting)]
    assert len(between) >= 3  # 签发 → 编号 | 印制 | 用印 | 核发 …: several chains, the circulation in hand between them
    assert all(status == CirculationStatus.running and holder == engine.worker_name and not claimable for status, holder, claimable in between)
    with Session(engine.db) as s:
        row = s.get(Circulation, claimed.id)
        assert row.status == CirculationStatus.done and row.claimed_by is None
    (child,) = batch.claim_batch(engine, 1)  # 上海's circulation, delivered by the root's 核发
    assert engine.run_step(child.id).status == CirculationStatus.ready  # per step (runner.dispatch): ready for any dispatcher


def test_a_batch_stopped_by_an_error_gives_its_claims_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _shanghai(tmp_path)
    cascade.launch_notice(engine, resume=False)
    (claimed,) = batch.claim_batch(engine, 1)

    def broken(_engine, _ids) -> None:
        raise OSError("磁盘已满")

    monkeypatch.setattr(batch, "prepare_chunk", broken)
    with pytest.raises(OSError, match="磁盘已满"):
        batch.advance_many(engine, [claimed.id])
    with Session(engine.db) as s:
        row = s.get(Circulation, claimed.id)
        assert (row.status, row.claimed_by) == (CirculationStatus.ready, None)
        released = s.exec(select(AuditEvent).where(AuditEvent.action == "claim_released", AuditEvent.circulation_id == claimed.id)).one()
    assert released.detail["reason"] == "the batch stopped on an error"


def test_a_helper_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """The starting process killed (SIGKILL): its helper does not go on working beside a resume."""
    pid_file = tmp_path / "helper.pid"
    parent_code = (
        "import os, sys, time, subprocess\n"
        "child = ('import os, sys, time; from gongwen_engine.flows.runtime import processes; '\n"
        "         'processes._die_with_parent(int(sys.argv[1])); open(sys.argv[2], \"w\").write(str(os.getpid())); time.sleep(60)')\n"
        f"subprocess.Popen([sys.executable, '-c', child, str(os.getpid()), {str(pid_file)!r}])\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.is_file() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        helper = int(pid_file.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(helper)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_helper_is_not_started_by_hand(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != processes.PARENT_VARIABLE}
    proc = subprocess.run([sys.executable, "-m", "gongwen_engine.flows.runtime.processes"], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and processes.PARENT_VARIABLE in proc.stderr


def test_page_counts_are_shared_between_the_processes_of_one_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A count LibreOffice measured in one process is found by another (here: this process with
    its own cache emptied) instead of a second conversion; an unreadable count is measured again."""
    from gongwen_engine.doc_templates import archive_files

    docx = tmp_path / "a.docx"
    docx.write_bytes(b"not really a docx")
    sha = "ab" + "0" * 62
    monkeypatch.setattr(archive_files, "_PAGE_CACHE", {})
    monkeypatch.setattr(archive_files, "fits_one_page", lambda _data: False)
    monkeypatch.setattr(archive_files.shutil, "which", lambda _name: "/usr/bin/soffice")
    archive_files.share_page_counts(tmp_path / "pages")
    try:
        archive_files._measured(sha, 7)  # another process measured it
        monkeypatch.setattr(archive_files, "_PAGE_CACHE", {})
        monkeypatch.setattr(archive_files, "_libreoffice_pages", lambda files: pytest.fail("converted again"))
        assert archive_files.pages_with_text([(docx, sha)]) == [(7, "libreoffice")]
        (tmp_path / "pages" / "ab" / sha).write_text("seven", encoding="ascii")  # torn or foreign
        monkeypatch.setattr(archive_files, "_PAGE_CACHE", {})
        monkeypatch.setattr(archive_files, "_libreoffice_pages", lambda files: [2 for _ in files])
        assert archive_files.pages_with_text([(docx, sha)]) == [(2, "libreoffice")]
        assert (tmp_path / "pages" / "ab" / sha).read_text(encoding="ascii").split() == ["2", "libreoffice"]
    finally:
        archive_files.share_page_counts(None)
