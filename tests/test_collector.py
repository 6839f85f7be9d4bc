"""The garbage collector's tuning for processes that run steps (``flows/runtime/collector.py``),
checked in a process of its own: what is alive is frozen out of the scans, the young generation's
threshold is raised, once; cyclic garbage made afterwards is still collected."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, weakref
from gongwen_engine.flows.runtime import collector
before = gc.get_threshold()
first, second = collector.tune_once(), collector.tune_once()
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a          # a cycle, made after the freeze
gone = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "calls": [first, second],
                  "frozen": gc.get_freeze_count(), "cycle_collected": gone() is None}))
"""


def test_the_collector_is_tuned_once_and_still_collects_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out)
    assert seen["before"] == [700, 10, 10] and seen["after"] == [10_000, 10, 10]
    assert seen["calls"] == [True, False]  # the second call does nothing
    assert seen["frozen"] > 1000  # the modules and what they hold
    assert seen["cycle_collected"]
