"""The dependencies of every route: the signed-in user (or a redirect to sign in), the CSRF
check of every form, the client's address and a row id in a page address."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi import Path as UrlPath

from gongwen_engine.config.schema import User
from gongwen_engine.flows.services.signin import session_user
from gongwen_engine.flows.web.pages import audit, web_of
from gongwen_engine.flows.web.security import WebError, csrf_valid

CSRF_REFUSED = "表单校验码缺失或已失效（CSRF 防护），操作没有执行。"

# A row id in a page address: a positive 64-bit integer (a larger one cannot name a row, and SQLite
# refuses to even compare it); anything else is "page not found" (app.py), never a crash.
RowId = Annotated[int, UrlPath(ge=1, le=2**63 - 1)]


class NeedSignIn(Exception):
    """No signed-in user: the page sends the person to the sign-in form."""


class NeedNewPassword(Exception):
    """An administrator reset the person's password: every page but the password form sends them there."""


def signed_in(request: Request) -> User:
    """The signed-in user of a live session (``WebSession``: not signed out, not ended by a password
    change or an administrator, not expired), or a redirect to the sign-in page."""
    if hasattr(request.state, "user"):
        return request.state.user
    web = web_of(request)
    token = request.session.get("sid")
    user_id = session_user(web.engine, token) if token else None
    config = web.engine.refresh_config()  # an administrator's change takes effect at the next request
    user = config.users.get(user_id) if user_id else None
    if user is None or user.disabled or user_id != request.session.get("user"):
        request.session.clear()
        raise NeedSignIn()
    request.state.user = user
    if request.session.get("must_change") and request.url.path != "/password":
        raise NeedNewPassword()
    return user


def require_csrf(request: Request, csrf: str = Form("")) -> None:
    """Every form carries the session's CSRF token; a POST without it does nothing."""
    if not csrf_valid(request.session.get("csrf"), csrf):
        audit(web_of(request), request.session.get("user") or "anonymous", "csrf_refused", path=request.url.path, address=client_address(request))
        raise WebError(403, CSRF_REFUSED, "请返回上一页，刷新后重新提交；若您已长时间未操作，请重新登录。")


CurrentUser = Depends(signed_in)
CsrfChecked = Depends(require_csrf)


def client_address(request: Request) -> str:
    """The client's address: the peer, or — when the peer is a trusted proxy — the last address of
    X-Forwarded-For that is not a trusted proxy itself."""
    peer = request.client.host if request.client else "unknown"
    trusted = web_of(request).trusted_proxies
    if peer not in trusted:
        return peer
    forwarded = [a.strip() for part in request.headers.getlist("x-forwarded-for") for a in part.split(",") if a.strip()]
    for address in reversed(forwarded):
        if address not in trusted:
            return address[:64]
    return peer
