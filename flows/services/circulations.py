"""Read-side services shared by the CLI and the web pages: circulations, inbox, timeline, versions (a document as
issued, with what it forwards, is read by `models/queries/documents.py`: `issued_parts`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import User
from gongwen_engine.doc_templates.diff import FieldChanges, diff_contents, inline_changes
from gongwen_engine.doc_templates.records import active_content_note
from gongwen_engine.flows.engine import failures
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.items import item_target, principals
from gongwen_engine.flows.engine.records import actor_name
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.queries import circulations as queries
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.numbers import withdrawn
from gongwen_engine.models.rules import recipients
from gongwen_engine.models.rules.dates import beijing
from gongwen_engine.models.rules.permissions import Action, Org, allowed
from gongwen_engine.models.rules.recipients import chosen_recipients, with_chosen_recipients
from gongwen_engine.models.tables import AuditEvent, Circulation, Document, WorkItem, utcnow

OpenItem = tuple[WorkItem, Circulation, Document | None]


def circulation(engine: Engine, circulation_id: int) -> Circulation:
    """One circulation (refused when there is none with that id)."""
    return read(engine.db, queries.get_circulation, circulation_id)


def circulation_of_item(engine: Engine, work_item_id: int) -> Circulation:
    """The circulation a work item belongs to (refused when there is none with that id)."""
    return read(engine.db, queries.circulation_of_item, work_item_id)


def status_counts(engine: Engine) -> dict[str, int]:
    """How many circulations are in each status."""
    return read(engine.db, queries.status_counts)


def document_label(engine: Engine, circ: Circulation) -> str:
    """How a person names the circulation's document: its number, or its (shortened) title."""
    return read(engine.db, queries.document_label, circ)


def _items_for(session: Session, engine: Engine, user: User | None) -> list[OpenItem]:
    rows = queries.open_human_items(session)
    if user is None:
        return rows
    acting_as = [user, *principals(session, engine.config, user)]
    return [(item, circ, doc) for item, circ, doc in rows if any(allowed(engine.config, p, Action.act, item_target(item)) for p in acting_as)]


def open_items(engine: Engine, user_id: str | None = None) -> list[OpenItem]:
    """Human work items waiting for a person (for ``user_id``: those they may act on, delegations included)."""
    return read(engine.db, _items_for, engine, engine.user(user_id) if user_id else None)


def circulation_rows(engine: Engine, viewer: User | None = None) -> list[dict]:
    """Every circulation ``viewer`` may see (none given: all), as the status list shows it."""
    rows = []
    listed = read(engine.db, queries.circulations_with_documents)
    voided = read(engine.db, withdrawn, [doc.id for _, doc in listed if doc and doc.id is not None])
    for circ, doc in listed:
        if viewer and not allowed(engine.config, viewer, Action.view_circulation, Org(circ.org)):
            continue
        rows.append(
            {
                "id": circ.id,
                "org": engine.config.org(circ.org).short_name,
                "flow": circ.flow,
                "step": circ.step,
                "status": circ.status,
                "error": circ.error,
                "document": ((doc.doc_number or doc.title) + ("（已作废）" if doc.id in voided else "")) if doc else None,
            }
        )
    return rows


@dataclass
class InboxEntry:
    """One 待办 as a person sees it."""

    item: int
    circulation: int
    org: str
    step: str
    step_title: str
    for_whom: str
    document: str
    doc_number: str | None
    urgency: str | None
    due_at: datetime | None
    overdue: bool
    since: datetime

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("due_at", "since"):
            data[key] = beijing(data[key]).isoformat() if data[key] else None
        return data


def inbox(engine: Engine, user_id: str, now: datetime | None = None) -> list[InboxEntry]:
    """The items ``user_id`` may act on (their own, their role's, and their principals' by delegation)."""
    now = now or utcnow()
    entries = []
    for item, circ, doc in open_items(engine, user_id):
        definition = engine.definition_of(circ)
        step = definition.step(item.step)
        assert item.id is not None and circ.id is not None  # read from the database
        failed = failures.is_failure(definition, item)  # an automatic step that failed: 重试 after a fix
        if item.assignee:
            for_whom = actor_name(engine.config, item.assignee)
        else:
            role = step.by if step.by else item.role
            assert role is not None  # a human step names its role; a failure's item carries it
            for_whom = f"{role}（角色）"
        entries.append(
            InboxEntry(
                item=item.id,
                circulation=circ.id,
                org=engine.config.org(circ.org).short_name,
                step=item.step,
                step_title=failures.failed_step_title(step.title) if failed else step.title,
                for_whom=for_whom,
                document=doc.title if doc else "",
                doc_number=doc.doc_number if doc else None,
                urgency=(doc.content.get("urgency") if doc else None),
                due_at=item.due_at,
                overdue=bool(item.due_at and item.due_at < now),
                since=item.created_at,
            )
        )
    return entries


ACTION_WORDS = {
    "launch": "发起",
    "signed_for": "签收",
    "registered": "登记",
    "drafted": "拟稿",
    "revised": "修改文稿",
    "numbered": "编号",
    "rendered": "印制",
    "delivered": "分发",
    "archived": "归档",
    "concluded": "办结",
    "reassigned": "转办",
    "reminded": "催办",
    "retry": "重试",
    "step_failed": "环节失败",
    "printed_only": "仅印在文件上（不经本平台送达）",
    "number_voided": "作废文号",
    "withdrawn": "撤回（文号作废）",
    "withdrawal_notice": "收到撤回（作废）通知",
    "received": "收文登记",
    "intake_confirmed": "核对确认收文",
    "seal_checked": "核验印章",
    "sealed": "用印",
    "not_filed": "不归档",
    "delegated": "委托代办",
    "report_submitted": "报送",
    "claim_released": "释放办理占用",
    "migrate_flow": "改按新版流程办理",
    "download": "下载文件",
}


def recipients_warning(engine: Engine, org: str, content: DocumentContent, to: list[str] | None = None) -> str | None:
    """Before launch (form and CLI): refuse contradictory recipients (and ``--to`` differing from the
    print); the warning in Chinese when some printed names are delivered to no one, else None."""
    content = with_chosen_recipients(engine.config, org, content, chosen_recipients(engine.config, org, to))
    return recipients.check(engine.config, org, content.main_recipients, content.cc).warning()


def draft_recipients_warning(engine: Engine, circulation_id: int) -> str | None:
    """Before 签发: the warning for the circulation's current draft (None: everything printed is delivered)."""
    with Session(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
        doc = session.get(Document, circ.document_id) if circ and circ.document_id else None
        return recipients.of_content(engine.config, circ.org, doc.content).warning() if circ and doc else None


def item_recipients_warning(engine: Engine, item_id: int) -> str | None:
    """The draft's recipients warning for the circulation of work item ``item_id`` (None: none, or no such item)."""
    with Session(engine.db) as session:
        item = session.get(WorkItem, item_id)
        circulation_id = item.circulation_id if item else None
    return draft_recipients_warning(engine, circulation_id) if circulation_id else None


def resolve_circulation(engine: Engine, ref: str) -> Circulation:
    """A circulation by id, or the one that issued / received a document number."""
    with Session(engine.db) as session:
        if ref.isdigit():
            circ = session.get(Circulation, int(ref))
        else:
            doc = queries.document_by_number(session, ref)
            circ = session.get(Circulation, doc.circulation_id) if doc and doc.circulation_id else None
        if circ is None:
            raise Refusal(f"找不到流转或文号“{ref}”：请写流转编号或发文字号")
        return circ


def timeline(engine: Engine, circulation_id: int) -> list[dict]:
    """What happened in a circulation, in words a secretary understands."""
    with Session(engine.db) as session:
        circ = session.get(Circulation, circulation_id)
        if circ is None:
            raise Refusal(f"找不到流转 {circulation_id}")
        flow = engine.definition_of(circ, session)
        lines = []
        for ev in session.exec(select(AuditEvent).where(AuditEvent.circulation_id == circulation_id).order_by(col(AuditEvent.id))):
            if ev.action.startswith("step:"):
                step = flow.steps.get(ev.step or "")
                what = f"{step.title if step else ev.step}：{flow.outcome_label(ev.detail.get('outcome'))}"
                if ev.detail.get("comment"):
                    what += f"（{ev.detail['comment']}）"
            else:
                what = ACTION_WORDS.get(ev.action, "其他操作")
                extra = (
                    ev.detail.get("doc_number")
                    or ev.detail.get("register_number")
                    or ev.detail.get("archive_code")
                    or ev.detail.get("recipient")
                    or ev.detail.get("to")
                )
                if extra in engine.config.organisations:
                    what += f" {engine.config.organisations[extra].short_name}"
                elif extra in engine.config.users:
                    what += f" 给{engine.config.users[extra].name}"
                elif extra:
                    what += f" {extra}"
                if ev.detail.get("as_copy"):
                    what += "（抄送，供阅知）"
                if ev.detail.get("names"):
                    what += "：" + "、".join(ev.detail["names"])
                if ev.action == "received" and ev.detail.get("active_content"):
                    what += "（" + active_content_note(tuple(ev.detail["active_content"])) + "）"
                if ev.action == "step_failed" and ev.detail.get("error"):
                    what += "：" + failures.plain_error(ev.detail["error"])
                if ev.detail.get("reason") and isinstance(ev.detail["reason"], str):
                    what += f"（{ev.detail['reason']}）"
            who = actor_name(engine.config, ev.actor)
            if ev.detail.get("acted_for"):
                who += f"（代{actor_name(engine.config, ev.detail['acted_for'])}）"
            lines.append({"at": beijing(ev.at).isoformat(), "who": who, "what": what})
        return lines


def versions(engine: Engine, circulation_id: int) -> list[Document]:
    with Session(engine.db) as session:
        return list(session.exec(select(Document).where(Document.circulation_id == circulation_id).order_by(col(Document.version))))


def version_diff(engine: Engine, circulation_id: int, old: int, new: int) -> list[str]:
    by_version = {d.version: d for d in versions(engine, circulation_id)}
    for v in (old, new):
        if v not in by_version:
            raise Refusal(f"流转 {circulation_id} 没有第{v}稿（现有：{'、'.join(f'第{n}稿' for n in sorted(by_version))}）")
    return diff_contents(by_version[old].content, by_version[new].content, f"第{old}稿", f"第{new}稿")


def version_changes(engine: Engine, circulation_id: int) -> list[FieldChanges]:
    """修改痕迹 from the first draft to the latest, by words (none with a single version)."""
    drafts = versions(engine, circulation_id)
    return inline_changes(drafts[0].content, drafts[-1].content) if len(drafts) > 1 else []
