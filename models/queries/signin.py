"""Reads of the sign-in trail: recent sign-in events (successes and failures) for throttling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from gongwen_engine.models.tables import AuditEvent


def sign_in_events(session: Session, actions: tuple[str, ...], since: datetime) -> Sequence[AuditEvent]:
    """The audit events of ``actions`` after ``since``, oldest first."""
    return session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(actions), AuditEvent.at > since).order_by(col(AuditEvent.id))).all()
