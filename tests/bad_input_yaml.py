"""Mutated config and flow files (a seeded mutator over the packaged ``config/*.yaml`` and
``flows/*.yaml``): keys deleted, values of the wrong type, duplicated keys, references to things
that do not exist, broken YAML, huge and deeply nested values, alias bombs, non-UTF-8 bytes.

The property: loading (``load_config`` + ``load_seal_config``, or ``load_flows``) succeeds, or
raises the project's user-facing config error (``SourceError`` / ``SourceErrors``) in which every
problem names the file — and the line, unless the problem is the whole file (not UTF-8, not
readable). Any other exception is a failure.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from bad_input_common import Tally

from gongwen_engine.config.loader import FILES, PACKAGED_CONFIG_DIR, load_config
from gongwen_engine.config.seals import SEALS_FILE, load_seal_config
from gongwen_engine.config.yamlsrc import SourceError, SourceErrors
from gongwen_engine.flows.actions import ACTIONS
from gongwen_engine.flows.engine.context import action_kinds
from gongwen_engine.flows.engine.definition import PACKAGED_FLOWS_DIR, load_flows

CONFIG_FILES = [*FILES.values(), SEALS_FILE]
WHOLE_FILE_PROBLEMS = ("not UTF-8", "file not found", "cannot read", "nested too deeply", "too large")  # no one line to name
UNKNOWN_REFERENCES = ["nosuch", "nowhere_org", "no_such_step", "no_action", "no_role", "不存在", "end "]


def _load_data(text: str) -> Any:
    return yaml.safe_load(text)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value in ``data``."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _set(data: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        copy = dict(data)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _set(data[head], rest, value, delete)
        return copy
    copy = list(data)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _set(data[head], rest, value, delete)
    return copy


def _structural(text: str, rng: random.Random) -> str:
    """Delete a key, retype a value, point a reference at nothing, or make a value huge."""
    try:
        data = _load_data(text)
    except (yaml.YAMLError, RecursionError):  # an earlier mutation broke it: leave it broken
        return text
    paths = [p for p in _paths(data) if p]
    if not paths:
        return _dump(rng.choice([[], 1, "x", None]))
    path = rng.choice(paths)
    kind = rng.randrange(4)
    if kind == 0:
        return _dump(_set(data, path, None, delete=True))
    if kind == 1:
        wrong = rng.choice([None, 0, -1, 1.5, True, "", "x", [], {}, [1, 2], {"a": 1}, "2012-13-45", 10**30])
        return _dump(_set(data, path, wrong))
    if kind == 2:  # a name that refers to nothing (an organisation, a step, an action, a role)
        return _dump(_set(data, path, rng.choice(UNKNOWN_REFERENCES)))
    huge = rng.choice(["名" * 200_000, 10**400, list(range(20_000)), {f"k{i}": i for i in range(5_000)}])
    return _dump(_set(data, path, huge))


def _duplicate_key(text: str, rng: random.Random) -> str:
    """Repeat one 'key: value' line right after itself (a duplicated key in that mapping)."""
    lines = text.splitlines()
    keyed = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith(("#", "-"))]
    if not keyed:
        return text
    i = rng.choice(keyed)
    return "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]) + "\n"


def _broken_syntax(text: str, rng: random.Random) -> str:
    at = rng.randrange(len(text) + 1)
    junk = rng.choice([": [", "{", "\t", "  - ", "'", '"', "&a", "*nosuch", "!!python/object:os.system", "---\n", "%YAML 9.9\n", "? ", "|\n x", "\x00", "\x85"])
    return text[:at] + junk + text[at:]


def _deep_nesting(text: str, rng: random.Random) -> str:
    depth = rng.choice([50, 200, 100_000])
    return text + f"\ndeep: {'[' * depth}{']' * depth}\n"


def _alias_bomb(text: str, rng: random.Random) -> str:
    levels = rng.choice([3, 8])  # 10**3 values (read), 10**8 (refused: past the loader's budget)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return text + "\n" + "\n".join(lines) + "\n"


def _truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


TEXT_MUTATIONS: list[Callable[[str, random.Random], str]] = [_structural, _structural, _duplicate_key, _broken_syntax, _deep_nesting, _alias_bomb, _truncate]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One or two mutations of a YAML file's bytes."""
    kind = rng.randrange(10)
    if kind == 0:  # bytes that are not UTF-8
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xe4\xb8", b"\x80"]) + data[at:]
    if kind == 1:  # the same text in GBK
        return data.decode("utf-8", "replace").encode("gbk", "replace")
    if kind == 2:  # an empty file, or a byte-order mark in front
        return rng.choice([b"", b"\xef\xbb\xbf" + data, b"\n\n", b"~\n"])
    text = data.decode("utf-8")
    for _ in range(rng.randint(1, 2)):
        text = rng.choice(TEXT_MUTATIONS)(text, rng)
    return text.encode("utf-8", "surrogatepass")


def check_error(exc: BaseException, folder: Path) -> str | None:
    """What is wrong with a loading error, or None when it is the project's config error naming file:line."""
    if isinstance(exc, SourceErrors):
        problems = exc.errors
    elif isinstance(exc, SourceError):
        problems = [exc]
    else:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    if not problems:
        return "SourceErrors with no problem listed"
    for problem in problems:
        if not Path(problem.path).is_relative_to(folder):
            return f"the error names {problem.path}, not a file of {folder}"
        if problem.line is None and not problem.message.startswith(WHOLE_FILE_PROBLEMS) and Path(problem.path).is_file():
            return f"no line: {problem}"
    return None


def load_config_folder(folder: Path) -> None:
    config = load_config(folder)
    load_seal_config(folder, config.organisations, folder / "home")


def load_flow_folder(folder: Path) -> None:
    load_flows(folder, action_kinds(ACTIONS))


def fuzz_yaml(root: Path, cases: int, seed: int = 0) -> tuple[Tally, dict[str, int]]:
    """``cases`` mutated files, config and flows alternately; outcome counts beside the tally."""
    tally = Tally("config and flow YAML")
    outcomes = {"loaded": 0, "refused": 0}
    rng = random.Random(seed)
    config_seed = {name: (PACKAGED_CONFIG_DIR / name).read_bytes() for name in CONFIG_FILES}
    flow_seed = {p.relative_to(PACKAGED_FLOWS_DIR).as_posix(): p.read_bytes() for p in sorted(Path(PACKAGED_FLOWS_DIR).rglob("*.yaml"))}  # included files too
    for n in range(cases):
        is_config = n % 2 == 0
        originals, load = (config_seed, load_config_folder) if is_config else (flow_seed, load_flow_folder)
        folder = root / f"case-{n % 2}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in originals.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        victim = rng.choice(sorted(originals))
        (folder / victim).write_bytes(mutate(originals[victim], rng))
        tally.tried += 1
        try:
            load(folder)
        except RecursionError as exc:  # reported as a failure like any other stray exception
            tally.fail(f"case {n} ({victim}): {check_error(exc, folder)}")
        except Exception as exc:  # the property is about which exceptions escape
            problem = check_error(exc, folder)
            outcomes["refused"] += 1
            if problem:
                tally.fail(f"case {n} seed={seed} ({victim}): {problem}")
        else:
            outcomes["loaded"] += 1
    return tally, outcomes
