"""The supervision board page (督办台账) and 消息.

The board: the requesting office sees, for each reporting requirement it made, who has submitted
(on time or late), who is overdue and missing, the due dates and the reminders (催办) sent; it adds
a 报送要求 to one of its circulations (``board.add_requirement``: the same
``reporting.add_requirements`` as ``gongwen deadlines add``) and sends a 催办 by hand to a unit
that has not submitted (``board.urge``); below, 本单位应报事项 — what superiors require of the
organisation itself (``board.obligations``). The rows are ``reporting.board`` — the same service as
``gongwen board --user`` (and the same permission check) — grouped per requirement; nothing is
computed here.

消息: a person's reminders and arrivals (``services.messages``), marked read on the page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongwen_engine.config.schema import User
from gongwen_engine.flows.services import messages, reporting
from gongwen_engine.flows.services.board import FORMS, add_requirement, obligations, requirement_boards, urge
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser
from gongwen_engine.flows.web.pages import flash, render, web_of
from gongwen_engine.models.rules.dates import today as beijing_today

router = APIRouter()
FORM_WORDS = FORMS


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, requirement: int | None = None, circulation: int | None = None, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    today = beijing_today()
    rows = reporting.board(web.engine, today, requirement, user.org, viewer=user.id)  # refuses a role without the board (permissions)
    groups = requirement_boards(web.engine, user.org, requirement, rows)
    return render(
        request,
        "board.html.j2",
        org=web.engine.config.org(user.org),
        groups=groups,
        owed=obligations(web.engine, user.org, user.id, today),
        today=today,
        counts=reporting.board_counts(rows),
        circulation=circulation,
        FORM_WORDS=FORM_WORDS,
        REMINDER_WORDS=reporting.REMINDER_WORDS,
    )


@router.post("/board/requirements", dependencies=[CsrfChecked])
def board_add(
    request: Request,
    user: User = CurrentUser,
    circulation: int = Form(..., ge=1, le=2**63 - 1),
    what: str = Form(""),
    due: str = Form(""),
    form: str = Form("report"),
    table: str = Form(""),
) -> Response:
    row = add_requirement(web_of(request).engine, circulation, what, due, form, table, user.id)
    flash(request, words.REQUIREMENT_ADDED.format(id=row.id, what=row.what, due=row.due_text, count=len(row.recipients)))
    return RedirectResponse(f"/board#req-{row.id}", status_code=303)


@router.post("/board/urge", dependencies=[CsrfChecked])
def board_urge(
    request: Request,
    user: User = CurrentUser,
    requirement: int = Form(..., ge=1, le=2**63 - 1),
    unit: str = Form(...),
    again: str = Form(""),
) -> Response:
    web = web_of(request)
    people = urge(web.engine, requirement, unit, user.id, confirmed=bool(again))
    req_what = next((g.requirement.what for g in requirement_boards(web.engine, user.org, requirement, [])), "")
    flash(request, words.URGED.format(unit=web.org_name(unit), what=req_what, people="、".join(web.person(p) for p in people)))
    return RedirectResponse(f"/board#req-{requirement}", status_code=303)


@router.get("/messages", response_class=HTMLResponse)
def messages_page(request: Request, user: User = CurrentUser) -> HTMLResponse:
    return render(request, "messages.html.j2", rows=messages.inbox(web_of(request).engine, user.id), KINDS=messages.KINDS)


@router.post("/messages/read", dependencies=[CsrfChecked])
def messages_read(request: Request, user: User = CurrentUser, message: int | None = Form(None, ge=1, le=2**63 - 1)) -> Response:
    count = messages.mark_read(web_of(request).engine, user.id, None if message is None else [message])
    flash(request, words.MESSAGES_READ.format(count=count))
    return RedirectResponse("/messages", status_code=303)
