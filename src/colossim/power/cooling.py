"""Cooling and water: PUE and water use against the outdoor temperature of a site, and the
lag with which cooling power follows the heat load.

PUE and water intensity rise with the outdoor temperature above a knee (catalog
``cooling.yaml``); a site's typical year is built hourly from its monthly mean daily maximum
and minimum (catalog ``sites.yaml``) with a cosine day (max at 15:00, min at 03:00). The
annual PUE is the hourly PUE averaged with the IT load held at its training average (the
load does not follow the weather), so annual PUE = mean over hours of pue(T_h).

Cooling power follows the heat the coolant carries away, not the instantaneous GPU power:
the facility power is IT + (pue - 1) x (IT averaged over the thermal time constant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from colossim.catalog import lookup
from colossim.errors import InputError, require_number
from colossim.units import HOURS_PER_YEAR, SECONDS_PER_DAY, SECONDS_PER_HOUR, W_PER_MW

__all__ = [
    "CoolingResult",
    "CoolingSpec",
    "SiteClimate",
    "cooling_spec",
    "cooling_year",
    "hourly_ambient_c",
    "lagged_facility_w",
    "site_climate",
]

_DAYS_PER_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAYS_PER_YEAR = HOURS_PER_YEAR * SECONDS_PER_HOUR / SECONDS_PER_DAY  # 365
_HOUR_OF_MAX = 15.0  # MODEL: daily maximum mid-afternoon, minimum 12 h earlier


@dataclass(frozen=True, slots=True, kw_only=True)
class CoolingSpec:
    """A cooling plant (``cooling.yaml``): PUE and water intensity against outdoor temperature.

    Args:
        id: catalog id.
        name: description.
        pue_min: PUE at or below the knee temperature.
        pue_slope_per_c: PUE increase per degree C above the knee.
        knee_c: outdoor temperature above which PUE and water use rise, C.
        wue_min_m3_per_mwh: water per MWh of IT energy at or below the knee, m3/MWh.
        wue_slope_per_c: water intensity increase per degree C above the knee, m3/MWh/C.
        thermal_time_constant_s: window over which cooling power follows the IT power, s.
    """

    id: str
    name: str
    pue_min: float
    pue_slope_per_c: float
    knee_c: float
    wue_min_m3_per_mwh: float
    wue_slope_per_c: float
    thermal_time_constant_s: float

    def __post_init__(self) -> None:
        require_number(f"cooling {self.id}.pue_min", self.pue_min, minimum=1.0)
        for name in ("pue_slope_per_c", "wue_min_m3_per_mwh", "wue_slope_per_c"):
            require_number(f"cooling {self.id}.{name}", getattr(self, name), minimum=0.0)
        require_number(f"cooling {self.id}.knee_c", self.knee_c)
        require_number(
            f"cooling {self.id}.thermal_time_constant_s", self.thermal_time_constant_s, minimum=0.0
        )

    def pue_at(self, ambient_c: np.ndarray) -> np.ndarray:
        """PUE at each outdoor temperature (C)."""
        return self.pue_min + self.pue_slope_per_c * np.maximum(0.0, ambient_c - self.knee_c)

    def wue_at(self, ambient_c: np.ndarray) -> np.ndarray:
        """Water per MWh of IT energy at each outdoor temperature (C), m3/MWh."""
        excess = np.maximum(0.0, ambient_c - self.knee_c)
        return self.wue_min_m3_per_mwh + self.wue_slope_per_c * excess


def cooling_spec(cooling_id: str, *, field: str = "facility.cooling") -> CoolingSpec:
    """Look up a cooling plant in ``cooling.yaml``."""
    v = lookup("cooling", cooling_id, field=field).values
    return CoolingSpec(
        id=cooling_id,
        name=str(v["name"]),
        pue_min=float(v["pue_min"]),
        pue_slope_per_c=float(v["pue_slope_per_c"]),
        knee_c=float(v["knee_c"]),
        wue_min_m3_per_mwh=float(v["wue_min_m3_per_mwh"]),
        wue_slope_per_c=float(v["wue_slope_per_c"]),
        thermal_time_constant_s=float(v["thermal_time_constant_s"]),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteClimate:
    """Monthly mean daily max / min outdoor temperature of a site (``sites.yaml``), C."""

    id: str
    name: str
    high_c: tuple[float, ...]
    low_c: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.high_c) != 12 or len(self.low_c) != 12:
            raise InputError(f"site {self.id}", "needs 12 monthly highs and 12 lows")
        if any(h < lo for h, lo in zip(self.high_c, self.low_c, strict=True)):
            raise InputError(f"site {self.id}", "a monthly high is below its low")


def site_climate(site_id: str, *, field: str = "facility.site") -> SiteClimate:
    """Look up a site in ``sites.yaml``."""
    v = lookup("sites", site_id, field=field).values
    return SiteClimate(
        id=site_id,
        name=str(v["name"]),
        high_c=tuple(float(x) for x in v["high_c"]),
        low_c=tuple(float(x) for x in v["low_c"]),
    )


def hourly_ambient_c(site: SiteClimate) -> np.ndarray:
    """Typical-year outdoor temperature, one value per hour (8,760), C.

    Each day of month m: T(h) = mid_m + amp_m cos(2 pi (h - 15) / 24), mid and amp from the
    month's mean daily max and min (so the daily max and min average to the normals).
    """
    month = np.repeat(np.arange(12), np.array(_DAYS_PER_MONTH) * 24)
    high = np.asarray(site.high_c)[month]
    low = np.asarray(site.low_c)[month]
    hour = np.arange(month.size) % 24
    shape = np.cos(2.0 * math.pi * (hour - _HOUR_OF_MAX) / 24.0)
    return 0.5 * (high + low) + 0.5 * (high - low) * shape


@dataclass(frozen=True, slots=True, kw_only=True)
class CoolingResult:
    """Cooling over a typical year.

    Attributes:
        cooling: the plant (None when the scenario fixed the PUE).
        site: the site (None: no climate; PUE constant, water at the plant's minimum).
        pue_annual: PUE averaged over the year (the one the power model uses).
        pue_min / pue_max: lowest and highest hourly PUE.
        hottest_c: hottest hour of the typical year, C (None without a site).
        water_m3_per_day / water_m3_per_year: cooling water at the training-average IT load.
        water_m3_per_day_peak_month: the same in the month that uses most, m3/day.
        thermal_time_constant_s: cooling lag, s.
    """

    cooling: CoolingSpec | None
    site: SiteClimate | None
    pue_annual: float
    pue_min: float
    pue_max: float
    hottest_c: float | None
    water_m3_per_day: float
    water_m3_per_year: float
    water_m3_per_day_peak_month: float
    thermal_time_constant_s: float


def cooling_year(
    cooling: CoolingSpec | None,
    site: SiteClimate | None,
    *,
    average_it_w: float,
    fixed_pue: float | None = None,
) -> CoolingResult:
    """PUE and water over a typical year at a constant IT load.

    Args:
        cooling: cooling plant (None: ``fixed_pue`` and no water model).
        site: site climate (None: PUE ``fixed_pue`` or the plant's PUE at the knee).
        average_it_w: IT power, W (held constant over the year).
        fixed_pue: PUE the scenario fixed, if any (then the climate does not move it).
    """
    require_number("power.average_it_w", average_it_w, minimum=0.0)
    it_mwh_per_hour = average_it_w / W_PER_MW
    if site is None or cooling is None:
        base = cooling.pue_min if cooling is not None else 1.0
        pue = base if fixed_pue is None else fixed_pue
        wue = 0.0 if cooling is None else cooling.wue_min_m3_per_mwh
        per_year = wue * it_mwh_per_hour * HOURS_PER_YEAR
        return CoolingResult(
            cooling=cooling,
            site=site,
            pue_annual=pue,
            pue_min=pue,
            pue_max=pue,
            hottest_c=None,
            water_m3_per_day=per_year / _DAYS_PER_YEAR,
            water_m3_per_year=per_year,
            water_m3_per_day_peak_month=per_year / _DAYS_PER_YEAR,
            thermal_time_constant_s=0.0 if cooling is None else cooling.thermal_time_constant_s,
        )
    temp = hourly_ambient_c(site)
    pue_h = cooling.pue_at(temp) if fixed_pue is None else np.full(temp.size, fixed_pue)
    water_h = cooling.wue_at(temp) * it_mwh_per_hour
    per_day = water_h.reshape(-1, 24).sum(axis=1)
    month_end = np.cumsum(_DAYS_PER_MONTH)
    monthly = [float(m.mean()) for m in np.split(per_day, month_end[:-1])]
    return CoolingResult(
        cooling=cooling,
        site=site,
        pue_annual=float(pue_h.mean()),
        pue_min=float(pue_h.min()),
        pue_max=float(pue_h.max()),
        hottest_c=float(temp.max()),
        water_m3_per_day=float(per_day.mean()),
        water_m3_per_year=float(water_h.sum()),
        water_m3_per_day_peak_month=max(monthly),
        thermal_time_constant_s=cooling.thermal_time_constant_s,
    )


def lagged_facility_w(
    facility_w: np.ndarray, *, pue: float, resolution_s: float, time_constant_s: float
) -> np.ndarray:
    """Facility power with cooling following the heat load over ``time_constant_s``.

    IT = facility / pue; facility' = IT + (pue - 1) x causal moving average of IT over the
    window (padded before t=0 with the first value, steady state). MODEL: the first-order
    lag of the coolant loops is represented by a moving average of the same window; both
    keep the energy and remove the sub-window swing from the cooling power.
    """
    it = np.asarray(facility_w, dtype=float) / pue
    w = round(time_constant_s / resolution_s)
    if w <= 1 or pue == 1.0:
        return it * pue
    padded = np.concatenate((np.full(w, it[0]), it))
    csum = np.concatenate(([0.0], np.cumsum(padded)))
    avg = (csum[w + 1 : w + 1 + it.size] - csum[1 : it.size + 1]) / w
    return it + (pue - 1.0) * avg
