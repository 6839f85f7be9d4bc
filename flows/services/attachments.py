"""Attachments (附件) of a document being launched or revised: one home for how a person gives them.

The same three doors give them in the same form:

* the launch file (``gongwen launch FLOW FILE.yaml``): an ``attachments:`` list beside ``content:``,
  each entry either an annex drafted with the document (``title:`` and ``body:``, one paragraph per
  list item) or ``received: REF``, a document this organisation received, attached as it was
  received (its text, signature, date and 版记 as received, no red header invented for it);
* ``gongwen launch … --attach X`` and ``gongwen act … --attach X`` (repeatable, in order): X is
  ``received:REF`` or a UTF-8 text file whose first line is the attachment's title and whose
  further blocks (separated by a blank line) are its paragraphs;
* the web compose form: uploaded files (PDF, .docx, .xlsx, images: :func:`file_attachments`,
  kept once under ``storage/attachments/`` by SHA-256, downloaded through the document's
  permissions, filed with the archive item) and one text box, attachments separated by a line holding only ``---``;
  in each, the first line is the title (or ``收文：REF``) and the further lines its paragraphs.

REF names a received document: the receiving circulation's number, the 收文登记号, the sender's
发文字号 or its title. The names in the 附件说明 follow from the attachments (附件：1.… 2.…): an annex by its
title, a received document by its issuer's short name and its title in 《》 (models/rules/titles).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from pathlib import Path

from pydantic import Field, model_validator
from sqlmodel import select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.schema import Strict
from gongwen_engine.config.yamlsrc import load_yaml
from gongwen_engine.doc_templates.archive_files import docx_paragraphs
from gongwen_engine.doc_templates.reader.office import ATTACHMENT_FORMATS, WordDraft, attachment_format, word_draft
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import db
from gongwen_engine.models.content import AttachedFile, Attachment, DocumentContent, attachment_name
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.issuers import issuer_names
from gongwen_engine.models.queries import read
from gongwen_engine.models.queries.documents import received_document
from gongwen_engine.models.rules.titles import received_attachment_name
from gongwen_engine.models.tables import Circulation, Document

MAX_ATTACHMENTS = 50  # more is a collection (汇编), not the attachments of one document
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024  # an annex's text; a longer one is no attachment to a 公文
RECEIVED_PREFIXES = ("received:", "收文：", "收文:")
WEB_SEPARATOR = "---"


class AttachmentSpec(Strict):
    """One attachment as a person gives it: an annex (title, body) or a received document (received)."""

    title: str | None = Field(default=None, description="附件标题 (an annex; for a received document: the name in the 附件说明, optional)")
    body: list[str] = Field(default_factory=list, description="the annex's paragraphs")
    received: str | None = Field(default=None, description="a received document: circulation id, 收文登记号, 发文字号 or title")

    @model_validator(mode="after")
    def _one_kind(self) -> AttachmentSpec:
        if self.received is not None and self.body:
            raise ValueError("附件写 received:（原样附上收到的文件）时不能再写 body:")
        if self.received is None and not (self.title or "").strip():
            raise ValueError("附件需要标题（title:），或用 received: 指明要原样附上的收文")
        if self.received is not None and not self.received.strip():
            raise ValueError("received: 为空：请写收文流转号、收文登记号或来文的发文字号")
        return self


def load_attachment_specs(path: Path) -> list[AttachmentSpec]:
    """The ``attachments:`` section of a launch file (absent: none); errors name file:line."""
    doc = load_yaml(path)
    raw = doc.data.get("attachments") if isinstance(doc.data, dict) else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise doc.error(("attachments",), "attachments: 应为列表", "每个附件写一项：'- title: …' 加 'body: [...]'，或 '- received: 收文登记号'")
    content = doc.data.get("content") if isinstance(doc.data, dict) else None
    if isinstance(content, dict) and content.get("attachments"):
        raise doc.error(("attachments",), "附件写了两处（content.attachments 和 attachments:）", "只保留 attachments: 一处")
    if len(raw) > MAX_ATTACHMENTS:
        raise doc.error(("attachments",), f"附件过多（{len(raw)} 件，最多 {MAX_ATTACHMENTS} 件）", "请合并为汇编后作为一个附件")
    return [doc.validate(AttachmentSpec, item, loc_prefix=("attachments", i)) for i, item in enumerate(raw)]


def _received_ref(text: str) -> str | None:
    for prefix in RECEIVED_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :].strip()
    return None


def spec_from_text(text: str, where: str) -> AttachmentSpec:
    """One attachment written as text: first line the title (or received:REF), then its paragraphs."""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if not lines:
        raise Refusal(f"{where}：附件是空的；第一行写附件标题，其后写正文（或写 收文：收文登记号）")
    ref = _received_ref(lines[0])
    rest = [" ".join(block.split()) for block in "\n".join(lines[1:]).split("\n\n") if block.strip()]
    if ref is not None:
        if not ref:
            raise Refusal(f"{where}：“{lines[0]}”没有写明收文；请写 收文：收文登记号（或收文流转号、来文的发文字号）")
        if rest:
            raise Refusal(f"{where}：原样附上的收文（{ref}）不能再加正文；要附自拟的材料请另起一件")
        return AttachmentSpec(received=ref)
    return AttachmentSpec(title=lines[0], body=rest)


def spec_from_option(value: str) -> AttachmentSpec:
    """``--attach received:REF`` or ``--attach FILE`` (UTF-8 text: the title line, then paragraphs)."""
    ref = _received_ref(value.strip())
    if ref is not None:
        return spec_from_text(value.strip(), "--attach")
    path = Path(value)
    try:
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise Refusal(f"附件文件 {path.name} 过大（超过 {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB 文字）；请拆分，或作为汇编另行印发")
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refusal(
            f"--attach {value}：无法读取附件文件（{exc.__class__.__name__}）；请给出 UTF-8 文本文件（第一行为附件标题，其后为正文，段落之间空一行），"
            "或写 received:收文登记号 原样附上收到的文件"
        ) from None
    return spec_from_text(text, f"附件文件 {path.name}")


def specs_from_form(text: str) -> list[AttachmentSpec]:
    """The compose form's 附件 box: attachments separated by a line of ``---``; each line of an
    annex after its title is one paragraph."""
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in text.replace("\r", "").split("\n"):
        if line.strip() == WEB_SEPARATOR:
            blocks.append(current)
            current = []
        else:
            current.append(line)
    blocks.append(current)
    specs = []
    for n, block in enumerate(b for b in blocks if any(line.strip() for line in b)):
        spaced = "\n\n".join(line for line in block if line.strip())  # one line = one paragraph on the form
        specs.append(spec_from_text(spaced, f"第{n + 1}个附件"))
    return specs


def resolve(engine: Engine, org: str, specs: list[AttachmentSpec]) -> list[Attachment]:
    """The attachments of a document ``org`` issues: annexes as given, received documents taken from
    what ``org`` received (its stored content, as received). Refused in Chinese when a received
    document is not ``org``'s, or the same one is attached twice."""
    if len(specs) > MAX_ATTACHMENTS:
        raise Refusal(f"附件过多（{len(specs)} 件，最多 {MAX_ATTACHMENTS} 件）；请合并为汇编后作为一个附件")
    attachments: list[Attachment] = []
    seen: set[int] = set()
    for n, spec in enumerate(specs, start=1):
        if spec.received is None:
            attachments.append(Attachment(title=(spec.title or "").strip(), body=spec.body))
            continue
        doc = read(engine.db, received_document, org, spec.received)
        assert doc.id is not None  # read from the database
        if doc.id in seen:
            raise Refusal(f"第{n}个附件（{spec.received}）与前面的附件是同一份收文；同一份文件只附一次")
        seen.add(doc.id)
        title = (spec.title or "").strip() or received_attachment_name(issuer_names(engine.config, doc).short_name, doc.title)
        attachments.append(Attachment(title=title, document=content_of(doc)))
    return attachments


def with_attachments(content: DocumentContent, attachments: list[Attachment]) -> DocumentContent:
    """``content`` with ``attachments`` (replacing any) and the 附件说明 naming them."""
    return content.model_copy(update={"attachments": attachments, "attachment_notes": [attachment_name(a) for a in attachments]})


def attachment_changes(attachments: list[Attachment]) -> dict:
    """A draft revision (``Engine.complete(changes=…)``) that sets the attachments and their names."""
    return {"attachments": [a.model_dump(mode="json") for a in attachments], "attachment_notes": [attachment_name(a) for a in attachments]}


# ---- attachment files (附件文件): uploaded, vetted, kept by digest, downloaded -------------------------

MAX_FILE_BYTES = 20 * 1024 * 1024  # one attachment file (a scanned table, a PDF report)
MAX_FILES = 10  # files uploaded with one draft
FILES_FOLDER = "attachments"


def store_attachment_file(engine: Engine, name: str, data: bytes) -> AttachedFile:
    """Vet ``data`` (format by content, size, the receipt reader's zip limits) and keep it once under
    ``storage/attachments/`` by its SHA-256 (the same file uploaded twice is stored once)."""
    fmt = attachment_format(data, name, MAX_FILE_BYTES)
    sha256 = hashlib.sha256(data).hexdigest()
    relative = f"{FILES_FOLDER}/{sha256[:2]}/{sha256}{ATTACHMENT_FORMATS[fmt][0]}"
    path = engine.storage / relative
    if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        write_atomically(data, path)
    return AttachedFile(name=name, file=relative, sha256=sha256, size=len(data), format=fmt)


def file_attachments(engine: Engine, files: list[tuple[str, bytes]]) -> list[Attachment]:
    """Attachments from uploaded files, in order: titled by the file's name without its extension,
    a .docx's paragraphs printed on its attachment page; refused in Chinese (type, size, count)."""
    if len(files) > MAX_FILES:
        raise Refusal(f"附件文件过多（{len(files)} 个，最多 {MAX_FILES} 个）；请合并后再上传")
    out = []
    for name, data in files:
        stored = store_attachment_file(engine, name, data)
        body = docx_paragraphs(data) if stored.format == "docx" else []
        out.append(Attachment(title=Path(name).stem.strip() or name, body=body, file=stored))
    return out


def attached_file(engine: Engine, content: DocumentContent, number: int) -> tuple[AttachedFile, Path] | None:
    """The ``number``-th attachment's file (1-based) and where it is, if that attachment is a file
    still stored with its digest."""
    if not 1 <= number <= len(content.attachments):
        return None
    given = content.attachments[number - 1].file
    if given is None:
        return None
    path = (engine.storage / given.file).resolve()
    if not path.is_relative_to(engine.storage.resolve()) or not path.is_file():
        return None
    return given, path


def kept_file_attachment(engine: Engine, given: AttachedFile) -> Attachment | None:
    """An attachment file uploaded earlier in the same compose session (a preview, a corrected
    form), read back from storage with its digest checked; None if it is no longer there."""
    path = (engine.storage / given.file).resolve()
    if not path.is_relative_to(engine.storage.resolve()) or not path.is_file():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != given.sha256:
        return None
    return Attachment(title=Path(given.name).stem.strip() or given.name, body=docx_paragraphs(data) if given.format == "docx" else [], file=given)


def word_body(name: str, data: bytes) -> WordDraft:
    """The 正文 drafted in Word/WPS (.docx) for the red-header template: its title (Title style)
    and paragraphs, headings with their 层次序数; a .doc/.wps refused with the hint to save as .docx."""
    return word_draft(data, name, MAX_FILE_BYTES)


def attach_received_files(engine: Engine, document_id: int, files: list[AttachedFile], actor: str) -> None:
    """收文登记 with the 来文's attachments as separate files (uploaded with it and confirmed with it):
    they are added after the attachments read from the document itself, the 附件说明 as read kept
    (the sender's own words), and recorded in the audit trail."""
    if not files:
        return
    with db.transaction(engine.db) as session:
        doc = session.get(Document, document_id)
        if doc is None:
            raise Refusal(f"收文文档 {document_id} 不存在")
        content = content_of(doc)
        added = [kept for given in files if (kept := kept_file_attachment(engine, given)) is not None]
        notes = content.attachment_notes or [attachment_name(a) for a in [*content.attachments, *added]]
        updated = content.model_copy(update={"attachments": [*content.attachments, *added], "attachment_notes": notes})
        doc.content = {**doc.content, **updated.model_dump(mode="json", include={"attachments", "attachment_notes"})}
        session.add(doc)
        circ = session.exec(select(Circulation).where(Circulation.received_id == document_id)).first()
        engine.audit(session, actor, "attachments_received", circ, document_id, None, {"files": [[a.file.name, a.file.sha256] for a in added if a.file]})


# Lists of attachment files waiting for a launch or a 确认 (the compose page across a preview, an upload
# being registered): kept server-side, the browser's session holding only the random token.
FILE_LISTS = "pending-attachment-lists"
FILE_LISTS_KEPT_SECONDS = 24 * 3600  # a list neither used nor dropped within a day is removed


def keep_file_list(engine: Engine, files: list[AttachedFile]) -> str:
    """Keep ``files`` (their names and digests: the files themselves are stored already) under a new
    random token; lists older than a day (abandoned in the browser) are removed here."""
    folder = engine.storage / FILE_LISTS
    if folder.is_dir():
        for old in folder.iterdir():
            if old.is_file() and time.time() - old.stat().st_mtime > FILE_LISTS_KEPT_SECONDS:
                old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    write_atomically(json.dumps([f.model_dump() for f in files], ensure_ascii=False).encode(), folder / f"{token}.json")
    return token


def _list_path(engine: Engine, token: str) -> Path | None:
    if not (len(token) == 32 and all(c in "0123456789abcdef" for c in token)):
        return None
    return engine.storage / FILE_LISTS / f"{token}.json"


def kept_file_list(engine: Engine, token: str | None) -> list[AttachedFile]:
    """The files kept under ``token`` ([] for a token that names none: used, dropped, forged)."""
    path = _list_path(engine, token or "")
    if path is None or not path.is_file():
        return []
    return [AttachedFile.model_validate(f) for f in json.loads(path.read_text(encoding="utf-8"))]


def drop_file_list(engine: Engine, token: str | None) -> None:
    path = _list_path(engine, token or "")
    if path is not None:
        path.unlink(missing_ok=True)
