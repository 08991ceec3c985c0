"""Load a scenario file (or the built-in default) into a validated :class:`Scenario`, and
turn it into the core records.

Errors: every problem of a file is reported at once as ``file:line:col: field.path:
problem (got value)`` (an :class:`~colossim.errors.InputErrors`); nothing runs.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from colossim.errors import InputError, InputErrors
from colossim.scenario.schema import Scenario
from colossim.scenario.yamlio import Positions, load_yaml

__all__ = ["DEFAULT_SCENARIO", "LoadedScenario", "apply_overrides", "load_scenario", "scenario_from_data"]

DEFAULT_SCENARIO = "colossus-100k-h100.yaml"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScenario:
    scenario: Scenario
    path: str


def _read(path: str | None) -> tuple[str, str]:
    if path is None:
        text = resources.files("colossim").joinpath("examples", DEFAULT_SCENARIO).read_text(encoding="utf-8")
        return text, f"<built-in {DEFAULT_SCENARIO}>"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise InputError("SCENARIO", "file not found", value=str(path), fix="give the path of a scenario YAML file") from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise InputError("SCENARIO", f"cannot read ({exc.__class__.__name__})", value=str(path)) from None


def apply_overrides(data: Any, overrides: list[str]) -> Any:
    """Apply ``--set a.b.c=value`` overrides (value parsed as YAML) to plain data."""
    if not isinstance(data, dict):
        return data
    for item in overrides:
        if "=" not in item:
            raise InputError("--set", "expected PATH=VALUE", value=item, fix="e.g. --set cluster.num_gpus=20000")
        key, raw = item.split("=", 1)
        value, _ = load_yaml(raw, filename="--set")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise InputError("--set", "empty path", value=item)
        cur = data
        for p in parts[:-1]:
            nxt = cur.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                cur[p] = nxt
            cur = nxt
        cur[parts[-1]] = value
    return data


def load_scenario(path: str | None = None, *, overrides: list[str] | None = None) -> LoadedScenario:
    """Read, validate and return a scenario (the built-in default when ``path`` is None)."""
    text, name = _read(path)
    data, positions = load_yaml(text, filename=name)
    if data is None or data == {}:
        raise InputError("SCENARIO", "empty scenario file", location=name, fix="see examples/ for a template")
    if not isinstance(data, dict):
        raise InputError("<root>", "a scenario is a mapping of sections", value=type(data).__name__, location=name)
    data = apply_overrides(data, overrides or [])
    return LoadedScenario(scenario=scenario_from_data(data, positions=positions, filename=name), path=name)


def scenario_from_data(data: dict, *, positions: Positions | None = None, filename: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputErrors(_errors(exc, data, positions or {}, filename)) from None


# ---- error translation ------------------------------------------------------------


def _model_at(path: list) -> type[BaseModel] | None:
    """The pydantic model class describing the mapping at ``path`` (for hints)."""
    cls: Any = Scenario
    for key in path:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or key not in cls.model_fields:
            return None
        cls = _first_model(cls.model_fields[key].annotation)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) or typing.get_origin(annotation) is typing.Annotated:
        for a in args:
            m = _first_model(a)
            if m is not None:
                return m
    return annotation


def _clean_path(loc: tuple, data: Any) -> tuple[list, bool]:
    """Drop pydantic's union-branch tags from ``loc``; report if the branch tag named a
    model (CamelCase) or a scalar type, to dedupe union errors."""
    path: list = []
    cur = data
    branch_is_model: bool | None = None
    for i, elem in enumerate(loc):
        if isinstance(cur, dict) and elem in cur:
            path.append(elem)
            cur = cur[elem]
        elif isinstance(cur, list) and isinstance(elem, int) and elem < len(cur):
            path.append(elem)
            cur = cur[elem]
        elif i == len(loc) - 1 and isinstance(elem, str) and (not elem[:1].isupper()) and "[" not in elem and elem not in ("str", "int", "float", "bool"):
            path.append(elem)  # a missing field
        else:
            branch_is_model = isinstance(elem, str) and elem[:1].isupper()
    return path, branch_is_model if branch_is_model is not None else True


def _errors(exc: ValidationError, data: dict, positions: Positions, filename: str) -> list[InputError]:
    out: list[InputError] = []
    seen: set[tuple] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, branch_is_model = _clean_path(loc, data)
        value = err.get("input")
        # A union field: keep the errors of the branch matching the input's kind.
        if len(path) < len(loc) and err["type"] != "missing":
            holder = data
            for p in path[:-1] if err["type"] == "extra_forbidden" else path:
                holder = holder.get(p) if isinstance(holder, dict) else None
            target = holder if err["type"] == "extra_forbidden" else holder
            is_mapping = isinstance(target, dict)
            if is_mapping != branch_is_model:
                continue
        field = ".".join(str(p) for p in path) or "<root>"
        if err["type"] == "extra_forbidden":
            allowed = list(_model_at(path[:-1]).model_fields) if _model_at(path[:-1]) else []
            close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
            problem = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
            fix = f"allowed keys: {', '.join(allowed)}" if allowed and not close else None
            line_col = positions.get(tuple(path))
            value = None
        else:
            problem = err["msg"].removeprefix("Value error, ")
            fix = None
            line_col = positions.get(tuple(path) + ("<value>",)) or positions.get(tuple(path))
            if err["type"] == "missing":
                line_col = positions.get(tuple(path[:-1])) or positions.get(())
                value = None
        if isinstance(value, dict | list):
            value = None
        location = f"{filename}:{line_col[0]}:{line_col[1]}" if line_col else filename
        key = (field, problem)
        if key in seen:
            continue
        seen.add(key)
        out.append(InputError(field, problem, value=value, fix=fix, location=location))
    return out
