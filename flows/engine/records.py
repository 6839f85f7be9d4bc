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
from gongwen_engine.flows.engine.definition import FlowDefinition, StepKind
from gongwen_engine.flows.engine.items import done_items
from gongwen_engine.models.audit import events_about
from gongwen_engine.models.issuers import issuer_names
from gongwen_engine.models.records import DraftParticulars, Opinion, ReceivedParticulars, RecordData, RecordKind
from gongwen_engine.models.registrations import registration_of
from gongwen_engine.models.rules.dates import china_date
from gongwen_engine.models.tables import Circulation, Document, WorkItem, WorkItemKind, WorkItemStatus, saved_id


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


def gather_record(
    session: Session, config: Config, flow: FlowDefinition, circ: Circulation, kind: RecordKind, business_day: date, replayed: bool = False
) -> RecordData:
    """The record of ``kind`` for ``circ`` as it stands now; ``business_day`` is its 收文日期 once
    registered and, when a named policy replays a seed's dates (``replayed``), the date of every
    action on it (otherwise each action's own day in Beijing)."""
    org = config.org(circ.org)
    return RecordData(
        kind=kind,
        org_name=org.name,
        org_short_name=org.short_name,
        received=_received(session, config, circ, business_day) if kind == RecordKind.processing_slip else None,
        draft=_draft(session, config, flow, circ),
        opinions=_opinions(session, config, flow, circ, business_day if replayed else None),
    )


def _received(session: Session, config: Config, circ: Circulation, business_day: date) -> ReceivedParticulars | None:
    received = session.get(Document, circ.received_id) if circ.received_id else None
    if received is None:
        return None
    reg = registration_of(session, circ.org, saved_id(received))
    # 收文 from outside (services/intake.py) records what its file held; a document a sender's
    # circulation delivered (parent_id) has no such record: not asked for
    intake = next(iter(events_about(session, saved_id(circ), "received")), None) if circ.parent_id is None else None
    return ReceivedParticulars(
        register_number=reg.register_number if reg else None,
        received_on=business_day if reg else None,
        sender=issuer_names(config, received).name,  # an outside issuer by its name, never the reserved code
        doc_number=received.doc_number,
        title=received.title,
        active_content=tuple(intake.detail.get("active_content") or ()) if intake else (),
    )


def _drafter(session: Session, config: Config, flow: FlowDefinition, circ: Circulation) -> str:
    """拟稿人: who wrote the draft — the person of the draft step, else the person who launched it."""
    drafted = session.exec(
        select(WorkItem)
        .where(WorkItem.circulation_id == circ.id, WorkItem.status == WorkItemStatus.done, WorkItem.kind == WorkItemKind.human)
        .order_by(col(WorkItem.id))
    )
    for item in drafted:
        step = flow.steps.get(item.step)
        if step is not None and step.kind == StepKind.draft and item.actor in config.users:
            return config.users[item.actor].name
    launch = next(iter(events_about(session, saved_id(circ), "launch")), None)
    return config.users[launch.actor].name if launch and launch.actor in config.users else ""


def _draft(session: Session, config: Config, flow: FlowDefinition, circ: Circulation) -> DraftParticulars | None:
    doc = session.get(Document, circ.document_id) if circ.document_id else None
    if doc is None:
        return None
    content = doc.content
    legacy = content.get("legacy") or {}
    return DraftParticulars(
        doc_number=doc.doc_number,
        title=doc.title,
        main_recipients=list(content.get("main_recipients") or []),
        cc=list(content.get("cc") or []),
        version=doc.version,
        drafting_unit=config.org(circ.org).short_name,
        drafter=_drafter(session, config, flow, circ),
        security=content.get("security") or "",
        urgency=content.get("urgency") or "",
        copies=legacy.get("copies_printed"),
        attachments=list(content.get("attachment_notes") or []),
    )


# Automatic steps whose outcome the paper form records too: the office's 拟办 and the 办结.
RECORDED_AUTOMATIC = frozenset({StepKind.decide, StepKind.conclude})


def _opinions(session: Session, config: Config, flow: FlowDefinition, circ: Circulation, replayed_day: date | None) -> list[Opinion]:
    opinions = []
    for item in done_items(session, saved_id(circ)):
        step = flow.steps.get(item.step)
        if item.kind != WorkItemKind.human and (step is None or step.kind not in RECORDED_AUTOMATIC):
            continue
        opinions.append(
            Opinion(
                step_title=step.title if step else item.step,
                step_kind=str(step.kind) if step else "",
                outcome_label=flow.outcome_label(item.outcome),
                comment=item.comment,
                person=actor_name(config, item.actor),
                acting_for=config.users[item.acted_for].name if item.acted_for and item.acted_for in config.users else None,
                finished_on=replayed_day or (china_date(item.finished_at) if item.finished_at else None),
            )
        )
    return opinions
