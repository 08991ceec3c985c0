"""Memory headroom: the search rejects plans that leave less than the scenario's share of
HBM free (their own reason), a fixed plan above it is warned about, and the default is
catalog data with a source."""

from __future__ import annotations

import json

import numpy as np

from colossim import load_scenario, run_scenario
from colossim.catalog import load_catalog
from colossim.cluster import cluster_for
from colossim.hardware import gpu
from colossim.parallel.plan import Infeasible, Recompute, Sharding
from colossim.perf.estimate import context
from colossim.search import SearchSpace, search
from colossim.workload.model import preset
from colossim.workload.training import Training
from helpers import cli, cli_json


def _ctx():
    return context(
        preset("llama3-70b"),
        Training(seq_len=8192, global_batch=128, tokens=1e12, precision="bf16", framework="megatron"),
        cluster_for(gpu("h100-sxm-80gb"), 256),
    )  # fmt: skip


def _pinned(plans, i: int, headroom: float) -> SearchSpace:
    """A search space holding only plan ``i`` of ``plans``."""
    return SearchSpace(
        tp=(int(plans.tp[i]),), pp=(int(plans.pp[i]),), dp=int(plans.dp[i]), cp=(int(plans.cp[i]),),
        ep=(int(plans.ep[i]),), vp=(int(plans.vp[i]),), micro_batch=(int(plans.micro_batch[i]),),
        recompute=(Recompute(int(plans.recompute[i])),), sharding=(Sharding(int(plans.sharding[i])),),
        memory_headroom=headroom,
    )  # fmt: skip


def test_plan_that_fits_at_zero_headroom_is_rejected_at_ten_percent() -> None:
    ctx = _ctx()
    hbm = ctx.cluster.gpu.hbm_bytes
    every = search(ctx, SearchSpace(), keep_top=10**9)
    share = every.feasible.memory.total / hbm
    tight = np.flatnonzero((share > 0.9) & (share <= 1.0))
    assert len(tight), "the case needs a plan between 90% and 100% of HBM"
    i = int(tight[0])
    fits = search(ctx, _pinned(every.feasible.plans, i, 0.0))
    assert fits.feasible_count == 1 and not fits.rejected
    kept = search(ctx, _pinned(every.feasible.plans, i, 0.1))
    assert kept.feasible is None and kept.feasible_count == 0
    assert kept.rejected == {Infeasible.MEMORY_HEADROOM.value: 1}
    # A plan above HBM stays a plain memory rejection, whatever the headroom.
    over = search(ctx, SearchSpace(memory_headroom=0.1))
    none = search(ctx, SearchSpace())
    assert over.rejected[Infeasible.MEMORY.value] == none.rejected[Infeasible.MEMORY.value]
    assert over.rejected[Infeasible.MEMORY_HEADROOM.value] == int(np.count_nonzero(share > 0.9))


def test_search_keeps_every_plan_within_the_headroom() -> None:
    out = cli_json("plan", "--set", "search.memory_headroom=0.6")
    assert out["search"]["memory_headroom"] == 0.6
    assert out["search"]["rejected"][Infeasible.MEMORY_HEADROOM.value] > 0
    assert out["memory_per_gpu_bytes"] <= 0.4 * out["memory_capacity_bytes"]
    top = cli_json("search", "--set", "search.memory_headroom=0.6")
    assert top["top"] and all(
        p["memory_per_gpu_bytes"] <= 0.4 * out["memory_capacity_bytes"] for p in top["top"]
    )


def test_default_headroom_is_catalog_data_with_a_source() -> None:
    entry = load_catalog("efficiency")["global"]
    default = entry.values["memory_headroom"]
    assert 0 < default < 0.5
    assert "GMLAKE-2024" in entry.source_of("memory_headroom")
    r = run_scenario(None, campaign=False)
    assert r.memory_headroom.share == default
    assert r.search_space.memory_headroom == default
    assert r.search.memory_headroom == default
    set_ = run_scenario(load_scenario(None, overrides=["search.memory_headroom=0.25"]))
    assert (
        set_.memory_headroom.share == 0.25
        and set_.memory_headroom.field == "search.memory_headroom"
    )


def test_fixed_plan_above_the_headroom_is_warned_naming_the_field() -> None:
    r = run_scenario("llama3-405b-16k-h100", campaign=False)
    use = r.estimate.memory_per_gpu_bytes / r.estimate.memory_capacity_bytes
    assert r.estimate.fits and not any("headroom" in w for w in r.warnings())
    # A margin that the plan's use does not leave free: warned, naming the setting.
    margin = round(1.0 - use + 0.05, 2)
    tight = run_scenario(
        load_scenario("llama3-405b-16k-h100", overrides=[f"plan.memory_headroom={margin}"]),
        campaign=False,
    )
    tight.estimate  # noqa: B018
    warned = [w for w in tight.warnings() if "headroom" in w]
    assert warned and "plan.memory_headroom" in warned[0]


def test_headroom_out_of_range_exits_2_naming_the_field() -> None:
    for value in ("1", "-0.1", "nan", "inf"):
        res = cli("plan", "--set", f"search.memory_headroom={value}", "--format", "json")
        assert res.exit_code == 2, (value, res.output)
        assert "search.memory_headroom" in json.dumps(json.loads(res.stdout))
