"""What buys goodput at scale: goodput vs GPU count for each recovery policy, and the
sensitivity of goodput to detection, restart, checkpoint write time and spare count.

Both run short fixed windows (goodput of a window does not depend on the tokens) with the
same seed for every cell (common random numbers: differences between cells are not seed
noise).

# MODEL: a scaled job keeps the scenario's node, model, checkpoint and storage: every
# unexpected failure rate (stragglers included) scales with the GPU count (every cause of the
# catalog profiles scales with GPUs, nodes, NICs, CPUs, switches or NVLink domains, all
# proportional to GPUs in a fat tree), planned maintenance stays per job, the spare pool is
# re-sized to the same coverage (0.999 quantile of the nodes in repair), and an elastic
# replica keeps its GPU count.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from colossim.campaign.config import CampaignConfig
from colossim.campaign.engine import simulate_campaign
from colossim.campaign.failures import spare_nodes_for_coverage
from colossim.campaign.recovery import RecoveryDesign, RecoveryPolicy
from colossim.errors import require_int, require_number
from colossim.units import SECONDS_PER_DAY

__all__ = [
    "SCALE_SWEEP_GPUS",
    "ScaleSweep",
    "Sensitivity",
    "policy_variants",
    "scale_config",
    "scale_sweep",
    "sensitivity",
]

# GPU counts of the scale sweep (10k -> 1M).
SCALE_SWEEP_GPUS = (10_000, 30_000, 100_000, 300_000, 1_000_000)
# Spare pool coverage used when a sweep re-sizes the pool (the scenario default).
_SPARE_COVERAGE = 0.999
# Factors applied to each input of the sensitivity table.
_SENSITIVITY_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleSweep:
    """Goodput of each recovery policy at each GPU count.

    Attributes:
        num_gpus: GPU counts (columns).
        policies: policy names (rows).
        goodput: (policies, scales) mean goodput.
        goodput_stderr: its standard error.
        window_s: simulated window of each cell, s.
        n_trials: trials per cell.
    """

    num_gpus: np.ndarray
    policies: tuple[str, ...]
    goodput: np.ndarray
    goodput_stderr: np.ndarray
    window_s: float
    n_trials: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Sensitivity:
    """Goodput when one input is multiplied by each factor, the others as configured.

    Attributes:
        factors: multipliers (columns).
        inputs: names of the inputs varied (rows) and their configured values.
        base_values: configured value of each input (s, or nodes).
        goodput: (inputs, factors) mean goodput; goodput_stderr its standard error.
    """

    factors: np.ndarray
    inputs: tuple[str, ...]
    base_values: tuple[float, ...]
    goodput: np.ndarray
    goodput_stderr: np.ndarray


def policy_variants(design: RecoveryDesign) -> dict[str, RecoveryDesign]:
    """The recovery policies compared by the scale sweep, with ``design``'s timings."""
    rep = dataclasses.replace
    return {
        "full restart": rep(design, policy=RecoveryPolicy.FULL_RESTART, partial_restart=False),
        "hot spare": rep(design, policy=RecoveryPolicy.HOT_SPARE, partial_restart=False),
        "hot spare + partial restart": rep(
            design, policy=RecoveryPolicy.HOT_SPARE, partial_restart=True
        ),
        "elastic DP + partial restart": rep(
            design, policy=RecoveryPolicy.ELASTIC_DP, partial_restart=True
        ),
    }


def scale_config(config: CampaignConfig, *, num_gpus: int) -> CampaignConfig:
    """``config`` moved to ``num_gpus`` GPUs (rounded to whole nodes), see the module's MODEL."""
    num_gpus = require_int("num_gpus", num_gpus, minimum=1)
    gpn = config.gpus_per_node
    nodes = max(round(num_gpus / gpn), 1)
    factor = nodes * gpn / config.num_gpus
    causes = tuple(
        c if c.planned else dataclasses.replace(c, rate_per_s=c.rate_per_s * factor)
        for c in config.causes
    )
    scaled = dataclasses.replace(
        config,
        num_gpus=nodes * gpn,
        causes=causes,
        recovery=dataclasses.replace(
            config.recovery, straggler_rate_per_s=config.recovery.straggler_rate_per_s * factor
        ),
    )
    spares = spare_nodes_for_coverage(
        node_rate_per_s=scaled.node_replacing_rate_per_s,
        repair_s=scaled.repair_s,
        coverage=_SPARE_COVERAGE,
    )
    return dataclasses.replace(scaled, spare_nodes=spares)


def _window(config: CampaignConfig, *, window_days: float, n_trials: int) -> CampaignConfig:
    window_days = require_number("window_days", window_days, minimum=0.0, strict=True)
    n_trials = require_int("n_trials", n_trials, minimum=1)
    return dataclasses.replace(config, window_s=window_days * SECONDS_PER_DAY, n_trials=n_trials)


def scale_sweep(
    config: CampaignConfig,
    *,
    num_gpus: tuple[int, ...] = SCALE_SWEEP_GPUS,
    window_days: float = 14.0,
    n_trials: int = 64,
) -> ScaleSweep:
    """Goodput vs GPU count for each policy of :func:`policy_variants` and as configured.

    Args:
        config: the campaign (its recovery timings are kept).
        num_gpus: GPU counts.
        window_days: simulated window per cell, days.
        n_trials: trials per cell.
    """
    base = _window(config, window_days=window_days, n_trials=n_trials)
    designs = {"as configured": base.recovery, **policy_variants(base.recovery)}
    goodput = np.zeros((len(designs), len(num_gpus)))
    stderr = np.zeros_like(goodput)
    for j, n in enumerate(num_gpus):
        scaled = scale_config(base, num_gpus=n)
        for i, design in enumerate(designs.values()):
            r = simulate_campaign(dataclasses.replace(scaled, recovery=design))
            goodput[i, j], stderr[i, j] = r.goodput, r.goodput_stderr
    return ScaleSweep(
        num_gpus=np.array([scale_config(base, num_gpus=n).num_gpus for n in num_gpus]),
        policies=tuple(designs),
        goodput=goodput,
        goodput_stderr=stderr,
        window_s=float(base.window_s or 0.0),
        n_trials=n_trials,
    )


def _vary(config: CampaignConfig, name: str, factor: float) -> CampaignConfig:
    """``config`` with one input multiplied by ``factor``."""
    if name == "detection_s":
        return dataclasses.replace(config, detection_s=config.detection_s * factor)
    if name == "restart_s":
        # The restart of whichever policy applies: whole job, hot swap, partial, elastic.
        d = config.recovery
        design = dataclasses.replace(
            d,
            hot_swap_s=d.hot_swap_s * factor,
            partial_restart_s=d.partial_restart_s * factor,
            elastic_reconfigure_s=d.elastic_reconfigure_s * factor,
        )
        return dataclasses.replace(config, restart_s=config.restart_s * factor, recovery=design)
    if name == "checkpoint_write_s":
        ck = config.checkpoint
        costs = dataclasses.replace(
            ck,
            write_s=ck.write_s * factor,
            blocking_s=ck.blocking_s * factor,
            durable_lag_s=ck.durable_lag_s * factor,
        )
        return dataclasses.replace(config, checkpoint=costs)
    return dataclasses.replace(config, spare_nodes=round(config.spare_nodes * factor))


def sensitivity(
    config: CampaignConfig, *, window_days: float = 14.0, n_trials: int = 64
) -> Sensitivity:
    """Goodput vs detection time, restart time, checkpoint write time and spare count,
    each multiplied by 0.25x-4x with the others as configured (one at a time).

    Args:
        config: the campaign.
        window_days: simulated window per cell, days.
        n_trials: trials per cell.
    """
    base = _window(config, window_days=window_days, n_trials=n_trials)
    inputs = ("detection_s", "restart_s", "checkpoint_write_s", "spare_nodes")
    values = (
        base.detection_s,
        base.restart_s,
        base.checkpoint.write_s,
        float(base.spare_nodes),
    )
    factors = np.array(_SENSITIVITY_FACTORS)
    goodput = np.zeros((len(inputs), factors.size))
    stderr = np.zeros_like(goodput)
    for i, name in enumerate(inputs):
        for j, f in enumerate(factors):
            r = simulate_campaign(_vary(base, name, float(f)))
            goodput[i, j], stderr[i, j] = r.goodput, r.goodput_stderr
    return Sensitivity(
        factors=factors,
        inputs=inputs,
        base_values=values,
        goodput=goodput,
        goodput_stderr=stderr,
    )
