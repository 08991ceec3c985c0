"""Attention-kernel efficiency as catalog data (issue #12): per kernel family and GPU
generation, a function of sequence length and head dim; stacks name their family."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colossim.catalog import load_catalog
from colossim.cluster import cluster_for
from colossim.hardware import gpu, gpu_ids
from colossim.parallel.plan import Plan, Recompute
from colossim.perf.estimate import context, estimate
from colossim.workload.attention import AttentionKernelFamily, attention_kernel
from colossim.workload.model import preset
from colossim.workload.stack import framework_ids, stack_profile
from colossim.workload.training import Training

FAMILIES = [f.value for f in AttentionKernelFamily]
GENERATIONS = sorted({gpu(g).generation for g in gpu_ids()})
SEQ = 2.0 ** np.arange(8, 21)  # 256 .. 1M keys per kernel call
HEAD_DIMS = (64, 96, 128, 160, 192, 256)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("generation", GENERATIONS)
def test_efficiency_rises_with_sequence_and_saturates(family: str, generation: str) -> None:
    k = attention_kernel(family, generation)
    for d in HEAD_DIMS:
        for eff in k.efficiency(SEQ, d):
            assert np.all((eff > 0) & (eff <= 1)), (family, generation, d)
            assert np.all(np.diff(eff) >= -1e-12), (family, generation, d, eff)
            short, long = eff[SEQ == 512][0], eff[SEQ == 16384][0]
            assert short < 0.8 * long  # short sequences fill the GPU poorly
            assert eff[-1] == pytest.approx(long)  # saturated past the last measurement


def test_fa3_on_hopper_is_faster_than_fa2_forward_and_backward() -> None:
    fa3 = attention_kernel("flash-attention-3", "hopper")
    fa2 = attention_kernel("flash-attention-2", "hopper")
    assert fa3.family == AttentionKernelFamily.FLASH_ATTENTION_3
    for d in (64, 128, 256):
        for new, old in zip(fa3.efficiency(SEQ, d), fa2.efficiency(SEQ, d), strict=True):
            assert np.all(new > old), d


@pytest.mark.parametrize("generation", ["ampere", "blackwell", "cdna3"])
def test_fa3_requested_off_hopper_falls_back_to_fa2(generation: str) -> None:
    k = attention_kernel("flash-attention-3", generation)
    assert k.requested == AttentionKernelFamily.FLASH_ATTENTION_3
    assert k.family == AttentionKernelFamily.FLASH_ATTENTION_2
    fa2 = attention_kernel("flash-attention-2", generation)
    np.testing.assert_array_equal(k.efficiency(SEQ, 128)[0], fa2.efficiency(SEQ, 128)[0])


def test_cudnn_runs_on_hopper_and_blackwell_and_falls_back_on_ampere() -> None:
    assert attention_kernel("cudnn", "hopper").family == AttentionKernelFamily.CUDNN
    assert attention_kernel("cudnn", "blackwell").family == AttentionKernelFamily.CUDNN
    assert attention_kernel("cudnn", "ampere").family == AttentionKernelFamily.FLASH_ATTENTION_2


def test_head_dim_moves_efficiency_between_the_measured_rows() -> None:
    k = attention_kernel("flash-attention-3", "hopper")
    s = np.array([8192.0])
    f64, f96, f128 = (k.efficiency(s, d)[0][0] for d in (64, 96, 128))
    assert f64 < f96 < f128  # FA3 forward gains with head dim (FA3 paper Fig. 5)


def test_every_stack_names_a_known_family_from_the_catalog() -> None:
    entries = load_catalog("efficiency")
    for fw in framework_ids():
        family = stack_profile(fw).attention_kernel
        assert family in FAMILIES, fw
        raw = entries[fw].values
        if "alias_of" not in raw:  # the profile carries the catalog's value
            assert raw["attention_kernel"] == family, fw
    assert stack_profile("nemo").attention_kernel == "cudnn"
    assert stack_profile("nanotron").attention_kernel == "flash-attention-2"


def _attention_s(family: str, gpu_id: str, seq_len: int = 32768) -> float:
    training = Training(seq_len=seq_len, global_batch=64, tokens=1e12, precision="bf16")
    ctx = context(preset("llama3-8b"), training, cluster_for(gpu(gpu_id), 64))
    ctx = replace(ctx, stack=replace(ctx.stack, attention_kernel=family))
    plan = Plan(tp=8, pp=1, dp=8, micro_batch=1, global_batch=64, recompute=Recompute.FULL)
    return estimate(ctx, plan).time_breakdown_s["attention"]


def test_step_time_follows_the_stacks_attention_family() -> None:
    fa2 = _attention_s("flash-attention-2", "h100-sxm-80gb")
    fa3 = _attention_s("flash-attention-3", "h100-sxm-80gb")
    assert fa3 < fa2
    # On an A100 FA3 falls back to FA2: the same attention seconds.
    assert _attention_s("flash-attention-3", "a100-sxm-80gb") == pytest.approx(
        _attention_s("flash-attention-2", "a100-sxm-80gb")
    )


def test_blackwell_ultra_runs_cudnn_attention_faster_than_blackwell() -> None:
    """GB300 and B300 scale the Blackwell cuDNN table (the same cuDNN build measured on
    GB300 and GB200): the forward gains more than the backward; other GPUs of the
    generation, and families without their own GPU entry, keep the generation table."""
    s = np.array([4096.0, 8192.0])
    base_f, base_b = attention_kernel("cudnn", "blackwell").efficiency(s, 128)
    for gid in ("gb300", "b300"):
        assert gpu(gid).generation == "blackwell"
        f, b = attention_kernel("cudnn", "blackwell", gid).efficiency(s, 128)
        assert np.all(f / base_f > b / base_b) and np.all(b > base_b)
    for gid in ("gb200", "b200"):
        f, b = attention_kernel("cudnn", "blackwell", gid).efficiency(s, 128)
        np.testing.assert_array_equal(f, base_f)
    fa2 = attention_kernel("flash-attention-2", "blackwell")
    np.testing.assert_array_equal(
        attention_kernel("flash-attention-2", "blackwell", "gb300").efficiency(s, 128)[0],
        fa2.efficiency(s, 128)[0],
    )
