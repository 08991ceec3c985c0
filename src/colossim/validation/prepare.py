"""A validation row made ready for the step model once, and scored many times.

:func:`prepare_row` turns a CSV row into its model, run, cluster and the candidate plans
that its blank fields allow (only the stack's own dimensions and sharding modes);
:func:`score_rows` evaluates every prepared row under a set of efficiency constants, in
one vectorised :func:`colossim.perf.step.evaluate` call per (model, run, cluster) group,
so that ``scripts/calibrate.py`` can re-score a thousand rows in a fraction of a second.

Blank fields are filled the way the row's stack runs by default (catalog
``efficiency.yaml``, ``defaults``), not by the best-scoring value: the plan chosen is the
first in the stack's order of preference that fits in memory (a stack that runs out of
memory escalates sharding, then recompute, in the listed order). Blank parallel degrees
(no stack default exists) go to the best-scoring value. The spread between the fastest
and the slowest fitting fill is kept per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from colossim.cluster import Cluster
from colossim.errors import InputError
from colossim.hardware import Precision, gpu
from colossim.parallel.plan import PlanBatch, Recompute, Sharding, check_plans
from colossim.perf.comm import Network, network_for
from colossim.perf.context import Context
from colossim.perf.step import CollectiveTimes, collective_times, evaluate
from colossim.search import SearchSpace, enumerate_plans, stack_space
from colossim.workload.fp8 import fp8_recipe, resolve_recipe
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackDefaults, StackProfile, stack_profile
from colossim.workload.training import Training

__all__ = ["FLAG_MARK", "PreparedRow", "Scored", "prepare_row", "score_rows"]

# The marker of pathological layouts in the notes of layout_sweeps.csv (its README).
FLAG_MARK = "FLAG: MFU < 1%"
# Rows that agree on these columns share model, run and cluster (one evaluate call).
GROUP_COLUMNS = (
    "arch", "layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len",
    "gated_mlp", "experts", "top_k", "moe_ffn_hidden", "shared_experts", "dense_layers", "mla",
    "framework", "gpu", "num_gpus", "precision", "fp8_recipe", "tp_comm_overlap",
    "moe_imbalance", "mtp_layers",
)  # fmt: skip
# Micro-batches per pipeline when a row gives no global batch: 8 per stage keeps the
# 1F1B bubble near 10% (Narayanan et al. 2021, sec. 3.3 guidance m >> pp).
DEFAULT_MICROBATCHES_PER_STAGE = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class PreparedRow:
    """One row, ready to score.

    Attributes:
        plans: the structurally valid candidate plans (one when the row is complete).
        prefer: per plan, how far it is from the stack's defaults (0 = the default fill;
            lower is preferred, ties go to the faster plan).
        group: key of the rows that share model, run and cluster (one evaluate call).
        searched: some field was blank and has been filled.
        given: which of vp / recompute / sharding the row states.
    """

    model: TransformerSpec
    training: Training
    cluster: Cluster
    network: Network
    plans: PlanBatch
    prefer: np.ndarray
    group: tuple
    searched: bool
    given: dict


@dataclass(frozen=True, slots=True, kw_only=True)
class Scored:
    """A prepared row's prediction.

    Attributes:
        index: the chosen candidate.
        tokens_per_s_per_gpu: its predicted throughput.
        fits: it fits in the memory model.
        fill_spread_pct: fastest / slowest fitting fill - 1 (%), 0 for a complete row.
    """

    index: int
    tokens_per_s_per_gpu: float
    fits: bool
    fill_spread_pct: float


# How a CSV writes a true or false cell.
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")


def _switch(row: dict, col: str) -> bool | None:
    """An optional true/false column (blank or absent: None, the stack's default)."""
    raw = (row.get(col) or "").strip().lower()
    if not raw:
        return None
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise InputError(col, "not a switch", value=raw, fix="write true, false or leave it blank")


def _imbalance(row: dict) -> float:
    """The optional ``moe_imbalance`` column (blank or absent: 1, balanced routing)."""
    raw = (row.get("moe_imbalance") or "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 1.0:
        raise InputError(
            "moe_imbalance",
            "not a load ratio >= 1",
            value=raw,
            fix="the busiest expert-parallel rank's routed tokens over the mean (1: balanced)",
        )
    return value


# Values of the optional ``pipeline_schedule`` column: plain 1F1B (vp 1) or interleaved
# 1F1B (vp >= 2 virtual stages per rank; a blank vp takes the stack's default for it).
PIPELINE_SCHEDULES = ("1f1b", "interleaved")


def _pipeline_schedule(row: dict, vp: int | None, pp: int | None) -> str | None:
    """The optional ``pipeline_schedule`` column, checked against the row's vp and pp."""
    raw = (row.get("pipeline_schedule") or "").strip().lower()
    if not raw:
        return None
    fix = "1f1b (no interleave, vp 1) or interleaved (vp >= 2 stages per rank, pp > 1)"
    if raw not in PIPELINE_SCHEDULES:
        raise InputError("pipeline_schedule", "unknown schedule", value=raw, fix=fix)
    interleaved = raw == "interleaved"
    if (vp is not None and (vp > 1) != interleaved) or (interleaved and pp == 1):
        raise InputError("pipeline_schedule", f"contradicts vp {vp} / pp {pp}", value=raw, fix=fix)
    return raw


def _mtp_layers(row: dict) -> int:
    """The optional ``mtp_layers`` column (blank or absent: 0)."""
    raw = (row.get("mtp_layers") or "").strip()
    if not raw:
        return 0
    if not raw.isdigit():
        raise InputError(
            "mtp_layers", "not a count", value=raw, fix="0 or the MTP depth (DeepSeek-V3: 1)"
        )
    return int(raw)


def _int(row: dict, col: str, *, required: bool = False) -> int | None:
    raw = (row.get(col) or "").strip()
    if raw == "":
        if required:
            raise ValueError(f"{col} is blank")
        return None
    value = float(raw)
    if not math.isfinite(value) or value != int(value):
        raise ValueError(f"{col} must be an integer (got {raw!r})")
    if value < (
        0 if col in ("experts", "top_k", "moe_ffn_hidden", "shared_experts", "dense_layers") else 1
    ):
        raise ValueError(f"{col} must be positive (got {raw!r})")
    return int(value)


def _preference(plans: PlanBatch, blank: dict[str, bool], d: StackDefaults) -> np.ndarray:
    """Distance of each plan from the stack's default fill, lexicographic in (micro-batch,
    vp, sharding, recompute): a stack keeps its micro-batch and escalates sharding first,
    then recompute, when the default does not fit."""
    n = len(plans)
    key = np.zeros(n)
    if blank["micro_batch"]:
        local = np.maximum(plans.global_batch // np.maximum(plans.dp, 1), 1)
        want = np.where(plans.pp > 1, 1, local) if d.micro_batch == 0 else d.micro_batch
        ratio = np.log2(plans.micro_batch / np.maximum(want, 1))
        # the default first, then smaller micro-batches (they fit), then larger ones
        key += 1e6 * np.where(ratio == 0, 0.0, 1 + np.abs(ratio) + 0.5 * (ratio > 0))
    if blank["vp"]:
        key += 1e4 * np.abs(plans.vp - d.vp)
    if blank["sharding"]:
        order = [int(Sharding[m.upper()]) for m in d.sharding]
        key += 1e2 * _rank(plans.sharding, order)
    if blank["recompute"]:
        order = [int(Recompute[m.upper()]) for m in d.recompute]
        key += _rank(plans.recompute, order)
    return key


def _valid_plans(
    model, training, cluster, plans: PlanBatch, defaults: StackDefaults, *, interleaved: bool
) -> tuple[PlanBatch, StackDefaults]:
    """The structurally valid candidates (ValueError naming the checks when none is) and
    the defaults that rank them; ``interleaved``: the row interleaves its pipeline without
    stating vp, so only vp >= 2 qualifies and the stack's default for it is preferred."""
    bad = check_plans(model, training, cluster, plans)
    ok = ~np.logical_or.reduce(list(bad.values())) if bad else np.ones(len(plans), bool)
    if not ok.any():
        reasons = ", ".join(sorted({k.value for k, v in bad.items() if v.any()}))
        raise ValueError(f"no valid plan ({reasons})")
    if interleaved:
        ok &= plans.vp >= 2
        defaults = replace(defaults, vp=defaults.interleaved_vp)
        if not ok.any():
            raise ValueError("no valid plan (an interleaved pipeline needs 2+ layers per rank)")
    return plans.take(np.flatnonzero(ok)), defaults


def _rank(values: np.ndarray, order: list[int]) -> np.ndarray:
    out = np.full(len(values), float(len(order)))
    for i, v in enumerate(order):
        out[values == v] = i
    return out


def prepare_row(row: dict, eff: Efficiency) -> PreparedRow:
    """Model, run, cluster and candidate plans of one CSV row (ValueError / KeyError /
    InputError on a bad value)."""
    from colossim.validation.runs import row_model

    model = row_model(row)
    g = gpu(row["gpu"].strip(), field="gpu")
    n = _int(row, "num_gpus", required=True)
    precision = Precision((row.get("precision") or "bf16").strip())
    seq = _int(row, "seq_len", required=True)
    tp, pp, dp, cp, ep = (_int(row, c) for c in ("tp", "pp", "dp", "cp", "ep"))
    vp, mb, gb = _int(row, "vp"), _int(row, "micro_batch"), _int(row, "global_batch")
    schedule = _pipeline_schedule(row, vp, pp)
    if schedule == "1f1b":
        vp = 1  # the row states its pipeline does not interleave
    rc_raw, sh_raw = (row.get("recompute") or "").strip(), (row.get("sharding") or "").strip()
    cluster = Cluster(
        gpu=g,
        num_gpus=n,
        gpus_per_node=g.gpus_per_node,
        scaleup_domain=g.scaleup_domain,
        nic_bw_bytes_per_s=g.nic_bw_bytes_per_s,
        nic_efficiency=eff.nic_efficiency,
    )
    fixed_dp = dp
    if fixed_dp is None and None not in (tp, pp, cp):
        fixed_dp = n // (tp * pp * cp)
    if gb is None:
        gb = (fixed_dp or 1) * (mb or 1) * DEFAULT_MICROBATCHES_PER_STAGE * (pp or 1)
    framework = row["framework"].strip()
    # Optional column (blank or absent: the stack's default recipe).
    recipe = fp8_recipe(row.get("fp8_recipe"), field="fp8_recipe")
    training = Training(
        seq_len=seq, global_batch=gb, tokens=1e12, precision=precision, framework=framework,
        fp8_recipe=recipe, tp_comm_overlap=_switch(row, "tp_comm_overlap"),
        moe_imbalance=_imbalance(row),
    )  # fmt: skip
    stack = stack_profile(framework, field="framework")
    g.peak(precision)  # a precision the GPU lacks first, then the recipe
    resolve_recipe(precision, recipe, stack.fp8_recipe, g, field="fp8_recipe")
    mbs = None
    if mb:
        mbs = (mb,)
    elif stack.defaults.micro_batch == 0 and fixed_dp:
        mbs = tuple(sorted({1, 2, 4, 8, 16, max(gb // fixed_dp, 1)}))
    space = SearchSpace(
        tp=(tp,) if tp else None,
        pp=(pp,) if pp else None,
        dp=fixed_dp,
        cp=(cp,) if cp else None,
        ep=(ep,) if ep else None,
        vp=(vp,) if vp else None,
        micro_batch=mbs,
        recompute=(Recompute[rc_raw.upper()],) if rc_raw else None,
        sharding=(Sharding[sh_raw.upper()],) if sh_raw else None,
        batch_tolerance=0.0,
        allow_idle=False,
    )
    plans = enumerate_plans(model, training, cluster, stack_space(space, stack))
    plans, defaults = _valid_plans(model, training, cluster, plans, stack.defaults,
                                   interleaved=schedule == "interleaved" and vp is None)  # fmt: skip
    blank = {"micro_batch": mb is None, "vp": vp is None, "recompute": not rc_raw}
    blank["sharding"] = not sh_raw
    return PreparedRow(
        model=model,
        training=training,
        cluster=cluster,
        network=network_for(cluster),
        plans=plans,
        prefer=_preference(plans, blank, defaults),
        group=tuple((row.get(c) or "").strip() for c in GROUP_COLUMNS),
        searched=any(v is None for v in (tp, pp, dp, cp, ep)) or any(blank.values()),
        given={"vp": vp is not None, "recompute": bool(rc_raw), "sharding": bool(sh_raw)},
    )


def _concat(batches: list[PlanBatch]) -> PlanBatch:
    return PlanBatch(
        **{f.name: np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(PlanBatch)}
    )


def score_rows(
    prepared: list[PreparedRow],
    eff: Efficiency,
    stacks: dict[str, StackProfile] | None = None,
    *,
    cache: dict[tuple, CollectiveTimes] | None = None,
) -> list[Scored]:
    """Predict every prepared row under ``eff`` and the per-stack profiles ``stacks``
    (catalog profiles for stacks it does not name). ``cache``: a dict kept between
    calls on the same rows (calibration), holding their priced collectives."""
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(prepared):
        groups.setdefault(p.group, []).append(i)
    out: list[Scored | None] = [None] * len(prepared)
    for members in groups.values():
        first = prepared[members[0]]
        fw = first.training.framework
        stack = (stacks or {}).get(fw) or stack_profile(fw)
        batch = _concat([prepared[i].plans for i in members])
        key = (first.group, tuple(members), stack.grad_reduce_bytes)
        coll = None if cache is None else cache.get(key)
        if coll is None:
            coll = collective_times(first.model, first.training, batch, stack, first.network)
            if cache is not None:
                cache[key] = coll
        ctx = Context(
            model=first.model,
            training=first.training,
            cluster=first.cluster,
            stack=stack,
            eff=eff,
            network=first.network,
        )
        steps = evaluate(ctx, batch, collectives=coll)
        fits_all = steps.memory.total <= first.cluster.gpu.hbm_bytes
        start = 0
        for i in members:
            k = len(prepared[i].plans)
            out[i] = _choose(
                prepared[i].prefer,
                steps.tokens_per_s_per_gpu[start : start + k],
                fits_all[start : start + k],
            )
            start += k
    return out  # type: ignore[return-value]


def _choose(prefer: np.ndarray, tps: np.ndarray, fits: np.ndarray) -> Scored:
    pool = fits if fits.any() else np.ones_like(fits)
    # lexicographic: preference, then throughput (np.lexsort sorts by the last key first)
    cand = np.flatnonzero(pool)
    best = cand[np.lexsort((-tps[cand], prefer[cand]))[0]]
    t = tps[cand]
    return Scored(
        index=int(best),
        tokens_per_s_per_gpu=float(tps[best]),
        fits=bool(fits.any()),
        fill_spread_pct=float((t.max() / t.min() - 1) * 100) if len(t) > 1 else 0.0,
    )
