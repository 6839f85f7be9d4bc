"""Reads of the cascade picture (级联图): a circulation and every circulation its distribution
started (``parent_id`` links them), with their work items, finished steps, archive items and
document numbers — a few queries per tree level."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from gongwen_engine.models.tables import ArchiveItem, Circulation, Document, WorkItem, WorkItemKind, WorkItemStatus, saved_id


@dataclass(frozen=True)
class CascadeRows:
    """The rows the picture is drawn from; ``circulations[0]`` is the root."""

    circulations: list[Circulation]
    human_items: list[WorkItem]
    done_steps: set[tuple[int, str]]
    archived: set[int]
    doc_numbers: dict[int, str | None]
    contents: dict[int, dict] = field(default_factory=dict)  # document id -> content (its 主送 and 抄送: the pending recipients)


def cascade_rows(session: Session, root_id: int) -> CascadeRows:
    """The circulation ``root_id`` and its descendants, level by level, and what the picture shows of them."""
    root = session.get(Circulation, root_id)
    levels = [[root]] if root else [[]]
    while levels[-1]:
        parents = [saved_id(c) for c in levels[-1]]
        levels.append(list(session.exec(select(Circulation).where(col(Circulation.parent_id).in_(parents)))))
    circs = [c for level in levels for c in level]
    ids = [saved_id(c) for c in circs]
    items = list(session.exec(select(WorkItem).where(col(WorkItem.circulation_id).in_(ids), WorkItem.kind == WorkItemKind.human)))
    done = session.exec(select(WorkItem.circulation_id, WorkItem.step).where(col(WorkItem.circulation_id).in_(ids), WorkItem.status == WorkItemStatus.done))
    archived = {cid for cid in session.exec(select(ArchiveItem.circulation_id).where(col(ArchiveItem.circulation_id).in_(ids))) if cid is not None}
    doc_ids = [c.document_id for c in circs if c.document_id]
    docs = list(session.exec(select(Document).where(col(Document.id).in_(doc_ids)))) if doc_ids else []
    numbers = {saved_id(d): d.doc_number for d in docs}
    contents = {saved_id(d): d.content for d in docs}
    return CascadeRows(circs, items, {(c, s) for c, s in done}, archived, numbers, contents)
