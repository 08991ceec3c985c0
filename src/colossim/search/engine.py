"""Plan search: enumerate every candidate layout as numpy arrays, reject invalid ones by
reason, evaluate the rest with the same step-time model as ``estimate``, and return the
best plans, the Pareto front and the rejection counts.

GPU count: when the cluster size does not factor well (100,000 = 2^5 * 5^5), a plan may
leave GPUs idle (``dp = floor(N / (tp*pp*cp))``, or a smaller dp that divides the batch);
the result reports how many. Global batch: a plan trains with the batch closest to the
target that it can reach (dp * micro_batch * m), within ``batch_tolerance``.

Speed (benchmarks/search_speed.py): the candidates are held factored, as (degrees x vp x
micro-batch) rows times the recompute x sharding product. Structural rules and a static
memory bound (weights + gradients + optimizer states) are checked once per row or per
(degrees, sharding), and the rejected plans are counted without being built; the rest is
expanded, memory-checked and timed in cache-sized chunks on every core, and each chunk
hands back only its best plans and its own Pareto front. Counts, best plans, order and
front are exactly those of checking and ranking every plan one by one (tests/test_search.py).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace

import numpy as np

from colossim.cluster import Cluster
from colossim.parallel.memory import MemoryBreakdown, memory_breakdown
from colossim.parallel.plan import (
    Infeasible,
    PlanBatch,
    Recompute,
    Sharding,
    check_plans,
    packed_key,
)
from colossim.perf.estimate import Context
from colossim.perf.step import StepBatch, evaluate
from colossim.search.pareto import pareto_front as _pareto
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import Efficiency, StackProfile
from colossim.workload.training import Training

__all__ = [
    "CandidateValues",
    "SearchResult",
    "SearchSpace",
    "candidate_values",
    "enumerate_plans",
    "search",
]

POW2 = tuple(2**i for i in range(11))
# Below this many plans a single thread is faster than splitting the work.
PARALLEL_MIN_PLANS = 100_000
# Plans per evaluation chunk: the step model's temporaries (a few dozen float64 arrays
# per chunk) then stay mostly in cache; measured 30% less CPU than two halves of 1M.
CHUNK_PLANS = 131_072


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchSpace:
    """Candidate values per dimension; ``None`` means "enumerate the natural range".

    Attributes:
        dp: fixed data-parallel degree, or None (derived from the GPU count).
        batch_tolerance: accepted relative deviation of the reached global batch from the
            target (0 = exact).
        allow_idle: plans may leave GPUs unused.
        max_tp: cap on TP (default: the scale-up domain).
        memory_headroom: share of HBM a plan must leave free (0 = it may fill it);
            plans within HBM but above ``(1 - memory_headroom) * HBM`` are rejected as
            ``memory_headroom``.
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
    memory_headroom: float = 0.0


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
    memory_headroom: float = 0.0  # share of it plans had to leave free
    num_gpus: int
    extra: dict = field(default_factory=dict)

    @property
    def best(self) -> int | None:
        return 0 if self.feasible is not None and len(self.feasible) else None


def _divisors(n: int) -> list[int]:
    """Divisors of ``n`` in increasing order, in O(sqrt(n)) steps (a batch may be huge)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


@dataclass(frozen=True, slots=True, kw_only=True)
class CandidateValues:
    """The values a search enumerates per dimension (``SearchSpace`` with defaults filled)."""

    tp: tuple[int, ...]
    pp: tuple[int, ...]
    cp: tuple[int, ...]
    ep: tuple[int, ...]
    vp: tuple[int, ...]
    micro_batch: tuple[int, ...]
    recompute: tuple[int, ...]
    sharding: tuple[int, ...]


def candidate_values(
    model: TransformerSpec, training: Training, cluster: Cluster, space: SearchSpace
) -> CandidateValues:
    """Fill the ``None`` dimensions of ``space`` with their natural ranges."""
    max_tp = space.max_tp or cluster.scaleup_domain
    pps = space.pp or tuple(
        sorted({p for p in range(1, model.layers + 1) if model.layers % p == 0 or p in POW2} - {0})
    )
    return CandidateValues(
        tp=space.tp or tuple(t for t in POW2 if t <= max_tp and model.heads % t == 0),
        pp=pps,
        cp=space.cp
        or tuple(c for c in POW2 if c <= 32 and (c == 1 or training.seq_len % (2 * c) == 0)),
        ep=space.ep
        or (
            tuple(e for e in POW2 if e <= model.experts and model.experts % e == 0)
            if model.is_moe
            else (1,)
        ),
        vp=space.vp or (1, 2, 3, 4, 6, 8),
        micro_batch=space.micro_batch or (1, 2, 4, 8, 16),
        recompute=tuple(int(r) for r in (space.recompute or tuple(Recompute))),
        sharding=tuple(int(s) for s in (space.sharding or tuple(Sharding))),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _Factored:
    """The candidate set as (parallel degrees x vp x micro-batch) rows times the
    (recompute x sharding) product: the structural rules and the static memory bound do
    not depend on the latter, so they are checked once per row instead of once per plan.

    ``rows`` holds recompute = sharding = 0 placeholders; ``combo`` is each row's index
    into the distinct (tp, pp, cp, ep, dp) combinations ``degrees`` (shape (n, 5)).
    """

    rows: PlanBatch
    combo: np.ndarray
    degrees: np.ndarray
    recompute: np.ndarray
    sharding: np.ndarray

    @property
    def per_row(self) -> int:
        return len(self.recompute) * len(self.sharding)

    def expand(
        self, rows: np.ndarray, keep: np.ndarray | None = None
    ) -> tuple[PlanBatch, np.ndarray]:
        """Plans of ``rows`` (indices) x recompute x sharding, in enumeration order;
        ``keep``: optional mask over that product. Returns the plans and their combo."""
        nrc, nsh = len(self.recompute), len(self.sharding)
        idx = np.repeat(rows, nrc * nsh)
        rc = np.tile(np.repeat(self.recompute, nsh), len(rows))
        sh = np.tile(self.sharding, nrc * len(rows))
        if keep is not None:
            idx, rc, sh = idx[keep], rc[keep], sh[keep]
        r = self.rows
        plans = PlanBatch(
            tp=r.tp[idx], pp=r.pp[idx], dp=r.dp[idx], cp=r.cp[idx], ep=r.ep[idx], vp=r.vp[idx],
            micro_batch=r.micro_batch[idx], global_batch=r.global_batch[idx], recompute=rc, sharding=sh,
        )  # fmt: skip
        return plans, self.combo[idx]


def _factored(
    model: TransformerSpec, training: Training, cluster: Cluster, space: SearchSpace
) -> _Factored:
    n = cluster.num_gpus
    vals = candidate_values(model, training, cluster, space)

    # Stage 1: the parallel degrees (small product), filtered before expanding the rest.
    grid = np.array(
        list(itertools.product(vals.tp, vals.pp, vals.cp, vals.ep)), dtype=np.int64
    ).reshape(-1, 4)
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
    base = np.concatenate([np.stack([tp, pp, cp, ep, dp], axis=1) for dp in dps])
    # Distinct rows in lexicographic (tp, pp, cp, ep, dp) order, via one packed int64 key
    # per row (cheaper than np.unique(axis=0); same order, all values are >= 0).
    packed = packed_key(base.T)
    if packed is not None:
        base = base[np.unique(packed, return_index=True)[1]]
    else:
        base = np.unique(base, axis=0)
    if not space.allow_idle and space.dp is None:
        base = base[base[:, 0] * base[:, 1] * base[:, 2] * base[:, 4] == n]
    base = base[base[:, 4] >= 1]

    # Stage 2: expand vp and micro-batch (recompute and sharding stay factored out).
    vps = np.repeat(np.array(vals.vp, dtype=np.int64), len(vals.micro_batch))
    mbs = np.tile(np.array(vals.micro_batch, dtype=np.int64), len(vals.vp))
    combo = np.repeat(np.arange(len(base)), len(vps))
    rest = np.tile(np.arange(len(vps)), len(base))
    # vp > 1 only makes sense with pp > 1: drop those combinations up front (they are
    # not plans, just duplicates of vp = 1).
    ok = (vps[rest] == 1) | (base[combo, 1] > 1)
    combo, rest = combo[ok], rest[ok]
    dp, mb = base[combo, 4], mbs[rest]
    per_step = dp * mb
    m = np.maximum(np.rint(training.global_batch / per_step), 1).astype(np.int64)
    zero = np.zeros_like(dp)
    rows = PlanBatch(
        tp=base[combo, 0], pp=base[combo, 1], cp=base[combo, 2], ep=base[combo, 3], dp=dp,
        vp=vps[rest], micro_batch=mb, global_batch=per_step * m, recompute=zero, sharding=zero,
    )  # fmt: skip
    return _Factored(
        rows=rows,
        combo=combo,
        degrees=base,
        recompute=np.array(vals.recompute, dtype=np.int64),
        sharding=np.array(vals.sharding, dtype=np.int64),
    )


def enumerate_plans(
    model: TransformerSpec, training: Training, cluster: Cluster, space: SearchSpace
) -> PlanBatch:
    """Cartesian product of the candidate values, with dp and the batch derived."""
    fac = _factored(model, training, cluster, space)
    plans, _ = fac.expand(np.arange(len(fac.rows)))
    return plans


def _static_fits(
    model: TransformerSpec,
    training: Training,
    fac: _Factored,
    stack: StackProfile,
    eff: Efficiency,
    capacity: float,
) -> np.ndarray:
    """Mask (combination, sharding) -> the plans may fit: a lower bound on their memory
    (weights, gradients, optimizer states and the fixed runtime reserve; activations,
    logits and the other buffers are >= 0) is within ``capacity``.

    The bound is computed by ``memory_breakdown`` itself (no second formula) and summed
    in the order of ``MemoryBreakdown.total``; float addition is monotone, so a plan whose
    bound exceeds the capacity has a total that exceeds it too: pruning is exact.
    """
    deg = fac.degrees
    nsh = len(fac.sharding)
    c = np.repeat(deg, nsh, axis=0)
    one = np.ones(len(c), dtype=np.int64)
    probe = PlanBatch(
        tp=c[:, 0], pp=c[:, 1], cp=c[:, 2], ep=c[:, 3], dp=c[:, 4], vp=one, micro_batch=one,
        global_batch=c[:, 4], recompute=0 * one, sharding=np.tile(fac.sharding, len(deg)),
    )  # fmt: skip
    mem = memory_breakdown(model, training, probe, stack, eff)
    zero = np.zeros(len(c))
    bound = MemoryBreakdown(
        weights=mem.weights,
        gradients=mem.gradients,
        optimizer=mem.optimizer,
        activations=zero,
        logits=zero,
        buffers=np.full(len(c), eff.runtime_memory_bytes),
    ).total
    return (bound <= capacity).reshape(len(deg), nsh)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Chunk:
    """What one evaluated chunk hands back: counts, and only the plans that can still
    be among the best ``keep_top`` or on the Pareto front (the rest is freed)."""

    over: int  # memory rejections (above HBM)
    tight: int  # headroom rejections (within HBM, above the headroom limit)
    feasible: int
    local: np.ndarray  # indices of ``steps`` rows among the chunk's feasible plans
    steps: StepBatch
    key: np.ndarray
    head: np.ndarray
    group: np.ndarray


def search(
    ctx: Context,
    space: SearchSpace,
    *,
    objective: str = "tokens_per_s",
    ignore_memory: bool = False,
    keep_top: int = 1000,
) -> SearchResult:
    """Enumerate, filter and evaluate every plan of ``space``.

    Rejections are counted per plan, by the first failing rule (structural rules in
    the order of ``check_plans``, then memory), so ``candidates == feasible_count +
    sum(rejected.values())`` holds exactly even though the structural rules and a
    static memory bound are checked per (degrees x vp x micro-batch) row, before the
    rows are expanded over recompute x sharding.
    """
    t0 = time.perf_counter()
    fac = _factored(ctx.model, ctx.training, ctx.cluster, space)
    alive, rejected = _structural_rejections(ctx, fac, space)
    live = np.flatnonzero(alive)
    capacity = ctx.cluster.gpu.hbm_bytes
    if ignore_memory:
        keep = np.ones((len(live), fac.per_row), dtype=bool)
    else:
        # Static memory bound per (combination, sharding): plans whose weights and
        # optimizer state alone overflow are counted as memory rejections unexpanded.
        fits_sh = _static_fits(ctx.model, ctx.training, fac, ctx.stack, ctx.eff, capacity)
        keep = np.tile(fits_sh[fac.combo[live]], (1, len(fac.recompute)))
    pruned = int(keep.size - keep.sum())
    # GPUs used, as small order-preserving labels per degree combination (pareto sorts
    # them with a radix sort).
    deg = fac.degrees
    values, label = np.unique(deg[:, 0] * deg[:, 1] * deg[:, 2] * deg[:, 4], return_inverse=True)
    label = label.astype(np.uint16 if len(values) < 2**16 else np.int64)

    limit = None if ignore_memory else capacity * (1.0 - space.memory_headroom)

    def run(span: tuple[int, int]) -> _Chunk:
        a, b = span
        chunk, combo = fac.expand(live[a:b], keep[a:b].reshape(-1))
        return _evaluate_chunk(
            ctx, chunk, label[combo], objective=objective, limit=limit, keep_top=keep_top
        )

    chunks = _run_chunks(run, keep.sum(axis=1), len(live))
    over, tight = pruned + sum(c.over for c in chunks), sum(c.tight for c in chunks)
    for reason, count in ((Infeasible.MEMORY, over), (Infeasible.MEMORY_HEADROOM, tight)):
        if count:
            rejected[reason.value] = count
    feasible, pareto = _rank(chunks, objective=objective, keep_top=keep_top)
    return SearchResult(
        candidates=len(fac.rows) * fac.per_row,
        rejected=rejected,
        feasible=feasible,
        feasible_count=sum(c.feasible for c in chunks),
        pareto=pareto,
        elapsed_s=time.perf_counter() - t0,
        memory_capacity_bytes=capacity,
        memory_headroom=space.memory_headroom,
        num_gpus=ctx.cluster.num_gpus,
    )


def _structural_rejections(
    ctx: Context, fac: _Factored, space: SearchSpace
) -> tuple[np.ndarray, dict[str, int]]:
    """Rows that pass every structural rule, and the plans rejected per rule."""
    rows, per_row = fac.rows, fac.per_row
    rejected: dict[str, int] = {}
    alive = np.ones(len(rows), dtype=bool)
    # check_plans reads no recompute / sharding field: a row's verdict holds for each of
    # its per_row plans (tests/test_search.py checks this against the full product).
    for reason, bad in check_plans(ctx.model, ctx.training, ctx.cluster, rows).items():
        if reason is Infeasible.BATCH:
            # the enumerator rounds the batch; reject what is off target
            rel = np.abs(rows.global_batch / ctx.training.global_batch - 1)
            bad = rel > space.batch_tolerance + 1e-12
        newly = bad & alive
        if newly.any():
            rejected[reason.value] = int(newly.sum()) * per_row
        alive &= ~bad
    return alive, rejected


def _evaluate_chunk(
    ctx: Context,
    chunk: PlanBatch,
    group: np.ndarray,
    *,
    objective: str,
    limit: float | None,
    keep_top: int,
) -> _Chunk:
    """Memory, then the step model, of one chunk of plans; keeps its best and its front.
    ``limit``: the memory a plan may use (HBM less the headroom; None: no check)."""
    capacity = ctx.cluster.gpu.hbm_bytes
    # Memory first (cheaper than the step model): only plans that fit are timed.
    memory = memory_breakdown(ctx.model, ctx.training, chunk, ctx.stack, ctx.eff)
    n_over = n_tight = 0
    if limit is not None:
        fits = memory.total <= limit
        n_over = int(np.count_nonzero(memory.total > capacity))
        n_tight = int(fits.size - fits.sum()) - n_over
        if n_over or n_tight:
            idx = np.flatnonzero(fits)
            chunk, group = chunk.take(idx), group[idx]
            memory = MemoryBreakdown(
                **{f.name: getattr(memory, f.name)[idx] for f in fields(memory)}
            )
    steps = evaluate(ctx, chunk, memory=memory)
    key = -(steps.tokens_per_s if objective == "tokens_per_s" else steps.tokens_per_s_per_gpu)
    head = capacity - memory.total
    # The chunk's best and its own front contain every global winner of the chunk.
    local = np.union1d(_smallest(key, keep_top), _pareto(steps.tokens_per_s, head, group))
    return _Chunk(
        over=n_over,
        tight=n_tight,
        feasible=len(key),
        local=local,
        steps=_take_steps(steps, local),
        key=key[local],
        head=head[local],
        group=group[local],
    )


def _run_chunks(run, n_plans: np.ndarray, n_rows: int) -> list[_Chunk]:
    """``run`` over spans of rows holding about equal numbers of plans, in threads."""
    # numpy releases the GIL on large array operations: chunks are expanded and
    # evaluated in threads to use every core (two on a laptop-class machine).
    workers = min(os.cpu_count() or 1, 4)
    n_chunks = max(-(-int(n_plans.sum()) // CHUNK_PLANS), 1)
    if n_plans.sum() >= PARALLEL_MIN_PLANS and workers > 1:
        n_chunks = workers * -(-n_chunks // workers)
    # Row boundaries that split the plans (not the rows) evenly.
    cut = np.searchsorted(np.cumsum(n_plans), np.linspace(0, n_plans.sum(), n_chunks + 1)[1:-1])
    bounds = [0, *(int(c) + 1 for c in cut), n_rows]
    spans = [(a, b) for a, b in itertools.pairwise(bounds) if b > a] or [(0, 0)]
    if len(spans) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(spans))) as pool:
            return list(pool.map(run, spans))
    return [run(spans[0])]


def _rank(
    chunks: list[_Chunk], *, objective: str, keep_top: int
) -> tuple[StepBatch | None, np.ndarray]:
    """The kept plans (best ``keep_top`` and the Pareto front), best first, and the
    positions of the front among them."""
    # Global ranking on the chunks' survivors, in enumeration order (chunks are in
    # order): the same plans, ties broken the same way, as ranking all plans at once.
    steps = _concat_steps([c.steps for c in chunks])
    key = np.concatenate([c.key for c in chunks])
    head = np.concatenate([c.head for c in chunks])
    group = np.concatenate([c.group for c in chunks])
    front = _pareto(-key if objective == "tokens_per_s" else steps.tokens_per_s, head, group)
    # Keep the best plans and the Pareto front; the rest is only counted. Order: by
    # objective, exact ties by memory headroom (of two equally fast plans the one with
    # more free memory is the better: e.g. ZeRO-2 and ZeRO-1 with one micro-batch), then
    # by enumeration order (lexsort is stable).
    kept = np.union1d(_smallest(key, keep_top), front)
    kept = kept[np.lexsort((-head[kept], key[kept]))]
    feasible = _take_steps(steps, kept) if len(kept) else None
    return feasible, np.flatnonzero(np.isin(kept, front))


def _smallest(key: np.ndarray, k: int) -> np.ndarray:
    """Indices (ascending) of the first ``k`` entries of a stable ascending sort of
    ``key``, without sorting it all: everything below the k-th value, then ties at it
    in index order."""
    if len(key) <= k:
        return np.arange(len(key))
    kth = np.partition(key, k - 1)[k - 1]
    below = np.flatnonzero(key < kth)
    ties = np.flatnonzero(key == kth)[: k - len(below)]
    return np.sort(np.concatenate([below, ties]))


def _concat_steps(parts: list[StepBatch]) -> StepBatch:
    kw = {}
    for f in fields(parts[0]):
        vals = [getattr(p, f.name) for p in parts]
        if isinstance(vals[0], np.ndarray):
            kw[f.name] = np.concatenate(vals)
        elif isinstance(vals[0], PlanBatch):
            kw[f.name] = PlanBatch(
                **{
                    g.name: np.concatenate([getattr(v, g.name) for v in vals])
                    for g in fields(vals[0])
                }
            )
        elif isinstance(vals[0], MemoryBreakdown):
            kw[f.name] = MemoryBreakdown(
                **{
                    g.name: np.concatenate([getattr(v, g.name) for v in vals])
                    for g in fields(vals[0])
                }
            )
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


def stack_space(space: SearchSpace, stack: StackProfile) -> SearchSpace:
    """``space`` narrowed to what the software stack can run: parallel dimensions it
    lacks stay at 1 and only its sharding and recompute modes are enumerated. Values the space names
    explicitly are kept (a published plan is what its stack ran)."""
    fixed = {
        d: (1,)
        for d in ("tp", "pp", "cp", "ep")
        if d not in stack.parallel_dims and getattr(space, d) is None
    }
    if space.sharding is None:
        fixed["sharding"] = tuple(Sharding[m.upper()] for m in stack.sharding)
    if space.recompute is None:
        fixed["recompute"] = tuple(Recompute[m.upper()] for m in stack.recompute_modes)
    return replace(space, **fixed) if fixed else space


def plan_search(ctx: Context, space: SearchSpace, *, ignore_memory: bool = False) -> SearchResult:
    """Every plan of ``space`` that the context's software stack can run, searched."""
    space = stack_space(space, ctx.stack)
    return search(ctx, space, ignore_memory=ignore_memory)
