"""The one-page bound against LibreOffice, record by record (issue 25).

    python benchmarks/record_pages_check.py                       # varied records (tests/record_corpus.py)
    python benchmarks/record_pages_check.py --count 200 --seed 7
    python benchmarks/record_pages_check.py --from OUT            # and a cascade's records (gongwen cascade --out OUT)

归档 counts the pages of the processing slips and draft sheets it files; ``fits_one_page``
(doc_templates/page_bound.py) settles a record as one page without converting it when a safe
upper bound of its body's height fits the type area. For each record this converts the .docx
with the process's LibreOffice (doc_templates/pdf.py, as 归档 does) and prints how many the bound
settles, how many it sends to LibreOffice, and every record the bound calls one page where
LibreOffice finds more (must be 0), with the bound's margin (type area − bound) for the settled ones.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from record_corpus import varied_records

from gongwen_engine.doc_templates import pdf as pdf_conversion
from gongwen_engine.doc_templates.archive_files import fits_one_page, text_pages_of_pdf
from gongwen_engine.doc_templates.records import record_bytes

CHUNK = 50  # files per conversion call


def corpus(count: int, seed: int, cascade: Path | None, folder: Path) -> list[tuple[str, Path]]:
    """(label, .docx) for the varied records, written into ``folder``, and a cascade's records."""
    files = []
    for n, record in enumerate(varied_records(count, seed)):
        path = folder / f"v{n:03d}-{record.kind.value}.docx"
        path.write_bytes(record_bytes(record))
        files.append((f"varied/{record.kind.value}", path))
    if cascade is not None:
        for path in sorted(cascade.glob("**/records/*.docx")):
            files.append((f"cascade/{path.stem.rsplit('-', 1)[0]}", path))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=60, help="varied records (half slips, half draft sheets)")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--from", dest="cascade", type=Path, help="also every records/*.docx under this cascade output folder")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} at start")
    with tempfile.TemporaryDirectory() as tmp:
        files = corpus(args.count, args.seed, args.cascade, Path(tmp))
        started = time.perf_counter()
        bounds = [fits_one_page(path.read_bytes()) for _, path in files]
        bound_s = time.perf_counter() - started
        started = time.perf_counter()
        pages = []
        for i in range(0, len(files), CHUNK):
            pages.extend(text_pages_of_pdf(pdf) for pdf in pdf_conversion.docx_files_to_pdf_bytes([p for _, p in files[i : i + CHUNK]]))
        convert_s = time.perf_counter() - started
        margins = _margins([path for (_, path), one in zip(files, bounds, strict=True) if one])
    pdf_conversion.shutdown()
    rows: dict[str, Counter[str]] = {}
    wrong = []
    for (label, path), one, real in zip(files, bounds, pages, strict=True):
        row = rows.setdefault(label, Counter())
        row["records"] += 1
        row[f"LibreOffice {real} p"] += 1
        row["settled" if one else "to LibreOffice"] += 1
        if not one and real == 1:
            row["to LibreOffice, 1 p"] += 1
        if one and real != 1:
            wrong.append(f"{path.name}: bound 1 page, LibreOffice {real}")
    for label, row in rows.items():
        shown = ", ".join(f"{k} {v}" for k, v in sorted(row.items()) if k != "records")
        print(f"{label:<28} {row['records']:>4} records: {shown}")
    total = sum((r for r in rows.values()), Counter())
    print(
        f"all {total['records']}: the bound settles {total['settled']} ({bound_s * 1000 / max(len(files), 1):.2f} ms a record), "
        f"sends {total['to LibreOffice']} to LibreOffice ({total['to LibreOffice, 1 p']} of them one page); "
        f"LibreOffice: {convert_s:.1f} s for {len(files)} conversions"
    )
    if margins:
        print(f"type area − bound, settled records: min {min(margins):.1f} pt, median {sorted(margins)[len(margins) // 2]:.1f} pt")
    print(f"bound says one page, LibreOffice more: {len(wrong)}")
    for line in wrong:
        print("  WRONG", line)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    return 1 if wrong else 0


def _margins(paths: list[Path]) -> list[float]:
    try:
        from gongwen_engine.doc_templates.page_bound import body_height_bound
    except ImportError:  # an older tree (the bound inside archive_files.py)
        return []
    out = []
    for path in paths:
        bound = body_height_bound(path.read_bytes())
        if bound is not None:
            out.append(bound[1] - bound[0])
    return out


if __name__ == "__main__":
    sys.exit(main())
