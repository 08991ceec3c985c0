"""The scenario schema (pydantic v2): cluster + workload + plan + policies.

This package is the only place that knows YAML and pydantic; it turns a validated
scenario into the frozen core records (Cluster, TransformerSpec, Training, Plan, ...).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from colossim.catalog import load_catalog
from colossim.hardware import Precision
from colossim.scenario.bounds import (
    MAX_EXPERTS,
    MAX_GLOBAL_BATCH,
    MAX_GLOBAL_BATCH_TOKENS,
    MAX_GPUS,
    MAX_GPUS_PER_NODE,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_MOE_IMBALANCE,
    MAX_SCALEUP_DOMAIN,
    MAX_SEQ_LEN,
    MAX_TOKENS,
    MAX_VOCAB,
    MAX_WIDTH,
    MIN_TOKENS,
)
from colossim.scenario.fabric import FabricSection
from colossim.scenario.facility import CostSection, FacilitySection
from colossim.scenario.known import require_known
from colossim.scenario.partitions import MAX_PARTITIONS, MAX_PHASES, PartitionSection, PhaseSection
from colossim.scenario.reliability import ReliabilitySection
from colossim.workload.fp8 import FP8_PRECISIONS, Fp8Recipe

__all__ = ["ClusterSection", "PlanSection", "Scenario", "SearchSection", "WorkloadSection"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelArch(_Section):
    """An inline transformer architecture (instead of a preset id)."""

    name: str = Field("custom", description="label for reports")
    layers: int = Field(gt=0, le=MAX_LAYERS, description="transformer blocks")
    hidden: int = Field(gt=0, le=MAX_WIDTH, description="model width d_model")
    heads: int = Field(gt=0, le=MAX_HEADS, description="query heads")
    kv_heads: int | None = Field(
        None, gt=0, le=MAX_HEADS, description="KV heads (GQA); default = heads"
    )
    head_dim: int | None = Field(
        None, gt=0, le=MAX_WIDTH, description="per-head width; default hidden/heads"
    )
    ffn_hidden: int = Field(0, ge=0, le=MAX_WIDTH, description="dense MLP inner width")
    gated_mlp: bool = Field(True, description="3-matrix SwiGLU/GeGLU MLP")
    vocab: int = Field(gt=0, le=MAX_VOCAB, description="vocabulary size")
    tied_embeddings: bool = Field(False, description="LM head shares the embedding")
    experts: int = Field(
        0, ge=0, le=MAX_EXPERTS, description="routed experts per MoE layer (0 = dense)"
    )
    top_k: int = Field(0, ge=0, le=MAX_EXPERTS, description="experts per token")
    moe_ffn_hidden: int = Field(0, ge=0, le=MAX_WIDTH, description="inner width of one expert")
    shared_experts: int = Field(
        0, ge=0, le=MAX_EXPERTS, description="always-active experts per MoE layer"
    )
    dense_layers: int = Field(
        0, ge=0, le=MAX_LAYERS, description="leading dense layers of an MoE model"
    )
    mtp_layers: int = Field(
        0,
        ge=0,
        le=MAX_LAYERS,
        description="multi-token prediction modules (DeepSeek-V3: 1): one more block and "
        "LM-head pass each, on the last pipeline stage",
    )


class ClusterSection(_Section):
    gpu: str = Field(
        "h100-sxm-80gb",
        description="GPU catalog id (see `colossim catalog`); with partitions: the first's",
    )
    num_gpus: int | None = Field(
        None,
        gt=0,
        le=MAX_GPUS,
        description="GPUs in the cluster (required; with partitions: their sum, may be left out)",
    )
    gpus_per_node: int | None = Field(
        None,
        gt=0,
        le=MAX_GPUS_PER_NODE,
        description="GPUs per server; default from the GPU catalog",
    )
    scaleup_domain: int | None = Field(
        None,
        gt=0,
        le=MAX_SCALEUP_DOMAIN,
        description="GPUs per NVLink domain; default from the catalog",
    )
    nic_gbit_per_s: float | None = Field(
        None, gt=0, description="scale-out NIC line rate per GPU, Gb/s"
    )
    nic_efficiency: float | None = Field(
        None, ge=0.01, le=1, description="achievable fraction of NIC line rate for collectives"
    )
    fabric: FabricSection = Field(default_factory=FabricSection, description="scale-out network")
    partitions: list[PartitionSection] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PARTITIONS,
        description="a mixed cluster: groups of one GPU type each (then gpu is not given)",
    )
    job: Literal["spanning", "separate"] = Field(
        "spanning",
        description="with partitions: one job spanning them (paced by the slowest, memory of "
        "the smallest GPU) or one job per partition",
    )

    placement: Literal["uniform", "by_speed"] = Field(
        "uniform",
        description="spanning job: every replica runs the same micro-batches (uniform) or "
        "each partition's replicas get micro-batches in proportion to their speed (by_speed)",
    )

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, v: str) -> str:
        return require_known(v, list(load_catalog("gpus")), "GPU id")

    @model_validator(mode="before")
    @classmethod
    def _from_partitions(cls, data: object) -> object:
        """With partitions, ``gpu`` is the first partition's and ``num_gpus`` their sum."""
        if not isinstance(data, dict) or not isinstance(data.get("partitions"), list):
            return data
        parts = [p for p in data["partitions"] if isinstance(p, dict)]
        first = parts[0].get("gpu") if parts else None
        if "gpu" in data and data["gpu"] != first:
            raise ValueError(
                "give the GPU of each partition (cluster.partitions[i].gpu), not cluster.gpu "
                f"({data['gpu']!r} is not the first partition's)"
            )
        out = dict(data)
        if parts and isinstance(parts[0].get("gpu"), str):
            out["gpu"] = parts[0]["gpu"]
        counts = [p.get("num_gpus") for p in parts]
        total = sum(c for c in counts if isinstance(c, int) and not isinstance(c, bool))
        if "num_gpus" not in data and total > 0:
            out["num_gpus"] = total
        elif isinstance(data.get("num_gpus"), int) and total and data["num_gpus"] != total:
            raise ValueError(
                f"num_gpus {data['num_gpus']:,} is not the sum of the partitions' GPUs "
                f"({total:,}); leave num_gpus out or change cluster.partitions[i].num_gpus"
            )
        return out

    @model_validator(mode="after")
    def _count_given(self) -> ClusterSection:
        if self.num_gpus is None:
            raise ValueError("give num_gpus (GPUs in the cluster) or partitions")
        return self

    @property
    def gpu_counts(self) -> dict[str, int]:
        """GPUs per GPU type (one entry without partitions)."""
        if not self.partitions:
            return {self.gpu: int(self.num_gpus or 0)}
        out: dict[str, int] = {}
        for p in self.partitions:
            out[p.gpu] = out.get(p.gpu, 0) + p.num_gpus
        return out


class WorkloadSection(_Section):
    model: str | ModelArch = Field(
        description="model preset id (see `colossim catalog`) or an inline architecture"
    )
    tokens: float = Field(ge=MIN_TOKENS, le=MAX_TOKENS, description="tokens to train on")
    seq_len: int = Field(gt=0, le=MAX_SEQ_LEN, description="tokens per sequence")
    global_batch: int | None = Field(
        None, gt=0, le=MAX_GLOBAL_BATCH, description="sequences per optimizer step"
    )
    global_batch_tokens: float | None = Field(
        None,
        gt=0,
        le=MAX_GLOBAL_BATCH_TOKENS,
        description="tokens per step (alternative to global_batch)",
    )
    precision: Precision = Field(Precision.BF16, description="matmul precision")
    framework: str = Field("megatron", description="software stack efficiency profile")
    fp8_recipe: Fp8Recipe | None = Field(
        None,
        description="FP8 scaling recipe (precision fp8 or mxfp8; see catalog fp8.yaml); "
        "default: mxfp8 for precision mxfp8, else the stack's fp8_recipe in efficiency.yaml",
    )
    tp_comm_overlap: bool | None = Field(
        None,
        description="tensor-parallel collectives overlap GEMMs (Megatron-Core "
        "--tp-comm-overlap, Transformer Engine userbuffers); default: the stack's "
        "(efficiency.yaml tp_overlap)",
    )
    cuda_graphs: bool | None = Field(
        None,
        description="layers captured in CUDA graphs (Megatron-Core --enable-cuda-graph, "
        "torch.compile mode reduce-overhead): no per-kernel host launches, so small "
        "per-GPU work is no longer launch-bound; default: eager launches",
    )
    moe_imbalance: float = Field(
        1.0,
        ge=1.0,
        le=MAX_MOE_IMBALANCE,
        description="MoE: routed tokens of the busiest expert-parallel rank over the mean "
        "(1: balanced, as vendor benchmarks force it; 1 + MaxVio of Wang et al. 2024, "
        "arXiv:2408.15664, measured over one EP group's experts); dropless layers run at "
        "that rank's pace",
    )

    @field_validator("model")
    @classmethod
    def _known_model(cls, v: str | ModelArch) -> str | ModelArch:
        if isinstance(v, str):
            require_known(v, list(load_catalog("models")), "model preset")
        return v

    @field_validator("framework")
    @classmethod
    def _known_framework(cls, v: str) -> str:
        ids = [k for k in load_catalog("efficiency") if k != "global"]
        if v not in ids:
            raise ValueError(f"unknown software stack; known: {', '.join(ids)}")
        return v

    @model_validator(mode="after")
    def _batch(self) -> WorkloadSection:
        if self.global_batch is None and self.global_batch_tokens is None:
            raise ValueError("give global_batch (sequences) or global_batch_tokens")
        if self.global_batch is not None and self.global_batch_tokens is not None:
            raise ValueError("give only one of global_batch and global_batch_tokens")
        return self

    @model_validator(mode="after")
    def _recipe_needs_fp8(self) -> WorkloadSection:
        if self.fp8_recipe is not None and self.precision not in FP8_PRECISIONS:
            raise ValueError(
                f"fp8_recipe {self.fp8_recipe.value!r} applies to precision fp8 or mxfp8, "
                f"not {self.precision.value}; remove fp8_recipe or set precision: fp8"
            )
        return self

    @property
    def global_batch_sequences(self) -> int:
        if self.global_batch is not None:
            return self.global_batch
        return max(1, round(self.global_batch_tokens / self.seq_len))


HEADROOM_HELP = (
    "share of GPU memory {what} must leave free (allocator fragmentation, workspaces); "
    "default: memory_headroom in catalog efficiency.yaml"
)


class PlanSection(_Section):
    """A fixed parallel layout."""

    tp: int = Field(1, ge=1, description="tensor-parallel degree")
    pp: int = Field(1, ge=1, description="pipeline-parallel degree")
    dp: int = Field(1, ge=1, description="data-parallel degree")
    cp: int = Field(1, ge=1, description="context-parallel degree")
    ep: int = Field(1, ge=1, description="expert-parallel degree (carved out of dp*cp)")
    vp: int = Field(1, ge=1, description="virtual pipeline stages per rank")
    micro_batch: int = Field(1, ge=1, description="sequences per micro-batch")
    recompute: Literal["none", "selective", "full"] = Field(
        "selective", description="activation recomputation"
    )
    sharding: Literal["none", "zero1", "zero2", "zero3"] = Field("zero1", description="ZeRO stage")
    idle_gpus: bool = Field(
        False,
        description="the plan may use fewer GPUs than the cluster has (tp*pp*dp*cp below "
        "cluster.num_gpus; the rest idle, as a searched plan may)",
    )
    memory_headroom: float | None = Field(
        None, ge=0, lt=1, description=HEADROOM_HELP.format(what="the plan")
    )


class SearchSection(_Section):
    batch_tolerance: float = Field(
        0.1,
        ge=0,
        le=1,
        description="accepted relative deviation of the reached global batch from the target",
    )
    allow_idle: bool = Field(
        True, description="plans may leave GPUs idle when the count does not factor"
    )
    max_tp: int | None = Field(None, ge=1, description="cap on TP (default: the NVLink domain)")
    top_k: int = Field(5, ge=1, le=100, description="plans listed")
    memory_headroom: float | None = Field(
        None, ge=0, lt=1, description=HEADROOM_HELP.format(what="a searched plan")
    )


class Scenario(_Section):
    """A scenario: what is trained, on what, and how."""

    name: str = Field("scenario", description="label for reports")
    description: str = Field("", description="free text: the assumptions of the scenario")
    cluster: ClusterSection
    workload: WorkloadSection
    plan: Annotated[
        Literal["search"] | PlanSection, Field(description="'search' or a fixed layout")
    ] = "search"
    search: SearchSection = SearchSection()
    reliability: ReliabilitySection = Field(
        default_factory=ReliabilitySection, description="failures, checkpoints, restarts, spares"
    )
    facility: FacilitySection = Field(
        default_factory=FacilitySection, description="power, grid and battery"
    )
    cost: CostSection = Field(default_factory=CostSection, description="prices and amortisation")
    phases: list[PhaseSection] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PHASES,
        description="build-out timeline (`colossim roadmap`): dated steps adding partitions "
        "and power",
    )

    @field_validator("phases")
    @classmethod
    def _phases_in_order(cls, phases: list[PhaseSection] | None) -> list[PhaseSection] | None:
        for i, (a, b) in enumerate(zip(phases or [], (phases or [])[1:], strict=False)):
            if b.date <= a.date:
                raise ValueError(
                    f"phases[{i + 1}].date {b.date} is not after phases[{i}].date {a.date}; "
                    "list phases in date order"
                )
        if phases and not phases[0].partitions:
            raise ValueError("phases[0] adds no partitions: the first phase must add GPUs")
        return phases
