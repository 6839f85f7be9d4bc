"""The bad-input campaign (issue 12), longer than tests/test_bad_input.py, with the same code:

    python benchmarks/bad_input_campaign.py [--cases 1000] [--seed 1] [--only web,yaml,cli,archive]

Per area it prints the cases tried, the failures (with up to five examples) and the time:
web forms (schemathesis over the app's OpenAPI schema: --cases/40 examples per operation and
generation mode), config and flow YAML (--cases mutated files), CLI arguments (--cases commands)
and archive transfer packages (the named attacks plus --cases random damages). Then every .docx
the runs produced is parsed with python-docx and a sample converted with LibreOffice. Received
files (收文) have their own campaign: benchmarks/receive_fuzz_campaign.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bad_input_archive import fuzz_archive
from bad_input_cli import fuzz_cli
from bad_input_common import Tally, convert_sample, docx_files, unparsable_docx
from bad_input_web import fuzz_web
from bad_input_yaml import fuzz_yaml

AREAS = ("web", "yaml", "cli", "archive")


def run_area(area: str, root: Path, cases: int, seed: int) -> tuple[Tally, str]:
    """One area's run: its tally and a note on the outcomes."""
    if area == "web":
        tally = fuzz_web(root / "web", max(2, cases // 40), seed)
        return tally, f"{max(2, cases // 40)} examples per operation and mode"
    if area == "yaml":
        tally, outcomes = fuzz_yaml(root / "yaml", cases, seed)
        return tally, f"loaded {outcomes['loaded']}, refused with file:line {outcomes['refused']}"
    if area == "cli":
        return fuzz_cli(root / "cli", cases, seed), "one bad argument per command (or a usage error)"
    tally, outcomes = fuzz_archive(root / "archive", cases, seed)
    named = len(outcomes) - 1
    refused = sum(v == "refused" for k, v in outcomes.items() if k != "valid package")
    return tally, f"{named} named attacks refused: {refused}/{named}; valid package {outcomes['valid package']}"


def report(area: str, tally: Tally, note: str, seconds: float) -> None:
    print(f"{area:8s} cases tried {tally.tried:6d} · failures {len(tally.failures):3d} · {seconds:6.1f} s · {note}")
    for failure in tally.failures[:5]:
        print(f"    FAILED {failure[:400]}")


def check_documents(root: Path, out: Path) -> int:
    produced = docx_files(root / "web", root / "cli" / ".gongwen")  # what the system wrote or served (not the bad inputs)
    bad = unparsable_docx(produced)
    pdfs = convert_sample(produced, out, size=3) if produced else []
    print(f"documents: {len(produced)} .docx produced · {len(bad)} unparsable · {len(pdfs)} of a sample of {min(3, len(produced))} converted by LibreOffice")
    for problem in bad[:5]:
        print(f"    UNPARSABLE {problem}")
    return len(bad) + (min(3, len(produced)) - len(pdfs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(AREAS), help="comma-separated areas: " + ", ".join(AREAS))
    args = parser.parse_args()
    areas = [a for a in args.only.split(",") if a]
    unknown = set(areas) - set(AREAS)
    if unknown:
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}")
    warnings.simplefilter("ignore")  # the YAML parsers warn about every mutated anchor; the figures are the output
    failures = 0
    with tempfile.TemporaryDirectory(prefix="gongwen-bad-input-") as tmp:
        root = Path(tmp)
        for area in areas:
            started = time.perf_counter()
            tally, note = run_area(area, root, args.cases, args.seed)
            report(area, tally, note, time.perf_counter() - started)
            failures += len(tally.failures)
        failures += check_documents(root, root / "pdf")
    print(f"total failures {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
