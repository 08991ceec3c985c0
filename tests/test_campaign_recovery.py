"""Recovery policies (campaign/recovery.py and their use by the engine, the timeline and the
scenario section): each policy against its closed form within a confidence interval,
stragglers against the M/G/infinity occupancy, the new scenario fields, determinism."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from pydantic import ValidationError

from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    CheckpointCosts,
    IntervalPolicy,
    simulate_campaign,
    trial_timeline,
)
from colossim.campaign.recovery import (
    RecoveryDesign,
    RecoveryPolicy,
    fixed_loss_goodput,
    straggler_throughput_factor,
)
from colossim.errors import InputError
from colossim.scenario.reliability import ReliabilitySection
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

HOUR = SECONDS_PER_HOUR
Z = 4.0  # confidence-interval half-width in standard errors
NODE_RATE = 1.0 / (0.5 * HOUR)  # node-replacing failures of the job, 1/s
OTHER_RATE = 1.0 / (1.5 * HOUR)  # in-place (software) failures, 1/s
WINDOW_S = 40 * SECONDS_PER_DAY


def policy_config(design: RecoveryDesign, *, n_trials: int = 400, seed: int = 3) -> CampaignConfig:
    """Two kinds of failure, no planned maintenance, plenty of spares, and a persistent
    checkpoint interval so long that no checkpoint is ever written: the closed form of
    :func:`fixed_loss_goodput` applies exactly (up to the window's boundary)."""
    return CampaignConfig(
        tokens=1.0,
        tokens_per_s=1.0,
        num_gpus=1024,
        gpus_per_node=8,
        causes=(
            CauseRate(name="gpu", category="gpu", rate_per_s=NODE_RATE, replaces_node=True),
            CauseRate(name="sw", category="software", rate_per_s=OTHER_RATE),
        ),
        detection_s=60.0,
        restart_s=300.0,
        repair_s=HOUR,
        checkpoint=CheckpointCosts(
            write_s=100.0, blocking_s=100.0, durable_lag_s=0.0, restore_s=200.0
        ),
        interval_policy=IntervalPolicy.FIXED,
        fixed_interval_s=1e12,
        spare_nodes=1000,
        window_s=WINDOW_S,
        n_trials=n_trials,
        seed=seed,
        recovery=design,
    )


def closed_form(cfg: CampaignConfig) -> float:
    c = cfg.interruption_costs
    return fixed_loss_goodput(
        rates_per_s=np.array([cfg.node_replacing_rate_per_s, cfg.other_unplanned_rate_per_s]),
        stop_s=np.array([c.node_stop_s, c.other_stop_s]),
        max_loss_s=np.array([c.node_max_loss_s, c.other_max_loss_s]),
        debt_s=np.array([c.node_debt_s, 0.0]),
        speed=cfg.speed_factor,
    )


HOT = RecoveryDesign(policy=RecoveryPolicy.HOT_SPARE, hot_swap_s=90.0, snapshot_interval_s=40.0)
ELASTIC = RecoveryDesign(
    policy=RecoveryPolicy.ELASTIC_DP,
    elastic_reconfigure_s=20.0,
    elastic_rejoin_s=2 * HOUR,
    replica_gpus=64,
    snapshot_interval_s=20.0,
)
PARTIAL = RecoveryDesign(policy=RecoveryPolicy.HOT_SPARE, partial_restart=True)
STRAGGLY = dataclasses.replace(
    ELASTIC,
    partial_restart=True,
    straggler_rate_per_s=1.0 / HOUR,
    straggler_slowdown=1.5,
    straggler_detect_s=600.0,
)


@pytest.mark.parametrize("design", [HOT, ELASTIC, PARTIAL, STRAGGLY], ids=str)
def test_each_policy_matches_its_closed_form(design: RecoveryDesign) -> None:
    cfg = policy_config(design)
    r = simulate_campaign(cfg)
    expected = closed_form(cfg)
    # The first gap starts up (no stop owed): a bias of at most one stop per window.
    boundary = max(cfg.interruption_costs.node_stop_s, cfg.interruption_costs.other_stop_s)
    assert abs(r.goodput - expected) < Z * r.goodput_stderr + boundary / WINDOW_S
    assert r.goodput_stderr < 0.002


def test_closed_form_by_hand_and_policies_order() -> None:
    # One kind, stop S, loss L, debt D: exp(-lambda (S + L)) - lambda D.
    g = fixed_loss_goodput(
        rates_per_s=np.array([0.01]),
        stop_s=np.array([10.0]),
        max_loss_s=np.array([5.0]),
        debt_s=np.array([2.0]),
    )
    assert g == pytest.approx(math.exp(-0.15) - 0.02)
    full = simulate_campaign(policy_config(RecoveryDesign(), n_trials=50)).goodput
    assert full < 0.05  # no checkpoint ever written: a full restart keeps almost nothing
    goodputs = [simulate_campaign(policy_config(d, n_trials=50)).goodput for d in (HOT, PARTIAL)]
    assert goodputs[0] < goodputs[1]  # partial restart also saves the in-place failures


def test_full_restart_is_todays_model_and_costs_are_explicit() -> None:
    cfg = dataclasses.replace(policy_config(RecoveryDesign()), fixed_interval_s=600.0)
    c = cfg.interruption_costs
    assert c.node_stop_s == c.other_stop_s == cfg.unplanned_recovery_s == 60.0 + 300.0 + 200.0
    assert math.isinf(c.node_max_loss_s) and c.node_debt_s == 0.0 and cfg.speed_factor == 1.0
    hot = dataclasses.replace(cfg, recovery=HOT).interruption_costs
    assert hot.node_stop_s == 60.0 + 90.0 + 10.0  # detection + hot swap + peer restore
    assert hot.other_stop_s == 60.0 + 300.0 + 10.0  # detection + restart + peer restore
    assert hot.node_max_loss_s == hot.other_max_loss_s == 20.0  # half a 40 s snapshot
    el = dataclasses.replace(cfg, recovery=ELASTIC).interruption_costs
    assert el.node_stop_s == 80.0 and el.node_debt_s == pytest.approx(64 / 1024 * 2 * HOUR)


def test_straggler_factor_matches_a_direct_simulation() -> None:
    rate, slowdown, detect = 1.0 / 900.0, 1.34, 600.0
    rng = np.random.default_rng(11)
    horizon = 2e7
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * horizon * 1.2)))
    arrivals = arrivals[arrivals < horizon]
    # Union of the slow intervals [a, a + detect): the job is slow during it.
    ends = np.maximum.accumulate(arrivals + detect)
    starts = np.maximum(arrivals, np.concatenate(([0.0], ends[:-1])))
    slow_time = np.clip(ends - starts, 0.0, None).sum()
    simulated = 1.0 - slow_time / horizon * (1.0 - 1.0 / slowdown)
    expected = straggler_throughput_factor(rate_per_s=rate, slowdown=slowdown, detect_s=detect)
    assert simulated == pytest.approx(expected, abs=0.003)
    assert straggler_throughput_factor(rate_per_s=0.0, slowdown=2.0, detect_s=60.0) == 1.0


@pytest.mark.parametrize("design", [HOT, STRAGGLY], ids=str)
def test_timeline_agrees_with_the_monte_carlo(design: RecoveryDesign) -> None:
    cfg = dataclasses.replace(
        policy_config(design, n_trials=300),
        tokens=20 * HOUR,
        window_s=None,
        fixed_interval_s=1800.0,
    )
    mc = simulate_campaign(cfg)
    walls = np.array([trial_timeline(dataclasses.replace(cfg, seed=s)).wall_s for s in range(200)])
    err = math.hypot(
        mc.time_to_train_days_stderr * SECONDS_PER_DAY, walls.std(ddof=1) / math.sqrt(walls.size)
    )
    assert abs(walls.mean() - mc.time_to_train_days_mean * SECONDS_PER_DAY) < Z * err
    assert mc.fraction_finished == 1.0


def test_same_seed_same_result_with_policies() -> None:
    a = simulate_campaign(policy_config(STRAGGLY, n_trials=30))
    b = simulate_campaign(policy_config(STRAGGLY, n_trials=30))
    assert a == b
    np.testing.assert_array_equal(a.per_trial_goodput, b.per_trial_goodput)


# ---------------------------------------------------------------- scenario fields


def _build(**kwargs: object) -> CampaignConfig:
    section = ReliabilitySection(**kwargs)
    return section.to_config(
        num_gpus=16384, gpus_per_node=8, tokens=1e12, tokens_per_s=1e6, params=4.05e11
    )


def test_failures_per_1000_node_days_sets_the_total_and_keeps_the_mix() -> None:
    base = _build()
    # The Llama 3 profile: 419 unexpected / (2,048 nodes x 54 days) = 3.79 per 1,000 node-days.
    per_1000 = base.unplanned_rate_per_s * SECONDS_PER_DAY / 2048 * 1000
    assert per_1000 == pytest.approx(419 / (2048 * 54) * 1000, rel=1e-3)
    four = _build(failures_per_1000_node_days=4.0)
    assert four.unplanned_rate_per_s * SECONDS_PER_DAY / 2048 * 1000 == pytest.approx(4.0)
    share = {c.name: c.rate_per_s / four.unplanned_rate_per_s for c in four.causes if not c.planned}
    base_share = {c.name: c.rate_per_s / base.unplanned_rate_per_s for c in base.causes}
    for name, s in share.items():
        assert s == pytest.approx(base_share[name])
    assert four.planned_rate_per_s == base.planned_rate_per_s


def test_detection_restart_and_write_time_are_stated_separately() -> None:
    cfg = _build(detection_min=2.0, restart_min=3.0, checkpoint_write_s=240.0)
    assert cfg.detection_s == 120.0 and cfg.restart_s == 180.0
    assert cfg.checkpoint.write_s == pytest.approx(240.0)
    assert cfg.checkpoint.blocking_s == pytest.approx(240.0)  # sync
    assert cfg.unplanned_recovery_s == pytest.approx(120.0 + 180.0 + cfg.checkpoint.restore_s)
    # The stated write time wins over a stated bandwidth.
    both = _build(checkpoint_write_s=240.0, storage_write_gbyte_per_s=100.0)
    assert both.checkpoint.write_s == pytest.approx(240.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"failures_per_1000_node_days": -1.0},
        {"failures_per_1000_node_days": float("nan")},
        {"failures_per_1000_node_days": 5000.0},
        {"detection_min": -1.0},
        {"detection_min": float("nan")},
        {"restart_min": 1e9},
        {"checkpoint_write_s": 0.0},
        {"checkpoint_write_s": float("inf")},
        {"recovery_policy": "pray"},
        {"straggler_slowdown": 0.5},
    ],
)
def test_bad_recovery_fields_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        ReliabilitySection(**kwargs)


def test_rate_total_and_multiplier_together_is_an_error() -> None:
    with pytest.raises(InputError, match="failures_per_1000_node_days"):
        _build(failures_per_1000_node_days=4.0, failure_rate_multiplier=2.0)


def test_gpu_generation_picks_its_profile_and_nvlink_domains_fail() -> None:
    section = ReliabilitySection()
    kw = {"tokens": 1e12, "tokens_per_s": 1e6, "params": 1e12}
    gb = section.to_config(
        num_gpus=72 * 1000, gpus_per_node=4, gpu_id="gb300", scaleup_domain=72, dp=500, **kw
    )
    names = {c.name for c in gb.causes}
    assert "nvlink_domain" in names and "faulty_gpu" not in names
    h100 = section.to_config(num_gpus=72 * 1000, gpus_per_node=8, gpu_id="h100-sxm-80gb", **kw)
    assert "faulty_gpu" in {c.name for c in h100.causes}

    # Per-GPU rates: 4-GPU trays do not double the rate of an 8-GPU node (NVLink, leaf and
    # zone domains and HBM aside); HBM scales with the stacks per GPU (8 vs 5).
    def rate(cfg, *, hbm: bool) -> float:
        return sum(
            c.rate_per_s
            for c in cfg.causes
            if not c.planned
            and c.domain is None
            and c.category != "nvlink_domain"
            and (c.name in ("hbm", "gpu_hbm3")) == hbm
        )

    assert rate(gb, hbm=False) == pytest.approx(rate(h100, hbm=False), rel=1e-3)
    assert rate(gb, hbm=True) == pytest.approx(8 / 5 * rate(h100, hbm=True), rel=1e-3)
    assert gb.recovery.replica_gpus == 144  # num_gpus / dp, at least one NVLink domain
    explicit = ReliabilitySection(failure_profile="llama3-h100").to_config(
        num_gpus=72 * 1000, gpus_per_node=4, gpu_id="gb300", **kw
    )
    assert "faulty_gpu" in {c.name for c in explicit.causes}


def test_stragglers_add_evictions_and_slow_the_job() -> None:
    cfg = _build(stragglers_per_1000_node_days=10.0, straggler_detect_min=10.0)
    eviction = next(c for c in cfg.causes if c.name == "straggler_eviction")
    assert eviction.replaces_node
    assert eviction.rate_per_s == pytest.approx(10.0 / 1000 * 2048 / SECONDS_PER_DAY)
    assert cfg.speed_factor == pytest.approx(
        1.0 - (1.0 - math.exp(-eviction.rate_per_s * 600.0)) * (1.0 - 1.0 / 1.34)
    )
    assert _build().speed_factor == 1.0


def test_elastic_dp_never_waits_for_a_spare() -> None:
    cfg = dataclasses.replace(policy_config(ELASTIC), spare_nodes=0, repair_s=48 * HOUR)
    r = simulate_campaign(cfg)
    boundary = cfg.interruption_costs.other_stop_s / WINDOW_S
    assert abs(r.goodput - closed_form(cfg)) < Z * r.goodput_stderr + boundary
    assert r.work_fraction_degraded == pytest.approx(
        NODE_RATE * cfg.interruption_costs.node_debt_s, rel=0.05
    )


# ---------------------------------------------------------------- sweeps and result fields


def test_scale_config_scales_unexpected_rates_and_resizes_spares() -> None:
    from colossim.campaign.sweeps import scale_config

    base = dataclasses.replace(
        policy_config(STRAGGLY),
        causes=(
            *policy_config(STRAGGLY).causes,
            CauseRate(name="pm", category="planned", rate_per_s=1e-5, planned=True),
        ),
    )
    big = scale_config(base, num_gpus=10 * base.num_gpus)
    assert big.num_gpus == 10 * base.num_gpus
    assert big.unplanned_rate_per_s == pytest.approx(10 * base.unplanned_rate_per_s)
    assert big.planned_rate_per_s == base.planned_rate_per_s
    assert big.recovery.straggler_rate_per_s == pytest.approx(10 / HOUR)
    assert big.spare_nodes >= big.nodes_in_repair_mean
    assert big.recovery.replica_gpus == base.recovery.replica_gpus


def test_sensitivity_moves_the_right_way() -> None:
    from colossim.campaign.sweeps import sensitivity

    cfg = dataclasses.replace(policy_config(RecoveryDesign()), fixed_interval_s=1200.0)
    se = sensitivity(cfg, window_days=5.0, n_trials=16)
    assert se.inputs == ("detection_s", "restart_s", "checkpoint_write_s", "spare_nodes")
    for row in se.goodput[:3]:  # slower detection, restart, write: lower goodput
        assert row[0] > row[-1]
    assert se.base_values[0] == 60.0


def test_result_exposes_days_p50_and_outages_of_the_example_trial() -> None:
    cfg = dataclasses.replace(policy_config(HOT, n_trials=20), fixed_interval_s=1800.0)
    r = dataclasses.replace(simulate_campaign(cfg), timeline=trial_timeline(cfg))
    assert r.wall_days_p50 == r.time_to_train_days_p50
    out = r.outages_s
    assert out.shape[1] == 2 and out.shape[0] > 0
    assert np.all(out[:, 1] > out[:, 0])
    assert simulate_campaign(cfg).outages_s.shape == (0, 2)
