"""The one scenario pipeline (colossim.run_scenario): stages computed once, the same
figures in every command, campaign configuration from the scenario."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import colossim
from colossim import load_scenario, run_scenario
from colossim.campaign import GapEnd, expected_interruptions_to_simulate
from colossim.errors import InputError
from colossim.pipeline import DEFAULT_INTERRUPTION_BUDGET, MIN_DEFAULT_TRIALS, NoFeasiblePlan
from colossim.report.campaign import timeline_to_json
from helpers import cli_json

EXAMPLES = sorted((Path(colossim.__file__).parent / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def default_run():
    r = run_scenario(None)
    r.estimate  # noqa: B018
    return r


def test_public_api_runs_the_default_scenario(default_run) -> None:
    r = default_run
    assert r.plan is None and r.plan_source == "search"
    assert r.estimate is r.top[0]
    assert r.fabric is r.ctx.fabric
    assert r.cost.capex_usd > 0 and np.isfinite(r.cost.usd_per_gpu_hour)


def test_each_stage_is_computed_once(default_run, monkeypatch) -> None:
    import colossim.pipeline.results as pipeline

    calls = []
    real = pipeline.simulate_facility

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "simulate_facility", counting)
    r = run_scenario(load_scenario(None))
    for _ in range(3):
        r.cost  # noqa: B018
        r.facility  # noqa: B018
    assert len(calls) == 1


def test_fixed_plan_runs_no_search(monkeypatch) -> None:
    import colossim.pipeline.results as pipeline

    def boom(*a, **k):
        raise AssertionError("searched a fixed plan")

    monkeypatch.setattr(pipeline, "plan_search", boom)
    r = run_scenario(str(Path(colossim.__file__).parent / "examples" / "llama3-405b-16k-h100.yaml"))
    assert r.plan is not None and r.plan_source == "scenario"
    assert r.estimate.plan == r.plan


def test_no_feasible_plan_is_a_typed_outcome() -> None:
    loaded = load_scenario(None, overrides=["cluster.num_gpus=8", "workload.model=gpt3-175b"])
    with pytest.raises(NoFeasiblePlan) as exc:
        run_scenario(loaded).estimate  # noqa: B018
    assert exc.value.payload["candidates"] >= 0


@pytest.mark.parametrize("trials,seed", [(0, None), (None, -1), (True, None)])
def test_bad_trials_and_seed(trials, seed) -> None:
    with pytest.raises(InputError):
        run_scenario(None, trials=trials, seed=seed)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_capex_agrees_across_plan_cost_compare_report(path: Path, tmp_path: Path) -> None:
    """One pipeline: plan, cost, compare and report print the same capex (batteries
    included) for the same scenario."""
    r = run_scenario(str(path), campaign=False)
    expected = r.cost.capex_usd
    assert r.cost.capex_usd >= r.fabric.cost_usd
    plan = cli_json("plan", str(path))
    cost = cli_json("cost", str(path))
    compare = cli_json("compare", str(path), "--no-campaign")
    rep = tmp_path / "r.html"
    cli_json("report", str(path), "--no-campaign", "-o", str(rep))
    assert plan["facility"]["capex_usd"] == pytest.approx(expected, rel=1e-12)
    assert cost["capex_usd"] == pytest.approx(expected, rel=1e-12)
    assert compare[0]["capex_usd"] == pytest.approx(expected, rel=1e-12)
    page = rep.read_text(encoding="utf-8")
    assert f"{expected / 1e6:,.0f}" in page or f"{expected / 1e9:,.2f}" in page
    if r.facility.battery_units:
        battery = [i for i in cost["breakdown"] if "batter" in i["item"].lower()]
        assert battery and battery[0]["capex_usd"] > 0


# ---------------------------------------------------------------- campaign configuration


def test_campaign_config_uses_plan_and_bounds_default_trials(default_run) -> None:
    r = default_run
    sc, est = r.scenario, r.estimate
    cfg = r.campaign_config
    assert cfg.tokens_per_s == est.tokens_per_s and cfg.num_gpus % cfg.gpus_per_node == 0
    assert cfg.num_gpus >= est.num_gpus_used
    assert cfg.n_trials == sc.reliability.trials  # cheap enough: the default is kept
    assert run_scenario(r.loaded, trials=5, seed=9).campaign_config.n_trials == 5
    # No spares at 100k GPUs: ~72 nodes in repair, the job mostly waits for repairs and
    # each trial runs to the 10-year horizon; the default trial count is lowered.
    starved_run = run_scenario(load_scenario(None, overrides=["reliability.spare_nodes=0"]))
    starved = starved_run.campaign_config
    assert MIN_DEFAULT_TRIALS <= starved.n_trials < sc.reliability.trials
    per_trial = expected_interruptions_to_simulate(dataclasses.replace(starved, n_trials=1), 100.0)
    assert per_trial == pytest.approx(sum(c.rate_per_s for c in starved.causes) * starved.horizon_s)
    assert starved.n_trials * per_trial <= max(
        DEFAULT_INTERRUPTION_BUDGET, MIN_DEFAULT_TRIALS * per_trial
    )
    # An explicit trial count is obeyed.
    explicit = run_scenario(starved_run.loaded, trials=1000).campaign_config
    assert explicit.n_trials == 1000


def test_campaign_attaches_a_consistent_timeline(default_run) -> None:
    r = run_scenario(default_run.loaded, trials=50, seed=5)
    tl = r.campaign.timeline
    assert tl is not None and tl.finished and not tl.truncated
    # Gaps tile the wall clock; each is down, then kept + checkpoint + lost.
    np.testing.assert_allclose(tl.start_s[1:], tl.end_s[:-1])
    down = tl.up_s - tl.start_s
    assert np.all(down >= 0)
    np.testing.assert_allclose(
        down + tl.kept_s + tl.checkpoint_s + tl.lost_s, tl.end_s - tl.start_s, atol=1e-6
    )
    # It trains exactly the scenario's work, and ends when that is done.
    work = r.scenario.workload.tokens / r.estimate.tokens_per_s
    assert tl.work_s[-1] == pytest.approx(work, rel=1e-9)
    assert tl.ends[-1] is GapEnd.END and tl.wall_s == tl.end_s[-1]
    out = timeline_to_json(tl)
    json.dumps(out, allow_nan=False)
    assert len(out["gaps"]["end"]) == len(tl.ends)


def test_campaign_limit_skips_with_a_note(default_run) -> None:
    r = run_scenario(default_run.loaded, campaign_limit=1.0)
    assert r.campaign is None and "campaign skipped" in r.campaign_note
    off = run_scenario(default_run.loaded, campaign=False)
    assert off.campaign is None and "--no-campaign" in off.campaign_note


def test_implausible_results_carry_warnings() -> None:
    ok = run_scenario(None)
    ok.estimate  # noqa: B018
    assert ok.warnings() == []
    tiny_seq = run_scenario(load_scenario(None, overrides=["workload.seq_len=1"]))
    tiny_seq.estimate  # noqa: B018
    assert any("MFU" in w for w in tiny_seq.warnings())
    from colossim.pipeline.sanity import estimate_warnings

    def _estimate_warnings(est, ctx):
        return estimate_warnings(est, ctx, headroom=ok.memory_headroom)

    est = ok.estimate
    n = ok.ctx.cluster.num_gpus
    idle = dataclasses.replace(est, idle_gpus=n // 3)
    assert any("sit idle" in w for w in _estimate_warnings(idle, ok.ctx))
    full = dataclasses.replace(est, memory_per_gpu_bytes=0.97 * est.memory_capacity_bytes)
    assert any("headroom" in w for w in _estimate_warnings(full, ok.ctx))
    over = dataclasses.replace(
        est, memory_per_gpu_bytes=1.2 * est.memory_capacity_bytes, fits=False
    )
    assert any("does not fit" in w for w in _estimate_warnings(over, ok.ctx))


def test_warnings_never_run_a_stage(monkeypatch) -> None:
    import colossim.pipeline.results as pipeline

    monkeypatch.setattr(pipeline, "plan_search", lambda *a, **k: pytest.fail("searched"))
    assert run_scenario(None).warnings() == []


def test_cli_json_lists_warnings() -> None:
    out = cli_json("estimate", "--set", "workload.seq_len=1")
    assert any("MFU" in w for w in out["warnings"])
    clean = cli_json("plan")
    assert clean["warnings"] == []


@pytest.mark.parametrize("name", ["colossus-100k-h100", "llama3-405b-16k-h100"])
def test_plan_shows_days_with_failures(name: str) -> None:
    r = run_scenario(name)
    wf = r.with_failures
    assert wf is not None and 0 < wf.goodput <= 1
    # Failures only ever add wall-clock time.
    assert wf.days >= r.estimate.days_to_train
    assert wf.days_p10 <= wf.days <= wf.days_p90
    out = cli_json("plan", name)["with_failures"]
    assert out["days_to_train"] == pytest.approx(wf.days, rel=1e-9)
    assert out["goodput"] == pytest.approx(wf.goodput, rel=1e-9)


def test_cost_prices_the_run_with_failures_and_says_so() -> None:
    out = cli_json("cost")
    assert out["run_days_basis"] == "with failures"
    assert out["usd_per_run"] > out["usd_per_run_failure_free"] > 0
    r = run_scenario(None)
    assert out["run_days"] == pytest.approx(r.with_failures.days, rel=1e-9)
    off = run_scenario(None, campaign=False)
    assert off.run_days_basis == "failure-free"
    assert off.cost.usd_per_run == pytest.approx(off.usd_per_run_failure_free, rel=1e-12)
    assert off.cost.capex_usd == pytest.approx(r.cost.capex_usd, rel=1e-12)


def test_power_trace_sees_the_campaigns_outages() -> None:
    r = run_scenario(None)
    outages = r.campaign.outages_s
    inside = outages[outages[:, 0] < r.facility.trace.duration_s]
    assert len(inside) > 0  # the default scenario is interrupted every ~30 minutes
    quiet = run_scenario(None, campaign=False).facility
    # Down time draws idle power: the trace with outages uses less energy.
    assert r.facility.trace.energy_j < quiet.trace.energy_j
    assert cli_json("power")["campaign_outages_in_trace"] is True
