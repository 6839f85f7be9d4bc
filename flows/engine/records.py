"""The data of a process record (发文稿纸 / 收文处理单), gathered from the database.

The engine re-issues a circulation's record after every human step (and after automatic steps a
flow marks with ``record: true``): :func:`gather_record` reads the circulation's documents,
registration and finished work items into a ``models.records.RecordData``, which the engine's
``record_renderer`` (``doc_templates.records.render_record``, handed in) writes without a database. Names of people and the words an outcome
reads as (同意, 退回, …) are resolved here, so the renderer only lays text out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Protocol

from sqlmodel import Session, col, select

from gongwen_engine.config.loader import Config
from gongwen_engine.flows.engine.definition import FlowDefinition
from gongwen_engine.models.records import DraftParticulars, Opinion, ReceivedParticulars, RecordData, RecordKind
from gongwen_engine.models.rules.dates import china_date
from gongwen_engine.models.tables import Circulation, Document, Registration, WorkItem, WorkItemKind, WorkItemStatus


class Written(Protocol):
    """A file a renderer wrote: its SHA-256 (hex) and size in bytes."""

    @property
    def sha256(self) -> str: ...

    @property
    def size(self) -> int: ...


RecordRenderer = Callable[[RecordData, Path], Written]
"""Writes a record's .docx to a path (``doc_templates.records.render_record``)."""


def actor_name(config: Config, actor: str | None) -> str:
    """A person's name; a policy reads as what it is (演示策略自动办理), never as a person."""
    if actor in config.users:
        return config.users[actor].name
    if actor and actor.startswith("policy:"):
        return f"（策略“{actor.removeprefix('policy:')}”自动办理）"
    return {"system": "（系统）"}.get(actor or "", actor or "")


def gather_record(session: Session, config: Config, flow: FlowDefinition, circ: Circulation, kind: RecordKind, business_day: date) -> RecordData:
    """The record of ``kind`` for ``circ`` as it stands now; ``business_day`` is its 收文日期 once registered."""
    org = config.org(circ.org)
    return RecordData(
        kind=kind,
        org_name=org.name,
        org_short_name=org.short_name,
        received=_received(session, config, circ, business_day) if kind == RecordKind.processing_slip else None,
        draft=_draft(session, circ),
        opinions=_opinions(session, config, flow, circ),
    )


def _received(session: Session, config: Config, circ: Circulation, business_day: date) -> ReceivedParticulars | None:
    received = session.get(Document, circ.received_id) if circ.received_id else None
    if received is None:
        return None
    reg = session.exec(select(Registration).where(Registration.org == circ.org, Registration.document_id == received.id)).first()
    sender = config.organisations.get(received.org)
    return ReceivedParticulars(
        register_number=reg.register_number if reg else None,
        received_on=business_day if reg else None,
        sender=sender.name if sender else received.org,
        doc_number=received.doc_number,
        title=received.title,
    )


def _draft(session: Session, circ: Circulation) -> DraftParticulars | None:
    doc = session.get(Document, circ.document_id) if circ.document_id else None
    if doc is None:
        return None
    content = doc.content
    return DraftParticulars(
        doc_number=doc.doc_number,
        title=doc.title,
        main_recipients=list(content.get("main_recipients") or []),
        cc=list(content.get("cc") or []),
        version=doc.version,
    )


def _opinions(session: Session, config: Config, flow: FlowDefinition, circ: Circulation) -> list[Opinion]:
    items = session.exec(
        select(WorkItem)
        .where(WorkItem.circulation_id == circ.id, WorkItem.kind == WorkItemKind.human, WorkItem.status == WorkItemStatus.done)
        .order_by(col(WorkItem.finished_at), col(WorkItem.id))
    )
    return [
        Opinion(
            step_title=flow.steps[item.step].title if item.step in flow.steps else item.step,
            outcome_label=flow.outcome_label(item.outcome),
            comment=item.comment,
            person=actor_name(config, item.actor),
            acting_for=config.users[item.acted_for].name if item.acted_for and item.acted_for in config.users else None,
            finished_on=china_date(item.finished_at) if item.finished_at else None,
        )
        for item in items
    ]
