"""A failed step is a work item (待办), never a dead end.

When an automatic step gives up after its retries (``Engine.fail``; the retry policy is
``flows/runtime/retries.py``), the circulation is marked 出错 and its organisation's secretary
(and its administrator 管理员, the operator, where the organisation has one) gets a 待办 on the
failed step: the error in plain Chinese and what to do, with one decision,
重试 (``retry``; the web's button, ``gongwen act ITEM --outcome retry`` or ``gongwen retry CIRC``).
The item is a human item on an automatic step (that is how it is recognised: no extra column).
A document's number is bound to it (``IssuedNumber.document_id``), so the retried step keeps the
number it had; it is never reused.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import Config
from gongwen_engine.config.schema import Role, User
from gongwen_engine.flows.engine.definition import FlowDefinition, StepKind
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.tables import Circulation, Document, WorkItem, WorkItemKind, WorkItemStatus, saved_id, utcnow

RETRY = "retry"  # the one decision on a failure item
RETRY_WORD = "重试"


def failed_step_title(title: str) -> str:
    """How a failed step's item is named in 待办 lists: the step, then that it waits for 重试."""
    return f"{title}出错·待重试"


# Who is told: the secretary always (the item waits for the role even if nobody holds it now);
# the administrator, the organisation's operator, only where someone holds that role there.
FAILURE_ROLES = (Role.secretary,)
OPERATOR_ROLES = (Role.administrator,)

ADVICE: dict[StepKind, str] = {
    StepKind.seal: "请检查本单位的印章与签名证书配置（config/seals.yaml 中本单位的印章图片、私钥和证书是否存在、是否匹配）以及 LibreOffice 是否可用",
    StepKind.render: "请检查文稿内容（标题、正文、附件）和版式配置，必要时请系统管理员查看 errors.log",
    StepKind.number: "请检查本单位的发文字号配置（config/numbering.yaml、机关代字）",
    StepKind.distribute: "请检查主送、抄送机关是否为本平台的单位，以及收文单位的用户配置（config/users.yaml）",
    StepKind.archive: "请检查归档配置（config/retention.yaml、全宗号）和存储目录是否可写",
    StepKind.sign_for: "请检查来文的用印件（签章）是否完好，必要时联系发文单位重发",
    StepKind.register: "请检查收文登记号的配置",
    StepKind.submit: "请检查报送对象是否为本平台的单位",
}
DEFAULT_ADVICE = "请排除故障（系统管理员可查看 errors.log 与 Prefect 中该任务的日志）"


def plain_error(error: str) -> str:
    """The error as a person reads it: the step's internal name dropped (``seal: X`` → ``X``)."""
    head, sep, rest = error.partition(": ")
    return rest if sep and head.isidentifier() else error


def failure_message(definition: FlowDefinition, circ: Circulation, error: str, doc_number: str | None) -> str:
    """The failure item's text: what failed, the error, what to do, and that the number stays."""
    step = definition.step(circ.step) if circ.step else None
    title = step.title if step else "自动办理"
    advice = ADVICE.get(step.kind, DEFAULT_ADVICE) if step else DEFAULT_ADVICE
    kept = f"文号 {doc_number} 已分配给本文件，重试时沿用，不会重新编号，也不会给其他文件。" if doc_number else ""
    return (
        f"系统自动办理“{title}”失败（已按流程规定自动重试）。错误：{plain_error(error)[:500]}。"
        f"处理办法：{advice}；排除后点“{RETRY_WORD}”（命令行：gongwen retry {circ.id} --user 您的用户名）。{kept}"
    )


def open_failure_items(session: Session, config: Config, definition: FlowDefinition, circ: Circulation, error: str) -> list[WorkItem]:
    """The 待办 that tell the circulation's secretary and operator (one item per role) of the failure."""
    doc = session.get(Document, circ.document_id) if circ.document_id else None
    message = failure_message(definition, circ, error, doc.doc_number if doc else None)
    opened = []
    operators = [role for role in OPERATOR_ROLES if any(u.org == circ.org and role.value in u.roles and not u.disabled for u in config.users.values())]
    for role in (*FAILURE_ROLES, *operators):
        slot = f"role:{role.value}"
        exists = session.exec(
            select(WorkItem).where(
                WorkItem.circulation_id == saved_id(circ), WorkItem.step == circ.step, WorkItem.slot == slot, WorkItem.status == WorkItemStatus.open
            )
        ).first()
        if exists or circ.step is None:
            continue
        item = WorkItem(circulation_id=saved_id(circ), step=circ.step, kind=WorkItemKind.human, slot=slot, role=role.value, org=circ.org, comment=message)
        session.add(item)
        opened.append(item)
    session.flush()
    return opened


def is_failure(definition: FlowDefinition, item: WorkItem) -> bool:
    """A human item on an automatic step: a failure's 待办."""
    return item.kind == WorkItemKind.human and item.step in definition.steps and not definition.step(item.step).human


def is_failure_item(session: Session, definition_of: Callable[[Circulation, Session], FlowDefinition], work_item_id: int) -> bool:
    item = session.get(WorkItem, work_item_id)
    if item is None or item.kind != WorkItemKind.human:
        return False
    circ = session.get(Circulation, item.circulation_id)
    return circ is not None and is_failure(definition_of(circ, session), item)


def close_failure_items(session: Session, definition: FlowDefinition, circ: Circulation, actor: str) -> None:
    """The failure's items are done once someone retries (from the item, the web or the CLI)."""
    for item in session.exec(select(WorkItem).where(WorkItem.circulation_id == saved_id(circ), WorkItem.status == WorkItemStatus.open)):
        if is_failure(definition, item):
            item.status, item.outcome, item.actor, item.finished_at = WorkItemStatus.done, RETRY, actor, utcnow()
            session.add(item)


def check_retry(config: Config, user: User, circ: Circulation) -> None:
    """Who may retry: the circulation's organisation's secretary or administrator (``permissions.Action.retry``)."""
    authorize(config, user, Action.retry, Org(circ.org, f"流转 {circ.id}"))


def refuse_other_outcome(outcome: str) -> None:
    if outcome != RETRY:
        raise Refusal(f"本待办是系统自动办理失败的环节，只能“{RETRY_WORD}”（--outcome {RETRY}），不能“{outcome}”")
