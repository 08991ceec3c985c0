"""Scenario errors, one class at a time: each names the field, the problem, and the exact
``file:line:col`` of the offending key or value, and exits 2. Plus the round trip of a
resolved scenario (load -> dump_resolved -> load gives an equal Scenario)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from colossim.errors import InputError, InputErrors
from colossim.scenario.load import dump_resolved, load_scenario
from colossim.yamlio import load_yaml
from helpers import SMALL_SCENARIO, cli

# Line numbers below refer to this text (1-based lines and columns).
BASE = SMALL_SCENARIO


@pytest.fixture
def write(tmp_path: Path):
    def _write(old: str = "", new: str = "") -> str:
        assert old in BASE
        p = tmp_path / "s.yaml"
        p.write_text(BASE.replace(old, new, 1) if old else BASE, encoding="utf-8")
        return str(p)

    return _write


def errors_of(path: str, *overrides: str) -> list[str]:
    """The ``error:`` lines of ``colossim estimate`` on ``path``; asserts exit 2."""
    args = ["estimate", path]
    for o in overrides:
        args += ["--set", o]
    r = cli(*args, catch=True)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert lines, r.output
    return lines


def test_base_is_valid(write) -> None:
    assert load_scenario(write()).scenario.cluster.num_gpus == 64


# ---- unknown keys -------------------------------------------------------------------


def test_unknown_key_with_did_you_mean(write) -> None:
    path = write("  tokens: 1e12", "  tokenz: 1e12")
    lines = errors_of(path)
    assert f"error: {path}:7:3: workload.tokenz: unknown key (did you mean 'tokens'?)" in lines
    # the key it replaced is now missing: reported at the enclosing key
    assert f"error: {path}:5:1: workload.tokens: Field required" in lines


def test_unknown_top_level_key(write) -> None:
    path = write("cluster:", "clustr:")
    assert f"error: {path}:2:1: clustr: unknown key (did you mean 'cluster'?)" in errors_of(path)


def test_unknown_key_in_flow_mapping_of_a_union_field(write) -> None:
    # plan is 'search' | {tp, pp, ...}: the hint comes from the mapping branch
    path = write("plan: {tp: 1,", "plan: {tpp: 1,")
    assert errors_of(path) == [f"error: {path}:10:8: plan.tpp: unknown key (did you mean 'tp'?)"]


def test_unknown_key_without_close_match_lists_allowed(write) -> None:
    path = write("  seq_len: 8192", "  seq_len: 8192\n  zzz: 1")
    (line,) = errors_of(path)
    assert line.startswith(
        f"error: {path}:9:3: workload.zzz: unknown key; allowed keys: model, tokens"
    )


# ---- duplicate keys -----------------------------------------------------------------


def test_duplicate_key(write) -> None:
    path = write("  seq_len: 8192", "  seq_len: 8192\n  seq_len: 4096")
    assert errors_of(path) == [
        f"error: {path}:9:3: workload.seq_len: duplicate key (first defined at line 8); keep only one"
    ]


def test_duplicate_key_in_flow_mapping(write) -> None:
    path = write("plan: {tp: 1,", "plan: {tp: 1, tp: 2,")
    (line,) = errors_of(path)
    assert line.startswith(
        f"error: {path}:10:15: plan.tp: duplicate key (first defined at line 10)"
    )


# ---- wrong types --------------------------------------------------------------------


def test_wrong_type_string_for_int(write) -> None:
    path = write("num_gpus: 64", "num_gpus: many")
    assert errors_of(path) == [
        f"error: {path}:4:13: cluster.num_gpus: Input should be a valid integer, unable to parse string as an integer (got 'many')"
    ]


def test_wrong_type_list_for_number(write) -> None:
    path = write("tokens: 1e12", "tokens: [1e12]")
    assert errors_of(path) == [
        f"error: {path}:7:11: workload.tokens: Input should be a valid number"
    ]


def test_wrong_type_in_union_reports_the_matching_branch(write) -> None:
    # a scalar for plan: only the 'search' branch speaks, not "should be a dictionary"
    path = write(
        "plan: {tp: 1, pp: 1, dp: 64, micro_batch: 1, recompute: selective, sharding: zero1}",
        "plan: serch",
    )
    assert errors_of(path) == [f"error: {path}:10:7: plan: Input should be 'search' (got 'serch')"]


def test_one_e_notation_is_a_number() -> None:
    data, _ = load_yaml("a: 1e9\nb: 15e12\nc: 2.5E-3\n")
    assert data == {"a": 1e9, "b": 15e12, "c": 2.5e-3}


# ---- out of range -------------------------------------------------------------------


def test_out_of_range_negative(write) -> None:
    path = write("num_gpus: 64", "num_gpus: -64")
    assert errors_of(path) == [
        f"error: {path}:4:13: cluster.num_gpus: Input should be greater than 0 (got -64)"
    ]


def test_out_of_range_inside_flow_mapping(write) -> None:
    # used to be filtered out as a union-branch error ("0 errors in scenario")
    path = write("plan: {tp: 1,", "plan: {tp: 0,")
    assert errors_of(path) == [
        f"error: {path}:10:12: plan.tp: Input should be greater than or equal to 1 (got 0)"
    ]


def test_literal_out_of_choices_inside_flow_mapping(write) -> None:
    path = write("recompute: selective", "recompute: partial")
    assert errors_of(path) == [
        f"error: {path}:10:57: plan.recompute: Input should be 'none', 'selective' or 'full' (got 'partial')"
    ]


@pytest.mark.parametrize("literal", [".inf", "-.inf", ".nan", "1e999"])
def test_non_finite_number(write, literal: str) -> None:
    path = write("tokens: 1e12", f"tokens: {literal}")
    (line,) = errors_of(path)
    assert line.startswith(
        f"error: {path}:7:11: workload.tokens: must be a finite number (got {literal!r})"
    )


def test_integer_beyond_64_bits(write) -> None:
    path = write("num_gpus: 64", "num_gpus: 100000000000000000000")
    (line,) = errors_of(path)
    assert line.startswith(
        f"error: {path}:4:13: cluster.num_gpus: integer out of range (beyond 64 bits)"
    )


def test_several_errors_at_once(write) -> None:
    path = write("num_gpus: 64", "num_gpus: -1")
    text = Path(path).read_text().replace("seq_len: 8192", "seq_len: 0")
    Path(path).write_text(text)
    assert errors_of(path) == [
        f"error: {path}:4:13: cluster.num_gpus: Input should be greater than 0 (got -1)",
        f"error: {path}:8:12: workload.seq_len: Input should be greater than 0 (got 0)",
    ]


# ---- cross-field rules --------------------------------------------------------------


def test_cross_field_rule_in_workload(write) -> None:
    path = write("  global_batch: 128", "  global_batch: 128\n  global_batch_tokens: 1e6")
    # a rule over the whole section points at the section's first key
    assert errors_of(path) == [
        f"error: {path}:6:3: workload: give only one of global_batch and global_batch_tokens"
    ]


def test_cross_field_rule_missing_partner(write) -> None:
    path = write("  global_batch: 128\n", "")
    assert errors_of(path) == [
        f"error: {path}:6:3: workload: give global_batch (sequences) or global_batch_tokens"
    ]


def test_cross_field_rule_in_reliability(write) -> None:
    path = write("plan: {", "reliability: {checkpoint_policy: fixed}\nplan: {")
    assert errors_of(path) == [
        f"error: {path}:10:14: reliability: checkpoint_policy 'fixed' needs checkpoint_interval_s"
    ]


def test_plan_product_rule_names_the_plan(write) -> None:
    # tp*pp*dp*cp must equal the GPU count: checked after loading (plan.py), exit 2 too
    path = write("dp: 64", "dp: 32")
    (line,) = errors_of(path)
    assert "plan:" in line and "32" in line and "64 GPUs" in line
    assert line.startswith(f"error: {path}:10:1: plan:"), line


def test_precision_rule_points_at_the_precision(write) -> None:
    # checked against the GPU catalog after loading: still file:line:col of the field
    path = write("  seq_len: 8192\n", "  seq_len: 8192\n  precision: mxfp8\n")
    (line,) = errors_of(path)
    assert line.startswith(f"error: {path}:9:3: workload.precision:"), line
    assert "mxfp8" in line and "bf16" in line


def test_location_of_a_field_for_later_errors(write) -> None:
    loaded = load_scenario(write())
    assert loaded.location("plan.dp") == f"{loaded.path}:10:22"
    assert loaded.location("workload.tokens") == f"{loaded.path}:7:3"
    assert loaded.location("workload.nope") == f"{loaded.path}:5:1"  # closest enclosing key
    assert (
        load_scenario(loaded.path, overrides=["plan.dp=32"]).location("plan.dp")
        == f"{loaded.path}:10:1"
    )


# ---- YAML-level damage --------------------------------------------------------------


def test_syntax_error_position(write) -> None:
    path = write("model: llama3-8b", "model: [unclosed")
    (line,) = errors_of(path)
    assert line.startswith(f"error: {path}:7:9: YAML: syntax error")


def test_control_character(write) -> None:
    path = write("name: t", "name: t\x1f")
    assert errors_of(path) == [
        f"error: {path}:1:8: YAML: control character U+001F is not allowed; save the scenario as plain UTF-8 text"
    ]


def test_recursive_alias(write) -> None:
    path = write("name: t", "name: t\nextra: &a [*a]")
    (line,) = errors_of(path)
    assert line.startswith(f"error: {path}:2:8: extra.0: recursive YAML alias")


def test_alias_bomb_fails_fast() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i, name in enumerate("bcdefg"):
        prev = "abcdefg"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(InputError, match="document too large"):
        load_yaml("\n".join(levels))


def test_deep_nesting() -> None:
    with pytest.raises(InputError, match="nested too deeply"):
        load_yaml("a: " + "[" * 3000 + "]" * 3000)


def test_set_override_error_names_the_field(write) -> None:
    (line,) = errors_of(write(), "workload.tokens=.inf")
    assert line.startswith("error: --set workload.tokens: must be a finite number (got '.inf')")


def test_set_override_without_equals(write) -> None:
    (line,) = errors_of(write(), "cluster.num_gpus")
    assert (
        line
        == "error: --set: expected PATH=VALUE (got 'cluster.num_gpus'); e.g. --set cluster.num_gpus=20000"
    )


def test_errors_are_collected_not_raised_one_by_one(write) -> None:
    text = BASE.replace("num_gpus: 64", "num_gpus: -1").replace("tokens: 1e12", "tokenz: 1e12")
    data, positions = load_yaml(text, filename="f.yaml")
    from colossim.scenario.load import scenario_from_data

    with pytest.raises(InputErrors) as info:
        scenario_from_data(data, positions=positions, filename="f.yaml")
    assert {e.location for e in info.value.errors} >= {"f.yaml:4:13", "f.yaml:7:3"}


# ---- round trip ---------------------------------------------------------------------

EXAMPLES = sorted(
    p.name for p in Path(str(resources.files("colossim").joinpath("examples"))).glob("*.yaml")
)

INLINE = """\
name: inline
cluster:
  gpu: b200
  num_gpus: 1024
  fabric: {kind: fat_tree, switch: qm9700, oversubscription: [2.0, 1.5]}
workload:
  model: {name: tiny-moe, layers: 8, hidden: 1024, heads: 8, vocab: 32000, experts: 8, top_k: 2, moe_ffn_hidden: 2048}
  tokens: 1e11
  seq_len: 4096
  global_batch_tokens: 4e6
  precision: fp8
plan: {tp: 2, pp: 2, dp: 256, ep: 8, recompute: full, sharding: zero3}
reliability: {checkpoint_policy: fixed, checkpoint_interval_s: 600, failure_rate_overrides: {faulty_gpu: 0.1}}
facility: {battery: null, pue: 1.2, grid_mw: 5}
cost: {energy_usd_per_kwh: 0.05}
"""


def _round_trip(path: str, tmp_path: Path) -> None:
    first = load_scenario(path)
    text = dump_resolved(first)
    again_path = tmp_path / "resolved.yaml"
    again_path.write_text(text, encoding="utf-8")
    second = load_scenario(str(again_path))
    assert second.scenario == first.scenario
    # and the dump is a fixed point (beyond its header line naming the source)
    assert dump_resolved(second).split("\n", 1)[1] == text.split("\n", 1)[1]


@pytest.mark.parametrize("example", EXAMPLES)
def test_round_trip_examples(example: str, tmp_path: Path) -> None:
    _round_trip(str(Path(str(resources.files("colossim").joinpath("examples", example)))), tmp_path)


def test_round_trip_inline_model_and_nulls(tmp_path: Path) -> None:
    p = tmp_path / "inline.yaml"
    p.write_text(INLINE, encoding="utf-8")
    loaded = load_scenario(str(p))
    assert loaded.scenario.facility.battery is None  # null means "no battery": must survive
    assert "battery: null" in dump_resolved(loaded)
    _round_trip(str(p), tmp_path)


def test_dump_fills_defaults(write) -> None:
    text = dump_resolved(load_scenario(write()))
    assert text.startswith("# resolved scenario")
    data, _ = load_yaml(text)
    assert data["search"]["top_k"] == 5 and data["facility"]["cooling"] == "liquid"


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("workload.tokens=5e-324", "workload.tokens"),
        ("workload.tokens=1e30", "workload.tokens"),
        ("workload.global_batch=9223372036854775807", "workload.global_batch"),
        ("workload.seq_len=100000000", "workload.seq_len"),
        ("cluster.gpus_per_node=16777217", "cluster.gpus_per_node"),
        ("cluster.num_gpus=1000000000", "cluster.num_gpus"),
        ("workload.moe_imbalance=0.5", "workload.moe_imbalance"),  # busiest below the mean
        ("workload.moe_imbalance=100", "workload.moe_imbalance"),
    ],
)
def test_absurd_magnitudes_are_refused_naming_the_field(setting: str, field: str) -> None:
    r = cli("estimate", "--set", setting, catch=True)
    assert r.exit_code == 2, r.output
    assert f"{field}:" in r.stderr and "Traceback" not in r.output


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("facility.trace_duration_s=2e7", "facility.trace_duration_s"),
        ("reliability.repair_h=9223372036854775807", "reliability.repair_h"),
    ],
)
def test_work_bounded_inputs_are_refused(setting: str, field: str) -> None:
    r = cli("cost", "--set", setting, catch=True)
    assert r.exit_code == 2 and f"{field}:" in r.stderr


def test_a_tiny_ramp_limit_runs_in_bounded_memory() -> None:
    """The smoothing window of a 1e-9 MW/s ramp limit is far longer than the trace; it
    used to allocate it (123 TiB)."""
    r = cli("power", "--set", "facility.grid_ramp_mw_per_s=1e-9", "--format", "json", catch=True)
    assert r.exit_code == 0, r.output


def test_yaml_tags_are_refused_by_name(tmp_path) -> None:
    p = tmp_path / "tag.yaml"
    p.write_text(SMALL_SCENARIO.replace("name: t", 'name: !!python/object/apply:os.system ["x"]'))
    r = cli("estimate", str(p), catch=True)
    assert (
        r.exit_code == 2 and "YAML tag !!python/object/apply:os.system is not allowed" in r.stderr
    )


def test_aliases_cannot_expand_text_past_the_limit(tmp_path) -> None:
    big = "x" * 900_000
    p = tmp_path / "alias.yaml"
    p.write_text(f"name: &a '{big}'\ndescription: [{', '.join(['*a'] * 20)}]\n")
    r = cli("estimate", str(p), catch=True)
    assert r.exit_code == 2 and "bytes of text once aliases are expanded" in r.stderr


def test_negative_mtp_layers_is_one_error_naming_the_field(tmp_path: Path) -> None:
    p = tmp_path / "mtp.yaml"
    p.write_text(INLINE.replace("moe_ffn_hidden: 2048}", "moe_ffn_hidden: 2048, mtp_layers: -1}"))
    (line,) = errors_of(str(p))
    assert "workload.model.mtp_layers" in line and f"{p}:" in line and "-1" in line
