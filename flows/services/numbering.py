"""Document numbers (发文字号) for interfaces: voiding one (作废; an issued document is thereby
withdrawn and its recipients told) and the 发文登记簿 (the register of an organisation's numbers)."""

from __future__ import annotations

from dataclasses import dataclass

from gongwen_engine.config.errors import Refusal
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.items import open_at
from gongwen_engine.models import db
from gongwen_engine.models.numbering import void_doc_number
from gongwen_engine.models.queries import numbers as q
from gongwen_engine.models.queries import read
from gongwen_engine.models.rules.dates import shown
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.tables import CirculationStatus, IssuedNumber, WorkItemStatus, utcnow


def void_number(engine: Engine, doc_number: str, reason: str, actor: str) -> IssuedNumber:
    """作废: only the issuing organisation's secretary or leader (``permissions``: void_number), once,
    with a reason; the number is kept and never reused. A number whose document exists withdraws
    the document (作废): a circulation still issuing it stops, and every recipient is told (an
    audit event on its circulation, shown on its timeline; the document shows 作废 everywhere)."""
    doc_number = doc_number.strip()
    if not reason.strip():
        raise Refusal("作废文号必须说明理由（--reason）")
    user = engine.user(actor)
    with db.transaction(engine.db) as session:
        number = q.number_row(session, doc_number)
        if number is None:
            raise Refusal(f"文号 {doc_number} 从未分配，无法作废（发文登记簿：gongwen number list --org 单位 --year 年度）")
        issuer = engine.config.org_by_prefix.get(number.prefix)
        if issuer is None:
            raise Refusal(f"文号 {doc_number} 的机关代字“{number.prefix}”不属于任何已配置单位，无法确定发文单位")
        authorize(engine.config, user, Action.void_number, Org(issuer.code, f"文号 {doc_number}"))
        if number.voided:
            raise Refusal(f"文号 {doc_number} 已于 {shown(number.voided_at) if number.voided_at else '此前'} 作废（理由：{number.void_reason}），不能再次作废")
        document_id = number.document_id
        void_doc_number(session, doc_number, reason.strip(), by=actor, keep_document=True)
        detail = {"doc_number": doc_number, "reason": reason.strip()}
        engine.audit(session, actor, "number_voided", None, document_id, None, detail)
        if document_id is not None:
            issuing, receiving = q.holders(session, document_id)
            issuing = db.lock_circulation(session, issuing.id) if issuing is not None and issuing.id is not None else None
            if issuing is not None:
                engine.audit(session, actor, "withdrawn", issuing, document_id, issuing.step, detail)
                if issuing.status != CirculationStatus.done:  # not yet out (e.g. 出错 at 用印): it stops here, nothing is delivered
                    for item in [*(open_at(session, issuing, issuing.step) if issuing.step else [])]:
                        item.status, item.finished_at = WorkItemStatus.cancelled, utcnow()
                        session.add(item)
                    issuing.status, issuing.step, issuing.error, issuing.claimed_by, issuing.updated_at = CirculationStatus.done, None, None, None, utcnow()
                    session.add(issuing)
            for circ in receiving:
                engine.audit(session, actor, "withdrawal_notice", circ, document_id, circ.step, detail)
        return number


@dataclass
class RegisterLine:
    """One line of the 发文登记簿, in words."""

    serial: int
    doc_number: str
    state: str  # 已分配 / 已发出 / 已作废
    title: str
    allocated: str
    sent_to: list[str]
    void_reason: str | None
    voided_by: str | None

    def as_json(self) -> dict:
        return dict(self.__dict__)


def number_register(engine: Engine, org: str, year: int, viewer: str | None = None) -> list[RegisterLine]:
    """The 发文登记簿 of ``org`` for ``year``: every number of its prefixes (allocated, voided, to whom
    sent), in numerical order of serial. ``viewer``: who looks (本单位及上级单位; None: the operator)."""
    organisation = engine.config.org(org)
    if viewer is not None:
        authorize(engine.config, engine.user(viewer), Action.view_circulation, Org(org, "发文登记簿"))
    lines = []
    for row in read(engine.db, q.register, organisation.prefixes, year):
        n, doc = row.number, row.doc
        names = [
            engine.config.org(code).short_name + ("（抄送）" if copy else "") if code in engine.config.organisations else code for code, copy in row.deliveries
        ]
        state = "已作废" if n.voided else ("已发出" if row.deliveries else "已分配")
        lines.append(
            RegisterLine(
                serial=n.serial,
                doc_number=n.doc_number,
                state=state,
                title=doc.title if doc else "",
                allocated=shown(n.allocated_at),
                sent_to=names,
                void_reason=n.void_reason,
                voided_by=n.voided_by,
            )
        )
    return lines
