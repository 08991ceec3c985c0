"""Hardened YAML reading: safe (no object construction), duplicate keys rejected,
``1e9``-style numbers read as numbers (YAML 1.1 / plain PyYAML reads them as strings),
and the line and column of every node kept so errors can say ``file:line:col``."""

from __future__ import annotations

import re
from typing import Any

import yaml

from colossim.errors import InputError

__all__ = ["Positions", "load_yaml"]

Positions = dict[tuple, tuple[int, int]]

_FLOAT_NO_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Loader(yaml.SafeLoader):
    """SafeLoader that also resolves 1e9, 15e12, 2.5E-3 as floats."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", _FLOAT_NO_DOT, list("-+0123456789")
)


def load_yaml(text: str, *, filename: str = "<scenario>") -> tuple[Any, Positions]:
    """Parse ``text`` and return (data, positions by key path).

    Raises:
        InputError: syntax errors and duplicate keys, with file:line:col.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
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
    data = _build(node, (), positions, filename, loader)
    return data, positions


def _where(node: yaml.Node, filename: str) -> str:
    return f"{filename}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _build(node: yaml.Node, path: tuple, positions: Positions, filename: str, loader: _Loader) -> Any:
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise InputError(".".join(map(str, path)) or "<root>", "YAML merge keys (<<) are not supported", location=_where(key_node, filename))
            key = _build(key_node, path + ("<key>",), {}, filename, loader)
            if not isinstance(key, str | int | float | bool):
                raise InputError(".".join(map(str, path)) or "<root>", "mapping keys must be scalars", location=_where(key_node, filename))
            if key in out:
                first = positions.get(path + (key,), (0, 0))
                raise InputError(
                    ".".join(map(str, path + (key,))),
                    f"duplicate key (first defined at line {first[0]})",
                    location=_where(key_node, filename),
                    fix="keep only one",
                )
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = _build(value_node, path + (key,), positions, filename, loader)
            # the key's own position (for "unknown key"), the value's (for bad values)
            positions[path + (key, "<value>")] = positions[path + (key,)]
            positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, path + (i,), positions, filename, loader) for i, v in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0]
        raise InputError(".".join(map(str, path)) or "<root>", f"bad value: {problem}", location=_where(node, filename)) from None
