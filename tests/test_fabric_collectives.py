"""Collective cost model: published bandwidths, closed forms, properties.

Source keys in comments (S-NET, NCCL-TESTS-212, ...) are entries of docs/sources.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.catalog import load_catalog
from colossim.errors import InputError
from colossim.fabric import (
    Collective,
    FabricConfig,
    LinkLevels,
    build_fabric,
    bus_bandwidth_bytes_per_s,
    bus_bandwidth_table,
    collective_time_s,
    link_levels,
    link_levels_simple,
)

GIB = 2**30
MIB = 2**20
NCCL = load_catalog("network")["nccl-tune"].values


def _h100(efficiency="infiniband", **kw):
    return link_levels_simple(
        450e9, scaleup_domain=8, nic_bw_bytes_per_s=50e9, efficiency=efficiency, **kw
    )


def _busbw(op, size, g, s, levels, algorithm="auto"):
    t = collective_time_s(
        op, size_bytes=size, group_size=g, stride=s, levels=levels, algorithm=algorithm
    )
    return bus_bandwidth_bytes_per_s(op, size_bytes=size, time_s=t, group_size=g)


# ----------------------------------------------------------------- published figures


def test_8x_h100_allreduce_ring_and_nvls_in_published_ranges():
    # github NVIDIA/nccl-tests issue #212 (NCCL-TESTS-212): ring ~370 GB/s busbw, NVLS ~480 (H200 16 GiB: 367.6 / 482.3)
    lv = _h100()
    ring = _busbw(Collective.ALL_REDUCE, 16 * GIB, 8, 1, lv, "ring")
    nvls = _busbw(Collective.ALL_REDUCE, 16 * GIB, 8, 1, lv, "nvls")
    auto = _busbw(Collective.ALL_REDUCE, 16 * GIB, 8, 1, lv)
    assert 355e9 <= ring <= 385e9
    assert 465e9 <= nvls <= 495e9
    assert auto == pytest.approx(max(ring, nvls))
    ag = _busbw(Collective.ALL_GATHER, 16 * GIB, 8, 1, lv)
    assert 350e9 <= ag <= 380e9  # H200 all-gather 361.4 GB/s (S-NET)


@pytest.mark.parametrize(
    ("profile", "lo", "hi"), [("infiniband", 46e9, 48e9), ("efa-measured", 36e9, 38e9)]
)
def test_multinode_allreduce_per_nic_rate(profile, lo, hi):
    # 4 nodes x 8 GPUs, one 400G NIC per GPU. Hierarchical relation (S-NET):
    # per-accelerator NIC rate = busbw x (k-1)/(n-1). NVIDIA: 46-48 GB/s per NDR NIC;
    # AWS EFA 4x8 B200: 381.8 GB/s busbw -> 36.95 GB/s per accelerator (S-NET).
    lv = link_levels_simple(
        900e9, scaleup_domain=8, nic_bw_bytes_per_s=50e9, efficiency=profile, generation="blackwell"
    )
    busbw = _busbw(Collective.ALL_REDUCE, 16 * GIB, 32, 1, lv)
    per_nic = busbw * (4 - 1) / (32 - 1)
    assert lo <= per_nic <= hi
    if profile == "efa-measured":
        assert busbw == pytest.approx(381.8e9, rel=0.03)
    # one GPU per node: the ring runs on the NIC alone, busbw = achievable NIC rate
    single = _busbw(Collective.ALL_REDUCE, 16 * GIB, 4, 8, lv)
    assert lo <= single <= hi


def test_small_messages_are_latency_bound():
    lv = _h100()
    sizes = np.array([1 * MIB, 8 * MIB, 16 * GIB], dtype=float)
    bb = _busbw(Collective.ALL_REDUCE, sizes, 8, 1, lv)
    # S-NET 8x H200 NVLS payload curve: poor below ~8.4 MB, near peak above ~0.5 GB
    assert bb[0] < 0.25 * bb[2]
    assert bb[1] < 0.7 * bb[2]
    tiny = collective_time_s(
        Collective.ALL_REDUCE, size_bytes=8.0, group_size=8, stride=1, levels=lv
    )
    assert tiny >= NCCL["base_latency_us"]["ring"][0] * 1e-6  # at least NCCL's base latency


# ----------------------------------------------------------------- closed forms


def test_ring_allreduce_closed_form_single_domain():
    # NCCL-TUNE ring: base + 2(n-1) x intra step latency; bandwidth 2(n-1)/n x S / B
    lv = _h100()
    size = 4.0 * GIB
    t = collective_time_s(
        Collective.ALL_REDUCE, size_bytes=size, group_size=8, stride=1, levels=lv, algorithm="ring"
    )
    b = 450e9 * load_catalog("network")["scaleup-hopper"].values["ring_efficiency"]
    simple = 2
    expect = (
        NCCL["base_latency_us"]["ring"][simple] * 1e-6
        + 2 * 7 * NCCL["nvlink_latency_us"]["ring"][simple] * 1e-6
        + 2 * 7 / 8 * size / b
    )
    assert t == pytest.approx(expect, rel=1e-12)


def test_send_recv_closed_form_across_nodes():
    lv = _h100()
    size = 1.0 * GIB
    t = collective_time_s(Collective.SEND_RECV, size_bytes=size, group_size=2, stride=8, levels=lv)
    simple = 2
    lat = (NCCL["base_latency_us"]["ring"][simple] + NCCL["net_latency_us"]["ring"][simple]) * 1e-6
    assert t == pytest.approx(lat + size / (50e9 * 0.94), rel=1e-12)


def test_reduce_scatter_equals_all_gather_and_half_allreduce_bandwidth():
    lv = _h100()
    kw = dict(
        size_bytes=np.array([64 * GIB]), group_size=np.array([64]), stride=np.array([1]), levels=lv
    )
    rs = collective_time_s(Collective.REDUCE_SCATTER, **kw, algorithm="ring")
    ag = collective_time_s(Collective.ALL_GATHER, **kw, algorithm="ring")
    ar = collective_time_s(Collective.ALL_REDUCE, **kw, algorithm="ring")
    assert rs == pytest.approx(ag)
    assert ar == pytest.approx(2 * rs, rel=0.02)  # all-reduce = RS + AG for large messages


def test_in_switch_falls_back_to_ring_without_nvls():
    lv = link_levels_simple(
        300e9, scaleup_domain=8, nic_bw_bytes_per_s=25e9, efficiency=0.9, generation="ampere"
    )
    kw = dict(size_bytes=GIB, group_size=8, stride=1, levels=lv)
    assert collective_time_s(Collective.ALL_REDUCE, **kw, algorithm="in_switch") == pytest.approx(
        collective_time_s(Collective.ALL_REDUCE, **kw, algorithm="ring")
    )
    # A100: 234.9 GB/s ring busbw (S-NET, measured nccl-tests)
    assert 225e9 <= _busbw(Collective.ALL_REDUCE, 16 * GIB, 8, 1, lv) <= 245e9


def test_tree_only_changes_allreduce():
    lv = _h100()
    kw = dict(size_bytes=MIB, group_size=64, stride=1, levels=lv)
    for op in (Collective.REDUCE_SCATTER, Collective.ALL_GATHER, Collective.ALL_TO_ALL):
        assert collective_time_s(op, **kw, algorithm="tree") == collective_time_s(
            op, **kw, algorithm="ring"
        )


def test_sharp_speeds_up_inter_node_allreduce():
    ib = link_levels_simple(
        450e9,
        scaleup_domain=8,
        nic_bw_bytes_per_s=50e9,
        efficiency="infiniband",
        in_network_reduction=True,
    )
    kw = dict(size_bytes=4 * GIB, group_size=64, stride=8, levels=ib)
    assert collective_time_s(Collective.ALL_REDUCE, **kw, algorithm="sharp") < collective_time_s(
        Collective.ALL_REDUCE, **kw, algorithm="ring"
    )


# ----------------------------------------------------------------- properties

ops = st.sampled_from(list(Collective))
algos = st.sampled_from(["auto", "ring", "tree", "in_switch"])


@settings(max_examples=100, deadline=None)
@given(
    op=ops,
    algo=algos,
    g=st.integers(min_value=1, max_value=200_000),
    s=st.sampled_from([1, 2, 4, 8, 16, 64, 512]),
    sizes=st.lists(st.floats(min_value=0, max_value=1e12), min_size=1, max_size=20),
)
def test_time_finite_nonnegative_and_monotone_in_size(op, algo, g, s, sizes):
    f = build_fabric(
        FabricConfig(
            num_gpus=100_000,
            gpus_per_node=8,
            scaleup_domain=8,
            nic_gbit_per_s=400,
            switch="qm9700",
            gpu="h100-sxm-80gb",
        )
    )
    lv = link_levels(f)
    size = np.sort(np.asarray(sizes))
    t = collective_time_s(op, size_bytes=size, group_size=g, stride=s, levels=lv, algorithm=algo)
    assert t.shape == size.shape
    assert np.all(np.isfinite(t)) and np.all(t >= 0)
    assert np.all(np.diff(t) >= -1e-15 * np.maximum(t[1:], 1.0))
    if g == 1:
        assert np.all(t == 0)


@settings(max_examples=60, deadline=None)
@given(op=ops, g=st.integers(min_value=2, max_value=4096), s=st.sampled_from([1, 8, 64]))
def test_lower_efficiency_is_never_faster(op, g, s):
    fast = collective_time_s(op, size_bytes=GIB, group_size=g, stride=s, levels=_h100("spectrum-x"))
    slow = collective_time_s(op, size_bytes=GIB, group_size=g, stride=s, levels=_h100("ethernet"))
    assert slow >= fast


def test_broadcasting_and_empty_inputs():
    lv = _h100()
    t = collective_time_s(
        Collective.ALL_REDUCE,
        size_bytes=np.array([[1e6], [1e9]]),
        group_size=np.array([1, 8, 64]),
        stride=1,
        levels=lv,
    )
    assert t.shape == (2, 3)
    assert np.all(t[:, 0] == 0)
    empty = collective_time_s(
        Collective.ALL_GATHER, size_bytes=np.array([]), group_size=8, stride=1, levels=lv
    )
    assert empty.shape == (0,)
    assert (
        collective_time_s(Collective.ALL_TO_ALL, size_bytes=0.0, group_size=8, stride=1, levels=lv)
        == 0
    )


# ----------------------------------------------------------------- levels and table


def test_link_levels_of_a_fabric():
    f = build_fabric(
        FabricConfig(
            num_gpus=100_000,
            gpus_per_node=8,
            scaleup_domain=8,
            nic_gbit_per_s=400,
            switch="sn5600",
            gpu="h100-sxm-80gb",
        )
    )
    lv = link_levels(f)
    assert len(lv.bw_bytes_per_s) == f.tiers + 1
    assert lv.ranks_per_level == (8, 512, 32_768, 100_000)
    assert lv.bw_bytes_per_s[1] == pytest.approx(50e9 * 0.95)  # Spectrum-X 95% (NV-COLOSSUS-PR)
    assert list(lv.latency_s) == sorted(lv.latency_s)  # more switch hops at higher levels
    assert lv.in_switch_bw_bytes_per_s[1:] == (0.0, 0.0, 0.0)  # no SHARP on Spectrum-X Ethernet
    table = bus_bandwidth_table(f, GIB)
    assert table.level_names[0] == "scale-up domain"
    assert len(table.busbw_bytes_per_s) == 5
    assert all(len(row) == 4 and all(np.isfinite(row)) for row in table.busbw_bytes_per_s)
    ar = dict(zip(table.collectives, table.busbw_bytes_per_s, strict=True))[Collective.ALL_REDUCE]
    assert ar[0] > ar[1]  # NVLink beats the network


def test_link_levels_needs_a_gpu_or_bandwidth():
    f = build_fabric(
        FabricConfig(
            num_gpus=64, gpus_per_node=8, scaleup_domain=8, nic_gbit_per_s=400, switch="sn5600"
        )
    )
    with pytest.raises(InputError, match="scale-up"):
        link_levels(f)
    lv = link_levels(f, scaleup_bw_bytes_per_s=450e9, generation="hopper")
    assert lv.bw_bytes_per_s[0] == pytest.approx(369e9)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"group_size": 0}, "group_size"),
        ({"group_size": 2.5}, "group_size"),
        ({"stride": 0}, "stride"),
        ({"size_bytes": -1.0}, "size_bytes"),
        ({"size_bytes": np.nan}, "size_bytes"),
        ({"algorithm": "butterfly"}, "algorithm"),
    ],
)
def test_bad_collective_input(kw, field):
    args = dict(size_bytes=1e6, group_size=8, stride=1, levels=_h100(), algorithm="auto")
    args.update(kw)
    with pytest.raises(InputError) as err:
        collective_time_s(Collective.ALL_REDUCE, **args)
    assert err.value.field == field


def test_bad_link_levels():
    with pytest.raises(InputError, match="same length"):
        LinkLevels(bw_bytes_per_s=(1e9, 1e9), latency_s=(1e-6,), ranks_per_level=(8, 16))
    with pytest.raises(InputError, match="non-decreasing"):
        LinkLevels(bw_bytes_per_s=(1e9, 1e9), latency_s=(1e-6, 1e-6), ranks_per_level=(16, 8))
    with pytest.raises(InputError, match="> 0"):
        LinkLevels(bw_bytes_per_s=(0.0,), latency_s=(1e-6,), ranks_per_level=(8,))
    # a hand-built LinkLevels (no in-switch data) works
    lv = LinkLevels(
        bw_bytes_per_s=(300e9, 40e9), latency_s=(3e-6, 15e-6), ranks_per_level=(8, 1024)
    )
    assert (
        collective_time_s(Collective.ALL_REDUCE, size_bytes=1e9, group_size=64, stride=1, levels=lv)
        > 0
    )
