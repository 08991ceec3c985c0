"""Fabric topology builder: closed-form sizing, properties, bill of materials, scenario, report.

Source keys in comments (ALFARES-2008, S-NET, ...) are entries of docs/sources.md.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from rich.console import Console

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.fabric import (
    MAX_TIERS,
    FabricConfig,
    FabricKind,
    HostLink,
    build_fabric,
    bus_bandwidth_table,
    fat_tree_capacity,
    fat_tree_switch_counts,
    tier_down_ports,
)
from colossim.report.fabric import fabric_tables, fabric_to_json
from colossim.scenario.fabric import FabricSection

NET = load_catalog("network")
SWITCHES = [k for k, e in NET.items() if e.values["kind"] == "switch"]


def _h100(num_gpus: int, **kw) -> FabricConfig:
    base = dict(
        num_gpus=num_gpus,
        gpus_per_node=8,
        scaleup_domain=8,
        nic_gbit_per_s=400,
        switch="sn5600",
        gpu="h100-sxm-80gb",
    )
    base.update(kw)
    return FabricConfig(**base)


# ----------------------------------------------------------------- closed-form sizing


def test_colossus_100k_h100_sn5600_is_three_tiers():
    # 100,000 H100, 8 per node, one 400G NIC per GPU, SN5600 as 128 x 400G, rail-optimised:
    # 8 rail planes of 12,500 nodes each; 128^2/2 = 8,192 < 12,500 <= 128^3/4 -> 3 tiers
    # (NVIDIA PR 2024-10-28: "three tiers", NV-COLOSSUS-PR). Per plane: leaves ceil(12500/64) = 196, spines
    # ceil(196*64/64) = 196, cores ceil(196*64/128) = 98.
    f = build_fabric(_h100(100_000))
    assert f.radix == 128
    assert f.tiers == 3
    assert f.planes == 8
    assert f.switches_per_tier == (8 * 196, 8 * 196, 8 * 98)
    assert f.switches == 3920
    assert f.max_hops == 5
    assert f.endpoint_ports == 100_000
    # a leaf stripe serves 64 nodes = 512 GPUs, the size of a Colossus array (STH-COLOSSUS)
    assert f.gpus_per_level == (8, 512, 32_768, 100_000)
    assert f.efficiency_profile == "spectrum-x"
    assert f.transceivers["qsfp112-400g-dr4"] == 100_000  # one per BlueField-3 NIC


@pytest.mark.parametrize("k", [8, 64, 128, 256])
def test_full_k_ary_three_tier_counts(k):
    # Al-Fares et al. SIGCOMM 2008 (ALFARES-2008): k^3/4 hosts, k^2/2 edge, k^2/2 aggregation, (k/2)^2 core
    down = tier_down_ports(k, oversubscription=(), field="t")
    tiers, sw = fat_tree_switch_counts(k**3 // 4, radix=k, down_ports=down)
    assert int(tiers) == 3
    assert tuple(int(x) for x in sw[:3]) == (k * k // 2, k * k // 2, (k // 2) ** 2)


@settings(max_examples=60, deadline=None)
@given(half=st.integers(min_value=2, max_value=256))
def test_non_blocking_capacity_per_tier_count(half):
    k = 2 * half
    down = tier_down_ports(k, oversubscription=(), field="t")
    assert fat_tree_capacity(radix=k, down_ports=down, tiers=1) == k
    assert fat_tree_capacity(radix=k, down_ports=down, tiers=2) == k * k // 2
    assert fat_tree_capacity(radix=k, down_ports=down, tiers=3) == k**3 // 4
    hosts = np.array([k, k + 1, k * k // 2, k * k // 2 + 1, k**3 // 4, k**3 // 4 + 1])
    tiers, _ = fat_tree_switch_counts(hosts, radix=k, down_ports=down)
    assert tiers.tolist() == [1, 2, 2, 3, 3, 4]


def test_spectrum_x_multiplane_128k_in_two_tiers():
    # S-NET: NVIDIA "up to 128K GPUs in two tiers" = 512^2/2 = 131,072 [DERIVED]
    down = tier_down_ports(512, oversubscription=(), field="t")
    tiers, _ = fat_tree_switch_counts(np.array([131_072, 131_073]), radix=512, down_ports=down)
    assert tiers.tolist() == [2, 3]


def test_oversubscription_changes_split_and_capacity():
    down = tier_down_ports(128, oversubscription=(3.0,), field="t")
    assert down[0] == 96  # 96 down : 32 up = 3:1
    assert fat_tree_capacity(radix=128, down_ports=down, tiers=2) == 128 * 96
    f1 = build_fabric(_h100(8192 * 8))
    f3 = build_fabric(_h100(8192 * 8, oversubscription=(3.0,)))
    assert f3.switches < f1.switches
    assert f3.bisection_bw_bytes_per_s < f1.bisection_bw_bytes_per_s
    assert f3.scaleout_bw_bytes_per_s[1] == pytest.approx(f1.scaleout_bw_bytes_per_s[1] / 3.0)


def test_bisection_of_non_blocking_tree_is_half_the_endpoints():
    # one plane, 1:1 and fully populated: bisection = endpoints/2 x port rate
    f = build_fabric(_h100(8192, gpus_per_node=1, scaleup_domain=1, kind=FabricKind.FAT_TREE))
    assert f.tiers == 2
    assert f.bisection_bw_bytes_per_s == pytest.approx(8192 / 2 * 400e9 / 8)


def test_vectorised_counts_match_scalar():
    down = tier_down_ports(64, oversubscription=(1.0, 2.0), field="t")
    hosts = np.array([1, 63, 64, 65, 2048, 2049, 40_000, 65_536])
    tiers, sw = fat_tree_switch_counts(hosts, radix=64, down_ports=down)
    for i, h in enumerate(hosts):
        t1, s1 = fat_tree_switch_counts(int(h), radix=64, down_ports=down)
        assert int(t1) == tiers[i]
        assert s1.tolist() == sw[i].tolist()


# ----------------------------------------------------------------- properties

configs = st.fixed_dictionaries(
    {
        "num_gpus": st.integers(min_value=1, max_value=1_200_000),
        "gpus_per_node": st.sampled_from([1, 4, 8]),
        "nics_per_gpu": st.sampled_from([1, 2]),
        "switch": st.sampled_from(["sn5600", "qm9700", "generic-64x400g", "sn5400"]),
        "kind": st.sampled_from(list(FabricKind)),
        "over": st.sampled_from([(), (1.0,), (3.0,), (0.5, 2.0), (1.0, 7.0)]),
    }
)


def _cfg(d: dict, num_gpus: int | None = None) -> FabricConfig:
    return FabricConfig(
        num_gpus=num_gpus if num_gpus is not None else d["num_gpus"],
        gpus_per_node=d["gpus_per_node"],
        scaleup_domain=d["gpus_per_node"],
        nic_gbit_per_s=400,
        nics_per_gpu=d["nics_per_gpu"],
        switch=d["switch"],
        kind=d["kind"],
        oversubscription=d["over"],
    )


def _build_or_none(cfg: FabricConfig):
    try:
        return build_fabric(cfg)
    except InputError as e:
        assert "tiers" in str(e)  # the only acceptable failure: too big for MAX_TIERS
        return None


@settings(max_examples=150, deadline=None)
@given(d=configs)
def test_never_fewer_ports_than_endpoints(d):
    f = _build_or_none(_cfg(d))
    if f is None:
        return
    endpoints = d["num_gpus"] * d["nics_per_gpu"]
    assert f.endpoint_ports >= endpoints
    leaf_down = f.switches_per_tier[0] * f.down_ports_per_tier[0]
    assert leaf_down >= f.endpoint_ports
    assert f.switch_ports >= f.endpoint_ports
    # every tier can carry the links that enter it from below
    for t in range(f.tiers):
        assert f.switches_per_tier[t] * f.down_ports_per_tier[t] >= f.links_per_tier[t]
    assert 1 <= f.tiers <= MAX_TIERS
    assert f.max_hops == 2 * f.tiers - 1
    assert all(math.isfinite(x) for x in (f.power_w, f.cost_usd, f.bisection_bw_bytes_per_s))
    assert list(f.gpus_per_level) == sorted(f.gpus_per_level)
    assert f.gpus_per_level[-1] == d["num_gpus"]


@settings(max_examples=100, deadline=None)
@given(d=configs, extra=st.integers(min_value=1, max_value=300_000))
def test_counts_grow_monotonically_with_gpus(d, extra):
    a = _build_or_none(_cfg(d))
    b = _build_or_none(_cfg(d, d["num_gpus"] + extra))
    if a is None or b is None:
        return
    assert b.tiers >= a.tiers
    pa = a.switches_per_tier + (0,) * (MAX_TIERS - a.tiers)
    pb = b.switches_per_tier + (0,) * (MAX_TIERS - b.tiers)
    assert all(y >= x for x, y in zip(pa, pb, strict=True))
    assert b.switches >= a.switches
    assert b.cost_usd >= a.cost_usd
    assert b.power_w >= a.power_w
    assert sum(b.transceivers.values()) >= sum(a.transceivers.values())


# ----------------------------------------------------------------- bill of materials


def test_power_and_cost_are_the_bom_from_the_catalog():
    f = build_fabric(_h100(20_000))
    fabric_lines = [b for b in f.bom if b.kind != "nic"]
    assert f.power_w == pytest.approx(sum(b.power_w for b in fabric_lines))
    assert f.cost_usd == pytest.approx(sum(b.cost_usd for b in fabric_lines))
    sw = next(b for b in f.bom if b.kind == "switch")
    assert sw.count == f.switches
    assert sw.unit_power_w == NET["sn5600"].values["power_w"]
    nic = next(b for b in f.bom if b.kind == "nic")
    assert nic.item == "bluefield-3-supernic" and nic.count == 20_000
    # optics: every inter-switch link has two switch-side ends; 800G twin-port modules
    inter = sum(f.links_per_tier[1:])
    assert f.transceivers["osfp-800g-2xdr4"] == math.ceil(
        (2 * inter + f.endpoint_ports) * 400 / 800
    )
    assert f.cables["fiber-mpo12-smf"] == inter + f.endpoint_ports


def test_copper_host_links_use_dac_and_no_nic_optics():
    f = build_fabric(_h100(4096, kind=FabricKind.FAT_TREE, host_link=HostLink.AUTO))
    assert "dac-800g-2x400g" in f.cables
    assert f.cables["dac-800g-2x400g"] == math.ceil(f.endpoint_ports / 2)
    assert "qsfp112-400g-dr4" not in f.transceivers


def test_cost_per_gpu_is_plausible():
    # cross-check of the [ESTIMATE] prices: fabric + NICs ~ 19% of a ~50 k$/GPU cluster
    # (EP-COST interconnect share; H100-FREAKONOMICS all-in 47-52 k$ per H100)
    f = build_fabric(_h100(100_000))
    per_gpu = (f.cost_usd + f.nic_cost_usd) / 100_000
    assert 0.10 * 47_000 < per_gpu < 0.30 * 52_000


def test_gb300_nvl72_with_800g_cx8_on_quantum_x800():
    f = build_fabric(
        FabricConfig(
            num_gpus=20_000,
            gpus_per_node=4,
            scaleup_domain=72,
            nic_gbit_per_s=800,
            switch="q3400",
            gpu="gb300",
        )
    )
    assert f.tiers == 2  # 5,000 nodes per rail plane <= 144^2/2
    assert f.in_network_reduction
    assert f.transceivers["osfp-800g-2xdr4"] == 20_000  # one per ConnectX-8


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kw", "field", "text"),
    [
        ({"switch": "sn560"}, "switch", "did you mean 'sn5600'"),
        ({"switch": "connectx-7"}, "switch", "not a switch"),
        ({"port_gbit_per_s": 100}, "port_gbit_per_s", "no 100 Gb/s breakout"),
        ({"port_gbit_per_s": 800}, "port_gbit_per_s", "400"),
        ({"oversubscription": (0.0,)}, "oversubscription", "> 0"),
        ({"oversubscription": (0.001,)}, "oversubscription", "no down port"),
        ({"nic": "connectx-8"}, "nic", "800"),
        ({"efficiency": "fast"}, "efficiency", "unknown"),
        ({"num_gpus": 0}, "num_gpus", ">= 1"),
    ],
)
def test_bad_input_names_the_field(kw, field, text):
    with pytest.raises(InputError) as err:
        build_fabric(_h100(kw.pop("num_gpus", 1000), **kw))
    assert field in err.value.field
    assert text in str(err.value)


def test_too_big_for_max_tiers():
    with pytest.raises(InputError, match="tiers"):
        build_fabric(_h100(3_000_000, switch="generic-64x400g", kind=FabricKind.FAT_TREE))


# ----------------------------------------------------------------- scenario and report


def test_scenario_section_defaults_build():
    sec = FabricSection()
    cfg = sec.to_config(100_000, 8, 8, gpu="h100-sxm-80gb")
    assert cfg.kind is FabricKind.RAIL_FAT_TREE
    assert cfg.switch == "sn5600"
    assert cfg.nic_gbit_per_s == 400  # from the GPU catalog
    assert cfg.oversubscription == (1.0,)
    f = build_fabric(cfg)
    assert f.port_gbit_per_s == 400 and f.efficiency == pytest.approx(0.95)


def test_scenario_section_options_and_errors():
    sec = FabricSection(
        switch="sn5600", adaptive_routing=False, oversubscription=[1.0, 3.0], nic_gbit_per_s=400
    )
    cfg = sec.to_config(10_000, 8, 8)
    assert cfg.efficiency == "ethernet" and cfg.oversubscription == (1.0, 3.0)
    with pytest.raises(ValidationError, match="did you mean"):
        FabricSection(switch="qm970")
    with pytest.raises(ValidationError):
        FabricSection(bogus=1)
    with pytest.raises(ValidationError):
        FabricSection(nic_gbit_per_s=-400)
    with pytest.raises(ValidationError, match="Ethernet"):
        FabricSection(switch="qm9700", adaptive_routing=True)
    with pytest.raises(InputError, match="nic_gbit_per_s"):
        FabricSection().to_config(100, 8, 8)


def test_report_json_is_json_safe_and_tables_render():
    f = build_fabric(_h100(100_000))
    bus = bus_bandwidth_table(f, 2**30)
    out = fabric_to_json(f, bus)
    text = json.dumps(out, allow_nan=False)
    for key in (
        "tiers",
        "switches",
        "transceivers",
        "bisection_bw_bytes_per_s",
        "power_w",
        "cost_usd",
    ):
        assert key in out
    assert out["switches"]["total"] == 3920
    assert out["switches"]["per_tier"] == {"leaf": 1568, "spine": 1568, "core": 784}
    assert set(out["bus_bandwidth"]["busbw_bytes_per_s"]) == {
        "all_reduce",
        "reduce_scatter",
        "all_gather",
        "all_to_all",
        "send_recv",
    }
    assert "NaN" not in text
    console = Console(width=120, no_color=True, record=True)
    tables = fabric_tables(f, bus)
    assert len(tables) == 3
    for t in tables:
        console.print(t)
    rendered = console.export_text()
    assert "sn5600" in rendered and "all_reduce" in rendered


def test_default_breakout_follows_a_200g_nic() -> None:
    """A 200 Gb/s NIC (A100 era) on a switch whose default breakout is 400G gets the 200G
    breakout (256 ports on an SN5600) instead of an error."""
    from colossim.fabric import build_fabric
    from colossim.fabric.topology import FabricConfig

    f = build_fabric(
        FabricConfig(
            num_gpus=1024, gpus_per_node=8, scaleup_domain=8, nic_gbit_per_s=200, switch="sn5600"
        )
    )
    assert f.port_gbit_per_s == 200
    assert f.radix == 256
