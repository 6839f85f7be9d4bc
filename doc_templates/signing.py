"""Digital signatures (电子签章) of issued PDFs: keys, the demo certificate authority, PAdES
signing with pyHanko, and verification reported in plain words.

* :class:`SigningIdentity` — one organisation's private key and certificate chain, loaded from
  PKCS#12 or PEM files (paths and passphrase sources come from ``config/seals.yaml``);
* :class:`DemoAuthority` — for the demo only: a local certificate authority created on first
  use under the gongwen home folder, and one certificate per organisation, every name marked
  演示用 so that nothing it signs can pass for a real organisation's document;
* :func:`sign_pdf` — a PAdES baseline signature (ETSI.CAdES.detached), visible or not;
* :func:`verify_pdf` — who signed, when, with which certificate, and whether the document
  changed since, as a :class:`SealCheck` with a Chinese sentence for users.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from gongwen_engine.config.errors import DefinitionError
from gongwen_engine.config.files import folder_locked, write_atomically
from gongwen_engine.config.schema import Organisation
from gongwen_engine.config.seals import SEALS_FILE, SealConfig
from gongwen_engine.config.yamlsrc import SourceError

if TYPE_CHECKING:
    from PIL import Image

SIGNATURE_FIELD = "Seal"  # the PDF form field that carries the seal
DEMO_MARK = "演示用"
DEMO_VALIDITY = timedelta(days=3650)
# pyHanko logs a traceback for every untrusted or broken signature; the outcome is reported
# to the user by SealCheck, so keep its loggers to errors.
for _logger in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_logger).setLevel(logging.ERROR)


class SigningError(DefinitionError):
    """Keys or certificates that cannot be used (message says what, where and how to fix)."""


# ---- keys and certificates ----------------------------------------------------------------------


@dataclass(frozen=True)
class SigningIdentity:
    """签名身份: an organisation's private key, its certificate and the chain up to a root."""

    key: Any  # a cryptography private key
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def subject(self) -> str:
        return common_name(self.certificate)


def common_name(cert: x509.Certificate, of_issuer: bool = False) -> str:
    name = cert.issuer if of_issuer else cert.subject
    found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(found[0].value) if found else name.rfc4514_string()


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of the certificate (hex), how users compare certificates."""
    return cert.fingerprint(hashes.SHA256()).hex()


def load_pkcs12_identity(path: Path, passphrase: bytes | None) -> SigningIdentity:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
    except FileNotFoundError:
        raise SigningError(f"PKCS#12 file not found: {path}") from None
    except ValueError as exc:
        raise SigningError(f"cannot open PKCS#12 file {path}: {exc} (wrong passphrase, or not a .p12/.pfx file)") from None
    if key is None or cert is None:
        raise SigningError(f"PKCS#12 file {path} holds no private key or no certificate")
    return SigningIdentity(key, cert, tuple(extra or ()))


def load_pem_identity(key_path: Path, cert_path: Path, chain: Sequence[Path], passphrase: bytes | None) -> SigningIdentity:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), passphrase)
    except FileNotFoundError:
        raise SigningError(f"key file not found: {key_path}") from None
    except (ValueError, TypeError) as exc:
        raise SigningError(f"cannot read private key {key_path}: {exc} (wrong passphrase, or not a PEM key)") from None
    return SigningIdentity(key, load_certificate(cert_path), tuple(load_certificate(p) for p in chain))


def load_certificate(path: Path) -> x509.Certificate:
    """A certificate from a PEM or DER file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningError(f"certificate file not found: {path}") from None
    try:
        return x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise SigningError(f"{path} is not a PEM or DER certificate: {exc}") from None


# ---- the demo certificate authority ---------------------------------------------------------------


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


CN_MAX_BYTES = 64  # X.520 ub-common-name; the cryptography package counts UTF-8 bytes (21 Chinese characters)


def fit_common_name(text: str) -> str:
    """``text`` as a certificate's common name (CN): cut to 64 UTF-8 bytes, ending in … when cut.
    Long names are common (新疆生产建设兵团第十三师妇女联合会（演示用） is 66 bytes); the full
    name stays in the organisation (O) attribute, which has no such bound here."""
    if len(text.encode("utf-8")) <= CN_MAX_BYTES:
        return text
    while len((text + "…").encode("utf-8")) > CN_MAX_BYTES:
        text = text[:-1]
    return text + "…"


def _name(common: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{DEMO_MARK}证书（非真实机构证书）"),
            x509.NameAttribute(NameOID.COMMON_NAME, fit_common_name(common)),
        ]
    )


@dataclass
class DemoAuthority:
    """演示用证书颁发机构: a local CA under ``folder`` (e.g. ``$GONGWEN_HOME/seals/demo-ca``).

    Created on first use, reused afterwards; one ECDSA P-256 key and certificate per
    organisation. Keys are written unencrypted with mode 0600: they sign demo documents only.
    Several processes may start at once: creation is serialised with a file lock.
    """

    folder: Path
    _root: tuple[Any, x509.Certificate] | None = field(default=None, init=False, repr=False)

    @property
    def root_path(self) -> Path:
        return self.folder / "ca.cert.pem"

    def root(self) -> tuple[Any, x509.Certificate]:
        if self._root is None:
            with folder_locked(self.folder):
                key_path = self.folder / "ca.key.pem"
                if not (key_path.exists() and self.root_path.exists()):
                    key = ec.generate_private_key(ec.SECP256R1())
                    name = _name(f"gongwen {DEMO_MARK}根证书", f"gongwen {DEMO_MARK}证书颁发机构")
                    cert = (
                        _builder(name, name, key.public_key())
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                        .sign(key, hashes.SHA256())
                    )
                    write_atomically(_key_pem(key), key_path, mode=0o600)
                    write_atomically(cert.public_bytes(serialization.Encoding.PEM), self.root_path, mode=0o600)
                self._root = (serialization.load_pem_private_key(key_path.read_bytes(), None), load_certificate(self.root_path))
        return self._root

    def identity(self, org_code: str, org_name: str) -> SigningIdentity:
        """The organisation's demo certificate (created on first use)."""
        ca_key, ca_cert = self.root()
        key_path, cert_path = self.folder / f"{org_code}.key.pem", self.folder / f"{org_code}.cert.pem"
        if not (key_path.exists() and cert_path.exists()):
            with folder_locked(self.folder):
                if not (key_path.exists() and cert_path.exists()):
                    key = ec.generate_private_key(ec.SECP256R1())
                    cert = (
                        _builder(_name(f"{org_name}（{DEMO_MARK}）", org_name), ca_cert.subject, key.public_key())
                        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                        # digital signature + non-repudiation (content commitment), as PAdES validators expect
                        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
                        .sign(ca_key, hashes.SHA256())
                    )
                    write_atomically(_key_pem(key), key_path, mode=0o600)
                    write_atomically(cert.public_bytes(serialization.Encoding.PEM), cert_path, mode=0o600)
        return SigningIdentity(serialization.load_pem_private_key(key_path.read_bytes(), None), load_certificate(cert_path), (ca_cert,))


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + DEMO_VALIDITY)
    )


# ---- signing ----------------------------------------------------------------------------------


class Keyring:
    """The signing identities and trust roots a seals file (``config/seals.py``) names, each
    identity loaded once: the configured key of an organisation, or a demo certificate."""

    def __init__(self, seals: SealConfig) -> None:
        self.seals = seals
        self._identities: dict[str, SigningIdentity] = {}

    def identity(self, org: Organisation) -> SigningIdentity:
        """The organisation's signing identity: its configured key, or a demo certificate."""
        if org.code not in self._identities:
            self._identities[org.code] = self._load_identity(org)
        return self._identities[org.code]

    def _load_identity(self, org: Organisation) -> SigningIdentity:
        seals = self.seals
        entry = seals.entry(org.code)
        if not entry.has_key:
            if not seals.file.demo_certificates:
                raise SourceError(
                    seals.path,
                    seals.doc.line_of(("organisations",)) if seals.doc else None,
                    f"organisation '{org.code}' ({org.name}) has no signing key, and demo_certificates is off",
                    f"add organisations: {{{org.code}: {{pkcs12: ...}}}} to {SEALS_FILE}, or set demo_certificates: true for a demo",
                )
            return self.demo_authority().identity(org.code, org.name)
        passphrase = seals.passphrase(org.code, entry)
        try:
            if entry.pkcs12:
                return load_pkcs12_identity(seals.resolve(entry.pkcs12), passphrase)
            return load_pem_identity(seals.resolve(entry.key), seals.resolve(entry.certificate), [seals.resolve(p) for p in entry.chain], passphrase)
        except SigningError as exc:
            raise seals.error(org.code, "pkcs12" if entry.pkcs12 else "key", str(exc), "check the path, the file and its passphrase") from None

    def demo_authority(self) -> DemoAuthority:
        return DemoAuthority(self.seals.demo_ca_folder)

    def trust_roots(self) -> list[x509.Certificate]:
        """Certificates a verification accepts as roots: the configured ones (+ the demo CA)."""
        seals = self.seals
        roots = []
        for i, path in enumerate(seals.file.trust):
            try:
                roots.append(load_certificate(seals.resolve(path)))
            except SigningError as exc:
                raise SourceError(seals.path, seals.doc.line_of(("trust", i)) if seals.doc else None, str(exc), "fix or remove this trust entry") from None
        demo_root = self.demo_authority().root_path
        if seals.file.demo_certificates and demo_root.is_file():  # never created by a verification
            roots.append(load_certificate(demo_root))
        return roots


@dataclass(frozen=True)
class VisibleSeal:
    """Where the seal goes: 0-based page and box in PDF points (x1, y1, x2, y2, origin bottom-left),
    and its picture (``seal.seal_picture``)."""

    page: int
    box: tuple[float, float, float, float]
    picture: Image.Image


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def sign_pdf(pdf: bytes, identity: SigningIdentity, seal: VisibleSeal | None, reason: str, location: str | None = None) -> bytes:
    """PAdES-sign ``pdf`` (an incremental update); with ``seal``, the seal image is the
    signature's appearance, so the visible seal and the digital signature are one object.

    The room for the signature (the CMS, hex in /Contents) is pyHanko's own estimate — a dry-run
    signature, 1/6 of a signature's CPU — the first time the process signs with a key of its kind,
    and computed from what that one measured afterwards (:func:`_reserve`); a signature that would
    not fit is made again with pyHanko's estimate."""
    from pyhanko.sign.general import SigningError as PdfSigningError

    reserved = _reserve(identity)
    try:
        signed = _signed(pdf, identity, seal, reason, location, reserved)
    except PdfSigningError as exc:
        if reserved is None or "larger than expected" not in str(exc):
            raise
        logging.getLogger(__name__).warning("signature larger than the room computed for it (%s): signing again with pyHanko's estimate", exc)
        with _reserve_lock:
            _cms_overhead.pop(_key_kind(identity), None)
        reserved, signed = None, _signed(pdf, identity, seal, reason, location, None)
    if reserved is None:
        _learn_reserve(identity, signed)
    return signed


def _signed(pdf: bytes, identity: SigningIdentity, seal: VisibleSeal | None, reason: str, location: str | None, bytes_reserved: int | None) -> bytes:
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import StaticStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der_key = identity.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    signer = signers.SimpleSigner(
        signing_cert=_asn1_cert(identity.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        # pyhanko_certvalidator leaves SimpleCertificateStore.from_certs (and the class's __init__) unannotated.
        cert_registry=SimpleCertificateStore.from_certs([_asn1_cert(c) for c in identity.chain]),  # type: ignore[no-untyped-call]
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    style = None
    if seal is not None:
        # pyHanko annotates SigFieldSpec.box as ints; PDF rectangles are reals, and it writes them as given.
        spec = fields.SigFieldSpec(SIGNATURE_FIELD, on_page=seal.page, box=seal.box)  # type: ignore[arg-type]
        fields.append_signature_field(writer, spec)
        centred = layout.SimpleBoxLayoutRule(x_align=layout.AxisAlignment.ALIGN_MID, y_align=layout.AxisAlignment.ALIGN_MID, margins=layout.Margins(0, 0, 0, 0))
        style = StaticStampStyle(background=PdfImage(seal.picture), background_opacity=1.0, border_width=0, background_layout=centred)
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        name=identity.subject,
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=signer, stamp_style=style).sign_pdf(writer, output=out, bytes_reserved=bytes_reserved)
    return out.getvalue()


# The CMS of a signature is the identity's certificates (signer and chain, embedded), its issuer and
# serial twice (SignerInfo's sid, the signing-certificate-v2 attribute) and a part that depends only
# on the kind of key (algorithms, signed attributes, the signature value): that part, measured once
# per process and kind of key, gives the room for any identity's next signature without a dry run.
_cms_overhead: dict[tuple[str, int | str, int], int] = {}
_reserve_lock = threading.Lock()
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _key_kind(identity: SigningIdentity) -> tuple[str, int | str, int]:
    key = identity.key.public_key() if hasattr(identity.key, "public_key") else None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ("ec", key.curve.name, len(identity.chain))
    if isinstance(key, rsa.RSAPublicKey):
        return ("rsa", key.key_size, len(identity.chain))
    return ("other", 0, len(identity.chain))


def _identity_bytes(identity: SigningIdentity) -> int:
    """The CMS bytes that vary between identities of one kind of key."""
    cert = identity.certificate
    issuer_serial = len(cert.issuer.public_bytes()) + len(_asn1_cert(cert)["tbs_certificate"]["serial_number"].dump())
    return sum(len(c.public_bytes(serialization.Encoding.DER)) for c in (cert, *identity.chain)) + 2 * issuer_serial


def _reserve(identity: SigningIdentity) -> int | None:
    """The room for ``identity``'s signature (hex digits), pyHanko's way (twice the CMS, plus 50%),
    from the overhead measured for its kind of key; None before one was measured."""
    kind = _key_kind(identity)
    with _reserve_lock:
        overhead = _cms_overhead.get(kind)
    if overhead is None or kind[0] == "other":
        return None
    hex_len = 2 * (overhead + _identity_bytes(identity))
    return hex_len + 2 * (hex_len // 4)


def _learn_reserve(identity: SigningIdentity, signed: bytes) -> None:
    """Measure the CMS of ``signed`` (its last /ByteRange's gap holds the hex) and keep its part that
    depends only on the kind of key."""
    found = list(_BYTE_RANGE.finditer(signed))
    if not found:
        return
    start, end = int(found[-1].group(2)), int(found[-1].group(3))
    head = bytes.fromhex(signed[start + 1 : min(end - 1, start + 13)].decode("ascii"))
    if len(head) < 2 or head[0] != 0x30:
        return
    if head[1] < 0x80:
        cms_len = 2 + head[1]
    else:
        n = head[1] & 0x7F
        cms_len = 2 + n + int.from_bytes(head[2 : 2 + n], "big")
    with _reserve_lock:
        kind = _key_kind(identity)
        _cms_overhead[kind] = max(_cms_overhead.get(kind, 0), cms_len - _identity_bytes(identity))


# ---- verification -----------------------------------------------------------------------------


class CheckStatus(StrEnum):
    """核验结果."""

    valid = "valid"  # 有效
    changed = "changed"  # 签名后文件被改动
    untrusted = "untrusted"  # 证书不受信任（未知证书）
    unsigned = "unsigned"  # 没有数字签名（或签名已被去除）
    invalid = "invalid"  # 签名值无效或已损坏
    unreadable = "unreadable"  # 不是可读的 PDF
    absent = "absent"  # 没有收到盖章的 PDF


MESSAGES = {
    CheckStatus.valid: "印章有效：签名完整，签名后文件未被改动，证书受信任。",
    CheckStatus.changed: "文件在盖章（签名）后被改动过，内容不可信。",
    CheckStatus.untrusted: "签名证书不受信任：签发该证书的机构不在本系统的信任列表中（未知证书）。",
    CheckStatus.unsigned: "本文件没有数字签名：未加盖电子印章，或签名已被去除。",
    CheckStatus.invalid: "签名无效：签名数据已损坏或与证书不符。",
    CheckStatus.unreadable: "无法读取该文件：不是完整的 PDF 文件，或已损坏。",
    CheckStatus.absent: "来文没有附带盖章的 PDF 或 OFD 文件，无法核验印章。",
}


@dataclass(frozen=True)
class SealCheck:
    """印章核验: the outcome of verifying one PDF (JSON-ready through :meth:`as_dict`)."""

    status: CheckStatus
    message: str
    signer: str | None = None
    organisation: str | None = None
    signed_at: str | None = None  # ISO 8601, the signer's claimed time (no time-stamp authority)
    certificate: dict[str, str] | None = None
    covers_whole_file: bool | None = None
    detail: str | None = None  # technical detail (English), for logs
    parts: dict[str, list[str]] | None = None  # an OFD's changed / removed / added parts (ofd_verify.py)

    @property
    def ok(self) -> bool:
        return self.status == CheckStatus.valid

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in self.__dict__.items()}


def check(status: CheckStatus, detail: str | None = None, **facts: Any) -> SealCheck:
    return SealCheck(status, MESSAGES[status], detail=detail, **facts)


def certificate_facts(cert: x509.Certificate) -> dict[str, str]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "sha256": fingerprint(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def verify_pdf(data: bytes, trust_roots: Sequence[x509.Certificate]) -> SealCheck:
    """Verify the last signature of ``data`` against ``trust_roots`` (no network fetching)."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        return check(CheckStatus.unreadable, f"{type(exc).__name__}: {exc}")
    if not signatures:
        return check(CheckStatus.unsigned)
    sig = signatures[-1]
    context = ValidationContext(trust_roots=[_asn1_cert(c) for c in trust_roots], allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(sig, context)
    except Exception as exc:  # a damaged signature raises from deep inside the CMS parser
        return check(CheckStatus.invalid, f"{type(exc).__name__}: {exc}")
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    signed_at = status.signer_reported_dt or sig.self_reported_timestamp
    facts: dict[str, Any] = {
        "signer": common_name(cert),
        "organisation": _organisation(cert),
        "signed_at": signed_at.isoformat() if signed_at else None,
        "certificate": certificate_facts(cert),
        "covers_whole_file": status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
    }
    if not status.intact:
        return check(CheckStatus.changed, "the document digest does not match the signed digest", **facts)
    if not status.valid:
        return check(CheckStatus.invalid, "the signature value does not verify with the signer's key", **facts)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return check(CheckStatus.changed, f"bytes were appended after signing (coverage {getattr(status.coverage, 'name', 'unknown')})", **facts)
    if not status.trusted:
        return check(CheckStatus.untrusted, f"no path to a trusted root ({status.trust_problem_indic})", **facts)
    return check(CheckStatus.valid, **facts)


def _organisation(cert: x509.Certificate) -> str | None:
    found = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(found[0].value) if found else None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
