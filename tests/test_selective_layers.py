"""What "selective" recompute means per stack (issue #12): Megatron recomputes the
attention core and the activation functions; torchtitan checkpoints every second block in
full (selective_ac_option "2"), which re-runs half a forward and keeps about half of the
activations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colossim.parallel.memory import layers_recomputed, memory_breakdown
from colossim.parallel.plan import Plan, PlanBatch, Recompute, Sharding
from colossim.perf.collective_times import collective_times
from colossim.perf.context import Context
from colossim.perf.step import evaluate
from colossim.validation import read_runs
from colossim.validation.prepare import prepare_row
from colossim.workload.stack import efficiency, stack_profile

ROW = "torchtitan2024-perfdoc-llama2-70b-a100-80g-acsel-op-64"


def _row():
    (row,) = [r for r in read_runs("published_runs") if r["id"] == ROW]
    return prepare_row(row, efficiency())


def _plans(*specs: tuple[int, Recompute]) -> PlanBatch:
    return PlanBatch.from_plans(
        [
            Plan(
                tp=1,
                pp=1,
                dp=64,
                micro_batch=mb,
                global_batch=128,
                recompute=rc,
                sharding=Sharding.ZERO3,
            )  # fmt: skip
            for mb, rc in specs
        ]
    )


def test_torchtitan_memory_matches_its_documented_out_of_memory() -> None:
    """torchtitan docs/performance.md, Llama 2 70B on 64 A100 80GB with FSDP: local batch
    1 with selective (op) AC and local batch 2 with full AC run; local batch 2 with
    selective AC runs out of memory."""
    p = _row()
    stack = stack_profile("torchtitan")
    plans = _plans((1, Recompute.SELECTIVE), (2, Recompute.FULL), (2, Recompute.SELECTIVE))
    total = memory_breakdown(p.model, p.training, plans, stack, efficiency()).total
    hbm = p.cluster.gpu.hbm_bytes
    assert total[0] < hbm and total[1] < hbm and total[2] > hbm
    # Megatron's meaning of selective would not have fitted the run that did
    megatron_like = replace(stack, selective_layer_period=0.0)
    assert memory_breakdown(p.model, p.training, plans, megatron_like, efficiency()).total[0] > hbm


def test_layer_selective_recompute_costs_between_megatron_selective_and_full() -> None:
    p = _row()
    stack = stack_profile("torchtitan")
    assert stack.selective_layer_period == 2
    assert stack_profile("megatron").selective_layer_period == 0
    plans = _plans(*((1, rc) for rc in (Recompute.NONE, Recompute.SELECTIVE, Recompute.FULL)))

    def recompute_s(s) -> np.ndarray:
        ctx = Context(model=p.model, training=p.training, cluster=p.cluster, stack=s,
                      eff=efficiency(), network=p.network)  # fmt: skip
        coll = collective_times(p.model, p.training, plans, s, p.network)
        return evaluate(ctx, plans, collectives=coll).recompute_s

    layers = recompute_s(stack)
    ops = recompute_s(replace(stack, selective_layer_period=0.0))
    assert layers[0] == ops[0] == 0.0
    assert layers[2] == pytest.approx(ops[2])  # full recompute is one forward either way
    assert layers[1] == pytest.approx(layers[2] / 2, rel=1e-9)  # every second layer
    assert ops[1] < layers[1]


def test_layers_recomputed_by_mode_and_period() -> None:
    rc = np.array([Recompute.NONE, Recompute.SELECTIVE, Recompute.FULL])
    np.testing.assert_array_equal(layers_recomputed(rc, 0.0), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(layers_recomputed(rc, 2.0), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(layers_recomputed(rc, 4.0), [0.0, 0.25, 1.0])
