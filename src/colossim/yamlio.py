"""Hardened YAML for scenarios and catalog files (the only module that imports ``yaml``):
safe (no object construction), duplicate keys rejected, ``1e9``-style numbers read as
numbers (YAML 1.1 / plain PyYAML reads them as strings), and the line and column of
every node kept so errors can say ``file:line:col``."""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from colossim.errors import InputError

__all__ = ["Positions", "load_yaml"]

Positions = dict[tuple, tuple[int, int]]

# Every number of a scenario must fit the core's numpy arrays (int64) and be finite: YAML's
# .nan/.inf and overflowing literals (1e999) would otherwise reach the results as NaN/inf.
_INT64_MAX = 2**63 - 1
_MAX_DEPTH = 50  # nesting levels (a scenario uses 4); far below Python's recursion limit

_FLOAT_NO_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also resolves 1e9, 15e12, 2.5E-3 as floats."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_NO_DOT, list("-+0123456789"))

# The shipped catalogs are parsed by libyaml when PyYAML has it (the same safe
# constructor, resolvers and checks below; ~10x faster than the pure-Python scanner, which
# took half of a `colossim plan`). Scenarios keep the pure-Python reader, whose errors the
# messages are written against.
if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(yaml.CSafeLoader):
        """libyaml SafeLoader with the same 1e9-as-float resolver."""

    _FastLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", _FLOAT_NO_DOT, list("-+0123456789")
    )
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = _Loader


def load_yaml(
    text: str, *, filename: str = "<scenario>", trusted: bool = False
) -> tuple[Any, Positions]:
    """Parse ``text`` and return (data, positions by key path); ``trusted`` (the shipped
    catalogs) parses with libyaml where available, with the same checks.

    Raises:
        InputError: syntax errors and duplicate keys, with file:line:col.
    """
    try:
        loader = (_FastLoader if trusted else _Loader)(text)  # rejects control characters
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, filename) from None
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, filename) from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise InputError(
            "YAML",
            "nested too deeply",
            location=filename,
            fix=f"a scenario nests at most {_MAX_DEPTH} levels",
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        raise InputError("YAML", f"syntax error: {exc.problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise InputError("YAML", f"cannot parse: {exc}", location=filename) from None
    finally:
        loader.dispose()
    if node is None:
        return {}, {}
    positions: Positions = {}
    data = _build(node, (), positions, filename, loader, _Guard())
    return data, positions


# The tags the safe loader resolves plain YAML to: anything else (``!!python/...``, custom
# ``!tags``) is refused by name rather than silently read as plain data.
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)


class _Guard:
    """Aliases make the node graph a DAG, or even cyclic (``&a [*a]``): refuse cycles, and
    cap the expanded size so that alias bombs ("billion laughs") fail fast."""

    MAX_NODES = 100_000
    # Text once aliases are expanded: a 1 MB string aliased thousands of times would
    # otherwise become gigabytes downstream (reports, JSON), though parsed in no time.
    MAX_SCALAR_BYTES = 10_000_000

    def __init__(self) -> None:
        self.open: set[int] = set()  # collection nodes being built (the current path)
        self.left = self.MAX_NODES
        self.bytes_left = self.MAX_SCALAR_BYTES


def _reader_error(exc: yaml.reader.ReaderError, text: str, filename: str) -> InputError:
    """A control character (YAML allows only printable characters, tab and newlines)."""
    ch = exc.character
    code = ch if isinstance(ch, int) else ord(ch) if isinstance(ch, str) and len(ch) == 1 else None
    what = f"U+{code:04X}" if code is not None else repr(ch)
    return InputError(
        "YAML",
        f"control character {what} is not allowed",
        location=_offset_where(text, exc.position, filename),
        fix="save the scenario as plain UTF-8 text",
    )


def _offset_where(text: str, offset: int, filename: str) -> str:
    """``file:line:col`` of a character offset into ``text``."""
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{filename}:{line}:{col}"


def _where(node: yaml.Node, filename: str) -> str:
    return f"{filename}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _build(
    node: yaml.Node,
    path: tuple,
    positions: Positions,
    filename: str,
    loader: _Loader,
    guard: _Guard,
) -> Any:
    field = ".".join(str(p) for p in path if p != "<key>") or "<root>"
    guard.left -= 1
    if guard.left < 0:
        raise InputError(
            field,
            f"document too large (more than {guard.MAX_NODES:,} values once aliases are expanded)",
            location=_where(node, filename),
        )
    if len(path) > _MAX_DEPTH:
        raise InputError(
            field,
            f"nested too deeply (more than {_MAX_DEPTH} levels)",
            location=_where(node, filename),
        )
    if id(node) in guard.open:
        raise InputError(
            field,
            "recursive YAML alias (a value that contains itself)",
            location=_where(node, filename),
        )
    if node.tag not in _PLAIN_TAGS:
        raise InputError(
            field,
            f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not allowed "
            "(scenarios hold plain mappings, lists, strings and numbers)",
            location=_where(node, filename),
            fix="remove the tag",
        )
    if isinstance(node, yaml.CollectionNode):
        guard.open.add(id(node))
        try:
            return _build_collection(node, path, positions, filename, loader, guard)
        finally:
            guard.open.discard(id(node))
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    guard.bytes_left -= len(node.value)
    if guard.bytes_left < 0:
        raise InputError(
            field,
            f"document too large (more than {guard.MAX_SCALAR_BYTES:,} bytes of text once "
            "aliases are expanded)",
            location=_where(node, filename),
        )
    try:
        value = loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        raise InputError(field, f"bad value: {problem}", location=_where(node, filename)) from None
    _check_number(value, path, node, filename)
    return value


def _build_collection(
    node: yaml.CollectionNode,
    path: tuple,
    positions: Positions,
    filename: str,
    loader: _Loader,
    guard: _Guard,
) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(
                    ".".join(map(str, path)) or "<root>",
                    "YAML merge keys (<<) are not supported",
                    location=_where(key_node, filename),
                )
            key = _build(key_node, path + ("<key>",), {}, filename, loader, guard)
            if not isinstance(key, str | int | float | bool):
                raise InputError(
                    ".".join(map(str, path)) or "<root>",
                    "mapping keys must be scalars",
                    location=_where(key_node, filename),
                )
            if key in out:
                first = positions.get(path + (key,), (0, 0))
                raise InputError(
                    ".".join(map(str, path + (key,))),
                    f"duplicate key (first defined at line {first[0]})",
                    location=_where(key_node, filename),
                    fix="keep only one",
                )
            positions[path + (key,)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            out[key] = _build(value_node, path + (key,), positions, filename, loader, guard)
            # the key's own position (for "unknown key"), the value's (for bad values)
            positions[path + (key, "<value>")] = positions[path + (key,)]
            positions[path + (key,)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
        return out
    return [
        _build(v, path + (i,), positions, filename, loader, guard) for i, v in enumerate(node.value)
    ]


def _check_number(value: Any, path: tuple, node: yaml.Node, filename: str) -> None:
    """Reject numbers no scenario field can hold: NaN, infinities, and integers beyond 64 bits."""
    field = ".".join(str(p) for p in path if p != "<key>") or "<root>"
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(
            field,
            "must be a finite number",
            value=node.value,
            location=_where(node, filename),
            fix="give a finite value (YAML .nan, .inf and overflowing literals are not numbers here)",
        )
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT64_MAX:
        raise InputError(
            field,
            "integer out of range (beyond 64 bits)",
            value=node.value,
            location=_where(node, filename),
            fix=f"give a value of magnitude at most {_INT64_MAX:_}",
        )


def dump_yaml(data: Any) -> str:
    """``data`` as block-style YAML, keys in their order (what :func:`load_yaml` reads back)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
