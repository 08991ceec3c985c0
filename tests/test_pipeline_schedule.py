"""The optional ``pipeline_schedule`` column of the validation CSVs (issue #12): a row that
says its pipeline interleaves but not how many stages per rank gets its stack's default
for an interleaved schedule, not the plain 1F1B default of a blank vp."""

from __future__ import annotations

from colossim.validation import read_runs, validate_rows
from colossim.workload.stack import stack_profile

INTERLEAVED = "torchtitan2024-t5-llama3.1-405b-asynctp-interleaved-512"
PLAIN = "torchtitan2024-t5-llama3.1-405b-asynctp-512"


def _rows() -> dict[str, dict[str, str]]:
    return {r["id"]: r for r in read_runs("published_runs") if r["id"] in (INTERLEAVED, PLAIN)}


def test_interleaved_row_with_blank_vp_takes_the_stacks_interleave_default() -> None:
    rows = _rows()
    inter, plain = rows[INTERLEAVED], rows[PLAIN]
    assert inter["vp"] == "" and inter["pipeline_schedule"] == "interleaved"
    assert plain["vp"] == "1"
    res = validate_rows([inter, plain, dict(inter, pipeline_schedule="")]).rows
    assert res[0].plan["vp"] == stack_profile("torchtitan").defaults.interleaved_vp == 2
    assert res[1].plan["vp"] == res[2].plan["vp"] == 1  # blank schedule: the stack's vp 1
    # The interleave shrinks the bubble: faster than the same layout in plain 1F1B, as
    # measured (128 vs 100 tokens/s per GPU).
    assert res[0].predicted > res[1].predicted
    assert res[2].predicted == res[1].predicted


def test_1f1b_states_vp_1_and_contradictions_are_one_error_naming_the_column() -> None:
    inter = _rows()[INTERLEAVED]
    one = validate_rows([dict(inter, pipeline_schedule="1F1B")]).rows[0]
    assert one.predicted is not None and one.plan["vp"] == 1
    bad = [
        dict(inter, pipeline_schedule="zero-bubble"),
        dict(inter, pipeline_schedule="1f1b", vp="4"),
        dict(inter, pipeline_schedule="interleaved", vp="1"),
        dict(inter, pipeline_schedule="interleaved", pp="1", dp="64"),
    ]
    for row, res in zip(bad, validate_rows(bad).rows, strict=True):
        assert res.predicted is None, row["pipeline_schedule"]
        assert "pipeline_schedule" in res.reason and row["pipeline_schedule"] in res.reason
