"""The 待办 pages (leaders and everyone who acts on a step): the inbox with urgency and due
dates, one item with the document as it will print, and the decisions — approve (同意), return
with a comment (退回), an instruction (批示, the comment of 批办), any other outcome of the step
— plus reassigning (转办) and delegating (委托). The engine decides who may act; these pages only
ask it."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import Role, User
from gongwen_engine.doc_templates.html import render_html
from gongwen_engine.flows.engine import failures
from gongwen_engine.flows.engine.engine import forwards
from gongwen_engine.flows.services.circulations import draft_recipients_warning, timeline, version_changes, versions
from gongwen_engine.flows.services.workplace import (
    ItemView,
    ListRow,
    actionable_items,
    delegations_of,
    done_page,
    human_item,
    inbox_page,
    returned_before,
)
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.cascade import aware
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser, RowId
from gongwen_engine.flows.web.pages import Web, attachment_files, flash, list_context, list_query, not_visible, render, status_words, waiting_for, web_of
from gongwen_engine.flows.web.security import WebError
from gongwen_engine.models.db import DatabaseUnavailable
from gongwen_engine.models.rules.dates import end_of_day, now
from gongwen_engine.models.rules.permissions import Action, Org, PermissionDenied, allowed
from gongwen_engine.models.tables import Circulation, Document, utcnow

router = APIRouter()
REVISABLE_BY = Role.secretary  # the drafter's steps (拟稿, 修改) may revise the text; reviewers return it instead


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    query, problems = list_query(request)
    page = inbox_page(web.engine, user.id, query)
    for_whom = _for_whom(web, user)
    return render(
        request,
        "inbox.html.j2",
        rows=[_list_row(web, row, for_whom) for row in page.rows],
        delegations=delegations_of(web.engine, user.id),
        colleagues=_colleagues(web, user),
        with_state=False,
        **list_context(web, request, query, problems, page),
    )


@router.get("/done", response_class=HTMLResponse)
def done(request: Request, user: User = CurrentUser) -> HTMLResponse:
    """已办: what the person completed, with what they decided and the circulation's state now."""
    web = web_of(request)
    query, problems = list_query(request)
    page = done_page(web.engine, user.id, query)
    return render(
        request, "done.html.j2", rows=[_list_row(web, row, {}) for row in page.rows], with_state=True, **list_context(web, request, query, problems, page)
    )


def _list_row(web: Web, row: ListRow, for_whom: dict[int, str]) -> dict:
    """A 待办/已办 row in words: step, decision, who it is for, urgency, the return that led to it."""
    item = row.item
    assert item is not None and item.id is not None  # 待办 and 已办 rows carry their item
    flow = web.engine.definition_of(row.circ)
    urgency = (row.doc.content.get("urgency") if row.doc else None) or ""
    return {
        "row": row,
        "item": item,
        "step": failures.failed_step_title(flow.step(item.step).title) if failures.is_failure(flow, item) else flow.step(item.step).title,
        "outcome": flow.outcome_label(item.outcome) if item.outcome else "",
        "org": web.org_name(row.circ.org),
        "for_whom": for_whom.get(item.id, web.person(item.assignee) if item.assignee else ""),
        "urgency": urgency,
        "returned_by": web.person(row.returned.actor) if row.returned else "",
        "status": status_words(web, row.circ),
        "now_at": flow.step(row.circ.step).title if row.circ.step else "已结束",
    }


def _for_whom(web: Web, user: User) -> dict[int, str]:
    """Item id -> who it is for, in words: a person, or a role (本单位领导均可办理)."""
    labels: dict[int, str] = {}
    for item in actionable_items(web.engine, user.id):
        assert item.id is not None  # read from the database
        if item.assignee:
            labels[item.id] = web.person(item.assignee)
        elif item.role:  # an item for a role (slot role:<role>)
            labels[item.id] = f"{web.engine.config.role_label(item.role)}（任一人均可办理）"
    return labels


def _colleague(web: Web, user: User, user_id: str) -> User:
    """A colleague chosen on a form: refused in words when the id names no one of the organisation."""
    other = web.engine.config.users.get(user_id)
    if other is None or other.org != user.org:
        raise WebError(409, words.UNKNOWN_COLLEAGUE, words.CHOOSE_FROM_LIST)
    return other


def _colleagues(web: Web, user: User) -> list[User]:
    return sorted((u for u in web.engine.config.users.values() if u.org == user.org and u.id != user.id and not u.disabled), key=lambda u: u.id)


def _item(web: Web, user: User, item_id: int, doing: str = "查看") -> ItemView:
    """A work item of a circulation ``user`` may see; any other (or none) is the same 403."""
    view = human_item(web.engine, item_id)
    if view is None or not allowed(web.engine.config, user, Action.view_circulation, Org(view.circ.org)):
        raise not_visible(f"待办事项 {item_id}", doing)
    return view


def _mine(web: Web, user: User, item_id: int) -> bool:
    """The item is one the engine lets ``user`` act on now (own, role's, or delegated)."""
    return any(item.id == item_id for item in actionable_items(web.engine, user.id))


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: RowId, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    view = _item(web, user, item_id)  # not theirs to act on: they may still look, as at the circulation (permissions)
    item, circ, doc = view.item, view.circ, view.doc
    actionable = item.status == "open" and _mine(web, user, item_id)
    definition = web.engine.definition_of(circ)
    step = definition.step(item.step)
    failed = failures.is_failure(definition, item)  # an automatic step that failed: the error and 重试
    children = web.engine.config.children(circ.org)
    outcomes = [(failures.RETRY, failures.RETRY_WORD)] if failed else [(o, definition.outcome_label(o)) for o in step.targets]
    if not children:  # 转发 is not offered where there is no one below
        outcomes = [(o, word) for o, word in outcomes if failed or not forwards(definition, step, o)]
    pick = [] if failed or not children else [o for o, _ in outcomes if forwards(definition, step, o)]
    printed = render_html(view.parts) if doc else None
    drafts = versions(web.engine, item.circulation_id)
    diff = version_changes(web.engine, item.circulation_id)
    revisable = actionable and step.by == REVISABLE_BY and doc is not None and doc.id == circ.document_id and not doc.doc_number
    same_role = [u for u in web.engine.config.users_with(circ.org, step.by) if u.id != user.id] if step.by else []  # an automatic step has no people
    assert circ.id is not None  # read from the database
    return render(
        request,
        "item.html.j2",
        item=item,
        circ=circ,
        doc=doc,
        step=step,
        flow=web.engine.definition_of(circ),
        printed=printed,
        attached=attachment_files(view.parts),
        actionable=actionable,
        outcomes=outcomes,
        failed=failed,
        forward_outcomes=pick,
        children=children,
        recipients_warning=draft_recipients_warning(web.engine, circ.id) if doc and not failed else None,
        revisable=revisable,
        same_role=same_role,
        timeline=timeline(web.engine, item.circulation_id),
        diff=diff,
        drafts=drafts,
        overdue=bool(item.due_at and aware(item.due_at) < utcnow()),
        returned=returned_before(web.engine, item),
    )


@router.post("/items/{item_id}/act", dependencies=[CsrfChecked])
def act(
    request: Request,
    item_id: RowId,
    user: User = CurrentUser,
    outcome: str = Form(...),
    comment: str = Form(""),
    title: str | None = Form(None),
    main_recipients: str | None = Form(None),
    body: str | None = Form(None),
    deliver_to: list[str] = Form([]),
) -> Response:
    web = web_of(request)
    view = _item(web, user, item_id, "办理")
    item, circ, doc = view.item, view.circ, view.doc
    changes = _changes(doc, title, main_recipients, body)
    definition = web.engine.definition_of(circ)
    picked = deliver_to if item.step in definition.steps and forwards(definition, definition.step(item.step), outcome) else []
    try:
        result = web.engine.complete(item_id, user.id, outcome, comment.strip() or None, changes=changes or None, deliver_to=picked or None)
    except DatabaseUnavailable:
        raise  # the app's 503 page, not a refusal of this item
    except Refusal as exc:  # 403 when the person may not act on it (permissions), 409 when the request cannot be honoured
        raise WebError(403 if isinstance(exc, PermissionDenied) else 409, str(exc), words.INBOX_HINT) from None
    web.wake_runner()
    flow = web.engine.definition_of(circ)
    said = f"（{comment.strip()}）" if comment.strip() else ""
    word = failures.RETRY_WORD if outcome == failures.RETRY else flow.outcome_label(outcome)
    acted = words.ACTED.format(step=flow.step(item.step).title, outcome=word, comment=said)
    flash(request, acted + next_step_words(web, circ, result.step))
    return RedirectResponse("/inbox" if result.circulation_id else "/", status_code=303)


def next_step_words(web: Web, circ: Circulation, step_name: str | None) -> str:
    """What happens next, in words: the person or role the next step waits for, or the system."""
    if step_name is None:
        return words.FINISHED
    step = web.engine.definition_of(circ).step(step_name)
    if not step.human:
        return words.NEXT_SYSTEM.format(step=step.title)
    return words.NEXT_PERSON.format(step=step.title, who=waiting_for(web, circ, step_name))


def _changes(doc: Document | None, title: str | None, recipients: str | None, body: str | None) -> dict:
    """The draft's revised fields (only those that differ): a new version when the secretary submits."""
    if doc is None:
        return {}
    current = doc.content
    changes: dict = {}
    if title is not None and title.strip() and title.strip() != current.get("title"):
        changes["title"] = title.strip()
    if recipients is not None:
        names = [r.strip() for r in recipients.replace("\r", "").split("\n") if r.strip()]
        if names and names != current.get("main_recipients"):
            changes["main_recipients"] = names
    if body is not None:
        paragraphs = [p.strip() for p in body.replace("\r", "").split("\n") if p.strip()]
        if paragraphs and paragraphs != current.get("body"):
            changes["body"] = paragraphs
    return changes


@router.post("/items/{item_id}/reassign", dependencies=[CsrfChecked])
def reassign(request: Request, item_id: RowId, user: User = CurrentUser, to: str = Form(...), comment: str = Form("")) -> Response:
    web = web_of(request)
    _item(web, user, item_id, "转办")
    _colleague(web, user, to)
    web.engine.reassign(item_id, user.id, to, comment.strip() or None)
    flash(request, f"已转办给{web.person(to)}。")
    return RedirectResponse("/inbox", status_code=303)


@router.post("/delegate", dependencies=[CsrfChecked])
def delegate(request: Request, user: User = CurrentUser, deputy: str = Form(...), until: str = Form(...), reason: str = Form("")) -> Response:
    web = web_of(request)
    try:
        last_day = date.fromisoformat(until)
    except ValueError:
        raise WebError(400, f"委托截止日期“{until}”格式不对，应为 2026-12-31。", "请返回上一页重新填写。") from None
    _colleague(web, user, deputy)
    web.engine.delegate(user.id, deputy, now(), end_of_day(last_day), user.id, reason.strip() or None)
    flash(request, f"已委托{web.person(deputy)}代为办理您的待办，至 {last_day.isoformat()}。")
    return RedirectResponse("/inbox", status_code=303)
