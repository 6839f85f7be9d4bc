"""What every page needs: the application context, rendering, flash messages, visibility of
circulations, audit events and file responses (sign-in and CSRF: ``deps.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup

from gongwen_engine.config.schema import User
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.records import actor_name
from gongwen_engine.flows.services.workplace import find_circulation, record_event
from gongwen_engine.flows.web.background import StepRunner
from gongwen_engine.flows.web.cascade import ROLE_NAMES
from gongwen_engine.flows.web.security import WebError, storage_file
from gongwen_engine.models.rules.dates import shown
from gongwen_engine.models.rules.permissions import Action, Org, allowed, authorize
from gongwen_engine.models.tables import Circulation

TEMPLATES = Path(__file__).parent / "templates"
FILE_ROLES = {
    "issued_copy": "正本（.docx）",
    "signed_pdf": "用印件（PDF）",
    "signed_ofd": "用印件（OFD）",
    "draft_sheet": "发文稿纸",
    "processing_slip": "收文处理单",
    "received_original": "收文原件",
    "received_document": "收文",
    "final_draft": "定稿",
}


@dataclass
class Web:
    """The application's context: the engine (config, flows, database, storage), the step
    runner (None when ``gongwen worker`` runs the automatic steps) and the password hashes."""

    engine: Engine
    runner: StepRunner | None
    passwords: dict[str, str]

    def wake_runner(self) -> None:
        if self.runner:
            self.runner.wake()

    @cached_property
    def templates(self) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
        )
        env.filters["when"] = when
        env.filters["day"] = lambda d: d.strftime("%Y-%m-%d") if d else ""
        env.filters["pathq"] = lambda s: quote(str(s), safe="")
        env.globals.update(org_name=self.org_name, person=self.person, ROLE_NAMES=ROLE_NAMES, zip=zip, may=self.may)
        return env

    def may(self, user: User, action: str) -> bool:
        """For the navigation: whether ``user`` may do ``action`` in their own organisation (``permissions``)."""
        return allowed(self.engine.config, user, Action(action), Org(user.org))

    def org_name(self, code: str | None) -> str:
        if not code:
            return ""
        org = self.engine.config.organisations.get(code)
        return org.short_name if org else code

    def person(self, user_id: str | None) -> str:
        return actor_name(self.engine.config, user_id)


def when(moment: datetime | str | None) -> str:
    """A stored UTC time (or its ISO text) as China time, to the minute."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return shown(moment)


def web_of(request: Request) -> Web:
    return request.app.state.web


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """A message shown once on the next page (after a redirect)."""
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    web = web_of(request)
    user_id = request.session.get("user")
    user = web.engine.config.users.get(user_id) if user_id else None
    messages = request.session.pop("flash", []) if "flash" in request.session else []
    html = web.templates.get_template(template).render(
        request=request, user=user, csrf=request.session.get("csrf", ""), messages=messages, Markup=Markup, **context
    )
    return HTMLResponse(html, status_code=status_code)


def audit(web: Web, actor: str, action: str, circ: Circulation | None = None, document_id: int | None = None, /, **detail: Any) -> None:
    """An audit event of the web workplace (sign-in, download, search, refusal); ``detail`` never
    fills ``circ`` or ``document_id`` (positional only), whatever its keys."""
    record_event(web.engine, actor, action, circ, document_id, **detail)


def visible_circulation(web: Web, user: User, circulation_id: int, action: Action = Action.view_circulation) -> Circulation:
    """A circulation the user may see (``permissions``: their organisation or one below it)."""
    circ = find_circulation(web.engine, circulation_id)
    if circ is None:
        raise WebError(404, f"流转 {circulation_id} 不存在。", "请从列表中选择。")
    authorize(web.engine.config, user, action, Org(circ.org, f"流转 {circulation_id}"))
    return circ


def stored_file_response(web: Web, user: User, relative: str, download_name: str, document_id: int | None = None, **detail: Any) -> Response:
    """Send a stored file (never one outside the storage folder) and record the download. The
    event names the document and circulation in its detail but stays out of the circulation's
    handling history (处理过程), which the archive files with the item."""
    try:
        path = storage_file(web.engine.storage, relative)
    except WebError as refusal:
        audit(web, user.id, "download_refused", None, document_id, file=relative, reason=refusal.message, **detail)
        raise
    audit(web, user.id, "download", None, document_id, file=relative, **detail)
    return FileResponse(path, filename=download_name, media_type=media_type(path.name))


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return {
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".pdf": "application/pdf",
        ".txt": "text/plain; charset=utf-8",
        ".json": "application/json",
        ".zip": "application/zip",
    }.get(suffix, "application/octet-stream")
