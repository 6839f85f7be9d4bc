"""消息 for the web workplace: a person's messages (催办, 逾期催办, 人工催办, 待办超期, 来文), the
unread count of the navigation bar, marking read. The messages are written where the reminder is
sent or the delivery recorded (``models/messages.py``); this only reads them and marks them read."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import db
from gongwen_engine.models.messages import KINDS
from gongwen_engine.models.queries import messages as q
from gongwen_engine.models.tables import Message, utcnow

__all__ = ["KINDS", "inbox", "mark_read", "unread"]


def inbox(engine: Engine, user: str) -> Sequence[Message]:
    """``user``'s latest messages, unread first."""
    with Session(engine.db) as session:
        return q.messages_of(session, user)


def unread(engine: Engine, user: str) -> int:
    with Session(engine.db) as session:
        return q.unread_count(session, user)


def mark_read(engine: Engine, user: str, ids: list[int] | None = None) -> int:
    """Mark ``user``'s messages ``ids`` read (all unread ones when ``ids`` is None); another person's ids are ignored."""
    with db.transaction(engine.db) as session:
        stmt = select(Message).where(Message.recipient == user, col(Message.read_at).is_(None))
        if ids is not None:
            stmt = stmt.where(col(Message.id).in_(ids))
        rows = session.exec(stmt).all()
        now = utcnow()
        for row in rows:
            row.read_at = now
            session.add(row)
        return len(rows)
