"""The archivist's pages (档案员): search with filters and highlighted hits, the record of one
item (archive code, stamp fields, files with digests, handling history), file downloads and
the catalogue (归档文件目录). The archive's own services decide everything: an archivist sees
their own fonds only (``archivist``, ``item_in_fonds``), and every retrieval is logged
(``log_retrieval``, 利用登记) as well as audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from gongwen_engine.config.schema import User
from gongwen_engine.flows.actions.archiving import Archivist, archivist, item_folder
from gongwen_engine.flows.services.archive import catalogue_file, find_item, fonds_years, log_show, search_archive
from gongwen_engine.flows.services.archive_exports import item_metadata
from gongwen_engine.flows.services.circulations import ACTION_WORDS
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.deps import CurrentUser
from gongwen_engine.flows.web.pages import Web, audit, media_type, recorded_file_response, render, web_of
from gongwen_engine.flows.web.security import WebError
from gongwen_engine.flows.web.words import FILE_ROLES
from gongwen_engine.models.archive_search import HIT_CLOSE, HIT_OPEN, SearchQuery
from gongwen_engine.models.rules.archive import RETENTION_LABELS, stamp_for
from gongwen_engine.models.rules.permissions import Action, PermissionDenied
from gongwen_engine.models.tables import ArchiveItem

router = APIRouter()
RETENTIONS = {r.value: label for r, label in RETENTION_LABELS.items()}
SEARCH_FIELDS = ("words", "code", "doc_number", "issuer", "year", "date_from", "date_to", "retention")


def _archivist(web: Web, user: User, action: Action = Action.archive_search) -> Archivist:
    """The archivist and their fonds; anyone else is refused (403, ``PermissionDenied``)."""
    return archivist(web.engine.config, user.id, action)


def highlighted(excerpt: str) -> Markup:
    """The search excerpt with its hits (【…】) as <mark>, everything else escaped."""
    text = str(escape(excerpt))
    return Markup(text.replace(HIT_OPEN, "<mark>").replace(HIT_CLOSE, "</mark>"))


@router.get("/archive", response_class=HTMLResponse)
def search_page(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    who = _archivist(web, user)
    params = {k: (request.query_params.get(k) or "").strip() for k in SEARCH_FIELDS}
    hits, asked = [], any(params.values())
    errors: list[str] = []
    query = _query(who, params, errors)
    if asked and not errors:
        hits = search_archive(web.engine, who, query, **{k: v for k, v in params.items() if v})
        audit(web, user.id, "archive_search", fonds=who.fonds, results=len(hits), **{k: v for k, v in params.items() if v})
    years = fonds_years(web.engine, who.fonds)
    return render(
        request,
        "archive_search.html.j2",
        400 if errors else 200,
        who=who,
        params=params,
        hits=hits,
        asked=asked,
        errors=errors,
        highlighted=highlighted,
        RETENTIONS=RETENTIONS,
        years=years,
    )


def _query(who: Archivist, params: dict[str, str], errors: list[str]) -> SearchQuery:
    def day(name: str, label: str) -> date | None:
        try:
            return date.fromisoformat(params[name]) if params[name] else None
        except ValueError:
            errors.append(f"{label}“{params[name]}”格式不对，应为 2012-01-31")
            return None

    year = None
    if params["year"]:
        if params["year"].isdigit():
            year = int(params["year"])
        else:
            errors.append(f"年度“{params['year']}”应为四位数字，如 2012")
    if params["retention"] and params["retention"] not in RETENTIONS:
        errors.append("保管期限只能选 永久、30年、10年")
    return SearchQuery(
        fonds=who.fonds,
        words=params["words"] or None,
        archive_code=params["code"] or None,
        doc_number=params["doc_number"] or None,
        issuer=params["issuer"] or None,
        year=year,
        date_from=day("date_from", "起始日期"),
        date_to=day("date_to", "截止日期"),
        retention=params["retention"] or None,
        limit=50,
    )


def _item(web: Web, user: User, code: str, action: Action = Action.archive_show) -> tuple[Archivist, ArchiveItem]:
    """The item by archive code, if ``user`` may ``action`` it (their own fonds; a refusal is logged)."""
    who = _archivist(web, user, action)
    try:
        item = find_item(web.engine, who, code, action)
    except PermissionDenied:
        audit(web, user.id, "archive_refused", archive_code=code, fonds=who.fonds)
        raise
    if item is None:
        raise WebError(404, f"档号 {code} 不存在。", "请通过检索找到档案。")
    return who, item


@router.get("/archive/items/{code}", response_class=HTMLResponse)
def record_page(request: Request, code: str, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    who, item = _item(web, user, code)
    log_show(web.engine, who, item)
    audit(web, user.id, "archive_show", archive_code=item.archive_code, fonds=who.fonds)
    stamp = stamp_for(item.fonds, item.year, item.item_no, item.dept_code, item.retention, item.pages)
    history = [_history_line(web, event) for event in item.history]
    return render(
        request,
        "archive_item.html.j2",
        item=item,
        meta=item_metadata(item),
        stamp=stamp,
        history=history,
        RETENTIONS=RETENTIONS,
        FILE_ROLES=FILE_ROLES,
        file_names=[Path(f["file"]).name for f in item.files],
    )


def _history_line(web: Web, event: dict) -> dict:
    detail = event.get("detail") or {}
    if event["action"].startswith("step:"):
        what = f"{detail.get('title', event.get('step'))}：{detail.get('outcome_label', detail.get('outcome'))}"  # the words recorded with it
        if detail.get("comment"):
            what += f"（{detail['comment']}）"
    else:
        what = ACTION_WORDS.get(event["action"], event["action"])
    return {"at": event["at"], "who": web.person(event["actor"]), "what": what}


@router.get("/archive/items/{code}/files/{name:path}")
def record_file(request: Request, code: str, name: str, user: User = CurrentUser) -> Response:
    web = web_of(request)
    _, item = _item(web, user, code, Action.archive_download)
    folder = (web.engine.storage / item_folder(item.fonds, item.year, item.archive_code)).resolve()
    target = (folder / name).resolve()
    if not target.is_relative_to(folder):
        audit(web, user.id, "download_refused", archive_code=item.archive_code, file=name, reason="outside the item's folder")
        raise WebError(403, "下载被拒绝：所请求的路径超出了该档案的文件目录。", words.FROM_RECORD_PAGE)
    filed = next((f["file"] for f in item.files if (web.engine.storage / f["file"]).resolve() == target), None)
    return recorded_file_response(
        web,
        user,
        filed,
        f"{item.archive_code}-{target.stem}",
        words.NO_FILED_FILE.format(code=item.archive_code, name=name),
        words.FROM_RECORD_PAGE,
        archive_code=item.archive_code,
    )


@router.get("/archive/catalogue")
def catalogue(
    request: Request, year: int = Query(ge=1949, le=2100), retention: str = "", file_format: str = Query("xlsx", alias="format"), user: User = CurrentUser
) -> Response:
    web = web_of(request)
    who = _archivist(web, user, Action.archive_export)
    if file_format not in ("xlsx", "docx"):
        raise WebError(400, f"目录格式“{file_format}”不支持，可选 xlsx 或 docx。")
    if retention and retention not in RETENTIONS:
        raise WebError(400, "保管期限只能选 永久、30年、10年。")
    made = catalogue_file(web.engine, who, year, retention or None, docx=file_format == "docx")
    audit(web, user.id, "download", file=made.name, catalogue=True, fonds=who.fonds, year=year, items=made.items)
    return Response(made.data, media_type=media_type(made.name), headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(made.name)}"})
