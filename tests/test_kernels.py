"""Kernel rates never exceed the measured ceiling of their GPU (issue #12)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from colossim.cluster import Cluster
from colossim.hardware import gpu, gpu_ids
from colossim.perf.compute import (
    gemm_benchmarks,
    gemm_ceiling_flop_per_s,
    gemm_half_dim,
    gemm_shape_efficiency,
    modelled_tflops,
)
from colossim.perf.step import _gemm, _rates
from colossim.workload.fp8 import FP8_PRECISIONS, Fp8Recipe, recipe_cost
from colossim.workload.stack import efficiency, framework_ids, stack_profile
from colossim.workload.training import Training

RNG = np.random.default_rng(12)
# GEMM shapes from tiny (decode-like, small experts) to huge, M x N x K.
SHAPES = np.exp(RNG.uniform(np.log(8), np.log(131072), size=(3, 2000)))


def _cluster(g) -> Cluster:
    return Cluster(
        gpu=g, num_gpus=8, gpus_per_node=g.gpus_per_node, scaleup_domain=g.scaleup_domain,
        nic_bw_bytes_per_s=g.nic_bw_bytes_per_s, nic_efficiency=0.9,
    )  # fmt: skip


def _cases():
    for gid in gpu_ids():
        for prec in gpu(gid).peak_flop_per_s:
            yield gid, prec, None
            if prec in FP8_PRECISIONS:  # every recipe the GPU's generation runs
                for recipe in Fp8Recipe:
                    ok = gpu(gid).generation in recipe_cost(recipe).generations
                    if ok and (prec != "mxfp8" or recipe == Fp8Recipe.MXFP8):
                        yield gid, prec, recipe


@pytest.mark.parametrize(("gpu_id", "precision", "recipe"), list(_cases()))
def test_no_gemm_above_its_gpus_ceiling(gpu_id: str, precision: str, recipe) -> None:
    g = gpu(gpu_id)
    ceiling = gemm_ceiling_flop_per_s(g, precision)
    assert ceiling <= g.peak(precision)
    cluster = _cluster(g)
    training = Training(
        seq_len=4096, global_batch=8, tokens=1e12, precision=precision, fp8_recipe=recipe
    )
    m, n, k = SHAPES
    for fw in framework_ids():
        r = _rates(cluster, training, stack_profile(fw), efficiency())
        groups = RNG.integers(1, 65, size=m.shape).astype(float)  # grouped (MoE) GEMMs too
        for g_ in (1.0, groups):
            fwd, bwd = _gemm(r, m, n, k, g_)
            flops = 2 * g_ * m * n * k
            for rate in (flops / fwd, 2 * flops / bwd):  # backward: data + weight grads
                assert np.all(rate <= ceiling * (1 + 1e-12)), (fw, rate.max() / ceiling)


@pytest.mark.parametrize("gpu_id", gpu_ids())
def test_no_attention_kernel_above_its_gpus_ceiling(gpu_id: str) -> None:
    """The attention core, forward and backward, at every sequence length and head dim,
    for every stack (its kernel family, after the fallback), never runs above the GPU's
    measured 16-bit matmul ceiling."""
    g = gpu(gpu_id)
    ceiling = gemm_ceiling_flop_per_s(g, "bf16")
    training = Training(seq_len=4096, global_batch=8, tokens=1e12, precision="bf16")
    seq = 2.0 ** np.arange(6, 22)  # 64 .. 2M keys per kernel call
    for fw in framework_ids():
        r = _rates(_cluster(g), training, stack_profile(fw), efficiency())
        for head_dim in (32, 64, 96, 128, 192, 256, 512):
            for eff in r.attn_kernel.efficiency(seq, head_dim):
                rate = r.attn_peak * eff
                assert np.all(rate <= ceiling * (1 + 1e-12)), (fw, head_dim, rate.max() / ceiling)


def test_shape_efficiency_is_a_fraction_and_small_shapes_lose() -> None:
    m, n, k = SHAPES
    e = gemm_shape_efficiency(m, n, k, sm_count=132, k_half=64.0)
    assert np.all((e > 0) & (e <= 1))
    big = gemm_shape_efficiency(16384, 16384, 16384, sm_count=132, k_half=64.0)
    small = gemm_shape_efficiency(4096, 256, 2048, sm_count=132, k_half=64.0)
    assert big > 0.9 and small < big


def _benchmark_model_tflops(m, n, k, groups=1.0):
    eff = efficiency()
    return modelled_tflops(
        gemm_benchmarks(), m, n, k, half_dim_8bit=eff.gemm_half_dim,
        hbm_efficiency=eff.elementwise_bw_efficiency, groups=groups,
    )  # fmt: skip


def test_gemm_model_reproduces_measured_training_shapes() -> None:
    """The shape model with the catalog's short-K constant reproduces the measured
    compute-bound GEMMs (M = 4096, K from 512 to 16,384) within 10% each, and the K
    dependence: K = 512 runs at well under two thirds of K = 16,384."""
    b = gemm_benchmarks()
    sel = b.m >= 1024
    assert sel.sum() >= 6
    pred = _benchmark_model_tflops(b.m[sel], b.n[sel], b.k[sel])
    assert np.all(np.abs(np.log(pred / b.tflops[sel])) < 0.10), pred / b.tflops[sel]
    short, long_ = _benchmark_model_tflops(
        np.array([4096.0] * 2), 32768.0, np.array([512.0, 16384.0])
    )
    assert short < 0.66 * long_


def test_grouped_gemms_run_at_the_dense_rate_of_their_shape() -> None:
    """Contiguous-layout grouped GEMMs (training) were measured at or above the model's
    rate for their per-group shape with waves over all groups: the model is never
    optimistic there, and within 10% of each."""
    g = gemm_benchmarks().grouped
    contiguous = g[:, 1] >= 4096
    assert contiguous.sum() >= 4
    groups, m, n, k, measured = g[contiguous].T
    ratio = measured / _benchmark_model_tflops(m, n, k, groups)
    assert np.all((ratio >= 1.0) & (ratio < 1.10)), ratio


def test_gemm_half_dim_scales_with_the_precisions_rate() -> None:
    h100 = gpu("h100-sxm-80gb")
    assert gemm_half_dim(h100, "bf16", 400.0) == pytest.approx(200.0, rel=1e-3)
    assert gemm_half_dim(h100, "fp8", 400.0) == pytest.approx(400.0, rel=1e-3)


def test_stack_compute_factors_are_bounded_by_one() -> None:
    for fw in framework_ids():
        assert 0 < stack_profile(fw).compute_factor <= 1.0, fw
    eff = efficiency()
    assert eff.fp8_gemm_factor <= 1.0
    for recipe in Fp8Recipe:
        assert 0 < recipe_cost(recipe).gemm_factor <= 1.0, recipe
    assert 1.0 <= eff.dvfs_power_exponent <= 3.0  # f-only .. cube law (V ~ f)


CAPPED = [g for g in map(gpu, gpu_ids()) if g.power_capped]


@pytest.mark.parametrize("exponent", [1.0, 2.0, 3.0, efficiency().dvfs_power_exponent])
def test_power_cap_lowers_clocks(exponent: float) -> None:
    assert CAPPED, "the 500 W H100 parts of the validation set are power-capped"
    for g in map(gpu, gpu_ids()):
        f = g.sustained_clock_fraction(exponent)
        if not g.power_capped:
            assert f == 1.0, g.id
            continue
        assert 0 < f < 1.0, (g.id, f)
        # No dynamic power left under the cap: no clock; a cap at the GEMM power: no throttle.
        assert replace(g, tdp_w=g.static_power_w).sustained_clock_fraction(exponent) == 0.0
        assert replace(g, tdp_w=g.gemm_power_w).sustained_clock_fraction(exponent) == 1.0
        # A deeper cap never gives faster clocks.
        deeper = replace(g, tdp_w=0.5 * (g.tdp_w + g.static_power_w))
        assert deeper.sustained_clock_fraction(exponent) <= f


def test_capped_parts_throttle_compute_not_memory() -> None:
    training = Training(seq_len=4096, global_batch=8, tokens=1e12, precision="bf16")
    for g in CAPPED:
        for fw in framework_ids():
            args = (training, stack_profile(fw), efficiency())
            capped = _rates(_cluster(g), *args)
            free = _rates(_cluster(replace(g, power_capped=False)), *args)
            assert capped.mm < free.mm <= gemm_ceiling_flop_per_s(g, "bf16"), (g.id, fw)
            assert capped.attn_peak < free.attn_peak, (g.id, fw)
            assert capped.mem == free.mem, (g.id, fw)  # HBM clocks are not capped
