"""消息 (in-app messages): the one place a notice to a person is written — by the reminders
(``flows/actions/reporting.py``: 催办 of a reporting requirement; ``flows/engine/items.py``: an
overdue 待办), by a 催办 sent by hand (``flows/services/reporting.py``: ``urge``) and by 核发
(``flows/actions/distribution.py``: a document arriving at an organisation). Each is written in the
transaction that records the reminder or the delivery, so there is a message exactly when there is
the event. The words are Chinese and complete: the 消息 page shows ``Message.text`` as it is."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from gongwen_engine.models.tables import Message, utcnow

# What a message is about, as the 消息 page names it.
KINDS = {
    "reminder": "催办",
    "escalated": "逾期催办",
    "urged": "人工催办",
    "overdue": "待办超期",
    "arrival": "来文",
}


def post(
    session: Session,
    recipients: Iterable[str],
    kind: str,
    text: str,
    *,
    org: str,
    circulation_id: int | None = None,
    requirement_id: int | None = None,
    sent_by: str = "system",
    at: datetime | None = None,
) -> list[Message]:
    """One message of ``kind`` to each of ``recipients`` (duplicates once), in ``session``'s transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}: one of {sorted(KINDS)}")
    at = at or utcnow()
    rows = [
        Message(recipient=r, kind=kind, text=text, org=org, circulation_id=circulation_id, requirement_id=requirement_id, sent_by=sent_by, created_at=at)
        for r in dict.fromkeys(recipients)
    ]
    session.add_all(rows)
    return rows
