"""Sign-in (登录): throttling and server-side sessions.

**Throttling** counts failed sign-ins in the audit trail (``sign_in_failed`` events), so it holds
across restarts and across several web processes on one database. It is a back-off, never a
lock-out of other people: after ``MAX_FAILURES_PER_ACCOUNT`` failures of one account within
``THROTTLE_WINDOW`` (since its last success), each further try of that account waits twice as long
as the one before (``FIRST_DELAY`` doubling up to ``THROTTLE_WINDOW``); after
``MAX_FAILURES_PER_ADDRESS`` failures from one address, tries from it wait the same way — except
for accounts that signed in successfully from that address within ``KNOWN_FOR`` (an office behind
one proxy address keeps working while someone guesses from it).

**Sessions** are rows (``WebSession``): the browser's cookie carries a random token, the table its
SHA-256. Signing out ends the session; a password change and an administrator end all of a
person's sessions (``end_sessions``); a session also ends ``SESSION_HOURS`` after sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import db
from gongwen_engine.models.queries.signin import live_sessions, sign_in_events, signed_in_from
from gongwen_engine.models.rules.dates import aware
from gongwen_engine.models.tables import WebSession, utcnow

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
FIRST_DELAY = timedelta(seconds=30)  # the wait after the first failure past the free ones; doubles each time
KNOWN_FOR = timedelta(days=30)  # an account that signed in from an address this recently is not slowed by its failures
SESSION_HOURS = 8
SIGN_IN, SIGN_IN_FAILED = "sign_in", "sign_in_failed"


@dataclass(frozen=True)
class Throttle:
    """Whether a sign-in may be tried now, and if not, until when."""

    allowed: bool
    until: datetime | None = None


def backoff(failures: list[datetime], free: int) -> datetime | None:
    """When the next try may be made after ``failures`` (oldest first), ``free`` of them without wait."""
    extra = len(failures) - free
    if extra < 0:
        return None
    return failures[-1] + min(THROTTLE_WINDOW, FIRST_DELAY * 2 ** min(extra, 16))


def throttle(engine: Engine, account: str, address: str, now: datetime | None = None) -> Throttle:
    """Refuse a try made before the back-off of the account's (or the address's) recent failures has passed."""
    now = now or utcnow()
    with Session(engine.db) as session:
        events = sign_in_events(session, (SIGN_IN, SIGN_IN_FAILED), now - THROTTLE_WINDOW)
        known = signed_in_from(session, account, address, now - KNOWN_FOR) if account else False
    account_failures: list[datetime] = []
    address_failures: list[datetime] = []
    for event in events:
        if event.action == SIGN_IN and event.actor == account:
            account_failures.clear()  # a success resets the account's count
        elif event.action == SIGN_IN_FAILED:
            if event.detail.get("account") == account:
                account_failures.append(event.at)
            if event.detail.get("address") == address:
                address_failures.append(event.at)
    waits = [backoff(account_failures, MAX_FAILURES_PER_ACCOUNT)]
    if not known:
        waits.append(backoff(address_failures, MAX_FAILURES_PER_ADDRESS))
    until = max((w for w in waits if w is not None), default=None)
    return Throttle(False, until) if until is not None and until > now else Throttle(True)


# ---- sessions ---------------------------------------------------------------------------------------


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@db.retry_transient(in_doubt="retry")  # idempotent, or a harmless unused row
def start_session(engine: Engine, user: str, address: str) -> str:
    """A new session for ``user``; its token (for the cookie; only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    with db.transaction(engine.db) as session:
        session.add(WebSession(id=_key(token), user=user, address=address, expires_at=utcnow() + timedelta(hours=SESSION_HOURS)))
    return token


@db.retry_transient(in_doubt="retry")  # idempotent, or a harmless unused row
def session_user(engine: Engine, token: str | None, now: datetime | None = None) -> str | None:
    """The person a live session token belongs to; None when it was ended, has expired or never was."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    with Session(engine.db) as session:
        row = session.get(WebSession, _key(token))
    if row is None or row.ended_at is not None or aware(row.expires_at) <= now:
        return None
    return row.user


@db.retry_transient(in_doubt="retry")  # idempotent, or a harmless unused row
def end_session(engine: Engine, token: str | None, why: str = "sign_out") -> None:
    if not token:
        return
    with db.transaction(engine.db) as session:
        row = session.get(WebSession, _key(token))
        if row is not None and row.ended_at is None:
            row.ended_at, row.ended_why = utcnow(), why
            session.add(row)


@db.retry_transient(in_doubt="retry")  # idempotent, or a harmless unused row
def end_sessions(engine: Engine, user: str, why: str) -> int:
    """End every live session of ``user`` (a password change, an administrator); how many were ended."""
    with db.transaction(engine.db) as session:
        rows = live_sessions(session, user, utcnow())
        for row in rows:
            row.ended_at, row.ended_why = utcnow(), why
            session.add(row)
        return len(rows)
