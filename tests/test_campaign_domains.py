"""Failure domains (leaf switch, power/cooling zone) and per-generation failure profiles:
each policy's cost of a domain failure, the engine against the closed form with domains,
counts by domain, the fabric's leaves reaching the campaign, determinism."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    CheckpointCosts,
    IntervalPolicy,
    simulate_campaign,
    trial_timeline,
)
from colossim.campaign.failures import ClusterCounts, FailureDomain, cause_rates, failure_profile
from colossim.campaign.recovery import (
    RecoveryDesign,
    RecoveryPolicy,
    domain_costs,
    fixed_loss_goodput,
)
from colossim.scenario.reliability import ReliabilitySection
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

HOUR = SECONDS_PER_HOUR
Z = 4.0
WINDOW_S = 30 * SECONDS_PER_DAY
NODE_RATE = 1.0 / HOUR
LEAF_RATE = 1.0 / (3 * HOUR)
ZONE_RATE = 1.0 / (8 * HOUR)
HOT = RecoveryDesign(policy=RecoveryPolicy.HOT_SPARE, hot_swap_s=90.0, snapshot_interval_s=30.0)
ELASTIC = RecoveryDesign(
    policy=RecoveryPolicy.ELASTIC_DP,
    elastic_reconfigure_s=20.0,
    elastic_rejoin_s=HOUR,
    replica_gpus=64,
    snapshot_interval_s=20.0,
)


def domain_config(
    design: RecoveryDesign, *, spares: int = 1000, n_trials: int = 300, seed: int = 4
) -> CampaignConfig:
    """Node failures plus a leaf (128 GPUs) and a zone (512 GPUs) domain on 2,048 GPUs, no
    persistent checkpoint ever written (so the closed form of fixed_loss_goodput holds)."""
    return CampaignConfig(
        tokens=1.0,
        tokens_per_s=1.0,
        num_gpus=2048,
        gpus_per_node=8,
        causes=(
            CauseRate(name="gpu", category="gpu", rate_per_s=NODE_RATE, replaces_node=True),
            CauseRate(
                name="leaf",
                category="network",
                rate_per_s=LEAF_RATE,
                domain=FailureDomain.LEAF_SWITCH,
                domain_gpus=128,
                repair_s=2 * HOUR,
            ),
            CauseRate(
                name="zone",
                category="facility",
                rate_per_s=ZONE_RATE,
                domain=FailureDomain.POWER_ZONE,
                domain_gpus=512,
                repair_s=4 * HOUR,
            ),
        ),
        detection_s=30.0,
        restart_s=300.0,
        repair_s=HOUR,
        checkpoint=CheckpointCosts(
            write_s=60.0, blocking_s=60.0, durable_lag_s=0.0, restore_s=120.0
        ),
        interval_policy=IntervalPolicy.FIXED,
        fixed_interval_s=1e12,
        spare_nodes=spares,
        window_s=WINDOW_S,
        n_trials=n_trials,
        seed=seed,
        recovery=design,
    )


def closed_form(cfg: CampaignConfig) -> float:
    c = cfg.interruption_costs
    d = cfg.domain_costs
    return fixed_loss_goodput(
        rates_per_s=np.array([cfg.node_replacing_rate_per_s, *(k.rate_per_s for k in cfg.domains)]),
        stop_s=np.array([c.node_stop_s, *(x.stop_s for x in d)]),
        max_loss_s=np.array([c.node_max_loss_s, *(x.max_loss_s for x in d)]),
        debt_s=np.array([c.node_debt_s, *(x.debt_s for x in d)]),
        speed=cfg.speed_factor,
    )


def test_domain_costs_of_each_policy() -> None:
    kw = {
        "detection_s": 30.0,
        "restart_s": 300.0,
        "restore_s": 120.0,
        "num_gpus": 2048,
        "domain_gpus": 512,
        "domain_nodes": 64,
        "repair_s": 4 * HOUR,
    }
    full = domain_costs(RecoveryDesign(), free_spare_nodes=64, **kw)
    assert full.covered and full.stop_s == 30 + 300 + 120 and math.isinf(full.max_loss_s)
    # Hot spares must cover the whole domain: 63 free spares are one too few.
    short = domain_costs(RecoveryDesign(), free_spare_nodes=63, **kw)
    assert not short.covered and short.stop_s == full.stop_s + 4 * HOUR
    hot = domain_costs(HOT, free_spare_nodes=64, **kw)
    assert hot.stop_s == 30 + 90 + HOT.peer_restore_s and hot.max_loss_s == 15.0
    hot_short = domain_costs(HOT, free_spare_nodes=10, **kw)
    assert hot_short.stop_s == 30 + 4 * HOUR + 300 + HOT.peer_restore_s
    # Elastic DP drops every replica the domain touches: 512 / 64 = 8 replicas.
    el = domain_costs(ELASTIC, free_spare_nodes=64, **kw)
    assert el.replicas_dropped == 8 and el.stop_s == 50.0
    assert el.debt_s == pytest.approx(512 / 2048 * HOUR)  # spares rejoin within the hour
    el_short = domain_costs(ELASTIC, free_spare_nodes=0, **kw)
    assert el_short.debt_s == pytest.approx(512 / 2048 * 4 * HOUR)  # until the zone is back
    # A domain holding every replica leaves nothing to continue: it waits like a hot spare.
    whole = domain_costs(ELASTIC, free_spare_nodes=0, **{**kw, "domain_gpus": 2048})
    assert whole.debt_s == 0.0 and whole.stop_s > 4 * HOUR


@pytest.mark.parametrize("design", [HOT, ELASTIC], ids=["hot_spare", "elastic_dp"])
@pytest.mark.parametrize("spares", [1000, 20], ids=["covered", "short"])
def test_engine_matches_the_closed_form_with_domains(design: RecoveryDesign, spares: int) -> None:
    cfg = domain_config(design, spares=spares)
    r = simulate_campaign(cfg)
    expected = closed_form(cfg)
    boundary = max(c.stop_s for c in cfg.domain_costs) / WINDOW_S
    assert abs(r.goodput - expected) < Z * r.goodput_stderr + boundary
    # Interruptions by domain: rate x window (Poisson), within the confidence interval.
    for name, rate in (("leaf_switch", LEAF_RATE), ("power_zone", ZONE_RATE), ("node", NODE_RATE)):
        mean = rate * WINDOW_S
        err = math.sqrt(mean / cfg.n_trials)
        assert abs(r.interruptions_by_domain[name] - mean) < Z * err, name
    assert r.interruptions_by_domain["in_place"] == 0.0
    assert r.unexpected_interruptions_mean == pytest.approx(
        sum(r.interruptions_by_domain[k] for k in ("node", "leaf_switch", "power_zone"))
    )


def test_short_spares_cost_goodput_and_domains_cost_more_than_nodes() -> None:
    covered = simulate_campaign(domain_config(HOT, spares=1000, n_trials=100)).goodput
    short = simulate_campaign(domain_config(HOT, spares=20, n_trials=100)).goodput
    assert short < covered - 0.05  # every zone failure now waits 4 h for its power
    no_domains = dataclasses.replace(
        domain_config(HOT, n_trials=100), causes=domain_config(HOT).causes[:1]
    )
    assert simulate_campaign(no_domains).goodput > covered


def test_timeline_agrees_with_the_monte_carlo_with_domains() -> None:
    cfg = dataclasses.replace(
        domain_config(ELASTIC, spares=20, n_trials=300),
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
    ends = trial_timeline(dataclasses.replace(cfg, seed=1)).ends
    assert "domain_failure" in {e.value for e in ends}


def test_same_seed_same_result_with_domains() -> None:
    a = simulate_campaign(domain_config(ELASTIC, n_trials=40))
    b = simulate_campaign(domain_config(ELASTIC, n_trials=40))
    assert a == b
    np.testing.assert_array_equal(a.per_trial_goodput, b.per_trial_goodput)


def test_leaf_and_zone_rates_follow_the_counts() -> None:
    profile = failure_profile("gb300-nvl72")
    counts = ClusterCounts(
        num_gpus=72_000,
        gpus_per_node=4,
        nics_per_node=4,
        cpus_per_node=2,
        leaf_switches=2250,
        leaf_gpus=256,
        zone_gpus=576,
    )
    rates = {r.name: r for r in cause_rates(profile, counts)}
    leaf, zone = rates["leaf_switch"], rates["power_zone"]
    # Singh et al. 2021 (SINGH-2021): 2% of switches fail within 3 months.
    assert leaf.rate_per_s * SECONDS_PER_YEAR == pytest.approx(
        2250 * -math.log(0.98) / 0.25, rel=1e-3
    )
    assert zone.rate_per_s * SECONDS_PER_YEAR == pytest.approx(125 * 0.05, rel=1e-9)
    assert (leaf.domain_gpus, zone.domain_gpus) == (256, 576)
    assert leaf.repair_s == 2 * HOUR and zone.repair_s == 4 * HOUR


@pytest.mark.parametrize(
    ("gpu", "profile", "hbm_stacks"),
    [
        ("h100-sxm-80gb", "llama3-h100", 5),
        ("h200-sxm-141gb", "h200-hgx", 6),
        ("b200", "b200-hgx", 8),
        ("b300", "b200-hgx", 8),
        ("gb200", "gb200-nvl72", 8),
        ("gb300", "gb300-nvl72", 8),
    ],
)
def test_each_generation_has_its_profile_and_hbm_scales_with_stacks(
    gpu: str, profile: str, hbm_stacks: int
) -> None:
    section = ReliabilitySection()
    assert section.profile_id(gpu) == profile
    p = failure_profile(profile)
    hbm = next(c for c in p.causes if c.name in ("hbm", "gpu_hbm3"))
    # Llama 3 Table 5: 72 HBM3 interruptions over 2,422.3 GPU-years on 5-stack H100s.
    assert hbm.rate_per_unit_year == pytest.approx(72 / 2422.3 * hbm_stacks / 5, rel=1e-3)
    assert {c.domain for c in p.causes if c.domain} == set(FailureDomain)


def test_fabric_leaves_reach_the_campaign() -> None:
    from colossim import run_scenario

    r = run_scenario("llama3-405b-16k-h100", trials=50)
    fabric = r.fabric
    cfg = r.campaign_config
    leaf = next(c for c in cfg.causes if c.domain is FailureDomain.LEAF_SWITCH)
    assert leaf.domain_gpus == fabric.gpus_per_level[1]
    share = cfg.num_gpus / fabric.config.num_gpus
    expected = math.ceil(fabric.switches_per_tier[0] * share) * -math.log(0.98) / 0.25
    assert leaf.rate_per_s * SECONDS_PER_YEAR == pytest.approx(expected, rel=1e-3)
    assert r.campaign.interruptions_by_domain["leaf_switch"] > 0.0
