"""系统管理 pages (issue 24): an administrator's people, organisations, departments, numbering
schemes and calendar years, the import of a tree from a spreadsheet, and the log of administrative
changes. Every form is CSRF-checked; every change goes through ``flows/services/admin.py`` (the
same checks and audit records as ``gongwen admin``)."""

from __future__ import annotations

import json
from datetime import date

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import User
from gongwen_engine.flows.services import admin
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser
from gongwen_engine.flows.web.pages import flash, render, web_of
from gongwen_engine.models.rules.dates import today as beijing_today

router = APIRouter()


def _orgs(request: Request, user: User) -> list[str]:
    codes = admin.administered(web_of(request).engine.refresh_config(), user.id)
    if not codes:
        raise Refusal(words.ADMIN_NOT_ADMINISTRATOR.format(name=user.name, user=user.id))
    return codes


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, org: str | None = None, user: User = CurrentUser) -> HTMLResponse:
    codes = _orgs(request, user)
    config = web_of(request).engine.config
    code = org if org in codes else user.org
    people = admin.people(web_of(request).engine, user.id, code)
    prefixes = set(config.org(code).prefixes)
    return render(
        request,
        "admin.html.j2",
        org=config.org(code),
        orgs=[config.org(c) for c in codes],
        people=people,
        departments=list(config.departments.get(code, ())),
        roles=config.roles,
        schemes=sorted((s for s in config.schemes.values() if s.prefix in prefixes), key=lambda s: (s.year, s.prefix)),
        this_year=beijing_today().year,
        may_calendar=config.org(user.org).parent is None,
        calendar_years=sorted(config.calendar_years),
    )


def _back(org: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?org={org}", status_code=303)


@router.post("/admin/person", dependencies=[CsrfChecked])
def add_person(
    request: Request,
    user: User = CurrentUser,
    org: str = Form(...),
    user_id: str = Form(...),
    name: str = Form(...),
    title: str = Form(""),
    department: str = Form(""),
    deputy: str = Form(""),
    roles: list[str] = Form(default_factory=list),
) -> Response:
    done = admin.add_person(web_of(request).engine, user.id, user_id.strip(), name, org, roles, department or None, title or None, deputy or None)
    flash(request, done.text)
    return _back(org)


@router.get("/admin/person/{user_id}", response_class=HTMLResponse)
def person_page(request: Request, user_id: str, user: User = CurrentUser) -> HTMLResponse:
    config = web_of(request).engine.refresh_config()
    person = config.user(user_id)
    admin.people(web_of(request).engine, user.id, person.org)  # refuses an organisation not administered
    return render(
        request,
        "admin_person.html.j2",
        person=person,
        departments=list(config.departments.get(person.org, ())),
        colleagues=[u for u in config.users.values() if u.org == person.org and u.id != person.id],
        roles=config.roles,
        orgs=[config.org(c) for c in admin.administered(config, user.id)],
    )


@router.post("/admin/person/{user_id}", dependencies=[CsrfChecked])
def change_person(
    request: Request,
    user_id: str,
    user: User = CurrentUser,
    name: str = Form(...),
    title: str = Form(""),
    department: str = Form(""),
    deputy: str = Form(""),
    org: str = Form(""),
    roles: list[str] = Form(default_factory=list),
) -> Response:
    engine = web_of(request).engine
    done = admin.change_person(engine, user.id, user_id, name=name, org=org or None, roles=roles, title=title, department=department, deputy=deputy)
    flash(request, done.text)
    return RedirectResponse(f"/admin/person/{user_id}", status_code=303)


@router.post("/admin/person/{user_id}/disable", dependencies=[CsrfChecked])
def disable_person(request: Request, user_id: str, user: User = CurrentUser) -> Response:
    flash(request, admin.disable_person(web_of(request).engine, user.id, user_id).text)
    return RedirectResponse(f"/admin/person/{user_id}", status_code=303)


@router.post("/admin/person/{user_id}/enable", dependencies=[CsrfChecked])
def enable_person(request: Request, user_id: str, user: User = CurrentUser) -> Response:
    flash(request, admin.enable_person(web_of(request).engine, user.id, user_id).text)
    return RedirectResponse(f"/admin/person/{user_id}", status_code=303)


@router.post("/admin/person/{user_id}/password", dependencies=[CsrfChecked])
def reset_password(request: Request, user_id: str, user: User = CurrentUser) -> Response:
    engine = web_of(request).engine
    password = admin.reset_password(engine, user.id, user_id)
    flash(request, words.ADMIN_PASSWORD_SHOWN.format(name=engine.config.user(user_id).name, user=user_id, password=password))
    return RedirectResponse(f"/admin/person/{user_id}", status_code=303)


@router.post("/admin/person/{user_id}/sessions", dependencies=[CsrfChecked])
def end_sessions(request: Request, user_id: str, user: User = CurrentUser) -> Response:
    ended = admin.end_person_sessions(web_of(request).engine, user.id, user_id)
    flash(request, words.ADMIN_SESSIONS_ENDED.format(user=user_id, n=ended))
    return RedirectResponse(f"/admin/person/{user_id}", status_code=303)


@router.post("/admin/org/rename", dependencies=[CsrfChecked])
def rename_org(request: Request, user: User = CurrentUser, code: str = Form(...), name: str = Form(""), short_name: str = Form("")) -> Response:
    flash(request, admin.rename_organisation(web_of(request).engine, user.id, code, name or None, short_name or None).text)
    return _back(code)


@router.post("/admin/org", dependencies=[CsrfChecked])
def add_org(
    request: Request,
    user: User = CurrentUser,
    parent: str = Form(...),
    code: str = Form(...),
    name: str = Form(...),
    short_name: str = Form(...),
    prefixes: str = Form(...),
    fonds: str = Form(...),
) -> Response:
    listed = [p.strip() for p in prefixes.replace("，", ",").split(",") if p.strip()]
    flash(request, admin.add_organisation(web_of(request).engine, user.id, code.strip(), name, short_name, parent, listed, fonds.strip()).text)
    return _back(parent)


@router.post("/admin/department", dependencies=[CsrfChecked])
def add_department(request: Request, user: User = CurrentUser, org: str = Form(...), name: str = Form(...)) -> Response:
    flash(request, admin.add_department(web_of(request).engine, user.id, org, name).text)
    return _back(org)


@router.post("/admin/department/rename", dependencies=[CsrfChecked])
def rename_department(request: Request, user: User = CurrentUser, org: str = Form(...), old: str = Form(...), new: str = Form(...)) -> Response:
    flash(request, admin.rename_department(web_of(request).engine, user.id, org, old, new).text)
    return _back(org)


@router.post("/admin/scheme", dependencies=[CsrfChecked])
def scheme(
    request: Request, user: User = CurrentUser, org: str = Form(...), prefix: str = Form(...), year: int = Form(...), start: int = Form(...)
) -> Response:
    flash(request, admin.set_scheme(web_of(request).engine, user.id, prefix, year, start).text)
    return _back(org)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal(words.ADMIN_BAD_DATE.format(text=text)) from None


@router.post("/admin/calendar", dependencies=[CsrfChecked])
def calendar(
    request: Request, user: User = CurrentUser, year: int = Form(...), notice: str = Form(...), holidays: str = Form(...), workdays: str = Form("")
) -> Response:
    parsed: list[tuple[str, date, date | None]] = []
    for line in holidays.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise Refusal(words.ADMIN_BAD_HOLIDAY.format(text=line.strip()))
        parsed.append((parts[0], _day(parts[1]), _day(parts[2]) if len(parts) == 3 else None))
    days = [_day(d) for d in workdays.replace("，", " ").replace(",", " ").split()]
    flash(request, admin.set_calendar_year(web_of(request).engine, user.id, year, notice.strip(), parsed, days).text)
    return _back(user.org)


@router.get("/admin/log", response_class=HTMLResponse)
def log(request: Request, user: User = CurrentUser) -> HTMLResponse:
    _orgs(request, user)
    rows = admin.admin_changes(web_of(request).engine, user.id)

    def shown(value: object) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False)

    lines = [(r, shown(r.detail.get("before")), shown(r.detail.get("after"))) for r in rows]
    return render(request, "admin_log.html.j2", lines=lines, action_words=words.ADMIN_ACTIONS)


@router.get("/admin/import", response_class=HTMLResponse)
def import_form(request: Request, user: User = CurrentUser) -> HTMLResponse:
    _orgs(request, user)
    return render(request, "admin_import.html.j2", preview=None)


@router.post("/admin/import", dependencies=[CsrfChecked], response_class=HTMLResponse)
def import_preview(request: Request, user: User = CurrentUser, file: UploadFile = File(...)) -> HTMLResponse:
    _orgs(request, user)
    preview = admin.preview_tree(web_of(request).engine, user.id, file.filename or "", file.file.read())
    return render(request, "admin_import.html.j2", preview=preview)


@router.post("/admin/import/apply", dependencies=[CsrfChecked])
def import_apply(request: Request, user: User = CurrentUser, digest: str = Form(...)) -> Response:
    flash(request, admin.import_tree(web_of(request).engine, user.id, digest).text)
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/seal", dependencies=[CsrfChecked])
def upload_seal(
    request: Request,
    user: User = CurrentUser,
    org: str = Form(...),
    image: UploadFile = File(...),
    key: UploadFile = File(...),
    certificate: UploadFile = File(...),
) -> Response:
    done = admin.upload_seal(web_of(request).engine, user.id, org, image.file.read(), key.file.read(), certificate.file.read())
    flash(request, words.ADMIN_SEAL_UPLOADED.format(subject=done.subject, until=done.not_after, digest=done.certificate_sha256[:16]))
    return _back(org)
