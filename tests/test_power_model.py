"""Power per phase (power/phases.py) and the power trace (power/trace.py).

Source keys in comments (SA-100K, ...) are entries of docs/sources.md.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.power import (
    StepPhases,
    cluster_power,
    outages_from_arrays,
    power_config,
    power_trace,
    sample_outages,
    trace_config,
)

H100 = "h100-sxm-80gb"


def colossus(**kw):
    kw.setdefault("cooling", "liquid")
    return power_config(gpu_id=H100, num_gpus=100_000, gpus_per_node=8, **kw)


PHASES = StepPhases(compute_s=5.0, communication_s=1.0, idle_s=0.7)


# ---------------------------------------------------------------- acceptance (issue 6)


def test_colossus_facility_power_between_120_and_170_mw():
    p = cluster_power(colossus(), PHASES)
    assert 120e6 <= p.compute.facility_w <= 170e6
    assert 120e6 <= p.nameplate_it_w * p.config.pue <= 170e6
    # [DERIVED] from SA-100K: 100k x 1.275 kW = 127.5 MW of servers at max (DGX H100 10.2 kW / 8).
    servers_w = p.nameplate_it_w - p.config.network_power_w - p.config.storage_power_w
    assert servers_w == pytest.approx(100_000 * 10_200 / 8)


def test_phase_powers_closed_form():
    cfg = colossus(fabric_power_w=5e6)
    p = cluster_power(cfg, PHASES)
    f = cfg.compute_frac_of_tdp
    oh = cfg.overhead_idle_frac + (1 - cfg.overhead_idle_frac) * f
    it = 100_000 * (700 * f + 575 * oh) + 5e6 + cfg.storage_power_w
    assert p.compute.it_w == pytest.approx(it)
    assert p.compute.facility_w == pytest.approx(it * 1.10)
    assert p.peak_swing_w == pytest.approx(p.compute.facility_w - p.idle.facility_w)
    assert p.idle.facility_w < p.communication.facility_w < p.compute.facility_w


@given(
    c=st.floats(0, 20),
    m=st.floats(0, 20),
    i=st.floats(0, 20),
    n=st.integers(1, 10) | st.just(100_000),
)
def test_step_average_is_time_weighted_mean(c, m, i, n):
    if c + m + i <= 1e-6:
        return
    ph = StepPhases(compute_s=c, communication_s=m, idle_s=i)
    p = cluster_power(power_config(gpu_id=H100, num_gpus=n, gpus_per_node=8), ph)
    expected = (
        p.compute.facility_w * c + p.communication.facility_w * m + p.idle.facility_w * i
    ) / (c + m + i)
    assert p.average_facility_w == pytest.approx(expected, rel=1e-12)
    assert p.idle.facility_w * (1 - 1e-12) <= p.average_facility_w
    assert p.average_facility_w <= p.compute.facility_w * (1 + 1e-12)
    assert 0 <= p.step_swing_w <= p.peak_swing_w * (1 + 1e-12)


def test_swing_scales_with_cluster_size():
    a = cluster_power(power_config(gpu_id=H100, num_gpus=10_000, gpus_per_node=8), PHASES)
    b = cluster_power(power_config(gpu_id=H100, num_gpus=100_000, gpus_per_node=8), PHASES)
    assert b.peak_swing_w == pytest.approx(10 * a.peak_swing_w)


def test_every_gpu_of_the_catalog_has_a_power_profile():
    gpus = load_catalog("gpus")
    for gpu_id in gpus:
        p = cluster_power(power_config(gpu_id=gpu_id, num_gpus=72, gpus_per_node=8), PHASES)
        assert p.compute.facility_w > p.idle.facility_w > 0


@pytest.mark.parametrize("pue", [-1.1, 0.0, 0.9, math.nan])
def test_bad_pue_raises_input_error(pue):
    with pytest.raises(InputError, match="facility.pue"):
        colossus(pue=pue)


def test_unknown_cooling_profile_suggests_a_name():
    with pytest.raises(InputError, match="did you mean 'liquid'"):
        colossus(cooling="liquidd")


def test_unknown_gpu_raises_input_error():
    with pytest.raises(InputError, match="cluster.gpu"):
        power_config(gpu_id="h1000", num_gpus=8, gpus_per_node=8)


@pytest.mark.parametrize(
    "kw", [{"compute_s": -1.0, "communication_s": 1.0}, {"compute_s": 0.0, "communication_s": 0.0}]
)
def test_bad_phases_raise_input_error(kw):
    with pytest.raises(InputError, match="phases"):
        StepPhases(**kw)


# ---------------------------------------------------------------- trace


def exact_energy(p, t_s: float) -> float:
    """Independent closed form: whole steps plus the partial step, phase by phase."""
    ph = p.phases
    whole = math.floor(t_s / ph.step_s)
    rem = t_s - whole * ph.step_s
    e = whole * p.energy_per_step_j
    for level, length in (
        (p.compute.facility_w, ph.compute_s),
        (p.communication.facility_w, ph.communication_s),
        (p.idle.facility_w, ph.idle_s),
    ):
        used = min(rem, length)
        e += level * used
        rem -= used
    return e


phase_s = st.floats(0.0, 7.0)


@settings(max_examples=60, deadline=None)
@given(c=phase_s, m=phase_s, i=phase_s, dt=st.floats(0.01, 1.0), dur=st.floats(1.0, 400.0))
def test_trace_energy_equals_integral_of_power(c, m, i, dt, dur):
    if c + m + i < 0.05:
        return
    p = cluster_power(colossus(), StepPhases(compute_s=c, communication_s=m, idle_s=i))
    tr = power_trace(p, trace_config(duration_s=dur, resolution_s=dt))
    assert tr.energy_j == pytest.approx(tr.power_w.sum() * dt, rel=1e-12)
    assert tr.energy_j == pytest.approx(exact_energy(p, tr.duration_s), rel=1e-9)
    assert tr.min_power_w >= p.idle.facility_w * (1 - 1e-9)
    assert tr.peak_power_w <= p.compute.facility_w * (1 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    starts=st.lists(st.integers(0, 2000), min_size=1, max_size=5, unique=True),
    durs=st.lists(st.integers(0, 300), min_size=5, max_size=5),
    c=st.floats(0.1, 5.0),
    m=st.floats(0.0, 3.0),
)
def test_trace_energy_with_bin_aligned_outages_is_exact(starts, durs, c, m):
    dt = 0.1
    starts = sorted(starts)
    ends = [s + d for s, d in zip(starts, durs, strict=False)]
    # keep the outages apart (the model combines overlaps by max)
    keep = [0]
    for k in range(1, len(starts)):
        if starts[k] >= ends[keep[-1]]:
            keep.append(k)
    s_arr = np.array([starts[k] for k in keep]) * dt
    d_arr = np.array([durs[k] for k in keep]) * dt
    p = cluster_power(colossus(), StepPhases(compute_s=c, communication_s=m, idle_s=0.2))
    tr = power_trace(
        p,
        trace_config(duration_s=300.0, resolution_s=dt, restart_ramp_s=0.0),
        outages=outages_from_arrays(s_arr, d_arr),
    )
    expected = exact_energy(p, 300.0)
    for s, d in zip(s_arr, d_arr, strict=True):
        e = min(s + d, 300.0)
        if s >= 300.0:
            continue
        expected -= exact_energy(p, e) - exact_energy(p, s) - p.idle.facility_w * (e - s)
    assert tr.energy_j == pytest.approx(expected, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    s=st.floats(0.0, 100.0),
    d=st.floats(0.0, 100.0),
    ramp=st.floats(0.0, 60.0),
    dt=st.floats(0.05, 1.0),
)
def test_restart_ramp_energy_closed_form(s, d, ramp, dt):
    # Constant step pattern (compute only): the outage costs (P_c - P_idle)(d + R/2).
    p = cluster_power(colossus(), StepPhases(compute_s=1.0, communication_s=0.0))
    tr = power_trace(
        p,
        trace_config(duration_s=400.0, resolution_s=dt, restart_ramp_s=ramp),
        outages=outages_from_arrays([s], [d]),
    )
    swing = p.compute.facility_w - p.idle.facility_w
    expected = p.compute.facility_w * tr.duration_s - swing * (d + ramp / 2)
    assert tr.energy_j == pytest.approx(expected, rel=1e-9)


def test_outage_drops_to_idle():
    p = cluster_power(colossus(), PHASES)
    tr = power_trace(
        p,
        trace_config(duration_s=600.0, resolution_s=0.1, restart_ramp_s=10.0),
        outages=outages_from_arrays([100.0], [200.0]),
    )
    assert np.allclose(tr.power_w[1001:2999], p.idle.facility_w)
    assert tr.power_w[3200] > p.idle.facility_w


def test_sample_outages_same_seed_same_result_and_rate():
    def draw(seed):
        return sample_outages(
            rate_per_hour=2.0,
            mean_duration_s=600.0,
            horizon_s=3600.0 * 20_000,
            rng=np.random.default_rng(np.random.SeedSequence(seed)),
        )

    a, b = draw(7), draw(7)
    assert np.array_equal(a.start_s, b.start_s) and np.array_equal(a.duration_s, b.duration_s)
    # Renewal process: mean cycle = 1/rate + mean outage = 1,800 + 600 s.
    expected = 3600.0 * 20_000 / 2400.0
    assert abs(a.count - expected) < 5 * math.sqrt(expected)
    assert np.all(a.start_s[1:] >= a.start_s[:-1] + a.duration_s[:-1])  # no overlap


def test_bad_outages_raise_input_error():
    with pytest.raises(InputError, match="outages"):
        outages_from_arrays([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="duration_s"):
        outages_from_arrays([1.0], [-1.0])
    with pytest.raises(InputError, match="resolution_s"):
        trace_config(duration_s=10.0, resolution_s=0.0)


def test_idle_gpus_draw_idle_power_through_every_phase() -> None:
    """GPUs a plan leaves idle draw idle power in the compute and communication phases
    too: half the GPUs idle puts each phase's GPU draw halfway to idle."""
    from colossim.power import phase_power, power_config, with_idle_gpus

    cfg = power_config(gpu_id="h100-sxm-80gb", num_gpus=1024, gpus_per_node=8)
    half = with_idle_gpus(cfg, 512)
    assert with_idle_gpus(cfg, 0) == cfg
    for name in ("compute_frac_of_tdp", "communication_frac_of_tdp"):
        expect = 0.5 * getattr(cfg, name) + 0.5 * cfg.idle_frac_of_tdp
        assert getattr(half, name) == pytest.approx(expect)
    assert half.idle_frac_of_tdp == cfg.idle_frac_of_tdp
    full = phase_power(cfg, gpu_frac_of_tdp=cfg.compute_frac_of_tdp).gpu_w
    assert phase_power(half, gpu_frac_of_tdp=half.compute_frac_of_tdp).gpu_w < full
