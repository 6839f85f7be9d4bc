"""The processes a test started: their descendants, and whether one is still alive."""

from __future__ import annotations

import subprocess
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` now (children, their children, …)."""
    found, todo = set(), [pid]
    while todo:
        out = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True).stdout.split()
        found.update(int(p) for p in out)
        todo.extend(int(p) for p in out)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie or a reaped process is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def command_line(pid: int) -> str:
    """What ``pid`` runs (for a failure message); empty when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""
