"""Records the pipeline adds to the core's results."""

from __future__ import annotations

from dataclasses import dataclass

from colossim.power import Outages

__all__ = ["TraceEvents", "WithFailures"]


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
