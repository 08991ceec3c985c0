"""scripts/sweep_noise.py: ZeRO-0/ZeRO-1 twin rows of a layout-sweep file and how far
their measurements lie apart (no model involved)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sweep_noise.py"


def _module():
    spec = importlib.util.spec_from_file_location("sweep_noise", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _row(i, sweep, sharding, tps, *, mbs="1", notes=""):
    vals = dict(
        id=f"r{i}", sweep=sweep, tp="2", pp="2", dp="4", cp="1", ep="1", vp="1",
        micro_batch=mbs, recompute="none", sharding=sharding,
        measured_tokens_per_s_per_gpu=str(tps), notes=notes,
    )  # fmt: skip
    return vals


def test_twins_pair_only_rows_that_differ_in_zero_stage():
    mod = _module()
    rows = [
        _row(1, "a", "none", 1000),
        _row(2, "a", "zero1", 250),  # twin of 1, 4x apart
        _row(3, "a", "zero1", 900, mbs="2"),  # no ZeRO-0 partner at micro-batch 2
        _row(4, "b", "none", 1000),  # same layout, other sweep: not a twin of 2
    ]
    pairs = mod.twins(rows)
    assert pairs == [("a", 1000.0, 250.0, False)]


def test_bundled_file_has_twins_far_apart(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(out.stdout)
    assert res["twin_pairs"] > 100
    # the figure the README quotes: dozens of twin pairs more than 2x apart
    assert res["apart_over_2x"] >= 20
    assert res["median_ratio"] < 1.25


def test_missing_file_is_one_line_exit_2(tmp_path):
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "nope.csv")], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_without_stalls_reports_the_model_on_the_rest():
    """The stalled rows are the ones the model orders worst: without them the ranking
    figures rise above the whole file's (and the stall rule names rows of the file)."""
    from colossim.validation import read_runs, validate_rows

    rep = validate_rows(read_runs("layout_sweeps"))
    whole, _, _ = rep.ranking()
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--without-stalls", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(out.stdout)["without_stalls"]
    assert 50 <= res["stalled_rows_left_out"] <= 300
    assert res["pair_order_acc"] > whole["pair_order_acc"]
    assert res["spearman_median"] >= whole["spearman_median"]
    assert res["sweeps_mape_pct"] < 30.0


def test_stall_rule():
    mod = _module()
    plan = dict(global_batch=256, dp=4, pp=4, micro_batch=1, tp=2, cp=1)  # 64 + 3 slots
    tokens = 256 * 4096
    n = 4 * 4 * 2

    def tps(step_s):
        return tokens / (step_s * n)

    # one second per slot above a 3 s prediction: a stall
    assert mod.stalled(plan, 4096, tps(3.0 + 67 * 1.0), tps(3.0))
    # 20% slower than predicted: a model error, not a stall
    assert not mod.stalled(plan, 4096, tps(3.6), tps(3.0))
