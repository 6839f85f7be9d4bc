"""签收 and 登记 of a received document."""

from __future__ import annotations

from gongwen_engine.flows.actions import sealing
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.models.numbering import next_serial
from gongwen_engine.models.registrations import add_registration, registration_of
from gongwen_engine.models.rules.doc_numbers import format_register_number, register_sequence
from gongwen_engine.models.tables import Registration, utcnow


def sign_for(ctx: StepContext) -> None:
    """签收: the recipient acknowledges receipt of the delivered document."""
    received = ctx.document(ctx.circulation.received_id)
    ctx.audit("signed_for", received.id, doc_number=received.doc_number, sender=received.org)
    sealing.check_received(ctx, received)  # 印章核验 of the signed PDF that came with it


def register(ctx: StepContext) -> None:
    """登记: give the received document an incoming register number (once per organisation)."""
    circ = ctx.circulation
    received = ctx.document(circ.received_id)
    assert received.id is not None and circ.id is not None  # read from the database
    existing = registration_of(ctx.session, circ.org, received.id)
    if existing:
        return
    year = ctx.today.year
    serial = next_serial(ctx.session, register_sequence(circ.org), year)
    signed_for = ctx.finished_at(StepKind.sign_for) or utcnow()
    reg = Registration(
        org=circ.org,
        document_id=received.id,
        circulation_id=circ.id,
        year=year,
        serial=serial,
        register_number=format_register_number(year, serial),
        signed_for_at=signed_for,
    )
    add_registration(ctx.session, reg)
    ctx.audit("registered", received.id, register_number=reg.register_number)
