"""归档's filed copies written ahead, outside the write lock (``archiving.prepare_filed_copies``):
the step renames them into place when its archive code and files are the ones prepared, and
writes its own — leaving nothing of the prepared ones — when they are not."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.actions import archiving
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.flows.runtime import batch
from gongwen_engine.flows.services import cascade
from gongwen_engine.flows.services.cascade import subtree_config
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.models import archive_search, db
from gongwen_engine.models.numbering import next_serial, peek_serial
from gongwen_engine.models.rules.archive import item_sequence
from gongwen_engine.models.tables import ArchiveItem, Circulation


def _shanghai(tmp_path: Path, database_url: str | None = None):
    config = subtree_config(tmp_path / "config", ["p31"])
    return open_engine(Settings(home=tmp_path / ".gongwen", storage=tmp_path / "storage", config_dir=config, database_url=database_url))


def _at_filing(tmp_path: Path):
    """上海's subtree; the national notice's circulation run up to its 归档 step."""
    engine = _shanghai(tmp_path)
    assert cascade.launch_notice(engine, resume=False)
    with Session(engine.db) as s:
        root = s.exec(select(Circulation).where(Circulation.parent_id.is_(None))).one()
    archive_step = engine.flow(root.flow).name_of(StepKind.archive)
    for _ in range(30):
        with Session(engine.db) as s:
            circ = s.get(Circulation, root.id)
            if circ.step == archive_step:
                break
        engine.run_step(root.id)
    assert circ.step == archive_step
    return engine, root.id


def _prepare(engine, circulation_id: int) -> bool:
    with Session(engine.db) as s:
        circ = s.get(Circulation, circulation_id)
        name = engine.flow(circ.flow).name_of(StepKind.archive)
        ctx = StepContext(engine, s, circ, name, engine.definition_of(circ, s).step(name), "system")
        return archiving.prepare_filed_copies(ctx)


def _temporaries(engine) -> list[Path]:
    return sorted((engine.storage / archiving.ARCHIVE_AREA).rglob(".*.tmp"))


def _item(engine, circulation_id: int) -> ArchiveItem:
    with Session(engine.db) as s:
        return s.exec(select(ArchiveItem).where(ArchiveItem.circulation_id == circulation_id)).one()


def _assert_files_as_recorded(engine, item: ArchiveItem) -> None:
    for filed in item.filed_files():
        data = (engine.storage / filed.file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == filed.sha256 and len(data) == filed.size, filed.file


def test_prepared_copies_are_renamed_into_place_by_the_step(tmp_path: Path) -> None:
    engine, cid = _at_filing(tmp_path)
    assert _prepare(engine, cid)
    staged = _temporaries(engine)
    assert staged, "the copies are staged beside their places, named as write_atomically's temporaries"
    inodes = {p.stat().st_ino for p in staged}
    engine.run_step(cid)
    item = _item(engine, cid)
    assert {(engine.storage / f.file).stat().st_ino for f in item.filed_files()} == inodes  # renamed, not written again
    assert _temporaries(engine) == []
    assert any(f.stamped for f in item.filed_files()) and item.pages and item.anchor_seq is not None
    _assert_files_as_recorded(engine, item)


def test_the_index_terms_are_made_with_the_copies_not_under_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preparation asks for the item's search terms (title, issuer, each filed text), so the
    step's index row (``search_row``) finds every one of them made: none is bigrammed under the lock."""
    engine, cid = _at_filing(tmp_path)
    made: list[str] = []
    real = archive_search.bigrams

    def counted(value: str) -> str:
        made.append(value)
        return real(value)

    monkeypatch.setattr(archive_search, "bigrams", counted)
    archive_search.body_terms.cache_clear()
    assert _prepare(engine, cid)
    prepared = len(made)
    assert prepared >= 3  # the title, the issuer, the notice's text
    engine.run_step(cid)
    assert len(made) == prepared
    row = archive_search.search_row(_item(engine, cid), "")
    assert row.title_terms == real(archive_search.normalise(_item(engine, cid).title))


def test_a_prediction_another_filing_took_is_replaced_by_the_steps_own_copies(tmp_path: Path) -> None:
    engine, cid = _at_filing(tmp_path)
    assert _prepare(engine, cid)
    predicted_folder = _temporaries(engine)[0].parent
    with Session(engine.db) as s:
        circ = s.get(Circulation, cid)
        plan = archiving.filing_plan(StepContext(engine, s, circ, circ.step, engine.definition_of(circ, s).step(circ.step), "system"))
        org = engine.config.org(circ.org)
    sequence = item_sequence(org.fonds, plan.retention, org.dept_code)
    with db.transaction(engine.db) as s:  # another filing of the same class takes the predicted number
        taken = next_serial(s, sequence, plan.year)
    assert predicted_folder.name.endswith(f"-{taken:04d}")
    engine.run_step(cid)
    item = _item(engine, cid)
    assert item.item_no == taken + 1
    assert _temporaries(engine) == [] and not predicted_folder.exists()  # nothing of the prepared copies left
    _assert_files_as_recorded(engine, item)
    with Session(engine.db) as s:
        assert peek_serial(s, sequence, plan.year) == taken + 2


def test_copies_prepared_for_a_step_that_does_not_run_are_removed(tmp_path: Path) -> None:
    engine, cid = _at_filing(tmp_path)
    assert _prepare(engine, cid) and _temporaries(engine)
    archiving.discard_prepared([cid])
    assert _temporaries(engine) == []
    engine.run_step(cid)  # the step writes its own
    _assert_files_as_recorded(engine, _item(engine, cid))


def test_nothing_is_prepared_for_a_circulation_already_filed(tmp_path: Path) -> None:
    engine, cid = _at_filing(tmp_path)
    engine.run_step(cid)
    assert not _prepare(engine, cid) and _temporaries(engine) == []


def _run_batches(engine) -> None:
    """The batch runner's claims and rounds, without Prefect: until nothing is claimable."""
    while claimed := batch.claim_batch(engine, 64):
        batch.advance_many(engine, [c.id for c in claimed])


def _count_writers(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Who writes filed copies: the preparation (staging them) or the step itself."""
    calls: Counter[str] = Counter()
    real = archiving.write_filed_copies

    def spy(storage, item, measured, write=None):
        calls["prepared" if write is not None else "step"] += 1
        return real(storage, item, measured) if write is None else real(storage, item, measured, write=write)

    monkeypatch.setattr(archiving, "write_filed_copies", spy)
    return calls


def test_the_batch_runner_files_with_the_copies_it_prepared_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _shanghai(tmp_path)
    calls = _count_writers(monkeypatch)
    assert cascade.launch_notice(engine, resume=False)
    _run_batches(engine)
    with Session(engine.db) as s:
        items = s.exec(select(ArchiveItem)).all()
    assert len(items) == 18
    assert calls == Counter(prepared=18)  # every item's copies written ahead; no step wrote its own
    assert _temporaries(engine) == []
    for item in items:
        _assert_files_as_recorded(engine, item)


@pytest.mark.postgres
def test_on_postgresql_the_step_writes_the_copies_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:
    """No single write lock to take the work from: nothing is prepared (it would be done twice)."""
    engine = _shanghai(tmp_path, pg_url)
    calls = _count_writers(monkeypatch)
    assert cascade.launch_notice(engine, resume=False)
    _run_batches(engine)
    with Session(engine.db) as s:
        assert len(s.exec(select(ArchiveItem)).all()) == 18
    assert calls == Counter(step=18)
