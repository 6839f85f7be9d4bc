"""Receiving a document from outside (收文): read the file, register it, start its circulation.

:func:`receive_file` is the one service behind ``gongwen receive`` and the web's 收文登记:

1. the file is read safely (:mod:`gongwen_engine.doc_templates.reader`); anything wrong is an
   :class:`IntakeError` in Chinese and nothing is stored;
2. the secretary's confirmations and corrections (``corrections``: field -> value) are applied
   over what was read; a document without title, issuer or date of writing is refused
   (:class:`MissingFields`, naming the fields in Chinese; the CLI adds the ``--set`` that would
   complete it, the web page asks for them in place);
3. in ONE transaction: duplicates are refused (same digest, or same issuer and number, already
   received by this organisation — the message says where the first one is); the incoming
   :class:`Document` is created (a forwarded original in the same file becomes its own document,
   so a forward of it names the original, per the forwarding title rule); the file is stored
   byte for byte under ``storage/received/`` with its SHA-256 and recorded as the circulation's
   ``received_original``; the receiving circulation starts at its flow's first step; the audit
   trail gets what was read (with sources and confidence) and what the secretary confirmed or
   corrected. A failure anywhere rolls all of it back and removes a file written for it.

The web registers in two steps: :func:`stage_upload` keeps the upload aside (``storage/pending-uploads/``),
:func:`preview_file` reads it for the confirm page (what was read, field by field, with source and
confidence; refused as a duplicate already here), and on 确认 :func:`receive_file` registers it with
the fields the secretary changed (:func:`confirmed_corrections`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.schema import Role
from gongwen_engine.doc_templates.reader import IntakeError, Part, Reading, ReadLimits, read_bytes
from gongwen_engine.doc_templates.reader.loading import load_file
from gongwen_engine.doc_templates.reader.structure import split_recipients
from gongwen_engine.doc_templates.signing import CheckStatus, SealCheck
from gongwen_engine.flows.actions import sealing
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.models import db
from gongwen_engine.models.content import Attachment, DocumentContent, LegacyColophon
from gongwen_engine.models.documents import stored_content
from gongwen_engine.models.issuers import EXTERNAL_ISSUER, match_organisation, office_of
from gongwen_engine.models.rules.dates import format_cn_date, parse_cn_date, shown
from gongwen_engine.models.rules.doc_kinds import DEFAULT_KIND
from gongwen_engine.models.rules.doc_numbers import normalise_doc_number
from gongwen_engine.models.rules.permissions import Action, Org, authorize
from gongwen_engine.models.rules.text_input import LINE_MAX, TITLE_MAX, check_text
from gongwen_engine.models.tables import Circulation, CirculationFile, Document, Registration

RECEIVED_ROLE = "received_original"
DEFAULT_FLOW = "forwarding"  # 收文: sign for, register, forward down or file (flows/forwarding.yaml)
REQUIRED = ("title", "issuer", "issued_on")
# Fields the secretary may confirm or correct at 登记 (--set field=value), with their Chinese names.
CORRECTABLE = {
    "issuer": "发文机关（全称）",
    "issuer_short_name": "发文机关规范化简称",
    "issuer_mark": "发文机关标志",
    "doc_number": "发文字号",
    "title": "标题",
    "doc_type": "文种",
    "main_recipients": "主送机关",
    "signature": "发文机关署名",
    "issued_on": "成文日期",
    "cc": "抄送机关",
    "printed_by": "印发机关",
    "printed_on": "印发日期",
}
LIST_FIELDS = {"main_recipients", "cc"}
DATE_FIELDS = {"issued_on", "printed_on"}


SEALED_FORMATS = ("pdf", "ofd")  # read formats that may carry a seal: verified at 收文 and again at 签收 (sealing.check_received)
QUIET_SEALS = (CheckStatus.valid, CheckStatus.unsigned)  # a valid seal, or none, is no warning
SEAL_KINDS = {"pdf": "PDF 数字签名", "ofd": "OFD 电子印章"}


def seal_words(seal: SealCheck, fmt: str) -> str:
    """The seal check of a received file in one Chinese line: what kind, the outcome, who sealed."""
    who = ""
    if seal.signer:
        of = f"（{seal.organisation}）" if seal.organisation and seal.organisation != seal.signer else ""
        who = f"签章人：{seal.signer}{of}。"
    return f"印章核验（{SEAL_KINDS.get(fmt, fmt)}）：{seal.message}{who}"


@dataclass(frozen=True)
class OutsideSender:
    """Stands for the sender's circulation when a document comes from outside: there is none
    (no parent), and the receiving circulation runs under the receiver's chosen policy."""

    policy: str
    id: None = None


class MissingFields(IntakeError):
    """A document without title, issuer or date of writing: the fields, by their Chinese names."""

    def __init__(self, name: str, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(name, f"缺少{'、'.join(CORRECTABLE[m] for m in missing)}，无法登记", "请核对原件后补充这些字段")


class DuplicateError(Refusal):
    """The same document was already received by this organisation; the message says where."""

    def __init__(self, message: str, circulation_id: int, document_id: int) -> None:
        super().__init__(message)
        self.circulation_id, self.document_id = circulation_id, document_id


@dataclass
class Received:
    """The outcome of one receipt."""

    circulation_id: int | None
    document_id: int | None
    original_id: int | None
    issuer_org: str
    fields: dict[str, Any]
    corrections: dict[str, dict[str, Any]]
    reading: Reading
    file: str
    sha256: str
    size: int
    warnings: list[str] = field(default_factory=list)
    seal: SealCheck | None = None  # 印章核验 of a PDF or OFD as it came (None for .docx and .txt)

    def as_json(self) -> dict[str, Any]:
        fields = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.fields.items()}
        return {
            "circulation_id": self.circulation_id,
            "document_id": self.document_id,
            "original_id": self.original_id,
            "issuer_org": self.issuer_org,
            "fields": fields,
            "corrections": _jsonable(self.corrections),
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "warnings": self.warnings,
            "seal": self.seal.as_dict() if self.seal else None,
            "reading": self.reading.as_json(),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value.isoformat() if isinstance(value, date) else value


def parse_corrections(pairs: list[str]) -> dict[str, str]:
    """['title=关于…的通知', 'issued_on=2012-02-06'] -> dict; refuses unknown fields."""
    result = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not value.strip():
            raise Refusal(f"更正“{pair}”应写成 字段=值（例如 --set issued_on=2012-02-06）")
        if name not in CORRECTABLE:
            raise Refusal(f"不能更正字段“{name}”；可更正：" + "、".join(f"{k}（{v}）" for k, v in CORRECTABLE.items()))
        result[name] = value.strip()
    return result


def _corrected_value(name: str, text: str) -> Any:
    check_text(CORRECTABLE[name], text, limit=TITLE_MAX if name == "title" else LINE_MAX)  # the input policy (text_input.py)
    if name in DATE_FIELDS:
        try:
            return date.fromisoformat(text)
        except ValueError:
            try:
                return parse_cn_date(text)[0]
            except ValueError:
                raise Refusal(f"{CORRECTABLE[name]}“{text}”不是日期；请写成 2012-02-06 或 2012年2月6日") from None
    if name == "doc_number":
        try:
            return str(normalise_doc_number(text)[0])
        except ValueError:
            raise Refusal(f"发文字号“{text}”不是 机关代字〔2012〕10号 的形式") from None
    if name in LIST_FIELDS:
        return split_recipients(text)
    return text


def confirmed_fields(reading: Reading, corrections: dict[str, str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """What was read, with the secretary's corrections over it; and the corrections as {field: {read, set}}."""
    fields = {name: f.value for name, f in reading.fields.items()}
    changed = {}
    for name, text in corrections.items():
        value = _corrected_value(name, text)
        changed[name] = {"read": fields.get(name), "set": value}
        fields[name] = value
    return fields, changed


@db.retry_transient(in_doubt="retry")  # after an in-doubt commit the re-run is refused as a duplicate (already received), never registered twice
def receive_file(
    engine: Engine,
    path: Path,
    org: str,
    corrections: dict[str, str] | None = None,
    *,
    user: str | None = None,
    flow: str = DEFAULT_FLOW,
    policy: str = "manual",
    limits: ReadLimits | None = None,
    dry_run: bool = False,
    partial: bool = False,
) -> Received:
    """Receive ``path`` at organisation ``org`` (see the module docstring)."""
    engine.config.org(org)
    engine.config.policy(policy)
    engine.flow(flow)  # unknown flows are refused before anything is read
    actor = _secretary(engine, org, user)
    path = Path(path)
    limits = limits or ReadLimits()
    data = load_file(path, limits)
    reading = read_bytes(data, path.name, limits)
    digest = hashlib.sha256(data).hexdigest()
    seal = sealing.verify_sealed(data, sealing.keyring(engine)) if reading.format in SEALED_FORMATS else None
    warnings = [*reading.warnings, *([seal_words(seal, reading.format)] if seal and seal.status not in QUIET_SEALS else [])]
    if reading.collection:
        if dry_run:  # only reading: show each text of the collection and the deadlines it states
            return Received(None, None, None, "", {}, {}, reading, "", digest, len(data), warnings, seal)
        raise IntakeError(
            path.name,
            f"不是一份公文，而是 {len(reading.collection)} 篇文字的合集（{'、'.join(reading.collection[:5])}）",
            "请把要登记的那一篇单独保存为一个文件后再收文（命令行 gongwen receive 加 --dry-run 可先查看各篇读出的内容和时限）",
        )
    fields, changed = confirmed_fields(reading, corrections or {})
    missing = [name for name in REQUIRED if not fields.get(name)]
    if missing and partial and dry_run:  # the confirm page shows what is missing; nothing else is built
        return Received(None, None, None, "", fields, changed, reading, "", digest, len(data), warnings, seal)
    if missing:
        raise MissingFields(path.name, missing)
    relative = f"received/{digest[:2]}/{digest}{path.suffix.lower()}"
    issuer = _issuer(engine, fields)
    result = Received(None, None, None, issuer["org"], fields, changed, reading, relative, digest, len(data), warnings, seal)
    main = reading.main
    assert main is not None  # a reading with text and no collection has a main part
    content = document_content(main, fields, [p for p in reading.parts if p.kind == "attachment"])
    forwarded = reading.part("forwarded")
    if dry_run:
        return result
    written: Path | None = None
    try:
        with db.transaction(engine.db) as session:
            db.transaction_lock(session, RECEIPTS_LOCK_KEY)
            _refuse_duplicates(session, engine, org, digest, fields.get("doc_number"), path.name)
            original = _original_document(session, engine, forwarded) if forwarded else None
            doc = _document(session, fields.get("doc_number"))
            if doc is None:
                doc = _received_document(
                    session,
                    issuer,
                    content,
                    file=relative,
                    sha256=digest,
                    forwards_id=original.id if original else None,
                    original_id=(original.original_id or original.id) if original else None,
                )
            written = _store(engine.storage / relative, data)
            assert doc.id is not None  # flushed or read from the database
            circ = engine.start_for_recipient(session, OutsideSender(policy), org, doc.id, flow)
            assert circ.id is not None  # start_for_recipient flushes the circulation it starts
            session.add(CirculationFile(circulation_id=circ.id, role=RECEIVED_ROLE, file=relative, sha256=digest, size=len(data)))
            engine.audit(
                session,
                actor,
                "received",
                circ,
                doc.id,
                None,
                {
                    "file": relative,
                    "name": path.name,
                    "sha256": digest,
                    "size": len(data),
                    "format": reading.format,
                    "read": {k: f.as_json() for k, f in reading.fields.items()},
                    "missing": reading.missing,
                    "warnings": reading.warnings,
                    "active_content": reading.active_content,  # flagged: the original is kept as it came, never run
                    "deadlines": [d.as_json() for d in reading.deadlines],
                    "issuer_org": issuer["org"],
                },
            )
            engine.audit(
                session,
                actor,
                "intake_confirmed",
                circ,
                doc.id,
                None,
                {
                    "corrections": _jsonable(changed),
                    "confirmed": _jsonable({k: fields.get(k) for k in CORRECTABLE if fields.get(k) is not None}),
                },
            )
            result.circulation_id, result.document_id, result.original_id = circ.id, doc.id, doc.original_id
    except BaseException as exc:
        if written is not None and not db.commit_in_doubt(exc):  # the commit may have kept the record that names the file
            written.unlink(missing_ok=True)
        raise
    return result


# Receipts one at a time (PostgreSQL): two receipts at once of the same file, or of two forwards of
# one original (two provinces' letters carrying the same national notice), would both find nothing
# and both insert; one after the other, the second finds the first's rows — refused as a repeat
# (``_refuse_duplicates``) or the original reused (``_document``). Receipts are a person's acts: the
# wait is nothing beside them (the database soak's 8 clients met the race as a unique-key error).
RECEIPTS_LOCK_KEY = 0x676F6E67726376  # "gongrcv"


def _secretary(engine: Engine, org: str, user: str | None) -> str:
    if user is None:
        secretaries = engine.config.users_with(org, Role.secretary)
        return secretaries[0].id if secretaries else "system"
    authorize(engine.config, engine.user(user), Action.receive, Org(org))
    return user


def _issuer(engine: Engine, fields: dict[str, Any]) -> dict[str, Any]:
    """The configured organisation the document names, or an external issuer with its names."""
    number = fields.get("doc_number")
    prefix = normalise_doc_number(number)[0].prefix if number else None
    mark = fields.get("issuer_mark")
    names = (fields.get("issuer"), fields.get("issuer_short_name"), fields.get("signature"))
    org = match_organisation(engine.config, mark=mark, names=names, prefix=prefix)
    if org is not None:
        return {"org": org.code, "name": None, "short_name": None}
    office = office_of(engine.config, names)
    if office is not None:  # e.g. 全国妇联办公厅's notice: 全国妇联's level, the office's name
        return {"org": office.code, "name": office.printed_by, "short_name": office.printed_by}
    name = fields["issuer"]
    short = fields.get("issuer_short_name")
    signature = fields.get("signature")
    if not short:
        # The signature is the issuer's short name when it is shorter (中华全国总工会 / 全国总工会);
        # otherwise the name as read stands for both.
        short = signature if signature and len(signature) < len(name) else name
    return {"org": EXTERNAL_ISSUER, "name": name, "short_name": short}


def document_content(part: Part, fields: dict[str, Any], attachments: list[Part]) -> DocumentContent:
    """The received document as a DocumentContent (the model every renderer and the archive read)."""
    legacy = None
    if any(k in part.fields for k in ("subject_words", "report_to", "send_to", "distribute_to", "copies_printed")):
        legacy = LegacyColophon(
            subject_words=part.value("subject_words"),
            report_to=part.value("report_to", []),
            send_to=part.value("send_to", []),
            distribute_to=part.value("distribute_to", []),
            copies_printed=part.value("copies_printed"),
        )
    return DocumentContent(
        doc_type=fields.get("doc_type") or DEFAULT_KIND,
        copy_number=part.value("copy_number"),
        security=part.value("security"),
        urgency=part.value("urgency"),
        issuer_mark=fields.get("issuer_mark") or fields["issuer"],
        doc_number=fields.get("doc_number"),
        signer=part.value("signer"),
        title=fields["title"],
        main_recipients=fields.get("main_recipients") or [],
        body=[p.text for p in part.body],
        attachment_notes=part.value("attachment_notes", []),
        signature=fields.get("signature"),
        issued_on=fields["issued_on"],
        notes=part.value("notes", []),
        cc=fields.get("cc") or [],
        printed_by=fields.get("printed_by"),
        printed_on=fields.get("printed_on"),
        attachments=[Attachment(title=a.value("title") or "", body=[p.text for p in a.body]) for a in attachments],
        legacy=legacy,
    )


def _original_document(session: Session, engine: Engine, part: Part) -> Document | None:
    """The forwarded original in the same file, as its own document (reused if already known)."""
    fields = {name: f.value for name, f in part.fields.items()}
    if not all(fields.get(name) for name in REQUIRED):
        return None  # too little to stand as a document; the forward keeps its title reference
    existing = _document(session, fields.get("doc_number"))
    if existing is not None:
        return existing
    issuer = _issuer(engine, fields)
    content = document_content(part, fields, [])
    return _received_document(session, issuer, content)


def _received_document(session: Session, issuer: dict[str, Any], content: DocumentContent, **stored: Any) -> Document:
    """A document received from outside as a row of its own (``stored``: its file, digest, what it forwards)."""
    doc = Document(
        org=issuer["org"],
        issuer_name=issuer["name"],
        issuer_short_name=issuer["short_name"],
        doc_type=content.doc_type,
        title=content.title,
        doc_number=content.doc_number,
        content=stored_content(content),
        **stored,
    )
    session.add(doc)
    session.flush()
    return doc


def _document(session: Session, doc_number: str | None) -> Document | None:
    if not doc_number:
        return None
    return session.exec(select(Document).where(Document.doc_number == doc_number)).first()


def _refuse_duplicates(session: Session, engine: Engine, org: str, digest: str, doc_number: str | None, name: str) -> None:
    """The same file (digest) or the same issuer and number already received here: say where."""
    same_file = session.exec(
        select(CirculationFile, Circulation)
        .join(Circulation, col(Circulation.id) == CirculationFile.circulation_id)
        .where(CirculationFile.sha256 == digest, CirculationFile.role == RECEIVED_ROLE, Circulation.org == org)
    ).first()
    if same_file:
        record, circ = same_file
        assert circ.id is not None  # read from the database
        raise DuplicateError(_where(session, engine, circ, f"文件“{name}”与已收的文件完全相同（内容逐字节一致）", record.file), circ.id, circ.received_id or 0)
    doc = _document(session, doc_number)
    if doc is None:
        return
    holder = session.exec(select(Circulation).where(Circulation.org == org, Circulation.received_id == doc.id)).first()
    if holder is not None:
        assert holder.id is not None and doc.id is not None  # read from the database
        raise DuplicateError(_where(session, engine, holder, f"文件“{name}”的发文字号 {doc_number} 已经收过", doc.file), holder.id, doc.id)


def _where(session: Session, engine: Engine, circ: Circulation, what: str, file: str | None) -> str:
    reg = session.exec(select(Registration).where(Registration.circulation_id == circ.id)).first()
    doc = session.get(Document, circ.received_id) if circ.received_id else None
    parts = [f"收文流转 #{circ.id}（{engine.config.org(circ.org).short_name}，北京时间 {shown(circ.created_at)} 登记）"]
    if reg:
        parts.append(f"收文编号 {reg.register_number}")
    if doc:
        parts.append(f"“{doc.title}”")
    if file:
        parts.append("原件随该流转保存")
    return f"{what}，不再重复登记。第一次收文：{'，'.join(parts)}。请在“本单位流转”中打开收文流转 #{circ.id} 查看"


def _store(target: Path, data: bytes) -> Path | None:
    """Write the received bytes atomically; None when the same content is already stored."""
    if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == target.stem:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".receiving-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


# ---- the web's confirm step: read, show, then register (收文登记 → 核对确认) -------------------------


@dataclass
class FieldReading:
    """One field of the confirm page: its Chinese name, the text to edit, where and how surely it was read."""

    name: str
    label: str
    text: str
    source: str
    confidence: float | None
    required: bool
    is_date: bool


@dataclass
class Preview:
    """What was read from an upload, field by field, before anything is registered."""

    fields: list[FieldReading]
    warnings: list[str]
    deadlines: list[str]
    seal: str | None = None  # 印章核验 in words of a valid or absent seal (a failed one is among the warnings)


def field_text(value: Any) -> str:
    """A field's value as the text a person edits (dates as 2012-01-31, lists joined with 、)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def preview_file(engine: Engine, path: Path, org: str, *, user: str, flow: str = DEFAULT_FLOW, limits: ReadLimits | None = None) -> Preview:
    """Read ``path`` for the confirm page: nothing is stored. Refused as ``receive_file`` refuses
    (unreadable, a collection, already received here); missing fields are shown, not refused."""
    received = receive_file(engine, path, org, user=user, flow=flow, limits=limits, dry_run=True, partial=True)
    if received.reading.collection:
        raise IntakeError(
            path.name,
            f"不是一份公文，而是 {len(received.reading.collection)} 篇文字的合集（{'、'.join(received.reading.collection[:5])}）",
            "请把要登记的那一篇单独保存为一个文件后再上传",
        )
    with Session(engine.db) as session:
        _refuse_duplicates(session, engine, org, received.sha256, received.fields.get("doc_number"), path.name)
    rows = []
    for name, label in CORRECTABLE.items():
        read = received.reading.fields.get(name)
        rows.append(
            FieldReading(
                name,
                label,
                field_text(received.fields.get(name)),
                read.source if read else "",
                read.confidence if read else None,
                name in REQUIRED,
                name in DATE_FIELDS,
            )
        )
    seal = seal_words(received.seal, received.reading.format) if received.seal and received.seal.status in QUIET_SEALS else None
    return Preview(rows, list(received.warnings), [d.text for d in received.reading.deadlines], seal)


def confirmed_corrections(preview: Preview, given: dict[str, str]) -> dict[str, str]:
    """The secretary's corrections: each field whose text on the confirm page differs from what was read."""
    read = {f.name: f.text for f in preview.fields}
    return {name: text.strip() for name, text in given.items() if name in CORRECTABLE and text.strip() and text.strip() != read.get(name, "")}


PENDING = "pending-uploads"  # under the storage folder: uploads waiting for their 确认, one folder each


PENDING_KEPT_SECONDS = 24 * 3600  # an upload neither confirmed nor discarded within a day is removed


def stage_upload(engine: Engine, name: str, chunks: Any) -> str:
    """Keep an upload until it is confirmed; its token (random, names the folder). Uploads left
    waiting longer than ``PENDING_KEPT_SECONDS`` (abandoned in the browser) are removed here."""
    pending = engine.storage / PENDING
    if pending.is_dir():
        for old in pending.iterdir():
            if old.is_dir() and time.time() - old.stat().st_mtime > PENDING_KEPT_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
    token = secrets.token_hex(16)
    folder = pending / token
    folder.mkdir(parents=True)
    with (folder / name).open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return token


def staged_upload(engine: Engine, token: str) -> Path | None:
    """The staged file of ``token`` (None for a token that names none: confirmed, discarded, forged)."""
    if not (len(token) == 32 and all(c in "0123456789abcdef" for c in token)):
        return None
    folder = engine.storage / PENDING / token
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    return files[0] if len(files) == 1 and files[0].is_file() else None


def discard_upload(engine: Engine, token: str) -> None:
    path = staged_upload(engine, token)
    if path is not None:
        shutil.rmtree(path.parent, ignore_errors=True)


def describe(received: Received) -> list[tuple[str, str, str, str]]:
    """Rows for the CLI: (field, value, source, confidence/correction)."""
    rows = []
    for name, label in CORRECTABLE.items():
        value = received.fields.get(name)
        read = received.reading.fields.get(name)
        shown = format_cn_date(value) if isinstance(value, date) else "、".join(value) if isinstance(value, list) else (value or "")
        how = "秘书更正" if name in received.corrections else (f"{read.confidence:.2f}" if read else "未找到")
        rows.append((f"{label} {name}", shown, read.source if read else "", how))
    return rows
