"""拟办 and 拟稿 of a forwarding notice."""

from __future__ import annotations

from gongwen_engine.doc_templates.drafting import DocRef, draft_forwarding_notice, draft_reply
from gongwen_engine.flows.engine.context import StepContext
from gongwen_engine.flows.engine.documents import draft_version
from gongwen_engine.models.issuers import issuer_names
from gongwen_engine.models.rules.recipients import names_for
from gongwen_engine.models.tables import Document


def decide_forwarding(ctx: StepContext) -> str:
    """拟办: forward to the organisation's children if it has any, otherwise file it."""
    return "forward" if ctx.config.children(ctx.circulation.org) else "file"


def _ref(ctx: StepContext, doc: Document) -> DocRef:
    return DocRef(issuer=issuer_names(ctx.config, doc).short_name, title=doc.title, doc_number=doc.doc_number or "")


def draft_forwarding(ctx: StepContext) -> None:
    """拟稿: draft the forwarding notice from the step's template; a re-draft is a new version."""
    circ = ctx.circulation
    received = ctx.document(circ.received_id)
    original = ctx.document(received.original_id) if received.original_id else received
    picked = names_for(ctx.config, circ.org, circ.deliver_to) if circ.deliver_to else None  # 批办 转发's pick; default: all children
    requirement = ctx.config.policy(circ.policy).cover_letter.get(ctx.org.level)  # a policy replaying a seed's words
    content = draft_forwarding_notice(
        ctx.org, _ref(ctx, original), _ref(ctx, received), ctx.today, ctx.step.template or "forwarding_notice.j2", picked, requirement
    )
    doc = draft_version(ctx.session, circ, content, received.id, original.id)
    ctx.audit("drafted", doc.id, title=doc.title, version=doc.version)


def draft_reply_to_sender(ctx: StepContext) -> None:
    """承办：拟答复 — the reply to the received document's sender (a 报告 when the sender is this
    organisation's superior, else a 函), addressed to the sender: 核发 delivers it there when the
    sender is in the tree; a sender outside it is printed only (sent outside the platform)."""
    circ = ctx.circulation
    received = ctx.document(circ.received_id)
    parent = ctx.config.parent(circ.org)
    upward = parent is not None and received.org == parent.code
    content = draft_reply(ctx.org, _ref(ctx, received), upward, ctx.today, ctx.step.template or "reply.j2")
    doc = draft_version(ctx.session, circ, content, None, None)
    ctx.audit("drafted", doc.id, title=doc.title, version=doc.version, reply_to=received.id)
