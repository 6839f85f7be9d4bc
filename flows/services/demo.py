"""The demo: the seed chain 全国妇联 → 山东省妇联 → 16 cities → counties, under the demo policy, and seed
000's chain at 湖南省妇联 (a received notice attached as received to Hunan's own notice)."""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, func, select

from gongwen_engine.config.files import write_atomically
from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.config.yamlsrc import load_yaml
from gongwen_engine.doc_templates import ofd_seal, ofd_verify
from gongwen_engine.flows.engine.engine import Engine
from gongwen_engine.flows.services import attachments
from gongwen_engine.flows.services.circulations import status_counts
from gongwen_engine.flows.services.intake import receive_file
from gongwen_engine.models.content import DocumentContent
from gongwen_engine.models.documents import content_of
from gongwen_engine.models.tables import ArchiveItem, AuditEvent, Circulation, CirculationFile, CirculationStatus, Delivery, Document, Registration

NATIONAL_NOTICE = PACKAGED_CONFIG_DIR / "demo" / "national_notice.yaml"
OFFICE_NOTICE = PACKAGED_CONFIG_DIR / "demo" / "acwf_office_notice.txt"  # seed 000: 全国妇联办公厅's notice, no 文号, as Hunan received it
HUNAN_NOTICE = PACKAGED_CONFIG_DIR / "demo" / "hunan_notice.yaml"  # seed 000: Hunan's notice with 附件1 (the received notice) and 附件2


@dataclass
class DemoSummary:
    documents: int
    deliveries: int
    registrations: int
    archive_items: int
    audit_events: int
    circulations: dict[str, int]
    seconds: float
    peak_rss_mb: float
    manifest: Path
    ofd_verified: int = 0  # issued OFDs whose SM2 electronic seal verified (issued_formats: both or ofd)
    ofd_failed: tuple[str, ...] = ()  # the files of those that did not, with the reason


def load_notice(path: Path = NATIONAL_NOTICE) -> tuple[str, DocumentContent]:
    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise doc.error((), "a notice file is a mapping with org: and content:", "see config/demo/national_notice.yaml")
    org = doc.data.get("org")
    if not isinstance(org, str):
        raise doc.error(("org",), "the notice needs the issuing organisation's code", "add org: <code>")
    content = doc.validate(DocumentContent, doc.data.get("content"), loc_prefix=("content",))
    return org, content


# Documents the demo issued: printed (印制) by one of its circulations; a document received from
# outside (seed 000's office notice) keeps its original file too, but is not one of them.
ISSUED = (col(Document.file).is_not(None), col(Document.circulation_id).is_not(None))
SEED_000_POLICY = "demo_seed000"  # config/policies.yaml: the demo's approvals, on seed 000's dates


def launch_seed_000(engine: Engine) -> int:
    """Seed 000: 湖南省妇联 receives 全国妇联办公厅's notice (no 文号; it files it: no subordinate
    organisation to forward it to in the demo tree) and issues its own notice with 附件1 that notice
    as received and 附件2 the reporting points. Returns the issuing circulation's id."""
    receive_file(engine, OFFICE_NOTICE, "hunan", user="hunan_secretary", flow="forwarding", policy=SEED_000_POLICY)
    org, content = load_notice(HUNAN_NOTICE)
    content = attachments.with_attachments(content, attachments.resolve(engine, org, attachments.load_attachment_specs(HUNAN_NOTICE)))
    return engine.launch(org, "issuing", content, policy=SEED_000_POLICY, actor=f"{org}_secretary")


def _attachment_entries(doc: Document) -> list[dict]:
    """The manifest's view of a document's attachments: the name in the 附件说明, and for a received
    document attached as received its issuer's number (none for a notice without 文号)."""
    content = content_of(doc)
    return [
        {
            "number": n,
            "name": name,
            "as_received": attachment.document is not None,
            "doc_number": attachment.document.doc_number if attachment.document else None,
        }
        for n, (name, attachment) in enumerate(zip(content.attachment_notes, content.attachments, strict=False), start=1)
    ]


def write_manifest(engine: Engine, out: Path) -> Path:
    """DIR/manifest.json: one entry per rendered document."""
    entries = []
    with Session(engine.db) as session:
        archive_codes = {a.circulation_id: a.archive_code for a in session.exec(select(ArchiveItem))}
        signed = {f.circulation_id: f for f in session.exec(select(CirculationFile).where(CirculationFile.role == "signed_pdf"))}
        ofds = {f.circulation_id: f for f in session.exec(select(CirculationFile).where(CirculationFile.role == "signed_ofd"))}
        for doc in session.exec(select(Document).where(*ISSUED).order_by(col(Document.id))):
            assert doc.file is not None  # selected where it is not null
            forwarded = session.get(Document, doc.forwards_id) if doc.forwards_id else None
            sealed = signed.get(doc.circulation_id) if doc.circulation_id is not None else None
            ofd = ofds.get(doc.circulation_id) if doc.circulation_id is not None else None
            entries.append(
                {
                    "org": engine.config.org(doc.org).short_name,
                    "org_code": doc.org,
                    "doc_number": doc.doc_number,
                    "title": doc.title,
                    "file": Path(doc.file).as_posix(),
                    "forwarded_from": forwarded.doc_number if forwarded else None,
                    "attachments": _attachment_entries(doc),
                    "archive_code": archive_codes.get(doc.circulation_id),
                    "sha256": doc.sha256,
                    "signed_pdf": sealed.file if sealed else None,  # 用印: the sealed copy beside the .docx
                    "signed_pdf_sha256": sealed.sha256 if sealed else None,
                    "signed_ofd": ofd.file if ofd else None,  # the OFD with its SM2 electronic seal (issued_formats: both or ofd)
                    "signed_ofd_sha256": ofd.sha256 if ofd else None,
                }
            )
    path = out / "manifest.json"
    write_atomically(json.dumps(entries, ensure_ascii=False, indent=2).encode("utf-8"), path)  # never half-written, even if killed
    return path


def verify_ofds(engine: Engine, manifest: Path) -> tuple[int, tuple[str, ...]]:
    """Every OFD the manifest lists, verified like `gongwen seal verify FILE.ofd` does (its own
    parser, not the sealing code): (how many verified, the files that did not, with the reason)."""
    seals = load_seal_config(engine.config.directory, engine.config.organisations, engine.settings.home)
    roots = ofd_seal.ofd_trust_roots(seals)
    verified, failed = 0, []
    for entry in json.loads(manifest.read_text(encoding="utf-8")):
        if entry.get("signed_ofd"):
            result = ofd_verify.verify_ofd((manifest.parent / entry["signed_ofd"]).read_bytes(), roots)
            if result.ok:
                verified += 1
            else:
                failed.append(f"{entry['signed_ofd']}: {result.message}")
    return verified, tuple(failed)


def summarise(engine: Engine, manifest: Path, seconds: float) -> DemoSummary:
    ofd_verified, ofd_failed = verify_ofds(engine, manifest)
    with Session(engine.db) as session:

        def count(model) -> int:
            return session.exec(select(func.count()).select_from(model)).one()

        return DemoSummary(
            documents=session.exec(select(func.count()).select_from(Document).where(*ISSUED)).one(),
            deliveries=count(Delivery),
            registrations=count(Registration),
            archive_items=count(ArchiveItem),
            audit_events=count(AuditEvent),
            circulations=status_counts(engine),
            seconds=seconds,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            manifest=manifest,
            ofd_verified=ofd_verified,
            ofd_failed=ofd_failed,
        )


def expected_circulations(engine: Engine, root: str) -> int:
    """The root's circulation plus one per organisation below it."""
    todo, total = [root], 0
    while todo:
        code = todo.pop()
        total += 1
        todo.extend(c.code for c in engine.config.children(code))
    return total


def count_circulations(engine: Engine) -> int:
    with Session(engine.db) as session:
        return session.exec(select(func.count()).select_from(Circulation).where(Circulation.status == CirculationStatus.done)).one()


def timer() -> float:
    return time.perf_counter()
