"""Grid + battery dispatch and battery sizing (power/grid.py), facility scenario section."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from colossim.errors import InputError
from colossim.power import (
    StepPhases,
    battery_spec,
    grid_config,
    outages_from_arrays,
    simulate_facility,
    simulate_grid,
    size_battery,
)
from colossim.power.grid import _bounded_cumsum, _smoothed_plan
from colossim.report.power import power_tables, power_to_json
from colossim.scenario.facility import FacilitySection

MEGAPACK = battery_spec("megapack-2xl-2h")
DT = 0.1


def square_load(n: int, *, hi: float, lo: float, period: int, duty: float, seed: int) -> np.ndarray:
    """Training-like load (MW scale): square wave plus an idle outage, W."""
    k = np.arange(n)
    load = np.where((k % period) < duty * period, hi, lo)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    start = int(rng.integers(0, n // 2))
    load[start : start + n // 4] = lo * 0.7
    return load.astype(float)


# ---------------------------------------------------------------- building blocks


@settings(max_examples=100, deadline=None)
@given(
    s0=st.floats(0, 10),
    cap=st.floats(0.1, 10),
    deltas=st.lists(st.floats(-3, 3), min_size=1, max_size=200),
)
def test_bounded_cumsum_matches_loop(s0, cap, deltas):
    s0 = min(s0, cap)
    d = np.array(deltas)
    ref = np.empty(d.size)
    s = s0
    for k, x in enumerate(deltas):
        s = min(max(s + x, 0.0), cap)
        ref[k] = s
    out = _bounded_cumsum(s0, d, cap)
    assert np.allclose(out, ref, atol=1e-9)
    assert out.min() >= 0.0 and out.max() <= cap


@settings(max_examples=60, deadline=None)
@given(
    load=st.lists(st.floats(1e6, 2e8), min_size=2, max_size=500),
    step=st.floats(1e3, 1e8),
)
def test_smoothed_plan_respects_ramp_bound(load, step):
    arr = np.array(load)
    plan = _smoothed_plan(arr, step, math.inf)
    assert np.all(np.abs(np.diff(plan, prepend=arr[0])) <= step * (1 + 1e-9) + 1e-3)
    assert plan.min() >= arr.min() - 1e-3 and plan.max() <= arr.max() + 1e-3


# ---------------------------------------------------------------- dispatch properties

loads = st.builds(
    square_load,
    st.integers(2_000, 12_000),
    hi=st.floats(80e6, 150e6),
    lo=st.floats(30e6, 79e6),
    period=st.integers(3, 200),
    duty=st.floats(0.1, 0.9),
    seed=st.integers(0, 10_000),
)


@settings(max_examples=30, deadline=None)
@given(
    load=loads,
    units=st.integers(0, 80),
    ramp_mw=st.floats(0.5, 50.0) | st.none(),
    headroom=st.floats(0.85, 1.2),
)
def test_soc_stays_in_bounds_and_energy_balances(load, units, ramp_mw, headroom):
    grid = grid_config(
        grid_limit_w=max(load.max() * headroom, load.min()),
        ramp_limit_w_per_s=None if ramp_mw is None else ramp_mw * 1e6,
    )
    r = simulate_grid(load, resolution_s=DT, grid=grid, battery=MEGAPACK, units=units)
    cap = units * MEGAPACK.energy_j
    assert r.soc_j.min() >= -1e-6 and r.soc_j.max() <= cap * (1 + 1e-12) + 1e-6
    assert np.all(np.abs(r.battery_w) <= units * MEGAPACK.power_w * (1 + 1e-9) + 1e-6)
    assert np.allclose(r.grid_w + r.battery_w, load)
    # SoC change = eta x charged - discharged / eta, eta = sqrt(rte).
    eta = math.sqrt(MEGAPACK.round_trip_efficiency)
    d_soc = r.soc_j[-1] - grid.target_soc_frac * cap
    balance = eta * r.charged_energy_j - r.discharged_energy_j / eta
    assert d_soc == pytest.approx(balance, rel=1e-9, abs=1e-3 * max(cap, 1.0) * 1e-6 + 1.0)


@settings(max_examples=15, deadline=None)
@given(
    load=loads,
    ramp_mw=st.floats(1.0, 20.0),
    headroom=st.floats(0.9, 1.1),
)
def test_sized_battery_meets_limits_and_one_less_does_not(load, ramp_mw, headroom):
    grid = grid_config(grid_limit_w=load.max() * headroom, ramp_limit_w_per_s=ramp_mw * 1e6)
    sz = size_battery(load, resolution_s=DT, grid=grid, battery=MEGAPACK, max_units=2_000)
    assert sz.feasible
    again = simulate_grid(load, resolution_s=DT, grid=grid, battery=MEGAPACK, units=sz.units)
    assert again.ok
    assert np.all(again.grid_w <= grid.grid_limit_w * (1 + 1e-6))
    ramps = np.abs(np.diff(again.grid_w)) / DT
    assert ramps.max() <= ramp_mw * 1e6 * (1 + 1e-6)
    if sz.units > 0:
        less = simulate_grid(load, resolution_s=DT, grid=grid, battery=MEGAPACK, units=sz.units - 1)
        assert not less.ok
        assert sz.one_less is not None and not sz.one_less.ok


def test_no_battery_needed_when_load_is_inside_limits():
    load = np.full(1000, 100e6)
    grid = grid_config(grid_limit_w=150e6, ramp_limit_w_per_s=1e6)
    sz = size_battery(load, resolution_s=DT, grid=grid, battery=MEGAPACK)
    assert sz.units == 0 and sz.result.ok and sz.one_less is None


def test_peak_shaving_power_bound():
    # A 10 MW excess over the grid limit for 10 min needs >= 10 MW of battery power and
    # >= 10 MW x 600 s / sqrt(rte) / (1 - target SoC) of capacity; no ramp limit.
    load = np.concatenate((np.full(3000, 100e6), np.full(6000, 160e6), np.full(30000, 100e6)))
    grid = grid_config(grid_limit_w=150e6)
    sz = size_battery(load, resolution_s=DT, grid=grid, battery=MEGAPACK)
    assert sz.power_w >= 10e6
    need_j = 10e6 * 600 / math.sqrt(MEGAPACK.round_trip_efficiency) / (1 - grid.target_soc_frac)
    assert sz.energy_j >= need_j * (1 - 1e-9)
    assert sz.units == max(
        math.ceil(10e6 / MEGAPACK.power_w), math.ceil(need_j / MEGAPACK.energy_j)
    )


def test_grid_limit_below_idle_power_raises():
    load = np.full(100, 50e6)
    with pytest.raises(InputError, match="facility.grid_mw.*idle"):
        simulate_grid(
            load, resolution_s=DT, grid=grid_config(grid_limit_w=40e6), battery=MEGAPACK, units=1
        )


def test_unknown_battery_raises_input_error():
    with pytest.raises(InputError, match="did you mean 'megapack-2xl-2h'"):
        battery_spec("megapack-2xl-2hr")


@pytest.mark.parametrize(
    "kw", [{"grid_limit_w": -1.0}, {"grid_limit_w": 1e8, "ramp_limit_w_per_s": 0.0}]
)
def test_bad_grid_config_raises(kw):
    with pytest.raises(InputError, match="facility.grid"):
        grid_config(**kw)


# ---------------------------------------------------------------- scenario section, end to end


def test_facility_section_end_to_end_colossus_hour():
    section = FacilitySection(
        cooling="liquid",
        grid_mw=150,
        grid_rules="none",
        grid_ramp_mw_per_s=2,
        battery="megapack-2xl-2h",
        battery_units="size",
        trace_duration_s=3600,
    )
    cfg = section.to_config(gpu_id="h100-sxm-80gb", num_gpus=100_000, gpus_per_node=8)
    phases = StepPhases(compute_s=5.1, communication_s=1.2, idle_s=0.73)
    res = simulate_facility(cfg, phases, outages=outages_from_arrays([1200.0], [300.0]))
    assert res.sizing is not None and res.sizing.feasible
    assert res.grid is not None and res.grid.ok
    assert res.sizing.units > 0 and not res.sizing.one_less.ok
    doc = power_to_json(res)
    for key in ("it_power_w", "facility_power_w", "peak_swing_w", "battery_units", "energy_j"):
        assert key in doc
    assert doc["battery_units"] == res.sizing.units
    assert 120e6 <= doc["facility_power_w"] <= 170e6
    console = Console(width=100, no_color=True, record=True)
    for table in power_tables(res):
        console.print(table)
    assert "Grid + battery" in console.export_text()


def test_facility_section_rejects_unknown_keys_and_bad_values():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        FacilitySection(grid_mww=150)
    with pytest.raises(ValidationError):
        FacilitySection(pue=-1.0)
    with pytest.raises(InputError, match="facility.battery"):
        FacilitySection(battery="powerwall").to_config(
            gpu_id="h100-sxm-80gb", num_gpus=8, gpus_per_node=8
        )
