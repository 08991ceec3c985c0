"""Grid interconnection rules for large loads, and the check of a grid-draw trace against them.

Utilities state what a large load may do to the grid as a maximum ramp rate (MW/s, MW/min),
a dynamic power range (a floor under the draw), and a limit on the load's spectral content in
a critical band, e.g. 0.1-20 Hz (Choukse et al. 2025, arXiv:2508.14318; docs/sources.md:
CHOUKSE-2025). colossim adds ride-through: the facility must neither trip nor drop its load
in a grid disturbance (the 2024 loss of 1.5 GW of data-centre load disturbed the Eastern US
grid, NERC-LOADLOSS-2024), so the battery must carry the peak load for ``ride_through_s``.

Rule sets are catalog data (``catalog/grid_rules.yaml``); a scenario names one and may override
single fields. Each rule is checked on the grid draw (after the battery) and reported with
its limit, the measured value and whether it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError, require_number
from colossim.units import SECONDS_PER_MINUTE, W_PER_MW

__all__ = [
    "GridRules",
    "RuleCheck",
    "check_rules",
    "effective_ramp_w_per_s",
    "grid_rules",
    "oscillation_amplitude",
    "ramp_over_window_w",
    "ride_through_units",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class GridRules:
    """One set of interconnection rules (None: no such limit).

    Args:
        id: catalog id (``grid_rules.yaml``), or the id with ``+overrides``.
        name: readable name.
        ramp_w_per_s: maximum change of grid draw per second, W/s.
        ramp_w_per_min: maximum change of grid draw over any 60 s, W.
        band_low_hz / band_high_hz: critical oscillation band, Hz.
        oscillation_max_frac: largest single-frequency amplitude allowed in the band, as a
            share of the mean grid draw.
        floor_frac: lowest grid draw allowed, share of the interconnection (import) limit.
        ride_through_s: time the battery must carry the peak facility load alone, s.
    """

    id: str
    name: str
    ramp_w_per_s: float | None = None
    ramp_w_per_min: float | None = None
    band_low_hz: float | None = None
    band_high_hz: float | None = None
    oscillation_max_frac: float | None = None
    floor_frac: float | None = None
    ride_through_s: float | None = None

    def __post_init__(self) -> None:
        for field, value, strict in (
            ("ramp_mw_per_s", self.ramp_w_per_s, True),
            ("ramp_mw_per_min", self.ramp_w_per_min, True),
            ("oscillation_band_low_hz", self.band_low_hz, True),
            ("oscillation_band_high_hz", self.band_high_hz, True),
            ("oscillation_max_frac", self.oscillation_max_frac, True),
            ("ride_through_s", self.ride_through_s, False),
        ):
            if value is not None:
                require_number(f"facility.grid_rules.{field}", value, minimum=0.0, strict=strict)
        if self.floor_frac is not None:
            require_number(
                "facility.grid_rules.floor_frac", self.floor_frac, minimum=0.0, maximum=1.0
            )
        if self.oscillation_max_frac is not None and (
            self.band_low_hz is None
            or self.band_high_hz is None
            or self.band_high_hz <= self.band_low_hz
        ):
            raise InputError(
                "facility.grid_rules.oscillation_band_high_hz",
                "an oscillation limit needs a band with high > low (Hz)",
                value=(self.band_low_hz, self.band_high_hz),
            )


def _mw(value: object, factor: float) -> float | None:
    return None if value is None else float(value) * factor


def grid_rules(rule_id: str, **overrides: float | None) -> GridRules:
    """Rule set ``rule_id`` of ``grid_rules.yaml``, with single fields overridden.

    Args:
        rule_id: catalog id (``default``, ``choukse-2025``, ``ramp-only``, ``none``).
        **overrides: :class:`GridRules` fields in SI units (W/s, W, Hz, fractions, s); a
            field given here replaces the catalog's (pass only the fields the user set).
    """
    v = lookup("grid_rules", rule_id, field="facility.grid_rules").values
    rules = GridRules(
        id=rule_id,
        name=str(v["name"]),
        ramp_w_per_s=_mw(v["ramp_mw_per_s"], W_PER_MW),
        ramp_w_per_min=_mw(v["ramp_mw_per_min"], W_PER_MW),
        band_low_hz=_mw(v["oscillation_band_low_hz"], 1.0),
        band_high_hz=_mw(v["oscillation_band_high_hz"], 1.0),
        oscillation_max_frac=_mw(v["oscillation_max_frac"], 1.0),
        floor_frac=_mw(v["floor_frac"], 1.0),
        ride_through_s=_mw(v["ride_through_s"], 1.0),
    )
    if overrides:
        rules = replace(rules, id=f"{rule_id}+overrides", **overrides)
    return rules


def effective_ramp_w_per_s(rules: GridRules) -> float | None:
    """Per-second ramp limit that also keeps every 60 s change inside the MW/min limit, W/s.

    A draw whose slope never exceeds r W/s changes by at most 60 r over a minute, so
    min(ramp_w_per_s, ramp_w_per_min / 60) meets both limits (sufficient, not necessary).
    """
    limits = [
        x
        for x in (
            rules.ramp_w_per_s,
            None if rules.ramp_w_per_min is None else rules.ramp_w_per_min / SECONDS_PER_MINUTE,
        )
        if x is not None
    ]
    return min(limits) if limits else None


def ramp_over_window_w(grid_w: np.ndarray, *, resolution_s: float, window_s: float) -> float:
    """Largest change of the grid draw between two bins ``window_s`` apart, W.

    The trace is padded with its first value before t=0 (steady state), as the dispatch is.
    """
    w = max(1, round(window_s / resolution_s))
    g = np.asarray(grid_w, dtype=float)
    before = np.concatenate((np.full(min(w, g.size), g[0]), g[:-w] if w < g.size else []))
    return float(np.abs(g - before[: g.size]).max())


def oscillation_amplitude(
    grid_w: np.ndarray, *, resolution_s: float, band_low_hz: float, band_high_hz: float
) -> tuple[float, float, float]:
    """Largest single-frequency amplitude of the grid draw inside a band.

    One-sided amplitude spectrum of the mean-removed draw: A_k = 2 |X_k| / N (a sinusoid of
    amplitude A at a bin frequency reads A). The band is cut at the Nyquist frequency of the
    trace (5 Hz at 100 ms bins): faster content is not resolved.

    Returns:
        (amplitude / mean draw, frequency of that peak in Hz, upper band edge used in Hz).
    """
    g = np.asarray(grid_w, dtype=float)
    n = g.size
    mean = float(g.mean())
    nyquist = 0.5 / resolution_s
    high = min(band_high_hz, nyquist)
    if n < 4 or mean <= 0 or high <= band_low_hz:
        return 0.0, 0.0, high
    spec = np.abs(np.fft.rfft(g - mean)) * (2.0 / n)
    freqs = np.fft.rfftfreq(n, d=resolution_s)
    inband = (freqs >= band_low_hz) & (freqs <= high)
    if not inband.any():
        return 0.0, 0.0, high
    k = int(np.argmax(np.where(inband, spec, -1.0)))
    return float(spec[k] / mean), float(freqs[k]), high


def ride_through_units(
    *,
    peak_load_w: float,
    ride_through_s: float,
    unit_power_w: float,
    unit_energy_j: float,
    soc_frac: float,
    one_way_efficiency: float,
) -> int:
    """Fewest battery units that carry ``peak_load_w`` alone for ``ride_through_s``.

    Power: units x unit_power >= peak. Energy: the charge held at ``soc_frac``, delivered at
    ``one_way_efficiency``, covers peak x time: units x unit_energy x soc x eta >= peak x t.
    """
    if ride_through_s <= 0 or peak_load_w <= 0:
        return 0
    if soc_frac <= 0:
        raise InputError(
            "facility.target_soc_frac",
            "must be > 0 when the grid rules ask for ride-through (the battery holds no charge)",
            value=soc_frac,
        )
    by_power = math.ceil(peak_load_w / unit_power_w - 1e-9)
    usable_j = unit_energy_j * soc_frac * one_way_efficiency
    by_energy = math.ceil(peak_load_w * ride_through_s / usable_j - 1e-9)
    return max(by_power, by_energy)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleCheck:
    """One rule checked on the grid draw.

    Attributes:
        rule: ``ramp_per_s``, ``ramp_per_min``, ``oscillation``, ``floor`` or ``ride_through``.
        unit: unit of ``limit`` and ``value`` (``W/s``, ``W``, ``fraction``, ``s``).
        limit: the rule's limit.
        value: measured value.
        met: the rule holds.
        margin: how far inside the limit (> 0) or outside (< 0), in ``unit``.
        note: how it was measured.
    """

    rule: str
    unit: str
    limit: float
    value: float
    met: bool
    margin: float
    note: str


def _upper(rule: str, unit: str, limit: float, value: float, note: str) -> RuleCheck:
    tol = 1e-6 * max(abs(limit), 1.0)
    return RuleCheck(
        rule=rule,
        unit=unit,
        limit=limit,
        value=value,
        met=value <= limit + tol,
        margin=limit - value,
        note=note,
    )


def _lower(rule: str, unit: str, limit: float, value: float, note: str) -> RuleCheck:
    tol = 1e-6 * max(abs(limit), 1.0)
    return RuleCheck(
        rule=rule,
        unit=unit,
        limit=limit,
        value=value,
        met=value >= limit - tol,
        margin=value - limit,
        note=note,
    )


def check_rules(
    rules: GridRules,
    grid_w: np.ndarray,
    *,
    resolution_s: float,
    grid_limit_w: float,
    peak_load_w: float,
    battery_power_w: float,
    battery_energy_j: float,
    soc_frac: float,
    one_way_efficiency: float,
) -> tuple[RuleCheck, ...]:
    """Check every rule of ``rules`` that is set on the grid draw ``grid_w`` (W per bin).

    Args:
        rules: the rule set.
        grid_w: grid draw per bin after the battery, W.
        resolution_s: bin width, s.
        grid_limit_w: interconnection import limit, W (the floor is a share of it).
        peak_load_w: highest facility load, W (what ride-through must carry).
        battery_power_w / battery_energy_j: installed battery rating (W) and capacity (J).
        soc_frac: state of charge the battery is held at (ride-through energy), fraction.
        one_way_efficiency: battery discharge efficiency, fraction.
    """
    g = np.asarray(grid_w, dtype=float)
    dt = resolution_s
    out: list[RuleCheck] = []
    if rules.ramp_w_per_s is not None:
        value = float(np.abs(np.diff(g, prepend=g[0])).max() / dt)
        out.append(
            _upper("ramp_per_s", "W/s", rules.ramp_w_per_s, value, f"bin to bin, {dt:g} s bins")
        )
    if rules.ramp_w_per_min is not None:
        value = ramp_over_window_w(g, resolution_s=dt, window_s=SECONDS_PER_MINUTE)
        out.append(
            _upper("ramp_per_min", "W", rules.ramp_w_per_min, value, "largest change over 60 s")
        )
    if rules.oscillation_max_frac is not None:
        # __post_init__ guarantees the band when an oscillation limit is set.
        low, band_high = rules.band_low_hz or 0.0, rules.band_high_hz or 0.0
        frac, f_hz, high = oscillation_amplitude(
            g, resolution_s=dt, band_low_hz=low, band_high_hz=band_high
        )
        note = f"largest amplitude in {low:g}-{high:g} Hz at {f_hz:.3g} Hz, / mean draw"
        if high < band_high:
            note += f" (band cut at the trace's Nyquist frequency {high:g} Hz)"
        out.append(_upper("oscillation", "fraction", rules.oscillation_max_frac, frac, note))
    if rules.floor_frac is not None:
        value = float(g.min()) / grid_limit_w
        out.append(
            _lower("floor", "fraction", rules.floor_frac, value, "lowest draw / import limit")
        )
    if rules.ride_through_s is not None:
        held = 0.0
        if peak_load_w > 0 and battery_power_w >= peak_load_w * (1 - 1e-9):
            held = battery_energy_j * soc_frac * one_way_efficiency / peak_load_w
        out.append(
            _lower(
                "ride_through",
                "s",
                rules.ride_through_s,
                held,
                "seconds the battery carries the peak load alone (0 if its power is short)",
            )
        )
    return tuple(out)
