"""The build-out timeline of a scenario (``phases``): the cluster as it stands after each
dated phase, run through the same pipeline as any scenario.

Phase k's cluster holds the partitions of phases 0..k (the ``cluster`` section's other
fields apply to all); its site has the phase's grid and on-site generation (or the last
phase's that gave them) as one supply limit, and its battery units (or, left out, the
facility's setting). Everything else (workload, reliability, prices) is the scenario's.

MODEL: capex is that of the cluster as it stands, so the capex a phase adds is the
difference from the phase before (never negative: nothing is sold); a fabric that grows a
tier is priced as rebuilt at the new size, as the cost model prices any fabric.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from colossim.errors import InputError
from colossim.pipeline.results import NoFeasiblePlan, ScenarioResults, step_phases
from colossim.power import cluster_power
from colossim.scenario.load import LoadedScenario
from colossim.scenario.partitions import PartitionSection, PhaseSection
from colossim.scenario.schema import ClusterSection, Scenario
from colossim.units import W_PER_MW

__all__ = ["PhaseResult", "phase_scenarios", "roadmap"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseResult:
    """One phase of the build-out, as it stands once the phase is in service.

    Attributes:
        name / date: the phase.
        gpus: GPUs per GPU type; ``num_gpus`` their sum.
        supply_w: grid + on-site generation, W (None: not given).
        it_power_w: nameplate IT power (every GPU at TDP), W.
        it_average_w / facility_power_w: average IT / facility power while training, W.
        facility_peak_w: facility power in the compute phase, W.
        battery_units: battery units (fixed or sized).
        capex_usd: capex of the cluster as it stands; ``capex_added_usd`` what the phase
            adds; ``capex_usd_cumulative`` the running sum of the additions.
        fabric_tiers / fabric_switches: the scale-out fabric.
        days_to_train: wall-clock days of the scenario's workload on this cluster (with
            failures when the campaign ran, see ``days_basis``); ``days_to_train_failure_free``.
        goodput: the campaign's (None when not run).
        tokens_per_s / mfu / plan: the chosen plan and its throughput.
        warnings: implausible results, in words.
    """

    name: str
    date: dt.date
    gpus: dict[str, int]
    num_gpus: int
    supply_w: float | None
    it_power_w: float
    it_average_w: float
    facility_power_w: float
    facility_peak_w: float
    battery_units: int
    capex_usd: float
    capex_added_usd: float
    capex_usd_cumulative: float
    fabric_tiers: int
    fabric_switches: int
    days_to_train: float
    days_to_train_failure_free: float
    days_basis: str
    goodput: float | None
    tokens_per_s: float
    mfu: float
    plan: dict
    warnings: tuple[str, ...]


def _cluster_at(c: ClusterSection, parts: list[PartitionSection]) -> ClusterSection:
    """The cluster of ``parts``; partitions of the same hardware (added in different
    phases) are one partition, named after the first."""
    merged: dict[tuple, dict] = {}
    for p in parts:
        key = (p.gpu, p.gpus_per_node, p.scaleup_domain, p.nic_gbit_per_s)
        if key in merged:
            merged[key]["num_gpus"] += p.num_gpus
        else:
            merged[key] = p.model_dump(exclude_none=True)
    data = c.model_dump(exclude={"gpu", "num_gpus", "partitions"})
    data["partitions"] = list(merged.values())
    return ClusterSection.model_validate(data)


def phase_scenarios(sc: Scenario) -> list[tuple[PhaseSection, Scenario, float | None]]:
    """(phase, the scenario as it stands after it, supply MW or None) for every phase."""
    out = []
    parts: list[PartitionSection] = []
    grid, onsite = sc.facility.grid_mw, 0.0
    battery = sc.facility.battery_units
    for ph in sc.phases or []:
        parts = parts + list(ph.partitions)
        grid = ph.grid_mw if ph.grid_mw is not None else grid
        onsite = ph.onsite_mw if ph.onsite_mw is not None else onsite
        battery = ph.battery_units if ph.battery_units is not None else battery
        supply = None if grid is None and not onsite else (grid or 0.0) + onsite
        facility = sc.facility.model_copy(update={"grid_mw": supply, "battery_units": battery})
        at = sc.model_copy(
            update={
                "name": f"{sc.name} @ {ph.name}",
                "cluster": _cluster_at(sc.cluster, parts),
                "facility": facility,
                "phases": None,
            }
        )
        out.append((ph, at, supply))
    return out


def roadmap(
    loaded: LoadedScenario,
    *,
    trials: int | None = None,
    seed: int | None = None,
    campaign: bool = True,
    on_phase: Callable[[str], None] | None = None,
) -> list[PhaseResult]:
    """Every phase of the scenario's build-out, in date order (InputError when a phase's
    power is short of its IT load, or no plan fits it). ``campaign``: False leaves the
    failure campaigns out (days to train failure-free). ``on_phase(name)`` is called as
    each phase starts (progress)."""
    sc = loaded.scenario
    if not sc.phases:
        raise InputError(
            "phases",
            "the scenario has no build-out phases",
            location=loaded.path,
            fix="add a `phases:` list (see `colossim init colossus-roadmap`)",
        )
    out: list[PhaseResult] = []
    cumulative, last_capex = 0.0, 0.0
    for i, (ph, at, supply) in enumerate(phase_scenarios(sc)):
        if on_phase is not None:
            on_phase(ph.name)
        r = ScenarioResults(
            LoadedScenario(scenario=at, path=f"{loaded.path} phases[{i}]"),
            trials=trials,
            seed=seed,
            campaign=campaign,
        )
        _check_phase(loaded, i, r, supply)
        capex = r.cost.capex_usd
        added = max(capex - last_capex, 0.0)
        cumulative += added
        last_capex = max(capex, last_capex)
        out.append(_result(ph, r, supply, capex=capex, added=added, cumulative=cumulative))
    return out


def _check_phase(loaded: LoadedScenario, i: int, r: ScenarioResults, supply: float | None) -> None:
    """Phase ``i`` can run: its GPUs are priced, a plan fits, its supply carries its IT
    load (InputError naming the phase otherwise)."""
    try:
        r.check_priced()
        est = r.estimate
    except NoFeasiblePlan as exc:
        raise InputError(
            f"phases[{i}]",
            f"no plan of the workload fits the cluster as it stands ({exc})",
            location=loaded.location(f"phases.{i}"),
        ) from None
    nameplate = cluster_power(r.facility_config.power, step_phases(est)).nameplate_it_w
    _check_supply(loaded, i, supply, nameplate)


def _result(
    ph: PhaseSection,
    r: ScenarioResults,
    supply: float | None,
    *,
    capex: float,
    added: float,
    cumulative: float,
) -> PhaseResult:
    est, pw, wf = r.estimate, r.facility.power, r.with_failures
    warnings = list(r.warnings())
    peak = pw.compute.facility_w
    if supply is not None and peak > supply * W_PER_MW:
        warnings.append(
            f"facility power while computing ({peak / W_PER_MW:,.0f} MW) exceeds the "
            f"supply ({supply:,.0f} MW): cooling cannot run at full load"
        )
    return PhaseResult(
        name=ph.name,
        date=ph.date,
        gpus=r.scenario.cluster.gpu_counts,
        num_gpus=int(r.scenario.cluster.num_gpus or 0),
        supply_w=None if supply is None else supply * W_PER_MW,
        it_power_w=pw.nameplate_it_w,
        it_average_w=pw.average_it_w,
        facility_power_w=pw.average_facility_w,
        facility_peak_w=peak,
        battery_units=int(r.facility.battery_units),
        capex_usd=capex,
        capex_added_usd=added,
        capex_usd_cumulative=cumulative,
        fabric_tiers=r.fabric.tiers,
        fabric_switches=int(sum(r.fabric.switches_per_tier)),
        days_to_train=r.run_days,
        days_to_train_failure_free=est.days_to_train,
        days_basis=r.run_days_basis,
        goodput=None if wf is None else wf.goodput,
        tokens_per_s=est.tokens_per_s,
        mfu=est.mfu,
        plan=est.plan.as_dict(),
        warnings=tuple(warnings),
    )


def _check_supply(loaded: LoadedScenario, i: int, supply: float | None, it_w: float) -> None:
    """InputError when phase ``i``'s grid + on-site generation is short of its IT load."""
    if supply is None or supply * W_PER_MW >= it_w:
        return
    field = f"phases[{i}].grid_mw"
    raise InputError(
        field,
        f"grid + on-site generation ({supply:,.1f} MW) is short of the IT load of the "
        f"cluster as it stands ({it_w / W_PER_MW:,.1f} MW nameplate)",
        value=supply,
        location=loaded.location(f"phases.{i}.grid_mw") or loaded.location(f"phases.{i}"),
        fix=f"raise phases[{i}].grid_mw or onsite_mw to at least {it_w / W_PER_MW:,.0f} MW, "
        "or add fewer GPUs in that phase",
    )
