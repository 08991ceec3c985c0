"""Cooling and water (power/cooling.py), racks (power/racks.py), fill mitigations
(power/mitigations.py) and the issue #14 keys of `power` / `cost` JSON. Hand-computed cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from colossim.errors import InputError
from colossim.power import (
    SiteClimate,
    StepPhases,
    cluster_power,
    cooling_spec,
    cooling_year,
    fill_mitigations,
    power_config,
    rack_layout,
    site_climate,
)
from colossim.power.cooling import hourly_ambient_c, lagged_facility_w
from helpers import cli

FLAT20 = SiteClimate(id="flat", name="flat", high_c=(20.0,) * 12, low_c=(20.0,) * 12)


def test_hourly_ambient_keeps_the_monthly_normals():
    site = site_climate("memphis-tn")
    t = hourly_ambient_c(site)
    assert t.size == 8760
    jan = t[: 31 * 24].reshape(31, 24)
    assert jan.max(axis=1).mean() == pytest.approx(site.high_c[0])
    assert jan.min(axis=1).mean() == pytest.approx(site.low_c[0])
    assert int(np.argmax(jan[0])) == 15  # mid-afternoon maximum


def test_pue_and_water_at_a_constant_20c():
    # liquid: PUE 1.07 + 0.004 x (20 - 15) = 1.09; water (0.5 + 0.08 x 5) = 0.9 m3/MWh x
    # 100 MW x 24 h = 2,160 m3/day.
    liquid = cooling_spec("liquid")
    r = cooling_year(liquid, FLAT20, average_it_w=100e6)
    assert r.pue_annual == pytest.approx(1.09)
    assert r.pue_min == r.pue_max == pytest.approx(1.09)
    assert r.water_m3_per_day == pytest.approx(2160.0)
    assert r.water_m3_per_year == pytest.approx(2160.0 * 365)
    fixed = cooling_year(liquid, FLAT20, average_it_w=100e6, fixed_pue=1.3)
    assert fixed.pue_annual == pytest.approx(1.3)


def test_memphis_liquid_pue_and_air_is_worse():
    memphis = site_climate("memphis-tn")
    liquid = cooling_year(cooling_spec("liquid"), memphis, average_it_w=1.0)
    air = cooling_year(cooling_spec("air"), memphis, average_it_w=1.0)
    assert 1.07 < liquid.pue_annual < 1.12 < liquid.pue_max
    assert air.pue_annual > 1.45
    assert liquid.water_m3_per_day_peak_month > liquid.water_m3_per_day


def test_unknown_cooling_and_site_name_the_field():
    with pytest.raises(InputError, match="facility.cooling"):
        cooling_spec("peltier")
    with pytest.raises(InputError, match="facility.site"):
        site_climate("atlantis")
    with pytest.raises(InputError, match="12 monthly"):
        SiteClimate(id="x", name="x", high_c=(1.0,), low_c=(0.0,))


def test_cooling_lags_the_gpu_swing():
    # IT steps 100 -> 200 W at PUE 1.5 with a 10-bin window: right after the step the
    # facility is 200 + 0.5 x 100 (cooling still at the old load) = 250, not 300; after the
    # window it is 300.
    it = np.array([100.0] * 20 + [200.0] * 20)
    fac = lagged_facility_w(it * 1.5, pue=1.5, resolution_s=1.0, time_constant_s=10.0)
    assert fac[19] == pytest.approx(150.0)
    assert fac[20] == pytest.approx(200.0 + 0.5 * (9 * 100 + 200) / 10)
    assert fac[30] == pytest.approx(300.0)


def test_racks_for_colossus():
    # 100,000 H100 at 64 per rack: 1,563 racks; 64 x (700 + 575) W = 81.6 kW per rack;
    # 8 racks per row -> 196 rows; 25,000 GPUs per hall -> 4 halls; 3 m2 per rack.
    r = rack_layout(gpu_id="h100-sxm-80gb", num_gpus=100_000, server_peak_w_per_gpu=1275.0)
    assert (r.racks, r.rows, r.halls) == (1563, 196, 4)
    assert r.kw_per_rack == pytest.approx(81.6)
    assert r.white_space_m2 == pytest.approx(1563 * 3.0)
    assert r.floor_area_m2 == pytest.approx(1563 * 3.0 * 1.5)
    gb = rack_layout(gpu_id="gb300", num_gpus=72, server_peak_w_per_gpu=1875.0)
    assert gb.gpus_per_rack == 72 and gb.racks == 1 and gb.kw_per_rack == pytest.approx(135.0)
    with pytest.raises(InputError, match="num_gpus"):
        rack_layout(gpu_id="gb300", num_gpus=0, server_peak_w_per_gpu=1.0)


def test_fill_mitigation_hand_case():
    # One low phase (communication, 0.2 s of a 1.2 s step). Ramp R such that R x 0.2 s is half
    # the swing: floor = (P_c + P_low) / 2; extra = (floor - P_low) x 0.2 / 1.2 per step.
    cfg = power_config(gpu_id="h100-sxm-80gb", num_gpus=8, gpus_per_node=8, cooling="liquid")
    p = cluster_power(cfg, StepPhases(compute_s=1.0, communication_s=0.2, idle_s=0.0))
    hi, lo = p.compute.facility_w, p.communication.facility_w
    ramp = (hi - lo) / 2 / 0.2
    fw, sw = fill_mitigations(p, ramp_limit_w_per_s=ramp)
    assert fw.name == "gpu_power_floor" and not fw.available  # NVML smoothing: Blackwell+
    assert sw.name == "software_fill" and sw.available
    assert fw.floor_w == pytest.approx((hi + lo) / 2)
    assert fw.extra_average_w == pytest.approx((hi - lo) / 2 * 0.2 / 1.2)
    assert fw.step_swing_after_w == pytest.approx((hi - lo) / 2)
    assert not fw.covers_outages
    none = fill_mitigations(p, ramp_limit_w_per_s=None)
    assert none[0].extra_average_w == 0.0


def test_power_json_has_the_issue_keys():
    res = cli("power", "colossus-100k-h100", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for key in (
        "battery_units",
        "battery_energy_j",
        "grid_ramp_w_per_s",
        "grid_rules",
        "pue_annual",
        "water_m3_per_day",
        "racks",
    ):
        assert key in doc, key
    assert 50 <= doc["battery_units"] <= 300
    assert doc["battery_energy_j"] == pytest.approx(doc["battery_units"] * 3.854 * 3.6e9)
    assert all({"limit", "value", "met"} <= set(c) for c in doc["grid_rules"])
    assert all(c["met"] for c in doc["grid_rules"])
    assert doc["grid_rule_set"]["id"] == "default"
    assert doc["racks"]["racks"] == 1563
    assert 1000 < doc["water_m3_per_day"] < 10_000


def test_cost_json_has_the_issue_keys_and_agrees_with_power():
    doc = json.loads(cli("cost", "colossus-100k-h100", "--format", "json").output)
    capex = doc["capex_breakdown_usd"]
    for key in ("nics", "frontend_network", "storage", "batteries", "servers", "facility"):
        assert key in capex
    assert capex["nics"] == pytest.approx(250e6, rel=0.2)  # ~$2.5k per GPU (issue #14)
    assert doc["usd_per_gpu_hour_includes_cost_of_capital"] is True
    assert doc["usd_per_gpu_hour"] > doc["usd_per_gpu_hour_without_cost_of_capital"]
    assert doc["capex_usd"] == pytest.approx(sum(capex.values()))
    units = json.loads(cli("power", "colossus-100k-h100", "--format", "json").output)
    assert capex["batteries"] == pytest.approx(units["battery_units"] * 2_081_060)


def test_cost_prices_software_fill_against_the_battery():
    power = json.loads(cli("power", "colossus-100k-h100", "--format", "json").output)
    cost = json.loads(cli("cost", "colossus-100k-h100", "--format", "json").output)
    fill = next(m for m in power["mitigations"] if m["name"] == "software_fill")
    # extra J/yr / 3.6e6 J/kWh x $0.0623/kWh (Tennessee industrial, the example's price)
    want = fill["extra_energy_j_per_year"] / 3.6e6 * 0.0623
    got = cost["mitigation_comparison_usd_per_year"]
    assert got["software_fill_energy"] == pytest.approx(want, rel=1e-9)
    assert got["batteries"] > 0


def test_facility_command_json_and_text():
    res = cli("facility", "colossus-100k-h100", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    for key in ("battery_units", "grid_rules", "pue_annual", "water_m3_per_day", "racks"):
        assert key in doc
    cost = json.loads(cli("cost", "colossus-100k-h100", "--format", "json").output)
    assert doc["capex_usd"] == pytest.approx(cost["capex_usd"])
    text = cli("facility", "colossus-100k-h100")
    assert text.exit_code == 0 and "Grid rules" in text.output and "Capex" in text.output
    bad = cli(
        "facility", "colossus-100k-h100", "--set", "facility.grid_rules=ercot", "--format", "json"
    )
    assert bad.exit_code != 0 and "grid_rules" in bad.output


@pytest.mark.parametrize(
    "plant", ["liquid", "liquid-adiabatic", "immersion", "rear-door", "air", "enterprise"]
)
def test_every_cooling_plant_has_a_pue_profile(plant):
    from colossim.power import cooling_profiles
    from colossim.scenario.facility import FacilitySection

    assert plant in cooling_profiles()
    cfg = FacilitySection(cooling=plant).to_config(
        gpu_id="h100-sxm-80gb", num_gpus=8, gpus_per_node=8
    )
    assert cfg.cooling is not None and cfg.cooling.id == plant and cfg.power.pue >= 1.0
