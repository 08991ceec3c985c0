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
