"""Every plan a scenario's search evaluated, as columns (``colossim search --export``):
the search run again keeping every feasible plan instead of the best 1,000 and the
Pareto front, as Calculon's all-executions output does."""

from __future__ import annotations

import sys

import numpy as np

from colossim.parallel.plan import Recompute, Sharding
from colossim.pipeline import NoFeasiblePlan, ScenarioResults
from colossim.search import search, stack_space

__all__ = ["every_plan"]


def every_plan(r: ScenarioResults) -> tuple[dict[str, np.ndarray], dict]:
    """Columns of every feasible (hence evaluated) plan of ``r``'s search, best first,
    and a summary (candidates, feasible, rejected by reason).

    Raises:
        NoFeasiblePlan: no plan fits.
    """
    ctx = r.ctx
    res = search(ctx, stack_space(r.search_space, ctx.stack), keep_top=sys.maxsize)  # all
    if res.feasible is None:
        raise NoFeasiblePlan(res)
    s, p = res.feasible, res.feasible.plans
    on_front = np.zeros(len(s), dtype=bool)
    on_front[res.pareto] = True
    names_rc = np.array([m.name.lower() for m in Recompute])
    names_sh = np.array([m.name.lower() for m in Sharding])
    cols: dict[str, np.ndarray] = {"rank": np.arange(1, len(s) + 1)}
    for k in ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "global_batch"):
        cols[k] = getattr(p, k)
    cols["recompute"] = names_rc[p.recompute]
    cols["sharding"] = names_sh[p.sharding]
    cols["num_gpus_used"] = p.num_gpus
    for k in ("step_time_s", "tokens_per_s", "tokens_per_s_per_gpu", "mfu", "hfu"):
        cols[k] = getattr(s, k)
    cols["memory_per_gpu_bytes"] = s.memory.total
    for k in ("compute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s", "pp_comm_s", "bubble_s"):
        cols[k] = getattr(s, k)
    cols["dp_comm_s"] = s.dp_comm_s
    cols["on_pareto_front"] = on_front
    summary = {
        "candidates": res.candidates,
        "feasible": res.feasible_count,
        "rejected": res.rejected,
        "elapsed_s": res.elapsed_s,
    }
    return cols, summary
