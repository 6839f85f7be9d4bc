"""Reads about people: delegations (委托代办)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false
from sqlmodel import Session, select

from gongwen_engine.models.tables import Delegation


def principals_of(session: Session, deputy: str, now: datetime) -> list[str]:
    """The ids of the people who delegated to ``deputy`` at ``now``."""
    rows = session.exec(
        select(Delegation).where(Delegation.deputy == deputy, Delegation.revoked == false(), Delegation.starts_at <= now, Delegation.ends_at > now)
    )
    return [d.principal for d in rows]
