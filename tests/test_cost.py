"""Capex, opex, $ per GPU-hour and $ per run (cost.py), cost scenario section and report.

Source keys in comments (SA-100K, H100-FREAKONOMICS, ...) are entries of docs/sources.md.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from colossim.cost import HOURS_PER_YEAR, cluster_cost, cost_config, electricity_prices
from colossim.errors import InputError
from colossim.power import StepPhases, cluster_power, power_config
from colossim.report.cost import cost_tables, cost_to_json
from colossim.scenario.facility import CostSection

H100 = "h100-sxm-80gb"


def colossus_cost(**kw):
    power = cluster_power(
        power_config(gpu_id=H100, num_gpus=100_000, gpus_per_node=8),
        StepPhases(compute_s=5.0, communication_s=1.0, idle_s=0.7),
    )
    cfg = cost_config(gpu_id=H100, num_gpus=100_000, **kw)
    return cluster_cost(
        cfg,
        nameplate_it_w=power.nameplate_it_w,
        average_facility_w=power.average_facility_w,
        run_hours=24 * 90.0,
    ), power


def test_colossus_server_capex_between_3_and_4_5_billion():
    # ~$3B (Bloomberg Intelligence, COLOSSUS-NEWS) to >$4B (SemiAnalysis, SA-100K).
    result, _ = colossus_cost()
    assert 3e9 <= result.server_capex_usd <= 4.5e9


def test_all_in_it_capex_per_gpu_is_plausible():
    # "H100 Freakonomics" (H100-FREAKONOMICS): $47k-$52k per H100 all-in incl. network; loose band.
    result, _ = colossus_cost()
    it = sum(i.capex_usd for i in result.breakdown if i.name in ("servers", "fabric", "storage"))
    assert 35_000 <= it / 100_000 <= 60_000


def test_breakdown_adds_up():
    result, _ = colossus_cost(battery_id="megapack-2xl-2h", battery_units=40)
    assert result.capex_usd == pytest.approx(sum(i.capex_usd for i in result.breakdown))
    assert result.usd_per_gpu_hour == pytest.approx(
        sum(i.usd_per_gpu_hour for i in result.breakdown)
    )
    assert result.usd_per_year == pytest.approx(
        result.annualised_capex_usd_per_year + result.opex_usd_per_year
    )
    batteries = next(i for i in result.breakdown if i.name == "batteries")
    assert batteries.capex_usd == pytest.approx(40 * 2_081_060)


def test_energy_cost_closed_form():
    result, power = colossus_cost(energy_usd_per_kwh=0.0623)
    energy = next(i for i in result.breakdown if i.name == "energy")
    # MW x 8,760 h x $/kWh (the arithmetic of docs/sources.md: EIA-EPA, SA-100K).
    assert energy.usd_per_year == pytest.approx(
        power.average_facility_w / 1e3 * HOURS_PER_YEAR * 0.0623
    )
    assert 60e6 < energy.usd_per_year < 110e6


def test_fabric_fallback_is_epoch_share_of_cluster_capex():
    result, _ = colossus_cost()
    parts = {i.name: i.capex_usd for i in result.breakdown}
    share = parts["fabric"] / (parts["servers"] + parts["storage"] + parts["fabric"])
    assert share == pytest.approx(0.19)
    given_bom, _ = colossus_cost(fabric_cost_usd=1.5e9)
    assert {i.name: i.capex_usd for i in given_bom.breakdown}["fabric"] == 1.5e9


@given(hours=st.floats(0, 1e5), n=st.integers(1, 1_000_000))
def test_cost_per_run_is_linear_in_hours(hours, n):
    cfg = cost_config(gpu_id=H100, num_gpus=n)
    r = cluster_cost(cfg, nameplate_it_w=n * 1300.0, average_facility_w=n * 1200.0, run_hours=hours)
    assert r.usd_per_run == pytest.approx(r.usd_per_gpu_hour * n * hours, rel=1e-9, abs=1e-6)
    assert math.isfinite(r.usd_per_gpu_hour) and r.usd_per_gpu_hour > 0


def test_server_price_override_and_unknown_price():
    r = cluster_cost(
        cost_config(gpu_id="gb300", num_gpus=72_000, server_usd=3.5e6, gpus_per_server=72),
        nameplate_it_w=1e8,
        average_facility_w=9e7,
    )
    assert r.server_capex_usd == pytest.approx(1000 * 3.5e6)
    with pytest.raises(InputError, match="cluster.gpu.*server"):
        cost_config(gpu_id="mi325x", num_gpus=72)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"energy_usd_per_kwh": -0.1}, "cost.energy_usd_per_kwh"),
        ({"lifetime_years": 0.0}, "cost.lifetime_years"),
        ({"electricity": "mars"}, "cost.electricity"),
        ({"battery_id": "nope", "battery_units": 2}, "facility.battery"),
    ],
)
def test_bad_cost_input_raises(kw, field):
    with pytest.raises(InputError, match=field):
        cost_config(gpu_id=H100, num_gpus=8, **kw)


def test_cost_section_and_report():
    section = CostSection(electricity="tn-industrial-2023", lifetime_years=4)
    cfg = section.to_config(
        gpu_id=H100, num_gpus=100_000, battery_id="megapack-2xl-4h", battery_units=10
    )
    assert cfg.energy_usd_per_kwh == electricity_prices()["tn-industrial-2023"] == 0.0623
    assert cfg.server_lifetime_years == 4
    r = cluster_cost(cfg, nameplate_it_w=1.4e8, average_facility_w=1.3e8, run_hours=100.0)
    doc = cost_to_json(r)
    for key in ("capex_usd", "opex_usd_per_year", "usd_per_gpu_hour", "breakdown"):
        assert key in doc
    assert all(math.isfinite(item["usd_per_year"]) for item in doc["breakdown"])
    console = Console(width=100, no_color=True, record=True)
    for table in cost_tables(r):
        console.print(table)
    assert "$ per GPU-hour" in console.export_text()


# ---------------------------------------------------------------- issue #14: full capex, WACC


def test_capital_recovery_factor_hand_case():
    from colossim.cost import capital_recovery_factor

    # 10% over 5 years: 0.1 / (1 - 1.1^-5) = 0.263797...; 0% = straight line 1/5.
    assert capital_recovery_factor(0.10, 5) == pytest.approx(0.2637974808, rel=1e-9)
    assert capital_recovery_factor(0.0, 5) == pytest.approx(0.2)


def test_storage_sized_from_checkpoints_and_data():
    from colossim.cost import storage_capacity_tb

    # 1e12 params x 16 B x 5 kept = 80 TB; 1e13 tokens x 4 B = 40 TB; 120 TB > 10 x 9.8 TB.
    assert storage_capacity_tb(10, model_params=1e12, tokens=1e13) == pytest.approx(120.0)
    # 100k GPUs: the per-GPU floor (Llama 3's 9.8 TB per GPU) wins: 980 PB.
    assert storage_capacity_tb(100_000, model_params=1e12, tokens=1e13) == pytest.approx(980_000)


def test_wacc_charge_and_new_lines():
    n = 8_000
    cfg = cost_config(gpu_id=H100, num_gpus=n, nic_cost_usd=2e7, wacc=0.10, storage_tb=100.0)
    flat = cost_config(gpu_id=H100, num_gpus=n, nic_cost_usd=2e7, wacc=0.0, storage_tb=100.0)
    kw = {"nameplate_it_w": n * 1300.0, "average_facility_w": n * 1200.0}
    r, r0 = cluster_cost(cfg, **kw), cluster_cost(flat, **kw)
    parts = {i.name: i for i in r.breakdown}
    assert parts["nics"].capex_usd == pytest.approx(2e7)
    assert parts["frontend_network"].capex_usd == pytest.approx(n * 1000.0)
    assert parts["storage"].capex_usd == pytest.approx(100.0 * 100.0)
    servers = parts["servers"]
    assert servers.usd_per_year == pytest.approx(servers.capex_usd * 0.2637974808, rel=1e-9)
    assert servers.cost_of_capital_usd_per_year == pytest.approx(
        servers.usd_per_year - servers.capex_usd / 5
    )
    assert r.usd_per_gpu_hour_without_cost_of_capital == pytest.approx(r0.usd_per_gpu_hour)
    assert r.usd_per_gpu_hour > r0.usd_per_gpu_hour
    retro = cluster_cost(cost_config(gpu_id=H100, num_gpus=n, facility_usd=35e6), **kw)
    assert {i.name: i.capex_usd for i in retro.breakdown}["facility"] == pytest.approx(35e6)


@pytest.mark.parametrize("kw", [{"wacc": 1.5}, {"wacc": -0.1}, {"storage_tb": -1.0}])
def test_bad_capital_inputs(kw):
    with pytest.raises(InputError, match="cost\\."):
        cost_config(gpu_id=H100, num_gpus=8, **kw)


def test_gb300_and_b300_have_their_own_prices():
    assert cost_config(gpu_id="gb300", num_gpus=72).server_usd == pytest.approx(3.5e6)
    assert cost_config(gpu_id="b300", num_gpus=8).server_usd == pytest.approx(442_000)
