"""印章核验 of an OFD (GB/T 33190 §18, GB/T 38540): checked here on its own, not with the code
that seals (``ofd_seal.py``): the zip and the XML are read as a reader finds them (OFD.xml →
Signatures.xml → Signature.xml), every Reference's SM3 digest is computed again, the
SES_Signature is parsed from its DER (the structures of ``ses.py``), its dataHash compared with
Signature.xml, and the SM2 signatures (the signer's over TBS_Sign, the root's over the signer's
certificate) are checked with gmssl from the public keys in the certificates.

The outcome is a :class:`signing.SealCheck` like the PDF's, with the changed, removed and added
parts named (``parts``) and said in Chinese.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from asn1crypto import x509 as asn1_x509
from asn1crypto.core import BitString
from gmssl import sm2, sm3

from gongwen_engine.doc_templates import ses
from gongwen_engine.doc_templates.signing import CheckStatus, SealCheck

_NS = "{http://www.ofdspec.org/2016}"
UNREADABLE = "无法读取该文件：不是完整的 OFD 文件，或已损坏。"
MESSAGES = {
    CheckStatus.valid: "电子印章有效：签名完整，盖章后文件各部分未被改动，证书受信任。",
    CheckStatus.changed: "文件在盖章后被改动过，内容不可信。",
    CheckStatus.untrusted: "签章证书不受信任：签发该证书的机构不在本系统的信任列表中（未知证书）。",
    CheckStatus.unsigned: "本文件没有电子印章：未盖章，或印章已被去除。",
    CheckStatus.invalid: "电子印章无效：签名数据已损坏、与证书不符，或不是本文件的印章。",
    CheckStatus.unreadable: UNREADABLE,
}
PART_WORDS = {"changed": "被改动的部分", "removed": "被删除的部分", "added": "被添加的部分"}


def _result(status: CheckStatus, detail: str | None = None, parts: dict[str, list[str]] | None = None, **facts: Any) -> SealCheck:
    message = MESSAGES[status]
    if parts:
        message += "".join(f"{PART_WORDS[k]}：{'、'.join(v)}。" for k, v in parts.items() if v)
    return SealCheck(status, message, detail=detail, parts=parts, **facts)


def _sm3(data: bytes) -> bytes:
    if "sm3" in hashlib.algorithms_available:
        return hashlib.new("sm3", data).digest()
    return bytes.fromhex(sm3.sm3_hash(list(data)))


def _bits(value: BitString) -> bytes:
    bits = "".join(str(b) for b in value.native)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def _sm2_verifies(public_point: bytes, der_signature: bytes, data: bytes) -> bool:
    if len(public_point) != 65 or public_point[0] != 4:
        return False
    parsed = ses.Sm2Signature.load(der_signature)
    r, s = parsed["r"].native, parsed["s"].native
    crypt = sm2.CryptSM2(private_key=None, public_key="")
    crypt.public_key = public_point[1:].hex()  # set after: the constructor strips leading '0'/'4' chars
    return bool(crypt.verify_with_sm3(format(r, "064x") + format(s, "064x"), data))


def _public_point(cert: asn1_x509.Certificate) -> bytes:
    info = cert["tbs_certificate"]["subject_public_key_info"]
    if info["algorithm"]["parameters"].chosen.dotted != ses.SM2_CURVE:
        return b""
    return bytes(info["public_key"].native)


def _certificate_facts(cert: asn1_x509.Certificate) -> dict[str, str]:
    validity = cert["tbs_certificate"]["validity"]
    return {
        "subject": cert.subject.human_friendly,
        "issuer": cert.issuer.human_friendly,
        "serial": format(cert.serial_number, "x"),
        "sha256": hashlib.sha256(cert.dump()).hexdigest(),
        "not_before": validity["not_before"].native.isoformat(),
        "not_after": validity["not_after"].native.isoformat(),
    }


def _join(folder: str, location: str) -> str:
    if location.startswith("/"):
        return location.lstrip("/")
    return f"{folder}/{location}" if folder else location


def _folder(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def verify_ofd(data: bytes, trust_roots: Sequence[bytes]) -> SealCheck:
    """Verify the last seal of the OFD ``data``; ``trust_roots``: DER certificates of SM2 roots.
    A package whose parts cannot be read back (a damaged or forged zip, received from outside) is
    unreadable, whichever part it is."""
    try:
        return _verify_ofd(data, trust_roots)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        return _result(CheckStatus.unreadable, f"{type(exc).__name__}: {exc}")


def _verify_ofd(data: bytes, trust_roots: Sequence[bytes]) -> SealCheck:
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = set(package.namelist())
        ofd = ElementTree.fromstring(package.read("OFD.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        return _result(CheckStatus.unreadable, f"{type(exc).__name__}: {exc}")
    signatures_loc = ofd.findtext(f"{_NS}DocBody/{_NS}Signatures")
    if not signatures_loc:
        return _result(CheckStatus.unsigned, "OFD.xml names no Signatures")
    signatures_name = signatures_loc.strip().lstrip("/")
    if signatures_name not in names:
        return _result(CheckStatus.unsigned, f"{signatures_name} is missing", parts={"removed": [signatures_name]})
    try:
        entries = ElementTree.fromstring(package.read(signatures_name)).findall(f"{_NS}Signature")
    except ElementTree.ParseError as exc:
        return _result(CheckStatus.changed, f"{signatures_name}: {exc}", parts={"changed": [signatures_name]})
    if not entries:
        return _result(CheckStatus.unsigned, f"{signatures_name} lists no signature")
    signature_name = _join(_folder(signatures_name), entries[-1].get("BaseLoc", ""))
    if signature_name not in names:
        return _result(CheckStatus.unsigned, f"{signature_name} is missing", parts={"removed": [signature_name]})
    signature_bytes = package.read(signature_name)
    try:
        signature = ElementTree.fromstring(signature_bytes)
    except ElementTree.ParseError as exc:
        return _result(CheckStatus.changed, f"{signature_name}: {exc}", parts={"changed": [signature_name]})
    value_name = (signature.findtext(f"{_NS}SignedValue") or "").strip().lstrip("/")
    own = {name for entry in entries for name in _signature_parts(package, _join(_folder(signatures_name), entry.get("BaseLoc", "")), names)}
    own |= {signature_name, value_name}

    # every part the seal covers, digested again
    parts: dict[str, list[str]] = {"changed": [], "removed": [], "added": []}
    referenced = set()
    for reference in signature.iter(f"{_NS}Reference"):
        name = (reference.get("FileRef") or "").lstrip("/")
        referenced.add(name)
        if name not in names:
            parts["removed"].append(name)
        elif base64.b64encode(_sm3(package.read(name))).decode() != (reference.findtext(f"{_NS}CheckValue") or "").strip():
            parts["changed"].append(name)
    parts["added"] = sorted(names - referenced - own)

    if value_name not in names:
        return _result(CheckStatus.unsigned, f"{value_name} is missing", parts={"removed": [value_name]})
    try:
        value = ses.SesSignature.load(package.read(value_name))
        to_sign = value["to_sign"]
        cert = asn1_x509.Certificate.load(value["cert"].native)
        data_hash = _bits(to_sign["data_hash"])
        signed_at = to_sign["time_info"].native
        signature_value = _bits(value["signature"])
        cert_list = list(to_sign["eseal"]["eseal_info"]["property"]["cert_list"].native)
        property_info = to_sign["property_info"].native
        point = _public_point(cert)
        eseal = to_sign["eseal"]
        maker = asn1_x509.Certificate.load(eseal["cert"].native)
        maker_signed = eseal["eseal_info"].dump() + eseal["cert"].dump() + eseal["sign_alg_id"].dump()
        maker_signature = _bits(eseal["signed_value"])
    except (ValueError, TypeError, KeyError) as exc:
        return _result(CheckStatus.invalid, f"SignedValue is not an SES_Signature: {exc}", parts={"changed": [value_name]})
    subject = cert.subject.native
    facts: dict[str, Any] = {
        "signer": subject.get("common_name"),
        "organisation": subject.get("organization_name"),
        "signed_at": signed_at.isoformat() if isinstance(signed_at, datetime) else None,
        "certificate": _certificate_facts(cert),
        "covers_whole_file": not any(parts.values()),
    }
    if any(parts.values()):
        return _result(CheckStatus.changed, "SM3 digests of the parts differ from the References", parts={k: v for k, v in parts.items() if v}, **facts)
    if data_hash != _sm3(signature_bytes) or property_info.lstrip("/") != signature_name:
        detail = "dataHash is not the SM3 digest of Signature.xml: the seal of another document"
        return _result(CheckStatus.invalid, detail, parts={"changed": [value_name]}, **facts)
    if not _sm2_verifies(point, signature_value, to_sign.dump()):
        detail = "the SM2 signature over TBS_Sign does not verify with the certificate's key"
        return _result(CheckStatus.invalid, detail, parts={"changed": [value_name]}, **facts)
    if not _sm2_verifies(_public_point(maker), maker_signature, maker_signed):
        return _result(CheckStatus.invalid, "the seal maker's SM2 signature over the SESeal does not verify", **facts)
    if cert.dump() not in cert_list:
        return _result(CheckStatus.invalid, "the signer's certificate is not among the seal's certificates", **facts)
    if not _issued_by_trusted_root(cert, trust_roots):
        return _result(CheckStatus.untrusted, "no trusted SM2 root signed the certificate", **facts)
    return _result(CheckStatus.valid, **facts)


def _signature_parts(package: zipfile.ZipFile, signature_name: str, names: set[str]) -> set[str]:
    """A signature's own parts (Signature.xml and its SignedValue): outside what it covers."""
    if signature_name not in names:
        return set()
    try:
        value = ElementTree.fromstring(package.read(signature_name)).findtext(f"{_NS}SignedValue") or ""
    except ElementTree.ParseError:
        return {signature_name}
    return {signature_name, value.strip().lstrip("/")}


def _issued_by_trusted_root(cert: asn1_x509.Certificate, roots: Sequence[bytes]) -> bool:
    for der in roots:
        try:
            root = asn1_x509.Certificate.load(der)
            if root.subject != cert.issuer:
                continue
            if _sm2_verifies(_public_point(root), cert["signature_value"].native, cert["tbs_certificate"].dump()):
                return True
        except (ValueError, TypeError):
            continue
    return False
