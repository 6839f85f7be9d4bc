"""The warm LibreOffice (doc_templates/pdf.py + uno_bridge.py): real conversions through the
bridge, restarts after a kill or a hang, the one-shot fallback without uno, no LibreOffice left
behind by a process that exits or is killed, and pages with text counted by pypdfium2."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest
from samples import forwarding_sample

from gongwen_engine.doc_templates import pdf
from gongwen_engine.doc_templates.archive_files import text_pages_of_pdf
from gongwen_engine.doc_templates.render import render_docx


def uno_python() -> bool:
    python = os.environ.get(pdf.UNO_PYTHON_ENV) or pdf.DEFAULT_UNO_PYTHON
    return shutil.which(python) is not None and subprocess.run([python, "-c", "import uno"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice is not installed")
needs_uno = pytest.mark.skipif(not uno_python(), reason="python3-uno is not installed (apt-get install python3-uno)")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two distinct seed-001 forwarding documents (cover letter + the forwarded notice)."""
    folder = tmp_path_factory.mktemp("docx")
    parts = [p.model_copy(update={"sealed": True}) for p in forwarding_sample()]
    out = []
    for i in range(2):
        out.append(folder / f"doc{i}.docx")
        render_docx([parts[0].model_copy(update={"title": f"{parts[0].title}（{i}）"}), *parts[1:]], out[-1])
    return out


@pytest.fixture(scope="module")
def reference_pages(documents: list[Path], tmp_path_factory: pytest.TempPathFactory) -> int:
    """The page count of a one-shot ``soffice --convert-to`` run (the path used before)."""
    [reference] = pdf.one_shot_docx_to_pdf([documents[0]], tmp_path_factory.mktemp("one-shot"))
    return len(pypdf.PdfReader(reference).pages)


@pytest.fixture
def converter() -> Iterator[pdf.WarmConverter]:
    warm = pdf.WarmConverter()
    yield warm
    warm.close()


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def pdfa_part(data: bytes) -> tuple[str, str]:
    xmp = pypdf.PdfReader(io.BytesIO(data)).trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    part = xmp.split("<pdfaid:part>")[1].split("<")[0]
    conformance = xmp.split("<pdfaid:conformance>")[1].split("<")[0]
    return part, conformance


@needs_uno
def test_the_warm_libreoffice_writes_pdfa_with_the_pages_of_a_one_shot_run(converter, documents, reference_pages, tmp_path: Path) -> None:
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    converter.convert(documents[0], first)
    office = converter.office_pid
    converter.convert(documents[1], second)
    assert office is not None and converter.office_pid == office  # the same LibreOffice, kept warm
    for out in (first, second):
        reader = pypdf.PdfReader(out)
        assert len(reader.pages) == reference_pages > 1
        assert pdfa_part(out.read_bytes()) == ("2", "B")
        assert "发" in reader.pages[0].extract_text()
    assert text_pages_of_pdf(first.read_bytes()) == reference_pages


@needs_uno
def test_warm_up_starts_libreoffice_before_the_first_conversion(documents, tmp_path: Path) -> None:
    pdf.shutdown()
    try:
        pdf.warm_up().join(120)
        office = pdf.warm_converter().office_pid
        assert office is not None and alive(office)
        pdf.docx_to_pdf([documents[0]], tmp_path)
        assert pdf.warm_converter().office_pid == office
    finally:
        pdf.shutdown()
    assert gone_within([office], 10)


@needs_uno
def test_threads_take_turns_on_one_libreoffice(converter, documents, reference_pages, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(documents[n % 2], tmp_path / f"{n}.pdf") for n in range(6)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda job: converter.convert(*job), jobs))
    assert [len(pypdf.PdfReader(out).pages) for _, out in jobs] == [reference_pages] * 6
    titles = [pypdf.PdfReader(out).pages[0].extract_text() for _, out in jobs]
    assert all(("（0）" in t) == (n % 2 == 0) for n, t in enumerate(titles))  # each output is its own input's


@needs_uno
def test_conversions_at_once_get_a_libreoffice_each_up_to_the_limit(documents, reference_pages, tmp_path: Path, monkeypatch) -> None:
    """Two slots preparing at once convert on two LibreOffices (``CONVERTERS``), not in turns on one."""
    from concurrent.futures import ThreadPoolExecutor

    pdf.shutdown()
    try:
        first = pdf.warm_converter()
        assert first is not None and pdf.warm_converter() is first  # idle: the same one again
        with first._lock:  # converting in another thread
            second = pdf.warm_converter()
            assert second is not first
            with second._lock:
                assert pdf.warm_converter() is first  # the limit (2): the busy first takes its turn
        with pdf._converting() as chosen, pdf._converting() as also:  # two threads choosing before either converts
            assert {chosen, also} == {first, second}  # a converter each, not the idle one twice
        jobs = [(documents[n % 2], tmp_path / f"{n}.pdf") for n in range(4)]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda job: pdf.docx_to_pdf([job[0]], job[1].parent / job[1].stem), jobs))
        assert first.office_pid is not None and second.office_pid not in (None, first.office_pid)
        assert [len(pypdf.PdfReader(tmp_path / str(n) / (documents[n % 2].stem + ".pdf")).pages) for n in range(4)] == [reference_pages] * 4
        monkeypatch.setattr(pdf, "CONVERTERS", 1)
        pdf.shutdown()
        one = pdf.warm_converter()
        with one._lock:
            assert pdf.warm_converter() is one  # one allowed: shared
    finally:
        pdf.shutdown()


@needs_uno
def test_a_killed_bridge_is_started_again(converter, documents, tmp_path: Path) -> None:
    converter.convert(documents[0], tmp_path / "a.pdf")
    bridge, office = converter._proc.pid, converter.office_pid
    os.kill(bridge, signal.SIGKILL)
    assert gone_within([office], 10), "LibreOffice outlived its bridge"
    converter.convert(documents[1], tmp_path / "b.pdf")
    assert converter.office_pid not in (None, office) and converter._proc.pid != bridge
    assert len(pypdf.PdfReader(tmp_path / "b.pdf").pages) > 1


@needs_uno
def test_a_hung_libreoffice_is_killed_and_the_conversion_retried(documents, tmp_path: Path, caplog) -> None:
    converter = pdf.WarmConverter(timeout_s=3)
    try:
        converter.convert(documents[0], tmp_path / "a.pdf")
        office = converter.office_pid
        os.kill(office, signal.SIGSTOP)  # it never answers again
        with caplog.at_level(logging.WARNING, logger=pdf.__name__):
            converter.convert(documents[1], tmp_path / "b.pdf")
        assert "no answer within 3 s" in caplog.text
        assert converter.office_pid != office and gone_within([office], 10)
        assert len(pypdf.PdfReader(tmp_path / "b.pdf").pages) > 1
    finally:
        converter.close()


def test_without_uno_conversions_fall_back_to_one_soffice_run_with_one_warning(documents, reference_pages, tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv(pdf.UNO_PYTHON_ENV, sys.executable)  # gongwen's own Python: no uno
    pdf.shutdown()
    try:
        with caplog.at_level(logging.WARNING, logger=pdf.__name__):
            [first] = pdf.docx_to_pdf([documents[0]], tmp_path / "1")
            [second] = pdf.docx_to_pdf([documents[1]], tmp_path / "2")
        assert pdf.warm_converter() is None
        warnings = [r for r in caplog.records if "python3-uno" in r.getMessage()]
        assert len(warnings) == 1
        for out in (first, second):
            assert len(pypdf.PdfReader(out).pages) == reference_pages
            assert pdfa_part(out.read_bytes()) == ("2", "B")
    finally:
        pdf.shutdown()  # forget the decision: later tests get the warm path again


OWNER = """
import json, sys, time
from pathlib import Path
from gongwen_engine.doc_templates import pdf
pdf.docx_to_pdf([Path(sys.argv[1])], Path(sys.argv[2]))
warm = pdf.warm_converter()
print(json.dumps({"bridge": warm._proc.pid, "office": warm.office_pid, "profile": warm._profile}), flush=True)
if sys.argv[3] == "stay":
    time.sleep(600)
"""


@needs_uno
@pytest.mark.parametrize("end", ["exit", "sigkill"])
def test_no_libreoffice_outlives_the_process_that_started_it(end: str, documents, tmp_path: Path) -> None:
    # The owner keeps its profile in a temporary folder of its own: another test process starting up
    # sweeps the shared one for profiles of dead processes and would race this test's check.
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(documents[0]), str(tmp_path), "exit" if end == "exit" else "stay"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(private_tmp)},
    )
    started = json.loads(owner.stdout.readline())
    if end == "sigkill":
        assert alive(started["office"])
        owner.kill()
    owner.wait(60)
    assert gone_within([started["bridge"], started["office"]], 15), started
    if end == "exit":
        assert not Path(started["profile"]).exists()
    else:  # a killed process leaves its profile; the next process removes it
        assert Path(started["profile"]).exists()
        assert Path(started["profile"]).parent == private_tmp
        assert Path(started["profile"]) in pdf.remove_profiles_of_dead_processes(private_tmp)


def test_pages_with_text_leave_out_blank_pages(documents, reference_pages, tmp_path: Path) -> None:
    [converted] = pdf.docx_to_pdf([documents[0]], tmp_path)
    writer = pypdf.PdfWriter(clone_from=converted)
    writer.insert_blank_page(index=1)
    writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    assert len(pypdf.PdfReader(io.BytesIO(out.getvalue())).pages) == reference_pages + 2
    assert text_pages_of_pdf(out.getvalue()) == reference_pages
    if shutil.which("pdftotext"):  # the tool it replaced counts the same pages
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=out.getvalue(), capture_output=True, check=True).stdout.decode()
        assert sum(1 for page in text.split("\f") if page.strip()) == reference_pages
