"""Throughput of 印章核验 and 用印 (issue 25) without a weaker promise: a received sealed file is
verified once per process per content and trust store, for as long as the result holds, and every
recipient's check is still audited with its own facts; a signature of an identity whose size the
process already knows skips pyHanko's dry-run signature and still verifies."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR, load_config
from gongwen_engine.config.seals import load_seal_config
from gongwen_engine.doc_templates import signing
from gongwen_engine.flows.actions import sealing
from gongwen_engine.models.tables import Document


def blank_pdf(text_colour: int = 255) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 280), (255, 255, text_colour)).save(out, "PDF")
    return out.getvalue()


@pytest.fixture(scope="module")
def config():
    return load_config(PACKAGED_CONFIG_DIR)


def keyring_in(config, home: Path) -> signing.Keyring:
    return signing.Keyring(load_seal_config(config.directory, config.organisations, home))


@pytest.fixture
def counted(monkeypatch) -> Iterator[list[int]]:
    """The number of real PDF verifications, from an empty result cache."""
    calls: list[int] = []
    real = signing.verify_pdf

    def verify_pdf(data, roots):
        calls.append(len(data))
        return real(data, roots)

    monkeypatch.setattr(signing, "verify_pdf", verify_pdf)
    monkeypatch.setattr(sealing, "_verified", type(sealing._verified)())
    yield calls


def test_a_received_file_is_verified_once_and_audited_for_every_recipient(config, tmp_path: Path, counted: list[int]) -> None:
    keys = keyring_in(config, tmp_path / "home")
    signed = signing.sign_pdf(blank_pdf(), keys.identity(config.org("shandong")), None, sealing.SEAL_REASON)
    (tmp_path / "notice.pdf").write_bytes(signed)
    engine = SimpleNamespace(storage=tmp_path, config=config, settings=SimpleNamespace(home=tmp_path / "home"))
    ctx = SimpleNamespace(engine=engine)
    digest = signing.sha256_hex(signed)
    first, facts = sealing._checked_file(ctx, "notice.pdf", digest)  # type: ignore[arg-type]
    second, again = sealing._checked_file(ctx, "notice.pdf", digest)  # type: ignore[arg-type]
    assert first.ok and second == first and again == facts and facts["sha256_matches_record"] is True
    assert len(counted) == 1  # the second recipient did not verify again
    _, other = sealing._checked_file(ctx, "notice.pdf", "0" * 64)  # type: ignore[arg-type]
    assert other["sha256_matches_record"] is False and other["status"] == "valid" and len(counted) == 1  # the file read decides
    changed = signing.sign_pdf(blank_pdf(200), keys.identity(config.org("shandong")), None, sealing.SEAL_REASON)
    (tmp_path / "notice.pdf").write_bytes(changed)
    assert sealing._checked_file(ctx, "notice.pdf", digest)[1]["sha256_matches_record"] is False  # type: ignore[arg-type]
    assert len(counted) == 2  # another content: verified again


def test_a_check_prepared_outside_the_lock_is_the_one_the_step_audits(config, tmp_path: Path, counted: list[int]) -> None:
    keys = keyring_in(config, tmp_path / "home")
    signed = signing.sign_pdf(blank_pdf(), keys.identity(config.org("shandong")), None, sealing.SEAL_REASON)
    (tmp_path / "notice.pdf").write_bytes(signed)
    engine = SimpleNamespace(storage=tmp_path, config=config, settings=SimpleNamespace(home=tmp_path / "home"))
    # from outside (收文): the file as it came is the sealed copy
    received = Document(org="shandong", title="通知", content={}, file="notice.pdf", sha256=signing.sha256_hex(signed))
    sealing.prepare_checks(engine, None, received)  # type: ignore[arg-type]  # a document from outside needs no query
    assert len(counted) == 1
    result, facts = sealing._checked_file(SimpleNamespace(engine=engine), "notice.pdf", received.sha256)  # type: ignore[arg-type]
    assert result.ok and facts["status"] == "valid" and facts["sha256_matches_record"] is True
    assert len(counted) == 1  # the step found the check made


def test_another_trust_store_verifies_again(config, tmp_path: Path, counted: list[int]) -> None:
    keys = keyring_in(config, tmp_path / "home")
    signed = signing.sign_pdf(blank_pdf(), keys.identity(config.org("acwf")), None, sealing.SEAL_REASON)
    assert sealing.verify_sealed(signed, keys).ok and sealing.verify_sealed(signed, keys).ok
    assert len(counted) == 1
    stranger = keyring_in(config, tmp_path / "elsewhere")
    stranger.demo_authority().root()  # another demo CA: the signer is unknown to it
    assert sealing.verify_sealed(signed, stranger).status == signing.CheckStatus.untrusted
    assert len(counted) == 2
    assert sealing.verify_sealed(signed, keys).ok and len(counted) == 2  # the first store's result is still held


def test_a_result_is_not_reused_past_its_time_or_its_certificate(config, tmp_path: Path, counted: list[int], monkeypatch) -> None:
    keys = keyring_in(config, tmp_path / "home")
    signed = signing.sign_pdf(blank_pdf(), keys.identity(config.org("acwf")), None, sealing.SEAL_REASON)
    result = sealing.verify_sealed(signed, keys)
    assert result.ok and len(counted) == 1
    now = sealing.time.monotonic()
    monkeypatch.setattr(sealing.time, "monotonic", lambda: now + sealing.VERIFIED_SECONDS + 1)
    assert sealing.verify_sealed(signed, keys).ok and len(counted) == 2  # older than VERIFIED_SECONDS
    assert sealing.verify_sealed(signed, keys).ok and len(counted) == 2
    expired = datetime.fromisoformat(result.certificate["not_after"]).timestamp() + 1
    monkeypatch.setattr(sealing.time, "time", lambda: expired)
    sealing.verify_sealed(signed, keys)
    assert len(counted) == 3  # the signer's certificate has expired since: checked again (and pyHanko says so)


def test_the_cache_is_bounded(config, tmp_path: Path, counted: list[int], monkeypatch) -> None:
    monkeypatch.setattr(sealing, "VERIFIED_ENTRIES", 2)
    keys = keyring_in(config, tmp_path / "home")
    files = [signing.sign_pdf(blank_pdf(c), keys.identity(config.org("acwf")), None, sealing.SEAL_REASON) for c in (10, 20, 30)]
    for data in (files[0], files[1], files[0], files[2]):  # files[1] is the least recently used
        sealing.verify_sealed(data, keys)
    assert len(counted) == 3 and len(sealing._verified) == 2
    sealing.verify_sealed(files[0], keys)
    assert len(counted) == 3
    sealing.verify_sealed(files[1], keys)
    assert len(counted) == 4


@pytest.fixture
def dry_runs(monkeypatch) -> Iterator[list[int]]:
    """pyHanko's dry-run size estimates, from a process that has measured no signature yet."""
    from pyhanko.sign.signers import pdf_signer

    calls: list[int] = []
    real = pdf_signer.PdfSigningSession.estimate_signature_container_size

    async def estimate(self, *args, **kwargs):
        calls.append(1)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(pdf_signer.PdfSigningSession, "estimate_signature_container_size", estimate)
    monkeypatch.setattr(signing, "_cms_overhead", {})
    yield calls


def reserved_room(signed: bytes) -> int:
    found = list(signing._BYTE_RANGE.finditer(signed))[-1]
    return int(found.group(3)) - int(found.group(2)) - 2


def test_a_signature_after_the_first_of_its_kind_skips_the_dry_run_and_verifies(config, tmp_path: Path, dry_runs: list[int]) -> None:
    keys = keyring_in(config, tmp_path / "home")
    first = signing.sign_pdf(blank_pdf(), keys.identity(config.org("acwf")), None, sealing.SEAL_REASON)
    assert len(dry_runs) == 1
    for code in ("acwf", "shandong", "jinan"):  # the same identity, and others with the same kind of key
        signed = signing.sign_pdf(blank_pdf(), keys.identity(config.org(code)), None, sealing.SEAL_REASON, location=code)
        assert signing.verify_pdf(signed, keys.trust_roots()).ok, code
        assert abs(reserved_room(signed) - reserved_room(first)) < 200  # about pyHanko's own estimate
    assert len(dry_runs) == 1


def test_a_signature_that_would_not_fit_is_made_again_with_pyhankos_estimate(config, tmp_path: Path, dry_runs: list[int]) -> None:
    keys = keyring_in(config, tmp_path / "home")
    identity = keys.identity(config.org("shandong"))
    signing._cms_overhead[signing._key_kind(identity)] = -signing._identity_bytes(identity) + 16  # far too small
    signed = signing.sign_pdf(blank_pdf(), identity, None, sealing.SEAL_REASON)
    assert len(dry_runs) == 1 and signing.verify_pdf(signed, keys.trust_roots()).ok
    assert signing._cms_overhead[signing._key_kind(identity)] > 0  # measured again from this signature
