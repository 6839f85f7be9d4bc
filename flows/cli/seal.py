"""``gongwen seal``: check a sealed, signed PDF or OFD (印章核验)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from asn1crypto import pem
from rich.table import Table

from gongwen_engine.config.errors import Refusal
from gongwen_engine.config.loader import load_config
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.config.settings import Settings
from gongwen_engine.doc_templates import ofd_seal, ofd_verify, signing
from gongwen_engine.flows.cli._common import console, friendly
from gongwen_engine.models.rules.dates import CHINA

group = typer.Typer(help="用印: sealed, signed PDFs and sealed OFDs (版式文件) and their verification.", no_args_is_help=True)


def _china_time(iso: str | None) -> str:
    return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S（北京时间）") if iso else "（未注明）"


def report_table(path: Path, result: signing.SealCheck) -> Table:
    """The check in plain words: conclusion first, then who, when, which certificate."""
    colour = "green" if result.ok else "red"
    table = Table(show_header=False, title=f"印章核验：{path.name}", title_justify="left")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("结论", f"[{colour}]{result.message}[/]")
    if result.signer:
        table.add_row("签名人", result.signer)
        table.add_row("机构", result.organisation or "")
        table.add_row("签名时间", _china_time(result.signed_at))
        table.add_row("签名后是否改动", "未改动" if result.covers_whole_file and result.status != signing.CheckStatus.changed else "已改动")
    if result.certificate:
        cert = result.certificate
        table.add_row("证书", cert["subject"])
        table.add_row("颁发者", cert["issuer"])
        table.add_row("序列号", cert["serial"])
        table.add_row("证书指纹 SHA-256", cert["sha256"])
        table.add_row("有效期", f"{cert['not_before'][:10]} 至 {cert['not_after'][:10]}")
    for kind, names in (result.parts or {}).items():
        table.add_row(ofd_verify.PART_WORDS[kind], "、".join(names))
    if result.detail:
        table.add_row("技术细节", f"[dim]{result.detail}[/]")
    return table


def _der(data: bytes) -> bytes:
    if pem.detect(data):
        return pem.unarmor(data)[2]
    return data


@group.command("verify")
@friendly
def verify(
    file: Annotated[Path, typer.Argument(help="the signed PDF or sealed OFD (e.g. demo-out/shandong/鲁妇发〔2012〕10号.pdf)")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    trust: Annotated[list[Path] | None, typer.Option(help="another trusted root certificate (PEM or DER); repeatable")] = None,
) -> None:
    """Who signed, when, with which certificate, and whether the document changed since.

    Trusted: the roots in config/seals.yaml and, with demo_certificates, the demo CA under
    GONGWEN_HOME (for the demo's files: GONGWEN_HOME=demo-out/.gongwen). Exit code 0 only
    for a valid seal, 1 otherwise.
    """
    settings = Settings()
    config = load_config(settings.config_dir)
    seals = load_seal_config(config.directory, config.organisations, settings.home)
    try:
        data = file.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise Refusal(f"文件不存在：{file}（file not found）") from None
    if data[:4] == b"PK\x03\x04":  # a zip: an OFD (GB/T 33190), sealed with SM2 (GB/T 38540)
        ofd_roots = ofd_seal.ofd_trust_roots(seals)
        for path in trust or []:
            try:
                ofd_roots.append(_der(path.read_bytes()))
            except (OSError, ValueError) as exc:
                raise Refusal(f"无法读取信任证书 {path}：{exc}") from None
        result = ofd_verify.verify_ofd(data, ofd_roots)
    else:
        roots = signing.Keyring(seals).trust_roots()
        for path in trust or []:
            try:
                roots.append(signing.load_certificate(path))
            except signing.SigningError as exc:
                raise Refusal(f"无法读取信任证书 {path}：{exc}") from None
        result = signing.verify_pdf(data, roots)
    if as_json:
        console.print_json(json.dumps({"file": str(file), "ok": result.ok, **result.as_dict()}, ensure_ascii=False))
    else:
        console.print(report_table(file, result))
    raise typer.Exit(0 if result.ok else 1)
