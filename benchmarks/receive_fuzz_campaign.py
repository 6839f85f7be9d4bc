"""A longer fuzz campaign for the reader of received files (收文).

    python benchmarks/receive_fuzz_campaign.py [--cases 5000] [--seed 1]

Mutates valid .docx/.txt/.pdf files (tests/receive_fuzz.py) and reads each: it must be read or
refused with an IntakeError. Prints cases tried, read, refused, failures (with the exception
and a reproducer seed) and the rate.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from receive_fuzz import mutate, read_outcome, seeds
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    outcomes: collections.Counter[str] = collections.Counter()
    failures: list[tuple[int, str, str]] = []
    names = sorted(seeds())
    started = time.perf_counter()
    with Progress(TextColumn("[bold]fuzz 收文"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        bar = progress.add_task("cases", total=args.cases)
        for case in range(args.cases):
            case_seed = args.seed * 1_000_003 + case
            rng = random.Random(case_seed)
            name = rng.choice(names)
            data = seeds()[name]
            for _ in range(rng.randint(1, 3)):
                data = mutate(data, rng)
            try:
                outcomes[read_outcome(data, name)] += 1
            except Exception as exc:  # a failure of the reader: record it and go on
                outcomes["failed"] += 1
                failures.append((case_seed, name, "".join(traceback.format_exception_only(exc)).strip()))
            progress.update(bar, advance=1)
    seconds = time.perf_counter() - started
    print(
        f"cases tried {args.cases} · read {outcomes['read']} · refused {outcomes['refused']} · failures {outcomes['failed']} · "
        f"{seconds:.1f} s ({args.cases / seconds:.0f} cases/s)"
    )
    for case_seed, name, error in failures[:20]:
        print(f"FAILED seed={case_seed} file={name}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
