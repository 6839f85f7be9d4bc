"""``config/seals.yaml``: which key, certificate and seal image each organisation seals with (用印).

Validated like the other config files (pydantic, errors name file:line and the fix). Keys are
never in the file: it names the key files and where their passphrases come from. Loading keys
and the demo certificate authority live in ``doc_templates/signing.py`` (:class:`Keyring`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, model_validator

from gongwen_engine.config.schema import Organisation, Strict
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors, YamlDoc, load_yaml

SEALS_FILE = "seals.yaml"
DEMO_CA_FOLDER = Path("seals") / "demo-ca"  # under the gongwen home folder
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
            previous = entries.get(folder.name) or OrgSeal()
            entries[folder.name] = OrgSeal(
                key=key.resolve(), certificate=cert.resolve(), image=image.resolve() if image.is_file() else None, diameter_mm=previous.diameter_mm
            )
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
    return SealConfig(_with_uploaded(file, home, organisations), doc, path, demo_folder)
