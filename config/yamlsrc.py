"""YAML loading that remembers where every value came from, so errors name file:line.

Both `config/*.yaml` and `flows/*.yaml` are read through here and validated by pydantic;
a validation error is turned into a :class:`SourceError` that names the file, the line, what
is wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode

from gongwen_engine.config.errors import DefinitionError

M = TypeVar("M", bound=BaseModel)

SPECIAL_KEY_TAGS = {"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"}  # keys << and =
CORE_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str", "seq", "map", "timestamp")}
FAST_MAX_LINE = 1000  # characters: bounds how deeply block lists and maps can nest (libyaml's composer recurses in C)
# What libyaml reads otherwise than ruamel.yaml: a %YAML/%TAG directive, a tag (!!str, !custom), a tab
# (ruamel refuses one in plain text) and NEL/LS/PS (line breaks to libyaml's YAML 1.1, text to ruamel's 1.2)
ROUND_TRIP_ONLY = re.compile(r"^%|(?:^|[\s\[{,])!|[\t\x85\u2028\u2029]", re.MULTILINE)

_FAST_LOADER: type[Any] | None  # _FastLoader when libyaml is there
try:  # libyaml through PyYAML (a declared dependency): the fast path of load_yaml
    import yaml
    from ruamel.yaml.resolver import implicit_resolvers as _RUAMEL_RESOLVERS

    class _FastLoader(yaml.CSafeLoader):
        """libyaml's parser with ruamel.yaml's YAML 1.2 reading of plain scalars, so the data is the
        round-trip parser's: 'yes'/'no'/'on'/'off' and '1:20' stay strings, '0123' is 123, '0o17' 15,
        '1e3' a float. A mapping with a duplicated key or a merge key (<<) is not read here (the
        round-trip parser refuses the first and orders the merged keys differently); nor is any tag
        outside the core schema (!!set, !!omap, !!binary, ...)."""

        yaml_implicit_resolvers: ClassVar[dict[str, Any]] = {}
        yaml_constructors: ClassVar[dict[str | None, Any]] = {  # None: any other tag is an error
            tag: make for tag, make in yaml.CSafeLoader.yaml_constructors.items() if tag in CORE_TAGS or tag is None
        }

        def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
            """YAML 1.2 integers as ruamel.yaml reads them: no sexagesimal, a leading 0 is not octal."""
            text = self.construct_scalar(node).replace("_", "")
            sign, digits = (-1 if text[:1] == "-" else 1), text[1:] if text[:1] in ("-", "+") else text
            base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
            return sign * int(digits[2:] if base != 10 else digits, base)  # a ValueError: the round-trip parser decides

        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            if isinstance(node, yaml.MappingNode) and any(key.tag in SPECIAL_KEY_TAGS for key, _ in node.value):
                raise yaml.constructor.ConstructorError(None, None, "merge (<<) or value (=) key: left to the round-trip parser", node.start_mark)
            mapping = super().construct_mapping(node, deep)
            if len(mapping) != len(node.value):
                raise yaml.constructor.ConstructorError(None, None, "duplicated key: left to the round-trip parser", node.start_mark)
            return mapping

    for _versions, _tag, _regexp, _first in _RUAMEL_RESOLVERS:
        if (1, 2) in _versions and _tag != "tag:yaml.org,2002:yaml":
            _FastLoader.add_implicit_resolver(_tag, re.compile(_regexp.pattern, _regexp.flags), _first)
    _FastLoader.add_constructor("tag:yaml.org,2002:int", _FastLoader.construct_yaml_int)
    _FAST_LOADER = _FastLoader
except (ImportError, AttributeError):  # no libyaml (or another ruamel.yaml layout): the round-trip parser reads every file
    _FAST_LOADER = None


class _RoundTripConstructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor, except that a value it fails on with a Python error
    (a date 2012-13-45, 0b_) is a ConstructorError at that value's line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, IndexError, TypeError, OverflowError) as exc:
            if not isinstance(node, ScalarNode):
                raise
            raise ConstructorError(None, None, f"cannot read the value '{node.value}' ({exc})", node.start_mark) from None


def _round_trip() -> YAML:
    """The round-trip parser: data with the line of every key and item."""
    parser = YAML(typ="rt")
    parser.Constructor = _RoundTripConstructor
    return parser


class SourceError(DefinitionError):
    """A problem in a config or flow file, with its location and a fix."""

    def __init__(self, path: Path | str, line: int | None, message: str, fix: str = "") -> None:
        self.path, self.line, self.message, self.fix = str(path), line, message, fix
        where = f"{self.path}:{line}" if line else self.path
        text = f"{where}: {message}"
        if fix:
            text += f"\n  fix: {fix}"
        super().__init__(text)


class SourceErrors(DefinitionError):
    """Several :class:`SourceError` found in one pass (all are reported, not just the first)."""

    def __init__(self, errors: Sequence[SourceError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class YamlDoc:
    """A parsed YAML file: plain data plus a way to find the line of any path in it."""

    def __init__(self, path: Path, root: Any, data: Any = None, text: str | None = None) -> None:
        self.path = path
        self._root = root
        self._text = text
        self.data = _plain(root) if data is None else data

    @property
    def root(self) -> Any:
        """The round-trip tree with line numbers (parsed on first use for a fast-read file: only an
        error needs a line)."""
        if self._root is None:
            try:
                self._root = _round_trip().load(self._text if self._text is not None else self.path.read_text(encoding="utf-8")) or CommentedMap()
            except (YAMLError, RecursionError):  # libyaml read it, ruamel does not: errors name line 1
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


class _TooDeep(Exception):
    """Lists and maps nested more than MAX_NESTING levels."""


def load_yaml(path: Path, fast: bool = True) -> YamlDoc:
    """Parse ``path``; a syntax error becomes a SourceError with the line; a file that is not
    UTF-8, nests too deeply or expands past MAX_VALUES (an alias bomb) is refused as a whole.

    ``fast``: read the data with libyaml (see :func:`_read_fast`) and the line numbers only when
    an error needs one; ``False``: the round-trip parser reads both at once (the reference the
    fast path is tested against).
    """
    try:
        return _load_yaml(path, fast)
    except (RecursionError, _TooDeep):
        raise SourceError(path, None, "nested too deeply to read", "flatten the lists and maps (a config file needs only a few levels)") from None
    except _TooLarge:
        raise SourceError(
            path,
            None,
            f"too large: more than {MAX_VALUES:,} values once anchors and aliases (&, *) are expanded",
            "write the values out instead of repeating aliases",
        ) from None


def _load_yaml(path: Path, fast: bool) -> YamlDoc:
    """Parse ``path``; a syntax error becomes a SourceError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(path, None, "file not found", "check the path or create the file") from None
    except UnicodeDecodeError as exc:
        raise SourceError(path, None, f"not UTF-8 text ({exc.reason})", "save the file as UTF-8") from None
    except OSError as exc:  # a folder, no permission, an unreadable device
        raise SourceError(path, None, f"cannot read the file ({exc.strerror or exc})", "give the path of a readable YAML file") from None
    _check_nesting(path, text)  # before either parser: both recurse per level of [ and {
    _check_version(path, text)
    if fast:
        data = _read_fast(text)
        if data is not _ROUND_TRIP:
            return YamlDoc(path, None, data, text)
    try:
        root = _round_trip().load(text)
    except ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise SourceError(
            path, line, f"YAML error: {exc.problem}", "write the value as YAML reads it (a date as YYYY-MM-DD, a number in digits), or quote it as text"
        ) from None
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise SourceError(path, line, f"YAML syntax error: {exc.problem}", "fix the YAML syntax on that line (indentation, colons, quotes)") from None
    except YAMLError as exc:  # e.g. a control character the reader refuses (ReaderError carries the offset)
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise SourceError(path, line, f"YAML error: {exc}".splitlines()[0], "remove the control characters; save the file as plain UTF-8 text") from None
    return YamlDoc(path, root if root is not None else CommentedMap())


_ROUND_TRIP = object()  # _read_fast's answer when the round-trip parser must read the file


def _read_fast(text: str) -> Any:
    """The plain data of ``text`` read by libyaml (the national tree: ~0.5 s instead of ~2.8 s), or
    _ROUND_TRIP when the round-trip parser must read it — so the data is always what that parser
    gives, and every refusal (with its line) is its: a file libyaml cannot read, :class:`_FastLoader`
    leaves to it or :func:`_plain` refuses (too large, too deep, an alias inside itself), one that
    ROUND_TRIP_ONLY matches, or one with a line longer than FAST_MAX_LINE (block nesting that deep
    could exhaust libyaml's C stack: a crash, not an error)."""
    if _FAST_LOADER is None or ROUND_TRIP_ONLY.search(text) or max(map(len, text.split("\n"))) > FAST_MAX_LINE:
        return _ROUND_TRIP
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)  # a safe loader
        return _plain(data) if data is not None else {}
    except Exception:  # any failure of the fast path: the reference parser decides
        return _ROUND_TRIP


YAML_VERSIONS = ("1.1", "1.2")  # what a %YAML directive may name (ruamel.yaml crashes on others)


def _check_version(path: Path, text: str) -> None:
    """Refuse a %YAML directive naming a version the round-trip parser cannot read, at its line."""
    for match in re.finditer(r"^%YAML[ \t]+(\S*)", text, re.MULTILINE):
        if match.group(1) not in YAML_VERSIONS:
            raise SourceError(
                path,
                text.count("\n", 0, match.start()) + 1,
                f"unsupported YAML version '%YAML {match.group(1)}'",
                "remove the %YAML line (the files are YAML 1.2)",
            )


MAX_NESTING = 100  # lists and maps inside each other; config files need a handful (the parsers recurse per level)


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
                raise SourceError(
                    path,
                    line,
                    f"lists or maps nested more than {MAX_NESTING} levels deep",
                    "flatten the lists and maps (a config file needs only a few levels)",
                )
        elif char in "]}":
            depth = max(depth - 1, 0)
        previous = char


def _plain(node: Any, budget: list[int] | None = None, depth: int = 0) -> Any:
    """Plain dicts (string keys) and lists; refuses more than MAX_VALUES values (aliases expanded)
    and nesting deeper than MAX_NESTING (block lists and maps, which _check_nesting does not see)."""
    budget = [MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge()
    if depth > MAX_NESTING:
        raise _TooDeep()
    if isinstance(node, dict):
        return {str(k): _plain(v, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget, depth + 1) for v in node]
    return node


def _node_line(node: Any) -> int | None:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else None


def _fix_for(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return f"add the required key '{err['loc'][-1]}'"
    if kind == "extra_forbidden":
        return f"remove '{err['loc'][-1]}' or check its spelling"
    if kind.startswith("literal_error") or kind == "enum":
        return f"use one of the allowed values ({err.get('ctx', {}).get('expected', '')})"
    return "correct the value on that line"
