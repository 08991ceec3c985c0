"""The one scenario pipeline: scenario -> context -> plan -> fabric -> power -> cost -> campaign.

Every command and the HTML report are "load scenario -> :func:`run_scenario` -> render".
:class:`ScenarioResults` computes each stage once, on first use, and nowhere else::

    from colossim import load_scenario, run_scenario

    r = run_scenario(load_scenario("examples/colossus-100k-h100.yaml"))
    r.estimate.step_time_s, r.fabric.tiers, r.facility.power.average_facility_w
    r.cost.capex_usd          # includes the battery the grid simulation sized
    r.campaign                # None (with r.campaign_note) when too expensive to simulate

Stages and what they need (each is a cached property):

    context   model, training run, cluster, software stack, fabric (prices collectives)
    plan      the scenario's fixed plan, or None ("plan: search")
    search    the plan search (always run for a searched plan; lazily for a fixed one)
    estimate  the fixed plan's prediction, or the best searched plan's
    fabric    the scale-out fabric's bill of materials (the one inside ``context``)
    facility  power per phase -> trace -> grid + battery sizing
    cost      capex (GPUs, fabric, batteries...), opex, $/GPU-hour, $/run
    campaign  failures, restarts, checkpoints -> goodput (Monte Carlo)
"""

from colossim.pipeline.campaign import (
    CAMPAIGN_INTERRUPTION_LIMIT,
    DEFAULT_INTERRUPTION_BUDGET,
    MIN_DEFAULT_TRIALS,
)
from colossim.pipeline.records import TraceEvents, WithFailures
from colossim.pipeline.results import NoFeasiblePlan, ScenarioResults, run_scenario, step_phases

__all__ = [
    "CAMPAIGN_INTERRUPTION_LIMIT",
    "DEFAULT_INTERRUPTION_BUDGET",
    "MIN_DEFAULT_TRIALS",
    "NoFeasiblePlan",
    "ScenarioResults",
    "TraceEvents",
    "WithFailures",
    "run_scenario",
    "step_phases",
]
