"""The secretary's pages (秘书): compose (拟稿) or upload (收文) and launch, the organisation's
circulations, one circulation with its cascade picture, and the files it produced."""

from __future__ import annotations

import tempfile
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import Organisation, User
from gongwen_engine.doc_templates.html import render_html
from gongwen_engine.doc_templates.render import render_docx_bytes
from gongwen_engine.flows.services import attachments as attachment_specs
from gongwen_engine.flows.services.circulations import timeline, version_diff, versions
from gongwen_engine.flows.services.intake import CORRECTABLE, DuplicateError, describe, parse_corrections, receive_file
from gongwen_engine.flows.services.workplace import DocumentDownload, circulation_view, document_download, find_circulation_file, org_overview
from gongwen_engine.flows.web.cascade import STATES, aware, cascade, count_states
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser, RowId
from gongwen_engine.flows.web.pages import FILE_ROLES, Web, audit, flash, render, stored_file_response, visible_circulation, web_of
from gongwen_engine.flows.web.security import WebError
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.rules import doc_kinds
from gongwen_engine.models.rules.dates import today as beijing_today
from gongwen_engine.models.rules.permissions import Action, Org, allowed, authorize
from gongwen_engine.models.tables import CIRCULATION_STATUS_WORDS, Circulation, utcnow

router = APIRouter()


def launch_flows(web: Web) -> list[tuple[str, str]]:
    """(name, title) of the flows a secretary starts over a new draft."""
    return [(f.flow, f.title) for f in web.engine.flows.values() if not f.receives]


def receive_flows(web: Web) -> list[tuple[str, str]]:
    """(name, title) of the flows that start from a received document."""
    return [(f.flow, f.title) for f in web.engine.flows.values() if f.receives]


# ---- the organisation's circulations ----------------------------------------------------------------


@router.get("/circulations", response_class=HTMLResponse)
def circulations(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    rows = [
        {
            "circ": row.circ,
            "doc": row.doc,
            "kind": "收文" if row.circ.received_id else "发文",
            "sender": (row.received.issuer_short_name or web.org_name(row.received.org)) if row.received else "",
            "received_number": row.received.doc_number if row.received else None,
            "step": web.engine.definition_of(row.circ).step(row.circ.step).title if row.circ.step else "",
            "status": CIRCULATION_STATUS_WORDS.get(row.circ.status, row.circ.status),
            "overdue": any(i.due_at and _past(i.due_at) for i in row.waiting),
        }
        for row in org_overview(web.engine, user.org)
    ]
    return render(
        request,
        "circulations.html.j2",
        rows=rows,
        org=web.engine.config.org(user.org),
        is_secretary=allowed(web.engine.config, user, Action.launch, Org(user.org)),
    )


def _past(moment: datetime) -> bool:
    return aware(moment) < utcnow()


@router.get("/circulations/{circulation_id}", response_class=HTMLResponse)
def circulation(request: Request, circulation_id: RowId, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id)
    view = circulation_view(web.engine, circ)
    doc, files, parent = view.doc, view.files, view.parent
    tree = cascade(web.engine, circulation_id)
    drafts = versions(web.engine, circulation_id)
    diff = version_diff(web.engine, circulation_id, drafts[0].version, drafts[-1].version) if len(drafts) > 1 else []
    return render(
        request,
        "circulation.html.j2",
        circ=circ,
        doc=doc,
        printed=render_html(view.parts) if doc else None,
        files=files,
        FILE_ROLES=FILE_ROLES,
        flow=web.engine.definition_of(circ),
        current_version=web.engine.flow(circ.flow).version,
        status=CIRCULATION_STATUS_WORDS.get(circ.status, circ.status),
        tree=tree,
        counts=count_states(tree),
        STATES=STATES,
        timeline=timeline(web.engine, circulation_id),
        drafts=drafts,
        diff=diff,
        parent=parent if parent and allowed(web.engine.config, user, Action.view_circulation, Org(parent.org)) else None,
        parent_org=web.org_name(parent.org) if parent else "",
    )


@router.get("/circulations/{circulation_id}/files/{role}")
def circulation_file(request: Request, circulation_id: RowId, role: str, user: User = CurrentUser) -> Response:
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id, Action.download)
    row = find_circulation_file(web.engine, circulation_id, role)
    if row is None:
        raise WebError(404, f"流转 {circulation_id} 没有“{FILE_ROLES.get(role, role)}”文件。")
    name = f"{FILE_ROLES.get(role, role).split('（')[0]}-{circulation_id}{Path(row.file).suffix}"
    return stored_file_response(web, user, row.file, name, circ.document_id or circ.received_id, circulation=circulation_id, role=role)


@router.get("/documents/{document_id}/docx")
def document_docx(request: Request, document_id: RowId, user: User = CurrentUser) -> Response:
    """The .docx of a document: the printed file once issued, else the draft rendered now."""
    web = web_of(request)
    download = document_download(web.engine, document_id)
    if download is None:
        raise WebError(404, f"文档 {document_id} 不存在。")
    doc = download.doc
    circ = _visible_holder(web, user, download)
    name = f"{doc.doc_number or '草稿-' + doc.title[:30]}.docx"
    if doc.file and doc.file.endswith(".docx"):
        return stored_file_response(web, user, doc.file, name, doc.id, circulation=circ.id)
    data = render_docx_bytes(download.parts)
    audit(web, user.id, "download", None, doc.id, circulation=circ.id, draft=True, version=doc.version)
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


def _visible_holder(web: Web, user: User, download: DocumentDownload) -> Circulation:
    """The circulation through which ``user`` may download the document (it drafted or received it)."""
    for circ in download.holders:
        if allowed(web.engine.config, user, Action.download, Org(circ.org)):
            return circ
    raise WebError(
        403, f"无权下载文档 {download.doc.id}：它不是{web.org_name(user.org)}及其下级单位起草或收到的文档。", "只能下载本单位及下级单位流转中的文件。"
    )


# ---- compose and launch (拟稿发文) ----------------------------------------------------------------------


def delivery_choice(web: Web, org: Organisation, recipients: list[str]) -> list[str] | None:
    """The organisation codes 核发 delivers to, from the 主送机关 ticked on the form (each child's
    short name, or ``children_as`` for all of them). All, or no child ticked: None (every child
    organisation, the engine's default — ``recipients.py``)."""
    children = {child.short_name: child.code for child in web.engine.config.children(org.code)}
    chosen = [children[name] for name in recipients if name in children]
    return None if not chosen or (org.children_as and org.children_as in recipients) else chosen


@router.get("/launch", response_class=HTMLResponse)
def launch_form(request: Request, user: User = CurrentUser) -> HTMLResponse:
    authorize(web_of(request).engine.config, user, Action.launch, Org(user.org))
    return _launch_page(request, user, {}, None)


def _launch_page(request: Request, user: User, values: dict, error: str | None, status_code: int = 200) -> HTMLResponse:
    web = web_of(request)
    org = web.engine.config.org(user.org)
    return render(
        request,
        "launch.html.j2",
        status_code,
        org=org,
        children=web.engine.config.children(org.code),
        flows=launch_flows(web),
        doc_types=list(doc_kinds.OFFICIAL_KINDS),
        values=values,
        error=error,
        today=beijing_today().isoformat(),
    )


@router.post("/launch", dependencies=[CsrfChecked])
def launch(
    request: Request,
    user: User = CurrentUser,
    flow: str = Form(...),
    doc_type: str = Form("通知"),
    title: str = Form(""),
    recipients: list[str] = Form([]),
    other_recipients: str = Form(""),
    cc: str = Form(""),
    body: str = Form(""),
    attachments: str = Form(""),
    notes: str = Form(""),
    urgency: str = Form(""),
    security: str = Form(""),
    issued_on: str = Form(""),
    sealed: str = Form(""),
) -> Response:
    web = web_of(request)
    authorize(web.engine.config, user, Action.launch, Org(user.org))
    org = web.engine.config.org(user.org)
    values = {
        "flow": flow,
        "doc_type": doc_type,
        "title": title,
        "recipients": recipients,
        "other_recipients": other_recipients,
        "cc": cc,
        "body": body,
        "attachments": attachments,
        "notes": notes,
        "urgency": urgency,
        "security": security,
        "issued_on": issued_on,
        "sealed": bool(sealed),
    }
    problems = []
    if flow not in dict(launch_flows(web)):
        problems.append(f"流程“{flow}”不能用于拟稿发文")
    if not doc_kinds.is_official(doc_type):
        problems.append(doc_kinds.unofficial_reason(doc_type))
    if not title.strip():
        problems.append("请填写标题")
    paragraphs = _lines(body)
    if not paragraphs:
        problems.append("请填写正文（每段一行）")
    main_recipients = list(dict.fromkeys([*recipients, *_lines(other_recipients)]))
    if not main_recipients:
        problems.append("请至少选择一个主送机关")
    try:
        day = date.fromisoformat(issued_on) if issued_on else beijing_today()
    except ValueError:
        problems.append(f"成文日期“{issued_on}”格式不对，应为 2012-01-31")
        day = beijing_today()
    annexes = []
    try:
        annexes = attachment_specs.resolve(web.engine, org.code, attachment_specs.specs_from_form(attachments))
    except Refusal as exc:
        problems.append(str(exc).rstrip("。"))
    if problems:
        return _launch_page(request, user, values, "；".join(problems) + "。", 400)
    content = DocumentContent(
        doc_type=doc_type,
        direction=doc_kinds.direction_of(doc_type),
        urgency=urgency or None,
        security=security or None,
        issuer_mark=org.mark,
        title=title.strip(),
        main_recipients=main_recipients,
        body=paragraphs,
        attachments=annexes,
        signature=org.name,
        issued_on=day,
        sealed=bool(sealed),
        notes=_lines(notes),
        cc=_lines(cc),
        printed_by=org.printed_by,
        printed_on=day,
    )
    circ_id = web.engine.launch(org.code, flow, content, policy="manual", actor=user.id, deliver_to=delivery_choice(web, org, recipients))
    web.wake_runner()
    flash(request, f"已发起：{web.engine.flow(flow).title.split('（')[0]}《{content.title}》（流转 {circ_id}）")
    return RedirectResponse(f"/circulations/{circ_id}", status_code=303)


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name (no folders, from any browser's path style), or '' if none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return "" if name in ("", ".", "..") else name[-200:]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


# ---- upload a received document (收文登记) ----------------------------------------------------------------


@router.get("/receive", response_class=HTMLResponse)
def receive_form(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    authorize(web.engine.config, user, Action.receive, Org(user.org))
    return render(request, "receive.html.j2", flows=receive_flows(web), fields=CORRECTABLE, error=None, values={})


@router.post("/receive", dependencies=[CsrfChecked])
def receive(request: Request, user: User = CurrentUser, file: UploadFile = File(...), flow: str = Form(...), corrections: str = Form("")) -> Response:
    web = web_of(request)
    authorize(web.engine.config, user, Action.receive, Org(user.org))
    if flow not in dict(receive_flows(web)):
        raise WebError(400, f"流程“{flow}”不能用于收文。", "请在收文页面选择收文流程。")
    name = upload_name(file.filename)
    if not name:
        raise WebError(400, "没有选择文件，或文件名无效。", "请选择要登记的收文文件（.docx、.txt 或带文字层的 PDF）。")
    try:
        fixes = parse_corrections(_lines(corrections))
    except Refusal as exc:
        return render(
            request, "receive.html.j2", 400, flows=receive_flows(web), fields=CORRECTABLE, error=str(exc), values={"flow": flow, "corrections": corrections}
        )
    with tempfile.TemporaryDirectory(prefix="gongwen-upload-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            while chunk := file.file.read(1024 * 1024):
                out.write(chunk)
        try:
            received = receive_file(web.engine, path, user.org, fixes, user=user.id, flow=flow, policy="manual")
        except DuplicateError as exc:
            return render(
                request, "receive.html.j2", 409, flows=receive_flows(web), fields=CORRECTABLE, error=str(exc), values={"flow": flow, "corrections": corrections}
            )
    web.wake_runner()
    read = "；".join(f"{label}：{value}" for label, value, _, _ in describe(received)[:4])
    flash(request, f"已收文登记（流转 {received.circulation_id}）。{read}")
    for warning in received.warnings:
        flash(request, warning, "warn")
    return RedirectResponse(f"/circulations/{received.circulation_id}", status_code=303)
