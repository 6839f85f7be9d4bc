"""用印 and 印章核验 as the flows use them: the issued .docx becomes a signed PDF with the
visible seal, a sealed OFD, or both (the organisation's ``issued_formats``); a received signed
PDF or sealed OFD is verified. The pieces live in ``doc_templates/pdf.py`` (LibreOffice),
``doc_templates/seal.py`` (where the seal goes, the specimen), ``doc_templates/signing.py`` (keys,
PAdES, verification) and ``doc_templates/ofd*.py`` (the OFD, its SM2 seal, its verification);
keys come from ``config/seals.yaml``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.schema import Organisation
from gongwen_engine.config.seals import SealConfig, load_seal_config
from gongwen_engine.doc_templates import signing
from gongwen_engine.doc_templates.archive_files import remember_pages_of_conversion
from gongwen_engine.doc_templates.checks import signature_problems
from gongwen_engine.doc_templates.ofd import MM_PER_PT, OfdMetadata, pdf_to_ofd_parts
from gongwen_engine.doc_templates.ofd_seal import StampPlace, identity_fingerprint, ofd_identity, ofd_trust_roots, seal_ofd
from gongwen_engine.doc_templates.ofd_verify import verify_ofd
from gongwen_engine.doc_templates.pdf import docx_bytes_to_pdf, page_texts
from gongwen_engine.doc_templates.pdf_lines import pdf_lines
from gongwen_engine.doc_templates.seal import SealPlacementError, find_signature, seal_box, seal_image, seal_picture
from gongwen_engine.models import db
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.rules.dates import format_cn_date
from gongwen_engine.models.tables import CirculationFile, Document

if TYPE_CHECKING:
    from collections.abc import Callable

    from gongwen_engine.flows.engine.context import StepContext, StepEngine

SEAL_REASON = "用印"
SIGNED_PDF = "signed_pdf"  # the CirculationFile role of the sealed copy
SIGNED_OFD = "signed_ofd"  # the role of its OFD with the SM2 electronic seal (issued_formats: both or ofd)
_keyrings: dict[tuple[str, str], tuple[int, signing.Keyring]] = {}  # (config folder, home) -> (generation, keys)
_keyrings_lock = threading.Lock()
# 印章核验 results kept by the process (verify_sealed): the same bytes against the same trust roots
# verify the same way, within the time the result can hold (see _reusable_until).
VERIFIED_ENTRIES = 512  # least recently used first out
VERIFIED_SECONDS = 600.0  # a result is reused at most this long (the clock and trust move on)
_verified: OrderedDict[tuple[str, str, tuple[str, ...]], tuple[float, float, signing.SealCheck]] = OrderedDict()
_verified_lock = threading.Lock()
# Sealed copies made outside the lock (prepare_seal), by what they depend on, until their step takes them.
PREPARED_ENTRIES = 128  # two slots' batches of 64; a signed PDF is ~0.1–0.3 MB
_prepared: OrderedDict[tuple[str, str, str, str], _Made] = OrderedDict()
_prepared_lock = threading.Lock()


@dataclass(frozen=True)
class SealedCopy:
    """The issued sealed copy: the signed PDF beside the .docx (``issued_formats`` pdf, or both
    with the OFD in ``ofd``), or the sealed OFD alone (ofd: ``format`` "ofd", path to digest of the
    OFD, which is ``ofd`` too; the PDF it was made from is not signed, written or issued)."""

    path: Path
    sha256: str
    size: int
    signer: str
    certificate_sha256: str
    visible: bool
    page: int | None = None  # 1-based page of the visible seal
    box: tuple[float, float, float, float] | None = None  # PDF points, origin bottom-left
    specimen: bool = False
    ofd: SealedOfd | None = None
    format: str = "pdf"  # of the issued copy: pdf | ofd


@dataclass(frozen=True)
class SealedOfd:
    """The OFD written beside the signed PDF (GB/T 33190, sealed GB/T 38540 with SM2)."""

    path: Path
    sha256: str
    size: int
    signer: str
    certificate_sha256: str


def seal_document(docx: Path, target: Path, content: DocumentContent, org: Organisation, keyring: signing.Keyring) -> SealedCopy:
    """Convert ``docx`` to PDF, put the seal over the name and date (when the document is laid out
    as sealed) and PAdES-sign it for ``org``; write it to ``target``. With ``org``'s
    ``issued_formats`` both, the sealed OFD goes beside it (``target`` with .ofd); with ofd, only
    the sealed OFD is written (the PDF is neither signed nor written). The copy :func:`prepare_seal`
    made outside the lock for the same bytes, target, content, organisation and keys is taken
    when there is one; only the writing is done here then."""
    key = _prepared_key(docx, target, content, org)
    made = _take_prepared(key, keyring) or _made(docx, key[0], target, content, org, keyring)
    if made.ofd is not None:
        assert made.copy.ofd is not None  # made together
        write_atomically(made.ofd, made.copy.ofd.path)
    if made.signed is not None:
        write_atomically(made.signed, made.copy.path)
    return made.copy


def prepare_seal(docx: Path, target: Path, content: DocumentContent, org: Organisation, keyring: signing.Keyring) -> None:
    """Make the sealed copy :func:`seal_document` would write to ``target`` now, outside any lock
    (the batch runner, before the 用印 steps), and keep it by the process until that step writes it.
    Its signing time is this moment's, seconds before the step. Nothing is written."""
    key = _prepared_key(docx, target, content, org)
    made = _made(docx, key[0], target, content, org, keyring)
    with _prepared_lock:
        _prepared[key] = made
        _prepared.move_to_end(key)
        while len(_prepared) > PREPARED_ENTRIES:
            _prepared.popitem(last=False)


@dataclass(frozen=True)
class _Made:
    """A sealed copy made and not yet written: its description (the paths it is to be written to)
    and its bytes, and the keys it was made with (a changed seals file is another keyring)."""

    copy: SealedCopy
    signed: bytes | None  # the signed PDF (None: OFD only)
    ofd: bytes | None  # the sealed OFD (issued_formats both or ofd)
    keyring: signing.Keyring


def _prepared_key(docx: Path, target: Path, content: DocumentContent, org: Organisation) -> tuple[str, str, str, str]:
    """What a sealed copy depends on besides the keys: the .docx bytes (their SHA-256 first), where
    it goes, the content (date, signature, sealed or not) and the organisation (name, formats,
    seal settings)."""
    return (
        hashlib.sha256(docx.read_bytes()).hexdigest(),
        str(target),
        hashlib.sha256(content.model_dump_json().encode()).hexdigest(),
        hashlib.sha256(org.model_dump_json().encode()).hexdigest(),
    )


def _take_prepared(key: tuple[str, str, str, str], keyring: signing.Keyring) -> _Made | None:
    """The copy prepared for ``key`` with these keys, taken out (a copy is written once)."""
    with _prepared_lock:
        prepared = _prepared.pop(key, None)
    return prepared if prepared is not None and prepared.keyring is keyring else None


def _made(docx: Path, docx_sha256: str, target: Path, content: DocumentContent, org: Organisation, keyring: signing.Keyring) -> _Made:
    """The sealed copy of ``docx`` (its SHA-256 given) for ``target``, made and not written."""
    pdf = docx_bytes_to_pdf(docx)
    # the archive's page count (页数) of this .docx comes from the same conversion: 归档 would
    # otherwise convert it again, holding the process's LibreOffice while the next 用印 waits
    texts = page_texts(pdf)
    remember_pages_of_conversion(docx_sha256, texts)
    seals = keyring.seals
    visible = None
    configured_image = seals.image(org.code)
    if content.sealed:
        try:
            spot = find_signature(pdf, format_cn_date(content.issued_on), content.signature, texts)
        except SealPlacementError:
            # say why in the words of the layout check (署名与成文日期分页、署名页无正文…), where it can
            problems = signature_problems(pdf_lines(pdf), content)
            if not problems:
                raise
            raise SealPlacementError("无法用印：" + "；".join(str(p) for p in problems)) from None
        box = seal_box(spot, seals.diameter_mm(org.code))
        picture = seal_picture(configured_image, org.name, seals.diameter_mm(org.code))
        visible = signing.VisibleSeal(spot.page, box.pdf_rect(spot.page_height), picture)
    page, where = (visible.page + 1, _rounded(visible.box)) if visible else (None, None)
    specimen = visible is not None and configured_image is None
    ofd, ofd_bytes = None, None
    if org.issued_formats in ("both", "ofd"):
        png = seal_image(configured_image, org.name, seals.diameter_mm(org.code))
        ofd, ofd_bytes = _sealed_ofd(pdf, target.with_suffix(".ofd"), content, org, seals, png, visible)
    if org.issued_formats == "ofd":  # the OFD is the issued copy; the PDF served its layout and page count only
        assert ofd is not None
        copy = SealedCopy(ofd.path, ofd.sha256, ofd.size, ofd.signer, ofd.certificate_sha256, visible is not None, page, where, specimen, ofd, format="ofd")
        return _Made(copy, None, ofd_bytes, keyring)
    identity = keyring.identity(org)
    signed = signing.sign_pdf(pdf, identity, visible, SEAL_REASON, location=org.name)
    copy = SealedCopy(
        path=target,
        sha256=signing.sha256_hex(signed),
        size=len(signed),
        signer=identity.subject,
        certificate_sha256=signing.fingerprint(identity.certificate),
        visible=visible is not None,
        page=page,
        box=where,
        specimen=specimen,
        ofd=ofd,
    )
    return _Made(copy, signed, ofd_bytes, keyring)


def _sealed_ofd(
    pdf: bytes, target: Path, content: DocumentContent, org: Organisation, seals: SealConfig, png: bytes, visible: signing.VisibleSeal | None
) -> tuple[SealedOfd, bytes]:
    """The OFD of the same PDF pages (before the PAdES signature: its appearance is not page content),
    with the electronic seal where the PDF's visible seal is, for ``target``: its description and bytes."""
    meta = OfdMetadata(title=content.title, issuer=org.name, doc_number=content.doc_number, issued_on=content.issued_on.isoformat())
    parts = pdf_to_ofd_parts(pdf, meta)
    place = None
    if visible is not None:
        x1, y1, x2, y2 = visible.box
        page_height_mm = parts.page_sizes[visible.page][1]
        place = StampPlace(visible.page, x1 * MM_PER_PT, page_height_mm - y2 * MM_PER_PT, (x2 - x1) * MM_PER_PT, (y2 - y1) * MM_PER_PT)
    identity = ofd_identity(seals, org)
    data = seal_ofd(parts, meta, identity, png, place)
    signer = str(identity.certificate.subject.native.get("common_name"))
    return SealedOfd(target, signing.sha256_hex(data), len(data), signer, identity_fingerprint(identity)), data


def _rounded(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    return round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)


def verify_file(path: Path, keyring: signing.Keyring) -> signing.SealCheck:
    """印章核验 of a PDF on disk against the configured trust roots."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return signing.check(signing.CheckStatus.absent, f"file not found: {path}")
    return verify_bytes(data, signing.sha256_hex(data), keyring)


def verify_bytes(data: bytes, sha256: str, keyring: signing.Keyring) -> signing.SealCheck:
    """印章核验 of a PDF's bytes (``sha256``: their digest) against the configured trust roots."""
    roots = keyring.trust_roots()
    key = ("pdf", sha256, tuple(signing.fingerprint(r) for r in roots))
    return _verified_once(key, lambda: signing.verify_pdf(data, roots), [r.not_valid_after_utc for r in roots])


def _verified_once(key: tuple[str, str, tuple[str, ...]], verify: Callable[[], signing.SealCheck], roots_end: list[datetime]) -> signing.SealCheck:
    """``verify()``'s result, reused for the same ``key`` (format, digest of the bytes, fingerprints of
    the trust roots) while it holds: the 16 districts that sign for one city's notice verify it once
    per process (the national cascade: 2,800+ checks of 374 files). A result is reused only before
    :func:`_reusable_until`; a changed file or trust store is another key, verified again."""
    now_wall, now_mono = time.time(), time.monotonic()
    with _verified_lock:
        held = _verified.get(key)
        if held is not None and now_mono < held[0] and now_wall < held[1]:
            _verified.move_to_end(key)
            return held[2]
    result = verify()
    with _verified_lock:
        _verified[key] = (now_mono + VERIFIED_SECONDS, _reusable_until(result, roots_end), result)
        _verified.move_to_end(key)
        while len(_verified) > VERIFIED_ENTRIES:
            _verified.popitem(last=False)
    return result


def _reusable_until(result: signing.SealCheck, roots_end: list[datetime]) -> float:
    """The wall-clock time (epoch s) until which ``result`` can be reused: what it depended on at the
    time of the check must still hold — the signer's certificate and the trust roots within their
    validity (a certificate that expires makes a valid seal untrusted). The rest (a certificate not
    yet valid, an intermediate's validity, revocation: soft-fail, nothing fetched) is bounded by
    VERIFIED_SECONDS."""
    ends = list(roots_end)
    not_after = (result.certificate or {}).get("not_after")
    if not_after:
        try:
            end = datetime.fromisoformat(not_after)
            ends.append(end if end.tzinfo else end.replace(tzinfo=UTC))
        except ValueError:
            return 0.0  # unknown: not reused
    return min((end.timestamp() for end in ends), default=float("inf"))


def keyring(engine: StepEngine) -> signing.Keyring:
    """The keys of the engine's ``seals.yaml`` and uploaded seals (read once per config folder, home
    and administrative generation: an uploaded seal is used from the next step on)."""
    key = (str(engine.config.directory), str(engine.settings.home))
    with _keyrings_lock:
        if key not in _keyrings or _keyrings[key][0] != engine.config.generation:
            _keyrings[key] = (
                engine.config.generation,
                signing.Keyring(load_seal_config(engine.config.directory, engine.config.organisations, engine.settings.home)),
            )
        return _keyrings[key][1]


def signed_pdf_path(docx_relative: str) -> str:
    """The sealed copy sits beside the .docx: shandong/鲁妇发〔2012〕10号.pdf."""
    return Path(docx_relative).with_suffix(".pdf").as_posix()


def seal(ctx: StepContext) -> None:
    """用印: the issued copy as a PDF with the visible seal, signed for the issuer (PAdES), inside the
    step's transaction: write the signed PDF, record it, audit it. The flow loader puts a printing
    step before every sealing step (flows/engine/definition.py ORDERS)."""
    doc = ctx.document(ctx.circulation.document_id)
    assert doc.file is not None  # printed by the step the flow loader puts before sealing
    relative = signed_pdf_path(doc.file)
    storage = ctx.engine.storage
    db.hold_folder(ctx.session, (storage / relative).parent)  # no stray write of a killed attempt after ours
    copy = seal_document(storage / doc.file, storage / relative, content_of(doc), ctx.org, keyring(ctx.engine))
    if copy.format == "pdf":
        ctx.record_file(SIGNED_PDF, relative, copy.sha256, copy.size)
    ctx.audit(
        "sealed",
        doc.id,
        file=copy.path.relative_to(storage).as_posix(),
        format=copy.format,
        sha256=copy.sha256,
        size=copy.size,
        signer=copy.signer,
        certificate_sha256=copy.certificate_sha256,
        visible=copy.visible,
        page=copy.page,
        box=list(copy.box) if copy.box else None,
        specimen=copy.specimen,
        **_ofd_facts(copy.ofd, storage),
    )
    if copy.ofd is not None:
        ctx.record_file(SIGNED_OFD, copy.ofd.path.relative_to(storage).as_posix(), copy.ofd.sha256, copy.ofd.size)


def _ofd_facts(ofd: SealedOfd | None, storage: Path) -> dict:
    if ofd is None:
        return {}
    return {"ofd_file": ofd.path.relative_to(storage).as_posix(), "ofd_sha256": ofd.sha256, "ofd_certificate_sha256": ofd.certificate_sha256}


def sealed_copies(session: Session, received: Document) -> list[tuple[str, str | None]]:
    """(file, recorded SHA-256) of the sealed copies that came with ``received``: the sender's
    signed PDF and sealed OFD (the issued copy first), or, for a document from outside (收文), the
    file as it came when it is a PDF or an OFD."""
    rows: list[tuple[str, str | None]] = [(row.file, row.sha256) for row in sender_sealed_files(session, received)]
    if not rows and received.circulation_id is None and received.file and Path(received.file).suffix.lower() in (".pdf", ".ofd"):
        rows = [(received.file, received.sha256)]
    return rows


def sender_sealed_files(session: Session, received: Document) -> list[CirculationFile]:
    """The sealed copies that came with ``received``: its signed PDF and its sealed OFD, whichever
    the sender's ``issued_formats`` made (the issued copy first: the PDF unless it issues OFD only)."""
    if received.circulation_id is None:
        return []
    rows = session.exec(
        select(CirculationFile).where(CirculationFile.circulation_id == received.circulation_id, col(CirculationFile.role).in_((SIGNED_PDF, SIGNED_OFD)))
    ).all()
    return sorted(rows, key=lambda row: row.role != SIGNED_PDF)


def is_ofd(data: bytes) -> bool:
    """An OFD package (a zip) rather than a PDF, by its first bytes."""
    return data[:4] == b"PK\x03\x04"


def verify_sealed(data: bytes, keyring: signing.Keyring, sha256: str | None = None) -> signing.SealCheck:
    """印章核验 of a signed PDF (PAdES) or a sealed OFD (GB/T 38540, SM2), told apart by content,
    against the configured trust roots of each (``sha256``: the digest of ``data``, when known)."""
    digest = sha256 or signing.sha256_hex(data)
    if is_ofd(data):
        roots = ofd_trust_roots(keyring.seals)
        key = ("ofd", digest, tuple(hashlib.sha256(r).hexdigest() for r in roots))
        return _verified_once(key, lambda: verify_ofd(data, roots), [])
    return verify_bytes(data, digest, keyring)


def prepare_checks(engine: StepEngine, session: Session, received: Document) -> None:
    """印章核验 of what came with ``received``, outside any lock (the batch runner, before the 签收
    steps): the results are kept by the process (``_verified_once``), so the step under the lock
    finds them for the same bytes and trust roots and audits them as its own check."""
    for file, _ in sealed_copies(session, received):
        _checked_path(engine, file)


def _checked_path(engine: StepEngine, file: str) -> tuple[signing.SealCheck, str | None]:
    """One sealed copy in storage verified: the result and the digest of the bytes read."""
    path = engine.storage / file
    try:
        data = path.read_bytes()  # read once: verified and compared with the recorded digest
    except FileNotFoundError:
        return signing.check(signing.CheckStatus.absent, f"file not found: {path}"), None
    digest = signing.sha256_hex(data)
    return verify_sealed(data, keyring(engine), digest), digest


def _checked_file(ctx: StepContext, file: str, recorded_sha256: str | None) -> tuple[signing.SealCheck, dict]:
    """One sealed copy verified: the result and its audit facts (file, format, whether it is the recorded one)."""
    result, digest = _checked_path(ctx.engine, file)
    fmt = "ofd" if file.lower().endswith(".ofd") else "pdf"
    return result, {"file": file, "format": fmt, "sha256_matches_record": digest == recorded_sha256, **result.as_dict()}


def check_received(ctx: StepContext, received: Document) -> signing.SealCheck:
    """签收时核验印章: verify the sealed copies that came with ``received`` (the signed PDF, the
    sealed OFD, or both) and audit the result: one ``seal_checked`` event with the issued copy's
    result and, when both came, the OFD's under ``ofd``.

    An invalid seal does not stop the circulation (the document did arrive and is signed for):
    the result, in plain words, is in the audit trail for the registration and the screening.
    """
    rows = sealed_copies(ctx.session, received)
    if not rows:
        result = signing.check(signing.CheckStatus.absent)
        ctx.audit("seal_checked", received.id, **result.as_dict())
        return result
    (result, facts), *others = [_checked_file(ctx, file, sha256) for file, sha256 in rows]
    ctx.audit("seal_checked", received.id, **facts, **({"ofd": others[0][1]} if others else {}))
    return result


def sealed_fingerprints(history: list[dict]) -> set[str]:
    """The certificates gongwen sealed with, as an item's 处理过程 (its audit trail up to filing,
    which travels with a transfer package) recorded them at 用印."""
    sealed = [e.get("detail", {}) for e in history if e.get("action") == "sealed"]
    return {d[key] for d in sealed for key in ("certificate_sha256", "ofd_certificate_sha256") if d.get(key)}


def filed_seal_problem(data: bytes, fingerprints: set[str]) -> str | None:
    """What is wrong with the seal of a filed PDF, or None: it must be intact, valid, cover the
    whole file and be made with a certificate gongwen recorded when it sealed (the archive's
    authenticity check; it needs no trust store, the audit trail vouches for the certificate)."""
    result = verify_ofd(data, []) if is_ofd(data) else signing.verify_pdf(data, [])
    if result.status not in (signing.CheckStatus.valid, signing.CheckStatus.untrusted):
        return result.message
    if not result.certificate or result.certificate["sha256"] not in fingerprints:
        return "签名证书不是用印时记录的证书（certificate not recorded at sealing）"
    return None
