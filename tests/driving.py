"""A tiny dispatcher for tests: the engine's automatic steps without Prefect (the Prefect runner
has its own tests in test_demo.py, test_cascade.py and test_web.py)."""

from __future__ import annotations

from gongwen_engine.flows.engine.engine import Engine


def drive(engine: Engine, twice: bool = False, rounds: int = 5000) -> int:
    """Claim the circulations with automatic work and run their current step, until every
    circulation waits for a person or is done; returns the steps that ran.

    ``twice``: run every claimed step a second time with the same expected step (a duplicated task).
    """
    ran = 0
    for _ in range(rounds):
        claimed = engine.claim_ready()
        if not claimed:
            return ran
        for circ in claimed:
            ran += engine.run_step(circ.id, circ.step).ran
            if twice:
                ran += engine.run_step(circ.id, circ.step).ran
    raise AssertionError("the dispatcher never became idle")
