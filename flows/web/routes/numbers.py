"""The 发文登记簿 page: the organisation's numbers of a year (allocated, voided, to whom sent), by
serial — ``numbering.number_register``, the same service as ``gongwen number list`` — and the
void form (作废, the issuing organisation's secretary or leader: ``numbering.void_number``)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongwen_engine.config.schema import User
from gongwen_engine.flows.services.numbering import number_register, void_number
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser
from gongwen_engine.flows.web.pages import flash, render, web_of
from gongwen_engine.flows.web.security import WebError
from gongwen_engine.models.rules.dates import today as beijing_today
from gongwen_engine.models.rules.permissions import Action, Org, allowed

router = APIRouter()


@router.get("/numbers", response_class=HTMLResponse)
def numbers_page(request: Request, year: int | None = None, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    year = year or beijing_today().year
    if not 1949 <= year <= 2100:
        raise WebError(400, f"年度“{year}”无效。", "请填写 1949 至 2100 之间的年份。")
    lines = number_register(web.engine, user.org, year, user.id)
    return render(
        request,
        "numbers.html.j2",
        org=web.engine.config.org(user.org),
        year=year,
        lines=lines,
        may_void=allowed(web.engine.config, user, Action.void_number, Org(user.org)),
    )


@router.post("/numbers/void", dependencies=[CsrfChecked])
def void(request: Request, user: User = CurrentUser, doc_number: str = Form(...), reason: str = Form(""), year: int = Form(...)) -> Response:
    web = web_of(request)
    number = void_number(web.engine, doc_number, reason, user.id)  # refused in Chinese: not the issuer's secretary/leader, twice, no reason
    flash(request, f"已作废 {number.doc_number}：{reason.strip()}" + ("，该文件已撤回，收文单位已收到通知" if number.document_id else ""))
    return RedirectResponse(f"/numbers?year={year}", status_code=303)
