"""Checkpoint model: state size, write/restore time, blocking overhead, interval policies.

Three checkpoint modes:

- ``sync``: training stops while the whole state is written to storage
  (blocking = size / write bandwidth); durable when the write ends.
- ``async``: training stops only for a snapshot (GPU -> host memory), the write to storage
  runs in the background (blocking = sync time x ``async_blocking_fraction``, from
  ByteCheckpoint's average stall reduction of 54.2x: Wan et al. 2024, "ByteCheckpoint",
  arXiv:2407.20143 v3); durable one storage write later.
- ``in_memory``: snapshot to host memory replicated to a peer node (GEMINI: Wang et al.,
  SOSP 2023, 13x faster recovery; ByteRobust's every-step in-memory checkpoint, -99.69%
  blocking time, as summarised in the reliability survey, docs/sources.md: SURVEY);
  blocking = sync time x ``in_memory_blocking_fraction``; restore is
  ``in_memory_restore_speedup`` times faster than from storage.

Interval policies: fixed, Young (1974), Daly (2006) and "optimal" (grid minimum of the
exact expected waste for exponential failures, Daly 2006).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError, require_number
from colossim.units import GB

__all__ = [
    "MIN_CHECKPOINT_S",
    "CheckpointCosts",
    "CheckpointDefaults",
    "CheckpointMode",
    "IntervalPolicy",
    "candidate_intervals_s",
    "checkpoint_costs",
    "checkpoint_defaults",
    "checkpoint_state_bytes",
    "choose_interval_s",
    "daly_interval_s",
    "expected_useful_fraction",
    "first_order_overhead_fraction",
    "optimal_interval_s",
    "young_interval_s",
]

# A zero-cost checkpoint would make every interval formula's optimum zero: the interval
# policies floor the cost at 1 ms so the interval stays a positive, finite number.
MIN_CHECKPOINT_S = 1e-3


class CheckpointMode(StrEnum):
    """How a checkpoint is taken."""

    SYNC = "sync"
    ASYNC = "async"
    IN_MEMORY = "in_memory"


class IntervalPolicy(StrEnum):
    """How the checkpoint interval is chosen."""

    FIXED = "fixed"
    YOUNG = "young"
    DALY = "daly"
    OPTIMAL = "optimal"


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointDefaults:
    """Catalog defaults (``reliability.yaml`` entry ``checkpoint-default``), SI units.

    Attributes:
        bytes_per_param: checkpoint bytes per model parameter, by optimizer/precision.
        storage_write_bytes_per_s: aggregate storage write bandwidth, bytes/s.
        storage_read_bytes_per_s: aggregate storage read bandwidth, bytes/s.
        async_blocking_fraction: async blocking time / sync write time.
        in_memory_blocking_fraction: in-memory blocking time / sync write time.
        in_memory_restore_speedup: storage restore time / in-memory restore time.
    """

    bytes_per_param: dict[str, float]
    storage_write_bytes_per_s: float
    storage_read_bytes_per_s: float
    async_blocking_fraction: float
    in_memory_blocking_fraction: float
    in_memory_restore_speedup: float


def checkpoint_defaults(entry_id: str = "checkpoint-default") -> CheckpointDefaults:
    """Load checkpoint defaults from ``catalog/reliability.yaml``."""
    v = lookup("reliability", entry_id, field="reliability.checkpoint").values
    return CheckpointDefaults(
        bytes_per_param={str(k): float(x) for k, x in v["bytes_per_param"].items()},
        storage_write_bytes_per_s=float(v["storage_write_gbyte_per_s"]) * GB,
        storage_read_bytes_per_s=float(v["storage_read_gbyte_per_s"]) * GB,
        async_blocking_fraction=float(v["async_blocking_fraction"]),
        in_memory_blocking_fraction=float(v["in_memory_blocking_fraction"]),
        in_memory_restore_speedup=float(v["in_memory_restore_speedup"]),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointCosts:
    """Time costs of one checkpoint and one restore, s.

    Attributes:
        write_s: time to write the full state to storage.
        blocking_s: training stall per checkpoint.
        durable_lag_s: time after the stall ends until the checkpoint survives a failure.
        restore_s: time to load the state after a restart.
    """

    write_s: float
    blocking_s: float
    durable_lag_s: float
    restore_s: float

    def __post_init__(self) -> None:
        for name in ("write_s", "blocking_s", "durable_lag_s", "restore_s"):
            require_number(f"checkpoint.{name}", getattr(self, name), minimum=0.0, unit="s")


def checkpoint_state_bytes(*, params: float, bytes_per_param: float) -> float:
    """Checkpoint size, bytes = parameters x bytes per parameter (~16 B/param for
    mixed-precision Adam: bf16 weights + fp32 master weights + Adam m and v; Glenn K.
    Lockwood, "Storage for LLM training", docs/sources.md: GK-REPO).

    Args:
        params: model parameters (count).
        bytes_per_param: bytes per parameter, B.
    """
    require_number("workload.params", params, minimum=0.0, strict=True)
    require_number(
        "reliability.bytes_per_param", bytes_per_param, minimum=0.0, strict=True, unit="B"
    )
    return params * bytes_per_param


def checkpoint_costs(
    *,
    state_bytes: float,
    mode: CheckpointMode,
    write_bytes_per_s: float,
    read_bytes_per_s: float,
    defaults: CheckpointDefaults,
) -> CheckpointCosts:
    """Blocking, durability lag and restore time of one checkpoint.

    Args:
        state_bytes: checkpoint size, bytes.
        mode: sync, async or in_memory.
        write_bytes_per_s: aggregate storage write bandwidth, bytes/s.
        read_bytes_per_s: aggregate storage read bandwidth, bytes/s.
        defaults: overhead ratios (:func:`checkpoint_defaults`).
    """
    require_number("checkpoint.state_bytes", state_bytes, minimum=0.0, strict=True, unit="B")
    require_number(
        "reliability.storage_write_gbyte_per_s",
        write_bytes_per_s,
        minimum=0.0,
        strict=True,
        unit="B/s",
    )
    require_number(
        "reliability.storage_read_gbyte_per_s",
        read_bytes_per_s,
        minimum=0.0,
        strict=True,
        unit="B/s",
    )
    mode = CheckpointMode(mode)
    # MODEL: the whole job writes in parallel and is limited by aggregate storage bandwidth
    # (checkpoint bursts saturate the storage fabric: Llama 3 paper, Dubey et al. 2024,
    # arXiv:2407.21783, sec. 3.3.1).
    write_s = state_bytes / write_bytes_per_s
    restore_s = state_bytes / read_bytes_per_s
    if mode is CheckpointMode.SYNC:
        return CheckpointCosts(
            write_s=write_s, blocking_s=write_s, durable_lag_s=0.0, restore_s=restore_s
        )
    if mode is CheckpointMode.ASYNC:
        # MODEL: the stall is the snapshot (ByteCheckpoint ratio); the storage write then
        # runs in the background and the checkpoint is durable when it ends.
        blocking = write_s * defaults.async_blocking_fraction
        return CheckpointCosts(
            write_s=write_s,
            blocking_s=blocking,
            durable_lag_s=max(write_s - blocking, 0.0),
            restore_s=restore_s,
        )
    # MODEL: in-memory checkpoints are durable once the snapshot ends (peer replica); a
    # single-node failure restores from the peer, faster by the GEMINI ratio. Losing both
    # replicas (and the fallback to storage) is not modelled.
    blocking = write_s * defaults.in_memory_blocking_fraction
    return CheckpointCosts(
        write_s=write_s,
        blocking_s=blocking,
        durable_lag_s=0.0,
        restore_s=restore_s / defaults.in_memory_restore_speedup,
    )


def young_interval_s(*, checkpoint_s: float, mtbf_s: float) -> float:
    """Young (1974, CACM): tau = sqrt(2 delta M), compute time between checkpoints, s.

    Args:
        checkpoint_s: checkpoint cost delta (blocking time), s.
        mtbf_s: mean time between interruptions M, s.
    """
    require_number("checkpoint_s", checkpoint_s, minimum=0.0, strict=True, unit="s")
    require_number("mtbf_s", mtbf_s, minimum=0.0, strict=True, unit="s")
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def daly_interval_s(*, checkpoint_s: float, mtbf_s: float) -> float:
    """Daly (2006, FGCS, eq. 37) higher-order optimum, s.

    tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta / 2M) + (1/9) (delta / 2M)] - delta for
    delta < 2M, else tau = M. Reproduces Daly's examples (delta = 5 min: M = 24 h -> 117 min,
    M = 6 h -> 57 min, M = 15 min -> 9.1 min, with R = 10 min; Daly 2006, abstract).
    """
    require_number("checkpoint_s", checkpoint_s, minimum=0.0, strict=True, unit="s")
    require_number("mtbf_s", mtbf_s, minimum=0.0, strict=True, unit="s")
    if checkpoint_s >= 2.0 * mtbf_s:
        return mtbf_s
    x = checkpoint_s / (2.0 * mtbf_s)
    return (
        math.sqrt(2.0 * checkpoint_s * mtbf_s) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - checkpoint_s
    )


def expected_useful_fraction(
    *, interval_s: np.ndarray | float, checkpoint_s: float, mtbf_s: float, restart_s: float
) -> np.ndarray:
    """Exact expected useful fraction of wall time for exponential failures (Daly 2006).

    Expected wall time per segment of tau compute + delta checkpoint, with failures (also
    during restarts) restarting the segment: M e^(R/M) (e^((tau+delta)/M) - 1) (Daly 2006,
    eq. 12 with exponential failures); useful fraction = tau / that.

    Args:
        interval_s: candidate compute intervals tau, s (scalar or array).
        checkpoint_s: checkpoint cost delta, s.
        mtbf_s: mean time between interruptions M, s.
        restart_s: downtime after each failure R, s.
    """
    tau = np.asarray(interval_s, dtype=float)
    # Evaluated in log space so that absurd candidates (tau or R >> M) give a useful
    # fraction of ~0 instead of overflowing: log(e^x - 1) = x + log(1 - e^-x) for large x.
    x = (tau + checkpoint_s) / mtbf_s
    log_expm1 = np.where(x > 30.0, x, np.log(np.expm1(np.minimum(x, 30.0))))
    log_useful = np.log(np.maximum(tau, 1e-300) / mtbf_s) - restart_s / mtbf_s - log_expm1
    return np.exp(np.minimum(log_useful, 0.0))


def first_order_overhead_fraction(
    *, interval_s: np.ndarray | float, checkpoint_s: float, mtbf_s: float, restart_s: float
) -> np.ndarray:
    """First-order waste: delta/tau + tau/(2M) + R/M (the standard first-order model behind
    Young 1974 and Daly 2006, [DERIVED]: not quoted from a source)."""
    tau = np.asarray(interval_s, dtype=float)
    return checkpoint_s / tau + tau / (2.0 * mtbf_s) + restart_s / mtbf_s


def candidate_intervals_s(field: str, values: np.ndarray) -> np.ndarray:
    """``values`` as a float array of candidate intervals, or :class:`InputError` naming
    ``field`` unless it is a non-empty array of finite times > 0 s."""
    candidates = np.asarray(values, dtype=float)
    if candidates.size == 0 or not np.all(np.isfinite(candidates)) or np.any(candidates <= 0):
        raise InputError(field, "must be a non-empty array of finite times > 0 s")
    return candidates


def optimal_interval_s(
    *,
    checkpoint_s: float,
    mtbf_s: float,
    restart_s: float,
    candidates_s: np.ndarray | None = None,
) -> float:
    """Interval that maximises :func:`expected_useful_fraction`, s, over a candidate grid.

    Args:
        checkpoint_s: checkpoint cost delta, s.
        mtbf_s: mean time between work-losing interruptions M, s.
        restart_s: downtime after each failure R, s.
        candidates_s: intervals to try; default 2,001 log-spaced points from Young/100 to
            Young x 100 (the optimum of the exact model lies within a factor of 2 of Young
            for delta < 2M), refined between the best point's neighbours.
    """
    require_number("checkpoint_s", checkpoint_s, minimum=0.0, strict=True, unit="s")
    require_number("mtbf_s", mtbf_s, minimum=0.0, strict=True, unit="s")
    default_grid = candidates_s is None
    if candidates_s is None:
        young = young_interval_s(checkpoint_s=checkpoint_s, mtbf_s=mtbf_s)
        candidates_s = young * np.logspace(-2.0, 2.0, 2001)
    candidates = candidate_intervals_s("candidates_s", candidates_s)
    useful = expected_useful_fraction(
        interval_s=candidates, checkpoint_s=checkpoint_s, mtbf_s=mtbf_s, restart_s=restart_s
    )
    i = int(np.argmax(useful))
    if not default_grid:
        return float(candidates[i])
    # Refine between the neighbours of the best grid point (the curve is unimodal).
    fine = np.linspace(candidates[max(i - 1, 0)], candidates[min(i + 1, candidates.size - 1)], 201)
    useful = expected_useful_fraction(
        interval_s=fine, checkpoint_s=checkpoint_s, mtbf_s=mtbf_s, restart_s=restart_s
    )
    return float(fine[int(np.argmax(useful))])


def choose_interval_s(
    policy: IntervalPolicy,
    *,
    checkpoint_s: float,
    mtbf_s: float,
    restart_s: float,
    fixed_interval_s: float | None = None,
) -> float:
    """Checkpoint interval (compute time between checkpoints) for a policy, s.

    Args:
        policy: fixed, young, daly or optimal.
        checkpoint_s: checkpoint blocking cost delta, s.
        mtbf_s: mean time between work-losing interruptions, s.
        restart_s: downtime after a failure, s (used by ``optimal``).
        fixed_interval_s: the interval for ``fixed``, s.
    """
    policy = IntervalPolicy(policy)
    if policy is IntervalPolicy.FIXED:
        if fixed_interval_s is None:
            raise InputError(
                "reliability.checkpoint_interval_s",
                "is required when checkpoint_policy is 'fixed'",
                fix="set checkpoint_interval_s, or use young/daly/optimal",
            )
        require_number(
            "reliability.checkpoint_interval_s",
            fixed_interval_s,
            minimum=0.0,
            strict=True,
            unit="s",
        )
        return float(fixed_interval_s)
    delta = max(checkpoint_s, MIN_CHECKPOINT_S)
    if policy is IntervalPolicy.YOUNG:
        return young_interval_s(checkpoint_s=delta, mtbf_s=mtbf_s)
    if policy is IntervalPolicy.DALY:
        return daly_interval_s(checkpoint_s=delta, mtbf_s=mtbf_s)
    return optimal_interval_s(checkpoint_s=delta, mtbf_s=mtbf_s, restart_s=restart_s)
