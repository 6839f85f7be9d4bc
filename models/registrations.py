"""收文登记: one home for finding an organisation's registration of a document and for adding one.

One registration per organisation and document (the register step checks before it adds). A
transaction that has added one finds it without asking the database again (the processing slip a
chain re-issues right after 登记 reads its 收文编号).
"""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import Session, select

from gongwen_engine.models.tables import Registration

# session.info: the registrations (收文登记) this transaction made, by (organisation, document), so the
# record a chain re-issues after 登记 does not ask for the row its own step has just written.
REGISTERED_KEY = "gongwen_registered"


def registration_of(session: Session, org: str, document_id: int) -> Registration | None:
    """``org``'s registration of the document (one per organisation and document), or None."""
    made = session.info.get(REGISTERED_KEY)
    if made and (org, document_id) in made:
        return made[(org, document_id)]
    return session.exec(select(Registration).where(Registration.org == org, Registration.document_id == document_id)).first()


def add_registration(session: Session, reg: Registration) -> None:
    """Add a new registration to the transaction (``registration_of`` finds it from then on)."""
    session.add(reg)
    session.info.setdefault(REGISTERED_KEY, {})[(reg.org, reg.document_id)] = reg


@event.listens_for(Session, "after_soft_rollback")
def _forget_registered(session: Session, _previous: object) -> None:
    """A rollback — a savepoint's too (``Engine.run_steps``) — may have undone them: read again."""
    session.info.pop(REGISTERED_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _registered_end(session: Session, transaction: object) -> None:
    if getattr(transaction, "parent", None) is None:
        session.info.pop(REGISTERED_KEY, None)
