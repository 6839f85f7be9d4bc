"""核发 of an issued document to its recipients, and 办结. The flow loader puts printing (and
sealing, where the flow seals) before every distribution step (flows/engine/definition.py ORDERS)."""

from __future__ import annotations

from sqlmodel import select

from gongwen_engine.config.schema import Role
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.models import messages
from gongwen_engine.models.rules.recipients import of_content
from gongwen_engine.models.tables import Circulation, Delivery


def distribute(ctx: StepContext) -> None:
    """核发: deliver once to each organisation the signed version names (``recipients.of_content``):
    主送 for handling, each starting the step's ``start_flow``; 抄送 as a copy for information,
    starting ``copy_flow`` (阅知). Names outside the platform are printed only (audited)."""
    deliver(ctx, ctx.step.start_flow or ctx.circulation.flow)


def deliver(ctx: StepContext, flow: str) -> None:
    """Deliver the circulation's document, once per recipient, to what its signed version prints
    (主送 running ``flow``, 抄送 the step's ``copy_flow`` or ``flow``), with the 来文 message; 核发
    and 报送 both go through here."""
    circ = ctx.circulation
    doc = ctx.document(circ.document_id)
    assert doc.id is not None  # read from the database
    recipients = of_content(ctx.config, circ.org, doc.content)
    copy_flow = ctx.step.copy_flow or flow
    # what was delivered and started before (a step run again), read once for all recipients: the
    # document is this circulation's, delivered only here, under its row lock (one read each, not
    # two per recipient: a province's 核发 reaches 16 cities)
    delivered = set(ctx.session.exec(select(Delivery.recipient).where(Delivery.document_id == doc.id)).all())
    started = {c.org: c for c in ctx.session.exec(select(Circulation).where(Circulation.received_id == doc.id)).all()}
    for org, as_copy in [*((o, False) for o in recipients.main), *((o, True) for o in recipients.copies)]:
        new = org.code not in delivered
        if new:
            delivered.add(org.code)
            ctx.session.add(Delivery(document_id=doc.id, sender=circ.org, recipient=org.code, as_copy=as_copy))
            ctx.audit("delivered", doc.id, recipient=org.code, **({"as_copy": True} if as_copy else {}))
        theirs = started.get(org.code) or ctx.engine.start_for_recipient(ctx.session, circ, org.code, doc.id, copy_flow if as_copy else flow, absent=True)
        started[org.code] = theirs
        if new:  # 来文: a message to the receiving organisation's secretaries, once with the delivery
            sender = ctx.config.org(circ.org).short_name
            text = f"来文：{sender}《{doc.title}》{'（抄送，阅知）' if as_copy else ''}已送达本单位，请签收办理。"
            people = [u.id for u in ctx.config.users_with(org.code, Role.secretary)] or [f"role:{Role.secretary.value}@{org.code}"]
            messages.post(ctx.session, people, "arrival", text, org=org.code, circulation_id=theirs.id)
    if recipients.printed_only:
        ctx.audit("printed_only", doc.id, names=list(recipients.printed_only), channel="平台外，另行寄送")  # sent outside the platform


def conclude(ctx: StepContext) -> None:
    """办结: the handling of the document is finished."""
    circ = ctx.circulation
    ctx.audit("concluded", circ.document_id or circ.received_id)
