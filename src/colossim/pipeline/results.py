"""ScenarioResults: each stage of one scenario computed once, on first use, and
:func:`run_scenario`, which builds it (see the package docstring)."""

from __future__ import annotations

import dataclasses
from functools import cached_property

from colossim.campaign import (
    CampaignConfig,
    CampaignResult,
    campaign_intervals,
    expected_interruptions_to_simulate,
    simulate_campaign,
    trial_timeline,
)
from colossim.cost import CostResult, cluster_cost
from colossim.errors import ColossimError, InputError, require_int
from colossim.fabric import Fabric
from colossim.parallel.plan import (
    Infeasible,
    Plan,
    PlanBatch,
    Recompute,
    Sharding,
    check_plans,
)
from colossim.perf.estimate import PLAN_FIX, Context, Estimate, estimate
from colossim.pipeline.campaign import (
    CAMPAIGN_INTERRUPTION_LIMIT,
    TIMELINE_MAX_GAPS,
    campaign_config,
    partition_causes,
)
from colossim.pipeline.partitions import (
    PartitionUse,
    Spanning,
    partition_list,
    partition_power,
    partition_scenarios,
    server_groups,
    spanning_contexts,
    spanning_plans,
)
from colossim.pipeline.records import TraceEvents, WithFailures, outages_in
from colossim.pipeline.sanity import (
    Headroom,
    campaign_warnings,
    estimate_warnings,
    memory_headroom,
)
from colossim.power import (
    FacilityConfig,
    FacilityResult,
    PowerConfig,
    StepPhases,
    simulate_facility,
    with_idle_gpus,
)
from colossim.scenario.load import LoadedScenario, load_scenario
from colossim.scenario.schema import Scenario
from colossim.search import SearchResult, SearchSpace, plan_search
from colossim.units import SECONDS_PER_DAY, W_PER_MW
from colossim.workload.model import TransformerSpec, preset, spec_from_dict
from colossim.workload.training import Training

__all__ = ["NoFeasiblePlan", "ScenarioResults", "run_scenario", "step_phases"]


class NoFeasiblePlan(ColossimError):
    """The search ran but no plan fits (the CLI exits 1)."""

    def __init__(self, result: SearchResult) -> None:
        reasons = ", ".join(
            f"{k}: {v:,}" for k, v in sorted(result.rejected.items(), key=lambda kv: -kv[1])
        )
        super().__init__(
            f"no feasible plan among {result.candidates:,} candidates (rejected by reason: {reasons})"
        )
        self.payload = {"candidates": result.candidates, "rejected": result.rejected}


def step_phases(est: Estimate) -> StepPhases:
    """A step-time breakdown as the power model's phases: GPUs computing, waiting on
    exposed communication, or idle (pipeline bubble, step overhead)."""
    b = est.time_breakdown_s
    exposed = ("tp_comm_exposed", "cp_comm_exposed", "ep_comm_exposed", "pp_p2p", "dp_comm_exposed")
    comm = sum(b[k] for k in exposed)
    idle = b["pipeline_bubble"] + b["step_overhead"]
    compute = max(est.step_time_s - comm - idle, 0.0)
    return StepPhases(compute_s=compute, communication_s=comm, idle_s=idle)


class ScenarioResults:
    """Every stage of one scenario, each computed once, on first access.

    Build it with :func:`run_scenario`. Attributes are read-only cached properties; an
    ``InputError`` (bad input found late) or :class:`NoFeasiblePlan` is raised by the
    first stage that meets it.
    """

    def __init__(
        self,
        loaded: LoadedScenario,
        *,
        trials: int | None = None,
        seed: int | None = None,
        campaign: bool = True,
        campaign_limit: float | None = CAMPAIGN_INTERRUPTION_LIMIT,
    ) -> None:
        if trials is not None:
            require_int("--trials", trials, minimum=1)
        if seed is not None:
            require_int("--seed", seed, minimum=0)
        self.loaded = loaded
        self.scenario: Scenario = loaded.scenario
        self.name: str = loaded.scenario.name
        self.description: str = (loaded.scenario.description or "").strip()
        self.source: str = loaded.path
        self._trials, self._seed = trials, seed
        self._with_campaign, self._campaign_limit = campaign, campaign_limit

    # ---- performance ------------------------------------------------------------------

    @property
    def partitioned(self) -> bool:
        """True for a cluster of several partitions (``cluster.partitions``)."""
        return bool(self.scenario.cluster.partitions)

    @cached_property
    def _model_training(self) -> tuple[TransformerSpec, Training]:
        w = self.scenario.workload
        model = (
            preset(w.model)
            if isinstance(w.model, str)
            else spec_from_dict(w.model.model_dump(), name=w.model.name)
        )
        training = Training(
            seq_len=w.seq_len,
            global_batch=w.global_batch_sequences,
            tokens=float(w.tokens),
            precision=w.precision,
            framework=w.framework,
            fp8_recipe=w.fp8_recipe,
            tp_comm_overlap=w.tp_comm_overlap,
            cuda_graphs=w.cuda_graphs,
            moe_imbalance=w.moe_imbalance,
        )
        return model, training

    @cached_property
    def ctx(self) -> Context:
        """Model, training run, cluster, stack profile and the fabric that prices
        every collective (partitioned: the pacing partition's, see :attr:`spanning`)."""
        if self.partitioned:
            if self.scenario.cluster.job == "separate":
                return self.headline_job.ctx
            return self.partition_ctxs[self.spanning.pacing()]
        return self.partition_ctxs[0]

    # ---- partitions (a cluster of several GPU types) ----------------------------------

    @cached_property
    def partition_ctxs(self) -> tuple[Context, ...]:
        """One context per partition for a job spanning them (see ``partitions.py``)."""
        return spanning_contexts(self.scenario, *self._model_training)

    @cached_property
    def spanning(self) -> Spanning:
        """The job spanning every partition: plans ranked by the paced step."""
        fixed = self.plan
        exact = fixed is not None and not self.scenario.plan.idle_gpus
        parts = partition_list(self.scenario)
        total = sum(p.num_gpus for p in parts)
        sp = spanning_plans(
            self.partition_ctxs,
            self.search_space,
            fixed=fixed,
            exact_gpus=exact,
            shares=tuple(p.num_gpus / total for p in parts),
            by_speed=self.scenario.cluster.placement == "by_speed",
        )
        if not sp.ranked:
            raise NoFeasiblePlan(sp.searches[0])
        return sp

    @cached_property
    def separate_jobs(self) -> tuple[ScenarioResults, ...]:
        """One job per partition, each on its own fabric with the global batch scaled to
        its share of the GPUs (failure-free; their campaigns are not run)."""
        return tuple(
            ScenarioResults(
                LoadedScenario(scenario=sub, path=f"{self.source}[{label}]"), campaign=False
            )
            for label, sub in partition_scenarios(self.scenario)
        )

    @property
    def headline_job(self) -> ScenarioResults:
        """Separate jobs: the largest partition's job (the one the headline figures show)."""
        if self.plan is not None:
            raise InputError(
                "plan",
                "with cluster.job: separate, each partition's job is searched",
                fix="use plan: search, or cluster.job: spanning for a fixed plan",
            )
        jobs = self.separate_jobs
        return max(jobs, key=lambda j: j.scenario.cluster.num_gpus or 0)

    @property
    def partition_uses(self) -> tuple[PartitionUse, ...]:
        """How each partition runs the chosen plan of the spanning job."""
        return self.spanning.uses(partition_list(self.scenario))

    @cached_property
    def plan(self) -> Plan | None:
        """The scenario's fixed plan, or None when it asks for a search."""
        p = self.scenario.plan
        if p == "search":
            return None
        return Plan(
            tp=p.tp,
            pp=p.pp,
            dp=p.dp,
            cp=p.cp,
            ep=p.ep,
            vp=p.vp,
            micro_batch=p.micro_batch,
            global_batch=self._model_training[1].global_batch,
            recompute=Recompute[p.recompute.upper()],
            sharding=Sharding[p.sharding.upper()],
        )

    @property
    def search_space(self) -> SearchSpace:
        """The plan space the scenario's ``search:`` section describes."""
        s = self.scenario.search
        return SearchSpace(
            batch_tolerance=s.batch_tolerance,
            allow_idle=s.allow_idle,
            max_tp=s.max_tp,
            memory_headroom=self.memory_headroom.share,
        )

    @property
    def memory_headroom(self) -> Headroom:
        """Share of HBM every plan must leave free, and the setting it comes from."""
        return memory_headroom(self.scenario)

    def check_priced(self) -> None:
        """InputError now (before a search) if the cost stage could not price the GPUs."""
        self._server_groups()

    def _server_groups(self) -> tuple[tuple[int, float, int], ...]:
        return server_groups(self.scenario)

    @cached_property
    def search(self) -> SearchResult:
        """Every plan the scenario's stack can run, searched (raises NoFeasiblePlan);
        partitioned: on the pacing partition."""
        if self.partitioned and self.scenario.cluster.job == "separate":
            return self.headline_job.search
        if self.partitioned and self.spanning.searches:
            return self.spanning.searches[self.spanning.pacing()]
        res = plan_search(self.ctx, self.search_space)
        if res.feasible is None:
            raise NoFeasiblePlan(res)
        return res

    @cached_property
    def top(self) -> tuple[Estimate, ...]:
        """The best ``search.top_k`` searched plans, best first."""
        return self.best_plans(self.scenario.search.top_k)

    def best_plans(self, k: int) -> tuple[Estimate, ...]:
        """The best ``k`` searched plans (at most the search keeps), best first."""
        if self.partitioned and self.scenario.cluster.job == "separate":
            return self.headline_job.best_plans(k)
        if self.partitioned:
            n = min(k, len(self.spanning.ranked))
            return tuple(self.spanning.paced(i) for i in range(n))
        res = self.search
        n = min(k, len(res.feasible))
        return tuple(Estimate.from_batch(res.feasible, i, self.ctx) for i in range(n))

    @cached_property
    def estimate(self) -> Estimate:
        """The fixed plan's prediction, or the best searched plan's."""
        if self.partitioned and self.scenario.cluster.job == "separate":
            return self.headline_job.estimate
        if self.partitioned:
            return self.spanning.paced(0)
        if self.plan is not None:
            # A fixed plan uses every GPU unless it says otherwise (`plan.idle_gpus`).
            exact = not self.scenario.plan.idle_gpus
            if not exact or self.plan.num_gpus == self.ctx.cluster.num_gpus:
                _check_plan_fields(self.ctx, self.plan)
            return estimate(self.ctx, self.plan, exact_gpus=exact)
        return self.top[0]

    @property
    def plan_source(self) -> str:
        """``"scenario"`` (a fixed plan) or ``"search"``."""
        return "search" if self.plan is None else "scenario"

    # ---- facility -----------------------------------------------------------------------

    @property
    def fabric(self) -> Fabric:
        """The scale-out fabric (the same object that prices the collectives)."""
        return self.ctx.fabric

    @cached_property
    def facility(self) -> FacilityResult:
        """Power per phase, the power trace, and grid + battery (sized or fixed)."""
        cfg = self.facility_config
        ev = self.trace_events
        if ev.checkpoint_interval_s is not None and cfg.checkpoint_interval_s is None:
            cfg = dataclasses.replace(
                cfg,
                checkpoint_interval_s=ev.checkpoint_interval_s,
                checkpoint_stall_s=ev.checkpoint_stall_s,
            )
        return simulate_facility(cfg, step_phases(self.estimate), outages=ev.outages)

    @cached_property
    def facility_config(self) -> FacilityConfig:
        """The facility section resolved for this cluster (power per GPU type, fabric
        power, grid, battery), before any simulation."""
        c = self.ctx.cluster
        cfg = self.scenario.facility.to_config(
            gpu_id=c.gpu.id,
            num_gpus=c.num_gpus,
            gpus_per_node=c.gpus_per_node,
            fabric_power_w=self._fabric_sum("power_w"),
        )
        if self.partitioned:
            cfg = dataclasses.replace(cfg, power=self._partition_power(cfg.power))
        # GPUs the plan leaves idle draw idle power all along.
        idle = with_idle_gpus(cfg.power, self.estimate.idle_gpus)
        return dataclasses.replace(cfg, power=idle)

    def _fabric_sum(self, name: str) -> float | None:
        """A fabric figure (``power_w``, ``cost_usd``, ``nic_cost_usd``): of the one
        fabric, or summed over the partitions' own fabrics (separate jobs)."""
        if self.partitioned and self.scenario.cluster.job == "separate":
            values = [getattr(j.fabric, name) for j in self.separate_jobs]
            return None if any(v is None for v in values) else float(sum(values))
        return getattr(self.fabric, name)

    def _partition_power(self, ref: PowerConfig) -> PowerConfig:
        """The cluster's power from each partition's (see :func:`partition_power`)."""
        separate = self.scenario.cluster.job == "separate"
        use = None if separate else [u.utilisation for u in self.partition_uses]
        return partition_power(self.scenario, ref, use)

    @cached_property
    def trace_events(self) -> TraceEvents:
        """What the campaign puts into the power trace: the example trial's outages
        (full-load drops and restarts) inside the trace, and, unless the scenario fixes
        them (``facility.checkpoint_*``), its synchronous checkpoint stalls."""
        camp = self.campaign
        fs = self.scenario.facility
        if camp is None:
            return TraceEvents(
                outages=None,
                checkpoint_interval_s=fs.checkpoint_interval_s,
                checkpoint_stall_s=fs.checkpoint_stall_s,
            )
        outages = outages_in(camp.outages_s, fs.trace_duration_s)
        if fs.checkpoint_interval_s is not None or fs.checkpoint_stall_s is not None:
            interval, stall = fs.checkpoint_interval_s, fs.checkpoint_stall_s
        else:
            stall = self.campaign_config.checkpoint.blocking_s
            interval = (
                campaign_intervals(self.campaign_config).used_s + stall if stall > 0 else None
            )
            stall = stall if stall > 0 else None
        return TraceEvents(
            outages=outages, checkpoint_interval_s=interval, checkpoint_stall_s=stall
        )

    @property
    def run_days(self) -> float:
        """Wall-clock days of one run: with failures when the campaign ran, else the
        failure-free figure (see :attr:`run_days_basis`)."""
        wf = self.with_failures
        return self.estimate.days_to_train if wf is None else wf.days

    @property
    def run_days_basis(self) -> str:
        """What :attr:`run_days` counts: ``"with failures"`` or ``"failure-free"``."""
        return "failure-free" if self.with_failures is None else "with failures"

    @property
    def usd_per_run_failure_free(self) -> float:
        """$ per run if nothing failed (the cost model is linear in the run's hours)."""
        return self.cost.usd_per_run * self.estimate.days_to_train / self.run_days

    @property
    def grid_limit_w(self) -> float | None:
        """Grid import limit, W (None: no grid simulation)."""
        mw = self.scenario.facility.grid_mw
        return None if mw is None else mw * W_PER_MW

    @cached_property
    def cost(self) -> CostResult:
        """Capex (with the battery the facility sized), opex, $/GPU-hour and $/run."""
        c = self.ctx.cluster
        fac = self.facility
        cfg = self.scenario.cost.to_config(
            gpu_id=c.gpu.id,
            num_gpus=c.num_gpus,
            fabric_cost_usd=self._fabric_sum("cost_usd"),
            battery_id=self.scenario.facility.battery,
            battery_units=int(fac.battery_units),
            nic_cost_usd=self._fabric_sum("nic_cost_usd"),
            model_params=float(self.ctx.model.total_params),
            training_tokens=float(self.ctx.training.tokens),
        )
        if self.partitioned:
            cfg = dataclasses.replace(
                cfg, num_gpus=fac.power.config.num_gpus, server_groups=self._server_groups()
            )
        return cluster_cost(
            cfg,
            nameplate_it_w=fac.power.nameplate_it_w,
            average_facility_w=fac.power.average_facility_w,
            run_hours=self.run_days * 24,
            fill_energy_j_per_year=next(
                (m.extra_energy_j_per_year for m in fac.mitigations if m.name == "software_fill"),
                None,
            ),
        )

    # ---- campaign -----------------------------------------------------------------------

    @cached_property
    def campaign_config(self) -> CampaignConfig:
        """The reliability section resolved, with the estimate's throughput."""
        cfg = campaign_config(
            self.scenario, self.ctx, self.estimate, trials=self._trials, seed=self._seed
        )
        if not self.partitioned:
            return cfg
        parts = partition_list(self.scenario)
        total = sum(p.num_gpus for p in parts)
        causes = partition_causes(
            self.scenario,
            cfg,
            self.estimate,
            job_share=[p.num_gpus / total for p in parts],
        )
        return dataclasses.replace(cfg, causes=causes)

    @cached_property
    def _campaign(self) -> tuple[CampaignResult | None, str]:
        if not self._with_campaign:
            return None, "campaign not run (--no-campaign)"
        cfg = self.campaign_config
        if self._campaign_limit is not None:
            work = expected_interruptions_to_simulate(cfg, campaign_intervals(cfg).used_s)
            if work > self._campaign_limit:
                return None, (
                    f"campaign skipped: about {work:,.0f} interruptions to simulate "
                    f"(limit {self._campaign_limit:,.0f}); run `colossim campaign` or lower --trials"
                )
        result = simulate_campaign(cfg)
        timeline = trial_timeline(cfg, max_gaps=TIMELINE_MAX_GAPS)
        return dataclasses.replace(result, timeline=timeline), ""

    @property
    def with_failures(self) -> WithFailures | None:
        """Days to train with failures (None when the campaign was not run)."""
        c = self.campaign
        if c is None:
            return None
        if str(getattr(c.mode, "value", c.mode)) == "window":
            days = self.estimate.days_to_train / c.goodput
            return WithFailures(
                days=days,
                days_p10=days,
                days_p90=days,
                goodput=c.goodput,
                basis="goodput over a simulated window",
            )
        return WithFailures(
            days=c.time_to_train_days_p50,
            days_p10=c.time_to_train_days_p10,
            days_p90=c.time_to_train_days_p90,
            goodput=c.goodput,
            basis="simulated to the end",
        )

    def warnings(self) -> list[str]:
        """Implausible results, in words (empty when all is plausible). Looks only at
        stages already computed: asking never runs a simulation."""
        out: list[str] = []
        est = self.__dict__.get("estimate")
        if est is not None:
            out += estimate_warnings(est, self.ctx, headroom=self.memory_headroom)
        camp = self.__dict__.get("_campaign", (None, ""))[0]
        if camp is not None:
            horizon = self.campaign_config.horizon_s / SECONDS_PER_DAY
            out += campaign_warnings(camp, self.with_failures, est, horizon_days=horizon)
        return out

    @property
    def campaign(self) -> CampaignResult | None:
        """The Monte Carlo campaign, or None (see :attr:`campaign_note`)."""
        return self._campaign[0]

    @property
    def campaign_note(self) -> str:
        """Why :attr:`campaign` is None ('' when it ran)."""
        return self._campaign[1]


def run_scenario(
    scenario: LoadedScenario | Scenario | str | None = None,
    *,
    trials: int | None = None,
    seed: int | None = None,
    campaign: bool = True,
    campaign_limit: float | None = CAMPAIGN_INTERRUPTION_LIMIT,
) -> ScenarioResults:
    """The pipeline of one scenario; stages run lazily, each once, on first access.

    Args:
        scenario: a loaded scenario, a validated :class:`Scenario`, a file path (or the
            name of a bundled example), or None for the built-in default scenario.
        trials: campaign Monte Carlo trials; None: the scenario's ``reliability.trials``
            if set, else 1,000 lowered to a bounded amount of work.
        seed: campaign random seed overriding the scenario's.
        campaign: False leaves the campaign out (``campaign`` is None).
        campaign_limit: interruptions above which the campaign is skipped (None: always
            simulate).

    Returns:
        The :class:`ScenarioResults`.
    """
    if isinstance(scenario, Scenario):
        loaded = LoadedScenario(scenario=scenario, path=f"<{scenario.name}>")
    elif isinstance(scenario, LoadedScenario):
        loaded = scenario
    else:
        loaded = load_scenario(scenario)
    return ScenarioResults(
        loaded, trials=trials, seed=seed, campaign=campaign, campaign_limit=campaign_limit
    )


def _check_plan_fields(ctx: Context, plan: Plan) -> None:
    """InputError naming the plan field at fault (``plan.pp`` for pp * vp above the
    layers, ...) for a fixed plan that breaks a structural rule (the first, in the order
    of ``check_plans``); ``estimate`` would name only ``plan``."""
    m, t = ctx.model, ctx.training
    batch = PlanBatch.from_plans([plan])
    for reason, bad in check_plans(m, t, ctx.cluster, batch).items():
        if not bad[0] or reason is Infeasible.GPU_COUNT:
            continue  # the GPU product involves every degree: `estimate` names the plan
        field, problem = {
            Infeasible.HEADS_NOT_DIVISIBLE: ("tp", f"does not divide the {m.heads} attention heads and {m.kv_heads} KV heads"),
            Infeasible.LAYERS: ("vp" if plan.vp > 1 else "pp", f"pp * vp = {plan.pp * plan.vp} is above the model's {m.layers} layers"),
            Infeasible.VP_WITHOUT_PP: ("vp", "virtual stages need pipeline parallelism (pp > 1)"),
            Infeasible.SEQ_NOT_DIVISIBLE: ("cp" if plan.cp > 1 else "tp", f"seq_len {t.seq_len} is not divisible by 2 * cp and tp * cp"),
            Infeasible.EXPERTS_NOT_DIVISIBLE: ("ep", f"does not divide the {m.experts} experts and dp * cp = {plan.dp * plan.cp}"),
            Infeasible.EP_WITHOUT_MOE: ("ep", "expert parallelism needs an MoE model"),
            Infeasible.BATCH: ("micro_batch", f"the global batch of {t.global_batch} sequences is not a multiple of dp * micro_batch = {plan.dp * plan.micro_batch}"),
        }[reason]  # fmt: skip
        raise InputError(f"plan.{field}", problem, value=getattr(plan, field), fix=PLAN_FIX[reason])
