"""Bad input everywhere a person or a file can reach (issue 12), short, bounded and seeded: web
forms (schemathesis over the app's OpenAPI schema), config and flow YAML, CLI arguments and
archive transfer packages. No traceback reaches a user, every refusal is in Chinese, nothing is
half-imported, and every .docx the runs produced parses (a sample converts with LibreOffice).

The longer runs: ``python benchmarks/bad_input_campaign.py --cases N`` (same code, more cases).
"""

from __future__ import annotations

from pathlib import Path

from bad_input_archive import fuzz_archive
from bad_input_cli import fuzz_cli
from bad_input_common import convert_sample, docx_files, unparsable_docx
from bad_input_web import fuzz_web
from bad_input_yaml import fuzz_yaml

WEB_EXAMPLES = 4  # per operation and generation mode (positive, negative): ~170 requests
YAML_CASES = 24
CLI_CASES = 40
ARCHIVE_RANDOM_CASES = 60


def test_web_forms_never_answer_5xx_or_a_traceback(tmp_path: Path) -> None:
    tally = fuzz_web(tmp_path / "web", WEB_EXAMPLES)
    assert tally.tried > 100
    assert tally.failures == []
    produced = docx_files(tmp_path / "web" / "storage", tmp_path / "web" / "downloads")
    assert produced, "the run served or stored no .docx to check"
    assert unparsable_docx(produced) == []


def test_config_and_flow_yaml_load_or_name_file_and_line(tmp_path: Path) -> None:
    tally, outcomes = fuzz_yaml(tmp_path, YAML_CASES)
    assert tally.tried == YAML_CASES and tally.failures == []
    assert outcomes["refused"] > 0  # the mutations do reach the checks


def test_bad_cli_arguments_are_refused_in_chinese_without_traceback(tmp_path: Path) -> None:
    tally = fuzz_cli(tmp_path, CLI_CASES)
    assert tally.tried == CLI_CASES and tally.failures == []
    produced = docx_files(tmp_path / ".gongwen" / "storage")
    assert produced, "the seeded circulation wrote no .docx"
    assert unparsable_docx(produced) == []
    pdfs = convert_sample(produced, tmp_path / "pdf", size=1)
    assert len(pdfs) == 1 and pdfs[0].read_bytes()[:5] == b"%PDF-"


def test_bad_transfer_packages_are_refused_whole(tmp_path: Path) -> None:
    tally, outcomes = fuzz_archive(tmp_path, ARCHIVE_RANDOM_CASES)
    assert tally.failures == []
    assert outcomes["valid package"] == "imported"
    assert all(outcome == "refused" for label, outcome in outcomes.items() if label != "valid package")
    assert {"dot-dot entry", "absolute entry", "digest forged", "file missing", "extra file", "zip bomb", "duplicated entry"} <= set(outcomes)
