"""用印 cost per document: LibreOffice conversion (one-shot ``soffice`` runs against the
process's warm LibreOffice, one file and batched), finding the name and date, drawing the
specimen, PAdES signing and verifying — on the seed-001 forwarding document (Shandong's cover
letter + the forwarded national notice, 6 pages).

    python benchmarks/seal_bench.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gongwen_engine.doc_templates import pdf as pdf_mod
from gongwen_engine.doc_templates import signing
from gongwen_engine.doc_templates.render import render_docx
from gongwen_engine.doc_templates.seal import find_signature, seal_box, specimen_image
from gongwen_engine.models.rules.dates import format_cn_date

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from samples import forwarding_sample  # the sample documents are test data (tests/samples.py)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median seconds of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(n: int = 5) -> None:
    parts = [p.model_copy(update={"sealed": True}) for p in forwarding_sample()]
    cover = parts[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        docs = []
        for i in range(n):  # distinct files (the title differs), so no cache is involved
            docx = folder / f"doc{i}.docx"
            render_docx([cover.model_copy(update={"title": f"{cover.title}（{i}）"}), *parts[1:]], docx)
            docs.append(docx)
        start = time.perf_counter()
        pdf_mod.one_shot_docx_to_pdf([docs[0]], folder / "cold")
        cold = time.perf_counter() - start  # includes creating this thread's LibreOffice profile
        one_shot, _ = timed(lambda: pdf_mod.one_shot_docx_to_pdf([docs[0]], folder / "one-shot"), n)
        start = time.perf_counter()
        pdf_mod.one_shot_docx_to_pdf(docs, folder / "one-shot-batch")
        one_shot_batch = (time.perf_counter() - start) / n
        warm_path = "warm LibreOffice" if pdf_mod.warm_converter() else "NO python3-uno: one-shot fallback"
        start = time.perf_counter()
        pdf_mod.docx_to_pdf([docs[0]], folder / "warm-first")
        warm_first = time.perf_counter() - start  # starts this process's LibreOffice
        warm, _ = timed(lambda: pdf_mod.docx_to_pdf([docs[0]], folder / "warm"), n)
        start = time.perf_counter()
        [*_, last] = pdf_mod.docx_to_pdf(docs, folder / "batch")
        batch = (time.perf_counter() - start) / n
        data = last.read_bytes()

        find, spot = timed(lambda: find_signature(data, format_cn_date(cover.issued_on), cover.signature), n)
        draw, picture = timed(lambda: specimen_image("山东省妇女联合会", 42), n)
        authority = signing.DemoAuthority(folder / "ca")
        identity = authority.identity("shandong", "山东省妇女联合会")
        seal = signing.VisibleSeal(spot.page, seal_box(spot, 42).pdf_rect(spot.page_height), picture)
        sign, signed = timed(lambda: signing.sign_pdf(data, identity, seal, "用印", "山东省妇女联合会"), n)
        roots = [authority.root()[1]]
        verify, result = timed(lambda: signing.verify_pdf(signed, roots), n)
        assert result.ok, result

    per_doc = warm + find + draw + sign
    print(f"用印 benchmark, {n} runs each (median), a 6-page seed-001 forwarding document")
    print(f"  soffice --convert-to, first in a process    : {cold * 1000:7.0f} ms  (creates the profile)")
    print(f"  soffice --convert-to, one file per run      : {one_shot * 1000:7.0f} ms")
    print(f"  soffice --convert-to, {n} files in one run    : {one_shot_batch * 1000:7.0f} ms per file")
    print(f"  {warm_path}:")
    print(f"  .docx→PDF/A, first (starts LibreOffice)     : {warm_first * 1000:7.0f} ms")
    print(f"  .docx→PDF/A, one file, warm                 : {warm * 1000:7.0f} ms")
    print(f"  .docx→PDF/A, {n} files, warm                  : {batch * 1000:7.0f} ms per file")
    print(f"  find name and date (pdfplumber)             : {find * 1000:7.0f} ms")
    print(f"  draw the specimen seal (Pillow)             : {draw * 1000:7.0f} ms")
    print(f"  PAdES signature with the visible seal       : {sign * 1000:7.0f} ms")
    print(f"  verify (gongwen seal verify, 签收)           : {verify * 1000:7.0f} ms")
    print(f"  per sealed document (the 用印 step)          : {per_doc * 1000:7.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
