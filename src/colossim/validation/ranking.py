"""Ranking metrics over layout sweeps: does the model order the layouts of one sweep
(same model, GPUs, batch; only the layout differs) the way the measurements do?

Per sweep, over the rows the model predicts:

- pair order: the share of row pairs whose measured throughputs differ by more than
  ``PAIR_MIN_RATIO`` (10%) that the model orders the same way (pooled over sweeps);
- Spearman rank correlation of predicted vs measured throughput (sweeps of 3+ rows);
- top-1 regret: measured best / measured throughput of the layout the model ranks
  first, minus one (%).

Rows flagged as pathological (``FLAG: MFU < 1%`` in the notes) are left out of the three
figures and checked apart: a model should predict each of them slower than every
non-flagged layout of its sweep.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PAIR_MIN_RATIO", "RankedRow", "SweepRanking", "ranking", "spearman"]

# Pairs closer than this (max/min of the measured throughputs) are measurement noise
# for ordering purposes (issue #12: "pairs whose measured throughput differs by > 10%").
PAIR_MIN_RATIO = 1.10


@dataclass(frozen=True, slots=True, kw_only=True)
class RankedRow:
    """What ranking needs of one validation row."""

    sweep: str
    measured: float
    predicted: float
    flagged: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepRanking:
    """Ranking figures of one sweep (non-flagged rows)."""

    sweep: str
    rows: int
    pairs: int
    pairs_correct: int
    spearman: float | None
    top1_regret_pct: float | None
    flagged_rows: int
    flagged_slowest: int


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as Spearman's rho requires)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1, dtype=float)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson correlation of average ranks); ``None`` when
    either side is constant or has fewer than 3 values."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 3:
        return None
    rx, ry = _average_ranks(x), _average_ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def _sweep(name: str, rows: list[RankedRow]) -> SweepRanking:
    good = [r for r in rows if not r.flagged]
    bad = [r for r in rows if r.flagged]
    meas = np.array([r.measured for r in good])
    pred = np.array([r.predicted for r in good])
    i, j = np.triu_indices(len(good), k=1)
    far = np.maximum(meas[i], meas[j]) > PAIR_MIN_RATIO * np.minimum(meas[i], meas[j])
    same = np.sign(meas[i] - meas[j]) == np.sign(pred[i] - pred[j])
    regret = None
    if len(good) >= 2:
        regret = float((meas.max() / meas[int(np.argmax(pred))] - 1) * 100)
    slowest = sum(bool(len(good) and r.predicted < pred.min()) for r in bad)
    return SweepRanking(
        sweep=name,
        rows=len(good),
        pairs=int(far.sum()),
        pairs_correct=int((far & same).sum()),
        spearman=spearman(meas, pred),
        top1_regret_pct=regret,
        flagged_rows=len(bad),
        flagged_slowest=slowest,
    )


def ranking(rows: Sequence[RankedRow]) -> tuple[dict, dict, list[SweepRanking]]:
    """The summary (keys of issue #12), the flagged-row check and the per-sweep figures."""
    groups: dict[str, list[RankedRow]] = defaultdict(list)
    for r in rows:
        if r.sweep:
            groups[r.sweep].append(r)
    sweeps = [_sweep(k, v) for k, v in sorted(groups.items())]
    pairs = sum(s.pairs for s in sweeps)
    rho = [s.spearman for s in sweeps if s.spearman is not None]
    regret = [s.top1_regret_pct for s in sweeps if s.top1_regret_pct is not None]
    flagged = sum(s.flagged_rows for s in sweeps)
    summary = {
        "pair_order_acc": sum(s.pairs_correct for s in sweeps) / pairs if pairs else None,
        "spearman_median": float(np.median(rho)) if rho else None,
        "top1_regret_median_pct": float(np.median(regret)) if regret else None,
        "top1_regret_max_pct": float(np.max(regret)) if regret else None,
        "sweeps": len(sweeps),
    }
    extra = {
        "pairs": pairs,
        "flagged_rows": flagged,
        "flagged_slower_than_all_share": (
            sum(s.flagged_slowest for s in sweeps) / flagged if flagged else None
        ),
    }
    return summary, extra, sweeps
