"""Document numbers (发文字号) for interfaces."""

from __future__ import annotations

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import db
from gongwen_engine.models.numbering import void_doc_number
from gongwen_engine.models.tables import IssuedNumber


def void_number(engine: Engine, doc_number: str, reason: str, actor: str) -> IssuedNumber:
    """Withdraw an allocated number: kept with the reason, never reused; audited."""
    if not reason.strip():
        raise Refusal("作废文号必须说明理由（--reason）")
    with db.transaction(engine.db) as session:
        try:
            number = void_doc_number(session, doc_number, reason)
        except LookupError:
            raise Refusal(f"文号 {doc_number} 从未分配，无法作废（see `gongwen status`）") from None
        engine.audit(session, actor, "number_voided", None, None, None, {"doc_number": number.doc_number, "reason": reason})
        return number
