"""Reads of the sign-in trail: recent sign-in events (successes and failures) for throttling."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from gongwen_engine.models.tables import AuditEvent, WebSession


def sign_in_events(session: Session, actions: tuple[str, ...], since: datetime) -> Sequence[AuditEvent]:
    """The audit events of ``actions`` after ``since``, oldest first."""
    return session.exec(select(AuditEvent).where(col(AuditEvent.action).in_(actions), AuditEvent.at > since).order_by(col(AuditEvent.id))).all()


def signed_in_from(session: Session, account: str, address: str, since: datetime) -> bool:
    """Whether ``account`` signed in successfully from ``address`` after ``since`` (a known place)."""
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "sign_in", AuditEvent.actor == account, AuditEvent.at > since)).all()
    return any(row.detail.get("address") == address for row in rows)


def live_sessions(session: Session, user: str, now: datetime) -> Sequence[WebSession]:
    """The user's sessions not ended and not expired."""
    return session.exec(select(WebSession).where(WebSession.user == user, col(WebSession.ended_at).is_(None), WebSession.expires_at > now)).all()
