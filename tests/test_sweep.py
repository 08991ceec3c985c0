"""Sweeps through the Python API: specs, points, constraints, the store, resume,
Pareto fronts, exports (tiny sweeps of the 64-GPU test scenario, in-process)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from colossim.errors import InputError, InputErrors
from colossim.report.sweep import POINT_OUTPUTS, pareto_rows
from colossim.sweep import (
    bundled_sweeps,
    export_points,
    load_spec,
    pareto_mask,
    read_sweep,
    resolve_points,
    run_sweep,
    sweep_points,
)
from colossim.sweep.constraints import parse_constraint
from colossim.sweep.run import scenario_hash
from helpers import SMALL_SCENARIO

TINY = """\
name: tiny
base: base.yaml
axes:
  cluster.nic_gbit_per_s: [200, 400]
  workload.tokens: {values: [1.0e12, 2.0e12], name: tokens}
trials: 4
"""


def write_spec(tmp_path: Path, text: str = TINY, name: str = "spec.yaml") -> str:
    (tmp_path / "base.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def rows(db: str) -> list[dict]:
    return read_sweep(db).rows


# ---- spec ------------------------------------------------------------------------------


def test_bundled_examples_load() -> None:
    names = bundled_sweeps()
    assert {"gpu-count-nic", "recovery-scale", "power-battery"} <= set(names)
    for name in names:
        spec = load_spec(name)
        points, _ = sweep_points(spec)
        assert points


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("axes: {cluster.num_gpus: []}", "axes.cluster.num_gpus", "empty axis"),
        ("axez: {}\naxes: {cluster.num_gpus: [64]}", "axez", "did you mean 'axes'"),
        ("axes: {cluster.num_gpus: [64]}\nsampling: gird", "sampling", "did you mean 'grid'"),
        ("axes: {cluster.num_gpus: {min: 1, max: 9}}", "axes.cluster.num_gpus", "random or lhs"),
        ("sampling: lhs\naxes: {cluster.num_gpus: [64]}", "samples", "required"),
        ("sampling: zip\naxes: {a.b: [1, 2], c.d: [1]}", "axes", "equal length"),
        (
            "axes: {cluster.num_gpus: [64]}\nconstraints: ['__import__(1)']",
            "constraints[0]",
            "Call",
        ),
        (
            "axes: {cluster.num_gpus: [64]}\nconstraints: ['gpus > 1']",
            "constraints[0]",
            "unknown name",
        ),
    ],
)
def test_bad_specs_name_the_field(tmp_path: Path, text: str, field: str, words: str) -> None:
    path = write_spec(tmp_path, "base: base.yaml\n" + text)
    with pytest.raises((InputError, InputErrors)) as info:
        load_spec(path)
    errors = info.value.errors if isinstance(info.value, InputErrors) else [info.value]
    match = [e for e in errors if e.field == field]
    assert match, [e.message() for e in errors]
    assert words in match[0].message()
    assert "spec.yaml:" in (match[0].location or "")


def test_unknown_field_is_a_spec_error(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(tmp_path, TINY.replace("cluster.nic_gbit_per_s", "cluster.nic_gbps"))
    )
    with pytest.raises(InputError) as info:
        resolve_points(spec, outputs=POINT_OUTPUTS)
    assert info.value.field == "axes.cluster.nic_gbps"
    assert "not a scenario field" in info.value.problem
    assert info.value.location.endswith("spec.yaml:4:3")


def test_constraint_that_excludes_everything(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TINY + "constraints: ['nic_gbit_per_s > 1000']\n"))
    with pytest.raises(InputError, match="exclude every one of the 4 points"):
        sweep_points(spec)


# ---- points and constraints ------------------------------------------------------------


def test_constraint_language() -> None:
    names = ("gpu", "gpus", "nic")
    c = parse_constraint(
        "gpus >= 1024 and not (gpu == 'h100' and nic in (400, 200)) or gpus / 2 ** 3 > 1e6",
        names=names,
        field="c",
    )
    assert c.holds({"gpu": "b200", "gpus": 2048, "nic": 400})
    assert not c.holds({"gpu": "h100", "gpus": 2048, "nic": 400})
    assert not c.holds({"gpu": "b200", "gpus": 512, "nic": 800})
    for bad in ("gpu.upper()", "[x for x in gpus]", "lambda: 1", "gpus[0]", "open('f')"):
        with pytest.raises(InputError, match="not allowed"):
            parse_constraint(bad, names=names, field="c")
    with pytest.raises(InputError, match="did you mean 'nic'"):
        parse_constraint("nicc > 1", names=names, field="c")
    with pytest.raises(InputError, match="cannot evaluate"):
        parse_constraint("gpus / nic > 1", names=names, field="c").holds({"gpus": 1, "nic": 0})
    with pytest.raises(InputError, match="too large"):
        parse_constraint("2 ** gpus > 1", names=names, field="c").holds({"gpus": 10**6})


def test_grid_zip_and_constraints(tmp_path: Path) -> None:
    spec = load_spec(
        write_spec(tmp_path, TINY + "constraints: ['tokens < 2e12 or nic_gbit_per_s == 400']\n")
    )
    points, excluded = sweep_points(spec)
    assert excluded == 1
    assert [p.values for p in points] == [
        {"nic_gbit_per_s": 200, "tokens": 1e12},
        {"nic_gbit_per_s": 400, "tokens": 1e12},
        {"nic_gbit_per_s": 400, "tokens": 2e12},
    ]
    assert points[0].overrides == ("cluster.nic_gbit_per_s=200", "workload.tokens=1000000000000.0")
    z = load_spec(write_spec(tmp_path, TINY + "sampling: zip\n"))
    assert [p.values["tokens"] for p in sweep_points(z)[0]] == [1e12, 2e12]


@pytest.mark.parametrize("sampling", ["random", "lhs"])
def test_sampling_is_seeded_and_in_range(tmp_path: Path, sampling: str) -> None:
    text = f"""base: base.yaml
sampling: {sampling}
samples: 40
seed: 3
axes:
  workload.tokens: {{min: 1.0e11, max: 1.0e13, log: true}}
  cluster.nic_gbit_per_s: {{min: 100, max: 800, integer: true}}
  workload.precision: [bf16, fp8]
"""
    spec = load_spec(write_spec(tmp_path, text))
    a, b = sweep_points(spec)[0], sweep_points(spec)[0]
    assert [p.values for p in a] == [p.values for p in b]
    tokens = np.array([p.values["tokens"] for p in a])
    nic = [p.values["nic_gbit_per_s"] for p in a]
    assert tokens.min() >= 1e11 and tokens.max() <= 1e13
    assert all(isinstance(n, int) and 100 <= n <= 800 for n in nic)
    assert {p.values["precision"] for p in a} == {"bf16", "fp8"}
    if sampling == "lhs":
        # one sample in each of the 40 equal strata of the (log) range
        strata = np.floor((np.log(tokens) - np.log(1e11)) / np.log(100) * 40).astype(int)
        assert sorted(strata) == list(range(40))


# ---- running into the store -------------------------------------------------------------


def test_run_stores_one_row_per_point_and_resume_skips(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path))
    db = str(tmp_path / "r.duckdb")
    s = run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    assert (s.points, s.ran, s.by_status) == (4, 4, {"ok": 4})
    got = rows(db)
    assert len(got) == 4 and len({r["hash"] for r in got}) == 4
    r0 = got[0]
    assert r0["status"] == "ok" and r0["error"] is None
    assert r0["nic_gbit_per_s"] == 200 and r0["tokens"] == 1e12
    assert r0["step_time_s"] > 0 and 0 < r0["mfu"] < 1 and r0["capex_usd"] > 0
    assert r0["days_to_train_with_failures"] >= r0["days_to_train"]
    assert 0 < r0["goodput"] <= 1
    meta = read_sweep(db).meta
    assert meta["spec_hash"] == spec.spec_hash and meta["points_total"] == 4
    assert meta["finished_at"] is not None and meta["catalog_hash"]
    # the hash is the resolved scenario's
    tasks, _ = resolve_points(spec, outputs=POINT_OUTPUTS)
    assert [t.hash for t in tasks] == [r["hash"] for r in got]
    assert tasks[0].hash == scenario_hash(tasks[0].scenario)
    # a second run without --resume refuses; with it, runs nothing
    with pytest.raises(InputError, match="pass --resume"):
        run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    again = run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1, resume=True)
    assert (again.skipped, again.ran) == (4, 0)
    other = load_spec(write_spec(tmp_path, TINY.replace("[200, 400]", "[200, 800]"), "o.yaml"))
    with pytest.raises(InputError, match="different sweep"):
        run_sweep(other, db=db, outputs=POINT_OUTPUTS, workers=1, resume=True)


def test_failed_points_are_stored_with_their_status(tmp_path: Path) -> None:
    text = """base: base.yaml
axes:
  cluster.num_gpus: {values: [64, 96], name: gpus}
  plan: [{tp: 1, pp: 1, dp: 64, micro_batch: 1}, search]
trials: 4
"""
    spec = load_spec(write_spec(tmp_path, text))
    db = str(tmp_path / "f.duckdb")
    s = run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    # a mapping-valued axis is stored as JSON text
    by = {(r["gpus"], json.loads(r["plan"]) == "search"): r for r in rows(db)}
    assert s.points == 4 and sum(s.by_status.values()) == 4
    bad = by[(96, False)]
    assert bad["status"] == "invalid" and "dp" in bad["error"] and bad["step_time_s"] is None
    assert by[(64, True)]["status"] == "ok" and by[(64, False)]["status"] == "ok"


def test_outputs_subset_and_unknown_output(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TINY + "outputs: [mfu, step_time_s]\ncampaign: false\n"))
    db = str(tmp_path / "o.duckdb")
    run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    data = read_sweep(db)
    assert {"mfu", "step_time_s"} <= set(data.columns) and "capex_usd" not in data.columns
    bad = load_spec(write_spec(tmp_path, TINY + "outputs: [mfuu]\n", "b.yaml"))
    with pytest.raises(InputError, match="did you mean 'mfu'"):
        run_sweep(bad, db=str(tmp_path / "b.duckdb"), outputs=POINT_OUTPUTS, workers=1)


def test_process_pool_gives_the_serial_table(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path))
    serial, pool = str(tmp_path / "s.duckdb"), str(tmp_path / "p.duckdb")
    run_sweep(spec, db=serial, outputs=POINT_OUTPUTS, workers=1)
    run_sweep(spec, db=pool, outputs=POINT_OUTPUTS, workers=2)
    strip = lambda rs: sorted(  # noqa: E731
        ({k: v for k, v in r.items() if k not in ("elapsed_s", "finished_at")} for r in rs),
        key=lambda r: r["hash"],
    )
    assert strip(rows(serial)) == strip(rows(pool))


def test_export_parquet_and_csv(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TINY + "campaign: false\n"))
    db = str(tmp_path / "e.duckdb")
    run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    for name in ("p.parquet", "p.csv"):
        out = str(tmp_path / name)
        assert export_points(db, out) == 4
        n = duckdb.connect().execute(f"SELECT count(DISTINCT hash) FROM '{out}'").fetchone()[0]
        assert n == 4
    with pytest.raises(InputError, match="parquet or .csv"):
        export_points(db, str(tmp_path / "p.xlsx"))


# ---- Pareto ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40
    )
)
def test_pareto_mask_matches_brute_force(points: list[tuple[int, int, int]]) -> None:
    v = np.array(points, dtype=float)
    brute = [
        not any(all(b <= a for a, b in zip(p, q, strict=True)) and q != p for q in points)
        for p in points
    ]
    assert pareto_mask(v, chunk=7).tolist() == brute


def test_pareto_rows_are_not_dominated(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path, TINY + "campaign: false\n"))
    db = str(tmp_path / "p.duckdb")
    run_sweep(spec, db=db, outputs=POINT_OUTPUTS, workers=1)
    data = read_sweep(db)
    obj = [("days_to_train", False), ("capex_usd", False), ("mfu", True)]
    front = pareto_rows(data, obj)
    assert front
    for f, r in itertools.product(front, data.rows):
        better = [(r[c] >= f[c]) if mx else (r[c] <= f[c]) for c, mx in obj]
        strictly = [(r[c] > f[c]) if mx else (r[c] < f[c]) for c, mx in obj]
        assert not (all(better) and any(strictly))


def test_points_that_resolve_to_the_same_scenario_run_once(tmp_path: Path) -> None:
    # 400 and 400.0 validate to the same scenario (a float field): one point
    spec = load_spec(write_spec(tmp_path, TINY.replace("[200, 400]", "[400, 400.0]")))
    tasks, summary = resolve_points(spec, outputs=POINT_OUTPUTS)
    assert (len(tasks), summary.duplicates) == (2, 2)
