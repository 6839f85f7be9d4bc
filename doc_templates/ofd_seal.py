"""The OFD's electronic seal (电子印章, GB/T 38540-2020): SM2 keys and demo certificates, the
SES_Signature over the OFD's parts, and its place in the package (GB/T 33190 §18).

* :class:`Sm2Key` — an SM2 key pair (gmssl), signing with SM3 and the default signer ID;
* :class:`DemoSm2Authority` — for the demo only, like the PAdES demo CA (``signing.py``): a local
  SM2 root under ``$GONGWEN_HOME/seals/demo-sm2/`` and one SM2 key, certificate and electronic
  seal per organisation, every name marked 演示用;
* :func:`seal_ofd` — adds ``Doc_0/Signs/Signatures.xml``, ``Sign_0/Signature.xml`` (References
  carrying the SM3 digest of every other part, the stamp annotation where the PDF seal goes)
  and ``Sign_0/SignedValue.dat`` (the DER SES_Signature: the seal with its picture, the time,
  the SM3 digest of Signature.xml, the SM2 signature over TBS_Sign).

Checking is not done here: ``ofd_verify.py`` parses and checks independently.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from asn1crypto.core import BitString, GeneralizedTime, ObjectIdentifier, OctetString
from gmssl import sm2, sm3

from gongwen_engine.config.files import folder_locked, write_atomically
from gongwen_engine.config.schema import Organisation
from gongwen_engine.config.seals import SEALS_FILE, SealConfig, Sm2FileError, load_sm2_pair
from gongwen_engine.config.yamlsrc import SourceError
from gongwen_engine.doc_templates import ses
from gongwen_engine.doc_templates.ofd import DOC_ROOT, OFD_NS, OfdMetadata, OfdParts, ofd_xml

DEMO_MARK = "演示用"
DEMO_VALIDITY = timedelta(days=3650)
DEMO_SM2_FOLDER = Path("seals") / "demo-sm2"  # under the gongwen home folder
SIGNS = f"{DOC_ROOT}/Signs"
SIGNATURE_XML = f"{SIGNS}/Sign_0/Signature.xml"
SIGNED_VALUE = f"{SIGNS}/Sign_0/SignedValue.dat"
_CURVE = sm2.default_ecc_table


def sm3_digest(data: bytes) -> bytes:
    if "sm3" in hashlib.algorithms_available:  # OpenSSL's SM3: the fonts are megabytes
        return hashlib.new("sm3", data).digest()
    return bytes.fromhex(sm3.sm3_hash(list(data)))


# SM2 (GB/T 32918) signing with Python integers in Jacobian coordinates: gmssl's implementation
# works on hex strings and takes 1–3 s per signature on a busy machine; this takes milliseconds.
# Verification (ofd_verify.py) uses gmssl, so the two are checked against each other.
_P, _A, _B, _N = (int(_CURVE[k], 16) for k in ("p", "a", "b", "n"))
_G = (int(_CURVE["g"][:64], 16), int(_CURVE["g"][64:], 16))


def _double(point: tuple[int, int, int]) -> tuple[int, int, int]:
    x, y, z = point
    if not y:
        return (0, 1, 0)
    yy = y * y % _P
    s = 4 * x * yy % _P
    zz = z * z % _P
    m = (3 * x * x + _A * zz * zz) % _P
    nx = (m * m - 2 * s) % _P
    return (nx, (m * (s - nx) - 8 * yy * yy) % _P, 2 * y * z % _P)


def _add(p1: tuple[int, int, int], p2: tuple[int, int, int]) -> tuple[int, int, int]:
    if not p1[2]:
        return p2
    if not p2[2]:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % _P, z2 * z2 % _P
    u1, u2 = x1 * z2z2 % _P, x2 * z1z1 % _P
    s1, s2 = y1 * z2 * z2z2 % _P, y2 * z1 * z1z1 % _P
    if u1 == u2:
        return _double(p1) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % _P, (s2 - s1) % _P
    hh = h * h % _P
    hhh = h * hh % _P
    v = u1 * hh % _P
    x3 = (r * r - hhh - 2 * v) % _P
    return (x3, (r * (v - x3) - s1 * hhh) % _P, h * z1 * z2 % _P)


def _multiply(k: int, point: tuple[int, int]) -> tuple[int, int]:
    result, addend = (0, 1, 0), (point[0], point[1], 1)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    x, y, z = result
    zi = pow(z, -1, _P)
    return (x * zi * zi % _P, y * zi * zi * zi % _P)


def _z(public: str) -> bytes:
    """Z_A of GB/T 32918.2: SM3(ENTL || ID || a || b || xG || yG || xA || yA)."""
    entl = (len(ses.SM2_USER_ID) * 8).to_bytes(2, "big")
    fields = b"".join(v.to_bytes(32, "big") for v in (_A, _B, *_G)) + bytes.fromhex(public)
    return sm3_digest(entl + ses.SM2_USER_ID + fields)


@dataclass(frozen=True)
class Sm2Key:
    """An SM2 key pair: the private scalar and the public point X||Y, as hex."""

    private: str
    public: str

    @classmethod
    def generate(cls) -> Sm2Key:
        d = secrets.randbelow(_N - 2) + 1
        x, y = _multiply(d, _G)
        return cls(format(d, "064x"), format(x, "064x") + format(y, "064x"))

    def sign(self, data: bytes) -> bytes:
        """SM2 with SM3 (Z with the default signer ID) over ``data``: DER (r, s)."""
        e = int.from_bytes(sm3_digest(_z(self.public) + data), "big")
        d = int(self.private, 16)
        while True:
            k = secrets.randbelow(_N - 1) + 1
            r = (e + _multiply(k, _G)[0]) % _N
            if r == 0 or r + k == _N:
                continue
            s = pow(1 + d, -1, _N) * (k - r * d) % _N
            if s:
                return bytes(ses.Sm2Signature({"r": r, "s": s}).dump())

    def public_key_info(self) -> asn1_keys.PublicKeyInfo:
        return asn1_keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "ec", "parameters": ("named", ses.SM2_CURVE)},
                "public_key": bytes.fromhex("04" + self.public),
            }
        )


def make_certificate(
    subject: str, organisation: str, key: Sm2Key, issuer: asn1_x509.Name | None, issuer_key: Sm2Key, ca: bool, valid_until: datetime | None = None
) -> asn1_x509.Certificate:
    """An X.509 certificate for an SM2 key, signed SM2-with-SM3 by ``issuer_key`` (valid from a day
    ago for the demo's ten years, or until ``valid_until``)."""
    name = asn1_x509.Name.build({"common_name": subject, "organization_name": organisation})
    now = datetime.now(UTC).replace(microsecond=0)
    until = valid_until or now + DEMO_VALIDITY
    extensions = [{"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}}]
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": secrets.randbits(63),
            "signature": {"algorithm": ses.SM2_WITH_SM3},
            "issuer": issuer or name,
            "validity": {"not_before": asn1_x509.Time({"utc_time": now - timedelta(days=1)}), "not_after": asn1_x509.Time({"utc_time": until})},
            "subject": name,
            "subject_public_key_info": key.public_key_info(),
            "extensions": extensions,
        }
    )
    signature = issuer_key.sign(tbs.dump())
    return asn1_x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": ses.SM2_WITH_SM3}, "signature_value": signature})


@dataclass(frozen=True)
class OfdSealIdentity:
    """An organisation's SM2 key, its certificate, and the maker's (the CA's) key and certificate."""

    key: Sm2Key
    certificate: asn1_x509.Certificate
    maker_key: Sm2Key
    maker_certificate: asn1_x509.Certificate

    @property
    def organisation(self) -> str:
        return str(self.certificate.subject.native.get("organization_name", ""))


@dataclass
class DemoSm2Authority:
    """演示用 SM2 证书与电子印章: a local root under ``folder``, created on first use, reused after.
    Keys are written unencrypted with mode 0600: they seal demo documents only."""

    folder: Path

    @property
    def root_path(self) -> Path:
        return self.folder / "root.cert.der"

    def _pair(self, stem: str, make) -> tuple[Sm2Key, asn1_x509.Certificate]:  # type: ignore[no-untyped-def]
        key_file, cert_file = self.folder / f"{stem}.key", self.folder / f"{stem}.cert.der"
        if not (key_file.exists() and cert_file.exists()):
            key = Sm2Key.generate()
            cert = make(key)
            write_atomically(f"{key.private}\n{key.public}\n".encode(), key_file, mode=0o600)
            write_atomically(cert.dump(), cert_file, mode=0o600)
        private, public = key_file.read_text().split()
        return Sm2Key(private, public), asn1_x509.Certificate.load(cert_file.read_bytes())

    def root(self) -> tuple[Sm2Key, asn1_x509.Certificate]:
        with folder_locked(self.folder):
            name = f"gongwen SM2 根证书（{DEMO_MARK}）"
            return self._pair("root", lambda key: make_certificate(name, f"gongwen（{DEMO_MARK}）", key, None, key, ca=True))

    def identity(self, org_code: str, org_name: str) -> OfdSealIdentity:
        root_key, root_cert = self.root()
        with folder_locked(self.folder):
            key, cert = self._pair(
                org_code,
                lambda key: make_certificate(f"{org_name}（{DEMO_MARK}电子印章）", f"{org_name}（{DEMO_MARK}）", key, root_cert.subject, root_key, ca=False),
            )
        return OfdSealIdentity(key, cert, root_key, root_cert)


def demo_sm2_authority(seals: SealConfig) -> DemoSm2Authority:
    """The demo SM2 authority beside the PAdES demo CA (``$GONGWEN_HOME/seals/demo-sm2``)."""
    return DemoSm2Authority(seals.demo_ca_folder.parent / DEMO_SM2_FOLDER.name)


def ofd_identity(seals: SealConfig, org: Organisation) -> OfdSealIdentity:
    """The organisation's SM2 seal identity: its own key and certificate when seals.yaml names them
    (``sm2_key``, ``sm2_certificate``; checked when the file is loaded: SM2, matching, in force),
    which also make its seal (the organisation is its own 制章者); else the demo one."""
    entry = seals.entry(org.code)
    if entry.sm2_key and entry.sm2_certificate:
        try:
            pair = load_sm2_pair(seals.resolve(entry.sm2_key), seals.resolve(entry.sm2_certificate))
        except Sm2FileError as exc:  # expired since the configuration was loaded, or the file changed
            raise seals.error(org.code, "sm2_key", str(exc), "请换用该单位有效的 SM2 私钥和与之配对、在有效期内的证书（PEM）") from None
        key = Sm2Key(pair.private, pair.public)
        return OfdSealIdentity(key, pair.certificate, key, pair.certificate)
    if not seals.file.demo_certificates:
        raise SourceError(
            seals.path,
            seals.doc.line_of(("organisations",)) if seals.doc else None,
            f"organisation '{org.code}' ({org.name}) has no SM2 electronic seal for OFD (sm2_key, sm2_certificate), and demo_certificates is off",
            f"name its SM2 key and certificate in {SEALS_FILE}, set demo_certificates: true for a demo,"
            " or issue the document as pdf only (organisation's issued_formats)",
        )
    return demo_sm2_authority(seals).identity(org.code, org.name)


def ofd_trust_roots(seals: SealConfig) -> list[bytes]:
    """DER certificates of the SM2 roots an OFD verification trusts: the SM2 certificates among
    seals.yaml's ``trust`` (the others are the PDF's), and the demo root when on and already
    created (a verification never creates it)."""
    roots = []
    for path in seals.file.trust:
        try:
            der = seals.resolve(path).read_bytes()
            der = pem.unarmor(der)[2] if pem.detect(der) else der
            info = asn1_x509.Certificate.load(der)["tbs_certificate"]["subject_public_key_info"]
            if getattr(info["algorithm"]["parameters"].chosen, "dotted", None) == ses.SM2_CURVE:
                roots.append(der)
        except (OSError, ValueError, TypeError):
            continue  # load_seal_config checked it is there; one that is not an SM2 certificate is the PDF's
    root = demo_sm2_authority(seals).root_path
    return roots + ([root.read_bytes()] if seals.file.demo_certificates and root.is_file() else [])


def identity_fingerprint(identity: OfdSealIdentity) -> str:
    """SHA-256 of the signer's certificate (hex), as 用印 records it and the archive compares it."""
    return hashlib.sha256(identity.certificate.dump()).hexdigest()


@dataclass(frozen=True)
class StampPlace:
    """Where the seal goes: 0-based page, box in mm from the page's top-left corner."""

    page: int
    x: float
    y: float
    width: float
    height: float


def _gtime(when: datetime) -> GeneralizedTime:
    return GeneralizedTime(when.astimezone(UTC).replace(microsecond=0))


def make_seal(identity: OfdSealIdentity, png: bytes, diameter_mm: float, seal_name: str, when: datetime) -> ses.SESeal:
    """The electronic seal (SESeal): its picture and owner, signed by its maker."""
    info = ses.SesSealInfo(
        {
            "header": {"id": "ES", "version": ses.SES_VERSION, "vid": "gongwen"},
            "es_id": f"gongwen-{identity.certificate.serial_number:x}",
            "property": {
                "type": 1,
                "name": seal_name,
                "cert_list_type": 1,
                "cert_list": [identity.certificate.dump()],
                "create_date": _gtime(when),
                "valid_start": _gtime(when),
                "valid_end": _gtime(when + DEMO_VALIDITY),
            },
            "picture": {"type": "png", "data": png, "width": round(diameter_mm), "height": round(diameter_mm)},
        }
    )
    cert = OctetString(identity.maker_certificate.dump())
    algorithm = ObjectIdentifier(ses.SM2_WITH_SM3)
    # the maker signs the DER of esealInfo, cert and signAlgID, one after the other
    signed = identity.maker_key.sign(info.dump() + cert.dump() + algorithm.dump())
    return ses.SESeal({"eseal_info": info, "cert": cert, "sign_alg_id": algorithm, "signed_value": _bits(signed)})


def _bits(data: bytes) -> BitString:
    return BitString(tuple(int(bit) for byte in data for bit in format(byte, "08b")))


def seal_ofd(parts: OfdParts, meta: OfdMetadata, identity: OfdSealIdentity, png: bytes, place: StampPlace | None, when: datetime | None = None) -> bytes:
    """The sealed OFD package: ``parts`` plus the signature parts (GB/T 33190 §18, type Seal)."""
    when = when or datetime.now(UTC)
    files = dict(parts.files)
    files["OFD.xml"] = ofd_xml(meta, signed=True)
    files[f"{SIGNS}/Signatures.xml"] = _xml(
        f'<ofd:Signatures xmlns:ofd="{OFD_NS}"><ofd:MaxSignId>1</ofd:MaxSignId>'
        '<ofd:Signature ID="1" Type="Seal" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>'
    )
    references = "".join(
        f'<ofd:Reference FileRef="/{name}"><ofd:CheckValue>{base64.b64encode(sm3_digest(data)).decode()}</ofd:CheckValue></ofd:Reference>'
        for name, data in files.items()
    )
    stamp = ""
    if place is not None:
        stamp = f'<ofd:StampAnnot ID="1" PageRef="{parts.page_ids[place.page]}" Boundary="{place.x:.2f} {place.y:.2f} {place.width:.2f} {place.height:.2f}"/>'
    signature_xml = _xml(
        f'<ofd:Signature xmlns:ofd="{OFD_NS}"><ofd:SignedInfo>'
        '<ofd:Provider ProviderName="gongwen" Version="1.0" Company="gongwen"/>'
        f"<ofd:SignatureMethod>{ses.SM2_WITH_SM3}</ofd:SignatureMethod>"
        f"<ofd:SignatureDateTime>{when.astimezone(UTC).strftime('%Y%m%d%H%M%SZ')}</ofd:SignatureDateTime>"
        f'<ofd:References CheckMethod="{ses.SM3}">{references}</ofd:References>{stamp}</ofd:SignedInfo>'
        f"<ofd:SignedValue>/{SIGNED_VALUE}</ofd:SignedValue></ofd:Signature>"
    )
    seal_name = f"{meta.issuer}（{DEMO_MARK}）" if DEMO_MARK in str(identity.certificate.subject.native) else meta.issuer
    diameter = place.width if place else 42.0
    tbs = ses.TbsSign(
        {
            "version": ses.SES_VERSION,
            "eseal": make_seal(identity, png, diameter, seal_name, when),
            "time_info": _gtime(when),
            "data_hash": _bits(sm3_digest(signature_xml)),
            "property_info": "/" + SIGNATURE_XML,
        }
    )
    value = ses.SesSignature(
        {
            "to_sign": tbs,
            "cert": identity.certificate.dump(),
            "signature_alg_id": ses.SM2_WITH_SM3,
            "signature": _bits(identity.key.sign(tbs.dump())),
        }
    )
    files[SIGNATURE_XML] = signature_xml
    files[SIGNED_VALUE] = value.dump()
    return OfdParts(files, parts.page_ids, parts.page_sizes, parts.next_id).zip()


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")
