"""FP8 recipe as an input (issue #12): its costs change the step time, a GPU that cannot
run it is a clear input error, the validation CSV column is optional, and the default
follows the stack."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from colossim.cluster import cluster_for
from colossim.errors import InputError
from colossim.hardware import gpu
from colossim.parallel.plan import Plan, PlanBatch, Recompute
from colossim.perf.estimate import context, estimate
from colossim.perf.step import _rates, evaluate
from colossim.validation import read_runs, validate_rows
from colossim.workload.fp8 import Fp8Recipe, recipe_cost, resolve_recipe
from colossim.workload.model import preset
from colossim.workload.stack import efficiency, stack_profile
from colossim.workload.training import Training
from helpers import SMALL_SCENARIO, cli

PLAN = Plan(tp=8, pp=4, dp=16, vp=5, micro_batch=1, global_batch=256, recompute=Recompute.SELECTIVE)


def _step_s(recipe: str | None, framework: str = "megatron", gpu_id: str = "h100-sxm-80gb"):
    training = Training(
        seq_len=8192, global_batch=256, tokens=1e12, precision="fp8", framework=framework,
        fp8_recipe=recipe,
    )  # fmt: skip
    ctx = context(preset("llama3-70b"), training, cluster_for(gpu(gpu_id), 512))
    return estimate(ctx, PLAN).step_time_s


def test_finer_scaling_is_slower_than_tensorwise_at_the_same_layout() -> None:
    tensorwise = _step_s("tensorwise")
    assert _step_s("rowwise") > tensorwise
    assert _step_s("blockwise") > tensorwise
    # delayed scaling skips the separate amax pass: cheaper casts, same GEMM
    assert _step_s("delayed") < tensorwise


def test_mxfp8_runs_on_blackwell_only() -> None:
    assert _step_s("mxfp8", gpu_id="b200") > 0
    with pytest.raises(InputError) as e:
        _step_s("mxfp8", gpu_id="h100-sxm-80gb")
    msg = e.value.message()
    assert "workload.fp8_recipe" in msg and "hopper" in msg and "blackwell" in msg
    assert "tensorwise" in msg  # the fix lists what the GPU can run


def _scenario(tmp_path: Path, extra: str, precision: str = "fp8") -> str:
    text = SMALL_SCENARIO.replace(
        "  global_batch: 128\n", f"  global_batch: 128\n  precision: {precision}\n{extra}"
    )
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return str(p)


def _error_lines(path: str) -> list[str]:
    r = cli("estimate", path, catch=True)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    return [line for line in r.stderr.splitlines() if line.startswith("error: ")]


def test_mxfp8_recipe_on_an_h100_scenario_exits_2_with_field_value_and_fix(tmp_path) -> None:
    path = _scenario(tmp_path, "  fp8_recipe: mxfp8\n")
    (line,) = _error_lines(path)
    assert line.startswith(f"error: {path}:11:3: workload.fp8_recipe:"), line
    assert "'mxfp8'" in line and "h100-sxm-80gb" in line and "use one of" in line


def test_recipe_with_a_16_bit_precision_is_a_scenario_error(tmp_path) -> None:
    (line,) = _error_lines(_scenario(tmp_path, "  fp8_recipe: rowwise\n", precision="bf16"))
    assert "workload" in line and "applies to precision fp8" in line and "'rowwise'" in line


def test_precision_mxfp8_runs_the_mxfp8_recipe_only() -> None:
    with pytest.raises(InputError, match="mxfp8 recipe only"):
        resolve_recipe("mxfp8", "rowwise", "delayed", gpu("b200"))


def test_unknown_recipe_names_the_choices(tmp_path) -> None:
    (line,) = _error_lines(_scenario(tmp_path, "  fp8_recipe: rowise\n"))
    assert "workload.fp8_recipe" in line and "rowwise" in line


def test_default_follows_the_stack() -> None:
    h100, b200, eff = gpu("h100-sxm-80gb"), gpu("b200"), efficiency()
    for fw in ("megatron", "nemo", "torchtitan"):
        stack = stack_profile(fw)
        training = Training(
            seq_len=8192, global_batch=8, tokens=1e12, precision="fp8", framework=fw
        )
        r = _rates(cluster_for(h100, 8), training, stack, eff)
        assert r.cast_bytes == recipe_cost(stack.fp8_recipe).cast_bytes
        assert resolve_recipe("fp8", None, stack.fp8_recipe, h100).recipe == stack.fp8_recipe
        assert _step_s(None, framework=fw) == _step_s(stack.fp8_recipe, framework=fw)
    # stacks differ (Megatron-LM: delayed, torchao: tensorwise), so the default matters
    assert stack_profile("megatron").fp8_recipe != stack_profile("torchtitan").fp8_recipe
    assert resolve_recipe("mxfp8", None, "delayed", b200).recipe == Fp8Recipe.MXFP8


def test_schema_shows_the_field() -> None:
    r = cli("schema")
    assert r.exit_code == 0 and "fp8_recipe" in r.stdout


# ---- validation CSV -------------------------------------------------------------------

ROW_ID = "torchtitan2025-asynctp-llama3.1-70b-fp8row-vanillatp-256"


def _csv_with(published_csv: Path, tmp_path: Path, recipe: str | None) -> Path:
    """The published CSV's ROW_ID row alone, with ``recipe`` in its fp8_recipe column, or
    without the column at all (``None``)."""
    rows = [r for r in read_runs(published_csv) if r["id"] == ROW_ID]
    assert rows and rows[0]["fp8_recipe"] == "rowwise"  # filled from the row's notes
    header = [c for c in rows[0] if recipe is not None or c != "fp8_recipe"]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=header, extrasaction="ignore")
    w.writeheader()
    w.writerow({**rows[0], "fp8_recipe": recipe or ""})
    p = tmp_path / f"runs-{recipe}.csv"
    p.write_text(out.getvalue(), encoding="utf-8")
    return p


def _predicted(path: Path):
    (row,) = validate_rows(read_runs(path)).rows
    return row


def test_csv_column_is_read_and_optional(published_csv, tmp_path) -> None:
    rowwise = _predicted(_csv_with(published_csv, tmp_path, "rowwise")).predicted
    blank = _predicted(_csv_with(published_csv, tmp_path, "")).predicted
    missing = _predicted(_csv_with(published_csv, tmp_path, None)).predicted
    assert blank == missing  # no column = blank = the stack's default (tensorwise)
    assert rowwise < blank
    bad = _predicted(_csv_with(published_csv, tmp_path, "rowise"))
    assert bad.predicted is None and "fp8_recipe" in bad.reason and "rowise" in bad.reason


def test_cached_fp8_weights_are_cast_once_per_step() -> None:
    """Transformer Engine stacks cast each weight to FP8 once per step and reuse it for
    the step's later micro-batches; other stacks cast it at every micro-batch. The
    cached cost does not grow with the micro-batch count; bf16 runs cast nothing."""
    h100 = gpu("h100-sxm-80gb")
    training = Training(seq_len=4096, global_batch=64, tokens=1e12, precision="fp8")
    ctx = context(preset("llama3-70b"), training, cluster_for(h100, 64))
    assert ctx.stack.fp8_weight_cache == 1.0  # megatron: Transformer Engine
    plans = PlanBatch.from_plans(
        [Plan(tp=8, pp=8, dp=1, micro_batch=1, global_batch=gb) for gb in (8, 64)]
    )
    cached = evaluate(ctx, plans)
    eager = evaluate(replace(ctx, stack=replace(ctx.stack, fp8_weight_cache=0.0)), plans)
    extra = eager.elementwise_s - cached.elementwise_s
    assert extra[0] > 0 and extra[1] == pytest.approx(extra[0] * (64 - 1) / (8 - 1))
    bf16 = replace(ctx, training=replace(training, precision="bf16"))
    bf16_eager = replace(bf16, stack=replace(ctx.stack, fp8_weight_cache=0.0))
    assert evaluate(bf16, plans).step_time_s == pytest.approx(
        evaluate(bf16_eager, plans).step_time_s
    )
