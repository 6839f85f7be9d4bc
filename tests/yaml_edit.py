"""Helpers for tests that edit copies of the packaged YAML folders (config/, flows/)."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_yaml_folder(source: Path, target: Path) -> Path:
    """Copy the YAML files of a packaged folder (not its Python modules) to ``target``."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def edit(folder: Path, name: str, old: str, new: str) -> str:
    """Replace ``old`` (which must occur exactly once) with ``new`` in ``folder/name``; return the new text."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text
