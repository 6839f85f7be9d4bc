"""``config/seals.yaml``: which key, certificate and seal image each organisation seals with (用印).

Validated like the other config files (pydantic, errors name file:line and the fix). Keys are
never in the file: it names the key files and where their passphrases come from. Loading keys
and the demo certificate authority live in ``doc_templates/signing.py`` (:class:`Keyring`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pydantic import Field, model_validator

from gongwen_engine.config.schema import Organisation, Strict
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, YamlDoc, load_yaml

SEALS_FILE = "seals.yaml"
DEMO_CA_FOLDER = Path("seals") / "demo-ca"  # under the gongwen home folder
SM2_CURVE = "1.2.156.10197.1.301"  # GB/T 32918 (sm2p256v1)
asn1_keys.NamedCurve.register("sm2p256v1", SM2_CURVE, 32)  # its key length, for asn1crypto to read PKCS#8 SM2 keys
UPLOADED_FOLDER = Path("seals") / "uploaded"  # under the gongwen home folder: seals an administrator uploaded (系统管理)


def uploaded_seal_folder(home: Path, org_code: str) -> Path:
    """Where an uploaded seal of ``org_code`` is kept: key.pem, certificate.pem, seal.png."""
    return (Path(home) / UPLOADED_FOLDER / org_code).resolve()


def _with_uploaded(file: SealsFile, home: Path, organisations: dict[str, Organisation]) -> SealsFile:
    """Seals an administrator uploaded take precedence over the file's entry of their organisation."""
    root = Path(home) / UPLOADED_FOLDER
    if not root.is_dir():
        return file
    entries = dict(file.organisations)
    for folder in sorted(root.iterdir()):
        key, cert, image = folder / "key.pem", folder / "certificate.pem", folder / "seal.png"
        if folder.name in organisations and key.is_file() and cert.is_file():
            previous = entries.get(folder.name) or OrgSeal()  # the uploaded key replaces the file's; diameter and SM2 key stay
            uploaded = {"key": key.resolve(), "certificate": cert.resolve(), "image": image.resolve() if image.is_file() else None}
            replaced: dict[str, object] = {"pkcs12": None, "chain": [], "passphrase_env": None, "passphrase_file": None}
            entries[folder.name] = OrgSeal.model_validate({**previous.model_dump(), **replaced, **uploaded})
    return file.model_copy(update={"organisations": entries})


class OrgSeal(Strict):
    """One organisation's signing key and seal image."""

    pkcs12: Path | None = Field(default=None, description="a .p12/.pfx with key, certificate and chain")
    key: Path | None = Field(default=None, description="PEM private key (with certificate:)")
    certificate: Path | None = None
    chain: list[Path] = Field(default_factory=list)
    passphrase_env: str | None = Field(default=None, description="environment variable holding the key's passphrase")
    passphrase_file: Path | None = Field(default=None, description="file holding the key's passphrase")
    image: Path | None = Field(default=None, description="the organisation's own seal image (PNG, red on transparent)")
    diameter_mm: float | None = Field(default=None, ge=20, le=60)
    sm2_key: Path | None = Field(default=None, description="the OFD electronic seal's SM2 private key (PEM, unencrypted PKCS#8 or SEC1)")
    sm2_certificate: Path | None = Field(default=None, description="the X.509 certificate of that SM2 key (PEM or DER)")

    @model_validator(mode="after")
    def _one_key_source(self) -> OrgSeal:
        if self.pkcs12 and (self.key or self.certificate):
            raise ValueError("give either pkcs12: or key: + certificate:, not both")
        if bool(self.key) != bool(self.certificate):
            raise ValueError("key: and certificate: go together")
        if self.passphrase_env and self.passphrase_file:
            raise ValueError("give either passphrase_env: or passphrase_file:, not both")
        if bool(self.sm2_key) != bool(self.sm2_certificate):
            raise ValueError("sm2_key: and sm2_certificate: go together")
        return self

    @property
    def has_key(self) -> bool:
        return bool(self.pkcs12 or self.key)


class SealsFile(Strict):
    demo_certificates: bool = False
    diameter_mm: float = Field(default=42, ge=20, le=60)
    trust: list[Path] = Field(default_factory=list)
    organisations: dict[str, OrgSeal] = Field(default_factory=dict)


@dataclass
class SealConfig:
    """The validated seals file plus where it is (for errors) and the demo CA's folder."""

    file: SealsFile
    doc: YamlDoc | None
    path: Path
    demo_ca_folder: Path

    def entry(self, org_code: str) -> OrgSeal:
        return self.file.organisations.get(org_code) or OrgSeal()

    def error(self, org_code: str, key: str, message: str, fix: str) -> SourceError:
        line = self.doc.line_of(("organisations", org_code, key)) if self.doc else None
        return SourceError(self.path, line, message, fix)

    def diameter_mm(self, org_code: str) -> float:
        return self.entry(org_code).diameter_mm or self.file.diameter_mm

    def image(self, org_code: str) -> Path | None:
        image = self.entry(org_code).image
        return self.resolve(image) if image else None

    def passphrase(self, org_code: str, entry: OrgSeal) -> bytes | None:
        if entry.passphrase_env:
            value = os.environ.get(entry.passphrase_env)
            if value is None:
                raise self.error(
                    org_code,
                    "passphrase_env",
                    f"environment variable {entry.passphrase_env} (the key's passphrase) is not set",
                    f"export {entry.passphrase_env}=... in the environment of every gongwen worker",
                )
            return value.encode()
        if entry.passphrase_file:
            try:
                return self.resolve(entry.passphrase_file).read_text(encoding="utf-8").rstrip("\r\n").encode()
            except OSError as exc:
                raise self.error(org_code, "passphrase_file", f"cannot read the passphrase file: {exc}", "check the path and its permissions") from None
        return None

    def resolve(self, path: Path | None) -> Path:
        assert path is not None
        return path if path.is_absolute() else (self.path.parent / path)


@dataclass(frozen=True)
class Sm2Pair:
    """An organisation's own SM2 key (hex: the private scalar, the public point X||Y) and its certificate."""

    private: str
    public: str
    certificate: asn1_x509.Certificate


class Sm2FileError(ValueError):
    """What is wrong with an SM2 key or certificate file, in Chinese, naming the file."""


def _unarmored(data: bytes) -> bytes:
    return pem.unarmor(data)[2] if pem.detect(data) else data


def _sm2_private(path: Path) -> tuple[int, bytes | None]:
    """The private scalar of an SM2 key file and its public point if the file carries it."""
    try:
        der = _unarmored(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise Sm2FileError(f"SM2 私钥文件 {path} 无法读取：{exc}") from None
    try:
        info = asn1_keys.PrivateKeyInfo.load(der)
        algorithm = info["private_key_algorithm"]
        if algorithm["algorithm"].native != "ec":
            raise Sm2FileError(f"SM2 私钥文件 {path} 不是 SM2 密钥：是 {algorithm['algorithm'].native} 密钥")
        curve = algorithm["parameters"].chosen
        key = asn1_keys.ECPrivateKey.load(info["private_key"].contents)
    except Sm2FileError:
        raise
    except (ValueError, TypeError):
        try:  # SEC1 "EC PRIVATE KEY" (openssl ecparam -genkey)
            key = asn1_keys.ECPrivateKey.load(der)
            curve = key["parameters"].chosen
        except (ValueError, TypeError):
            raise Sm2FileError(f"SM2 私钥文件 {path} 不是可读的私钥（应为未加密的 PEM：PKCS#8 或 EC PRIVATE KEY）") from None
    try:
        dotted = curve.dotted
        scalar = int(key["private_key"].native)
    except (AttributeError, ValueError, TypeError):
        raise Sm2FileError(f"SM2 私钥文件 {path} 不是可读的私钥（应为未加密的 PEM：PKCS#8 或 EC PRIVATE KEY）") from None
    if dotted != SM2_CURVE:
        raise Sm2FileError(f"SM2 私钥文件 {path} 不是 SM2 密钥：曲线是 {curve.native}（应为 SM2，{SM2_CURVE}）")
    public = key["public_key"].native if key["public_key"].native is not None else None
    return scalar, bytes(public) if public is not None else None


def load_sm2_pair(key_path: Path, certificate_path: Path, now: datetime | None = None) -> Sm2Pair:
    """Read and check an organisation's SM2 key and certificate: the key is SM2, the certificate's
    public key is SM2 and is this key's, and the certificate is in force. Raises
    :class:`Sm2FileError` in Chinese naming the file and what is wrong."""
    from gmssl import sm2  # the public point of a key file that does not carry it

    scalar, point = _sm2_private(key_path)
    try:
        certificate = asn1_x509.Certificate.load(_unarmored(certificate_path.read_bytes()))
        info = certificate["tbs_certificate"]["subject_public_key_info"]
        cert_curve = info["algorithm"]["parameters"].chosen
        cert_point = bytes(info["public_key"].native)
        validity = certificate["tbs_certificate"]["validity"]
        not_before, not_after = validity["not_before"].native, validity["not_after"].native
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise Sm2FileError(f"SM2 证书文件 {certificate_path} 不是可读的 X.509 证书（PEM 或 DER）：{exc}") from None
    if info["algorithm"]["algorithm"].native != "ec" or getattr(cert_curve, "dotted", None) != SM2_CURVE:
        raise Sm2FileError(f"SM2 证书文件 {certificate_path} 的公钥不是 SM2 公钥（{info['algorithm']['algorithm'].native}）")
    if point is None:
        crypt = sm2.CryptSM2(private_key=format(scalar, "064x"), public_key="")
        point = bytes.fromhex("04" + crypt._kg(scalar, sm2.default_ecc_table["g"]))
    if point != cert_point:
        raise Sm2FileError(f"SM2 私钥 {key_path} 与证书 {certificate_path} 不匹配：证书中的公钥不是这把私钥的公钥")
    now = now or datetime.now(UTC)
    if not_after < now:
        raise Sm2FileError(f"SM2 证书 {certificate_path} 已过期：有效期至 {not_after:%Y-%m-%d %H:%M} UTC")
    if not_before > now:
        raise Sm2FileError(f"SM2 证书 {certificate_path} 尚未生效：自 {not_before:%Y-%m-%d %H:%M} UTC 起有效")
    return Sm2Pair(format(scalar, "064x"), cert_point[1:].hex(), certificate)


def load_seal_config(config_dir: Path, organisations: dict[str, Organisation], home: Path) -> SealConfig:
    """Read ``seals.yaml`` of ``config_dir`` (absent: nothing configured, no demo certificates)."""
    path = Path(config_dir) / SEALS_FILE
    demo_folder = (Path(home) / DEMO_CA_FOLDER).resolve()
    if not path.exists():
        return SealConfig(_with_uploaded(SealsFile(), home, organisations), None, path, demo_folder)
    doc = load_yaml(path)
    file = doc.validate(SealsFile)
    errors = []
    for code, entry in file.organisations.items():
        if code not in organisations:
            errors.append(doc.error(("organisations", code), f"unknown organisation '{code}'", "use a code from organisations.yaml"))
        for key in ("pkcs12", "key", "certificate", "passphrase_file", "image", "sm2_key", "sm2_certificate"):
            value = getattr(entry, key)
            if value is not None and not (value if value.is_absolute() else path.parent / value).is_file():
                errors.append(
                    doc.error(
                        ("organisations", code, key),
                        f"{key}: file not found: {value}",
                        "give an existing file (relative paths are relative to this folder)",
                    )
                )
        if entry.sm2_key and entry.sm2_certificate and not errors:
            try:
                load_sm2_pair(_beside(path, entry.sm2_key), _beside(path, entry.sm2_certificate))
            except Sm2FileError as exc:
                errors.append(doc.error(("organisations", code, "sm2_key"), str(exc), "请换用该单位有效的 SM2 私钥和与之配对、在有效期内的证书（PEM）"))
    for i, trust in enumerate(file.trust):
        if not (trust if trust.is_absolute() else path.parent / trust).is_file():
            errors.append(doc.error(("trust", i), f"trusted certificate not found: {trust}", "give an existing PEM or DER file"))
    if errors:
        raise SourceErrors(errors)
    return SealConfig(_with_uploaded(file, home, organisations), doc, path, demo_folder)


def _beside(seals_file: Path, path: Path) -> Path:
    return path if path.is_absolute() else seals_file.parent / path
