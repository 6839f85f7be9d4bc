"""``config/seals.yaml``: which key, certificate and seal image each organisation seals with (用印).

Validated like the other config files (pydantic, errors name file:line and the fix). Keys are
never in the file: it names the key files and where their passphrases come from. Loading keys
and the demo certificate authority live in ``models/signing.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field, model_validator

from gongwen_engine.config.schema import Organisation, Strict
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, YamlDoc, load_yaml
from gongwen_engine.models import signing

SEALS_FILE = "seals.yaml"
DEMO_CA_FOLDER = Path("seals") / "demo-ca"  # under the gongwen home folder


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

    @model_validator(mode="after")
    def _one_key_source(self) -> OrgSeal:
        if self.pkcs12 and (self.key or self.certificate):
            raise ValueError("give either pkcs12: or key: + certificate:, not both")
        if bool(self.key) != bool(self.certificate):
            raise ValueError("key: and certificate: go together")
        if self.passphrase_env and self.passphrase_file:
            raise ValueError("give either passphrase_env: or passphrase_file:, not both")
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
    _identities: dict[str, signing.SigningIdentity] = field(default_factory=dict, repr=False)

    def entry(self, org_code: str) -> OrgSeal:
        return self.file.organisations.get(org_code) or OrgSeal()

    def _error(self, org_code: str, key: str, message: str, fix: str) -> SourceError:
        line = self.doc.line_of(("organisations", org_code, key)) if self.doc else None
        return SourceError(self.path, line, message, fix)

    def diameter_mm(self, org_code: str) -> float:
        return self.entry(org_code).diameter_mm or self.file.diameter_mm

    def image(self, org_code: str) -> Path | None:
        image = self.entry(org_code).image
        return self._resolve(image) if image else None

    def identity(self, org: Organisation) -> signing.SigningIdentity:
        """The organisation's signing identity: its configured key, or a demo certificate."""
        if org.code not in self._identities:
            self._identities[org.code] = self._load_identity(org)
        return self._identities[org.code]

    def _load_identity(self, org: Organisation) -> signing.SigningIdentity:
        entry = self.entry(org.code)
        if not entry.has_key:
            if not self.file.demo_certificates:
                raise SourceError(self.path, self.doc.line_of(("organisations",)) if self.doc else None,
                                  f"organisation '{org.code}' ({org.name}) has no signing key, and demo_certificates is off",
                                  f"add organisations: {{{org.code}: {{pkcs12: ...}}}} to {SEALS_FILE}, or set demo_certificates: true for a demo")
            return self.demo_authority().identity(org.code, org.name)
        passphrase = self._passphrase(org.code, entry)
        try:
            if entry.pkcs12:
                return signing.load_pkcs12_identity(self._resolve(entry.pkcs12), passphrase)
            return signing.load_pem_identity(self._resolve(entry.key), self._resolve(entry.certificate), [self._resolve(p) for p in entry.chain], passphrase)
        except signing.SigningError as exc:
            raise self._error(org.code, "pkcs12" if entry.pkcs12 else "key", str(exc), "check the path, the file and its passphrase") from None

    def _passphrase(self, org_code: str, entry: OrgSeal) -> bytes | None:
        if entry.passphrase_env:
            value = os.environ.get(entry.passphrase_env)
            if value is None:
                raise self._error(org_code, "passphrase_env", f"environment variable {entry.passphrase_env} (the key's passphrase) is not set",
                                  f"export {entry.passphrase_env}=... in the environment of every gongwen worker")
            return value.encode()
        if entry.passphrase_file:
            try:
                return self._resolve(entry.passphrase_file).read_text(encoding="utf-8").rstrip("\r\n").encode()
            except OSError as exc:
                raise self._error(org_code, "passphrase_file", f"cannot read the passphrase file: {exc}", "check the path and its permissions") from None
        return None

    def demo_authority(self) -> signing.DemoAuthority:
        return signing.DemoAuthority(self.demo_ca_folder)

    def trust_roots(self) -> list:
        """Certificates a verification accepts as roots: the configured ones (+ the demo CA)."""
        roots = []
        for i, path in enumerate(self.file.trust):
            try:
                roots.append(signing.load_certificate(self._resolve(path)))
            except signing.SigningError as exc:
                raise SourceError(self.path, self.doc.line_of(("trust", i)) if self.doc else None, str(exc), "fix or remove this trust entry") from None
        demo_root = self.demo_authority().root_path
        if self.file.demo_certificates and demo_root.is_file():  # never created by a verification
            roots.append(signing.load_certificate(demo_root))
        return roots

    def _resolve(self, path: Path | None) -> Path:
        assert path is not None
        return path if path.is_absolute() else (self.path.parent / path)


def load_seal_config(config_dir: Path, organisations: dict[str, Organisation], home: Path) -> SealConfig:
    """Read ``seals.yaml`` of ``config_dir`` (absent: nothing configured, no demo certificates)."""
    path = Path(config_dir) / SEALS_FILE
    demo_folder = (Path(home) / DEMO_CA_FOLDER).resolve()
    if not path.exists():
        return SealConfig(SealsFile(), None, path, demo_folder)
    doc = load_yaml(path)
    file = doc.validate(SealsFile)
    errors = []
    for code, entry in file.organisations.items():
        if code not in organisations:
            errors.append(doc.error(("organisations", code), f"unknown organisation '{code}'", "use a code from organisations.yaml"))
        for key in ("pkcs12", "key", "certificate", "passphrase_file", "image"):
            value = getattr(entry, key)
            if value is not None and not (value if value.is_absolute() else path.parent / value).is_file():
                errors.append(
                    doc.error(
                        ("organisations", code, key),
                        f"{key}: file not found: {value}",
                        "give an existing file (relative paths are relative to this folder)",
                    )
                )
    for i, trust in enumerate(file.trust):
        if not (trust if trust.is_absolute() else path.parent / trust).is_file():
            errors.append(doc.error(("trust", i), f"trusted certificate not found: {trust}", "give an existing PEM or DER file"))
    if errors:
        raise SourceErrors(errors)
    return SealConfig(file, doc, path, demo_folder)
