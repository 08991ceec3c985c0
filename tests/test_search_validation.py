"""The plan search against published layouts: on every row of the validation CSV that
gives its full parallel layout, the search over the row's whole space (same GPUs,
model, batch, stack) must predict a best plan at least as fast as the published one,
and the match-rate figures must be consistent.
"""

from __future__ import annotations

import io
import math

import pytest
from rich.console import Console

from colossim.report.perf import validation_tables, validation_to_json
from colossim.validation.runs import (
    FULL_LAYOUT_COLUMNS,
    REQUIRED_COLUMNS,
    SEARCH_GE_RTOL,
    read_runs,
    validate_rows,
)
from colossim.workload.stack import default_memory_headroom

PARALLEL = ("tp", "pp", "dp", "cp", "ep")
# Searched best vs published layout, median "faster by": issue #12 targets <= 5%; this
# holds the figure the shipped calibration reaches, with a small margin. It rose from
# 10.9% to 13.3% when torchtitan's selective recompute became what torchtitan runs (every
# second block recomputed in full, not Megatron's attention-core recompute): its published
# layouts pay that recompute where the memory model says none fits, and torchtitan's own
# Llama 2 13B figures measure no recompute 13% faster than selective.
MEDIAN_GAIN_MAX_PCT = 14.0


@pytest.fixture(scope="module")
def checked(published_csv):
    rows = read_runs(published_csv)
    return rows, validate_rows(rows, search_check=True)


def test_searched_best_is_never_slower_than_published(checked) -> None:
    rows, rep = checked
    full = [
        r
        for raw, r in zip(rows, rep.rows, strict=True)
        if all((raw[c] or "").strip() for c in FULL_LAYOUT_COLUMNS) and r.predicted is not None
    ]
    assert len(full) >= 50  # the CSV has ~100 such rows; guard against a silent skip
    for r in full:
        c = r.search_check
        assert c is not None, r.id
        assert c.inside_space, f"{r.id}: published plan outside the searched space"
        assert c.searched_tokens_per_s_per_gpu >= c.published_tokens_per_s_per_gpu * (
            1 - SEARCH_GE_RTOL
        ), r.id
        assert c.published_tokens_per_s_per_gpu == r.predicted
        same = all(c.searched_plan[k] == c.published_plan[k] for k in PARALLEL)
        assert c.parallel_dims_match == same
        assert not c.exact_match or c.parallel_dims_match
        if c.exact_match:
            assert c.searched_plan["micro_batch"] == c.published_plan["micro_batch"]
    # rows without a full layout are not checked
    assert sum(r.search_check is not None for r in rep.rows) == len(full)


def test_search_keeps_the_tools_memory_margin(checked) -> None:
    """The check runs the search a user runs: it keeps the catalog's default share of
    HBM free, or as little as the published plan leaves where that is less; never
    fuller than both."""
    _, rep = checked
    default = default_memory_headroom()
    checks = [
        r.search_check for r in rep.rows if r.search_check is not None and r.search_check.fits
    ]
    assert checks
    for c in checks:
        assert 0.0 <= c.memory_headroom <= default
        hbm = c.memory_limit_bytes / (1 - c.memory_headroom)
        assert c.published_memory_bytes <= c.memory_limit_bytes
        assert c.searched_memory_bytes <= c.memory_limit_bytes
        if c.memory_headroom < default:  # the published plan set the margin
            assert c.published_memory_bytes == pytest.approx(c.memory_limit_bytes, rel=1e-6)
        else:
            assert c.memory_limit_bytes == pytest.approx((1 - default) * hbm)
    # the margin binds: some rows keep the full default free
    assert any(c.memory_headroom == default for c in checks)


def test_match_rates_are_consistent(checked) -> None:
    _, rep = checked
    m = rep.search_match()
    n = m["rows"]
    assert n == sum(r.search_check is not None for r in rep.rows)
    assert 0 <= m["exact"] <= m["parallel_dims"] <= n
    assert m["outside_space"] == 0
    assert m["searched_ge_published"] == n
    assert 0 <= m["widened"] <= n and 0 <= m["not_fitting"] <= n
    assert m["median_gain_pct"] >= -SEARCH_GE_RTOL * 100
    assert m["median_gain_pct"] <= MEDIAN_GAIN_MAX_PCT, m


def test_json_and_table(checked) -> None:
    _, rep = checked
    out = validation_to_json(rep)
    assert set(out["search_match"]) >= {
        "rows",
        "exact",
        "parallel_dims",
        "searched_ge_published",
        "outside_space",
    }
    checks = [r["search_check"] for r in out["rows"] if r["search_check"] is not None]
    assert len(checks) == out["search_match"]["rows"]
    assert all(isinstance(v, int) for k, v in out["search_match"].items() if not k.endswith("_pct"))
    assert all(math.isfinite(c["gain_pct"]) for c in checks)
    buf = io.StringIO()
    console = Console(file=buf, width=120, no_color=True)
    for t in validation_tables(rep, rows=False):
        console.print(t)
    assert "Plan search vs published layouts" in buf.getvalue()


def _csv(tmp_path, **overrides):
    row = dict.fromkeys(REQUIRED_COLUMNS, "")
    row.update(id="r1", arch="dense", layers="32", hidden="4096", heads="32", kv_heads="8", ffn_hidden="14336",
               vocab="128256", seq_len="8192", gated_mlp="true", mla="false", framework="megatron",
               gpu="h100-sxm-80gb", num_gpus="64", precision="bf16", tp="2", pp="2", dp="16", cp="1", ep="1",
               micro_batch="3", global_batch="96", measured_tokens_per_s_per_gpu="9000")  # fmt: skip
    row.update(overrides)
    p = tmp_path / "m.csv"
    p.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    return read_runs(p)


def test_published_value_outside_defaults_widens_the_space(tmp_path) -> None:
    rows = _csv(tmp_path)  # micro-batch 3 is not among the default candidates
    plain = validate_rows(rows)
    rep = validate_rows(rows, search_check=True)
    c = rep.rows[0].search_check
    assert c is not None and c.inside_space and "micro_batch" in c.widened
    assert c.searched_ge_published
    assert rep.rows[0].predicted == plain.rows[0].predicted
    assert plain.search_match() is None and plain.rows[0].search_check is None
    assert validation_to_json(plain)["search_match"] is None


def test_row_without_full_layout_is_not_checked(tmp_path) -> None:
    rows = _csv(tmp_path, micro_batch="")
    rep = validate_rows(rows, search_check=True)
    assert rep.rows[0].predicted is not None and rep.rows[0].search_check is None
    assert rep.search_match()["rows"] == 0
