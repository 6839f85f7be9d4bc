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
from ruamel.yaml.error import MarkedYAMLError

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
            self._root = YAML(typ="rt").load(self.path.read_text(encoding="utf-8")) or CommentedMap()
        return self._root

    def line_of(self, loc: Iterable[str | int]) -> int | None:
        """1-based line of the deepest node on ``loc`` that the file has."""
        node: Any = self.root
        line: int | None = _node_line(node)
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


def load_yaml(path: Path, fast: bool = False) -> YamlDoc:
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
    return YamlDoc(path, root if root is not None else CommentedMap())


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
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
