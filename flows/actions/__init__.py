"""The automatic actions a flow step can name with ``do:``.

Each action runs inside the step's transaction with the circulation locked (see engine.py):
its database effects commit together with the step, or not at all. Files are written
deterministically and atomically, so a retried step rewrites identical bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


from sqlmodel import select

from gongwen_engine.doc_templates.content import DocumentContent
from gongwen_engine.doc_templates.drafting import DocRef, draft_forwarding_notice
from gongwen_engine.doc_templates.render import RenderResult, render_docx
from gongwen_engine.models.issuers import issuer_names
from gongwen_engine.models.numbering import allocate_doc_number, format_register_number, issue_doc_number, next_serial, register_sequence, void_doc_number
from gongwen_engine.models.tables import Delivery, Document, Registration, utcnow

from gongwen_engine.flows.actions import sealing
from gongwen_engine.flows.actions.archiving import file_circulation
from gongwen_engine.flows.engine.documents import content_of, stored_content
from gongwen_engine.flows.engine.engine import StepContext
from gongwen_engine.models.rules.recipients import delivery_targets
from gongwen_engine.flows.services.circulations import issued_parts

Action = Callable[[StepContext], str | None]
ACTIONS: dict[str, Action] = {}


def action(fn: Action) -> Action:
    ACTIONS[fn.__name__] = fn
    return fn


@action
def sign_for(ctx: StepContext) -> None:
    """签收: the recipient acknowledges receipt of the delivered document."""
    received = ctx.document(ctx.circulation.received_id)
    ctx.audit("signed_for", received.id, doc_number=received.doc_number, sender=received.org)
    sealing.check_received(ctx, received)  # 印章核验 of the signed PDF that came with it


@action
def register(ctx: StepContext) -> None:
    """登记: give the received document an incoming register number (once per organisation)."""
    circ = ctx.circulation
    received = ctx.document(circ.received_id)
    existing = ctx.session.exec(select(Registration).where(Registration.org == circ.org, Registration.document_id == received.id)).first()
    if existing:
        return
    year = ctx.today.year
    serial = next_serial(ctx.session, register_sequence(circ.org), year)
    signed_for = ctx.engine.step_finished_at(ctx.session, circ.id, "sign_for") or utcnow()
    reg = Registration(org=circ.org, document_id=received.id, circulation_id=circ.id, year=year, serial=serial, register_number=format_register_number(year, serial), signed_for_at=signed_for)
    ctx.session.add(reg)
    ctx.audit("registered", received.id, register_number=reg.register_number)


@action
def decide_forwarding(ctx: StepContext) -> str:
    """拟办: forward to the organisation's children if it has any, otherwise file it."""
    return "forward" if ctx.config.children(ctx.circulation.org) else "file"


def _ref(ctx: StepContext, doc: Document) -> DocRef:
    return DocRef(issuer=issuer_names(ctx.config, doc).short_name, title=doc.title, doc_number=doc.doc_number or "")


@action
def draft_forwarding(ctx: StepContext) -> None:
    """拟稿: draft the forwarding notice from the step's template; a re-draft is a new version."""
    circ = ctx.circulation
    received = ctx.document(circ.received_id)
    original = ctx.document(received.original_id) if received.original_id else received
    content = draft_forwarding_notice(ctx.org, _ref(ctx, original), _ref(ctx, received), ctx.today, ctx.step.template or "forwarding_notice.j2")
    version = 1
    if circ.document_id:
        version = ctx.document(circ.document_id).version + 1
    doc = Document(
        org=circ.org, doc_type=content.doc_type, title=content.title, content=stored_content(content),
        forwards_id=received.id, original_id=original.id, circulation_id=circ.id, version=version,
    )
    ctx.session.add(doc)
    ctx.session.flush()
    circ.document_id = doc.id
    ctx.audit("drafted", doc.id, title=doc.title, version=version)


@action
def allocate_number(ctx: StepContext) -> None:
    """编号: allocate the next 发文字号 of the issuer's first prefix in the document's year."""
    doc = ctx.document(ctx.circulation.document_id)
    content = content_of(doc)
    prefix = ctx.org.prefixes[0]
    year = content.issued_on.year
    start = ctx.config.start_of(prefix, year)
    # PostgreSQL: allocated and committed in one round trip of its own, so the counter is not
    # locked for the rest of the step (a re-run gets the same number back); else in the step.
    number = issue_doc_number(ctx.engine.db, prefix, year, doc.id, start) or allocate_doc_number(ctx.session, prefix, year, doc.id, start=start)
    while (holder := _number_holder(ctx, number.doc_number, doc.id)) is not None:
        # The number was already used outside gongwen: a document received from outside carries
        # it (e.g. a notice issued on paper before the organisation's counter was set up). It is
        # voided with the reason, never given twice, and the next one is allocated in this step.
        void_doc_number(ctx.session, number.doc_number, f"该文号已由外来文件使用（收文文档 #{holder}），不再重复编号")
        ctx.session.flush()
        ctx.audit("number_voided", doc.id, doc_number=number.doc_number, reason="used_by_received_document", holder=holder)
        number = allocate_doc_number(ctx.session, prefix, year, doc.id, start=start)
    doc.doc_number = number.doc_number
    ctx.session.add(doc)
    ctx.audit("numbered", doc.id, doc_number=number.doc_number)


def _number_holder(ctx: StepContext, doc_number: str, document_id: int) -> int | None:
    """Another document that already carries ``doc_number`` (one received from outside), if any."""
    return ctx.session.exec(select(Document.id).where(Document.doc_number == doc_number, Document.id != document_id)).first()


def document_parts(ctx: StepContext, doc: Document) -> list[DocumentContent]:
    """The document followed by what it forwards, as issued (cover letter first)."""
    return issued_parts(ctx.session, doc)


@action
def render(ctx: StepContext) -> None:
    """印制: write the .docx (cover letter + forwarded document) to the storage folder."""
    issue_rendered(ctx, lambda doc, path: render_docx(document_parts(ctx, doc), path))


def issue_rendered(ctx: StepContext, write: Callable[[Document, Path], RenderResult]) -> None:
    """Write the circulation's numbered document with ``write`` and keep it as the issued copy (正本)."""
    doc = ctx.document(ctx.circulation.document_id)
    if not doc.doc_number:
        raise RuntimeError(f"document {doc.id} has no number yet: the flow must number it before rendering")
    relative = f"{doc.org}/{doc.doc_number}.docx"
    result = write(doc, ctx.engine.storage / relative)
    doc.file, doc.sha256 = relative, result.sha256
    ctx.session.add(doc)
    ctx.record_file("issued_copy", relative, result.sha256, result.size)
    ctx.audit("rendered", doc.id, file=relative, sha256=result.sha256, size=result.size)


@action
def seal(ctx: StepContext) -> None:
    """用印: the issued copy as a PDF with the visible seal, signed for the issuer (PAdES)."""
    sealing.seal_step(ctx)


@action
def distribute(ctx: StepContext) -> None:
    """核发: deliver once to each recipient (those chosen at launch, else every child organisation:
    ``recipients.delivery_targets``); each delivery starts the recipient's flow."""
    circ = ctx.circulation
    doc = ctx.document(circ.document_id)
    if not doc.file:
        raise RuntimeError(f"document {doc.doc_number} is not rendered yet: the flow must render it before distribution")
    flow = ctx.step.start_flow or circ.flow
    for child in delivery_targets(ctx.config, circ):
        if ctx.session.exec(select(Delivery).where(Delivery.document_id == doc.id, Delivery.recipient == child.code)).first() is None:
            ctx.session.add(Delivery(document_id=doc.id, sender=circ.org, recipient=child.code))
            ctx.audit("delivered", doc.id, recipient=child.code)
        ctx.engine.start_for_recipient(ctx.session, circ, child.code, doc.id, flow)


@action
def conclude(ctx: StepContext) -> None:
    """办结: the handling of the document is finished."""
    circ = ctx.circulation
    ctx.audit("concluded", circ.document_id or circ.received_id)


@action
def archive(ctx: StepContext) -> None:
    """归档: file the circulation as one item (件) with its archive code (档号); see archiving.py."""
    file_circulation(ctx)




from gongwen_engine.flows.actions import reporting as reporting_actions  # noqa: E402,F401 - registers render_report and submit_report (报送, flows/reporting.yaml)
