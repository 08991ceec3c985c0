"""Plan search: enumerate every candidate layout as numpy arrays, reject invalid ones by
reason, evaluate the rest with the same step-time model as ``estimate``, and return the
best plans, the Pareto front and the rejection counts.

GPU count: when the cluster size does not factor well (100,000 = 2^5 * 5^5), a plan may
leave GPUs idle (``dp = floor(N / (tp*pp*cp))``, or a smaller dp that divides the batch);
the result reports how many. Global batch: a plan trains with the batch closest to the
target that it can reach (dp * micro_batch * m), within ``batch_tolerance``.
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np

from colossim.model import TransformerSpec
from colossim.perf.comm import Network
from colossim.perf.profile import Efficiency, StackProfile
from colossim.perf.step import StepBatch, evaluate
from colossim.plan import Infeasible, MemoryBreakdown, PlanBatch, Recompute, Sharding, check_plans, memory_breakdown
from colossim.workload import Cluster, Training

__all__ = ["SearchResult", "SearchSpace", "enumerate_plans", "search"]

POW2 = tuple(2**i for i in range(11))
# Below this many plans a single thread is faster than splitting the work.
PARALLEL_MIN_PLANS = 200_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpace:
    """Candidate values per dimension; ``None`` means "enumerate the natural range".

    Attributes:
        dp: fixed data-parallel degree, or None (derived from the GPU count).
        batch_tolerance: accepted relative deviation of the reached global batch from the
            target (0 = exact).
        allow_idle: plans may leave GPUs unused.
        max_tp: cap on TP (default: the scale-up domain).
    """

    tp: tuple[int, ...] | None = None
    pp: tuple[int, ...] | None = None
    dp: int | None = None
    cp: tuple[int, ...] | None = None
    ep: tuple[int, ...] | None = None
    vp: tuple[int, ...] | None = None
    micro_batch: tuple[int, ...] | None = None
    recompute: tuple[Recompute, ...] | None = None
    sharding: tuple[Sharding, ...] | None = None
    batch_tolerance: float = 0.0
    allow_idle: bool = False
    max_tp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """Outcome of a search.

    Attributes:
        candidates: plans enumerated (valid or not).
        rejected: count of rejected plans by reason (first failing rule).
        feasible: the best ``keep_top`` feasible plans plus the Pareto front (StepBatch),
            sorted by throughput, best first.
        feasible_count: how many plans were feasible in all.
        pareto: indices into ``feasible`` of the Pareto front (tokens/s up, memory
            headroom up, GPUs used down).
        elapsed_s: wall time of the search.
    """

    candidates: int
    rejected: dict[str, int]
    feasible: StepBatch | None
    feasible_count: int
    pareto: np.ndarray
    elapsed_s: float
    memory_capacity_bytes: float
    num_gpus: int
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> int | None:
        return 0 if self.feasible is not None and len(self.feasible) else None


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def enumerate_plans(
    model: TransformerSpec, training: Training, cluster: Cluster, space: SearchSpace
) -> PlanBatch:
    """Cartesian product of the candidate values, with dp and the batch derived."""
    n = cluster.num_gpus
    max_tp = space.max_tp or cluster.scaleup_domain
    tps = space.tp or tuple(t for t in POW2 if t <= max_tp and model.heads % t == 0)
    pps = space.pp or tuple(
        sorted({p for p in range(1, model.layers + 1) if model.layers % p == 0 or p in POW2} - {0})
    )
    cps = space.cp or tuple(c for c in POW2 if c <= 32 and (c == 1 or training.seq_len % (2 * c) == 0))
    eps = space.ep or (tuple(e for e in POW2 if e <= model.experts and model.experts % e == 0) if model.is_moe else (1,))
    vps = space.vp or (1, 2, 3, 4, 6, 8)
    mbs = space.micro_batch or (1, 2, 4, 8, 16)
    rcs = space.recompute or tuple(Recompute)
    shs = space.sharding or tuple(Sharding)

    # Stage 1: the parallel degrees (small product), filtered before expanding the rest.
    grid = np.array(list(itertools.product(tps, pps, cps, eps)), dtype=np.int64).reshape(-1, 4)
    tp, pp, cp, ep = grid.T
    mp = tp * pp * cp
    keep = mp <= n
    tp, pp, cp, ep, mp = tp[keep], pp[keep], cp[keep], ep[keep], mp[keep]
    if space.dp is not None:
        dp = np.full_like(tp, space.dp)
        dps = [dp]
    else:
        dp_max = n // mp
        dps = [dp_max]
        if space.allow_idle or space.batch_tolerance < 1:
            # largest dp <= dp_max that divides the target batch: no rounding needed
            gb = training.global_batch
            div = np.array(_divisors(gb), dtype=np.int64)
            idx = np.searchsorted(div, dp_max, side="right") - 1
            dps.append(div[np.maximum(idx, 0)])
    cols = []
    for dp in dps:
        cols.append(np.stack([tp, pp, cp, ep, dp], axis=1))
    base = np.unique(np.concatenate(cols), axis=0)
    if not space.allow_idle and space.dp is None:
        base = base[base[:, 0] * base[:, 1] * base[:, 2] * base[:, 4] == n]
    base = base[base[:, 4] >= 1]

    # Stage 2: expand vp, micro-batch, recompute, sharding.
    rest = np.array(list(itertools.product(vps, mbs, [int(r) for r in rcs], [int(s) for s in shs])), dtype=np.int64)
    nb, nr = len(base), len(rest)
    b = np.repeat(base, nr, axis=0)
    r = np.tile(rest, (nb, 1))
    # vp > 1 only makes sense with pp > 1: drop those combinations up front (they are
    # not plans, just duplicates of vp = 1).
    ok = (r[:, 0] == 1) | (b[:, 1] > 1)
    b, r = b[ok], r[ok]
    dp, mb = b[:, 4], r[:, 1]
    per_step = dp * mb
    m = np.maximum(np.rint(training.global_batch / per_step), 1).astype(np.int64)
    gbatch = per_step * m
    return PlanBatch(
        tp=b[:, 0], pp=b[:, 1], cp=b[:, 2], ep=b[:, 3], dp=dp, vp=r[:, 0],
        micro_batch=mb, global_batch=gbatch, recompute=r[:, 2], sharding=r[:, 3],
    )  # fmt: skip


def search(
    model: TransformerSpec,
    training: Training,
    cluster: Cluster,
    space: SearchSpace,
    *,
    stack: StackProfile,
    eff: Efficiency,
    network: Network,
    objective: str = "tokens_per_s",
    ignore_memory: bool = False,
    keep_top: int = 1000,
) -> SearchResult:
    """Enumerate, filter and evaluate every plan of ``space``."""
    t0 = time.perf_counter()
    plans = enumerate_plans(model, training, cluster, space)
    total = len(plans)
    rejected: dict[str, int] = {}
    alive = np.ones(total, dtype=bool)
    for reason, bad in check_plans(model, training, cluster, plans).items():
        if reason is Infeasible.BATCH:
            # the enumerator rounds the batch; reject what is off target
            rel = np.abs(plans.global_batch / training.global_batch - 1)
            bad = rel > space.batch_tolerance + 1e-12
        newly = bad & alive
        if newly.any():
            rejected[reason.value] = int(newly.sum())
        alive &= ~bad
    plans = plans.take(np.flatnonzero(alive))
    capacity = cluster.gpu.hbm_bytes

    def run(chunk: PlanBatch) -> tuple[StepBatch | None, int]:
        # Memory first (cheaper than the step model): only plans that fit are timed.
        memory = memory_breakdown(model, training, chunk, stack, eff)
        n_over = 0
        if not ignore_memory:
            fits = memory.total <= capacity
            n_over = int((~fits).sum())
            keep = np.flatnonzero(fits)
            chunk = chunk.take(keep)
            memory = MemoryBreakdown(**{f.name: getattr(memory, f.name)[keep] for f in fields(memory)})
        steps = evaluate(model, training, cluster, chunk, stack=stack, eff=eff, network=network, memory=memory)
        return steps, n_over

    # numpy releases the GIL on large array operations: evaluating halves of a big
    # candidate set in threads uses both cores of a laptop-class machine.
    workers = min(os.cpu_count() or 1, 4)
    if len(plans) >= PARALLEL_MIN_PLANS and workers > 1:
        bounds = np.linspace(0, len(plans), workers + 1).astype(np.int64)
        chunks = [plans.take(np.arange(a, b)) for a, b in itertools.pairwise(bounds)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(run, chunks))
        result = _concat_steps([p for p, _ in parts])
        over = sum(n for _, n in parts)
    else:
        result, over = run(plans)
    if over:
        rejected[Infeasible.MEMORY.value] = over
    key = -(result.tokens_per_s if objective == "tokens_per_s" else result.tokens_per_s_per_gpu)
    order = np.argsort(key, kind="stable")
    front = _pareto(result, capacity)
    # Keep the best plans and the Pareto front; the rest is only counted.
    top = order[:keep_top]
    extra = np.setdiff1d(front, top)
    kept = np.concatenate([top, extra[np.argsort(key[extra], kind="stable")]]) if len(extra) else top
    kept = kept[np.argsort(key[kept], kind="stable")]
    feasible = _take_steps(result, kept) if len(kept) else None
    pareto = np.flatnonzero(np.isin(kept, front))
    return SearchResult(
        candidates=total,
        rejected=rejected,
        feasible=feasible,
        feasible_count=int(len(order)),
        pareto=pareto,
        elapsed_s=time.perf_counter() - t0,
        memory_capacity_bytes=capacity,
        num_gpus=cluster.num_gpus,
    )


def _concat_steps(parts: list[StepBatch]) -> StepBatch:
    kw = {}
    for f in fields(parts[0]):
        vals = [getattr(p, f.name) for p in parts]
        if isinstance(vals[0], np.ndarray):
            kw[f.name] = np.concatenate(vals)
        elif isinstance(vals[0], PlanBatch):
            kw[f.name] = PlanBatch(**{g.name: np.concatenate([getattr(v, g.name) for v in vals]) for g in fields(vals[0])})
        elif isinstance(vals[0], MemoryBreakdown):
            kw[f.name] = MemoryBreakdown(**{g.name: np.concatenate([getattr(v, g.name) for v in vals]) for g in fields(vals[0])})
    return StepBatch(**kw)


def _take_steps(result: StepBatch, index: np.ndarray) -> StepBatch:
    kw = {}
    for f in fields(result):
        v = getattr(result, f.name)
        if isinstance(v, np.ndarray):
            kw[f.name] = v[index]
        elif isinstance(v, PlanBatch):
            kw[f.name] = v.take(index)
        elif isinstance(v, MemoryBreakdown):
            kw[f.name] = MemoryBreakdown(**{g.name: getattr(v, g.name)[index] for g in fields(v)})
    return StepBatch(**kw)


def _pareto(steps: StepBatch, capacity: float) -> np.ndarray:
    """Indices of plans not dominated on (tokens/s max, headroom max, GPUs used min).

    Two passes, both vectorised. (1) Within each GPU count, the 2-D front of
    (tokens/s, headroom): sort by (GPUs, -tokens/s, -headroom) and keep plans whose
    headroom beats the running maximum of their group (offsetting each group by a
    constant larger than the headroom range lets one global running maximum work per
    group). The 3-D front is a subset of the union of these. (2) On that small union,
    plan i is dominated iff a faster-or-equal plan uses no more GPUs and has at least
    its headroom: one running maximum per distinct GPU count.
    """
    tps = steps.tokens_per_s
    head = capacity - steps.memory.total
    gpus = steps.plans.num_gpus
    if len(tps) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-head, -tps, gpus))
    g = gpus[order]
    group = np.concatenate(([0], np.cumsum(g[1:] != g[:-1])))
    span = float(head.max() - head.min()) + 1.0
    shifted = head[order] - head.min() + group * span
    prev = np.concatenate(([-np.inf], np.maximum.accumulate(shifted)[:-1]))
    first = np.concatenate(([True], g[1:] != g[:-1]))
    cand = order[first | (shifted > prev)]
    # pass 2 on the candidates
    sub = cand[np.lexsort((-head[cand], -tps[cand]))]
    h, gs = head[sub], gpus[sub]
    on_front = np.zeros(len(sub), dtype=bool)
    for gv in np.unique(gs):
        masked = np.where(gs <= gv, h, -np.inf)
        prev_max = np.concatenate(([-np.inf], np.maximum.accumulate(masked)[:-1]))
        sel = gs == gv
        on_front[sel] = h[sel] > prev_max[sel]
    return sub[on_front]
