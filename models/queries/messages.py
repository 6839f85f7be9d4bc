"""Reads of 消息: a person's messages, their unread count, the 催办 sent by hand for a requirement."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from gongwen_engine.models.tables import Message


def messages_of(session: Session, recipient: str, limit: int = 200) -> Sequence[Message]:
    """``recipient``'s latest messages, unread first, newest first."""
    stmt = select(Message).where(Message.recipient == recipient)
    return session.exec(stmt.order_by(col(Message.read_at).is_not(None), col(Message.id).desc()).limit(limit)).all()


def unread_count(session: Session, recipient: str) -> int:
    return session.exec(select(func.count()).select_from(Message).where(Message.recipient == recipient, col(Message.read_at).is_(None))).one()


def urged(session: Session, requirement_id: int | None) -> Sequence[Message]:
    """The 催办 sent by hand for ``requirement_id`` (one row per recipient), oldest first."""
    stmt = select(Message).where(Message.requirement_id == requirement_id, Message.kind == "urged")
    return session.exec(stmt.order_by(col(Message.id))).all()
