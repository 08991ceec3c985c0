"""Campaign Monte Carlo (campaign/engine.py, chunk.py, config.py, results.py): the summed
failure-rate properties, closed-form cross-checks within Monte Carlo
confidence intervals, an independent one-event-at-a-time reference, the Llama 3 check,
determinism, the scenario section and the report."""

from __future__ import annotations

import collections
import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.console import Console

from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    CheckpointCosts,
    IntervalPolicy,
    SimulationMode,
    SparePolicy,
    campaign_intervals,
    expected_interruptions_to_simulate,
    reference_case_config,
    simulate_campaign,
    sweep_checkpoint_intervals,
)
from colossim.catalog import lookup
from colossim.errors import InputError
from colossim.report.campaign import campaign_tables, campaign_to_json
from colossim.scenario.reliability import ReliabilitySection
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR

HOUR = SECONDS_PER_HOUR
Z = 4.0  # confidence-interval half-width in standard errors (false alarm ~6e-5)


def one_cause_config(
    *,
    rate_per_s: float,
    recovery_s: float,
    delta_s: float,
    tau_s: float,
    work_s: float,
    n_trials: int = 4000,
    seed: int = 7,
    window_s: float | None = None,
) -> CampaignConfig:
    """Daly's setting: one failure cause, fixed downtime R, sync checkpoints, no spares issue."""
    return CampaignConfig(
        tokens=work_s * 1000.0,
        tokens_per_s=1000.0,
        num_gpus=8,
        gpus_per_node=8,
        causes=(CauseRate(name="any", category="gpu", rate_per_s=rate_per_s),),
        detection_s=0.0,
        restart_s=recovery_s,
        repair_s=0.0,
        checkpoint=CheckpointCosts(
            write_s=delta_s, blocking_s=delta_s, durable_lag_s=0.0, restore_s=0.0
        ),
        interval_policy=IntervalPolicy.FIXED,
        fixed_interval_s=tau_s,
        n_trials=n_trials,
        seed=seed,
        window_s=window_s,
    )


def daly_expected_time_s(
    *, lam: float, recovery_s: float, delta_s: float, tau_s: float, n: int
) -> float:
    """Exact expected wall time of n segments (n - 1 with a checkpoint, the last without):
    each segment of length x takes e^(lam R) (e^(lam x) - 1) / lam (Daly 2006)."""
    per = math.exp(lam * recovery_s) / lam
    return per * ((n - 1) * math.expm1(lam * (tau_s + delta_s)) + math.expm1(lam * tau_s))


# ---------------------------------------------------------------- closed-form cross-checks


def test_window_interruptions_equal_rate_times_exposure() -> None:
    lam, window = 1.0 / (3 * HOUR), 30 * SECONDS_PER_DAY
    cfg = one_cause_config(
        rate_per_s=lam, recovery_s=600.0, delta_s=5.0, tau_s=300.0, work_s=1.0, window_s=window
    )
    r = simulate_campaign(cfg)
    assert r.mode is SimulationMode.WINDOW
    assert abs(r.interruptions_mean - lam * window) < Z * r.interruptions_stderr
    assert r.expected_interruptions == pytest.approx(lam * window)
    # Poisson: variance = mean, so the spread across trials is sqrt(mean).
    assert r.interruptions_stderr * math.sqrt(r.n_trials) == pytest.approx(
        math.sqrt(lam * window), rel=0.1
    )


@pytest.mark.parametrize(
    ("mtbf_h", "recovery_s", "delta_s", "tau_s"),
    [(1.0, 600.0, 60.0, 900.0), (4.0, 60.0, 10.0, 600.0), (0.5, 300.0, 30.0, 300.0)],
)
def test_time_to_train_matches_daly_exact_expectation(
    mtbf_h: float, recovery_s: float, delta_s: float, tau_s: float
) -> None:
    lam, n = 1.0 / (mtbf_h * HOUR), 40
    cfg = one_cause_config(
        rate_per_s=lam, recovery_s=recovery_s, delta_s=delta_s, tau_s=tau_s, work_s=n * tau_s
    )
    r = simulate_campaign(cfg)
    exact = daly_expected_time_s(lam=lam, recovery_s=recovery_s, delta_s=delta_s, tau_s=tau_s, n=n)
    mean_s = r.time_to_train_days_mean * SECONDS_PER_DAY
    assert abs(mean_s - exact) < Z * r.time_to_train_days_stderr * SECONDS_PER_DAY
    assert r.fraction_finished == 1.0
    # Wald's identity: E[interruptions] = rate x E[time to train].
    assert abs(r.interruptions_mean - lam * mean_s) < Z * r.interruptions_stderr
    # goodput = work / wall; its mean over trials is within (0, 1).
    assert 0.0 < r.goodput < 1.0


def test_simulated_best_interval_is_young_daly_where_their_assumptions_hold() -> None:
    # delta = 10 s << M = 1 h, restart 60 s: Young 268 s, Daly 262 s.
    lam = 1.0 / HOUR
    cfg = one_cause_config(
        rate_per_s=lam, recovery_s=60.0, delta_s=10.0, tau_s=1.0, work_s=100 * HOUR, n_trials=2000
    )
    young = math.sqrt(2 * 10.0 * HOUR)
    grid = young * np.array([0.25, 0.5, 0.71, 1.0, 1.41, 2.0, 4.0])
    sweep = sweep_checkpoint_intervals(cfg, intervals_s=grid)
    assert sweep.best_interval_s == pytest.approx(young)
    # The curve falls off on both sides by more than the noise.
    best = int(np.argmax(sweep.goodput))
    assert sweep.goodput[0] < sweep.goodput[best] - Z * sweep.goodput_stderr[best]
    assert sweep.goodput[-1] < sweep.goodput[best] - Z * sweep.goodput_stderr[best]
    # ... and the policies computed in closed form land on the same point.
    ivs = campaign_intervals(dataclasses.replace(cfg, interval_policy=IntervalPolicy.OPTIMAL))
    assert ivs.optimal_s == pytest.approx(young, rel=0.05)
    assert ivs.daly_s == pytest.approx(young, rel=0.05)
    assert ivs.used_s == ivs.optimal_s


def test_no_failures_gives_ideal_time_plus_checkpoints() -> None:
    cfg = one_cause_config(
        rate_per_s=0.0, recovery_s=600.0, delta_s=10.0, tau_s=1000.0, work_s=10_000.0, n_trials=3
    )
    r = simulate_campaign(cfg)
    assert r.interruptions_mean == 0.0
    assert r.time_to_train_days_p50 * SECONDS_PER_DAY == pytest.approx(10_000.0 + 9 * 10.0)
    assert r.goodput == pytest.approx(10_000.0 / 10_090.0)
    assert math.isfinite(r.mtbi_s)


# ------------------------------- Llama 3 (Dubey et al. 2024, arXiv:2407.21783, sec. 3.3.4)


def test_llama3_54_day_window_reproduces_table5_and_effective_time() -> None:
    case = lookup("reliability", "llama3-405b-54d", field="case").values
    r = simulate_campaign(reference_case_config(n_trials=1000, seed=3))
    assert r.unexpected_interruptions_mean == pytest.approx(
        case["unexpected_interruptions"], rel=0.10
    )
    assert r.planned_interruptions_mean == pytest.approx(case["planned_interruptions"], rel=0.15)
    # Published: >90% effective training time; accepted band 0.85-0.95 under the catalog's
    # recovery and checkpoint assumptions.
    assert 0.85 <= r.effective_training_time <= 0.95
    assert r.interruptions_by_cause["faulty_gpu"] == pytest.approx(148, rel=0.10)
    assert r.interruptions_by_cause["software_bug"] == pytest.approx(54, rel=0.15)
    # The wall clock is fully accounted for.
    total = (
        r.effective_training_time
        + r.wall_fraction_downtime
        + r.wall_fraction_rework
        + r.wall_fraction_checkpoint
    )
    assert total == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------- determinism and spread


def test_same_seed_same_result_and_different_seeds_spread() -> None:
    cfg = reference_case_config(n_trials=300, seed=11)
    a, b = simulate_campaign(cfg), simulate_campaign(cfg)
    assert a == b
    np.testing.assert_array_equal(a.per_trial_wall_s, b.per_trial_wall_s)
    np.testing.assert_array_equal(a.per_trial_interruptions, b.per_trial_interruptions)
    c = simulate_campaign(dataclasses.replace(cfg, seed=12))
    assert c.interruptions_mean != a.interruptions_mean
    assert a.interruptions_stderr > 0 and a.goodput_stderr > 0
    # The reported standard errors describe the seed-to-seed spread.
    spread = math.hypot(a.interruptions_stderr, c.interruptions_stderr)
    assert abs(a.interruptions_mean - c.interruptions_mean) < Z * spread
    assert a.interruptions_p10 <= a.interruptions_p50 <= a.interruptions_p90


# ---------------------------------------------------------------- spares: independent reference


def reference_simulation(
    cfg: CampaignConfig, *, tau_s: float, n_trials: int, seed: int
) -> np.ndarray:
    """Plain one-interruption-at-a-time simulator of the same model (scalar Python), wall
    time of each trial. Written independently of the vectorised pass/cut logic."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    node_rate = sum(c.rate_per_s for c in cfg.causes if c.replaces_node and not c.planned)
    unexp_rate = sum(c.rate_per_s for c in cfg.causes if not c.planned)
    planned_rate = sum(c.rate_per_s for c in cfg.causes if c.planned)
    delta, lag = cfg.checkpoint.blocking_s, cfg.checkpoint.durable_lag_s
    down_u = cfg.detection_s + cfg.restart_s + cfg.checkpoint.restore_s
    down_p = delta + cfg.planned_downtime_s + cfg.restart_s + cfg.checkpoint.restore_s
    nodes, spares = cfg.num_nodes, cfg.spare_nodes
    limit = spares
    if cfg.spare_policy is SparePolicy.SHRINK:
        limit += math.floor((1 - cfg.min_active_fraction) * nodes)
    walls = np.empty(n_trials)
    for i in range(n_trials):
        t, down, frac, work_left = 0.0, 0.0, 1.0, cfg.tokens / cfg.tokens_per_s
        queue: collections.deque[float] = collections.deque()
        while True:
            lam = unexp_rate * frac + planned_rate
            gap = rng.exponential(1.0 / lam)
            served = min(gap, down)
            run = gap - served
            need = work_left / frac
            n_ck = max(math.ceil(need / tau_s) - 1, 0)
            if run >= need + n_ck * delta:
                walls[i] = t + served + need + n_ck * delta
                break
            k = math.floor(run / (tau_s + delta))
            rem = run - k * (tau_s + delta)
            u = rng.random() * lam
            if u >= unexp_rate * frac:  # planned: checkpoint first, nothing lost
                kept = k * tau_s + min(rem, tau_s)
                down = down_p
            else:
                kept = (k - (1 if (rem < lag and k >= 1) else 0)) * tau_s
                down = down_u
            work_left -= kept * frac
            t += gap
            if u < node_rate * frac:
                queue.append(t)
            while queue and queue[0] + cfg.repair_s <= t:
                queue.popleft()
            over = len(queue) - limit
            if over > 0:
                down += max(queue[over - 1] + cfg.repair_s - t, 0.0)
            frac = min(nodes + spares - min(len(queue), limit), nodes) / nodes
    return walls


@pytest.mark.parametrize("policy", [SparePolicy.WAIT, SparePolicy.SHRINK])
@pytest.mark.parametrize("lag_s", [0.0, 120.0])
def test_vectorised_simulator_agrees_with_one_event_reference(
    policy: SparePolicy, lag_s: float
) -> None:
    # Tight spares: ~4 nodes in repair on average, 4 spares, so waits/shrinks are frequent.
    cfg = CampaignConfig(
        tokens=100 * HOUR,
        tokens_per_s=1.0,
        num_gpus=64 * 8,
        gpus_per_node=8,
        causes=(
            CauseRate(name="gpu", category="gpu", rate_per_s=1.0 / HOUR, replaces_node=True),
            CauseRate(name="sw", category="software", rate_per_s=0.5 / HOUR),
            CauseRate(name="plan", category="planned", rate_per_s=0.1 / HOUR, planned=True),
        ),
        detection_s=120.0,
        restart_s=480.0,
        repair_s=4 * HOUR,
        planned_downtime_s=600.0,
        checkpoint=CheckpointCosts(
            write_s=180.0, blocking_s=60.0, durable_lag_s=lag_s, restore_s=0.0
        ),
        interval_policy=IntervalPolicy.FIXED,
        fixed_interval_s=1200.0,
        spare_nodes=4,
        spare_policy=policy,
        min_active_fraction=0.9,
        n_trials=3000,
        seed=5,
    )
    r = simulate_campaign(cfg)
    ref = reference_simulation(cfg, tau_s=1200.0, n_trials=600, seed=99)
    ref_mean, ref_se = ref.mean(), ref.std(ddof=1) / math.sqrt(ref.size)
    sim_mean = r.time_to_train_days_mean * SECONDS_PER_DAY
    sim_se = r.time_to_train_days_stderr * SECONDS_PER_DAY
    assert abs(sim_mean - ref_mean) < Z * math.hypot(sim_se, ref_se)
    assert r.fraction_finished == 1.0


def test_more_spares_never_hurt_and_shrink_beats_wait_without_spares() -> None:
    base = reference_case_config(n_trials=200, seed=8)
    goodput = [
        simulate_campaign(dataclasses.replace(base, spare_nodes=s)).goodput for s in (0, 5, 20, 64)
    ]
    # Same seed: identical failure histories, so goodput is monotone in the spares.
    assert all(a <= b + 1e-12 for a, b in zip(goodput, goodput[1:], strict=False))
    assert goodput[0] < 0.1 < 0.85 < goodput[-1]
    shrink = simulate_campaign(
        dataclasses.replace(base, spare_nodes=0, spare_policy=SparePolicy.SHRINK)
    )
    assert shrink.goodput > 0.85 > goodput[0]
    # Shrinking runs on fewer nodes: goodput (at full size) below effective training time.
    assert shrink.goodput < shrink.effective_training_time


@settings(max_examples=20, deadline=None)
@given(
    mtbf_h=st.floats(min_value=0.2, max_value=50.0),
    recovery_s=st.floats(min_value=0.0, max_value=HOUR),
    delta_s=st.floats(min_value=0.0, max_value=600.0),
    lag_s=st.floats(min_value=0.0, max_value=600.0),
    spares=st.integers(min_value=0, max_value=8),
    shrink=st.booleans(),
    window=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_results_are_finite_and_consistent(
    mtbf_h: float,
    recovery_s: float,
    delta_s: float,
    lag_s: float,
    spares: int,
    shrink: bool,
    window: bool,
    seed: int,
) -> None:
    cfg = CampaignConfig(
        tokens=20 * HOUR,
        tokens_per_s=1.0,
        num_gpus=32 * 8,
        gpus_per_node=8,
        causes=(
            CauseRate(
                name="hw", category="gpu", rate_per_s=0.6 / (mtbf_h * HOUR), replaces_node=True
            ),
            CauseRate(name="sw", category="software", rate_per_s=0.4 / (mtbf_h * HOUR)),
        ),
        detection_s=0.0,
        restart_s=recovery_s,
        repair_s=10 * HOUR,
        checkpoint=CheckpointCosts(
            write_s=delta_s, blocking_s=delta_s, durable_lag_s=lag_s, restore_s=0.0
        ),
        interval_policy=IntervalPolicy.YOUNG,
        spare_nodes=spares,
        spare_policy=SparePolicy.SHRINK if shrink else SparePolicy.WAIT,
        horizon_s=10 * SECONDS_PER_DAY,
        window_s=2 * SECONDS_PER_DAY if window else None,
        n_trials=20,
        seed=seed,
    )
    r = simulate_campaign(cfg)
    payload = campaign_to_json(r)
    json.dumps(payload, allow_nan=False)  # raises on NaN/inf
    assert 0.0 <= r.goodput <= r.effective_training_time + 1e-12 <= 1.0 + 1e-12
    total = r.effective_training_time + r.wall_fraction_downtime + r.wall_fraction_rework
    assert total + r.wall_fraction_checkpoint == pytest.approx(1.0, abs=1e-9)
    assert r.checkpoint_interval_s >= lag_s
    assert r.lost_gpu_hours >= -1e-6
    if not window and r.fraction_finished == 1.0:
        assert r.time_to_train_days_p10 * SECONDS_PER_DAY >= 20 * HOUR * (1 - 1e-12)
    assert sum(r.interruptions_by_cause.values()) == pytest.approx(r.interruptions_mean)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tokens": 0.0}, "reliability.tokens"),
        ({"tokens_per_s": float("inf")}, "reliability.tokens_per_s"),
        ({"num_gpus": 12}, "reliability.num_gpus"),
        ({"n_trials": 0}, "reliability.n_trials"),
        ({"spare_nodes": -1}, "reliability.spare_nodes"),
        ({"min_active_fraction": 0.0}, "reliability.min_active_fraction"),
        ({"restart_s": -1.0}, "reliability.restart_s"),
        ({"causes": ()}, "reliability.failure_profile"),
    ],
)
def test_bad_config_is_an_input_error(change: dict, field: str) -> None:
    cfg = one_cause_config(rate_per_s=1e-4, recovery_s=1.0, delta_s=1.0, tau_s=10.0, work_s=100.0)
    with pytest.raises(InputError) as err:
        dataclasses.replace(cfg, **change)
    assert err.value.field == field


def test_fixed_policy_without_interval_is_an_input_error() -> None:
    cfg = one_cause_config(rate_per_s=1e-4, recovery_s=1.0, delta_s=1.0, tau_s=10.0, work_s=100.0)
    with pytest.raises(InputError, match="checkpoint_interval_s"):
        simulate_campaign(dataclasses.replace(cfg, fixed_interval_s=None))


# ---------------------------------------------------------------- scenario section and report


def test_section_builds_a_config_with_catalog_defaults() -> None:
    section = ReliabilitySection(spare_nodes=64, trials=50, seed=3, checkpoint_mode="async")
    cfg = section.to_config(
        num_gpus=16_384, gpus_per_node=8, tokens=1e12, tokens_per_s=2.7e6, params=405e9
    )
    recovery = lookup("reliability", "recovery-default", field="x").values
    assert cfg.restart_s == recovery["restart_s"] and cfg.detection_s == recovery["detection_s"]
    assert cfg.repair_s == recovery["repair_h"] * HOUR
    assert cfg.checkpoint.durable_lag_s > 0  # async
    assert sum(
        c.rate_per_s for c in cfg.causes if not c.planned
    ) * 54 * SECONDS_PER_DAY == pytest.approx(419, rel=1e-3)
    assert cfg.mode is SimulationMode.TO_TRAIN and cfg.n_trials == 50
    r = simulate_campaign(cfg)
    assert r.fraction_finished == 1.0 and r.time_to_train_days_p50 > 1e12 / 2.7e6 / SECONDS_PER_DAY


def test_section_overrides_and_window() -> None:
    section = ReliabilitySection(
        restart_min=1,
        detection_min=0.5,
        repair_h=24,
        failure_rate_multiplier=2.0,
        failure_rate_overrides={"software_bug": 0.0},
        planned_maintenance=False,
        checkpoint_policy="fixed",
        checkpoint_interval_s=600,
        window_days=10,
    )
    cfg = section.to_config(
        num_gpus=8_192, gpus_per_node=8, tokens=1e12, tokens_per_s=1e6, params=7e10
    )
    assert cfg.restart_s == 60.0 and cfg.detection_s == 30.0 and cfg.repair_s == 24 * HOUR
    assert cfg.window_s == 10 * SECONDS_PER_DAY and cfg.fixed_interval_s == 600
    names = {c.name: c.rate_per_s for c in cfg.causes}
    assert names["software_bug"] == 0.0 and "planned_maintenance" not in names


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"checkpoint_policy": "fixed"}, "checkpoint_interval_s"),
        ({"checkpoint_interval_s": 60}, "only used with"),
        ({"failure_profile": "llama3"}, "did you mean"),
        ({"failure_rate_overrides": {"faulty_gpus": 1.0}}, "did you mean 'faulty_gpu'"),
        ({"optimizer_state": "adam"}, "unknown optimizer_state"),
        ({"spare_nodes": -1}, "greater than or equal"),
        ({"restart_mins": 5}, "Extra inputs"),
    ],
)
def test_section_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ReliabilitySection(**kwargs)


def test_report_json_and_tables() -> None:
    r = simulate_campaign(reference_case_config(n_trials=50, seed=1))
    out = campaign_to_json(r)
    for key in (
        "goodput",
        "interruptions_mean",
        "time_to_train_days_p10",
        "time_to_train_days_p50",
        "time_to_train_days_p90",
        "checkpoint_interval_s",
        "lost_gpu_hours",
        "interruptions_by_cause",
    ):
        assert key in out
    json.dumps(out, allow_nan=False)
    assert out["interruptions_by_cause"]["faulty_gpu"] > 0
    assert out["interruptions_by_domain"]["leaf_switch"] > 0
    assert sum(out["interruptions_by_domain"].values()) == pytest.approx(out["interruptions_mean"])
    tables = campaign_tables(r)
    assert len(tables) == 4
    console = Console(width=120, record=True, color_system=None)
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert "goodput" in text and "faulty gpu" in text
    assert "leaf switch" in text and "power zone" in text


def test_repair_queue_ring_grows_in_order_and_pops_a_prefix() -> None:
    from colossim.campaign.repair_queue import _grow_ring, _pop_returned

    cap = 4
    ring = np.zeros(2 * cap + 1)  # two trials, plus the dump slot
    # Trial 1's queue wraps around: absolute positions 2..5 hold times 10, 20, 30, 40.
    for pos, when in zip(range(2, 6), (10.0, 20.0, 30.0, 40.0), strict=True):
        ring[1 * cap + (pos & (cap - 1))] = when
    ids, head, tail = np.array([1]), np.array([2]), np.array([6])
    grown, new_cap = _grow_ring(ring, cap, ids, head)
    assert new_cap == 8
    queue = [grown[1 * new_cap + (p & (new_cap - 1))] for p in range(2, 6)]
    assert queue == [10.0, 20.0, 30.0, 40.0]
    assert _pop_returned(grown, new_cap, ids, head, tail, np.array([25.0])).tolist() == [4]
    assert _pop_returned(grown, new_cap, ids, head, tail, np.array([99.0])).tolist() == [6]


def test_a_run_that_cannot_progress_is_refused_not_hung() -> None:
    # 1M GPUs (MTBI ~3 min) with 10 min recovery: the job almost never progresses; a
    # 10-year horizon x 1,000 trials would be ~1.7e9 interruptions.
    section = ReliabilitySection(spare_nodes=2000)
    cfg = section.to_config(
        num_gpus=1_000_000, gpus_per_node=8, tokens=3.3e14, tokens_per_s=3.3e7, params=2e12
    )
    assert expected_interruptions_to_simulate(cfg, 10.0) > 1e9
    with pytest.raises(InputError, match="horizon_days"):
        simulate_campaign(cfg)
    with pytest.raises(InputError, match="trials"):
        sweep_checkpoint_intervals(cfg, intervals_s=np.array([10.0]))


def test_trials_run_in_chunks_with_stable_streams() -> None:
    cfg = one_cause_config(
        rate_per_s=1.0 / HOUR, recovery_s=60.0, delta_s=5.0, tau_s=300.0, work_s=5 * HOUR
    )
    one_chunk = simulate_campaign(dataclasses.replace(cfg, n_trials=4096))
    two_chunks = simulate_campaign(dataclasses.replace(cfg, n_trials=4100))
    # The first 4,096 trials do not depend on how many trials follow them.
    np.testing.assert_array_equal(two_chunks.per_trial_wall_s[:4096], one_chunk.per_trial_wall_s)
    assert two_chunks.per_trial_wall_s.size == 4100
    assert np.all(two_chunks.per_trial_wall_s[4096:] >= 5 * HOUR)
