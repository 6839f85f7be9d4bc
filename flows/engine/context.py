"""What an action sees of the engine: the step it runs (``StepContext``), and what an action is (``ActionSpec``).

``StepEngine`` is the part of the engine a step may use (its config, storage, database, flows, its
business date, starting a recipient's circulation); ``engine.Engine`` is one. Actions depend on
this module, not on the engine's mechanics, and the engine imports it: no cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine as SqlEngine
from sqlmodel import Session

from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Organisation
from gongwen_engine.config.settings import Settings
from gongwen_engine.flows.engine import items
from gongwen_engine.flows.engine.definition import FlowDefinition, Step, StepKind
from gongwen_engine.flows.engine.documents import record_file
from gongwen_engine.models.audit import record_about
from gongwen_engine.models.tables import AuditEvent, Circulation, CirculationFile, CirculationStatus, Document, saved_id


class Sender(Protocol):
    """The circulation a delivered document comes from (or a stand-in for an outside sender: no id)."""

    @property
    def id(self) -> int | None: ...

    @property
    def policy(self) -> str: ...


class StepEngine(Protocol):
    """The engine as a step sees it (``engine.Engine``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def config(self) -> Config: ...

    @property
    def storage(self) -> Path: ...

    @property
    def db(self) -> SqlEngine: ...

    def definition_of(self, circ: Circulation, session: Session | None = None) -> FlowDefinition: ...

    def business_date(self, circulation: Circulation) -> date: ...

    def start_for_recipient(self, session: Session, parent: Sender, recipient: str, document_id: int, flow: str, *, absent: bool = False) -> Circulation: ...


HELD_DOCUMENTS = "gongwen_held_documents"  # session.info: the documents this transaction's steps read, by id


@dataclass
class StepContext:
    """What an action sees: the locked circulation inside the step's transaction."""

    engine: StepEngine
    session: Session
    circulation: Circulation
    step_name: str
    step: Step
    actor: str

    @property
    def config(self) -> Config:
        return self.engine.config

    @property
    def org(self) -> Organisation:
        return self.engine.config.org(self.circulation.org)

    @property
    def today(self) -> date:
        return self.engine.business_date(self.circulation)

    def document(self, document_id: int | None) -> Document:
        if document_id is None:
            raise RuntimeError(f"circulation {self.circulation.id} has no document for step '{self.step_name}'")
        doc = self.session.get(Document, document_id)
        if doc is None:
            raise RuntimeError(f"document {document_id} not found")
        # held for the rest of the transaction: the session's identity map holds rows weakly, and the
        # record written after the action (``_write_record``) and a chain's next step (登记 after
        # 签收) would otherwise read the document and build it (its content) again
        self.session.info.setdefault(HELD_DOCUMENTS, {})[document_id] = doc
        return doc

    def record_file(self, role: str, relative: str, sha256: str, size: int) -> CirculationFile:
        """Keep a file this circulation produced or received (one per role; a re-issue replaces it)."""
        return record_file(self.session, saved_id(self.circulation), role, relative, sha256, size)

    def audit(self, action: str, document_id: int | None = None, **detail: Any) -> AuditEvent:
        return record_about(self.session, self.actor, action, self.circulation, document_id, self.step_name, detail)

    def finished_at(self, kind: StepKind) -> datetime | None:
        """When this circulation last finished a step of ``kind`` (None: it has not)."""
        return items.finished_at(self.session, saved_id(self.circulation), self.engine.definition_of(self.circulation, self.session).steps_of(kind))


@dataclass(frozen=True)
class ActionSpec:
    """An automatic action a step names with ``do:``: the kind of step it performs, and what it does
    (returns the outcome, or None for ``done``)."""

    kind: StepKind
    run: Callable[[StepContext], str | None]


def action_kinds(actions: Mapping[str, ActionSpec]) -> dict[str, StepKind]:
    """Each action's name and the kind of step it performs (what the flow loader checks ``do:`` against)."""
    return {name: spec.kind for name, spec in actions.items()}


@dataclass
class StepResult:
    circulation_id: int
    step: str | None
    status: CirculationStatus
    ran: bool = False

    @classmethod
    def of(cls, circ: Circulation, ran: bool = True) -> StepResult:
        return cls(saved_id(circ), circ.step, circ.status, ran)
