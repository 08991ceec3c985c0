"""Checkpoint model (campaign/checkpoint.py): sizes, costs, Young/Daly/optimal intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.campaign.checkpoint import (
    CheckpointCosts,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
    choose_interval_s,
    daly_interval_s,
    expected_useful_fraction,
    first_order_overhead_fraction,
    optimal_interval_s,
    young_interval_s,
)
from colossim.errors import InputError
from colossim.units import SECONDS_PER_HOUR, SECONDS_PER_MINUTE

DEFAULTS = checkpoint_defaults()
MIN = SECONDS_PER_MINUTE
HOUR = SECONDS_PER_HOUR


def test_405b_mixed_precision_adam_checkpoint_is_6_5_tb() -> None:
    # ~16 B/param for mixed-precision Adam, 405B -> ~6.5 TB (6.48 TB): Glenn K. Lockwood,
    # "Storage for LLM training" (docs/sources.md: GK-REPO).
    size = checkpoint_state_bytes(
        params=405e9, bytes_per_param=DEFAULTS.bytes_per_param["adam_mixed"]
    )
    assert size == pytest.approx(6.48e12, rel=1e-3)


def test_costs_per_mode() -> None:
    size = 6.48e12
    kw = {
        "state_bytes": size,
        "write_bytes_per_s": DEFAULTS.storage_write_bytes_per_s,
        "read_bytes_per_s": DEFAULTS.storage_read_bytes_per_s,
        "defaults": DEFAULTS,
    }
    sync = checkpoint_costs(mode=CheckpointMode.SYNC, **kw)
    # 6.48 TB at Llama 3's 2 TB/s sustained (Llama 3 paper, Dubey et al. 2024,
    # arXiv:2407.21783, sec. 3.3.1) -> 3.24 s (Epoch AI's estimate: ~5 TB in ~2.5 s).
    assert sync.write_s == pytest.approx(3.24, rel=1e-3)
    assert sync.blocking_s == sync.write_s and sync.durable_lag_s == 0.0
    asyn = checkpoint_costs(mode=CheckpointMode.ASYNC, **kw)
    assert asyn.blocking_s == pytest.approx(sync.blocking_s / 54.2, rel=1e-3)  # ByteCheckpoint
    assert asyn.blocking_s + asyn.durable_lag_s == pytest.approx(sync.write_s)
    mem = checkpoint_costs(mode=CheckpointMode.IN_MEMORY, **kw)
    assert mem.blocking_s == pytest.approx(sync.blocking_s * 0.0031, rel=1e-3)  # ByteRobust
    assert mem.restore_s == pytest.approx(sync.restore_s / 13.0)  # GEMINI
    assert mem.blocking_s < asyn.blocking_s < sync.blocking_s


@pytest.mark.parametrize(
    ("mtbf_s", "expected_min", "tol_min"),
    [(24 * HOUR, 117, 0.5), (6 * HOUR, 57, 0.5), (15 * MIN, 9.1, 0.1)],
)
def test_daly_reproduces_his_published_examples(
    mtbf_s: float, expected_min: float, tol_min: float
) -> None:
    # Daly (2006, Future Generation Computer Systems 22(3)), the abstract's examples with
    # R = 10 min, delta = 5 min.
    tau = daly_interval_s(checkpoint_s=5 * MIN, mtbf_s=mtbf_s)
    assert tau / MIN == pytest.approx(expected_min, abs=tol_min)


@pytest.mark.parametrize(("delta_s", "tau_min"), [(30.0, 5.5), (60.0, 7.7), (300.0, 17.3)])
def test_young_matches_derived_examples(delta_s: float, tau_min: float) -> None:
    # [DERIVED] from Young (1974, CACM) tau = sqrt(2 delta M), M = 30 min.
    assert young_interval_s(checkpoint_s=delta_s, mtbf_s=30 * MIN) / MIN == pytest.approx(
        tau_min, abs=0.1
    )


def test_daly_is_m_when_checkpoint_exceeds_twice_m() -> None:
    assert daly_interval_s(checkpoint_s=3 * HOUR, mtbf_s=HOUR) == HOUR


@settings(max_examples=60, deadline=None)
@given(
    delta_s=st.floats(min_value=0.1, max_value=600.0),
    mtbf_s=st.floats(min_value=600.0, max_value=1e7),
    restart_s=st.floats(min_value=0.0, max_value=1800.0),
)
def test_optimum_beats_young_and_daly_and_lies_near_them(
    delta_s: float, mtbf_s: float, restart_s: float
) -> None:
    kw = {"checkpoint_s": delta_s, "mtbf_s": mtbf_s, "restart_s": restart_s}
    best = optimal_interval_s(**kw)
    young = young_interval_s(checkpoint_s=delta_s, mtbf_s=mtbf_s)
    daly = daly_interval_s(checkpoint_s=delta_s, mtbf_s=mtbf_s)
    u_best, u_young, u_daly = expected_useful_fraction(interval_s=[best, young, daly], **kw)
    assert u_best >= u_young - 1e-9 and u_best >= u_daly - 1e-9
    assert 0.0 < u_best < 1.0
    # The restart time scales the expected time by e^(R/M) but does not move the optimum.
    assert 0.5 * young < best < 1.5 * young
    if delta_s < 0.01 * mtbf_s:
        # Where Young/Daly's assumptions hold (delta << M) they agree with the exact optimum:
        # Daly (higher order) within 1%, Young (first order) within 5%.
        assert best == pytest.approx(daly, rel=0.01)
        assert best == pytest.approx(young, rel=0.05)


def test_first_order_waste_matches_exact_model_when_delta_small() -> None:
    tau = np.array([300.0, 1000.0, 3000.0])
    kw = {"checkpoint_s": 3.0, "mtbf_s": 10 * HOUR, "restart_s": 60.0}
    exact_waste = 1.0 - expected_useful_fraction(interval_s=tau, **kw)
    approx = first_order_overhead_fraction(interval_s=tau, **kw)
    np.testing.assert_allclose(exact_waste, approx, rtol=0.05)


def test_choose_interval_policies() -> None:
    kw = {"checkpoint_s": 10.0, "mtbf_s": HOUR, "restart_s": 60.0}
    assert choose_interval_s(IntervalPolicy.YOUNG, **kw) == pytest.approx(math.sqrt(2 * 10 * HOUR))
    assert choose_interval_s(IntervalPolicy.DALY, **kw) < choose_interval_s(
        IntervalPolicy.YOUNG, **kw
    )
    assert choose_interval_s(IntervalPolicy.FIXED, fixed_interval_s=123.0, **kw) == 123.0
    with pytest.raises(InputError, match="checkpoint_interval_s"):
        choose_interval_s(IntervalPolicy.FIXED, **kw)
    with pytest.raises(InputError, match="checkpoint_interval_s"):
        choose_interval_s(IntervalPolicy.FIXED, fixed_interval_s=-1.0, **kw)
    # A free checkpoint still gives a positive, finite interval.
    free = choose_interval_s(IntervalPolicy.OPTIMAL, checkpoint_s=0.0, mtbf_s=HOUR, restart_s=0)
    assert 0.0 < free < HOUR


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state_bytes": 1e12, "write_bytes_per_s": 0.0, "read_bytes_per_s": 1e9},
        {"state_bytes": float("nan"), "write_bytes_per_s": 1e9, "read_bytes_per_s": 1e9},
        {"state_bytes": 1e12, "write_bytes_per_s": 1e9, "read_bytes_per_s": -1.0},
    ],
)
def test_bad_checkpoint_inputs_raise(kwargs: dict) -> None:
    with pytest.raises(InputError):
        checkpoint_costs(mode=CheckpointMode.SYNC, defaults=DEFAULTS, **kwargs)


def test_bad_costs_and_params_raise() -> None:
    with pytest.raises(InputError, match="blocking_s"):
        CheckpointCosts(write_s=1.0, blocking_s=-1.0, durable_lag_s=0.0, restore_s=0.0)
    with pytest.raises(InputError, match="params"):
        checkpoint_state_bytes(params=0.0, bytes_per_param=16.0)
    with pytest.raises(InputError, match="candidates_s"):
        optimal_interval_s(checkpoint_s=1.0, mtbf_s=HOUR, restart_s=0.0, candidates_s=np.array([]))


def test_exact_model_is_finite_for_absurd_intervals() -> None:
    u = expected_useful_fraction(
        interval_s=np.array([1e-3, 1e12]), checkpoint_s=1.0, mtbf_s=60.0, restart_s=1e6
    )
    assert np.all(np.isfinite(u)) and np.all(u >= 0.0)
