"""A concurrency soak: clients (threads) doing random valid and invalid actions against one
database for a bounded time, then the invariants (``flows/invariants.py``) checked.

Used by ``benchmarks/soak_campaign.py``, ``benchmarks/db_fault_campaign.py`` (the same load
while connections are terminated and the server is unreachable) and ``tests/test_db_faults.py``.

Kinds of action: ``launch`` (a secretary starts ``issuing``/``outgoing``), ``approve`` (the
holder of an open work item agrees: 提交、同意、已阅、…), ``return`` (退回 with a comment),
``delegate`` (委托), ``receive`` (收文 of a seed from ``tests/seeds``), ``search`` (档案检索),
``archive`` (an archivist reads an item and verifies the fonds), ``inbox`` (待办) and ``run``
(a dispatcher claims circulations and runs their automatic steps: 编号、印制、用印、核发、归档).
About one action in five is invalid on purpose (another organisation's person acts, a return
without a comment, an unknown flow, a delegation across organisations, an unknown archivist):
each must be refused with a message. Every outcome is tallied:

* ``ok`` — done; ``refused`` — a refusal with a user-facing message (``Refusal``, an
  ``IntakeError``, a duplicate receipt, an item someone else finished first);
* ``db_unavailable`` — ``DatabaseUnavailable`` after the declared retries (clean: nothing
  half-done; expected only while faults are injected);
* ``unexpected`` — anything else (a raw database error, a traceback, an invalid action accepted).
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import User
from gongwen_engine.doc_templates.reader import IntakeError
from gongwen_engine.flows.actions.archiving import archivist, item_in_fonds, items_of, log_retrieval, verify
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services.circulations import circulation, inbox, open_items, status_counts
from gongwen_engine.flows.services.demo import load_notice
from gongwen_engine.flows.services.intake import receive_file
from gongwen_engine.flows.services.invariants import InvariantReport, check_invariants
from gongwen_engine.models import db
from gongwen_engine.models.archive_search import SearchQuery, search
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.tables import ArchiveItem, Circulation, WorkItem, utcnow

SEEDS = Path(__file__).parent / "seeds"
LAUNCH_ORGS = ("acwf", "shandong", "hunan", "jinan", "qingdao", "jinan_lixia")
OUTGOING_ORGS = ("acwf", "shandong")  # they have reviewers and department heads (核稿、会签)
RECEIVING_ORGS = ("jinan", "qingdao", "zibo", "hunan", "jinan_lixia")
WORDS = ("妇联", "通知", "妇女儿童", "规划", "关于", "工作", "下基层")
KINDS = ("launch", "approve", "return", "delegate", "receive", "search", "archive", "inbox", "run")
WEIGHTS = (8, 22, 6, 4, 6, 10, 4, 10, 20)
INVALID_SHARE = 0.2


class AcceptedInvalid(AssertionError):
    """An action that must be refused was accepted."""


@dataclass
class Tally:
    """Outcomes per kind of action, and the first few unexpected errors with their tracebacks."""

    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    unexpected_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, outcome: str, detail: str | None = None) -> None:
        with self.lock:
            self.counts[kind][outcome] += 1
            if detail and len(self.unexpected_samples) < 8:
                self.unexpected_samples.append(f"{kind}: {detail}")

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    def actions(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


@dataclass
class SoakResult:
    tally: Tally
    seconds: float
    clients: int
    report: InvariantReport
    extra_violations: list[str]
    unfinished: dict[str, int]
    released: int = 0
    resumed: int = 0

    @property
    def violations(self) -> list[str]:
        return [str(v) for v in self.report.violations] + self.extra_violations

    def lines(self) -> list[str]:
        """A printable summary: throughput by kind, outcomes, invariants."""
        t = self.tally
        out = [f"{self.clients} clients · {self.seconds:.1f} s · {t.actions()} actions · {t.actions() / self.seconds:.1f} actions/s"]
        out.append(f"{'kind':<9}{'ok':>7}{'refused':>9}{'db_unav':>9}{'unexpect':>10}{'idle':>6}{'per s':>8}")
        for kind in KINDS:
            c = t.counts.get(kind, Counter())
            done = c["ok"] + c["refused"] + c["db_unavailable"] + c["unexpected"]
            out.append(f"{kind:<9}{c['ok']:>7}{c['refused']:>9}{c['db_unavailable']:>9}{c['unexpected']:>10}{c['idle']:>6}{done / self.seconds:>8.2f}")
        out.append(f"expected refusals {t.total('refused')} · clean database failures {t.total('db_unavailable')} · unexpected errors {t.total('unexpected')}")
        for sample in t.unexpected_samples:
            out.append("  unexpected: " + sample.strip().replace("\n", "\n    "))
        out.append("invariants: " + ", ".join(f"{k} {v}" for k, v in self.report.checked.items()))
        out.append(
            f"circulations at the end: {dict(self.unfinished)} · claims released after the clients stopped {self.released} · "
            f"failed circulations resumed (gongwen retry) {self.resumed}"
        )
        out.append(f"violations: {len(self.violations)}")
        out.extend("  " + v for v in self.violations[:20])
        return out


class Workload:
    """Random valid and invalid actions over one engine (thread-safe: each action is its own unit of work)."""

    def __init__(self, engine: Engine, tally: Tally) -> None:
        self.engine = engine
        self.tally = tally
        self.org_code, self.content = load_notice()
        self.seeds = sorted(SEEDS.glob("*.txt"))
        self.serial = 0
        self._serial_lock = threading.Lock()
        self.actions: dict[str, Callable[[random.Random, bool], str]] = {
            "launch": self.launch,
            "approve": self.approve,
            "return": self.return_,
            "delegate": self.delegate,
            "receive": self.receive,
            "search": self.search,
            "archive": self.archive,
            "inbox": self.inbox,
            "run": self.run,
        }

    # ---- one action ---------------------------------------------------------------------------------
    def act(self, rng: random.Random) -> None:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        invalid = rng.random() < INVALID_SHARE
        try:
            outcome = self.actions[kind](rng, invalid)
        except db.DatabaseUnavailable:
            outcome = "db_unavailable"
        except AcceptedInvalid as exc:
            self.tally.add(kind, "unexpected", f"invalid action accepted: {exc}")
            return
        except (Refusal, IntakeError) as exc:
            outcome = "refused" if str(exc) else "unexpected"
        except Exception:  # counted and shown, never hidden
            self.tally.add(kind, "unexpected", traceback.format_exc(limit=6))
            return
        self.tally.add(kind, outcome)

    def _next_serial(self) -> int:
        with self._serial_lock:
            self.serial += 1
            return self.serial

    # ---- the kinds ------------------------------------------------------------------------------------
    def launch(self, rng: random.Random, invalid: bool) -> str:
        org = rng.choice(LAUNCH_ORGS)
        flow = "outgoing" if org in OUTGOING_ORGS and rng.random() < 0.4 else "issuing"
        title = f"关于做好第{self._next_serial()}批妇女儿童工作的通知（{org}）"
        # dated today: the seeds received from outside carry 2012's numbers (妇字〔2012〕2号, 鲁妇发〔2012〕10号)
        content = DocumentContent.model_validate({**self.content.model_dump(mode="json"), "title": title, "issued_on": date.today().isoformat()})
        if invalid:
            self.engine.launch(org, "no_such_flow", content, actor=f"{org}_secretary")
            raise AcceptedInvalid("a launch of an unknown flow")
        self.engine.launch(org, flow, content, actor=f"{org}_secretary")
        return "ok"

    def _pick_item(self, rng: random.Random, need: str | None = None) -> tuple[WorkItem, Circulation] | None:
        rows = [(i, c) for i, c, _ in open_items(self.engine)]
        if need:
            rows = [(i, c) for i, c in rows if need in self.engine.flow(c.flow).step(i.step).targets]
        return rng.choice(rows) if rows else None

    def _holder(self, rng: random.Random, item: WorkItem, invalid: bool) -> str:
        users = list(self.engine.config.users.values())
        if invalid:  # someone of another organisation: no delegation reaches across organisations
            return rng.choice([u for u in users if u.org != item.org]).id
        holders = [u for u in users if holds(u, item)]
        return rng.choice(holders).id

    def approve(self, rng: random.Random, invalid: bool) -> str:
        picked = self._pick_item(rng)
        if picked is None:
            return "idle"
        item, circ = picked
        step = self.engine.flow(circ.flow).step(item.step)
        self.engine.complete(item.id, self._holder(rng, item, invalid), step.agree, comment="同意")
        if invalid:
            raise AcceptedInvalid(f"item {item.id} completed by a person of another organisation")
        return "ok"

    def return_(self, rng: random.Random, invalid: bool) -> str:
        picked = self._pick_item(rng, need="return")
        if picked is None:
            return "idle"
        item, _ = picked
        no_comment = invalid and rng.random() < 0.5
        user = self._holder(rng, item, invalid and not no_comment)
        self.engine.complete(item.id, user, "return", comment="" if no_comment else "请修改标题，写明年度")
        if invalid:
            raise AcceptedInvalid(f"item {item.id}: a return {'without a comment' if no_comment else 'by another organisation'}")
        return "ok"

    def delegate(self, rng: random.Random, invalid: bool) -> str:
        org = rng.choice(LAUNCH_ORGS)
        principal, deputy = f"{org}_leader", f"{org}_secretary"
        if invalid:
            deputy = f"{rng.choice([o for o in LAUNCH_ORGS if o != org])}_secretary"
        now = utcnow()
        self.engine.delegate(principal, deputy, now, now + timedelta(hours=2), principal, "出差")
        if invalid:
            raise AcceptedInvalid(f"a delegation from {principal} to {deputy}")
        return "ok"

    def receive(self, rng: random.Random, invalid: bool) -> str:  # collections and repeats are refused by themselves
        org = rng.choice(RECEIVING_ORGS)
        receive_file(self.engine, rng.choice(self.seeds), org, user=f"{org}_secretary")
        return "ok"

    def search(self, rng: random.Random, invalid: bool) -> str:
        user = "nobody_archivist" if invalid else f"{rng.choice(LAUNCH_ORGS)}_archivist"
        who = archivist(self.engine.config, user)
        if invalid:
            raise AcceptedInvalid("an unknown archivist searched")
        query = SearchQuery(fonds=who.fonds, words=rng.choice(WORDS), limit=10)
        searched = db.retry_transient(in_doubt="retry")(self._search)  # as the CLI's search: read, then 利用登记
        searched(query, user, who.fonds)
        return "ok"

    def _search(self, query: SearchQuery, user: str, fonds: str) -> None:
        with db.transaction(self.engine.db) as session:
            hits = search(session, query)
            log_retrieval(session, user, fonds, "search", len(hits), words=query.words)

    def archive(self, rng: random.Random, invalid: bool) -> str:
        return db.retry_transient(in_doubt="retry")(self._archive)(rng, invalid)  # a read unit, as the CLI's show and verify

    def _archive(self, rng: random.Random, invalid: bool) -> str:
        org = rng.choice(LAUNCH_ORGS)
        who = archivist(self.engine.config, f"{org}_archivist")
        with Session(self.engine.db) as session:
            if invalid:
                other = session.exec(select(ArchiveItem).where(ArchiveItem.fonds != who.fonds)).first()
                if other is None:
                    return "idle"
                item_in_fonds(session, who, other.archive_code)
                raise AcceptedInvalid(f"{who.user.id} read {other.archive_code} of another fonds")
            items = items_of(session, who.fonds)
            if items:
                item_in_fonds(session, who, rng.choice(items).archive_code)
            _, problems = verify(session, self.engine.storage, who.fonds)
        if problems:
            raise AssertionError(f"archive verify {who.fonds}: " + "; ".join(f"{p.archive_code} {p.kind} {p.file}" for p in problems[:3]))
        return "ok" if items else "idle"

    def inbox(self, rng: random.Random, invalid: bool) -> str:
        user = "nobody" if invalid else rng.choice(list(self.engine.config.users))
        inbox(self.engine, user)
        if invalid:
            raise AcceptedInvalid("the inbox of an unknown user")
        return "ok"

    def run(self, rng: random.Random, invalid: bool) -> str:  # the dispatcher has no invalid form
        claimed = self.engine.claim_ready(limit=2)
        if not claimed:
            return "idle"
        failed: Exception | None = None
        for circ in claimed:  # every claimed circulation is advanced, even after another one failed
            try:
                advance(self.engine, circ.id)
            except Exception as exc:  # re-raised below, once all are done
                failed = failed or exc
        if failed:
            raise failed
        return "ok"


def holds(user: User, item: WorkItem) -> bool:
    """The item is this person's: assigned to them, or for their role in their organisation."""
    if item.assignee:
        return item.assignee == user.id
    return user.org == item.org and item.role in user.roles


def advance(engine: Engine, circulation_id: int, max_steps: int = 20) -> None:
    """Run a claimed circulation's automatic steps as the Prefect dispatcher does (without Prefect):
    until it waits for a person or ends; a step that raises is recorded as failed."""
    for _ in range(max_steps):
        circ = circulation(engine, circulation_id)
        if circ.status not in ("ready", "running") or circ.step is None:
            return
        try:
            if not engine.run_step(circulation_id, circ.step).ran:
                return
        except Exception as exc:
            engine.fail(circulation_id, f"{circ.step}: {type(exc).__name__}: {exc}")
            raise


def drain(engine: Engine, seconds: float = 300) -> None:
    """Run every automatic step left (one client), so the invariants see settled circulations."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        claimed = engine.claim_ready(limit=10)
        if not claimed:
            return
        for circ in claimed:
            with contextlib.suppress(Exception):  # recorded as a failed circulation, which the invariants report
                advance(engine, circ.id)


def release_own_claims(engine: Engine) -> int:
    """Once every client stopped, give back what this process still holds claimed (a claim whose
    commit was in doubt, or one whose circulation's run stopped on a fault), as a restarted worker would."""
    with db.transaction(engine.db) as session:
        held = list(session.exec(select(Circulation).where(Circulation.status == "running", Circulation.claimed_by == engine.worker_name)))
        for circ in held:
            circ.status, circ.claimed_by = "ready", None
            session.add(circ)
    return len(held)


def resume_failed(engine: Engine) -> int:
    """``gongwen retry`` for every failed circulation (the documented way to resume after a fault)."""
    with Session(engine.db) as session:
        failed = list(session.exec(select(Circulation.id).where(Circulation.status == "failed")))
    for cid in failed:
        engine.retry(cid, "operator")
    return len(failed)


def work_item_checks(engine: Engine) -> list[str]:
    """No work item held twice: a circulation has open items in one step only, none once it is done."""
    out: list[str] = []
    with Session(engine.db) as session:
        steps: dict[int, set[str]] = defaultdict(set)
        for item in session.exec(select(WorkItem).where(WorkItem.status == "open")):
            steps[item.circulation_id].add(item.step)
        for cid, names in steps.items():
            circ = session.get(Circulation, cid)
            if len(names) > 1:
                out.append(f"workitem_open_twice: circulation {cid} has open items in steps {sorted(names)}")
            if circ.status == "done":
                out.append(f"workitem_open_after_end: circulation {cid} is done with open items in {sorted(names)}")
    return out


def soak(
    engine: Engine, clients: int = 8, seconds: float = 60.0, seed: int = 1, during: Callable[[threading.Event], None] | None = None, resume: bool = False
) -> SoakResult:
    """``clients`` threads act at random for ``seconds``; ``during`` runs beside them (fault
    injection) until they stop. Then the automatic work left is drained (``resume``: failed
    circulations are first resumed as ``gongwen retry`` does) and the invariants checked."""
    tally = Tally()
    workload = Workload(engine, tally)
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        while time.monotonic() < deadline:
            workload.act(rng)

    threads = [threading.Thread(target=client, args=(n,), name=f"soak-client-{n}") for n in range(clients)]
    injector = threading.Thread(target=during, args=(stop,), name="soak-faults") if during else None
    started = time.monotonic()
    for t in threads:
        t.start()
    if injector:
        injector.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    stop.set()
    if injector:
        injector.join()
    released = release_own_claims(engine)
    drain(engine)
    resumed = resume_failed(engine) if resume else 0
    if resumed:
        drain(engine)
    report = check_invariants(engine)
    return SoakResult(tally, elapsed, clients, report, work_item_checks(engine), status_counts(engine), released, resumed)
