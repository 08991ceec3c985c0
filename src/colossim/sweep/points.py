"""The points of a sweep: axes combined (grid, zip) or sampled (random, Latin hypercube)
with the spec's seed, then filtered by its constraints. Pure: no scenario is loaded."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from colossim.errors import InputError
from colossim.sweep.spec import MAX_POINTS, Axis, Sampling, SweepSpec

__all__ = ["Point", "override", "sweep_points"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One point of a sweep.

    Attributes:
        idx: position in the spec's enumeration order (stable across runs).
        values: axis name -> value.
        overrides: ``field=value`` strings for :func:`colossim.load_scenario`.
    """

    idx: int
    values: dict[str, Any]
    overrides: tuple[str, ...]


def override(field: str, value: Any) -> str:
    """A ``--set`` override; the value written as JSON, which the YAML reader parses
    back to the same value (strings stay strings: ``"b200"``)."""
    return f"{field}={json.dumps(value, separators=(',', ':'))}"


def _grid_size(axes: tuple[Axis, ...]) -> int:
    n = 1
    for a in axes:
        n *= len(a.values or ())
    return n


def _combinations(spec: SweepSpec) -> list[tuple[Any, ...]]:
    axes = spec.axes
    if spec.sampling is Sampling.GRID:
        n = _grid_size(axes)
        if n > MAX_POINTS:
            raise InputError(
                "axes",
                f"the grid has {n:,} points (at most {MAX_POINTS:,})",
                location=spec.location("axes"),
                fix="use sampling: lhs with samples: N",
            )
        return list(itertools.product(*(a.values for a in axes)))
    if spec.sampling is Sampling.ZIP:
        return list(zip(*(a.values for a in axes), strict=True))
    return _sampled(spec)


def _sampled(spec: SweepSpec) -> list[tuple[Any, ...]]:
    """``samples`` points; for Latin hypercube, axis i's unit values are one per stratum
    ``[k/n, (k+1)/n)`` in a random order (McKay, Beckman & Conover 1979)."""
    n = int(spec.samples or 0)
    rng = np.random.default_rng(spec.seed)
    columns = []
    for a in spec.axes:
        if spec.sampling is Sampling.LHS:
            u = (rng.permutation(n) + rng.random(n)) / n
        else:
            u = rng.random(n)
        columns.append(_from_unit(a, u))
    return list(zip(*columns, strict=True))


def _from_unit(a: Axis, u: np.ndarray) -> list[Any]:
    """Unit-interval draws mapped onto an axis: an index into its values, or a point of
    its range (uniform, or uniform in log space)."""
    if a.values is not None:
        idx = np.minimum((u * len(a.values)).astype(np.int64), len(a.values) - 1)
        return [a.values[i] for i in idx]
    lo, hi = float(a.low), float(a.high)
    x = np.exp(np.log(lo) + u * np.log(hi / lo)) if a.log else lo + u * (hi - lo)
    if a.integer:
        return [int(v) for v in np.clip(np.rint(x), np.ceil(lo), np.floor(hi))]
    return [float(v) for v in x]


def sweep_points(spec: SweepSpec) -> tuple[list[Point], int]:
    """Every point of ``spec`` that passes its constraints, in a stable order, and how
    many the constraints excluded.

    Raises:
        InputError: a constraint cannot be evaluated, or the constraints exclude every
            point.
    """
    combos = _combinations(spec)
    names = [a.name for a in spec.axes]
    kept, excluded = [], 0
    for i, combo in enumerate(combos):
        values = dict(zip(names, combo, strict=True))
        if not all(c.holds(values) for c in spec.constraints):
            excluded += 1
            continue
        ovr = tuple(override(a.field, v) for a, v in zip(spec.axes, combo, strict=True))
        kept.append(Point(idx=i, values=values, overrides=ovr))
    if not kept:
        raise InputError(
            "constraints",
            f"exclude every one of the {len(combos):,} points",
            location=spec.location("constraints"),
            fix="loosen the constraints or widen the axes",
        )
    return kept, excluded
