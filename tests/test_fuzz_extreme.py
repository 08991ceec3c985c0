"""Fuzz the CLI with extreme but valid scenarios, alone and several at once: 1, 7 and 3M
GPUs, sequences of 1 and 1M tokens, a 1-layer and a ~10T-parameter model, the batch,
token, memory-headroom, trace, failure, grid and price settings at their bounds, across
``plan``, ``estimate``, ``fabric``, ``power``, ``cost`` and ``campaign`` (text and JSON).

Every run must end with exit 0, 1 or 2 (never a traceback or an internal error), print no
NaN or infinity, and finish in bounded time. Hypothesis runs derandomized (the same
examples on every run). Commands run as a user runs them (a campaign picks its own,
bounded, trial count); the whole file stays under a minute on two cores.
``COLOSSIM_FUZZ_SCALE=10`` explores ten times as many combinations.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
import time
import typing
from pathlib import Path

import annotated_types as at
import pytest
import yaml
from hypothesis import given, note
from hypothesis import strategies as st
from pydantic import BaseModel

from colossim.scenario.facility import MAX_GRID_MW, MIN_LIFETIME_YEARS
from colossim.scenario.reliability import MAX_FAILURE_RATE_MULTIPLIER, MIN_WINDOW_DAYS
from colossim.scenario.schema import MAX_GLOBAL_BATCH, MAX_TOKENS, MIN_TOKENS, Scenario
from colossim.workload.model import spec_from_dict
from colossim.yamlio import load_yaml
from helpers import SMALL_SCENARIO, cli, cli_json
from test_fuzz_cli import _run_and_check, _settings

# One run of any command on any of these scenarios: far below a minute (the slowest,
# a 3M-GPU search with the largest batch, takes a few seconds).
RUN_LIMIT_S = 30.0

TINY_MODEL = {"name": "one-layer", "layers": 1, "hidden": 64, "heads": 1, "ffn_hidden": 256, "vocab": 32}  # fmt: skip
# 224 layers of width 65,536 (GQA attention, 4x MLP) + embeddings: about 9.9e12 parameters.
HUGE_MODEL = {
    "name": "dense-10t", "layers": 224, "hidden": 65536, "heads": 512, "kv_heads": 64,
    "ffn_hidden": 4 * 65536, "gated_mlp": False, "vocab": 262144,
}  # fmt: skip

BASE = {
    "name": "extreme",
    "cluster": {"gpu": "h100-sxm-80gb", "num_gpus": 1024},
    "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192, "global_batch": 512},
    "plan": "search",
}

# Each extreme: the scenario fields it sets (dotted path -> value), all within the schema.
EXTREMES: dict[str, dict[str, object]] = {
    "1-gpu": {"cluster.num_gpus": 1, "workload.model": TINY_MODEL, "workload.global_batch": 8},
    "7-gpus": {"cluster.num_gpus": 7},
    "3m-gpus": {"cluster.num_gpus": 3_000_000},
    "seq-1": {"workload.seq_len": 1},
    "seq-1m": {"workload.seq_len": 2**20},
    "1-layer": {"workload.model": TINY_MODEL},
    "10t-params": {"workload.model": HUGE_MODEL, "cluster.num_gpus": 65_536},
    "batch-1": {"workload.global_batch": 1},
    "batch-max": {"workload.global_batch": MAX_GLOBAL_BATCH},
    "tokens-min": {"workload.tokens": MIN_TOKENS},
    "tokens-max": {"workload.tokens": MAX_TOKENS},
    "gb300": {"cluster.gpu": "gb300"},
    "a100-40gb": {"cluster.gpu": "a100-sxm-40gb"},
    "no-headroom": {"search.memory_headroom": 0.0},
    "all-headroom": {"search.memory_headroom": 0.99},
    "week-trace": {"facility.trace_duration_s": 7 * 86_400.0},
    "tiny-grid": {"facility.grid_mw": 1e-3, "facility.grid_ramp_mw_per_s": 1e-9},
    "huge-grid": {"facility.grid_mw": MAX_GRID_MW},
    "short-window": {"reliability.window_days": MIN_WINDOW_DAYS},
    "failing-fleet": {"reliability.failure_rate_multiplier": MAX_FAILURE_RATE_MULTIPLIER},
    "slow-repair": {"reliability.repair_h": 8760.0, "reliability.detection_min": 1440.0},
    "short-life": {"cost.lifetime_years": MIN_LIFETIME_YEARS, "cost.wacc": 1.0},
}
# The extremes the issue names one by one: each runs alone on every command.
NAMED = ["1-gpu", "7-gpus", "3m-gpus", "seq-1", "seq-1m", "1-layer", "10t-params"]
COMMANDS = ["plan", "estimate", "fabric", "power", "cost", "campaign"]


def _scenario(names: list[str]) -> dict:
    data = copy.deepcopy(BASE)
    for name in names:
        for path, value in EXTREMES[name].items():
            *parents, last = path.split(".")
            cur = data
            for p in parents:
                cur = cur.setdefault(p, {})
            cur[last] = copy.deepcopy(value)
    return data


def _run(workdir: Path, data: dict, cmd: str, fmt: str, *flags: str) -> int:
    path = workdir / "extreme.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    # The default commands, as a user runs them: a campaign picks its own (bounded) trials.
    args = [*flags, cmd, str(path), "--format", fmt]
    names = (data["name"], str(data["workload"]["model"].get("name", "")) if isinstance(data["workload"]["model"], dict) else "")  # fmt: skip
    t0 = time.perf_counter()
    code = _run_and_check(path, args, strings=names)
    took = time.perf_counter() - t0
    assert took < RUN_LIMIT_S, f"colossim {' '.join(args)} took {took:.0f} s"
    return code


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-extreme")


def test_huge_model_has_about_ten_trillion_parameters() -> None:

    spec = spec_from_dict({k: v for k, v in HUGE_MODEL.items() if k != "name"}, name="x")
    assert 0.9e13 < spec.total_params < 1.2e13


@pytest.mark.parametrize("name", NAMED)
def test_named_extremes_on_every_command(workdir: Path, name: str) -> None:
    codes = {}
    for cmd in COMMANDS:
        for fmt in ("json", "text"):
            codes[cmd, fmt] = _run(workdir, _scenario([name]), cmd, fmt)
    # The same answer in both formats, and the fabric never depends on a plan.
    assert all(codes[c, "json"] == codes[c, "text"] for c in COMMANDS), codes
    assert codes["fabric", "json"] == 0


@_settings(60)
@given(
    names=st.lists(st.sampled_from(sorted(EXTREMES)), min_size=2, max_size=4, unique=True),
    cmd=st.sampled_from(COMMANDS),
    fmt=st.sampled_from(["json", "text"]),
    flags=st.sampled_from([(), ("-q",), ("-v",)]),
)
def test_combined_extremes(
    workdir: Path, names: list[str], cmd: str, fmt: str, flags: tuple[str, ...]
) -> None:
    data = _scenario(names)
    note(f"{names} {cmd} {fmt} {flags}")
    _run(workdir, data, cmd, fmt, *flags)


def _numeric_fields(model: type, prefix: str = "") -> list[tuple[str, type, list]]:
    """(dotted path, int or float, constraint metadata) of every number in the schema."""

    out = []
    for name, f in model.model_fields.items():
        path, ann = f"{prefix}{name}", f.annotation
        options = (ann, *typing.get_args(ann))
        kind = next((a for a in options if a in (int, float)), None)
        if kind is not None and name not in ("seed", "battery_units"):
            out.append((path, kind, list(f.metadata)))
        for sub in options:
            if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not model:
                out += _numeric_fields(sub, f"{path}.")
    return out


def _bounds(kind: type, meta: list) -> list[float]:
    """The extreme valid values of a field: its bounds (or just inside an open one), and
    1e300 / -1e300 where the schema sets none (those must be refused or handled)."""

    lo = next((m.ge for m in meta if isinstance(m, at.Ge)), None)
    lo_open = next((m.gt for m in meta if isinstance(m, at.Gt)), None)
    hi = next((m.le for m in meta if isinstance(m, at.Le)), None)
    hi_open = next((m.lt for m in meta if isinstance(m, at.Lt)), None)
    step = 1 if kind is int else None
    low = lo if lo is not None else (
        (lo_open + 1 if step else math.nextafter(lo_open, math.inf)) if lo_open is not None else -1e300
    )  # fmt: skip
    high = hi if hi is not None else (
        (hi_open - 1 if step else math.nextafter(hi_open, -math.inf)) if hi_open is not None else 1e300
    )  # fmt: skip
    if kind is int:
        low, high = int(max(low, -(2**62))), int(min(high, 2**62))
    return [low, high]


def _field_cases() -> list[tuple[str, object]]:

    cases = []
    for path, kind, meta in _numeric_fields(Scenario):
        cases += [(path, v) for v in _bounds(kind, meta)]
    return cases


FIELD_CASES = _field_cases()
SMALL_MODEL = {"name": "m", "layers": 8, "hidden": 1024, "heads": 8, "ffn_hidden": 4096, "vocab": 32000}  # fmt: skip
# The command that reads each section.
SECTION_COMMAND = {
    "cluster": "plan", "workload": "plan", "plan": "estimate", "search": "plan",
    "reliability": "campaign", "facility": "power", "cost": "cost",
}  # fmt: skip


def test_every_numeric_field_is_swept() -> None:
    paths = {p for p, _ in FIELD_CASES}
    assert {"cluster.num_gpus", "workload.tokens", "facility.grid_mw", "cost.lifetime_years",
            "reliability.failure_rate_multiplier", "search.memory_headroom"} <= paths  # fmt: skip
    assert len(paths) > 60


@_settings(40)
@given(case=st.sampled_from(FIELD_CASES), fmt=st.sampled_from(["json", "text"]))
def test_any_field_at_its_bounds(workdir: Path, case: tuple[str, object], fmt: str) -> None:
    """One field at the edge of what the schema accepts: a result, or exit 2 naming it."""
    path, value = case
    data = _scenario([])
    data["workload"]["model"] = dict(SMALL_MODEL)
    data["cluster"]["num_gpus"] = 64
    data["workload"]["global_batch"] = 64
    if path.startswith("plan."):
        data["plan"] = {"tp": 1, "pp": 1, "dp": 64}
    if path.startswith("facility."):  # a grid limit and a battery to size under it
        data["facility"] = {"grid_mw": 0.2, "battery": "megapack-2xl-2h"}
    if path == "workload.global_batch_tokens":
        del data["workload"]["global_batch"]
    *parents, last = path.split(".")
    cur = data
    for p in parents:
        cur = cur.setdefault(p, {})
    cur[last] = value
    note(f"{path}={value!r}")
    _run(workdir, data, SECTION_COMMAND[parents[0]], fmt)


# Inputs the sweeps above found crashing (exit 3), printing inf, naming a field that does
# not exist or taking gigabytes; each is now refused with its own field named (exit 2).
REFUSED = [
    ("reliability.failure_rate_multiplier", 1e300, "campaign"),
    ("reliability.bytes_per_param", 1e300, "campaign"),
    ("reliability.storage_write_gbyte_per_s", 5e-324, "campaign"),
    ("reliability.storage_read_gbyte_per_s", 5e-324, "campaign"),
    ("reliability.checkpoint_write_s", 5e-324, "campaign"),
    ("reliability.window_days", 5e-324, "campaign"),
    ("cost.lifetime_years", 5e-324, "cost"),
    ("facility.grid_mw", 1e300, "power"),
    ("facility.trace_resolution_s", 1e-12, "power"),
    ("facility.ride_through_s", 1e300, "power"),
    ("facility.trace_duration_s", 1e-12, "power"),  # no idle phase: grid mis-sized
    ("cost.facility_usd_per_mw", 1e300, "cost"),
    ("facility.battery_units", -1, "power"),
    ("cluster.nic_efficiency", 5e-324, "estimate"),
    ("cluster.fabric.nics_per_gpu", 2**62, "fabric"),
]


@pytest.mark.parametrize(("path", "value", "cmd"), REFUSED)
def test_found_extremes_are_refused_naming_the_field(
    tmp_path: Path, path: str, value: object, cmd: str
) -> None:

    data, _ = load_yaml(SMALL_SCENARIO, filename="small")
    data["facility"] = {"grid_mw": 0.2, "battery": "megapack-2xl-2h"}  # the grid code runs
    file = tmp_path / "small.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = cli(cmd, str(file), "--set", f"{path}={value}", "--format", "json", catch=True)
    assert res.exit_code == 2, res.output
    errors = json.loads(res.stdout)["errors"]
    assert len(errors) == 1 and errors[0]["field"] == path, errors


@pytest.mark.parametrize("field", ["facility.grid_ramp_mw_per_s", "facility.grid_ramp_mw_per_min"])
def test_the_smallest_ramp_limit_runs(tmp_path: Path, field: str) -> None:
    """5e-324 MW/s: the battery's smoothing window is infinite (it overflowed, exit 3)."""

    data, _ = load_yaml(SMALL_SCENARIO, filename="small")
    data["facility"] = {"grid_mw": 0.2, "battery": "megapack-2xl-2h"}
    file = tmp_path / "small.yaml"
    file.write_text(yaml.safe_dump(data), encoding="utf-8")
    res = cli("power", str(file), "--set", f"{field}=5e-324", "--format", "json", catch=True)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout, parse_constant=lambda c: pytest.fail(c))
    assert out["battery_units"] >= 1 and out["grid"]["ok"] is not None


def test_spare_pool_of_an_absurd_failure_rate_is_refused_quickly() -> None:
    """1,000x the failure rate and year-long repairs on 1M GPUs: ~1e8 nodes in repair
    (was 14 s and 5 GB for the spare pool before the campaign refused it)."""

    t0 = time.perf_counter()
    res = cli(
        "campaign", "gb300-1m", "--trials", "2", "--format", "json",
        "--set", "reliability.failure_rate_multiplier=1000", "--set", "reliability.repair_h=8760",
    )  # fmt: skip
    assert res.exit_code == 2 and "reliability.repair_h" in res.stdout, res.output
    assert time.perf_counter() - t0 < 10


def test_unfinished_campaign_says_so_instead_of_a_day_count() -> None:
    """A run needing 34 days failure-free against a 10-day horizon: no trial finishes, and
    the warning says so instead of "takes 10.0 days"."""

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "small.yaml"
        path.write_text(SMALL_SCENARIO, encoding="utf-8")
        out = cli_json(
            "campaign", str(path), "--trials", "4", "--set", "reliability.horizon_days=10"
        )
    warned = [w for w in out["warnings"] if "with failures" in w]
    assert warned and "do not finish" in warned[0] and "reliability.horizon_days" in warned[0]
    assert not any("takes 10.0 days" in w for w in out["warnings"])
    assert sum("trials finished within" in w for w in out["warnings"]) == 1  # not twice
