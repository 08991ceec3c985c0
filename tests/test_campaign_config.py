"""Campaign configuration (campaign/config.py): the summed failure rates, recovery times and
spare budget are the per-cause sums they name, and the public names are importable from
``colossim.campaign``."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import colossim.campaign
from colossim.campaign import (
    CampaignConfig,
    CauseRate,
    CheckpointCosts,
    RunScalars,
    SparePolicy,
    reference_case_config,
)
from colossim.errors import InputError
from colossim.units import SECONDS_PER_HOUR


def _config(causes: tuple[CauseRate, ...], **kw) -> CampaignConfig:
    base = {
        "tokens": 1e12,
        "tokens_per_s": 1e6,
        "num_gpus": 1024,
        "gpus_per_node": 8,
        "causes": causes,
        "detection_s": 30.0,
        "restart_s": 120.0,
        "repair_s": 48 * SECONDS_PER_HOUR,
        "planned_downtime_s": 600.0,
        "checkpoint": CheckpointCosts(
            write_s=40.0, blocking_s=4.0, durable_lag_s=36.0, restore_s=50.0
        ),
        "spare_nodes": 5,
    }
    return CampaignConfig(**(base | kw))


CAUSE = st.builds(
    CauseRate,
    name=st.sampled_from(["a", "b", "c", "d"]),
    category=st.just("gpu"),
    rate_per_s=st.floats(min_value=0.0, max_value=1e-2),
    replaces_node=st.booleans(),
    planned=st.booleans(),
)


@settings(max_examples=60, deadline=None)
@given(causes=st.lists(CAUSE, min_size=1, max_size=8))
def test_rate_properties_equal_the_per_cause_sums(causes: list[CauseRate]) -> None:
    cfg = _config(tuple(causes))
    unplanned = [c for c in causes if not c.planned]
    assert cfg.total_rate_per_s == sum(c.rate_per_s for c in causes)
    assert cfg.unplanned_rate_per_s == sum(c.rate_per_s for c in unplanned)
    assert cfg.planned_rate_per_s == sum(c.rate_per_s for c in causes if c.planned)
    assert cfg.node_replacing_rate_per_s == sum(c.rate_per_s for c in unplanned if c.replaces_node)
    assert cfg.other_unplanned_rate_per_s == sum(
        c.rate_per_s for c in unplanned if not c.replaces_node
    )
    # The kinds partition the causes.
    assert cfg.total_rate_per_s == pytest.approx(
        cfg.node_replacing_rate_per_s + cfg.other_unplanned_rate_per_s + cfg.planned_rate_per_s,
        rel=1e-12,
        abs=1e-300,
    )
    assert cfg.nodes_in_repair_mean == cfg.node_replacing_rate_per_s * cfg.repair_s


def test_llama3_reference_rates_and_recovery_times() -> None:
    cfg = reference_case_config(n_trials=1)
    causes = cfg.causes
    assert cfg.unplanned_rate_per_s == sum(c.rate_per_s for c in causes if not c.planned)
    assert cfg.planned_rate_per_s == sum(c.rate_per_s for c in causes if c.planned) > 0
    assert 0 < cfg.node_replacing_rate_per_s < cfg.unplanned_rate_per_s
    ck = cfg.checkpoint
    assert cfg.downtime_s == cfg.detection_s + cfg.restart_s
    assert cfg.unplanned_recovery_s == cfg.detection_s + cfg.restart_s + ck.restore_s
    assert cfg.planned_recovery_s == (
        ck.blocking_s + cfg.planned_downtime_s + cfg.restart_s + ck.restore_s
    )
    assert cfg.trial_end_s == cfg.window_s
    assert cfg.work_to_train_s == cfg.tokens / cfg.tokens_per_s


def test_spare_budget_and_run_scalars() -> None:
    cause = CauseRate(name="gpu", category="gpu", rate_per_s=1e-4, replaces_node=True)
    wait = _config((cause,))
    assert wait.max_nodes_in_repair == 5
    shrink = dataclasses.replace(wait, spare_policy=SparePolicy.SHRINK, min_active_fraction=0.9)
    assert shrink.max_nodes_in_repair == 5 + math.floor(0.1 * 128)
    p = RunScalars.of(shrink, 300.0)
    assert p.cycle_s == 304.0 and p.shrink and not p.window and p.nodes == 128
    assert p.rate_node_per_s == shrink.node_replacing_rate_per_s
    assert p.down_unplanned_s == shrink.unplanned_recovery_s
    assert p.end_s == shrink.horizon_s and p.work_s == shrink.work_to_train_s


def test_counts_are_checked_and_stored_as_ints() -> None:
    cause = CauseRate(name="gpu", category="gpu", rate_per_s=1e-4)
    cfg = _config((cause,), num_gpus=1024.0, spare_nodes=3.0)
    assert type(cfg.num_gpus) is int and type(cfg.spare_nodes) is int
    with pytest.raises(InputError) as err:
        _config((cause,), n_trials=2.5)
    assert err.value.field == "reliability.n_trials"
    with pytest.raises(InputError) as err:
        _config((cause,), tokens_per_s=math.nan)
    assert err.value.field == "reliability.tokens_per_s"


def test_public_names_import_from_the_package() -> None:
    for name in colossim.campaign.__all__:
        assert getattr(colossim.campaign, name) is not None
    for name in (
        "CampaignConfig",
        "CampaignResult",
        "CampaignTimeline",
        "FailureUnit",
        "GapEnd",
        "IntervalSweep",
        "SimulationMode",
        "campaign_intervals",
        "expected_interruptions_to_simulate",
        "failure_profile",
        "simulate_campaign",
        "sweep_checkpoint_intervals",
        "trial_timeline",
    ):
        assert name in colossim.campaign.__all__
