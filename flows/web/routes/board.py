"""The supervision board page (督办台账): the requesting office sees, for each reporting
requirement it made, who has submitted (on time or late), who is overdue and missing, the due
dates and the reminders (催办) sent. The rows are ``reporting.board`` — the same service as
``gongwen board --user`` (and the same permission check) — grouped per requirement; nothing is
computed here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gongwen_engine.config.schema import User
from gongwen_engine.flows.services import reporting
from gongwen_engine.flows.services.board import requirement_boards
from gongwen_engine.flows.web.deps import CurrentUser
from gongwen_engine.flows.web.pages import render, web_of
from gongwen_engine.models.rules.dates import today as beijing_today

router = APIRouter()
FORM_WORDS = {"report": "报告", "table": "报表", "names": "名单"}


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request, requirement: int | None = None, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    today = beijing_today()
    rows = reporting.board(web.engine, today, requirement, user.org, viewer=user.id)  # refuses a role without the board (permissions)
    groups = requirement_boards(web.engine, user.org, requirement, rows)
    return render(
        request,
        "board.html.j2",
        org=web.engine.config.org(user.org),
        groups=groups,
        today=today,
        counts=reporting.board_counts(rows),
        FORM_WORDS=FORM_WORDS,
        REMINDER_WORDS=reporting.REMINDER_WORDS,
    )
