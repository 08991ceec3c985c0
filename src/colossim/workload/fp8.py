"""FP8 training recipes (how the inputs of FP8 GEMMs are scaled) and their costs, loaded
from ``catalog/fp8.yaml``.

A run's recipe is ``workload.fp8_recipe`` when given, else ``mxfp8`` for precision
``mxfp8``, else its stack's default (``fp8_recipe`` in ``catalog/efficiency.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.hardware import GPU, Precision

__all__ = [
    "FP8_PRECISIONS",
    "Fp8Recipe",
    "RecipeCost",
    "fp8_recipe",
    "recipe_cost",
    "resolve_recipe",
]

# Precisions whose GEMM inputs are quantised by an FP8 recipe. FP4 runs are priced with
# the tensorwise costs (NVFP4 block scaling is not modelled separately).
FP8_PRECISIONS = (Precision.FP8, Precision.MXFP8)
# MODEL: per linear layer and micro-batch, each of the three tensors its GEMMs consume
# (activation x, weight W, output gradient dY) is cast once (cast_bytes per element: x and
# W for the forward, dY for the data gradient), and the backward's transposed operands
# (W^T for the data gradient, x^T and dY^T for the weight gradient) cost
# transposed_cast_bytes each; weights are cast every micro-batch (no FP8 weight cache
# across micro-batches), one GEMM factor per recipe whatever the shape; FP4 is priced as
# tensorwise.


class Fp8Recipe(StrEnum):
    """Scaling granularity of FP8 GEMM inputs (catalog ``fp8.yaml``)."""

    TENSORWISE = "tensorwise"  # current per-tensor scaling
    DELAYED = "delayed"  # per-tensor, scale from the amax history of earlier steps
    ROWWISE = "rowwise"  # one scale per row
    BLOCKWISE = "blockwise"  # DeepSeek-V3: 1x128 activations, 128x128 weights
    MXFP8 = "mxfp8"  # OCP MX: 1x32 blocks, E8M0 scales (Blackwell)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecipeCost:
    """What a recipe costs (catalog ``fp8.yaml``; meaning and sources there)."""

    recipe: Fp8Recipe
    cast_bytes: float
    transposed_cast_bytes: float
    gemm_factor: float  # relative to the tensorwise FP8 ceiling, <= 1
    generations: tuple[str, ...]


@cache
def recipe_cost(recipe: Fp8Recipe | str) -> RecipeCost:
    r = Fp8Recipe(recipe)
    v = load_catalog("fp8")[r.value].values
    return RecipeCost(
        recipe=r,
        cast_bytes=float(v["cast_bytes"]),
        transposed_cast_bytes=float(v["transposed_cast_bytes"]),
        gemm_factor=float(v["gemm_factor"]),
        generations=tuple(str(g) for g in v["generations"]),
    )


def fp8_recipe(raw: str | None, *, field: str) -> Fp8Recipe | None:
    """Parse a recipe name (blank: ``None``) or raise a clear :class:`InputError`."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return Fp8Recipe(text.lower())
    except ValueError:
        known = ", ".join(r.value for r in Fp8Recipe)
        raise InputError(
            field, "unknown FP8 recipe", value=text, fix=f"use one of {known}, or leave it out"
        ) from None


def resolve_recipe(
    precision: Precision | str,
    recipe: Fp8Recipe | str | None,
    stack_default: str,
    gpu: GPU,
    *,
    field: str = "workload.fp8_recipe",
) -> RecipeCost:
    """The recipe a run uses and its costs: ``recipe`` when given, ``mxfp8`` for
    precision mxfp8, else the stack's default; an :class:`InputError` naming ``field``
    when ``gpu``'s generation cannot run it (mxfp8 before Blackwell)."""
    prec = Precision(precision)
    if prec not in FP8_PRECISIONS:
        return recipe_cost(Fp8Recipe.TENSORWISE)
    given = recipe is not None
    if recipe is None:
        recipe = Fp8Recipe.MXFP8 if prec == Precision.MXFP8 else stack_default
    if prec == Precision.MXFP8 and Fp8Recipe(recipe) != Fp8Recipe.MXFP8:
        raise InputError(
            field,
            "precision mxfp8 runs the mxfp8 recipe only",
            value=str(recipe),
            fix="leave fp8_recipe out, or set precision: fp8 for another recipe",
        )
    cost = recipe_cost(recipe)
    if gpu.generation not in cost.generations:
        where = field if given else f"{field} (default of the stack)"
        ok = [r.value for r in Fp8Recipe if gpu.generation in recipe_cost(r).generations]
        raise InputError(
            where,
            f"{gpu.id} ({gpu.generation}) cannot run the {cost.recipe.value} recipe "
            f"(it needs {' or '.join(cost.generations)})",
            value=cost.recipe.value,
            fix=f"use one of {', '.join(ok)}" if ok else "use precision bf16",
        )
    return cost
