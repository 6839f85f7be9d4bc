"""YAML loading that remembers where every value came from, so errors name file:line.

Both `config/*.yaml` and `flows/*.yaml` are read through here and validated by pydantic;
a validation error is turned into a :class:`SourceError` that names the file, the line, what
is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

M = TypeVar("M", bound=BaseModel)

try:  # libyaml through PyYAML (installed with prefect): the fast path of load_yaml(fast=True)
    import yaml

    class _FastLoader(yaml.CSafeLoader):
        """YAML 1.2 core booleans only (true/false): 'on', 'no', 'yes' stay strings, as in ruamel."""

    _FastLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"] for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }
    _FastLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
except (ImportError, AttributeError):  # no libyaml: the round-trip parser is used
    _FastLoader = None


class SourceError(ValueError):
    """A problem in a config or flow file, with its location and a fix."""

    def __init__(self, path: Path | str, line: int | None, message: str, fix: str = "") -> None:
        self.path, self.line, self.message, self.fix = str(path), line, message, fix
        where = f"{self.path}:{line}" if line else self.path
        text = f"{where}: {message}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


class SourceErrors(ValueError):
    """Several :class:`SourceError` found in one pass (all are reported, not just the first)."""

    def __init__(self, errors: Sequence[SourceError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class YamlDoc:
    """A parsed YAML file: plain data plus a way to find the line of any path in it."""

    def __init__(self, path: Path, root: Any, data: Any = None) -> None:
        self.path = path
        self._root = root
        self.data = _plain(root) if data is None else data

    @property
    def root(self) -> Any:
        """The round-trip tree with line numbers (parsed on first use for a fast-loaded file)."""
        if self._root is None:
            try:
                self._root = YAML(typ="rt").load(self.path.read_text(encoding="utf-8")) or CommentedMap()
            except YAMLError:  # libyaml read it (e.g. a duplicated key), ruamel does not: errors name line 1
                self._root = CommentedMap()
        return self._root

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """1-based line of the deepest node on ``loc`` that the file has."""
        node: Any = self.root
        line: int | None = _node_line(node) or 1  # the top level (e.g. a required key missing) starts at line 1
        for key in loc:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        return line

    def error(self, loc: Iterable[str | int], message: str, fix: str = "") -> SourceError:
        return SourceError(self.path, self.line_of(loc), message, fix)

    def validate(self, model: type[M], data: Any | None = None, loc_prefix: tuple = ()) -> M:
        """Validate ``data`` (default: the whole file) with ``model``; errors name file:line."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            raise SourceErrors(
                [
                    self.error(
                        (*loc_prefix, *err["loc"]),
                        f"{'.'.join(str(p) for p in (*loc_prefix, *err['loc'])) or '(top level)'}: {err['msg']}",
                        _fix_for(err),
                    )
                    for err in exc.errors()
                ]
            ) from None


MAX_VALUES = 1_000_000  # scalars, lists and maps in one file: the national tree has ~60,000; an alias bomb billions


class _TooLarge(Exception):
    """More values than MAX_VALUES once aliases are expanded."""


def load_yaml(path: Path, fast: bool = False) -> YamlDoc:
    """Parse ``path``; a syntax error becomes a SourceError with the line; a file that is not
    UTF-8, nests too deeply or expands past MAX_VALUES (an alias bomb) is refused as a whole.
    """
    try:
        return _load_yaml(path, fast)
    except RecursionError:
        raise SourceError(path, None, "nested too deeply to read", "flatten the lists and maps (a config file needs only a few levels)") from None
    except _TooLarge:
        raise SourceError(path, None, f"too large: more than {MAX_VALUES:,} values once anchors and aliases (&, *) are expanded",
                          "write the values out instead of repeating aliases") from None


def _load_yaml(path: Path, fast: bool) -> YamlDoc:
    """Parse ``path``; a syntax error becomes a SourceError with the line.

    ``fast``: parse with libyaml (PyYAML's C loader, YAML 1.2 booleans) and read the line numbers
    only when an error needs one — the generated national tree (3,225 organisations) parses in
    about 1 s instead of about 10 s.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(path, None, "file not found", "check the path or create the file") from None
    except UnicodeDecodeError as exc:
        raise SourceError(path, None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8") from None
    except OSError as exc:  # a folder, no permission, an unreadable device
        raise SourceError(path, None, f"cannot read the file ({exc.strerror or exc})", "give the path of a readable YAML file") from None
    _check_nesting(path, text)
    if fast and _FastLoader is not None:
        try:
            data = yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            pass  # the round-trip parser below reports the error with its line
        else:
            return YamlDoc(path, None, _plain(data) if data is not None else {})
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise SourceError(path, line, f"YAML syntax error: {exc.problem}", "fix the YAML syntax on that line (indentation, colons, quotes)") from None
    except YAMLError as exc:  # e.g. a control character the reader refuses (ReaderError carries the offset)
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise SourceError(path, line, f"YAML error: {exc}".splitlines()[0], "remove the control characters; save the file as plain UTF-8 text") from None
    return YamlDoc(path, root if root is not None else CommentedMap())


MAX_NESTING = 100  # [ and { inside each other; config files need a handful (the parser recurses per level)


def _check_nesting(path: Path, text: str) -> None:
    """Refuse flow collections nested past MAX_NESTING, at their line, before the parser recurses
    (thousands of levels cost it seconds, then a RecursionError). Quoted text and comments are skipped."""
    depth, line, quote, comment, previous = 0, 1, "", False, " "
    for char in text:
        if char == "\n":
            line, comment = line + 1, False  # a quoted scalar may span lines: quote stays
        elif comment:
            pass
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"" and previous in " \t[{,:":
            quote = char
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise SourceError(path, line, f"lists or maps nested more than {MAX_NESTING} levels deep", "flatten the lists and maps (a config file needs only a few levels)")
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char


def _plain(node: Any, budget: list[int] | None = None) -> Any:
    budget = [MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge()
    if isinstance(node, dict):
        return {str(k): _plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget) for v in node]
    return node


def _node_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _fix_for(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return f"add the required key '{err['loc'][-1]}'"
    if kind == "extra_forbidden":
        return f"remove '{err['loc'][-1]}' or check its spelling"
    if kind.startswith("literal_error") or kind == "enum":
        return f"use one of the allowed values ({err.get('ctx', {}).get('expected', '')})"
    return "correct the value on that line"
