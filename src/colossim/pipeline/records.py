"""Records the pipeline adds to the core's results."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from colossim.power import Outages, outages_from_arrays

__all__ = ["TraceEvents", "WithFailures", "outages_in"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WithFailures:
    """Days to train once failures and recovery are counted.

    Attributes:
        days: median wall-clock days to train.
        days_p10, days_p90: spread across Monte Carlo trials (equal to ``days`` when
            derived from a window's goodput).
        goodput: useful share of the wall clock.
        basis: ``"simulated to the end"`` or ``"goodput over a simulated window"`` (a
            window campaign, e.g. Llama 3's 54-day snapshot, does not run to the end).
    """

    days: float
    days_p10: float
    days_p90: float
    goodput: float
    basis: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEvents:
    """Campaign events inside the power trace.

    Attributes:
        outages: job outages (None: no campaign).
        checkpoint_interval_s: period of the synchronous checkpoint stalls, s (None: none).
        checkpoint_stall_s: length of each stall, s.
    """

    outages: Outages | None
    checkpoint_interval_s: float | None
    checkpoint_stall_s: float | None


def outages_in(outages_s: np.ndarray, horizon_s: float) -> Outages:
    """The campaign's (n, 2) [start, back up) outages that fall inside a power trace of
    ``horizon_s`` seconds, clipped to it."""
    inside = outages_s[outages_s[:, 0] < horizon_s] if len(outages_s) else outages_s
    if not len(inside):
        return outages_from_arrays(np.empty(0), np.empty(0))
    end = np.minimum(inside[:, 1], horizon_s)
    return outages_from_arrays(inside[:, 0], end - inside[:, 0])
