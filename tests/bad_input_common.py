"""What the bad-input areas share: the tally of cases and failures, and the check that every
.docx the runs produced parses (python-docx) and a sample converts with LibreOffice."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import docx


@dataclass
class Tally:
    """Cases tried and the failures found (a short description each) in one area."""

    area: str
    tried: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, description: str) -> None:
        self.failures.append(description)


def docx_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*.docx"))


def unparsable_docx(paths: list[Path]) -> list[str]:
    """The .docx files python-docx cannot open (each with the reason)."""
    bad = []
    for path in paths:
        try:
            docx.Document(str(path))
        except Exception as exc:  # any failure to open is what we look for
            bad.append(f"{path.name}: {type(exc).__name__}: {exc}")
    return bad


def convert_sample(paths: list[Path], out: Path, size: int = 2, seed: int = 0) -> list[Path]:
    """Convert ``size`` of ``paths`` with LibreOffice (doc_templates/pdf.py); the PDFs written."""
    from gongwen_engine.doc_templates.pdf import docx_to_pdf

    sample = random.Random(seed).sample(paths, min(size, len(paths)))
    return docx_to_pdf(sample, out) if sample else []
