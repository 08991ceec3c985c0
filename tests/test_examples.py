"""Every example scenario runs, and its key outputs match stored expectations.

For each ``examples/*.yaml`` (the package data in ``src/colossim/examples/``) the test runs
``colossim plan --format json`` and ``colossim fabric --format json`` (and ``colossim estimate
--format json`` when the scenario fixes a plan) and compares the key outputs with
``tests/expectations/<example>.json`` under the per-key tolerances of ``TOLERANCES``.

Regenerate the stored expectations after an intended model change (e.g. a recalibration of
the step-time model) with::

    COLOSSIM_REGEN_EXPECTATIONS=1 python -m pytest tests/test_examples.py

then review the diff of ``tests/expectations/`` before committing it (see
tests/expectations/README.md). An example without a stored expectation fails: it does not
skip.
"""

from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from colossim.cli.main import main

EXAMPLES_DIR = Path(str(resources.files("colossim").joinpath("examples")))
EXAMPLES = sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml"))
EXPECTATIONS_DIR = Path(__file__).resolve().parent / "expectations"
REGEN_ENV = "COLOSSIM_REGEN_EXPECTATIONS"
REGEN_HINT = f"regenerate with: {REGEN_ENV}=1 python -m pytest tests/test_examples.py"

EXACT = 0.0
CONTINUOUS = 0.02  # relative: continuous model outputs (step time, MFU, power, cost, ...)
BOM = 1e-6  # relative: sums of catalog prices/powers over exact part counts

# Key (dotted path in the extracted outputs; a trailing ``*`` covers every key below that
# prefix) -> relative tolerance. Integers, plans and counts are exact; every extracted key
# must match one entry (a test checks it), so a new output never goes unchecked silently.
TOLERANCES: dict[str, float] = {
    # colossim plan: the best plan and its figures
    "plan.num_gpus": EXACT,
    "plan.num_gpus_used": EXACT,
    "plan.idle_gpus": EXACT,
    "plan.layout.*": EXACT,  # tp, pp, dp, cp, ep, vp, micro_batch, global_batch, recompute, sharding
    "plan.step_time_s": CONTINUOUS,
    "plan.tokens_per_s": CONTINUOUS,
    "plan.mfu": CONTINUOUS,
    "plan.memory_per_gpu_bytes": CONTINUOUS,
    "plan.fits_in_memory": EXACT,
    "plan.days_to_train": CONTINUOUS,
    "plan.facility.fabric_tiers": EXACT,
    "plan.facility.fabric_switches": EXACT,
    "plan.facility.it_power_w": CONTINUOUS,
    "plan.facility.facility_power_w": CONTINUOUS,
    "plan.facility.peak_swing_w": CONTINUOUS,
    "plan.facility.capex_usd": CONTINUOUS,
    "plan.facility.usd_per_gpu_hour": CONTINUOUS,
    "plan.facility.usd_per_run": CONTINUOUS,
    # colossim estimate (scenarios with a fixed plan only)
    "estimate.layout.*": EXACT,
    "estimate.step_time_s": CONTINUOUS,
    "estimate.tokens_per_s": CONTINUOUS,
    "estimate.mfu": CONTINUOUS,
    "estimate.memory_per_gpu_bytes": CONTINUOUS,
    "estimate.fits_in_memory": EXACT,
    "estimate.days_to_train": CONTINUOUS,
    # colossim fabric: topology and bill of materials
    "fabric.tiers": EXACT,
    "fabric.planes": EXACT,
    "fabric.radix": EXACT,
    "fabric.switches.*": EXACT,
    "fabric.nics": EXACT,
    "fabric.transceivers.*": EXACT,
    "fabric.bisection_bw_bytes_per_s": BOM,
    "fabric.power_w": BOM,
    "fabric.cost_usd": BOM,
    "fabric.efficiency": BOM,
}

_PLAN_KEYS = ("num_gpus", "num_gpus_used", "idle_gpus", "step_time_s", "tokens_per_s", "mfu")
_PLAN_KEYS += ("memory_per_gpu_bytes", "fits_in_memory", "days_to_train")
_ESTIMATE_KEYS = _PLAN_KEYS[3:]
_FACILITY_KEYS = ("fabric_tiers", "fabric_switches", "it_power_w", "facility_power_w")
_FACILITY_KEYS += ("peak_swing_w", "capex_usd", "usd_per_gpu_hour", "usd_per_run")
_FABRIC_KEYS = ("tiers", "planes", "radix", "nics", "bisection_bw_bytes_per_s", "power_w")
_FABRIC_KEYS += ("cost_usd", "efficiency")


def _run_json(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, (
        f"colossim {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    )
    return json.loads(result.stdout, parse_constant=_reject_constant)


def _reject_constant(token: str) -> float:
    raise AssertionError(f"non-finite number {token} in JSON output")


def _tolerance(key: str) -> float | None:
    if key in TOLERANCES:
        return TOLERANCES[key]
    for pattern, tol in TOLERANCES.items():
        if pattern.endswith("*") and key.startswith(pattern[:-1]):
            return tol
    return None


def key_outputs(example: str) -> dict[str, object]:
    """Run the example through the CLI and return its key outputs as flat ``{path: value}``."""
    path = str(EXAMPLES_DIR / example)
    out: dict[str, object] = {}
    plan = _run_json("plan", path)
    out.update({f"plan.{k}": plan[k] for k in _PLAN_KEYS})
    out.update({f"plan.layout.{k}": v for k, v in plan["plan"].items()})
    out.update({f"plan.facility.{k}": plan["facility"][k] for k in _FACILITY_KEYS})

    from colossim.scenario.load import load_scenario

    if load_scenario(path).scenario.plan != "search":
        est = _run_json("estimate", path)
        out.update({f"estimate.{k}": est[k] for k in _ESTIMATE_KEYS})
        out.update({f"estimate.layout.{k}": v for k, v in est["plan"].items()})

    fab = _run_json("fabric", path)
    out.update({f"fabric.{k}": fab[k] for k in _FABRIC_KEYS})
    out.update({f"fabric.switches.{k}": v for k, v in fab["switches"]["per_tier"].items()})
    out["fabric.switches.total"] = fab["switches"]["total"]
    out.update({f"fabric.transceivers.{k}": v for k, v in fab["transceivers"].items()})
    return out


def _mismatches(expected: dict, actual: dict) -> list[str]:
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"{key}: expected {expected[key]!r}, not produced any more")
            continue
        if key not in expected:
            problems.append(f"{key}: new output {actual[key]!r}, not in the expectation")
            continue
        exp, got, tol = expected[key], actual[key], _tolerance(key)
        if tol is None:
            problems.append(f"{key}: no tolerance in TOLERANCES")
        elif isinstance(exp, bool | str) or isinstance(got, bool | str) or tol == EXACT:
            if exp != got:
                problems.append(f"{key}: expected {exp!r}, got {got!r} (exact)")
        elif not math.isclose(float(got), float(exp), rel_tol=tol, abs_tol=1e-12):
            rel = (float(got) - float(exp)) / float(exp) if exp else math.inf
            problems.append(
                f"{key}: expected {exp!r}, got {got!r} ({rel:+.2%}, tolerance {tol:.2%})"
            )
    return problems


def test_examples_exist() -> None:
    # The set: 20k, 100k, 200k mixed, 300k B200, 1M GB300 and Llama 3 405B on 16k.
    assert len(EXAMPLES) >= 5, EXAMPLES
    assert "colossus-100k-h100.yaml" in EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_header_states_assumptions(example: str) -> None:
    text = (EXAMPLES_DIR / example).read_text(encoding="utf-8")
    header = text.split("\nname:", 1)[0]
    assert text.startswith("#"), f"{example}: starts with a header comment"
    assert "Assumptions" in header and "docs/sources.md" in header, (
        f"{example}: header cites sources"
    )
    # Every source a reader can follow from the repository, never the out-of-repo fact base.
    assert "facts.md" not in text


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_matches_expectation(example: str) -> None:
    actual = key_outputs(example)
    untoleranced = [k for k in actual if _tolerance(k) is None]
    assert not untoleranced, f"add tolerances for {untoleranced} to TOLERANCES"
    store = EXPECTATIONS_DIR / (Path(example).stem + ".json")
    if os.environ.get(REGEN_ENV) == "1":
        EXPECTATIONS_DIR.mkdir(exist_ok=True)
        payload = {
            "example": f"examples/{example}",
            "regenerate": f"{REGEN_ENV}=1 python -m pytest tests/test_examples.py",
            "outputs": dict(sorted(actual.items())),
        }
        store.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        return
    if not store.exists():
        pytest.fail(
            f"no stored expectation {store.relative_to(EXPECTATIONS_DIR.parent)} for {example}; {REGEN_HINT}"
        )
    expected = json.loads(store.read_text(encoding="utf-8"))["outputs"]
    problems = _mismatches(expected, actual)
    assert not problems, (
        f"{example}: {len(problems)} key output(s) off their expectation:\n  "
        + "\n  ".join(problems)
        + f"\nIf the change is intended, {REGEN_HINT}"
    )


def test_no_orphan_expectations() -> None:
    stems = {Path(e).stem for e in EXAMPLES}
    orphans = sorted(p.name for p in EXPECTATIONS_DIR.glob("*.json") if p.stem not in stems)
    assert not orphans, f"expectations without an example (delete them): {orphans}"


def test_mismatch_report_catches_drift() -> None:
    # The comparison itself: a 3% drift of a 2% key fails, 1% passes; an exact key differs.
    expected = {"plan.mfu": 0.40, "plan.layout.tp": 8, "plan.days_to_train": 10.0}
    assert (
        _mismatches(expected, {"plan.mfu": 0.404, "plan.layout.tp": 8, "plan.days_to_train": 10.1})
        == []
    )
    problems = _mismatches(
        expected, {"plan.mfu": 0.412, "plan.layout.tp": 4, "plan.days_to_train": 10.0}
    )
    assert [p.split(":")[0] for p in problems] == ["plan.layout.tp", "plan.mfu"]
    assert _mismatches(expected, {"plan.mfu": 0.40, "plan.layout.tp": 8}) != []
