"""Training-campaign model: failures, checkpoints and a Monte Carlo of the whole run.

- :mod:`~colossim.campaign.failures`: per-component interruption rates scaled to a cluster.
- :mod:`~colossim.campaign.checkpoint`: checkpoint size, costs and interval policies.
- :mod:`~colossim.campaign.config`: :class:`CampaignConfig` and its derived quantities
  (summed failure rates, recovery times, spares, checkpoint intervals).
- :mod:`~colossim.campaign.engine`: the vectorised discrete-event Monte Carlo
  (:mod:`~colossim.campaign.repair_queue`: its per-trial repair queues).
- :mod:`~colossim.campaign.timeline`: the timeline of one example trial.
- :mod:`~colossim.campaign.results`: :class:`CampaignResult` and the interval sweep.

See docs/campaign.md for the model on one page.
"""

from __future__ import annotations

from colossim.campaign.checkpoint import (
    CheckpointCosts,
    CheckpointDefaults,
    CheckpointMode,
    IntervalPolicy,
    checkpoint_costs,
    checkpoint_defaults,
    checkpoint_state_bytes,
    choose_interval_s,
    daly_interval_s,
    expected_useful_fraction,
    first_order_overhead_fraction,
    optimal_interval_s,
    young_interval_s,
)
from colossim.campaign.config import (
    CampaignConfig,
    CampaignIntervals,
    RunScalars,
    SimulationMode,
    SparePolicy,
    campaign_intervals,
    reference_case_config,
)
from colossim.campaign.engine import (
    expected_interruptions_to_simulate,
    simulate_campaign,
    sweep_checkpoint_intervals,
)
from colossim.campaign.failures import (
    CauseRate,
    ClusterCounts,
    FailureCause,
    FailureProfile,
    FailureUnit,
    cause_rates,
    expected_interruptions,
    failure_profile,
    failure_profile_ids,
    mtbi_s,
    spare_nodes_for_coverage,
    total_rate_per_s,
    unit_count,
)
from colossim.campaign.results import CampaignResult, IntervalSweep
from colossim.campaign.timeline import CampaignTimeline, GapEnd, trial_timeline

__all__ = [
    "CampaignConfig",
    "CampaignIntervals",
    "CampaignResult",
    "CampaignTimeline",
    "CauseRate",
    "CheckpointCosts",
    "CheckpointDefaults",
    "CheckpointMode",
    "ClusterCounts",
    "FailureCause",
    "FailureProfile",
    "FailureUnit",
    "GapEnd",
    "IntervalPolicy",
    "IntervalSweep",
    "RunScalars",
    "SimulationMode",
    "SparePolicy",
    "campaign_intervals",
    "cause_rates",
    "checkpoint_costs",
    "checkpoint_defaults",
    "checkpoint_state_bytes",
    "choose_interval_s",
    "daly_interval_s",
    "expected_interruptions",
    "expected_interruptions_to_simulate",
    "expected_useful_fraction",
    "failure_profile",
    "failure_profile_ids",
    "first_order_overhead_fraction",
    "mtbi_s",
    "optimal_interval_s",
    "reference_case_config",
    "simulate_campaign",
    "spare_nodes_for_coverage",
    "sweep_checkpoint_intervals",
    "total_rate_per_s",
    "trial_timeline",
    "unit_count",
    "young_interval_s",
]
