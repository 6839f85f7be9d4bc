"""核发 of an issued document to its recipients, and 办结. The flow loader puts printing (and
sealing, where the flow seals) before every distribution step (flows/engine/definition.py ORDERS)."""

from __future__ import annotations

from sqlmodel import select

from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.models.rules.recipients import delivery_targets
from gongwen_engine.models.tables import Delivery


def distribute(ctx: StepContext) -> None:
    """核发: deliver once to each recipient (those chosen at launch, else every child organisation:
    ``recipients.delivery_targets``); each delivery starts the recipient's flow."""
    circ = ctx.circulation
    doc = ctx.document(circ.document_id)
    assert doc.id is not None  # read from the database
    flow = ctx.step.start_flow or circ.flow
    for child in delivery_targets(ctx.config, circ):
        if ctx.session.exec(select(Delivery).where(Delivery.document_id == doc.id, Delivery.recipient == child.code)).first() is None:
            ctx.session.add(Delivery(document_id=doc.id, sender=circ.org, recipient=child.code))
            ctx.audit("delivered", doc.id, recipient=child.code)
        ctx.engine.start_for_recipient(ctx.session, circ, child.code, doc.id, flow)


def conclude(ctx: StepContext) -> None:
    """办结: the handling of the document is finished."""
    circ = ctx.circulation
    ctx.audit("concluded", circ.document_id or circ.received_id)
