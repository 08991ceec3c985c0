"""Failure model (campaign/failures.py): catalog rates reproduce Llama 3 Table 5, closed forms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.campaign.failures import (
    ClusterCounts,
    FailureCause,
    FailureUnit,
    cause_rates,
    expected_interruptions,
    failure_profile,
    failure_profile_ids,
    mtbi_s,
    total_rate_per_s,
    unit_count,
)
from colossim.errors import InputError
from colossim.units import SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_MINUTE, SECONDS_PER_YEAR

PROFILE = failure_profile("llama3-h100")
LLAMA = ClusterCounts(
    num_gpus=16_384,
    gpus_per_node=8,
    nics_per_node=8,
    cpus_per_node=2,
    leaf_switches=1024,
    leaf_gpus=16,
    zone_gpus=512,
)
WINDOW_S = 54 * SECONDS_PER_DAY


def counts(num_gpus: int) -> ClusterCounts:
    return ClusterCounts(num_gpus=num_gpus, gpus_per_node=8, nics_per_node=8, cpus_per_node=2)


def test_profile_is_listed_and_has_the_18_table5_causes_plus_planned() -> None:
    assert "llama3-h100" in failure_profile_ids()
    table5 = [c for c in PROFILE.causes if not c.planned and c.domain is None]
    assert len(table5) == 18
    assert sum(c.reference_count for c in table5) == 419
    assert [c.reference_count for c in PROFILE.causes if c.planned] == [47]
    # The shared failure domains come on top, with no Table 5 count of their own.
    domains = [c for c in PROFILE.causes if c.domain is not None]
    assert [c.domain.value for c in domains] == ["leaf_switch", "power_zone"]
    assert all(c.reference_count is None and c.repair_s > 0 for c in domains)


def _predicted(cause: FailureCause) -> float:
    units = unit_count(PROFILE.reference_counts, cause.unit)
    return cause.rate_per_unit_year * units * PROFILE.reference_window_s / SECONDS_PER_YEAR


def test_every_catalog_rate_is_its_table5_count_over_the_exposure() -> None:
    # [DERIVED] rate = count / (units x 54 d / 365.25 d): recompute each one.
    assert PROFILE.reference_counts == LLAMA
    by_name = {c.name: c for c in PROFILE.causes}
    for cause in PROFILE.causes:
        if cause.reference_count is None or cause.name == "network_switch_cable":
            continue
        assert _predicted(cause) == pytest.approx(cause.reference_count, rel=1e-3), cause.name
    # Network switch/cable: the per-GPU cause plus the leaf-switch failure domain on the
    # reference's 1,024 leaves make Llama 3's 35; the leaf part alone is 12.2.
    network = _predicted(by_name["network_switch_cable"]) + _predicted(by_name["leaf_switch"])
    assert network == pytest.approx(35, rel=1e-3)
    assert _predicted(by_name["leaf_switch"]) == pytest.approx(12.23, rel=1e-3)


def test_llama3_window_expects_419_unexpected_and_47_planned() -> None:
    rates = cause_rates(PROFILE, LLAMA)
    assert expected_interruptions(rates, exposure_s=WINDOW_S, planned=False) == pytest.approx(
        419, rel=1e-3
    )
    assert expected_interruptions(rates, exposure_s=WINDOW_S, planned=True) == pytest.approx(
        47, rel=1e-3
    )
    # Llama 3 paper (Dubey et al. 2024, arXiv:2407.21783, sec. 3.3.4): 419 unexpected and
    # 47 planned interruptions in 54 days -> MTBI 3.09 h unexpected, 2.78 h with planned
    # [DERIVED].
    assert mtbi_s(rates) / SECONDS_PER_HOUR == pytest.approx(3.09, rel=0.01)
    assert mtbi_s(rates, planned=None) / SECONDS_PER_HOUR == pytest.approx(2.78, rel=0.01)


def test_gpu_share_and_per_gpu_year_figures_match_llama3() -> None:
    gpu = [c for c in PROFILE.causes if c.category == "gpu"]
    # Llama 3 paper, Table 5 [DERIVED]: GPU-attributed 268 events, 11.1% per GPU-year.
    assert sum(c.reference_count for c in gpu) == 268
    assert sum(c.rate_per_unit_year for c in gpu) == pytest.approx(0.111, rel=0.01)


@pytest.mark.parametrize(("num_gpus", "minutes"), [(100_000, 30.0), (1_000_000, 3.0)])
def test_mtbi_scales_with_gpu_count(num_gpus: int, minutes: float) -> None:
    # Rate proportional to GPUs [DERIVED]: ~30 min at 100k GPUs, ~3 min at 1M, as in Epoch AI,
    # "Hardware failures won't limit AI scaling"
    # (epoch.ai/blog/hardware-failures-wont-limit-ai-scaling).
    assert mtbi_s(cause_rates(PROFILE, counts(num_gpus))) / SECONDS_PER_MINUTE == pytest.approx(
        minutes, rel=0.1
    )


@settings(max_examples=40, deadline=None)
@given(
    nodes=st.integers(min_value=1, max_value=200_000),
    factor=st.integers(min_value=2, max_value=8),
    multiplier=st.floats(min_value=0.0, max_value=10.0),
)
def test_rates_are_linear_in_size_and_multiplier_spares_planned(
    nodes: int, factor: int, multiplier: float
) -> None:
    small = cause_rates(PROFILE, counts(8 * nodes))
    big = cause_rates(PROFILE, counts(8 * nodes * factor))
    assert total_rate_per_s(big, planned=False) == pytest.approx(
        factor * total_rate_per_s(small, planned=False), rel=1e-9
    )
    # Planned maintenance is per job: it does not grow with the cluster.
    assert total_rate_per_s(big, planned=True) == pytest.approx(
        total_rate_per_s(small, planned=True), rel=1e-12
    )
    scaled = cause_rates(PROFILE, counts(8 * nodes), multiplier=multiplier)
    assert total_rate_per_s(scaled, planned=False) == pytest.approx(
        multiplier * total_rate_per_s(small, planned=False), rel=1e-9, abs=1e-30
    )
    assert total_rate_per_s(scaled, planned=True) == total_rate_per_s(small, planned=True)


def test_override_replaces_one_cause_and_unknown_cause_is_named() -> None:
    rates = cause_rates(PROFILE, LLAMA, overrides_per_unit_year={"faulty_gpu": 0.0})
    by_name = {r.name: r.rate_per_s for r in rates}
    assert by_name["faulty_gpu"] == 0.0
    base = {r.name: r.rate_per_s for r in cause_rates(PROFILE, LLAMA)}
    assert by_name["gpu_hbm3"] == base["gpu_hbm3"]
    with pytest.raises(InputError, match="did you mean 'faulty_gpu'"):
        cause_rates(PROFILE, LLAMA, overrides_per_unit_year={"faulty_gpus": 0.1})
    with pytest.raises(InputError, match="faulty_gpu"):
        cause_rates(PROFILE, LLAMA, overrides_per_unit_year={"faulty_gpu": -1.0})


def test_without_planned_and_unit_counts() -> None:
    rates = cause_rates(PROFILE, LLAMA, include_planned=False)
    assert not any(r.planned for r in rates)
    c = ClusterCounts(
        num_gpus=64,
        gpus_per_node=8,
        nics_per_node=4,
        cpus_per_node=2,
        num_switches=3,
        leaf_switches=5,
        zone_gpus=24,
    )
    assert [unit_count(c, u) for u in FailureUnit] == [64, 8, 32, 16, 3, 8, 5, 3, 1]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"num_gpus": 12, "gpus_per_node": 8}, "num_gpus"),
        ({"num_gpus": 0, "gpus_per_node": 8}, "num_gpus"),
        ({"num_gpus": 8, "gpus_per_node": 8, "nics_per_node": -1}, "nics_per_node"),
    ],
)
def test_bad_counts_raise_input_error(kwargs: dict, field: str) -> None:
    full = {"nics_per_node": 8, "cpus_per_node": 2} | kwargs
    with pytest.raises(InputError) as err:
        ClusterCounts(**full)
    assert err.value.field == field


def test_unknown_or_wrong_kind_profile_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="did you mean 'llama3-h100'"):
        failure_profile("llama3-h10")
    with pytest.raises(InputError, match="not a failure profile"):
        failure_profile("recovery-default")


def test_zero_rate_has_no_mtbi() -> None:
    rates = cause_rates(PROFILE, LLAMA, multiplier=0.0, include_planned=False)
    assert total_rate_per_s(rates) == 0.0
    with pytest.raises(InputError):
        mtbi_s(rates)
    assert math.isfinite(expected_interruptions(rates, exposure_s=1e9))
