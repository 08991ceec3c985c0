"""Predictions against published, measured training runs.

Reads a CSV with the schema of ``shared/validation/README.md``, predicts
``measured_tokens_per_s_per_gpu`` for every row it can (blank plan fields are filled by
the same search ``colossim plan`` uses), and summarises the errors. A row that cannot be
predicted is kept, with its reason.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from colossim.errors import InputError, InputErrors
from colossim.parallel.memory import memory_breakdown
from colossim.parallel.plan import Plan, PlanBatch, Recompute, Sharding
from colossim.perf.estimate import Context, context
from colossim.search import SearchSpace, candidate_values, enumerate_plans, plan_search
from colossim.validation.prepare import (
    FLAG_MARK,
    TRUE_WORDS,
    PreparedRow,
    Scored,
    _int,
    _mtp_layers,
    prepare_row,
    score_rows,
)
from colossim.validation.ranking import RankedRow, SweepRanking, ranking
from colossim.workload.model import TransformerSpec
from colossim.workload.stack import (
    Efficiency,
    StackProfile,
    default_memory_headroom,
    efficiency,
)

__all__ = [
    "FULL_LAYOUT_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowResult",
    "SearchCheck",
    "ValidationReport",
    "BUNDLED",
    "bundled_path",
    "read_runs",
    "validate_rows",
]

REQUIRED_COLUMNS = (
    "id", "arch", "layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len",
    "gated_mlp", "experts", "top_k", "moe_ffn_hidden", "shared_experts", "dense_layers", "mla",
    "framework", "gpu", "num_gpus", "precision", "tp", "pp", "dp", "cp", "ep", "vp", "sharding",
    "micro_batch", "global_batch", "recompute", "measured_tokens_per_s_per_gpu",
)  # fmt: skip
OPTIONAL_COLUMNS = (
    "source", "params_b", "result_type", "fp8_recipe", "tp_comm_overlap", "moe_imbalance",
    "mtp_layers", "pipeline_schedule",
)  # fmt: skip

# DeepSeek-V3 MLA dimensions (DeepSeek-V3 report sec. 4.2); the CSV flags MLA with a bool.
DEEPSEEK_MLA = {
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
}
# A row publishes its full parallel layout when all of these are given; vp, recompute and
# sharding, where blank, are chosen by the row's own search (as for the prediction).
FULL_LAYOUT_COLUMNS = ("tp", "pp", "dp", "cp", "ep", "micro_batch", "global_batch")
# Relative slack for "the searched best is at least as fast as the published plan".
SEARCH_GE_RTOL = 1e-9
PARALLEL_DIMS = ("tp", "pp", "dp", "cp", "ep")


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchCheck:
    """The plan search run over a full-layout row's space (same GPUs, model, batch,
    stack), against the published plan.

    Attributes:
        published_plan: the published layout (blank vp / recompute / sharding filled by
            the row's own search), as ``Plan.as_dict``.
        searched_plan: the best plan of the whole space.
        published_tokens_per_s_per_gpu: predicted throughput of the published plan.
        searched_tokens_per_s_per_gpu: predicted throughput of the searched best.
        parallel_dims_match: same tp, pp, dp, cp and ep.
        exact_match: also the same micro-batch and, where the row gives them, vp,
            recompute and sharding.
        inside_space: the published plan is one of the searched candidates (so the
            searched best cannot be slower).
        widened: dimensions whose default candidate values lacked the published value
            (the space was widened to include it).
        fits: the published plan fits in memory (if not, both sides ignore memory).
        published_memory_bytes, searched_memory_bytes: predicted memory per GPU of
            each plan (its most loaded stage).
        memory_headroom: share of HBM the search kept free: the tool's default, or
            what the published plan leaves where that is less; memory_limit_bytes: the
            memory per GPU that leaves.
    """

    published_plan: dict
    searched_plan: dict
    published_tokens_per_s_per_gpu: float
    searched_tokens_per_s_per_gpu: float
    parallel_dims_match: bool
    exact_match: bool
    inside_space: bool
    widened: tuple[str, ...]
    fits: bool
    published_memory_bytes: float = 0.0
    searched_memory_bytes: float = 0.0
    memory_headroom: float = 0.0
    memory_limit_bytes: float = 0.0

    @property
    def searched_ge_published(self) -> bool:
        return self.searched_tokens_per_s_per_gpu >= self.published_tokens_per_s_per_gpu * (
            1 - SEARCH_GE_RTOL
        )

    @property
    def gain_pct(self) -> float:
        """How much faster the searched best is predicted to be (%)."""
        return (self.searched_tokens_per_s_per_gpu / self.published_tokens_per_s_per_gpu - 1) * 100


@dataclass(frozen=True, slots=True, kw_only=True)
class RowResult:
    id: str
    gpu: str
    framework: str
    source: str
    measured: float | None
    predicted: float | None
    sweep: str = ""
    flagged: bool = False
    reason: str = ""
    plan: dict = field(default_factory=dict)
    searched: bool = False
    fits: bool = True
    fill_spread_pct: float = 0.0
    search_check: SearchCheck | None = None

    @property
    def ape_pct(self) -> float | None:
        if self.predicted is None or not self.measured:
            return None
        return abs(self.predicted - self.measured) / self.measured * 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    rows: list[RowResult]
    search_checked: bool = False

    def summary(self, rows: list[RowResult] | None = None) -> dict:
        """Error figures over the rows not flagged as pathological (``flagged`` counts
        the others; :meth:`ranking` checks them)."""
        rows = self.rows if rows is None else rows
        flagged = sum(r.flagged for r in rows)
        rows = [r for r in rows if not r.flagged]
        apes = np.array([r.ape_pct for r in rows if r.ape_pct is not None])
        pred = len(apes)
        signed = np.array(
            [(r.predicted / r.measured - 1) * 100 for r in rows if r.ape_pct is not None]
        )
        return {
            "rows": len(rows),
            "predicted": pred,
            "flagged": flagged,
            "median_signed_error_pct": float(np.median(signed)) if pred else None,
            "mape_pct": float(apes.mean()) if pred else None,
            "median_ape_pct": float(np.median(apes)) if pred else None,
            "within_10pct": float((apes <= 10).mean()) if pred else None,
            "within_25pct": float((apes <= 25).mean()) if pred else None,
        }

    def search_match(self) -> dict | None:
        """Searched best vs published plan over the full-layout rows (None if the report
        was made without ``search_check``). Counts: ``rows`` checked, ``exact`` and
        ``parallel_dims`` matches, ``searched_ge_published`` (must equal ``rows`` when
        ``outside_space`` is 0), ``outside_space``, ``widened`` (rows whose published
        values lay outside the default ranges), ``not_fitting`` (published plan over
        the memory model; compared without memory limits)."""
        checks = [r.search_check for r in self.rows if r.search_check is not None]
        if not self.search_checked:
            return None
        gains = np.array([c.gain_pct for c in checks])
        return {
            "rows": len(checks),
            "exact": sum(c.exact_match for c in checks),
            "parallel_dims": sum(c.parallel_dims_match for c in checks),
            "searched_ge_published": sum(c.searched_ge_published for c in checks),
            "outside_space": sum(not c.inside_space for c in checks),
            "widened": sum(bool(c.widened) for c in checks),
            "not_fitting": sum(not c.fits for c in checks),
            "median_gain_pct": float(np.median(gains)) if len(gains) else None,
            "max_gain_pct": float(gains.max()) if len(gains) else None,
        }

    def ranking(self) -> tuple[dict, dict, list[SweepRanking]] | None:
        """Ranking figures over the rows with a ``sweep`` (None when there are none):
        the issue #12 summary, the flagged-row check and the per-sweep figures
        (:mod:`colossim.validation.ranking`)."""
        ranked = [
            RankedRow(sweep=r.sweep, measured=r.measured, predicted=r.predicted, flagged=r.flagged)
            for r in self.rows
            if r.sweep and r.predicted is not None and r.measured
        ]
        return ranking(ranked) if ranked else None

    def breakdown(self, key: str) -> dict[str, dict]:
        groups: dict[str, list[RowResult]] = defaultdict(list)
        for r in self.rows:
            groups[getattr(r, key)].append(r)
        return {k: self.summary(v) for k, v in sorted(groups.items())}


# The measured runs shipped with the package (validation/data/README.md describes them).
BUNDLED = {
    "published_runs": "published_runs.csv",
    "layout_sweeps": "layout_sweeps.csv",
}


def bundled_path(name: str) -> Path:
    """Path of a bundled validation file (``published_runs`` or ``layout_sweeps``)."""
    from importlib import resources

    return Path(str(resources.files("colossim.validation") / "data" / BUNDLED[name]))


def read_runs(path: str | Path) -> list[dict[str, str]]:
    """Read and check the header of a validation CSV (InputError if malformed).

    ``path`` is a file, or the name of a bundled file (:data:`BUNDLED`)."""
    p = bundled_path(str(path)) if str(path) in BUNDLED else Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of "id"
    except FileNotFoundError:
        raise InputError(
            "FILE", "file not found", value=str(path), fix="give the path of a CSV file"
        ) from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(
            "FILE", f"cannot read as UTF-8 text ({exc.__class__.__name__})", value=str(path)
        ) from None
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as exc:
        raise InputError(f"{path}", f"malformed CSV: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            f"{path}:1",
            f"missing column(s) {', '.join(missing)}",
            fix="use the columns of the bundled published_runs.csv (see `colossim validate --help`)",
        )
    for i, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"{path}:{i}", "row has a different number of fields than the header")
    problems = [e for i, row in enumerate(rows, start=2) for e in _bad_numbers(row, f"{path}:{i}")]
    if problems:
        raise InputErrors(problems, what=str(path))
    return rows


# Columns that hold counts (integers) and the ones that may be zero.
_INT_COLUMNS = (
    "layers", "hidden", "heads", "kv_heads", "ffn_hidden", "vocab", "seq_len", "experts",
    "top_k", "moe_ffn_hidden", "shared_experts", "dense_layers", "num_gpus", "tp", "pp",
    "dp", "cp", "ep", "vp", "micro_batch", "global_batch",
)  # fmt: skip
_MAY_BE_ZERO = (
    "ffn_hidden",
    "experts",
    "top_k",
    "moe_ffn_hidden",
    "shared_experts",
    "dense_layers",
)
# Far above any model or cluster: a larger count is a typo (and would overflow the model).
_MAX_COUNT = 2**40


def _bad_numbers(row: dict, where: str) -> list[InputError]:
    """Every unreadable number of a row, each naming its column and line. A well-formed
    row the model cannot predict (unknown GPU, ...) is not an error here: it is counted
    with its reason."""
    out = []
    for col in (*_INT_COLUMNS, "measured_tokens_per_s_per_gpu"):
        raw = (row.get(col) or "").strip()
        if not raw:
            continue
        try:
            x = float(raw)
        except ValueError:
            out.append(InputError(f"{where}: column {col}", "not a number", value=raw))
            continue
        lowest = 0 if col in _MAY_BE_ZERO else 1
        if col == "measured_tokens_per_s_per_gpu":
            ok, rule = math.isfinite(x) and x > 0, "must be a finite number > 0"
        else:
            ok = math.isfinite(x) and x == int(x) and lowest <= x <= _MAX_COUNT
            rule = f"must be an integer from {lowest} to {_MAX_COUNT:,}"
        if not ok:
            out.append(InputError(f"{where}: column {col}", rule, value=raw))
    return out


def _bool(row: dict, col: str) -> bool:
    return (row.get(col) or "").strip().lower() in TRUE_WORDS


def row_model(row: dict) -> TransformerSpec:
    from colossim.workload.model import MLA

    heads = _int(row, "heads", required=True)
    moe = (row.get("arch") or "").strip() == "moe"
    mtp = _mtp_layers(row)
    return TransformerSpec(
        name=row.get("model") or row["id"],
        layers=_int(row, "layers", required=True),
        hidden=_int(row, "hidden", required=True),
        heads=heads,
        kv_heads=_int(row, "kv_heads") or heads,
        head_dim=_int(row, "hidden", required=True) // heads,
        ffn_hidden=_int(row, "ffn_hidden") or 0,
        gated_mlp=_bool(row, "gated_mlp"),
        vocab=_int(row, "vocab", required=True),
        experts=(_int(row, "experts") or 0) if moe else 0,
        top_k=(_int(row, "top_k") or 0) if moe else 0,
        moe_ffn_hidden=(_int(row, "moe_ffn_hidden") or 0) if moe else 0,
        shared_experts=(_int(row, "shared_experts") or 0) if moe else 0,
        dense_layers=(_int(row, "dense_layers") or 0) if moe else 0,
        mla=MLA(**DEEPSEEK_MLA) if _bool(row, "mla") else None,
        mtp_layers=mtp,  # optional column
    )


def _meta(row: dict) -> dict:
    return {
        "id": row.get("id", ""),
        "gpu": row.get("gpu", ""),
        "framework": row.get("framework", ""),
        "source": (row.get("source") or "").split(",")[0],
        "sweep": (row.get("sweep") or "").strip(),
        "flagged": FLAG_MARK in (row.get("notes") or ""),
    }


def _measured(row: dict) -> float | None:
    try:
        raw = (row.get("measured_tokens_per_s_per_gpu") or "").strip()
        return float(raw) if raw else None
    except ValueError:
        return None


def _prepare(row: dict, eff: Efficiency) -> PreparedRow | str:
    """The prepared row, or the reason it cannot be predicted."""
    try:
        prep = prepare_row(row, eff)
        # A precision the row's GPU lacks (fp8 on an A100) is this row's problem: its
        # reason, not an error that ends the whole run.
        prep.cluster.gpu.peak(prep.training.precision)
        return prep
    except InputError as exc:
        return exc.message()
    except (ValueError, KeyError) as exc:
        msg = str(exc)
        return msg if msg.startswith("no valid plan") else f"bad value: {exc}"


def predict_row(
    row: dict,
    eff: Efficiency,
    stacks: dict[str, StackProfile] | None = None,
    *,
    search_check: bool = False,
) -> RowResult:
    """Predict one CSV row; with ``search_check``, also run the plan search over a
    full-layout row's whole space (see :class:`SearchCheck`)."""
    return validate_rows([row], eff=eff, stacks=stacks, search_check=search_check).rows[0]


def _result(
    row: dict,
    prep: PreparedRow | str,
    scored: Scored | None,
    eff: Efficiency,
    stacks: dict[str, StackProfile] | None,
    search_check: bool,
) -> RowResult:
    meta, measured = _meta(row), _measured(row)
    if isinstance(prep, str) or scored is None:
        return RowResult(**meta, measured=measured, predicted=None, reason=str(prep))
    plan = prep.plans.plan(scored.index)
    check = None
    if search_check and all(_int(row, c) is not None for c in FULL_LAYOUT_COLUMNS):
        stack = (stacks or {}).get(prep.training.framework)
        ctx = context(prep.model, prep.training, prep.cluster, eff=eff, stack=stack)
        check = _search_check(
            ctx, plan, scored.tokens_per_s_per_gpu, fits=scored.fits, given=prep.given
        )
    return RowResult(
        **meta,
        measured=measured,
        predicted=scored.tokens_per_s_per_gpu,
        reason="" if scored.fits else "memory model says the published plan does not fit",
        plan=plan.as_dict(),
        searched=prep.searched,
        fits=scored.fits,
        fill_spread_pct=scored.fill_spread_pct,
        search_check=check,
    )


def _search_check(
    ctx: Context, ref: Plan, ref_tps_gpu: float, *, fits: bool, given: dict
) -> SearchCheck:
    """Search the row's whole space (default candidate values, widened by the published
    ones) and compare its best plan with the published plan ``ref``."""
    from colossim.search import stack_space

    # The stack's own space (dimensions it cannot run stay at 1), widened below by the
    # published values.
    vals = candidate_values(
        ctx.model, ctx.training, ctx.cluster, stack_space(SearchSpace(), ctx.stack)
    )
    published = {
        "tp": ref.tp,
        "pp": ref.pp,
        "cp": ref.cp,
        "ep": ref.ep,
        "vp": ref.vp,
        "micro_batch": ref.micro_batch,
    }
    widened = tuple(k for k, v in published.items() if v not in getattr(vals, k))
    dims = {k: tuple(sorted({*getattr(vals, k), v})) for k, v in published.items()}
    # Recompute and sharding: the stack's modes plus the published one.
    modes = {Sharding[m.upper()] for m in ctx.stack.sharding} | {Sharding(ref.sharding)}
    dims["sharding"] = tuple(sorted(modes))
    rc = {Recompute[m.upper()] for m in ctx.stack.recompute_modes} | {Recompute(ref.recompute)}
    dims["recompute"] = tuple(sorted(rc))
    # The search keeps free the margin of HBM the tool's own searches keep (`colossim
    # plan` without a scenario setting), or less where the published layout itself runs
    # closer to full: it may use as much memory as the team did, never more.
    target = PlanBatch.from_plans([ref])
    ref_mem = memory_breakdown(ctx.model, ctx.training, target, ctx.stack, ctx.eff).total[0]
    ref_free = 1.0 - float(ref_mem) / ctx.cluster.gpu.hbm_bytes
    headroom = min(default_memory_headroom(), max(ref_free - 1e-9, 0.0))  # ref stays in
    wide = SearchSpace(**dims, batch_tolerance=0.0, allow_idle=False, memory_headroom=headroom)
    # Membership: the candidates of the wide space with the published degrees (the
    # enumeration decides per degree combination, so this is a slice of the wide set).
    one = {k: (published[k],) for k in PARALLEL_DIMS if k != "dp"}
    mine = enumerate_plans(
        ctx.model,
        ctx.training,
        ctx.cluster,
        SearchSpace(**{**dims, **one}, batch_tolerance=0.0, allow_idle=False),
    )
    inside = bool(
        np.any(
            np.logical_and.reduce([getattr(mine, f) == getattr(target, f)[0] for f in _PLAN_FIELDS])
        )
    )
    res = plan_search(ctx, wide, ignore_memory=not fits)
    if res.feasible is None:
        searched_plan, searched_tps, searched_mem = {}, 0.0, 0.0
    else:
        searched_plan = res.feasible.plans.plan(0).as_dict()
        searched_tps = float(res.feasible.tokens_per_s_per_gpu[0])
        searched_mem = float(res.feasible.memory.total[0])
    pub = ref.as_dict()
    same_dims = bool(searched_plan) and all(searched_plan[k] == pub[k] for k in PARALLEL_DIMS)
    compared = ("micro_batch", *(k for k, g in given.items() if g))
    return SearchCheck(
        published_plan=pub,
        searched_plan=searched_plan,
        published_tokens_per_s_per_gpu=ref_tps_gpu,
        searched_tokens_per_s_per_gpu=searched_tps,
        parallel_dims_match=same_dims,
        exact_match=same_dims and all(searched_plan[k] == pub[k] for k in compared),
        inside_space=inside,
        widened=widened,
        fits=fits,
        published_memory_bytes=float(ref_mem),
        searched_memory_bytes=searched_mem,
        memory_headroom=headroom,
        memory_limit_bytes=(1 - headroom) * ctx.cluster.gpu.hbm_bytes,
    )


# Every field of a plan, in PlanBatch order.
_PLAN_FIELDS = tuple(f.name for f in dataclasses.fields(PlanBatch))


def validate_rows(
    rows: list[dict[str, str]],
    *,
    eff: Efficiency | None = None,
    stacks: dict[str, StackProfile] | None = None,
    search_check: bool = False,
) -> ValidationReport:
    """Predict every row. ``eff`` and ``stacks`` override the catalog constants (used by
    scripts/calibrate.py); by default the shipped calibration applies. ``search_check``
    also searches each full-layout row's whole space and compares the best plan with
    the published one (``ValidationReport.search_match``; about a second more)."""
    eff = eff or efficiency()
    prepared = [_prepare(r, eff) for r in rows]
    ready = [p for p in prepared if not isinstance(p, str)]
    scored = iter(score_rows(ready, eff, stacks))
    results = [
        _result(r, p, None if isinstance(p, str) else next(scored), eff, stacks, search_check)
        for r, p in zip(rows, prepared, strict=True)
    ]
    return ValidationReport(rows=results, search_checked=search_check)
