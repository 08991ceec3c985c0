"""The build-out timeline (`phases`, `colossim roadmap`): cumulative GPUs and capex, the
power check, and clear errors for bad phases."""

from __future__ import annotations

import copy

import pytest

from colossim.scenario.load import example_text
from colossim.yamlio import dump_yaml, load_yaml
from helpers import cli, cli_json


@pytest.fixture(scope="module")
def example() -> dict:
    return cli_json("roadmap", "colossus-roadmap", "--trials", "20")


def _data() -> dict:
    return load_yaml(example_text("colossus-roadmap"), filename="x")[0]


def test_roadmap_example_has_every_phase_figure(example: dict) -> None:
    phases = example["phases"]
    assert len(phases) >= 4
    for ph in phases:
        for key in (
            "date",
            "num_gpus",
            "it_power_w",
            "facility_power_w",
            "capex_usd_cumulative",
            "days_to_train",
        ):
            assert ph[key] is not None and ph[key] == ph[key], key
        assert ph["days_to_train"] > 0 and ph["it_power_w"] > 0
    assert [p["date"] for p in phases] == sorted(p["date"] for p in phases)
    assert phases[0]["num_gpus"] == 20_000 and phases[-1]["num_gpus"] == 1_000_000


def test_roadmap_sums_are_cumulative(example: dict) -> None:
    """GPUs are the running sum of what each phase adds; capex spent is the running sum
    of each phase's additions and never falls; power grows with the cluster."""
    added = [sum(p["num_gpus"] for p in ph["partitions"]) for ph in _data()["phases"]]
    phases = example["phases"]
    running = 0
    capex = 0.0
    for ph, add in zip(phases, added, strict=True):
        running += add
        capex += ph["capex_added_usd"]
        assert ph["num_gpus"] == running
        assert sum(ph["gpus"].values()) == running
        assert ph["capex_usd_cumulative"] == pytest.approx(capex)
    cum = [p["capex_usd_cumulative"] for p in phases]
    it = [p["it_power_w"] for p in phases]
    assert cum == sorted(cum) and it == sorted(it)
    # Same-GPU partitions added in several phases are one partition.
    assert list(phases[1]["gpus"]) == ["h100-sxm-80gb"]


def _write(tmp_path, data: dict) -> str:
    path = tmp_path / "r.yaml"
    path.write_text(dump_yaml(data))
    return str(path)


def test_phases_out_of_date_order_are_refused(tmp_path) -> None:
    data = _data()
    data["phases"][2]["date"] = data["phases"][0]["date"]
    res = cli("roadmap", _write(tmp_path, data))
    assert res.exit_code == 2
    assert "phases" in res.output and "date order" in res.output


def test_power_short_of_the_it_load_is_refused_naming_the_phase(tmp_path) -> None:
    data = _data()
    data["phases"][1]["grid_mw"] = 10
    data["phases"][1]["onsite_mw"] = 0
    res = cli("roadmap", _write(tmp_path, data), "--trials", "5")
    assert res.exit_code == 2
    assert "phases[1].grid_mw" in res.output and "short of the IT load" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda d: d["phases"][0]["partitions"][0].update(gpu="h999"), "gpu"),
        (lambda d: d["phases"][0]["partitions"][0].update(num_gpus=0), "num_gpus"),
        (lambda d: d["phases"][0].update(partitions=[]), "phases[0] adds no partitions"),
        (lambda d: d["phases"][0].update(date="someday"), "date"),
        (lambda d: d["phases"][0].update(grid_mw=-5), "grid_mw"),
    ],
)
def test_bad_phases_are_refused(tmp_path, mutate, needle: str) -> None:
    data = copy.deepcopy(_data())
    mutate(data)
    res = cli("roadmap", _write(tmp_path, data))
    assert res.exit_code == 2, res.output
    assert needle in res.output


def test_roadmap_without_phases_says_so() -> None:
    res = cli("roadmap", "colossus-100k-h100")
    assert res.exit_code == 2
    assert "phases" in res.output


def test_report_of_a_roadmap_has_partitions_and_build_out_figures(tmp_path) -> None:
    """The HTML report of a partitioned scenario with phases adds the partitions table and
    the build-out section with its three figures (capacity, power, capex over time)."""
    out = tmp_path / "r.html"
    js = cli_json("report", "colossus-roadmap", "-o", str(out), "--no-campaign")
    assert {"partitions", "roadmap"} <= set(js["sections"])
    html = out.read_text(encoding="utf-8")
    for title in ("Capacity over time", "Power over time", "Capex spent over time"):
        assert title in html
    assert "gb200" in html and "2027-06-30" in html
