"""Batch dispatch: many circulations per Prefect task run, heavy work prepared outside the lock.

The per-step dispatcher (``runner.dispatch``) runs one task run per step: right for a handful of
circulations, too slow for the national cascade (3,225 circulations, ~16,000 steps: at ~7 ms a
task run that alone is ~2 minutes), and on SQLite a step that holds the write lock while
LibreOffice converts for 用印 (~1.4 s) stops every other step. Here:

* **One task run per organisation batch**: a slot claims the ready circulations that one
  organisation's distribution (核发) started — its children, up to ``batch`` of them — and one
  task run named after the sender advances them all (e.g. "山东省妇联 → 16 个下级单位").
  The audit trail still records every step of every organisation. Which batch first: the critical
  path (``claim_first``), unless another slot is on it — then the leaves' work, beside it.
* **Exactly once, unchanged**: every step runs as ``Engine.run_step`` runs it — the circulation
  row locked, the step re-checked under the lock, unique constraints. The steps that need nothing
  prepared outside the lock run on in the same transaction (``CHAINED``: 签收 → 登记 → 拟办,
  拟稿 → 签发 → 编号 under a policy), all or nothing, up to the next prepared step (印制, 用印,
  归档). A batch advances its circulations in lockstep, one such unit each per round, so the
  用印 steps of a batch come together.
* **Group commit** (``run_group``, ``Engine.run_steps``): a chunk's units commit in one
  transaction, each under a SAVEPOINT of its own; one that fails is rolled back alone and runs
  again in a transaction of its own (``run_chain``), so its failure stays its own.
* **用印 prepared outside the lock**: before a round in which circulations seal, their issued
  .docx files are converted to PDF together (``pdf.prepare_pdfs``: the process's warm
  LibreOffice, ~0.1–0.3 s a file; one ``soffice`` run for all where python3-uno is missing),
  outside any transaction; the seal step itself (under the lock) then finds the PDF by the
  .docx's digest and only signs.
* **印制 prepared outside the lock** too (``prepare_printing``): the issued copy is rendered in a
  scratch folder and converted (once when the predicted placement of the 版记 holds, as in every
  forward of the national cascade; else the first rendering, to see where the 版记 falls, and the
  final one: ``doc_templates/pages.py``), so the step renders the same bytes and converts nothing
  under the lock.
* **A circulation in one slot's hands is not claimed by another**, of this process or of another
  (``processes.py``): it stays claimed between its steps (``Engine.run_step``'s ``keep_claim``),
  and a batch stopped by an error gives back what it still holds. The same conversion gives the archive its page count (归档
  would otherwise convert the .docx again), and before a round in which circulations file (归档)
  the pages of all their files are counted together first and, on SQLite, their filed copies are
  written ahead (``archiving.prepare_filed_copies``: the step only renames them into place). Nothing is skipped: every issued
  document is sealed, verified on receipt and filed with its measured pages, as the flows
  declare.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL
from sqlalchemy import ColumnElement, case
from sqlmodel import Session, col, func, select

from gongwen_engine.doc_templates import pdf
from gongwen_engine.doc_templates.archive_files import pages_with_text
from gongwen_engine.doc_templates.pages import render_issued
from gongwen_engine.flows.actions import archiving, sealing
from gongwen_engine.flows.engine import claims
from gongwen_engine.flows.engine.claims import release_abandoned_claims
from gongwen_engine.flows.engine.context import StepContext, StepResult
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.runtime import processes as processes_mod
from gongwen_engine.flows.runtime.embedded import start_embedded_server
from gongwen_engine.flows.runtime.retries import RETRY_DELAY_S, failure_text
from gongwen_engine.flows.runtime.runner import current_engine, use_engine
from gongwen_engine.models import db
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.circulations import current_steps, get_circulation, status_counts
from gongwen_engine.models.queries.documents import issued_parts
from gongwen_engine.models.tables import Circulation, CirculationFile, CirculationStatus, Document

log = logging.getLogger(__name__)
# Circulations prepared together before their steps, whose steps then commit as one group (at most
# 3 PDFs each stay cached: pdf.CACHE_ENTRIES). 16 rather than 8: a county-level batch (a city's
# ~10 counties) is one group a round instead of two — national cascade, lock held 84 → 64–73 s,
# group transactions 1,260 → 858; 32 measured the same as 16 (a batch is rarely larger).
PREPARE_CHUNK = 16


def claim_batch(engine: Engine, limit: int) -> list[Circulation]:
    """Claim up to ``limit`` ready circulations with the same sender (parent circulation).

    Which sender goes first (``claim_first``): the oldest ready circulation of an organisation
    with subordinates (what it receives it forwards: its 印制 and 用印 wait for LibreOffice, and
    its 核发 starts its subordinates' work), unless another slot already runs such work and
    other work waits — then the oldest of that. ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
    lets several workers claim different batches at once (on SQLite the write transaction
    serialises claims). What a slot is advancing stays claimed between its steps, so it is not
    claimed a second time (a second slot's steps would be no-ops under the lock, but it would
    prepare the same PDFs again: a quarter more LibreOffice conversions in the national cascade)."""
    release_abandoned_claims(engine.db)  # claims of killed processes of this machine
    claimable = claims.claimable()
    with db.transaction(engine.db) as session:
        order = claim_first(engine, session)
        first = select(Circulation).where(claimable).order_by(*order).limit(1)
        if db.is_postgres(engine.db):
            first = first.with_for_update(skip_locked=True)
        head = session.exec(first).first()
        if head is None:
            return []
        same_sender = col(Circulation.parent_id).is_(None) if head.parent_id is None else Circulation.parent_id == head.parent_id
        return claims.take(session, select(Circulation).where(claimable, same_sender).order_by(*order).limit(limit), engine.worker_name)


def claim_first(engine: Engine, session: Session) -> list[ColumnElement[Any]]:
    """ORDER BY of the batch a slot claims next: the critical path first, one slot kept for the rest.

    The work of an organisation with subordinates (``Config.with_subordinates``) is on the
    cascade's critical path — its 核发 starts the next level — and waits mostly for LibreOffice
    outside any lock; the work of the others (签收 → 登记 → 归档 at the leaves) is database work
    under the write lock. A slot takes the former first unless another slot is already at it;
    then it takes the latter, so the leaves' steps run beside the conversions instead of after
    all of them (on SQLite the write lock was otherwise idle half the time while the cities
    converted, and LibreOffice idle while the counties filed). Either kind is taken when the
    other is not there: only the order changes, never what is claimed."""
    forwarding = col(Circulation.org).in_(engine.config.with_subordinates)
    running = select(Circulation.id).where(col(Circulation.status) == CirculationStatus.running, forwarding).limit(1)
    first_kind = case((forwarding, 1), else_=0)
    taken = session.exec(running).first() is not None
    return [first_kind.asc() if taken else first_kind.desc(), col(Circulation.id).asc()]


def batch_name(engine: Engine, circulations: list[Circulation]) -> str:
    """The task run's name: the organisation, or the sender and how many it sent to."""
    if len(circulations) == 1:
        return f"{engine.config.org(circulations[0].org).short_name} · 流转"
    orgs = [engine.config.org(c.org) for c in circulations]
    parents = {o.parent for o in orgs}
    parent = next(iter(parents)) if len(parents) == 1 else None
    if parent is not None:
        return f"{engine.config.org(parent).short_name} → {len(orgs)} 个下级单位"
    return f"{orgs[0].short_name} 等 {len(orgs)} 个单位"


def steps_ahead(engine: Engine, session: Session, circulation_ids: list[int], kind: StepKind) -> list[Circulation]:
    """The circulations whose next step is an automatic step of ``kind``."""
    found = []
    rows = {c.id: c for c in session.exec(select(Circulation).where(col(Circulation.id).in_(circulation_ids)))}  # one query, not one per circulation
    for cid in circulation_ids:
        circ = rows.get(cid)
        if circ is None or circ.step is None or circ.status not in (CirculationStatus.ready, CirculationStatus.running):
            continue
        step = engine.definition_of(circ, session).step(circ.step)
        if not step.human and step.kind == kind:
            found.append(circ)
    return found


def prepare_printing(engine: Engine, circulation_ids: list[int]) -> int:
    """Render, outside any lock, the issued copies the circulations about to print (印制) will
    render, and convert them (``render_issued``: once when the placement of the 版记 predicted
    before converting holds, else the first rendering and the one with its 版记 moved to an even
    page): the 印制 step under the lock renders the same bytes and finds their
    PDFs by digest, and the 用印 step finds the final copy's PDF. Nothing is written to storage
    here (a scratch folder named like the conversions' staging folders, so what a killed process
    leaves is swept at the next start and reported by check-invariants). Returns how many were prepared."""
    done = 0
    with Session(engine.db) as session, tempfile.TemporaryDirectory(prefix=f"{pdf.STAGING_PREFIX}{os.getpid()}-") as tmp:
        for circ in steps_ahead(engine, session, circulation_ids, StepKind.render):
            doc = session.get(Document, circ.document_id) if circ.document_id else None
            if doc is None or not doc.doc_number:
                continue
            scratch = Path(tmp) / f"{circ.id}.docx"
            render_issued(issued_parts(session, doc), scratch, engine.config.org(circ.org).house_style)
            pdf.prepare_pdfs([scratch])  # the final copy's PDF, for 用印 (and its pages, for 归档)
            done += 1
    return done


def prepare_seals(engine: Engine, circulation_ids: list[int]) -> int:
    """Convert the issued copies of the circulations about to seal in one LibreOffice run (no
    lock held), make ready each issuer's signing identity (a demo certificate is created at its
    first use: a key, a certificate, two fsyncs) and then each sealed copy (``sealing.prepare_seal``:
    the seal's picture drawn, the PDF signed), all kept by the process, so the 用印 step under the
    lock only writes them. Returns how many were converted."""
    files: list[Path] = []
    ring = None
    ahead: list[tuple[Circulation, Document]] = []
    with Session(engine.db) as session:
        for circ in steps_ahead(engine, session, circulation_ids, StepKind.seal):
            doc = session.get(Document, circ.document_id) if circ.document_id else None
            if doc and doc.file and (engine.storage / doc.file).is_file():
                files.append(engine.storage / doc.file)
                ahead.append((circ, doc))
            try:
                ring = ring or sealing.keyring(engine)
                org = engine.config.org(circ.org)
                ring.identity(org)
            except Exception as exc:  # no key configured…: the step meets it and fails as the flow declares
                log.info("circulation %s: what it seals with is not ready (%s); the 用印 step will say why", circ.id, exc)
    if files:
        pdf.prepare_pdfs(files)  # cached by digest: each 用印 step finds its PDF (and counts its pages for 归档 there)
    for circ, doc in ahead:  # the signed copies too: the step under the lock only writes them (sealing.seal_document)
        try:
            docx = engine.storage / str(doc.file)
            target = engine.storage / sealing.signed_pdf_path(str(doc.file))  # where the 用印 step writes it
            sealing.prepare_seal(docx, target, content_of(doc), engine.config.org(circ.org), ring or sealing.keyring(engine))
        except Exception as exc:  # a seal that cannot be placed, a key that does not load…: the step meets it and fails as the flow declares
            log.info("circulation %s: its seal was not prepared (%s); the 用印 step will say why", circ.id, exc)
    return len(files)


def prepare_receipts(engine: Engine, circulation_ids: list[int]) -> int:
    """Verify the seals of what the circulations about to sign for (签收) received, outside any lock:
    the results are kept by the process, so each 签收 step under the lock finds its check made (the
    16 districts of a city verify its one notice once, here). Returns how many were checked."""
    checked = 0
    with Session(engine.db) as session:
        received = {circ.received_id for circ in steps_ahead(engine, session, circulation_ids, StepKind.sign_for) if circ.received_id}
        for doc_id in received:
            doc = session.get(Document, doc_id)
            if doc is None:
                continue
            try:
                sealing.prepare_checks(engine, session, doc)
                checked += 1
            except Exception as exc:  # the step checks again and records what it finds
                log.info("document %s: its seal check was not prepared (%s); the 签收 step will check it", doc_id, exc)
    return checked


def prepare_filing(engine: Engine, circulation_ids: list[int]) -> int:
    """Count the pages of everything the circulations about to file will file, in one
    LibreOffice run for all their .docx (no lock held; the counts are kept by digest, so the
    归档 step under the lock finds them, and a file changed since is measured again); then, on
    SQLite, write each one's filed copies ahead, stamped and digested (``archiving.prepare_filed_copies``),
    so the step under the write lock only renames them into place. Returns how many files were measured."""
    files: dict[str, Path] = {}
    with Session(engine.db) as session:
        filing = steps_ahead(engine, session, circulation_ids, StepKind.archive)
        for circ in filing:
            for row in session.exec(select(CirculationFile).where(CirculationFile.circulation_id == circ.id)):
                files[row.sha256] = engine.storage / row.file
            for doc_id in (circ.document_id, circ.received_id):
                doc = session.get(Document, doc_id) if doc_id else None
                if doc and doc.file and doc.sha256:
                    files[doc.sha256] = engine.storage / doc.file
        present = [(path, sha) for sha, path in files.items() if path.is_file()]
        if present:
            pages_with_text(present)
        # The copies only where one write lock serialises the steps (SQLite): made here, they are
        # work taken from under that lock; on PostgreSQL the steps run side by side and the copies'
        # reads and checks would only be done twice (measured: ~6 % more CPU in the national cascade).
        for circ in [] if db.is_postgres(engine.db) else filing:
            assert circ.step is not None  # steps_ahead: each has a current step
            ctx = StepContext(engine, session, circ, circ.step, engine.definition_of(circ, session).step(circ.step), "system")
            try:
                archiving.prepare_filed_copies(ctx)
            except Exception as exc:  # a file missing, changed…: the step meets it and says why
                log.info("circulation %s: its filed copies were not prepared (%s); the 归档 step will write them", circ.id, exc)
    return len(present)


# The step kinds whose work is prepared outside the lock, per chunk, before the steps run
# (prepare_printing, prepare_seals, prepare_filing): a chain of steps stops before them.
PREPARED = frozenset({StepKind.render, StepKind.seal, StepKind.archive})
CHAINED = frozenset(StepKind) - PREPARED


def run_chain(engine: Engine, circulation_id: int, step: str | None = None) -> tuple[CirculationStatus, str | None]:
    """The circulation's current step and the steps that follow it up to the next prepared one
    (``CHAINED``: 签收 → 登记 → 拟办 …), in one transaction (``Engine.run_step``'s ``then``). When
    that fails, nothing of it is kept and the steps run one at a time, each retried as the flow
    declares, so a failure is the failing step's own (its retries, its 待办).

    ``step``: the current step as the caller last saw it (the previous chain's result), or None to
    read it first; either way the step runs only if it is still the current one (checked under the
    row lock). Returns the status and the step after it (None when not known)."""
    if step is None:
        circ = read(engine.db, get_circulation, circulation_id)
        if circ.status not in ("ready", "running") or circ.step is None:
            return circ.status, circ.step
        step = circ.step
    try:
        result = engine.run_step(circulation_id, step, then=CHAINED, keep_claim=True)
        return result.status, result.step
    except Exception as exc:
        log.info("circulation %s: steps from %s in one transaction failed (%s); one at a time", circulation_id, step, exc)
    return run_one_with_retries(engine, circulation_id), None


def run_group(engine: Engine, steps: dict[int, str | None]) -> dict[int, tuple[CirculationStatus, str | None]]:
    """Each circulation's chain (as ``run_chain``), all in ONE transaction (group commit:
    ``Engine.run_steps``, a savepoint each): one BEGIN, one COMMIT and one extension of the audit
    chain for a chunk of circulations instead of one each. A circulation whose chain failed there
    (nothing of it kept) runs alone, as ``run_chain`` runs it, and so does every one of them when
    the unit itself failed. ``steps``: as ``run_chain``'s ``step``, by circulation id."""
    try:
        results: dict[int, StepResult | Exception] = engine.run_steps(steps, then=CHAINED, keep_claim=True)
    except Exception as exc:
        log.info("circulations %s: their steps in one transaction failed (%s); each in its own", list(steps), exc)
        results = {}
    done: dict[int, tuple[CirculationStatus, str | None]] = {}
    for cid, step in steps.items():
        result = results.get(cid)
        if isinstance(result, StepResult):
            done[cid] = (result.status, result.step)
            continue
        if result is not None:
            log.info("circulation %s: its steps failed beside others' (%s); alone", cid, result)
        done[cid] = run_chain(engine, cid, step)
    return done


def run_one_with_retries(engine: Engine, circulation_id: int) -> CirculationStatus:
    """One step of one circulation (its own transaction), retried as the flow declares."""
    circ = read(engine.db, get_circulation, circulation_id)
    if circ.status not in ("ready", "running") or circ.step is None:
        return circ.status
    step = engine.definition_of(circ).step(circ.step)
    for attempt in range(step.retries + 1):
        try:
            return engine.run_step(circulation_id, circ.step, keep_claim=True).status
        except Exception as exc:
            if attempt == step.retries:
                engine.fail(circulation_id, failure_text(circ.step, exc))
                return CirculationStatus.failed
            log.warning("circulation %s step %s failed (%s), retrying", circulation_id, circ.step, exc)
            time.sleep(RETRY_DELAY_S)
    return CirculationStatus.failed


def prepare_chunk(engine: Engine, circulation_ids: list[int]) -> None:
    """Everything the next steps of these circulations need prepared outside the lock (印制's and
    用印's PDFs, 归档's pages): read-only, kept by the process by digest for the steps to find."""
    prepare_receipts(engine, circulation_ids)
    prepare_printing(engine, circulation_ids)
    prepare_seals(engine, circulation_ids)
    prepare_filing(engine, circulation_ids)


def advance_many(engine: Engine, circulation_ids: list[int]) -> dict[str, int]:
    """Advance the circulations in lockstep until each finishes, waits for a person or fails.

    Each round goes through the circulations a chunk at a time; while one chunk's steps run (under
    the write lock), the next chunk's preparation (LibreOffice, reading files) runs beside them on
    a thread of its own, so the conversions overlap the steps instead of stopping the slot."""
    active = list(circulation_ids)
    steps: dict[int, str | None] = read(engine.db, current_steps, active)  # each one's current step as its last chain left it: not read again before the next
    outcome: dict[str, int] = {}
    try:
        _advance(engine, active, steps, outcome)
    except BaseException:  # what this batch still holds (its steps keep their claims) goes back to the others at once
        try:
            claims.release_claims_of(engine.db, engine.worker_name, only=active, reason="the batch stopped on an error")
        except Exception as exc:  # the database itself failed: the claims go back when this process ends or after their lease
            log.warning("claims of a stopped batch not given back (%s)", exc)
        raise
    finally:
        archiving.discard_prepared(circulation_ids)  # copies prepared for a step that did not run (it failed, another process filed)
    return outcome


def _advance(engine: Engine, active: list[int], steps: dict[int, str | None], outcome: dict[str, int]) -> None:
    """``advance_many``'s rounds; ``active`` is kept current (what is still in hand)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gongwen-prepare") as ahead:
        while active:
            still = []
            chunks = [active[n : n + PREPARE_CHUNK] for n in range(0, len(active), PREPARE_CHUNK)]
            prepared = ahead.submit(prepare_chunk, engine, chunks[0])
            for n, chunk in enumerate(chunks):
                prepared.result()  # its error, if any, raised here as before the overlap
                if n + 1 < len(chunks):
                    prepared = ahead.submit(prepare_chunk, engine, chunks[n + 1])  # the next chunk's round has not started: its state is final for it
                for cid, (status, steps[cid]) in run_group(engine, {cid: steps.get(cid) for cid in chunk}).items():
                    if status in (CirculationStatus.ready, CirculationStatus.running):
                        still.append(cid)
                        continue
                    outcome[status.value] = outcome.get(status.value, 0) + 1
            active[:] = still


@task(name="batch", cache_policy=NO_CACHE)
async def advance_batch(circulation_ids: list[int]) -> dict[str, int]:
    """A Prefect task run for one organisation batch (see module docstring)."""
    engine = current_engine()
    return await anyio.to_thread.run_sync(advance_many, engine, circulation_ids)


def unfinished(engine: Engine) -> int:
    """Circulations anywhere that are ready or being run (by any worker)."""
    with Session(engine.db) as session:
        return session.exec(
            select(func.count()).select_from(Circulation).where(col(Circulation.status).in_((CirculationStatus.ready, CirculationStatus.running)))
        ).one()


@flow(name="gongwen-batch-dispatch", validate_parameters=False)
async def dispatch_batches(concurrency: int = 2, batch: int = 64, until_all_done: bool = False) -> dict[str, int]:
    """Run every circulation with automatic work in organisation batches, until idle.

    ``concurrency`` slots each claim one batch at a time; a slot stops when nothing is
    claimable and no other slot is still running (a running batch may start new circulations).
    ``until_all_done`` (the deployment's setting): a slot also keeps polling while other
    workers still run circulations, since their distributions (核发) start new ones.
    """
    engine = current_engine()
    busy = 0

    async def slot() -> None:
        nonlocal busy
        while True:
            claimed = await anyio.to_thread.run_sync(claim_batch, engine, batch)
            if not claimed:
                if busy == 0 and not (until_all_done and await anyio.to_thread.run_sync(unfinished, engine) > 0):
                    return
                await asyncio.sleep(0.05)
                continue
            busy += 1
            ids = [c.id for c in claimed if c.id is not None]
            assert len(ids) == len(claimed)  # claimed rows are read from the database: every one has its id
            try:
                await advance_batch.with_options(task_run_name=batch_name(engine, claimed))(ids)
            finally:
                busy -= 1

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return read(engine.db, status_counts)


def run_batches_until_idle(engine: Engine, concurrency: int = 2, batch: int = 64, processes: int = 1) -> dict[str, int]:
    """Synchronous entry point: run ``dispatch_batches`` in Prefect with ``engine``.

    ``processes`` > 1: the ``concurrency`` slots are spread over this process and helper processes
    (``processes.py``), all until no work is left anywhere (the CLI's progress bar reads the
    database: ``cli/_common.polling``)."""
    use_engine(engine)
    start_embedded_server(engine.settings.home)
    slots = processes_mod.slots_per_process(concurrency, processes)
    helpers = []
    if len(slots) > 1:
        server = SubprocessASGIServer()  # the embedded server this process started (a singleton), unless a real one is configured
        api_url = PREFECT_API_URL.value() or (server.api_url if server.running else None)
        helpers = processes_mod.start_helpers(engine.settings.home, engine.settings.environment(), slots[1:], batch, api_url)
    try:
        # with helpers this process returns only when no circulation anywhere is ready or running:
        # the counts it read last are final
        counts = asyncio.run(dispatch_batches(concurrency=slots[0], batch=batch, until_all_done=bool(helpers)))
        processes_mod.finish_helpers(helpers)
        return counts
    finally:
        processes_mod.stop_helpers(helpers)
