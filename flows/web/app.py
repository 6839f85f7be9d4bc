"""The FastAPI application: security headers, the upload limit, error pages (a ``Refusal`` is a
Chinese page with a 4xx status; anything else a 500 page that names no detail) and the routers
(``routes/``: sign-in, secretary, leader, archivist, board)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates.reader import IntakeError
from gongwen_engine.doc_templates.reader.loading import ReadLimits
from gongwen_engine.flows.services.engine import open_engine
from gongwen_engine.flows.services.signin import SESSION_HOURS
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.background import StepRunner
from gongwen_engine.flows.web.deps import NeedNewPassword, NeedSignIn
from gongwen_engine.flows.web.pages import Web, render
from gongwen_engine.flows.web.routes import admin, archivist, board, leader, numbers, secretary, signin
from gongwen_engine.flows.web.security import WebError, load_password_hashes, session_secret
from gongwen_engine.models.db import DatabaseUnavailable, is_transient
from gongwen_engine.models.rules.permissions import PermissionDenied

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("gongwen.web")
DATABASE_DOWN_HINT = "请稍候片刻后刷新页面重试；如持续出现，请联系系统管理员检查数据库服务。"
UPLOAD_SLACK = 1024 * 1024  # form fields and multipart framing around the file
SECURITY_HEADERS = {
    # No scripts at all; inline styles for the document's computed indents.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(settings: Settings | None = None, run_steps: bool = True, poll_seconds: float = 30.0, https_only: bool = False) -> FastAPI:
    """The web workplace over one engine. ``run_steps``: run the automatic steps in a background
    thread after each action (else ``gongwen worker`` does)."""
    settings = settings or Settings()
    engine = open_engine(settings)
    runner = StepRunner(engine, poll_seconds) if run_steps else None
    proxies = frozenset(a.strip() for a in settings.trusted_proxies.split(",") if a.strip())
    web = Web(engine, runner, load_password_hashes(engine.config.directory), proxies)
    app = FastAPI(title="gongwen 公文流转", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.web = web
    max_upload = ReadLimits().max_bytes + UPLOAD_SLACK

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if request.method == "POST" and length and length.isdigit() and int(length) > max_upload:
            return HTMLResponse(f"<h1>文件太大</h1><p>{words.TOO_LARGE.format(mb=max_upload // (1024 * 1024))}</p>", status_code=413)
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings.home.resolve()),
        session_cookie="gongwen_session",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=https_only,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _error_pages(app)
    for module in (signin, secretary, leader, archivist, board, numbers, admin):
        app.include_router(module.router)
    if runner:
        app.router.on_startup.append(runner.start)
        app.router.on_shutdown.append(runner.stop)
    return app


def _error_pages(app: FastAPI) -> None:
    @app.exception_handler(NeedSignIn)
    async def sign_in_first(request: Request, _exc: NeedSignIn) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(NeedNewPassword)
    async def new_password_first(_request: Request, _exc: NeedNewPassword) -> Response:
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> Response:
        status, hint = refusal_status(exc)
        return render(request, "error.html.j2", status, message=str(exc), hint=hint)

    @app.exception_handler(IntakeError)
    async def unreadable(request: Request, exc: IntakeError) -> Response:
        return render(request, "error.html.j2", 400, message=str(exc), hint=words.UNREADABLE_HINT)

    @app.exception_handler(RequestValidationError)
    async def incomplete(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if errors and all(e.get("loc", ("",))[0] == "path" for e in errors):  # e.g. /items/abc or an id past any row
            return render(request, "error.html.j2", 404, message=words.BAD_ADDRESS, hint=words.FROM_MENU)
        names = dict.fromkeys(words.FORM_FIELDS.get(str(e.get("loc", ["", "?"])[-1]), "其他项") for e in errors)
        return render(request, "error.html.j2", 400, message=words.INCOMPLETE_FORM.format(fields="、".join(names)), hint=words.FILL_AND_RESUBMIT)

    @app.exception_handler(DatabaseUnavailable)
    async def database_down(request: Request, exc: DatabaseUnavailable) -> Response:
        return render(request, "error.html.j2", 503, message=str(exc), hint=DATABASE_DOWN_HINT)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        if is_transient(exc):
            log.warning("%s %s: database unavailable: %s", request.method, request.url.path, type(getattr(exc, "orig", exc)).__name__)
            return render(request, "error.html.j2", 503, message="数据库暂时无法连接，本次操作没有完成。", hint=DATABASE_DOWN_HINT)
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return render(
            request,
            "error.html.j2",
            500,
            message="系统内部错误，操作可能没有完成。",
            hint="请稍后重试；如仍出错，请把时间和页面地址告诉系统管理员（详情已记录在服务日志中）。",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: words.PAGE_NOT_FOUND, 405: "不支持这种访问方式。"}.get(exc.status_code, f"请求无法处理（{exc.status_code}）。")
        return render(request, "error.html.j2", exc.status_code, message=message, hint=words.FROM_MENU)


def refusal_status(exc: Refusal) -> tuple[int, str]:
    """The HTTP status and the hint of a refused request: the page's own (``WebError``), 403 for
    a permission (``PermissionDenied``), else 409 (the flow cannot honour it)."""
    if isinstance(exc, WebError):
        return exc.status, exc.hint
    if isinstance(exc, PermissionDenied):
        return 403, exc.hint
    return 409, words.GO_BACK_AND_CHECK
