"""The one retry policy of automatic steps.

A step runs at most ``1 + retries`` times (``retries:`` is declared per step in the flow file,
default 2), ``RETRY_DELAY_S`` apart; after the last failure the circulation is marked failed with
:func:`failure_text` and waits for ``gongwen retry``. The dispatcher (``runner.py``) declares it as
Prefect task retries; the batch runner (``batch.py``), which runs many circulations' steps inside
one task run, applies the same numbers itself.
"""

from __future__ import annotations

RETRY_DELAY_S = 0.5


def failure_text(step: str, exc: BaseException) -> str:
    """What a failed circulation records: the step and the error of its last attempt."""
    return f"{step}: {type(exc).__name__}: {exc}"
