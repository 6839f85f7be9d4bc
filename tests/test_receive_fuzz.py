"""Fuzz: a fixed number of mutated files; each is read or refused with an IntakeError, never a crash."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receive_fuzz import mutate, read_outcome, seeds


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(seeds())), st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=3))
def test_mutated_files_are_read_or_refused(name: str, seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    data = seeds()[name]
    for _ in range(rounds):
        data = mutate(data, rng)
    assert read_outcome(data, name) in ("read", "refused")


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=4096), st.sampled_from(["a.docx", "a.txt", "a.pdf"]))
def test_random_bytes_are_read_or_refused(data: bytes, name: str) -> None:
    assert read_outcome(data, name) in ("read", "refused")


def test_the_unmutated_seeds_are_read() -> None:
    assert {name: read_outcome(data, name) for name, data in seeds().items()} == {"x.docx": "read", "x.txt": "read", "x.pdf": "read"}
