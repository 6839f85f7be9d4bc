"""An organisation's own SM2 key and certificate for the OFD electronic seal (config/seals.yaml
``sm2_key``, ``sm2_certificate``): checked when seals.yaml is loaded (SM2, key and certificate
match, in force; a Chinese error naming the file and what is wrong), then used by 用印 instead of
the demo authority, and trusted through ``trust:``.

The keys are made here: SM2 with the project's own key code, certificates signed SM2-with-SM3
(asn1crypto), written as PEM the way ``openssl`` writes them (PKCS#8 and SEC1); a P-256 key from
``cryptography`` stands for a key of the wrong kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ofd_samples import sample_pdf

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
from gongwen_engine.config.seals import SM2_CURVE, load_seal_config
from gongwen_engine.config.yamlsrc import SourceErrors
from gongwen_engine.doc_templates import ses
from gongwen_engine.doc_templates.ofd import OfdMetadata, pdf_to_ofd_parts
from gongwen_engine.doc_templates.ofd_seal import Sm2Key, StampPlace, make_certificate, ofd_identity, ofd_trust_roots, seal_ofd
from gongwen_engine.doc_templates.ofd_verify import verify_ofd
from gongwen_engine.doc_templates.seal import specimen_png
from gongwen_engine.doc_templates.signing import CheckStatus, Keyring

META = OfdMetadata(title="关于启用本单位电子印章的通知", issuer="山东省妇女联合会", doc_number="鲁妇发〔2026〕1号", issued_on="2026-12-01")
CONFIG = load_config(PACKAGED_CONFIG_DIR)


def key_pem(key: Sm2Key, sec1: bool = False, with_public: bool = True) -> bytes:
    inner = {"version": "ecPrivkeyVer1", "private_key": int(key.private, 16)}
    if with_public:
        inner["public_key"] = bytes.fromhex("04" + key.public)
    if sec1:
        return pem.armor("EC PRIVATE KEY", asn1_keys.ECPrivateKey({**inner, "parameters": ("named", SM2_CURVE)}).dump())
    info = asn1_keys.PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": {"algorithm": "ec", "parameters": ("named", SM2_CURVE)}, "private_key": asn1_keys.ECPrivateKey(inner)}
    )
    return pem.armor("PRIVATE KEY", info.dump())


class Keys:
    """A local SM2 root and 山东省妇联's key and certificate issued by it, in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.root_key = Sm2Key.generate()
        self.root = make_certificate("测试 SM2 根证书", "测试认证机构", self.root_key, None, self.root_key, ca=True)
        self.write("root.crt.pem", pem.armor("CERTIFICATE", self.root.dump()))
        self.key = Sm2Key.generate()
        self.write("shandong.key.pem", key_pem(self.key))
        self.write("shandong.crt.pem", self.certificate(self.key))

    def certificate(self, key: Sm2Key, valid_until: datetime | None = None) -> bytes:
        cert = make_certificate("山东省妇女联合会电子印章", "山东省妇女联合会", key, self.root.subject, self.root_key, ca=False, valid_until=valid_until)
        return pem.armor("CERTIFICATE", cert.dump())

    def write(self, name: str, data: bytes) -> str:
        (self.folder / name).write_bytes(data)
        return name

    def seals_yaml(self, key: str = "shandong.key.pem", cert: str = "shandong.crt.pem", trust: bool = True) -> Path:
        self.write(
            "seals.yaml",
            (
                "demo_certificates: false\n"
                f"trust: [{'root.crt.pem' if trust else ''}]\n"
                "organisations:\n"
                "  shandong:\n"
                f"    sm2_key: {key}\n"
                f"    sm2_certificate: {cert}\n"
            ).encode(),
        )
        return self.folder


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path / "config")


def load(folder: Path, home: Path):  # type: ignore[no-untyped-def]
    return load_seal_config(folder, CONFIG.organisations, home)


def test_an_organisations_own_sm2_key_seals_the_ofd_and_verifies_through_trust(keys: Keys, tmp_path: Path) -> None:
    seals = load(keys.seals_yaml(), tmp_path / "home")
    identity = ofd_identity(seals, CONFIG.organisations["shandong"])
    assert identity.key.public == keys.key.public and "演示" not in str(identity.certificate.subject.native)
    parts = pdf_to_ofd_parts(sample_pdf([("Own seal", 100, 700)]), META)
    data = seal_ofd(parts, META, identity, specimen_png("山东省妇女联合会", 42), StampPlace(0, 120, 200, 42, 42))
    roots = ofd_trust_roots(seals)
    assert len(roots) == 1  # the SM2 root among trust:; no demo root (demo_certificates: false)
    result = verify_ofd(data, roots)
    assert result.status == CheckStatus.valid, result.detail
    assert result.signer == "山东省妇女联合会电子印章" and result.organisation == "山东省妇女联合会"
    assert verify_ofd(data, []).status == CheckStatus.untrusted
    Keyring(seals).trust_roots()  # the PDF's trust list still loads with an SM2 root in it


def test_a_sec1_key_without_its_public_point_is_read_too(keys: Keys, tmp_path: Path) -> None:
    keys.write("shandong.sec1.pem", key_pem(keys.key, sec1=True, with_public=False))
    seals = load(keys.seals_yaml(key="shandong.sec1.pem"), tmp_path / "home")
    assert ofd_identity(seals, CONFIG.organisations["shandong"]).key.public == keys.key.public


def _refused(folder: Path, tmp_path: Path) -> str:
    with pytest.raises(SourceErrors) as refused:
        load(folder, tmp_path / "home")
    return str(refused.value)


def test_a_key_that_is_not_sm2_is_refused_naming_the_file(keys: Keys, tmp_path: Path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    keys.write("p256.key.pem", p256)
    said = _refused(keys.seals_yaml(key="p256.key.pem"), tmp_path)
    assert "seals.yaml" in said and "p256.key.pem" in said and "不是 SM2 密钥" in said


def test_a_key_that_does_not_match_its_certificate_is_refused(keys: Keys, tmp_path: Path) -> None:
    keys.write("other.key.pem", key_pem(Sm2Key.generate()))
    said = _refused(keys.seals_yaml(key="other.key.pem"), tmp_path)
    assert "other.key.pem" in said and "shandong.crt.pem" in said and "不匹配" in said


def test_an_expired_certificate_is_refused(keys: Keys, tmp_path: Path) -> None:
    keys.write("expired.crt.pem", keys.certificate(keys.key, valid_until=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)))
    said = _refused(keys.seals_yaml(cert="expired.crt.pem"), tmp_path)
    assert "expired.crt.pem" in said and "已过期" in said


def test_a_certificate_that_is_not_sm2_is_refused(keys: Keys, tmp_path: Path) -> None:
    from certificates import self_signed_p256

    _, cert = self_signed_p256("P-256")
    keys.write("p256.crt.pem", cert.public_bytes(serialization.Encoding.PEM))
    said = _refused(keys.seals_yaml(cert="p256.crt.pem"), tmp_path)
    assert "p256.crt.pem" in said and "不是 SM2 公钥" in said


def test_a_key_without_its_certificate_is_refused(keys: Keys, tmp_path: Path) -> None:
    keys.write("seals.yaml", b"organisations:\n  shandong:\n    sm2_key: shandong.key.pem\n")
    assert "sm2_certificate" in _refused(keys.folder, tmp_path)


def test_the_sm2_curve_is_the_one_the_seal_structures_use() -> None:
    assert SM2_CURVE == ses.SM2_CURVE
