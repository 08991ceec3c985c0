"""Load a scenario file (or the built-in default) into a validated :class:`Scenario`, and
turn it into the core records.

Errors: every problem of a file is reported at once as ``file:line:col: field.path:
problem (got value)`` (an :class:`~colossim.errors.InputErrors`); nothing runs.
"""

from __future__ import annotations

import stat
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from colossim.errors import InputError, InputErrors, did_you_mean
from colossim.scenario.schema import Scenario
from colossim.yamlio import Positions, dump_yaml, load_yaml

__all__ = [
    "DEFAULT_SCENARIO",
    "MAX_SCENARIO_BYTES",
    "example_names",
    "example_text",
    "LoadedScenario",
    "apply_overrides",
    "dump_resolved",
    "dump_with_plan",
    "load_scenario",
    "scenario_from_data",
]

DEFAULT_SCENARIO = "colossus-100k-h100"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScenario:
    """A validated scenario, the name of its source, and where each of its keys is.

    Attributes:
        scenario: the validated scenario.
        path: file name (or ``<built-in ...>``) for messages.
        positions: (line, column) of every key path of the file, 1-based.
    """

    scenario: Scenario
    path: str
    positions: Positions = field(default_factory=dict)

    def location(self, field_path: str) -> str | None:
        """``file:line:col`` of a dotted field (or of its closest enclosing key) in the
        file, for errors found after loading (e.g. a plan that does not multiply out to
        the GPU count); ``None`` if the file has no such key."""
        parts: list = [int(x) if x.isdigit() else x for x in field_path.split(".")]
        while parts:
            line_col = self.positions.get(tuple(parts))
            if line_col:
                return f"{self.path}:{line_col[0]}:{line_col[1]}"
            parts.pop()
        return None


# Scenario files are a few kB; anything far larger is a mistake (and slow to parse).
MAX_SCENARIO_BYTES = 1_000_000


def example_names() -> list[str]:
    """Names of the example scenarios shipped with the package (file stems)."""
    root = resources.files("colossim").joinpath("examples")
    return sorted(p.name.removesuffix(".yaml") for p in root.iterdir() if p.name.endswith(".yaml"))


def example_text(name: str) -> str:
    """The text of the bundled example ``name`` (a file stem, ``.yaml`` optional)."""
    stem = name.removesuffix(".yaml")
    if stem not in example_names():
        hint = did_you_mean(stem, example_names())
        raise InputError(
            "SCENARIO",
            "no such example",
            value=name,
            fix=f"{hint}examples: {', '.join(example_names())}",
        )
    root = resources.files("colossim").joinpath("examples")
    return root.joinpath(f"{stem}.yaml").read_text(encoding="utf-8")


def _read(path: str | None) -> tuple[str, str]:
    """Text and display name of a scenario: a file, a bundled example's name, or (None)
    the built-in default."""
    if path is None:
        return example_text(DEFAULT_SCENARIO), f"<built-in {DEFAULT_SCENARIO}.yaml>"
    p = Path(path)
    if (
        not p.exists()
        and "/" not in str(path)
        and str(path).removesuffix(".yaml") in example_names()
    ):
        return example_text(str(path)), f"<example {str(path).removesuffix('.yaml')}>"
    try:
        st = p.stat()
    except FileNotFoundError:
        hint = did_you_mean(str(path).removesuffix(".yaml"), example_names())
        raise InputError(
            "SCENARIO",
            "file not found",
            value=str(path),
            fix=f"{hint}give the path of a scenario YAML file or an example name "
            "(`colossim examples` lists them)",
        ) from None
    except OSError as exc:
        raise InputError(
            "SCENARIO", f"cannot read ({exc.strerror or exc})", value=str(path)
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            "SCENARIO", "not a regular file (a directory, device or pipe)", value=str(path)
        )
    if st.st_size > MAX_SCENARIO_BYTES:
        raise InputError(
            "SCENARIO",
            f"file of {st.st_size:,} bytes, above the {MAX_SCENARIO_BYTES:,}-byte limit for scenarios",
            value=str(path),
            fix="a scenario is a few kB of YAML; check that this is the right file",
        )
    try:
        return p.read_text(encoding="utf-8-sig"), str(path)
    except (UnicodeDecodeError, PermissionError) as exc:
        raise InputError(
            "SCENARIO", f"cannot read ({exc.__class__.__name__})", value=str(path)
        ) from None


def apply_overrides(data: Any, overrides: list[str]) -> Any:
    """Apply ``--set a.b.c=value`` overrides (value parsed as YAML) to plain data."""
    if not isinstance(data, dict):
        return data
    for item in overrides:
        if "=" not in item:
            raise InputError(
                "--set", "expected PATH=VALUE", value=item, fix="e.g. --set cluster.num_gpus=20000"
            )
        key, raw = item.split("=", 1)
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise InputError(
                "--set", "empty path", value=item, fix="e.g. --set cluster.num_gpus=20000"
            )
        try:
            value, _ = load_yaml(raw, filename="--set")
        except InputError as exc:
            # Name the overridden field, not the root of the one-value document.
            raise InputError(
                f"--set {key.strip()}",
                exc.problem,
                value=exc.value if exc.value is not None else raw,
                fix=exc.fix,
            ) from None
        cur = data
        for p in parts[:-1]:
            nxt = _list_item(cur, p, key) if isinstance(cur, list) else cur.get(p)
            if not isinstance(nxt, dict | list):
                nxt = {}
                cur[_list_index(cur, p, key) if isinstance(cur, list) else p] = nxt
            cur = nxt
        if isinstance(cur, list):
            cur[_list_index(cur, parts[-1], key)] = value
        else:
            cur[parts[-1]] = value
    return data


def _list_index(items: list, part: str, key: str) -> int:
    """The index ``part`` names in ``items`` (a ``--set`` path through a list, e.g.
    ``cluster.partitions.0.num_gpus``)."""
    if not part.isdigit() or int(part) >= len(items):
        raise InputError(
            f"--set {key.strip()}",
            f"'{part}' is not an index of a list of {len(items)}",
            value=part,
            fix=f"use 0 to {len(items) - 1}" if items else "the list is empty",
        )
    return int(part)


def _list_item(items: list, part: str, key: str) -> object:
    return items[_list_index(items, part, key)]


def load_scenario(path: str | None = None, *, overrides: list[str] | None = None) -> LoadedScenario:
    """Read, validate and return a scenario (the built-in default when ``path`` is None)."""
    text, name = _read(path)
    data, positions = load_yaml(text, filename=name)
    if data is None or data == {}:
        raise InputError(
            "SCENARIO", "empty scenario file", location=name, fix="see examples/ for a template"
        )
    if not isinstance(data, dict):
        raise InputError(
            "<root>",
            "a scenario is a mapping of sections",
            value=type(data).__name__,
            location=name,
        )
    data = apply_overrides(data, overrides or [])
    # An overridden value comes from the command line, not from the file: forget its place.
    for item in overrides or []:
        over = tuple(p for p in item.split("=", 1)[0].strip().split(".") if p)
        positions = {k: v for k, v in positions.items() if k[: len(over)] != over}
    scenario = scenario_from_data(data, positions=positions, filename=name)
    return LoadedScenario(scenario=scenario, path=name, positions=positions)


def dump_resolved(loaded: LoadedScenario) -> str:
    """The scenario with every default filled in, as YAML that :func:`load_scenario` reads
    back into an equal :class:`Scenario` (``null`` keeps its meaning, e.g. ``battery: null``
    is "no battery", so ``None`` fields are written, not dropped)."""
    data = _dumped(loaded.scenario)
    header = f"# resolved scenario (every default filled in) from {loaded.path}\n"
    return header + dump_yaml(data)


def dump_with_plan(loaded: LoadedScenario, plan: dict) -> str:
    """The scenario as YAML with ``plan`` (``Plan.as_dict()``) fixed in it; the plan's
    global batch becomes ``workload.global_batch``, so that the file reproduces the plan
    exactly (the search may round the batch within ``search.batch_tolerance``)."""
    data = _dumped(loaded.scenario)
    fixed = {k: plan[k] for k in ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch")}
    fixed |= {"recompute": plan["recompute"], "sharding": plan["sharding"]}
    used = plan["tp"] * plan["pp"] * plan["dp"] * plan["cp"]
    fixed["idle_gpus"] = used < loaded.scenario.cluster.num_gpus
    data["plan"] = fixed
    data["workload"]["global_batch"] = int(plan["global_batch"])
    data["workload"]["global_batch_tokens"] = None
    header = f"# {loaded.path} with the plan chosen by `colossim plan` fixed\n"
    return header + dump_yaml(data)


def _dumped(scenario: Scenario) -> dict:
    """The scenario as plain data that validates back into it (a partitioned cluster's
    ``gpu`` and ``num_gpus`` are derived from its partitions, so not written)."""
    data = scenario.model_dump(mode="json")
    if data["cluster"].get("partitions"):
        del data["cluster"]["gpu"], data["cluster"]["num_gpus"]
    return data


def scenario_from_data(
    data: dict, *, positions: Positions | None = None, filename: str = "<scenario>"
) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise InputErrors(_errors(exc, data, positions or {}, filename)) from None


# ---- error translation ------------------------------------------------------------


def _model_at(path: list) -> type[BaseModel] | None:
    """The pydantic model class describing the mapping at ``path`` (for hints)."""
    cls: Any = Scenario
    for key in path:
        if (
            not (isinstance(cls, type) and issubclass(cls, BaseModel))
            or key not in cls.model_fields
        ):
            return None
        cls = _first_model(cls.model_fields[key].annotation)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if (
        typing.get_origin(annotation) in (typing.Union, types.UnionType)
        or typing.get_origin(annotation) is typing.Annotated
    ):
        for a in args:
            m = _first_model(a)
            if isinstance(m, type) and issubclass(m, BaseModel):
                return m
    return annotation


def _clean_path(loc: tuple, data: Any) -> tuple[list, bool, int | None]:
    """Drop pydantic's union-branch tags from ``loc``.

    Returns the data path, whether the (first) branch tag names a model (CamelCase) rather
    than a scalar type or literal, and how many path elements precede that tag (``None``
    when ``loc`` has none): the union sits at ``path[:depth]``.
    """
    path: list = []
    cur = data
    branch_is_model: bool | None = None
    depth: int | None = None
    for i, elem in enumerate(loc):
        in_dict = isinstance(cur, dict) and elem in cur
        if in_dict or (isinstance(cur, list) and isinstance(elem, int) and elem < len(cur)):
            path.append(elem)
            cur = cur[elem]
        elif (
            i == len(loc) - 1
            and isinstance(elem, str)
            and (not elem[:1].isupper())
            and "[" not in elem
            and "-" not in elem  # pydantic's tags (constrained-int); fields use underscores
            and elem not in ("str", "int", "float", "bool")
        ):
            path.append(elem)  # a missing field
        elif depth is None:
            branch_is_model = isinstance(elem, str) and elem[:1].isupper()
            depth = len(path)
    return path, branch_is_model if branch_is_model is not None else True, depth


def _at(data: Any, path: list) -> Any:
    cur = data
    for p in path:
        cur = cur.get(p) if isinstance(cur, dict) else None
    return cur


def _errors(
    exc: ValidationError, data: dict, positions: Positions, filename: str
) -> list[InputError]:
    # Never report "0 errors": if the union filter dropped every error, report them all.
    return _translate(exc, data, positions, filename, union_filter=True) or _translate(
        exc, data, positions, filename, union_filter=False
    )


def _translate(
    exc: ValidationError, data: dict, positions: Positions, filename: str, *, union_filter: bool
) -> list[InputError]:
    out: list[InputError] = []
    seen: set[tuple] = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path, branch_is_model, depth = _clean_path(loc, data)
        value = err.get("input")
        # A union field (e.g. plan: 'search' | {tp: ...}): keep only the errors of the
        # branch that matches the kind of input given at the union's position (a mapping
        # for a model branch, a scalar for a literal or scalar branch).
        if union_filter and depth is not None and err["type"] != "missing":
            is_mapping = isinstance(_at(data, path[:depth]), dict)
            if is_mapping != branch_is_model:
                continue
        field = ".".join(str(p) for p in path) or "<root>"
        if err["type"] == "extra_forbidden":
            allowed = list(_model_at(path[:-1]).model_fields) if _model_at(path[:-1]) else []
            hint = did_you_mean(path[-1], allowed)
            problem = "unknown key" + (f" ({hint.strip()})" if hint else "")
            fix = f"allowed keys: {', '.join(allowed)}" if allowed and not hint else None
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
        same = [e for e in out if e.field == field and depth is not None]
        if same:  # another branch of a union of scalars (an int >= 0 or 'size'): one error
            merged = InputError(
                field, f"{same[0].problem}, or {problem[:1].lower()}{problem[1:]}",
                value=same[0].value, fix=same[0].fix, location=same[0].location,
            )  # fmt: skip
            out[out.index(same[0])] = merged
            continue
        out.append(InputError(field, problem, value=value, fix=fix, location=location))
    return out
