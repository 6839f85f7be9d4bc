"""Sign-in (登录) and sign-out, the home page (by role) and the health check."""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gongwen_engine.config.schema import Role
from gongwen_engine.flows.services import admin
from gongwen_engine.flows.services.signin import SIGN_IN, SIGN_IN_FAILED, end_session, start_session, throttle
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.deps import CsrfChecked, NeedNewPassword, NeedSignIn, client_address, signed_in
from gongwen_engine.flows.web.pages import audit, flash, render, web_of
from gongwen_engine.flows.web.security import WebError, new_csrf_token, password_matches
from gongwen_engine.models.rules.dates import shown

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Up or not, for a load balancer; the step runner's figures only for a signed-in person."""
    web = web_of(request)
    runner = web.runner
    try:
        signed_in(request)
    except (NeedSignIn, NeedNewPassword):
        return JSONResponse({"ok": True})
    return JSONResponse({"ok": True, "runner": None if runner is None else {"runs": runner.runs, "failing": runner.last_error is not None}})


@router.get("/login")
def login_form(request: Request, target: str = Query("/", alias="next")) -> HTMLResponse:
    request.session.setdefault("csrf", new_csrf_token())
    return render(request, "login.html.j2", next=_safe_next(target), account="")


@router.post("/login", dependencies=[CsrfChecked])
def login(request: Request, account: str = Form(""), password: str = Form(""), target: str = Form("/", alias="next")) -> Response:
    web = web_of(request)
    account = account.strip()[:64]
    address = client_address(request)
    gate = throttle(web.engine, account, address)
    if not gate.allowed:
        audit(web, account or "anonymous", "sign_in_throttled", account=account, address=address)
        raise WebError(
            429,
            f"登录失败次数过多，已暂时锁定：请于北京时间 {shown(gate.until, '%H:%M:%S')} 之后再试。",
            "每多输错一次，需要等待的时间加倍（最长 15 分钟）；其他账号不受影响。如忘记密码，请联系系统管理员重设。",
        )
    config = web.engine.refresh_config()
    set_in_db, must_change = admin.password_state(web.engine)
    passwords = {**web.current_passwords(), **set_in_db}  # an administrator's reset or the person's own change wins over passwords.yaml
    person = config.users.get(account)
    if not password_matches(passwords, account, password) or person is None or person.disabled:
        audit(web, account or "anonymous", SIGN_IN_FAILED, account=account, address=address)
        return render(request, "login.html.j2", 401, next=_safe_next(target), account=account, error="用户名或密码不正确。")
    request.session.clear()
    request.session.update(user=account, sid=start_session(web.engine, account, address), csrf=new_csrf_token())
    audit(web, account, SIGN_IN, account=account, address=address)
    if account in must_change:
        request.session["must_change"] = True
        return RedirectResponse("/password", status_code=303)
    return RedirectResponse(_safe_next(target), status_code=303)


@router.get("/password")
def password_form(request: Request) -> HTMLResponse:
    signed_in(request)
    return render(request, "password.html.j2", must_change=bool(request.session.get("must_change")))


@router.post("/password", dependencies=[CsrfChecked])
def password_change(request: Request, new_password: str = Form(""), again: str = Form("")) -> Response:
    user = signed_in(request)
    if new_password != again:
        return render(request, "password.html.j2", 400, must_change=bool(request.session.get("must_change")), error=words.PASSWORDS_DIFFER)
    admin.change_own_password(web_of(request).engine, user.id, new_password)  # a Refusal (too short) is shown as one
    request.session.pop("must_change", None)
    flash(request, words.PASSWORD_CHANGED)
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request) -> Response:
    user = request.session.get("user")
    if user:
        audit(web_of(request), user, "sign_out", address=client_address(request))
    end_session(web_of(request).engine, request.session.get("sid"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    user = signed_in(request)
    if Role.secretary in user.roles:
        return RedirectResponse("/circulations", status_code=303)
    if user.roles == [Role.administrator]:
        return RedirectResponse("/admin", status_code=303)
    if Role.archivist in user.roles and len(user.roles) == 1:
        return RedirectResponse("/archive", status_code=303)
    return RedirectResponse("/inbox", status_code=303)


def _safe_next(target: str) -> str:
    """Only a path on this site (no //host, no scheme) is followed after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
