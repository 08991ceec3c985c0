"""Facility power trace at sub-second resolution: training steps plus outages.

The trace is the bin average of the facility power over bins of ``resolution_s``. The step
pattern (compute, communication, idle, repeated) is integrated exactly over each bin, so the
trace's energy is exact even when the step time is not a multiple of the bin. Outages (a
failure stops the job) drop the cluster to idle power; when the job restarts the power ramps
back linearly to the step pattern.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from colossim.catalog import load_catalog
from colossim.errors import InputError, require_number
from colossim.power.phases import ClusterPower, StepPhases
from colossim.units import SECONDS_PER_HOUR

__all__ = [
    "Outages",
    "PowerTrace",
    "TraceConfig",
    "checkpoint_stalls",
    "outages_from_arrays",
    "power_trace",
    "sample_outages",
    "trace_config",
]

# Bins per trace are capped so a typo (a year at 1 ms) fails with a message, not a MemoryError.
_MAX_BINS = 20_000_000  # 160 MB per float64 array: a week at 0.1 s, a day at 10 ms


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceConfig:
    """Trace length and resolution.

    Args:
        duration_s: length of the trace, s (rounded up to whole bins).
        resolution_s: bin width, s.
        restart_ramp_s: time for the power to ramp from idle back to the step pattern after
            an outage, s (0 = instant).
    """

    duration_s: float
    resolution_s: float
    restart_ramp_s: float

    def __post_init__(self) -> None:
        # Each figure named by its scenario field (facility.trace_duration_s, ...).
        for name, field, strict in (
            ("duration_s", "trace_duration_s", True),
            ("resolution_s", "trace_resolution_s", True),
            ("restart_ramp_s", "restart_ramp_s", False),
        ):
            require_number(f"facility.{field}", getattr(self, name), minimum=0.0, strict=strict)
        if self.duration_s / self.resolution_s > _MAX_BINS:
            raise InputError(
                "facility.trace_resolution_s",
                f"a {self.duration_s:,.0f} s trace in bins this fine would have more than "
                f"{_MAX_BINS:,} bins",
                value=self.resolution_s,
                fix="coarsen facility.trace_resolution_s or shorten facility.trace_duration_s",
            )

    @property
    def num_bins(self) -> int:
        """Bins in the trace."""
        return max(1, math.ceil(self.duration_s / self.resolution_s - 1e-9))


def trace_config(
    *,
    duration_s: float,
    resolution_s: float | None = None,
    restart_ramp_s: float | None = None,
) -> TraceConfig:
    """:class:`TraceConfig` with defaults from ``power.yaml`` ``trace-default``."""
    defaults = load_catalog("power")["trace-default"].values
    return TraceConfig(
        duration_s=duration_s,
        resolution_s=float(defaults["resolution_s"]) if resolution_s is None else resolution_s,
        restart_ramp_s=(
            float(defaults["restart_ramp_s"]) if restart_ramp_s is None else restart_ramp_s
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outages:
    """Job outages: the job is down from ``start_s[i]`` for ``duration_s[i]`` seconds.

    Build with :func:`outages_from_arrays` or :func:`sample_outages` (they validate and sort).
    """

    start_s: np.ndarray
    duration_s: np.ndarray

    @property
    def count(self) -> int:
        """Number of outages."""
        return int(self.start_s.size)


def outages_from_arrays(start_s: object, duration_s: object) -> Outages:
    """Validate outage arrays (e.g. from the campaign simulator) and sort them by start.

    Args:
        start_s: outage start times, s from the start of the trace.
        duration_s: outage durations (job down, GPUs idle), s.
    """
    start = np.asarray(start_s, dtype=float).ravel()
    dur = np.asarray(duration_s, dtype=float).ravel()
    if start.shape != dur.shape:
        raise InputError(
            "outages",
            "start_s and duration_s must have the same length",
            value=(start.size, dur.size),
        )
    if not (np.all(np.isfinite(start)) and np.all(np.isfinite(dur))):
        raise InputError("outages", "times must be finite numbers")
    if np.any(dur < 0):
        raise InputError("outages.duration_s", "must be >= 0", value=float(dur.min()))
    order = np.argsort(start, kind="stable")
    start, dur = start[order], dur[order]
    start.flags.writeable = False
    dur.flags.writeable = False
    return Outages(start_s=start, duration_s=dur)


def checkpoint_stalls(*, interval_s: float, stall_s: float, horizon_s: float) -> Outages:
    """Synchronous checkpoint stalls: the job idles ``stall_s`` every ``interval_s``.

    The first stall ends the first interval (a checkpoint is written after ``interval_s`` of
    training); stalls are counted in wall-clock time over ``horizon_s``.
    """
    require_number("facility.checkpoint_interval_s", interval_s, minimum=0.0, strict=True)
    require_number("facility.checkpoint_stall_s", stall_s, minimum=0.0)
    require_number("facility.trace_duration_s", horizon_s, minimum=0.0)
    period = interval_s + stall_s
    starts = np.arange(interval_s, horizon_s, period) if stall_s > 0 else np.empty(0)
    return outages_from_arrays(starts, np.full(starts.size, stall_s))


def sample_outages(
    *,
    rate_per_hour: float,
    mean_duration_s: float,
    horizon_s: float,
    rng: np.random.Generator,
) -> Outages:
    """Sample outages over ``horizon_s``: Poisson interruptions in running time.

    Args:
        rate_per_hour: job interruptions per hour of running time (whole cluster).
        mean_duration_s: mean outage duration (detect + restart + reload), s.
        horizon_s: wall-clock span to cover, s.
        rng: random generator (from ``numpy.random.SeedSequence(seed)``).
    """
    for name, value in (
        ("rate_per_hour", rate_per_hour),
        ("mean_duration_s", mean_duration_s),
        ("horizon_s", horizon_s),
    ):
        require_number(f"outages.{name}", value, minimum=0.0)
    if rate_per_hour == 0 or horizon_s == 0:
        return outages_from_arrays(np.empty(0), np.empty(0))
    mean_gap_s = SECONDS_PER_HOUR / rate_per_hour
    # Draw enough events to cover the horizon with overwhelming probability, then cut.
    expected = horizon_s / (mean_gap_s + mean_duration_s)
    n = int(expected + 10.0 * math.sqrt(expected) + 10)
    # MODEL: exponential times between failures (counted in running time, the job cannot fail
    # while down) and exponential outage durations; outages therefore never overlap.
    gaps = rng.exponential(mean_gap_s, size=n)
    durs = rng.exponential(mean_duration_s, size=n) if mean_duration_s > 0 else np.zeros(n)
    # start_i = sum of all earlier gaps and outages + own gap (one cumulative sum).
    ends = np.cumsum(gaps + durs)
    starts = ends - durs
    keep = starts < horizon_s
    return outages_from_arrays(starts[keep], durs[keep])


@dataclass(frozen=True, slots=True, kw_only=True)
class PowerTrace:
    """Facility power over time, one value per bin (bin averages).

    Attributes:
        resolution_s: bin width, s.
        power_w: facility power per bin, W (read-only array).
        pue: PUE used (IT power = ``power_w / pue``).
        energy_j: facility energy of the trace = sum(power_w) x resolution_s, J.
    """

    resolution_s: float
    power_w: np.ndarray
    pue: float
    energy_j: float

    @property
    def duration_s(self) -> float:
        """Trace length, s."""
        return self.power_w.size * self.resolution_s

    @property
    def it_energy_j(self) -> float:
        """IT energy of the trace, J."""
        return self.energy_j / self.pue

    @property
    def mean_power_w(self) -> float:
        """Mean facility power, W."""
        return self.energy_j / self.duration_s

    @property
    def peak_power_w(self) -> float:
        """Highest bin, W."""
        return float(self.power_w.max())

    @property
    def min_power_w(self) -> float:
        """Lowest bin, W."""
        return float(self.power_w.min())


def _step_energy_curve(power: ClusterPower, phases: StepPhases, t_s: np.ndarray) -> np.ndarray:
    """Facility energy from t=0 to each ``t_s`` with the step pattern repeated, J.

    E(t) = floor(t/T) E_step + e(t mod T), e piecewise linear over the three phases.
    """
    step_s = phases.step_s
    x = np.array([0.0, phases.compute_s, phases.compute_s + phases.communication_s, step_s])
    p = np.array([power.compute.facility_w, power.communication.facility_w, power.idle.facility_w])
    # MODEL: phase order within a step is compute, then exposed communication, then idle.
    y = np.concatenate(([0.0], np.cumsum(p * np.diff(x))))
    periods = np.floor(t_s / step_s)
    rem = np.clip(t_s - periods * step_s, 0.0, step_s)
    return periods * y[-1] + np.interp(rem, x, y)


def _outage_deficit(outages: Outages, edges_s: np.ndarray, ramp_s: float) -> np.ndarray:
    """Per bin, the average share of the job that is down (0 = running, 1 = down).

    Each outage contributes g(t) = 1 on [s, e), then 1 - (t - e)/R on the restart ramp
    [e, e + R). Its integral G(t) is closed-form, so bin averages are exact:
    (G(b1) - G(b0)) / dt. Outages are few (tens per day), so the loop runs over outages,
    each touching only its own bins.
    """
    n = edges_s.size - 1
    dt = edges_s[1] - edges_s[0]
    deficit = np.zeros(n)
    for s, d in zip(outages.start_s.tolist(), outages.duration_s.tolist(), strict=True):
        e = s + d
        stop = e + ramp_s
        if stop <= edges_s[0] or s >= edges_s[-1] or stop <= s:
            continue
        i0 = max(int(math.floor((s - edges_s[0]) / dt)), 0)
        i1 = min(int(math.ceil((stop - edges_s[0]) / dt)), n)
        t = edges_s[i0 : i1 + 1]
        down = np.clip(t - s, 0.0, d)
        if ramp_s > 0:
            u = np.clip(t - e, 0.0, ramp_s)
            ramp = u - u * u / (2.0 * ramp_s)  # integral of 1 - u/R
        else:
            ramp = 0.0
        g = np.diff(down + ramp) / dt
        # MODEL: overlapping outages (or ramps) combine by max, not by sum.
        np.maximum(deficit[i0:i1], g, out=deficit[i0:i1])
    return np.clip(deficit, 0.0, 1.0)


def power_trace(
    power: ClusterPower,
    trace: TraceConfig,
    *,
    outages: Outages | None = None,
    stalls: Outages | None = None,
) -> PowerTrace:
    """Facility power trace of the cluster training over ``trace.duration_s``.

    Args:
        power: steady-state cluster power (phase levels and step phases).
        trace: duration and resolution.
        outages: job outages (GPUs idle, then a restart ramp), optional.
        stalls: whole-job stalls such as synchronous checkpoint writes (GPUs idle, back to
            full power at once: no restart ramp), optional.

    Returns:
        The trace; its energy is exact for the step pattern (bin integrals, not samples).
    """
    n = trace.num_bins
    dt = trace.resolution_s
    edges = np.arange(n + 1, dtype=float) * dt
    energy = _step_energy_curve(power, power.phases, edges)
    pattern_w = np.diff(energy) / dt
    deficit = np.zeros(n)
    if outages is not None and outages.count:
        deficit = _outage_deficit(outages, edges, trace.restart_ramp_s)
    if stalls is not None and stalls.count:
        # MODEL: a stall and an outage at once combine by max, as overlapping outages do.
        deficit = np.maximum(deficit, _outage_deficit(stalls, edges, 0.0))
    if deficit.any():
        idle_w = power.idle.facility_w
        # MODEL: within one bin the outage share and the step pattern are taken as
        # independent (product of bin averages); exact whenever either is constant over the
        # bin, off by at most (one bin x swing) per outage edge otherwise.
        pattern_w = idle_w + (1.0 - deficit) * (pattern_w - idle_w)
    pattern_w.flags.writeable = False
    return PowerTrace(
        resolution_s=dt,
        power_w=pattern_w,
        pue=power.config.pue,
        energy_j=float(pattern_w.sum() * dt),
    )
