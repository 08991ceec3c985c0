"""`colossim campaign` end to end: the Llama 3
example against the published 54-day figures, determinism and spread, the default scenario,
bad input, the bounded default trial count, the example timeline and the default spare pool."""

from __future__ import annotations

import collections
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import colossim
from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    CheckpointCosts,
    GapEnd,
    IntervalPolicy,
    SparePolicy,
    reference_case_config,
    simulate_campaign,
    spare_nodes_for_coverage,
    trial_timeline,
)
from colossim.cli.main import main
from colossim.errors import InputError
from colossim.scenario.reliability import ReliabilitySection
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

LLAMA = str(Path(colossim.__file__).parent / "examples" / "llama3-405b-16k-h100.yaml")
KEYS = ("goodput", "interruptions_mean", "time_to_train_days_p50", "checkpoint_interval_s")
HOUR = SECONDS_PER_HOUR
Z = 4.0  # confidence-interval half-width in standard errors


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_json(*args: str) -> dict:
    res = run("campaign", *args, "--format", "json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return obj is not None


@pytest.fixture(scope="module")
def llama() -> dict:
    return run_json(LLAMA)


# ------------------------------- Llama 3 (Dubey et al. 2024, arXiv:2407.21783, sec. 3.3.4)


def test_llama3_example_reproduces_the_54_day_snapshot(llama: dict) -> None:
    assert llama["mode"] == "window" and llama["num_gpus"] == 16_384
    assert llama["unexpected_interruptions_mean"] == pytest.approx(419, rel=0.10)
    assert llama["planned_interruptions_mean"] == pytest.approx(47, rel=0.15)
    assert 0.85 <= llama["effective_training_time"] <= 0.95
    assert llama["interruptions_by_cause"]["faulty_gpu"] == pytest.approx(148, rel=0.10)
    # The fixed Llama 3 layout is the steady state, on every GPU.
    plan = llama["steady_state"]["plan"]
    assert (plan["tp"], plan["cp"], plan["pp"], plan["dp"]) == (8, 1, 16, 128)
    assert llama["steady_state"]["num_gpus_used"] == 16_384
    assert _finite(llama)


def test_same_seed_same_json_and_other_seeds_spread(llama: dict) -> None:
    again = run_json(LLAMA)
    assert again == llama
    other = run_json(LLAMA, "--seed", "7")
    assert other["seed"] == 7 and llama["seed"] == 2024
    assert other["interruptions_mean"] != llama["interruptions_mean"]
    assert other["goodput"] != llama["goodput"]
    for out in (llama, other):
        assert out["interruptions_stderr"] > 0 and out["goodput_stderr"] > 0
        assert out["interruptions_p10"] < out["interruptions_p90"]
        assert out["goodput_p10"] < out["goodput_p90"]
    # The two means differ by about the reported standard errors (seed-to-seed spread).
    spread = math.hypot(llama["interruptions_stderr"], other["interruptions_stderr"])
    assert abs(llama["interruptions_mean"] - other["interruptions_mean"]) < Z * spread


def test_trials_option_and_text_output() -> None:
    out = run_json(LLAMA, "--trials", "40", "--set", "reliability.window_days=10")
    assert out["n_trials"] == 40 and out["wall_days_mean"] == pytest.approx(10.0)
    res = run("campaign", LLAMA, "--trials", "40")
    assert res.exit_code == 0
    for text in ("goodput", "best checkpoint interval", "faulty gpu", "Steady state"):
        assert text in res.stdout


# ---------------------------------------------------------------- default scenario


def test_default_scenario_runs_with_finite_json() -> None:
    out = run_json()
    assert out["scenario"] == "colossus-100k-grok1" and out["mode"] == "to_train"
    for key in KEYS:
        assert key in out and math.isfinite(out[key])
    assert _finite(out)
    assert out["fraction_finished"] == 1.0
    assert 0.0 < out["goodput"] < 1.0
    assert out["time_to_train_days_p10"] <= out["time_to_train_days_p50"]
    assert out["time_to_train_days_p50"] <= out["time_to_train_days_p90"]
    # Time to train is at least the failure-free time.
    assert out["time_to_train_days_p10"] >= out["steady_state"]["days_to_train_no_failures"]
    assert out["spare_nodes"] > 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("reliability.restart_min=-5", "reliability.restart_min"),
        ("reliability.restart_mins=5", "did you mean 'restart_min'"),
        ("reliability.checkpoint_policy=often", "reliability.checkpoint_policy"),
        ("reliability.spare_coverage=1.5", "reliability.spare_coverage"),
    ],
)
def test_bad_reliability_field_exits_2_naming_it(setting: str, named: str) -> None:
    res = run("campaign", LLAMA, "--set", setting)
    assert res.exit_code == 2
    assert named in res.stderr
    assert "Traceback" not in res.output


def test_bad_trials_and_seed_are_usage_errors() -> None:
    assert run("campaign", LLAMA, "--trials", "0").exit_code == 2
    assert run("campaign", LLAMA, "--seed", "-1").exit_code == 2


# ---------------------------------------------------------------- timeline vs Monte Carlo


def _tight_spares_config(policy: SparePolicy, seed: int) -> CampaignConfig:
    return CampaignConfig(
        tokens=60 * HOUR,
        tokens_per_s=1.0,
        num_gpus=64 * 8,
        gpus_per_node=8,
        causes=(
            CauseRate(name="gpu", category="gpu", rate_per_s=1 / (2 * HOUR), replaces_node=True),
            CauseRate(name="sw", category="software", rate_per_s=1 / (6 * HOUR)),
            CauseRate(name="pm", category="planned", rate_per_s=1 / (12 * HOUR), planned=True),
        ),
        detection_s=60.0,
        restart_s=300.0,
        repair_s=8 * HOUR,
        planned_downtime_s=300.0,
        checkpoint=CheckpointCosts(
            write_s=30.0, blocking_s=30.0, durable_lag_s=0.0, restore_s=60.0
        ),
        interval_policy=IntervalPolicy.FIXED,
        fixed_interval_s=1200.0,
        spare_nodes=4,
        spare_policy=policy,
        n_trials=2000,
        seed=seed,
    )


@pytest.mark.parametrize("policy", [SparePolicy.WAIT, SparePolicy.SHRINK])
def test_timeline_trials_follow_the_monte_carlo_distribution(policy: SparePolicy) -> None:
    cfg = _tight_spares_config(policy, seed=1)
    mc = simulate_campaign(cfg)
    walls = np.array([trial_timeline(dataclasses.replace(cfg, seed=s)).wall_s for s in range(300)])
    err = math.hypot(
        mc.time_to_train_days_stderr * SECONDS_PER_DAY, walls.std(ddof=1) / math.sqrt(300)
    )
    assert abs(walls.mean() - mc.time_to_train_days_mean * SECONDS_PER_DAY) < Z * err


def test_timeline_window_counts_and_determinism() -> None:
    cfg = reference_case_config(n_trials=1, seed=4)
    a, b = trial_timeline(cfg), trial_timeline(cfg)
    np.testing.assert_array_equal(a.end_s, b.end_s)
    assert a.wall_s == pytest.approx(54 * SECONDS_PER_DAY) and not a.finished
    counts = collections.Counter(a.ends)
    unexpected = counts[GapEnd.NODE_FAILURE] + counts[GapEnd.OTHER_FAILURE]
    assert abs(unexpected - 419) < 5 * math.sqrt(419)  # one Poisson draw
    cut = trial_timeline(cfg, max_gaps=10)
    assert cut.truncated and len(cut.ends) == 10
    with pytest.raises(InputError, match="max_gaps"):
        trial_timeline(cfg, max_gaps=0)


# ---------------------------------------------------------------- default spare pool


@settings(max_examples=40, deadline=None)
@given(
    mean=st.floats(min_value=0.01, max_value=2000.0),
    coverage=st.floats(min_value=0.5, max_value=0.9999),
)
def test_spare_pool_is_the_poisson_quantile(mean: float, coverage: float) -> None:
    k = spare_nodes_for_coverage(node_rate_per_s=mean / 1000.0, repair_s=1000.0, coverage=coverage)

    def cdf(n: int) -> float:  # Poisson cdf, summed in log space
        terms = [math.exp(i * math.log(mean) - mean - math.lgamma(i + 1)) for i in range(n + 1)]
        return math.fsum(terms)

    assert cdf(k) >= coverage - 1e-9
    assert k == 0 or cdf(k - 1) < coverage + 1e-9
    more = spare_nodes_for_coverage(
        node_rate_per_s=mean / 1000.0, repair_s=1000.0, coverage=min(coverage + 0.0001, 0.99999)
    )
    assert more >= k


def test_section_default_spares_cover_repairs_and_add_idle_nodes() -> None:
    kwargs = {"num_gpus": 99_840, "gpus_per_node": 8, "tokens": 1e12, "tokens_per_s": 1e6}
    cfg = ReliabilitySection().to_config(**kwargs, params=3e11)
    node_rate = sum(c.rate_per_s for c in cfg.causes if c.replaces_node and not c.planned)
    mean = node_rate * cfg.repair_s
    assert mean < cfg.spare_nodes < mean + 6 * math.sqrt(mean)
    with_idle = ReliabilitySection().to_config(**kwargs, params=3e11, idle_nodes=20)
    assert with_idle.spare_nodes == cfg.spare_nodes + 20
    fixed = ReliabilitySection(spare_nodes=3).to_config(**kwargs, params=3e11)
    assert fixed.spare_nodes == 3
    # With the sized pool, the 100k-GPU job finishes; with none it barely progresses.
    fast = simulate_campaign(dataclasses.replace(cfg, n_trials=50))
    assert fast.fraction_finished == 1.0 and fast.goodput > 0.5
    with pytest.raises(InputError, match="spare_coverage"):
        spare_nodes_for_coverage(node_rate_per_s=1.0, repair_s=1.0, coverage=1.0)


# ---------------------------------------------------------------- recovery fields and sweeps


def test_recovery_fields_work_through_set() -> None:
    out = run_json(
        LLAMA,
        "--trials",
        "40",
        "--set",
        "reliability.failures_per_1000_node_days=4",
        "--set",
        "reliability.detection_min=1",
        "--set",
        "reliability.restart_min=2",
        "--set",
        "reliability.checkpoint_write_s=240",
        "--set",
        "reliability.recovery_policy=hot_spare",
        "--set",
        "reliability.partial_restart=true",
    )
    # 4 per 1,000 node-days on 2,048 nodes for 54 days: 442 unexpected interruptions.
    assert abs(out["unexpected_interruptions_mean"] - 4 * 2048 * 54 / 1000) < 10
    rec = out["recovery"]
    assert rec["policy"] == "hot_spare" and rec["partial_restart"] is True
    assert rec["node_failure_stop_s"] == pytest.approx(60 + 120 + 10)
    assert rec["other_failure_stop_s"] == pytest.approx(60 + 60 + 10)
    assert out["checkpoint_blocking_s"] == pytest.approx(240.0)
    assert _finite(out)


@pytest.mark.parametrize(
    "setting",
    [
        "reliability.failures_per_1000_node_days=-1",
        "reliability.failures_per_1000_node_days=nan",
        "reliability.detection_min=1e9",
        "reliability.restart_min=-2",
        "reliability.checkpoint_write_s=0",
        "reliability.recovery_policy=pray",
    ],
)
def test_bad_recovery_field_exits_2_naming_it(setting: str) -> None:
    res = run("campaign", LLAMA, "--set", setting)
    assert res.exit_code == 2
    assert setting.split("=")[0] in res.stderr
    assert "Traceback" not in res.output


def test_scale_sweep_and_sensitivity_json() -> None:
    args = (LLAMA, "--trials", "20", "--scale-sweep", "--sensitivity", "--seed", "3")
    out = run_json(*args)
    sw = out["scale_sweep"]
    assert sw["num_gpus"][0] == 10_000 and sw["num_gpus"][-1] == 1_000_000
    full, elastic = sw["goodput"]["full restart"], sw["goodput"]["elastic DP + partial restart"]
    assert all(a > b for a, b in zip(full, full[1:], strict=False))  # worse with scale
    assert all(e > f for e, f in zip(elastic, full, strict=True))
    det = out["sensitivity"]["inputs"]["detection_s"]["goodput"]
    assert det[0] > det[-1]  # slower detection, lower goodput
    assert run_json(*args) == out  # same seed, same JSON


def test_elastic_dp_does_not_warn_about_short_spares() -> None:
    base = ("--trials", "20", "--set", "reliability.spare_nodes=0")
    wait = run_json(LLAMA, *base)
    elastic = run_json(LLAMA, *base, "--set", "reliability.recovery_policy=elastic_dp")
    assert any("in repair" in w for w in wait["warnings"])
    assert not any("in repair" in w for w in elastic["warnings"])
    assert elastic["goodput"] > wait["goodput"]
