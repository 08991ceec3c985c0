"""The Pareto front of searched plans: tokens/s up, memory headroom up, GPUs used down."""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_front"]


def pareto_front(tps: np.ndarray, head: np.ndarray, gpus: np.ndarray) -> np.ndarray:
    """Indices of plans not dominated on (tokens/s max, headroom max, GPUs used min);
    of plans equal on all three, the first. ``gpus`` may be any order-preserving
    relabelling of the GPU counts (small unsigned labels sort fastest).

    Two passes. (1) A superset of the front, vectorised: within each GPU count, plans in
    descending tokens/s whose headroom is >= that of every faster plan of the group (a
    front plan always is). Sorting by GPU count after an unstable sort by tokens/s uses a
    radix sort on small group labels; offsetting each group's headroom by a constant
    larger than the headroom range lets one global running maximum work per group.
    (2) On that small superset, exactly: in (tokens/s, headroom) descending order, GPUs
    ascending, index order, plan i is dominated iff an earlier plan uses no more GPUs
    and has at least its headroom: one running maximum per distinct GPU count.
    """
    if len(tps) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-tps)
    order = order[np.argsort(gpus[order], kind="stable")]
    g = gpus[order]
    new_group = np.concatenate(([True], g[1:] != g[:-1]))
    span = float(head.max() - head.min()) + 1.0
    shifted = head[order] - head.min() + g * span
    prev = np.concatenate(([-np.inf], np.maximum.accumulate(shifted)[:-1]))
    cand = np.sort(order[new_group | (shifted >= prev)])
    # pass 2 on the candidates
    sub = cand[np.lexsort((gpus[cand], -head[cand], -tps[cand]))]
    h, gs = head[sub], gpus[sub]
    on_front = np.zeros(len(sub), dtype=bool)
    for gv in np.unique(gs):
        masked = np.where(gs <= gv, h, -np.inf)
        prev_max = np.concatenate(([-np.inf], np.maximum.accumulate(masked)[:-1]))
        sel = gs == gv
        on_front[sel] = h[sel] > prev_max[sel]
    return np.sort(sub[on_front])
