"""The fast YAML path (libyaml, config/yamlsrc.py) reads exactly what the round-trip parser
(ruamel.yaml, YAML 1.2) reads: every YAML file of the project, tricky scalars, and seeded
mutations of the config and flow files; what it cannot read the same way it leaves to the
round-trip parser, so errors keep their file:line."""

from __future__ import annotations

import contextlib
import random
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from bad_input_yaml import CONFIG_FILES, mutate

from gongwen_engine.config.loader import PACKAGED_CONFIG_DIR
from gongwen_engine.config.yamlsrc import _ROUND_TRIP, SourceError, _read_fast, load_yaml
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR

PROJECT_YAML = sorted([*PACKAGED_CONFIG_DIR.rglob("*.yaml"), *Path(PACKAGED_FLOWS_DIR).glob("*.yaml")])


def _kind(value: Any) -> type:
    """The plain type a value stands for (ruamel's ScalarInt is an int, its TimeStamp a datetime)."""
    for kind in (bool, int, float, str, datetime, date, dict, list):
        if isinstance(value, kind):
            return kind
    return type(value)


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where ``a`` and ``b`` differ in value, type (True is not 1, 1 is not 1.0) or key order."""
    if _kind(a) is not _kind(b):
        return [f"{where}: {a!r} ({type(a).__name__}) vs {b!r} ({type(b).__name__})"]
    if isinstance(a, dict):
        if list(a) != list(b):
            return [f"{where}: keys {list(a)} vs {list(b)}"]
        return [d for key in a for d in differences(a[key], b[key], f"{where}.{key}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    same = a == b or repr(a) == repr(b)  # nan; ruamel's TaggedScalar has no ==
    return [] if same else [f"{where}: {a!r} vs {b!r}"]


def outcome(path: Path, fast: bool) -> tuple[str, Any]:
    try:
        return "data", load_yaml(path, fast=fast).data
    except SourceError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("path", PROJECT_YAML, ids=lambda p: str(p.relative_to(PACKAGED_CONFIG_DIR.parent)))
def test_every_project_file_reads_the_same_and_fast(path: Path) -> None:
    assert _read_fast(path.read_text(encoding="utf-8")) is not _ROUND_TRIP, "the shipped files take the fast path"
    assert differences(load_yaml(path, fast=True).data, load_yaml(path, fast=False).data) == []


SCALARS = [
    # YAML 1.1 (PyYAML's default) reads these differently from YAML 1.2 (ruamel.yaml): the fast path must not
    "yes",
    "no",
    "on",
    "off",
    "y",
    "N",
    "True",
    "FALSE",
    "0123",
    "089",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "+12",
    "-0",
    "1:20",
    "-1:20",
    "190:20:30.15",
    "1e3",
    "1E3",
    "1.e3",
    "12e+03",
    "+.5",
    ".5",
    "1.0",
    "-.inf",
    ".NaN",
    "0.",
    "0012.5",
    "2012-01-01",
    "2012-1-1",
    "2012-01-01 10:00:00",
    "2012-01-01T10:00:00Z",
    "2001-12-14t21:59:43.10-05:00",
    "~",
    "null",
    "Null",
    "",
    "'0123'",
    '"yes"',
    "0o",
    "0x",
    "inf",
    "1.2.3",
    "妇字〔2012〕2号",
    # left to the round-trip parser (tags, merge and value keys, duplicated keys, values it cannot read)
    "=",
    "<<",
    "!!str 1",
    "!!bool yes",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "{a: 1, a: 2}",
    "{1: a, 1.0: b}",
    "{<<: {x: 1}, y: 2}",
    "{=: 1}",
    "{? [1, 2] : x}",
    "[1, [2, {b: 0012}]]",
    "&x [1, *x]",
    "x\ty",
    "x\x85y: z",
    "x\u2028y",
]
DOCUMENTS = ["%YAML 1.1\n---\nv: yes\n", "v: 1\nw: !!python/object:os.system x\n", "", "~\n", "just text\n", "\ufeffv: 1\n", "- 1\n- 1\n"]
READ_FAST = {"yes", "no", "on", "off", "0123", "0o17", "1:20", "1e3", "+.5", "2012-01-01T10:00:00Z", "[1, [2, {b: 0012}]]"}


@pytest.mark.parametrize("text", [f"v: {scalar}\n" for scalar in SCALARS] + DOCUMENTS)
def test_a_value_reads_as_the_round_trip_parser_reads_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "value.yaml"
    path.write_text(text, encoding="utf-8")
    fast, reference = outcome(path, True), outcome(path, False)
    assert fast[0] == reference[0]
    if fast[0] == "data":
        assert differences(fast[1], reference[1]) == []
    else:
        assert fast[1] == reference[1]
    if text.removeprefix("v: ").removesuffix("\n") in READ_FAST:
        assert _read_fast(text) is not _ROUND_TRIP


def test_duplicated_key_in_the_organisation_tree_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "organisations.yaml"
    text = (PACKAGED_CONFIG_DIR / "organisations.yaml").read_text(encoding="utf-8").replace("    fonds: S043\n", "    fonds: S043\n    fonds: S044\n", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_yaml(path)
    assert caught.value.line == text.splitlines().index("    fonds: S044") + 1
    assert "duplicate key" in caught.value.message and caught.value.fix


@pytest.mark.parametrize(
    "text",
    ["- " * 100_000 + "x\n", "".join(" " * i + "k:\n" for i in range(1_500)) + "x\n", "- " * 300 + "x\n"],
    ids=["100000-dashes", "1500-indented-keys", "300-dashes"],
)
def test_deep_block_nesting_is_refused_not_a_crash(tmp_path: Path, text: str) -> None:
    """libyaml's composer recurses in C: 30,000 nested block lists on one line crash the process (a
    segfault), so such a file never reaches it; past MAX_NESTING levels both paths refuse the file."""
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    for fast in (True, False):
        with pytest.raises(SourceError, match="nested too deeply"):
            load_yaml(path, fast=fast)


MUTATION_CASES = 40


def test_mutated_config_and_flow_files_read_the_same_both_ways(tmp_path: Path) -> None:
    """Seeded mutations (tests/bad_input_yaml.py): both paths load the same data or raise the same error."""
    rng = random.Random(6)
    seeds = [PACKAGED_CONFIG_DIR / name for name in CONFIG_FILES] + sorted(Path(PACKAGED_FLOWS_DIR).glob("*.yaml"))
    mismatches, fast_reads = [], 0
    for n in range(MUTATION_CASES):
        source = rng.choice(seeds)
        path = tmp_path / f"{n}-{source.name}"
        path.write_bytes(mutate(source.read_bytes(), rng))
        fast, reference = outcome(path, True), outcome(path, False)
        if fast[0] != reference[0] or (differences(fast[1], reference[1]) if fast[0] == "data" else fast[1] != reference[1]):
            mismatches.append(f"case {n} ({source.name}): fast {str(fast)[:200]} / round-trip {str(reference)[:200]}")
        with contextlib.suppress(UnicodeDecodeError, ValueError):
            fast_reads += _read_fast(path.read_text(encoding="utf-8")) is not _ROUND_TRIP
    assert mismatches == []
    assert fast_reads > MUTATION_CASES // 4  # the mutations do reach the fast path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nday: 2012-13-45\n", 2, "2012-13-45"),  # ruamel.yaml raised a bare ValueError
        ("a: 1\nmask: 0b_\n", 2, "0b_"),  # ... an IndexError
        ("a: 1\nb:\n%YAML 9.9\n  c: 1\n", 3, "%YAML 9.9"),  # ... a KeyError
        ("%YAML 1.3\n---\na: 1\n", 1, "%YAML 1.3"),  # ... an AssertionError
    ],
)
def test_a_value_or_directive_the_parser_fails_on_is_refused_at_its_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    for fast in (True, False):
        with pytest.raises(SourceError) as caught:
            load_yaml(path, fast=fast)
        assert caught.value.line == line and words in caught.value.message and caught.value.fix
