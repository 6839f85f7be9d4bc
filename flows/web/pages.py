"""What every page needs: the application context, rendering, flash messages, visibility of
circulations, audit events and file responses (sign-in and CSRF: ``deps.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup

from gongwen_engine.config.schema import User
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.engine.records import actor_name
from gongwen_engine.flows.services import messages
from gongwen_engine.flows.services.workplace import ListPage, ListQuery, find_circulation, record_event
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.background import StepRunner
from gongwen_engine.flows.web.security import PASSWORDS_FILE, WebError, load_password_hashes, storage_file
from gongwen_engine.models.content import AttachedFile, DocumentContent
from gongwen_engine.models.rules.dates import shown
from gongwen_engine.models.rules.permissions import Action, Org, allowed
from gongwen_engine.models.tables import CIRCULATION_STATUS_WORDS, Circulation, CirculationStatus

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Web:
    """The application's context: the engine (config, flows, database, storage), the step
    runner (None when ``gongwen worker`` runs the automatic steps) and the password hashes."""

    engine: Engine
    runner: StepRunner | None
    passwords: dict[str, str]
    trusted_proxies: frozenset[str] = frozenset()
    _passwords_stamp: int = -1

    def current_passwords(self) -> dict[str, str]:
        """The password hashes as ``passwords.yaml`` holds them now (re-read when the file changed:
        ``gongwen passwords`` takes effect without a restart)."""
        path = self.engine.config.directory / PASSWORDS_FILE
        stamp = path.stat().st_mtime_ns if path.is_file() else 0
        if stamp != self._passwords_stamp:
            self.passwords, self._passwords_stamp = load_password_hashes(self.engine.config.directory), stamp
        return self.passwords

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
        env.globals.update(org_name=self.org_name, person=self.person, role_label=self.role_label, zip=zip, may=self.may, unread=self.unread)
        return env

    def may(self, user: User, action: str) -> bool:
        """For the navigation: whether ``user`` may do ``action`` in their own organisation (``permissions``)."""
        return allowed(self.engine.config, user, Action(action), Org(user.org))

    def unread(self, user: User) -> int:
        """For the navigation: how many of ``user``'s 消息 are unread."""
        return messages.unread(self.engine, user.id)

    def role_label(self, role: str | None) -> str:
        """A role's label as roles.yaml gives it, e.g. 秘书."""
        return self.engine.config.role_label(role)

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
    user = getattr(request.state, "user", None)  # set by signed_in for a live session; none on pages before it
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
    if circ is None or not allowed(web.engine.config, user, action, Org(circ.org)):
        raise not_visible(f"流转 {circulation_id}", "下载" if action == Action.download else "查看")
    return circ


def not_visible(what: str, doing: str = "查看") -> WebError:
    """The 403 of something the person may not see, or that is not there: the same words for both."""
    return WebError(403, words.NOT_VISIBLE.format(doing=doing, what=what), words.ONLY_OWN)


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


def attachment_files(parts: list[DocumentContent]) -> list[tuple[int, AttachedFile]]:
    """(number, file) of the document's attachments given as files, for the pages' download links."""
    return [(n, a.file) for n, a in enumerate(parts[0].attachments, start=1) if a.file is not None] if parts else []


def recorded_file_response(
    web: Web, user: User, relative: str | None, name: str, missing: str, hint: str, document_id: int | None = None, **detail: Any
) -> Response:
    """A file the database records (a circulation's file by role, an archive item's filed file:
    docx, signed PDF, sealed OFD …), downloaded as ``name`` with the file's own suffix; none
    recorded is a 404 saying ``missing`` and ``hint``. The caller has checked the permission."""
    if relative is None:
        raise WebError(404, missing, hint)
    return stored_file_response(web, user, relative, f"{name}{Path(relative).suffix}", document_id, **detail)


def media_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return {
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".pdf": "application/pdf",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".ofd": "application/ofd",  # GB/T 33190 (the type 党政机关 exchanges it with; no IANA registration)
        ".txt": "text/plain; charset=utf-8",
        ".json": "application/json",
        ".zip": "application/zip",
    }.get(suffix, "application/octet-stream")


def waiting_for(web: Web, circ: Circulation, step_name: str) -> str:
    """Who a human step of ``circ`` waits for: the named people, else the role."""
    step = web.engine.definition_of(circ).step(step_name)
    if step.by is None:
        return "系统"
    people = web.engine.config.users_with(circ.org, step.by)
    names = "、".join(u.name for u in people[:3])
    label = web.engine.config.role_label(step.by)
    return f"{label}（{names}）" if names else label


def status_words(web: Web, circ: Circulation) -> str:
    """A circulation's state in words: a human step not yet looked at by the runner (right after
    launch) waits for its people, not for the system."""
    if circ.step and circ.status in (CirculationStatus.ready, CirculationStatus.running):
        step = web.engine.definition_of(circ).step(circ.step)
        if step.human and web.engine.config.policy(circ.policy).auto_approve.get(step.kind) is None:
            return words.WAITING_FOR.format(who=waiting_for(web, circ, circ.step))
    return CIRCULATION_STATUS_WORDS.get(circ.status, circ.status)


def list_query(request: Request) -> tuple[ListQuery, list[str]]:
    """The search and filters of a list page from its address; a bad value is said, not a 400."""
    params = request.query_params
    problems = []
    days: list[date | None] = []
    for key, label in (("date_from", "起始日期"), ("date_to", "截止日期")):
        text = params.get(key, "").strip()
        try:
            days.append(date.fromisoformat(text) if text else None)
        except ValueError:
            problems.append(f"{label}“{text[:20]}”格式不对，应为 2026-01-31")
            days.append(None)
    page = params.get("page", "1")
    query = ListQuery(
        words=params.get("q", "").strip()[:100],
        flow=params.get("flow", "")[:40],
        state=params.get("state", "")[:20],
        overdue=bool(params.get("overdue")),
        date_from=days[0],
        date_to=days[1],
        page=int(page) if page.isdigit() and len(page) < 7 else 1,
    )
    return query, problems


def list_context(web: Web, request: Request, query: ListQuery, problems: list[str], page: ListPage) -> dict[str, Any]:
    """What the filter form and the pager need (``_filters.html.j2``)."""
    others = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    return {
        "query": query,
        "problems": problems,
        "page": page,
        "flows_all": [(f.flow, f.title) for f in web.engine.flows.values()],
        "states_all": list(CIRCULATION_STATUS_WORDS.items()),
        "page_link": lambda n: request.url.path + "?" + urlencode([*others, ("page", str(n))]),
        "filtered": any((query.words, query.flow, query.state, query.overdue, query.date_from, query.date_to)),
    }
