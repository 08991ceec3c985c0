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
import time
from dataclasses import dataclass, field

import numpy as np

from colossim.model import TransformerSpec
from colossim.perf.comm import Network
from colossim.perf.profile import Efficiency, StackProfile
from colossim.perf.step import StepBatch, evaluate
from colossim.plan import Infeasible, PlanBatch, Recompute, Sharding, check_plans
from colossim.workload import Cluster, Training

__all__ = ["SearchResult", "SearchSpace", "enumerate_plans", "search"]

POW2 = tuple(2**i for i in range(11))


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
        feasible: evaluated feasible plans (StepBatch), sorted by throughput, best first.
        pareto: indices into ``feasible`` of the Pareto front (tokens/s up, memory
            headroom up, GPUs used down).
        elapsed_s: wall time of the search.
    """

    candidates: int
    rejected: dict[str, int]
    feasible: StepBatch | None
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
    result = evaluate(model, training, cluster, plans, stack=stack, eff=eff, network=network)
    capacity = cluster.gpu.hbm_bytes
    fits = result.memory.total <= capacity
    if not ignore_memory:
        if (~fits).any():
            rejected[Infeasible.MEMORY.value] = int((~fits).sum())
        idx = np.flatnonzero(fits)
    else:
        idx = np.arange(len(plans))
    if objective == "tokens_per_s":
        key = -result.tokens_per_s[idx]
    else:
        key = -result.tokens_per_s_per_gpu[idx]
    order = idx[np.argsort(key, kind="stable")]
    feasible = _take_steps(result, order) if len(order) else None
    pareto = _pareto(feasible, capacity) if feasible is not None else np.zeros(0, dtype=np.int64)
    return SearchResult(
        candidates=total,
        rejected=rejected,
        feasible=feasible,
        pareto=pareto,
        elapsed_s=time.perf_counter() - t0,
        memory_capacity_bytes=capacity,
        num_gpus=cluster.num_gpus,
    )


def _take_steps(result: StepBatch, index: np.ndarray) -> StepBatch:
    from dataclasses import fields as dc_fields

    from colossim.plan import MemoryBreakdown

    kw = {}
    for f in dc_fields(result):
        v = getattr(result, f.name)
        if isinstance(v, np.ndarray):
            kw[f.name] = v[index]
        elif isinstance(v, PlanBatch):
            kw[f.name] = v.take(index)
        elif isinstance(v, MemoryBreakdown):
            kw[f.name] = MemoryBreakdown(**{g.name: getattr(v, g.name)[index] for g in dc_fields(v)})
    return StepBatch(**kw)


def _pareto(steps: StepBatch, capacity: float) -> np.ndarray:
    """Indices of plans not dominated on (tokens/s max, headroom max, GPUs used min).

    With plans sorted by throughput (ties by headroom), plan i is dominated iff some
    earlier plan uses no more GPUs and has at least its headroom. For each distinct GPU
    count g, a running maximum of headroom over earlier plans using <= g GPUs decides
    that in one vectorised pass (distinct GPU counts are few).
    """
    tps = steps.tokens_per_s
    head = capacity - steps.memory.total
    gpus = steps.plans.num_gpus
    order = np.lexsort((-head, -tps))
    h, g = head[order], gpus[order]
    on_front = np.zeros(len(order), dtype=bool)
    for gv in np.unique(g):
        masked = np.where(g <= gv, h, -np.inf)
        prev_max = np.concatenate(([-np.inf], np.maximum.accumulate(masked)[:-1]))
        sel = g == gv
        on_front[sel] = h[sel] > prev_max[sel]
    return order[on_front]
