"""Prefect's stop signal, recognised without importing Prefect (the CLI starts faster without it)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.exceptions import TerminationSignal


def termination_signal(exc: BaseException) -> int | None:
    """Prefect's own SIGTERM handler, active while a flow run runs, raises ``TerminationSignal``;
    in an async flow run it comes out of the event loop, past the engine that would have handed the
    signal on (``systemctl stop`` of a busy worker ended in a traceback and exit code 1). The signal's
    number if ``exc`` is one, else ``None``."""
    termination: type[TerminationSignal] | None = getattr(sys.modules.get("prefect.exceptions"), "TerminationSignal", None)  # never imported: never raised
    return exc.signal if termination is not None and isinstance(exc, termination) else None
