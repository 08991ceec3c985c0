"""Training-campaign model: failures, checkpoints and a Monte Carlo of the whole run.

- :mod:`~colossim.campaign.failures`: per-component interruption rates scaled to a cluster.
- :mod:`~colossim.campaign.checkpoint`: checkpoint size, costs and interval policies.
- :mod:`~colossim.campaign.simulate`: the vectorised discrete-event Monte Carlo.

See docs/campaign.md for the model on one page.
"""

from __future__ import annotations

from colossim.campaign.checkpoint import (
    CheckpointCosts,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
    daly_interval_s,
    optimal_interval_s,
    young_interval_s,
)
from colossim.campaign.failures import (
    CauseRate,
    ClusterCounts,
    cause_rates,
    failure_profile,
    mtbi_s,
    spare_nodes_for_coverage,
)
from colossim.campaign.simulate import (
    CampaignConfig,
    CampaignResult,
    CampaignTimeline,
    GapEnd,
    SimulationMode,
    SparePolicy,
    reference_case_config,
    simulate_campaign,
    sweep_checkpoint_intervals,
    trial_timeline,
)

__all__ = [
    "CampaignConfig",
    "CampaignResult",
    "CampaignTimeline",
    "CauseRate",
    "CheckpointCosts",
    "CheckpointMode",
    "ClusterCounts",
    "GapEnd",
    "IntervalPolicy",
    "SimulationMode",
    "SparePolicy",
    "cause_rates",
    "checkpoint_costs",
    "checkpoint_defaults",
    "checkpoint_state_bytes",
    "daly_interval_s",
    "failure_profile",
    "mtbi_s",
    "optimal_interval_s",
    "reference_case_config",
    "simulate_campaign",
    "spare_nodes_for_coverage",
    "sweep_checkpoint_intervals",
    "trial_timeline",
    "young_interval_s",
]
