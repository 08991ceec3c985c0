"""Mixed-generation clusters (cluster.partitions): the schema, the pacing rule of a job
spanning partitions, separate jobs, and power / capex / failures summed per partition."""

from __future__ import annotations

import json

import pytest

from colossim import load_scenario, run_scenario
from colossim.errors import InputError, InputErrors
from colossim.pipeline.partitions import pace
from colossim.power import power_config
from colossim.scenario.load import scenario_from_data
from helpers import cli, cli_json

BASE = {
    "name": "mix",
    "cluster": {"nic_gbit_per_s": 400},
    "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192, "global_batch": 256},
    "reliability": {"trials": 20},
}


def _scenario(partitions=None, batch=None, **cluster):
    data = json.loads(json.dumps(BASE))
    if batch is not None:
        data["workload"]["global_batch"] = batch
    data["cluster"] |= cluster
    if partitions is not None:
        data["cluster"]["partitions"] = partitions
    return scenario_from_data(data)


def _run(sc):
    return run_scenario(sc)


H100, H200 = "h100-sxm-80gb", "h200-sxm-141gb"


def test_partitions_sum_to_the_cluster_size_and_name_the_first_gpu() -> None:
    sc = _scenario([{"gpu": H100, "num_gpus": 768}, {"gpu": H200, "num_gpus": 256}])
    assert sc.cluster.num_gpus == 1024
    assert sc.cluster.gpu == H100
    assert sc.cluster.gpu_counts == {H100: 768, H200: 256}


@pytest.mark.parametrize(
    ("cluster", "needle"),
    [
        ({"partitions": [{"gpu": "h900", "num_gpus": 8}]}, "cluster.partitions.0.gpu"),
        ({"partitions": [{"gpu": H100, "num_gpus": 0}]}, "cluster.partitions.0.num_gpus"),
        ({"partitions": [{"gpu": H100, "num_gpus": -8}]}, "cluster.partitions.0.num_gpus"),
        ({"partitions": []}, "cluster.partitions"),
        ({"partitions": [{"gpu": H100, "num_gpus": 8}], "num_gpus": 16}, "not the sum"),
        ({"partitions": [{"gpu": H100, "num_gpus": 8}], "gpu": H200}, "each partition"),
        ({}, "num_gpus"),
    ],
)
def test_bad_partitions_are_refused_naming_the_field(cluster: dict, needle: str) -> None:
    data = json.loads(json.dumps(BASE))
    data["cluster"] |= cluster
    with pytest.raises(InputErrors) as exc:
        scenario_from_data(data)
    assert needle in str(exc.value)


def test_two_identical_partitions_are_the_unsplit_cluster() -> None:
    """Splitting a homogeneous cluster into two partitions of the same GPU changes no
    figure: plan, step, power, capex and failure rate are all per-partition sums."""
    whole = _run(_scenario(gpu=H100, num_gpus=1024))
    split = _run(_scenario([{"gpu": H100, "num_gpus": 512}, {"gpu": H100, "num_gpus": 512}]))
    assert split.estimate.plan == whole.estimate.plan
    assert split.estimate.step_time_s == pytest.approx(whole.estimate.step_time_s, rel=1e-12)
    assert split.facility.power.average_facility_w == pytest.approx(
        whole.facility.power.average_facility_w, rel=1e-9
    )
    assert split.cost.capex_usd == pytest.approx(whole.cost.capex_usd, rel=1e-9)
    for rate in ("total_rate_per_s", "unplanned_rate_per_s", "node_replacing_rate_per_s"):
        assert getattr(split.campaign_config, rate) == pytest.approx(
            getattr(whole.campaign_config, rate), rel=1e-9
        )
    assert [u.utilisation for u in split.partition_uses] == [1.0, 1.0]


def test_a_spanning_job_is_paced_by_its_slowest_partition_and_smallest_memory() -> None:
    r = _run(_scenario([{"gpu": H100, "num_gpus": 768}, {"gpu": H200, "num_gpus": 256}]))
    ests = r.spanning.ranked[0]
    # The same plan on both partitions; the job's step is the slower one.
    assert ests[0].plan == ests[1].plan
    assert r.estimate.step_time_s == max(e.step_time_s for e in ests)
    # H200: same peak, faster HBM -> not slower than the H100; it paces nothing.
    assert ests[1].step_time_s <= ests[0].step_time_s
    uses = r.partition_uses
    assert uses[0].utilisation == 1.0
    assert 0 < uses[1].utilisation <= 1.0
    # Memory of the smallest GPU (80 GB), not the H200's 141 GB.
    assert r.estimate.memory_capacity_bytes == pytest.approx(80e9, rel=0.01)
    # The searched plans are ranked by the paced throughput.
    paced = [min(e.tokens_per_s for e in plan) for plan in r.spanning.ranked]
    assert paced == sorted(paced, reverse=True)


def test_faster_partition_loses_what_it_waits() -> None:
    """B200 next to H100 in one compute-bound job runs at the H100's pace: its utilisation
    (its own step over the paced step) is far below 1 (~2.3x the H100's BF16 peak)."""
    parts = [{"gpu": H100, "num_gpus": 256}, {"gpu": "b200", "num_gpus": 256, "gpus_per_node": 8}]
    r = _run(_scenario(parts, batch=2048))
    uses = {u.gpu_id: u for u in r.partition_uses}
    assert uses[H100].utilisation == 1.0
    assert uses["b200"].utilisation < 0.7
    # The faster GPUs wait at communication power: the blended compute-phase draw is
    # below the GPU-count x TDP weighted average of each GPU computing all the time.
    blended = r.facility.power.config
    full = [power_config(gpu_id=g, num_gpus=256, gpus_per_node=8) for g in (H100, "b200")]
    weights = [c.gpu_tdp_w for c in full]
    busy = sum(w * c.compute_frac_of_tdp for w, c in zip(weights, full, strict=True)) / sum(weights)
    assert blended.compute_frac_of_tdp < busy - 0.02


def test_separate_jobs_scale_the_batch_and_use_their_own_fabric() -> None:
    sc = _scenario([{"gpu": H100, "num_gpus": 768}, {"gpu": H200, "num_gpus": 256}], job="separate")
    r = _run(sc)
    jobs = r.separate_jobs
    assert [j.scenario.cluster.num_gpus for j in jobs] == [768, 256]
    assert [j.scenario.workload.global_batch for j in jobs] == [192, 64]
    # The headline is the largest partition's job.
    assert r.estimate.plan == jobs[0].estimate.plan
    fabric_cost = sum(j.fabric.cost_usd for j in jobs)
    assert r._fabric_sum("cost_usd") == pytest.approx(fabric_cost)


def test_colossus_200k_is_two_partitions_and_priced_per_gpu_type() -> None:
    """Acceptance: the example has an H100 and an H200 partition with their utilisation;
    against 200k H100, capex is higher by the HGX H200 / H100 price difference and the
    nameplate IT power is the same (both 700 W TDP, same node power)."""
    js = cli_json("plan", "colossus-200k-h100-h200")
    parts = js["partitions"]
    assert [p["gpu"] for p in parts] == [H100, "h200-sxm-141gb"]
    assert all(0 < p["utilisation"] <= 1 for p in parts)
    assert sum(p["num_gpus"] for p in parts) == 200_000
    mixed = load_scenario("colossus-200k-h100-h200")
    flat = load_scenario(
        "colossus-200k-h100-h200",
        overrides=["cluster.partitions.1.gpu=h100-sxm-80gb"],
    )
    rm, rf = run_scenario(mixed, campaign=False), run_scenario(flat, campaign=False)
    h100 = 270_480
    h200 = 270_565
    servers_diff = 50_000 / 8 * (h200 - h100)
    assert rm.cost.capex_usd - rf.cost.capex_usd == pytest.approx(servers_diff, rel=0.05)
    assert rm.facility.power.nameplate_it_w == pytest.approx(
        rf.facility.power.nameplate_it_w, rel=1e-6
    )
    # The H200s wait for the H100s, so the mixed cluster draws no more on average.
    assert rm.facility.power.average_it_w <= rf.facility.power.average_it_w * (1 + 1e-9)


def test_set_reaches_into_a_list_and_names_a_bad_index() -> None:
    loaded = load_scenario(
        "colossus-200k-h100-h200", overrides=["cluster.partitions.1.num_gpus=60000"]
    )
    assert loaded.scenario.cluster.num_gpus == 210_000
    res = cli("plan", "colossus-200k-h100-h200", "--set", "cluster.partitions.7.num_gpus=1")
    assert res.exit_code == 2
    assert "cluster.partitions.7.num_gpus" in res.output
    assert "Traceback" not in res.output


def test_a_partitioned_scenario_round_trips_through_write_plan(tmp_path) -> None:
    """`plan --write-plan` on a mixed cluster writes a file that loads back with the same
    partitions and the chosen plan fixed; `estimate` on it gives the same step."""
    parts = [{"gpu": H100, "num_gpus": 96}, {"gpu": H200, "num_gpus": 32}]
    src = tmp_path / "mix.yaml"
    src.write_text(json.dumps(BASE | {"cluster": {"partitions": parts}}))
    out = tmp_path / "fixed.yaml"
    planned = cli_json("plan", str(src), "--write-plan", str(out))
    fixed = load_scenario(str(out)).scenario
    assert fixed.cluster.gpu_counts == {H100: 96, H200: 32}
    assert fixed.plan != "search"
    again = cli_json("estimate", str(out))
    assert again["step_time_s"] == pytest.approx(planned["step_time_s"], rel=1e-9)
    for cmd in ("fabric", "power", "cost", "campaign", "facility"):
        assert (
            cli(
                cmd, str(out), "--format", "json", *(["--trials", "5"] if cmd == "campaign" else [])
            ).exit_code
            == 0
        ), cmd


def test_separate_jobs_refuse_a_fixed_plan() -> None:
    data = json.loads(json.dumps(BASE))
    data["cluster"] = {
        "partitions": [{"gpu": H100, "num_gpus": 64}, {"gpu": H200, "num_gpus": 64}],
        "job": "separate",
    }
    data["plan"] = {"tp": 1, "pp": 1, "dp": 128}
    with pytest.raises(InputError, match="each partition's job is searched"):
        run_scenario(scenario_from_data(data)).estimate  # noqa: B018


def test_micro_batches_by_speed_recover_what_faster_gpus_lose() -> None:
    """Placement by speed deals the step's micro-batches to each partition's replicas so
    that the slowest finishes first: never slower than uniform, every micro-batch of the
    batch placed, the faster partition gets more, and two equal partitions change nothing."""
    parts = [{"gpu": H100, "num_gpus": 256}, {"gpu": "b200", "num_gpus": 256, "gpus_per_node": 8}]
    uniform = _run(_scenario(parts, batch=4096))
    fast = _run(_scenario(parts, batch=4096, placement="by_speed"))
    assert fast.estimate.tokens_per_s > uniform.estimate.tokens_per_s * 1.2
    sp = fast.spanning
    ests = sp.ranked[0]
    run = pace(ests, sp.shares, by_speed=True)
    plan = ests[0].plan
    needed = plan.global_batch // (plan.dp * plan.micro_batch) * plan.dp
    placed = sum(plan.dp * sh * k for sh, k in zip(sp.shares, run.micro_batches, strict=True))
    assert placed >= needed - 1e-9
    assert run.micro_batches[1] > run.micro_batches[0]  # the B200s take more
    assert run.step_time_s <= pace(ests, sp.shares, by_speed=False).step_time_s
    uses = {u.gpu_id: u for u in fast.partition_uses}
    assert min(u.utilisation for u in uses.values()) > 0.8
    # Equal partitions: by speed is uniform.
    same = [{"gpu": H100, "num_gpus": 256}, {"gpu": H100, "num_gpus": 256}]
    a = _run(_scenario(same, batch=4096))
    b = _run(_scenario(same, batch=4096, placement="by_speed"))
    assert b.estimate.step_time_s == pytest.approx(a.estimate.step_time_s, rel=1e-6)


def test_cluster_mfu_counts_every_gpus_peak() -> None:
    """The job's MFU is model FLOPs over the step x every GPU's peak: H100 + B200 at the
    H100's pace has a lower MFU than the H100 partition's own."""
    parts = [{"gpu": H100, "num_gpus": 256}, {"gpu": "b200", "num_gpus": 256, "gpus_per_node": 8}]
    r = _run(_scenario(parts, batch=2048))
    h100 = {u.gpu_id: u for u in r.partition_uses}[H100]
    b200 = {u.gpu_id: u for u in r.partition_uses}["b200"]
    assert r.estimate.mfu < h100.mfu
    # Weighted by peaks, the partitions' MFUs average to the job's.
    peaks = r.spanning.peaks
    weighted = (h100.mfu * peaks[0] + b200.mfu * peaks[1]) / sum(peaks)
    assert r.estimate.mfu == pytest.approx(weighted, rel=1e-6)
