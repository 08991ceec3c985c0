"""Sweep specification files: a base scenario, axes over its fields, how to combine or
sample them, constraints, the outputs to keep and the campaign settings of each point.

Validated here with plain checks (every error names the key and its ``file:line:col``)::

    name: gpu-count-nic
    base: ../colossus-100k-h100.yaml      # relative to this file, or a bundled example
    sampling: grid                        # grid | zip | random | lhs
    samples: 100                          # random / lhs only
    seed: 0                               # random / lhs only
    axes:
      cluster.gpu: [h100-sxm-80gb, b200]  # a list of values ...
      cluster.num_gpus: {values: [8192, 16384], name: gpus}
      facility.grid_mw: {min: 20, max: 80}  # ... or a range (random / lhs only)
    constraints: ["gpus >= 16384 or gpu == 'b200'"]
    outputs: [step_time_s, mfu, days_to_train]   # default: every output
    trials: 50                            # campaign Monte Carlo trials per point
    campaign: true
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from colossim.errors import InputError, InputErrors, did_you_mean, require_int, require_number
from colossim.sweep.constraints import Constraint, parse_constraint
from colossim.yamlio import Positions, load_yaml

__all__ = ["Axis", "Sampling", "SweepSpec", "bundled_sweeps", "load_spec", "resolve_spec_path"]

_KEYS = (
    "name",
    "description",
    "base",
    "sampling",
    "samples",
    "seed",
    "axes",
    "constraints",
    "outputs",
    "trials",
    "campaign",
)
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Column names the store uses itself (an axis may not take them).
RESERVED = ("hash", "idx", "status", "error", "elapsed_s", "finished_at", "overrides")
MAX_POINTS = 10_000_000


class Sampling(enum.StrEnum):
    """How axes combine into points."""

    GRID = "grid"  # every combination
    ZIP = "zip"  # the i-th value of every axis (equal lengths)
    RANDOM = "random"  # independent uniform draws
    LHS = "lhs"  # Latin hypercube: each axis stratified into `samples` equal bins


@dataclass(frozen=True, slots=True, kw_only=True)
class Axis:
    """One axis: a scenario field and its values (or a numeric range to sample).

    Attributes:
        field: dotted scenario field (``cluster.num_gpus``).
        name: column and constraint name (default: the field's last part).
        values: the values (None for a range).
        low, high: the range (sampling only), inclusive.
        log: sample the range uniformly in log space.
        integer: round sampled values to integers.
    """

    field: str
    name: str
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepSpec:
    """A validated sweep specification (see the module docstring for the file format)."""

    name: str
    description: str
    base: str
    sampling: Sampling
    samples: int | None
    seed: int
    axes: tuple[Axis, ...]
    constraints: tuple[Constraint, ...]
    outputs: tuple[str, ...] | None
    trials: int | None
    campaign: bool
    source: str
    text: str
    positions: Positions

    def location(self, *path: object) -> str | None:
        """``file:line:col`` of a key path of the spec file, if it is there."""
        keys = list(path)
        while keys:
            pos = self.positions.get(tuple(keys))
            if pos:
                return f"{self.source}:{pos[0]}:{pos[1]}"
            keys.pop()
        return None

    @property
    def spec_hash(self) -> str:
        """Stable hash of what decides the points and their outputs (not the name,
        description or file layout): a resumed sweep must have the same one."""
        data = {
            # the base scenario's content, not its path: a moved file resumes, an edited
            # one does not (its points would mix two scenarios)
            "base": hashlib.sha256(Path(self.base).read_bytes()).hexdigest(),
            "sampling": str(self.sampling),
            "samples": self.samples,
            "seed": self.seed,
            "axes": [
                [a.field, a.name, a.values, a.low, a.high, a.log, a.integer] for a in self.axes
            ],
            "constraints": [c.text for c in self.constraints],
            "outputs": self.outputs,
            "trials": self.trials,
            "campaign": self.campaign,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def bundled_sweeps() -> list[str]:
    """Names of the example sweeps shipped with colossim."""
    folder = resources.files("colossim").joinpath("examples", "sweeps")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def resolve_spec_path(path: str) -> Path:
    """``path`` if it is a file, else the bundled example sweep of that name
    (``gpu-count-nic``, ``gpu-count-nic.yaml`` or ``examples/sweeps/gpu-count-nic.yaml``)."""
    p = Path(path)
    if p.is_file():
        return p
    stem = p.name.removesuffix(".yaml")
    if stem in bundled_sweeps():
        return Path(str(resources.files("colossim").joinpath("examples", "sweeps", f"{stem}.yaml")))
    raise InputError(
        "SPEC",
        "file not found",
        value=path,
        fix=f"give a sweep YAML file or a bundled example: {', '.join(bundled_sweeps())}",
    )


def _resolve_base(base: object, spec_dir: Path, where: str | None) -> str:
    if not isinstance(base, str) or not base.strip():
        raise InputError("base", "must be the path of a scenario file", value=base, location=where)
    p = Path(base)
    candidates = [p if p.is_absolute() else spec_dir / p]
    examples = resources.files("colossim").joinpath("examples")
    stem = p.name.removesuffix(".yaml")
    candidates.append(Path(str(examples.joinpath(f"{stem}.yaml"))))
    for c in candidates:
        if c.is_file():
            return str(c.resolve())
    raise InputError(
        "base",
        "scenario file not found (relative paths are relative to the spec file)",
        value=base,
        location=where,
        fix="give a scenario YAML path or the name of a bundled example (e.g. colossus-100k-h100)",
    )


def load_spec(path: str) -> SweepSpec:
    """Read and validate a sweep spec file (or a bundled example sweep by name).

    Raises:
        InputError: the file is missing or unreadable, or YAML is malformed.
        InputErrors: every problem of the spec, each with its ``file:line:col``.
    """
    p = resolve_spec_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("SPEC", f"cannot read ({exc.__class__.__name__})", value=path) from None
    data, positions = load_yaml(text, filename=str(path))
    return spec_from_data(data, positions=positions, source=str(path), spec_dir=p.parent, text=text)


def spec_from_data(
    data: Any, *, positions: Positions, source: str, spec_dir: Path, text: str = ""
) -> SweepSpec:
    """Validate parsed spec data (see :func:`load_spec`)."""

    def where(*keys: object) -> str | None:
        ks = list(keys)
        while ks:
            pos = positions.get(tuple(ks))
            if pos:
                return f"{source}:{pos[0]}:{pos[1]}"
            ks.pop()
        return source

    if not isinstance(data, dict) or not data:
        raise InputError(
            "<root>", "a sweep spec is a mapping with base: and axes:", location=source
        )
    errors: list[InputError] = []
    for key in data:
        if key not in _KEYS:
            errors.append(
                InputError(
                    str(key),
                    f"unknown key ({did_you_mean(key, _KEYS)}keys: {', '.join(_KEYS)})",
                    location=where(key),
                )
            )
    fields: dict[str, Any] = {}
    checks = {
        "base": lambda: _resolve_base(data.get("base"), spec_dir, where("base")),
        "sampling": lambda: _sampling(data.get("sampling", "grid"), where("sampling")),
        "axes": lambda: _axes(data.get("axes"), where),
        "seed": lambda: _int("seed", data.get("seed", 0), where("seed"), minimum=0),
        "trials": lambda: (
            None
            if data.get("trials") is None
            else _int("trials", data["trials"], where("trials"), minimum=1)
        ),
        "campaign": lambda: _bool("campaign", data.get("campaign", True), where("campaign")),
        "outputs": lambda: _outputs(data.get("outputs"), where("outputs")),
    }
    for key, check in checks.items():
        try:
            fields[key] = check()
        except InputError as exc:
            errors.append(exc)
    samples = data.get("samples")
    sampling = fields.get("sampling")
    try:
        fields["samples"] = _samples(sampling, samples, fields.get("axes"), where)
    except InputError as exc:
        errors.append(exc)
    if "axes" in fields:
        try:
            fields["constraints"] = _constraints(data.get("constraints"), fields["axes"], where)
        except InputError as exc:
            errors.append(exc)
    if errors:
        raise InputErrors(errors, what="sweep spec")
    name = data.get("name") or Path(source).name.removesuffix(".yaml")
    return SweepSpec(
        name=str(name),
        description=str(data.get("description") or "").strip(),
        source=source,
        text=text,
        positions=positions,
        **fields,
    )


def _int(field: str, value: object, where: str | None, *, minimum: int) -> int:
    try:
        return require_int(field, value, minimum=minimum)
    except InputError as exc:
        exc.location = where
        raise


def _bool(field: str, value: object, where: str | None) -> bool:
    if not isinstance(value, bool):
        raise InputError(field, "must be true or false", value=value, location=where)
    return value


def _sampling(value: object, where: str | None) -> Sampling:
    try:
        return Sampling(value)
    except ValueError:
        choices = [s.value for s in Sampling]
        raise InputError(
            "sampling",
            f"unknown sampling ({did_you_mean(value, choices)}one of {', '.join(choices)})",
            value=value,
            location=where,
        ) from None


def _outputs(value: object, where: str | None) -> tuple[str, ...] | None:
    """Output names (checked against the evaluator's columns when the sweep runs)."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(
            "outputs", "must be a non-empty list of output names", value=value, location=where
        )
    return tuple(dict.fromkeys(value))


def _samples(sampling: Sampling | None, value: object, axes, where_key) -> int | None:
    where = where_key("samples")
    if sampling in (Sampling.RANDOM, Sampling.LHS):
        if value is None:
            raise InputError(
                "samples",
                f"required with sampling: {sampling}",
                location=where_key("sampling"),
                fix="e.g. samples: 100",
            )
        n = _int("samples", value, where, minimum=1)
        if n > MAX_POINTS:
            raise InputError("samples", f"at most {MAX_POINTS:,}", value=n, location=where)
        return n
    if value is not None:
        raise InputError(
            "samples",
            f"only for sampling: random or lhs (this sweep is {sampling})",
            value=value,
            location=where,
        )
    if sampling is not None and axes:
        ranged = [a.field for a in axes if a.values is None]
        if ranged:
            raise InputError(
                f"axes.{ranged[0]}",
                f"a min/max range needs sampling: random or lhs (this sweep is {sampling})",
                location=where_key("axes", ranged[0]),
                fix="give a list of values instead",
            )
        lengths = {len(a.values) for a in axes}
        if sampling is Sampling.ZIP and len(lengths) > 1:
            raise InputError(
                "axes",
                f"sampling: zip needs axes of equal length (got {sorted(lengths)})",
                location=where_key("axes"),
            )
    return None


def _constraints(value: object, axes: tuple[Axis, ...], where) -> tuple[Constraint, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(
            "constraints",
            "must be a list of expressions",
            value=value,
            location=where("constraints"),
        )
    names = tuple(a.name for a in axes)
    return tuple(
        parse_constraint(
            text, names=names, field=f"constraints[{i}]", location=where("constraints", i)
        )
        for i, text in enumerate(value)
    )


def _axes(value: object, where) -> tuple[Axis, ...]:
    if not isinstance(value, dict) or not value:
        raise InputError(
            "axes",
            "must be a mapping of scenario fields to values",
            value=value,
            location=where("axes"),
            fix="e.g. axes: {cluster.num_gpus: [8192, 16384]}",
        )
    axes = [_axis(str(f), spec, where) for f, spec in value.items()]
    names = [a.name for a in axes]
    # Axis names default to the field's last part; on a clash use the whole path.
    if len(set(names)) != len(names):
        axes = [
            a if names.count(a.name) == 1 else replace(a, name=a.field.replace(".", "_"))
            for a in axes
        ]
    seen: set[str] = set()
    for a in axes:
        if a.name in seen:
            raise InputError(
                f"axes.{a.field}",
                f"axis name {a.name!r} used twice",
                location=where("axes", a.field),
            )
        seen.add(a.name)
    return tuple(axes)


def _axis(field: str, spec: object, where) -> Axis:
    loc = where("axes", field)
    if not _FIELD.match(field):
        raise InputError(
            f"axes.{field}",
            "not a dotted scenario field",
            location=loc,
            fix="e.g. cluster.num_gpus (see `colossim schema`)",
        )
    name = field.rsplit(".", 1)[-1]
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict):
        raise InputError(
            f"axes.{field}",
            "must be a list of values or a mapping {values: [...]} / {min:, max:}",
            value=spec,
            location=loc,
        )
    unknown = set(spec) - {"values", "name", "min", "max", "log", "integer"}
    if unknown:
        raise InputError(
            f"axes.{field}",
            f"unknown key {sorted(unknown)[0]!r}",
            location=loc,
            fix="keys: values, name, min, max, log, integer",
        )
    name = spec.get("name", name)
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
        raise InputError(
            f"axes.{field}.name",
            f"must be an identifier other than {', '.join(RESERVED)}",
            value=name,
            location=loc,
        )
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise InputError(
                f"axes.{field}", "empty axis: give at least one value", value=values, location=loc
            )
        return Axis(field=field, name=name, values=tuple(values))
    if "min" not in spec or "max" not in spec:
        raise InputError(f"axes.{field}", "give values: [...] or both min: and max:", location=loc)
    low = _num(f"axes.{field}.min", spec["min"], loc)
    high = _num(f"axes.{field}.max", spec["max"], loc)
    log = _bool(f"axes.{field}.log", spec.get("log", False), loc)
    integer = _bool(f"axes.{field}.integer", spec.get("integer", False), loc)
    if high < low or (log and low <= 0):
        raise InputError(
            f"axes.{field}",
            "needs min <= max (and min > 0 with log: true)",
            value=[low, high],
            location=loc,
        )
    return Axis(field=field, name=name, low=low, high=high, log=log, integer=integer)


def _num(field: str, value: object, loc: str | None) -> float:
    try:
        return require_number(field, value)
    except InputError as exc:
        exc.location = loc
        raise
