"""Python's cyclic garbage collector, tuned once for a process that runs steps for long (the batch
runner, a worker): measured on ``benchmarks/step_bench.py --province p51``, 12.1 → 10.4 ms of CPU
per step (docs/performance.md).

Two things. What is alive once the engine has loaded — the configuration (the national tree's
3,225 organisations), the flows, the modules — lives as long as the process: ``gc.freeze`` takes it
out of the collector's scans, which otherwise walk it at every full collection. And the ORM makes
and drops thousands of objects per step: a young-generation collection every 10,000 allocations
instead of Python's 700 does the same work in fewer, larger passes (the peak RSS of the national
cascade is in the same table). Cycles are still collected; nothing is switched off.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

THRESHOLDS = (10_000, 10, 10)  # young generation every 10,000 net allocations; the older ones as Python's defaults
_tuned = False


def tune_once() -> bool:
    """Freeze what is alive now and raise the young generation's threshold, once per process.
    Returns whether this call did it (False: done already)."""
    global _tuned
    if _tuned:
        return False
    _tuned = True
    gc.collect()  # what is garbage now is not frozen with the rest
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.debug("garbage collector: %d objects frozen, thresholds %s", gc.get_freeze_count(), THRESHOLDS)
    return True
