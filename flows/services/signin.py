"""Sign-in throttling (登录限制).

Failed sign-ins are counted in the audit trail (``sign_in_failed`` events), so the limit holds
across restarts and across several web processes on one database: after
``MAX_FAILURES_PER_ACCOUNT`` failures for one account, or ``MAX_FAILURES_PER_ADDRESS`` from one
address, within ``THROTTLE_WINDOW``, sign-in is refused until the window has passed (a successful
sign-in resets the account's count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models.queries.signin import sign_in_events
from gongwen_engine.models.tables import utcnow

THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
SIGN_IN, SIGN_IN_FAILED = "sign_in", "sign_in_failed"


@dataclass(frozen=True)
class Throttle:
    """Whether a sign-in may be tried now, and if not, until when."""

    allowed: bool
    until: datetime | None = None


def throttle(engine: Engine, account: str, address: str, now: datetime | None = None) -> Throttle:
    """Refuse when the account or the address has too many recent failed sign-ins."""
    now = now or utcnow()
    with Session(engine.db) as session:
        events = sign_in_events(session, (SIGN_IN, SIGN_IN_FAILED), now - THROTTLE_WINDOW)
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
    for failures, limit in ((account_failures, MAX_FAILURES_PER_ACCOUNT), (address_failures, MAX_FAILURES_PER_ADDRESS)):
        if len(failures) >= limit:
            return Throttle(False, failures[-limit] + THROTTLE_WINDOW)
    return Throttle(True)
