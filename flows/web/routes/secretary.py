"""The secretary's pages (秘书): compose (拟稿) or upload (收文) and launch, the organisation's
circulations, one circulation with its cascade picture, and the files it produced."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile as StarletteUpload  # what a form part is (FastAPI's UploadFile subclasses it)

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import fit_file_name
from gongwen_engine.config.schema import User
from gongwen_engine.doc_templates.elements import heading_level
from gongwen_engine.doc_templates.html import render_html
from gongwen_engine.doc_templates.records import OPINION_LABELS
from gongwen_engine.doc_templates.render import render_docx_bytes
from gongwen_engine.flows.engine.definition import StepKind
from gongwen_engine.flows.services import attachments as attachment_specs
from gongwen_engine.flows.services import preview as layout_preview
from gongwen_engine.flows.services.circulations import recipients_warning, timeline, version_changes, versions
from gongwen_engine.flows.services.intake import (
    CORRECTABLE,
    DuplicateError,
    Preview,
    confirmed_corrections,
    discard_upload,
    preview_file,
    receive_file,
    stage_upload,
    staged_upload,
)
from gongwen_engine.flows.services.workplace import DocumentDownload, circulation_view, circulations_page, document_download, find_circulation_file, record_view
from gongwen_engine.flows.web import words
from gongwen_engine.flows.web.cascade import STATES, cascade, count_states
from gongwen_engine.flows.web.deps import CsrfChecked, CurrentUser, RowId
from gongwen_engine.flows.web.pages import (
    Web,
    attachment_files,
    audit,
    flash,
    list_context,
    list_query,
    not_visible,
    recorded_file_response,
    render,
    status_words,
    stored_file_response,
    visible_circulation,
    web_of,
)
from gongwen_engine.flows.web.security import WebError
from gongwen_engine.flows.web.words import FILE_ROLES
from gongwen_engine.models.content import Attachment, DocumentContent
from gongwen_engine.models.rules import doc_kinds, text_input
from gongwen_engine.models.rules.dates import today as beijing_today
from gongwen_engine.models.rules.permissions import Action, Org, allowed, authorize
from gongwen_engine.models.tables import Circulation

router = APIRouter()


def launch_flows(web: Web) -> list[tuple[str, str]]:
    """(name, label) of the flows a secretary starts over a new draft, the full 发文办理 first (the
    one that starts with drafting — a ``draft`` step — and has the most steps: the default); no two
    with the same label."""
    flows = sorted(
        (f for f in web.engine.flows.values() if not f.receives),
        key=lambda f: (not any(s.kind == StepKind.draft for s in f.steps.values()), -len(f.steps)),
    )
    labels: list[tuple[str, str]] = []
    for f in flows:
        label = f.title
        if any(label == taken for _, taken in labels):
            label = f"{label}（其{len(labels) + 1}）"
        labels.append((f.flow, label))
    return labels


def receive_flows(web: Web) -> list[tuple[str, str]]:
    """(name, title) of the flows that start from a received document."""
    return [(f.flow, f.title) for f in web.engine.flows.values() if f.receives]


# ---- the organisation's circulations ----------------------------------------------------------------


@router.get("/circulations", response_class=HTMLResponse)
def circulations(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    query, problems = list_query(request)
    page = circulations_page(web.engine, user.org, query)
    rows = [
        {
            "row": row,
            "circ": row.circ,
            "kind": "收文" if row.circ.received_id else "发文",
            "sender": row.sender,
            "step": web.engine.definition_of(row.circ).step(row.circ.step).title if row.circ.step else "",
            "status": status_words(web, row.circ),
            "overdue": row.overdue,
        }
        for row in page.rows
    ]
    return render(
        request,
        "circulations.html.j2",
        rows=rows,
        org=web.engine.config.org(user.org),
        is_secretary=allowed(web.engine.config, user, Action.launch, Org(user.org)),
        **list_context(web, request, query, problems, page),
    )


@router.get("/circulations/{circulation_id}", response_class=HTMLResponse)
def circulation(request: Request, circulation_id: RowId, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id)
    view = circulation_view(web.engine, circ)
    doc, files, parent = view.doc, view.files, view.parent
    tree = cascade(web.engine, circulation_id)
    drafts = versions(web.engine, circulation_id)
    diff = version_changes(web.engine, circulation_id)
    return render(
        request,
        "circulation.html.j2",
        circ=circ,
        doc=doc,
        printed=render_html(view.parts) if doc else None,
        files=files,
        attached=attachment_files(view.parts),
        FILE_ROLES=FILE_ROLES,
        flow=web.engine.definition_of(circ),
        current_version=web.engine.flow(circ.flow).version,
        status=status_words(web, circ),
        tree=tree,
        counts=count_states(tree),
        STATES=STATES,
        timeline=timeline(web.engine, circulation_id),
        drafts=drafts,
        diff=diff,
        parent=parent if parent and allowed(web.engine.config, user, Action.view_circulation, Org(parent.org)) else None,
        parent_org=web.org_name(parent.org) if parent else "",
        withdrawn=view.withdrawn,
    )


@router.get("/circulations/{circulation_id}/print", response_class=HTMLResponse)
def circulation_print(request: Request, circulation_id: RowId, user: User = CurrentUser) -> HTMLResponse:
    """打印: the circulation's document alone, as it will print (the browser's print paginates it on A4)."""
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id)
    view = circulation_view(web.engine, circ)
    if view.doc is None:
        raise WebError(404, words.NOTHING_TO_PRINT.format(id=circulation_id), words.FROM_MENU)
    return render(request, "print.html.j2", circ=circ, doc=view.doc, printed=render_html(view.parts))


@router.get("/circulations/{circulation_id}/record", response_class=HTMLResponse)
def circulation_record(request: Request, circulation_id: RowId, user: User = CurrentUser) -> HTMLResponse:
    """发文稿纸 / 收文处理单 as a page (the same rows as the .docx record), printable from the browser."""
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id)
    view = record_view(web.engine, circulation_id)
    if view is None:
        raise WebError(404, words.NO_RECORD.format(id=circulation_id), words.FROM_MENU)
    return render(request, "record.html.j2", circ=circ, record=view, opinion_labels=OPINION_LABELS)


@router.get("/circulations/{circulation_id}/files/{role}")
def circulation_file(request: Request, circulation_id: RowId, role: str, user: User = CurrentUser) -> Response:
    """A file the circulation produced by its role: the .docx, the signed PDF, the sealed OFD …"""
    web = web_of(request)
    circ = visible_circulation(web, user, circulation_id, Action.download)
    row = find_circulation_file(web.engine, circulation_id, role)
    label = FILE_ROLES.get(role, role)
    return recorded_file_response(
        web,
        user,
        row.file if row else None,
        f"{label.split('（')[0]}-{circulation_id}",
        words.NO_CIRCULATION_FILE.format(id=circulation_id, role=label),
        words.FROM_CIRCULATION_PAGE,
        circ.document_id or circ.received_id,
        circulation=circulation_id,
        role=role,
    )


@router.get("/documents/{document_id}/docx")
def document_docx(request: Request, document_id: RowId, user: User = CurrentUser) -> Response:
    """The .docx of a document: the printed file once issued, else the draft rendered now."""
    web = web_of(request)
    download = document_download(web.engine, document_id)
    if download is None:
        raise not_visible(f"文档 {document_id}", "下载")
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


@router.get("/documents/{document_id}/attachments/{number}")
def document_attachment(request: Request, document_id: RowId, number: RowId, user: User = CurrentUser) -> Response:
    """附件N as the file it was uploaded as (PDF, .docx, .xlsx, image), to whoever may download the document."""
    web = web_of(request)
    download = document_download(web.engine, document_id)
    if download is None:
        raise not_visible(f"文档 {document_id}", "下载")
    circ = _visible_holder(web, user, download)
    found = attachment_specs.attached_file(web.engine, download.parts[0], number) if download.parts else None
    if found is None:
        raise WebError(404, words.NO_SUCH_ATTACHMENT.format(id=document_id, n=number), words.FROM_MENU)
    given, _ = found
    return stored_file_response(web, user, given.file, given.name, document_id, circulation=circ.id, attachment=number, sha256=given.sha256)


def _visible_holder(web: Web, user: User, download: DocumentDownload) -> Circulation:
    """The circulation through which ``user`` may download the document (it drafted or received it)."""
    for circ in download.holders:
        if allowed(web.engine.config, user, Action.download, Org(circ.org)):
            return circ
    raise not_visible(f"文档 {download.doc.id}", "下载")


# ---- compose and launch (拟稿发文) ----------------------------------------------------------------------


@router.get("/launch", response_class=HTMLResponse)
def launch_form(request: Request, user: User = CurrentUser) -> HTMLResponse:
    authorize(web_of(request).engine.config, user, Action.launch, Org(user.org))
    return _launch_page(request, user, {}, None)


def _launch_page(
    request: Request,
    user: User,
    values: dict,
    error: str | None,
    status_code: int = 200,
    warning: str | None = None,
    notice: str | None = None,
    printed: Markup | None = None,
    checked: layout_preview.Preview | None = None,
) -> HTMLResponse:
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
        warning=warning,
        notice=notice,
        printed=printed,
        checked=words.PREVIEW_PAGES.format(pages=checked.pages) + ("" if checked.problems else words.PREVIEW_NO_PROBLEMS) if checked else None,
        problems=[str(p) for p in checked.problems] if checked else [],
        today=beijing_today().isoformat(),
    )


COMPOSE_FILES = "compose_files"  # the token of the attachment files uploaded on the compose page (kept across a preview)
UPLOAD_FILES = "upload_files"  # per upload token: the token of the 来文's attachment files waiting for 确认


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
    confirm_printed_only: str = Form(""),
    body_file: UploadFile | str | None = File(None),
    attachment_files: list[UploadFile | str] = File([]),
    keep_files: list[str] = Form([]),
    preview: str = Form(""),
) -> Response:
    web = web_of(request)
    authorize(web.engine.config, user, Action.launch, Org(user.org))
    org = web.engine.config.org(user.org)
    problems = []
    notice = None
    if isinstance(body_file, StarletteUpload) and (body_name := upload_name(body_file.filename)):
        try:  # 套红: the 正文 drafted in Word/WPS becomes the body (and the title, if the form has none)
            draft = attachment_specs.word_body(body_name, _read_upload(body_file))
            body = "\n".join(draft.body)
            title = title if title.strip() else draft.title or ""
            notice = words.WORD_BODY_READ.format(name=body_name, count=len(draft.body), headings=sum(1 for p in draft.body if heading_level(p)))
        except Refusal as exc:
            problems.append(str(exc).rstrip("。"))
    file_annexes = _kept_files(request, web, keep_files)
    try:
        uploads = [(name, _read_upload(f)) for f in attachment_files if isinstance(f, StarletteUpload) and (name := upload_name(f.filename))]
        file_annexes += attachment_specs.file_attachments(web.engine, uploads)
    except Refusal as exc:
        problems.append(str(exc).rstrip("。"))
    attachment_specs.drop_file_list(web.engine, request.session.get(COMPOSE_FILES))
    request.session[COMPOSE_FILES] = attachment_specs.keep_file_list(web.engine, [a.file for a in file_annexes if a.file is not None])
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
        "files": [a.file for a in file_annexes if a.file is not None],
    }
    if flow not in dict(launch_flows(web)):
        problems.append(words.NOT_A_LAUNCH_FLOW)
    if not doc_kinds.is_official(doc_type):
        problems.append(doc_kinds.unofficial_reason(doc_type))
    if not title.strip():
        problems.append(words.TITLE_NEEDED)
    paragraphs = _lines(body)
    if not paragraphs:
        problems.append(words.BODY_NEEDED)
    main_recipients = list(dict.fromkeys([*recipients, *_lines(other_recipients)]))
    if not main_recipients:
        problems.append(words.RECIPIENT_NEEDED)
    try:
        day = date.fromisoformat(issued_on) if issued_on else beijing_today()
    except ValueError:
        problems.append(words.BAD_ISSUE_DATE.format(day=issued_on))
        day = beijing_today()
    annexes = []
    try:
        annexes = attachment_specs.resolve(web.engine, org.code, attachment_specs.specs_from_form(attachments))
    except Refusal as exc:
        problems.append(str(exc).rstrip("。"))
    if problems:
        return _launch_page(request, user, values, "；".join(problems) + "。", 400, notice=notice)
    content = DocumentContent(
        doc_type=doc_type,
        direction=doc_kinds.direction_of(doc_type),
        urgency=urgency or None,
        security=security or None,
        issuer_mark=org.mark,
        title=title.strip(),
        main_recipients=main_recipients,
        body=paragraphs,
        attachments=[*annexes, *file_annexes],
        signature=org.name,
        issued_on=day,
        sealed=bool(sealed),
        notes=_lines(notes),
        cc=_lines(cc),
        printed_by=org.printed_by,
        printed_on=day,
    )
    if refused := text_input.refusal(content):  # the input policy (models/rules/text_input.py): the form comes back with it
        return _launch_page(request, user, values, refused, 400, notice=notice)
    try:  # 核发 delivers to what is printed: contradictory choices are refused, names outside the platform confirmed first
        warning = recipients_warning(web.engine, org.code, content)
    except Refusal as exc:
        return _launch_page(request, user, values, str(exc), 400, notice=notice)
    if preview:  # 预览: the document as it will print, before anything is launched — laid out by LibreOffice and its pages checked, as `gongwen preview` does
        checked = layout_preview.preview_content(org.code, content, web.engine.settings.home / "previews" / user.id, "预览", org.house_style)
        return _launch_page(request, user, values, None, 200, warning, notice=notice, printed=render_html([content]), checked=checked)
    if warning and not confirm_printed_only:
        return _launch_page(request, user, values, None, 200, warning, notice=notice)
    circ_id = web.engine.launch(org.code, flow, content, policy="manual", actor=user.id)
    attachment_specs.drop_file_list(web.engine, request.session.pop(COMPOSE_FILES, None))
    web.wake_runner()
    flash(request, words.LAUNCHED.format(flow=web.engine.flow(flow).title.split("（")[0], title=content.title, id=circ_id))
    return RedirectResponse(f"/circulations/{circ_id}", status_code=303)


def _read_upload(upload: StarletteUpload) -> bytes:
    """An uploaded file's bytes, read no further than one byte over the attachment limit (which refuses it)."""
    return upload.file.read(attachment_specs.MAX_FILE_BYTES + 1)


def _kept_files(request: Request, web: Web, keep: list[str]) -> list[Attachment]:
    """The attachment files uploaded earlier on this compose page that are still ticked (only the
    session's own: a digest the session did not upload is ignored)."""
    kept = []
    for stored in attachment_specs.kept_file_list(web.engine, request.session.get(COMPOSE_FILES)):
        if stored.sha256 in keep and (annex := attachment_specs.kept_file_attachment(web.engine, stored)) is not None:
            kept.append(annex)
    return kept


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name (no folders, from any browser's path style), or '' if none."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return "" if name in ("", ".", "..") else fit_file_name(name)  # at most 255 bytes of UTF-8, extension kept


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


# ---- upload a received document (收文登记) ----------------------------------------------------------------


@router.get("/receive", response_class=HTMLResponse)
def receive_form(request: Request, user: User = CurrentUser) -> HTMLResponse:
    web = web_of(request)
    authorize(web.engine.config, user, Action.receive, Org(user.org))
    return render(request, "receive.html.j2", flows=receive_flows(web), error=None, values={})


def _receive_flow(web: Web, flow: str) -> str:
    if flow not in dict(receive_flows(web)):
        raise WebError(400, words.NOT_A_RECEIVE_FLOW, words.CHOOSE_RECEIVE_FLOW)
    return flow


@router.post("/receive", dependencies=[CsrfChecked])
def receive(
    request: Request,
    user: User = CurrentUser,
    file: UploadFile = File(...),
    flow: str = Form(...),
    attachment_files: list[UploadFile | str] = File([]),
) -> Response:
    """Step one of 收文登记: the upload (and the 来文's attachments as separate files) kept aside and
    read; the page shows what was read, to confirm."""
    web = web_of(request)
    authorize(web.engine.config, user, Action.receive, Org(user.org))
    _receive_flow(web, flow)
    name = upload_name(file.filename)
    if not name:
        raise WebError(400, words.NO_FILE, words.CHOOSE_FILE)
    try:  # vetted and kept by digest now; attached to the received document only on 确认
        annexes = attachment_specs.file_attachments(
            web.engine, [(n, _read_upload(f)) for f in attachment_files if isinstance(f, StarletteUpload) and (n := upload_name(f.filename))]
        )
    except Refusal as exc:
        return render(request, "receive.html.j2", 400, flows=receive_flows(web), error=str(exc), values={"flow": flow})
    token = stage_upload(web.engine, name, iter(lambda: file.file.read(1024 * 1024), b""))
    try:
        staged = staged_upload(web.engine, token)
        assert staged is not None  # just written
        preview = preview_file(web.engine, staged, user.org, user=user.id, flow=flow)
    except DuplicateError as exc:
        discard_upload(web.engine, token)
        return render(request, "receive.html.j2", 409, flows=receive_flows(web), error=str(exc), values={"flow": flow})
    except BaseException:
        discard_upload(web.engine, token)
        raise
    request.session["uploads"] = [*request.session.get("uploads", [])[-4:], token]  # only the uploader may confirm it
    request.session[UPLOAD_FILES] = {
        **{t: f for t, f in request.session.get(UPLOAD_FILES, {}).items() if t in request.session["uploads"]},
        token: attachment_specs.keep_file_list(web.engine, [a.file for a in annexes if a.file is not None]),
    }
    return _confirm_page(request, web, token, name, flow, preview, {}, None)


def _confirm_page(request: Request, web: Web, token: str, name: str, flow: str, preview: Preview, given: dict[str, str], error: str | None) -> HTMLResponse:
    rows = [
        {
            "field": f,
            "text": given.get(f.name, f.text),
            "sure": confidence_words(f.confidence) if f.text else words.NOT_FOUND_IN_FILE if f.required else words.NOT_FOUND_OPTIONAL,
            "corrected": f.name in given and given[f.name].strip() != f.text,
        }
        for f in preview.fields
    ]
    return render(
        request,
        "receive_confirm.html.j2",
        400 if error else 200,
        rows=rows,
        preview=preview,
        token=token,
        name=name,
        flow=flow,
        flow_title=web.engine.flow(flow).title,
        error=error,
        attached_names=[f.name for f in attachment_specs.kept_file_list(web.engine, request.session.get(UPLOAD_FILES, {}).get(token))],
    )


def confidence_words(confidence: float | None) -> str:
    """How surely a field was read, in words with the figure (把握高（95%）)."""
    if confidence is None:
        return ""
    word = next(w for floor, w in words.CONFIDENCE_WORDS if confidence >= floor)
    return f"{word}（{round(confidence * 100)}%）"


@router.post("/receive/confirm", dependencies=[CsrfChecked])
async def receive_confirm(request: Request, user: User = CurrentUser) -> Response:
    """Step two: 确认 registers the upload with the fields as shown (corrected in place) and starts the flow."""
    web = web_of(request)
    authorize(web.engine.config, user, Action.receive, Org(user.org))
    form = await request.form()
    token, flow = str(form.get("upload", "")), _receive_flow(web, str(form.get("flow", "")))
    path = staged_upload(web.engine, token) if token in request.session.get("uploads", []) else None
    if path is None:
        raise WebError(400, words.UPLOAD_GONE, words.UPLOAD_AGAIN)
    if form.get("discard"):
        discard_upload(web.engine, token)
        attachment_specs.drop_file_list(web.engine, request.session.get(UPLOAD_FILES, {}).get(token))
        return RedirectResponse("/receive", status_code=303)
    given = {name: str(form.get(f"field_{name}", "")) for name in CORRECTABLE}
    preview = preview_file(web.engine, path, user.org, user=user.id, flow=flow)
    try:
        received = receive_file(web.engine, path, user.org, confirmed_corrections(preview, given), user=user.id, flow=flow, policy="manual")
    except DuplicateError as exc:
        discard_upload(web.engine, token)
        return render(request, "receive.html.j2", 409, flows=receive_flows(web), error=str(exc), values={"flow": flow})
    except Refusal as exc:  # a correction that is not a date or a number, a field still missing: correct it on the same page
        return _confirm_page(request, web, token, path.name, flow, preview, given, str(exc))
    discard_upload(web.engine, token)
    request.session["uploads"] = [t for t in request.session.get("uploads", []) if t != token]
    file_list = request.session.get(UPLOAD_FILES, {}).get(token)
    request.session[UPLOAD_FILES] = {t: f for t, f in request.session.get(UPLOAD_FILES, {}).items() if t != token}
    if received.document_id is not None:
        attachment_specs.attach_received_files(web.engine, received.document_id, attachment_specs.kept_file_list(web.engine, file_list), user.id)
    attachment_specs.drop_file_list(web.engine, file_list)
    web.wake_runner()
    flash(request, words.REGISTERED.format(circulation=received.circulation_id, title=received.fields.get("title", "")))
    for warning in received.warnings:
        flash(request, warning, "warn")
    return RedirectResponse(f"/circulations/{received.circulation_id}", status_code=303)
