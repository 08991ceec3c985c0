"""colossim: a digital twin of AI training superclusters.

The public API is one pipeline::

    from colossim import load_scenario, run_scenario

    r = run_scenario(load_scenario("examples/colossus-100k-h100.yaml"))
    r.estimate.step_time_s, r.cost.capex_usd, r.campaign.goodput
"""

__version__ = "0.1.0"

from colossim.errors import ColossimError, InputError  # noqa: E402
from colossim.perf.estimate import Estimate  # noqa: E402
from colossim.pipeline import NoFeasiblePlan, ScenarioResults, run_scenario  # noqa: E402
from colossim.scenario.load import LoadedScenario, load_scenario  # noqa: E402

__all__ = [
    "ColossimError",
    "Estimate",
    "InputError",
    "LoadedScenario",
    "NoFeasiblePlan",
    "ScenarioResults",
    "__version__",
    "load_scenario",
    "run_scenario",
]
