"""Report sections of a mixed cluster (its partitions) and of a build-out (its phases)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from colossim.report.html import Section, _p, _table
from colossim.report.partitions import partitions_to_json
from colossim.report.roadmap import roadmap_figures, roadmap_rows

if TYPE_CHECKING:
    from colossim.pipeline import ScenarioResults

__all__ = ["build_out_sections"]


def build_out_sections(main: ScenarioResults, phases: list | None) -> list[Section]:
    """The partitions of a mixed cluster and the build-out phases (``phases``: the
    roadmap's results, None when the scenario has none)."""
    out = []
    if main.partitioned:
        data = partitions_to_json(main)
        rows = [
            [
                p["name"],
                p["gpu"],
                f"{p['num_gpus']:,}",
                f"{p['utilisation']:.1%}",
                f"{p['mfu']:.1%}",
                f"{p['separate_job']['days_to_train']:,.1f}",
            ]
            for p in data["partitions"]
        ]
        cmp_ = data["spanning_vs_separate"]
        out.append(
            Section(
                id="partitions",
                title="Partitions",
                blocks=[
                    _p(
                        f"One job {'spans the partitions' if data['partition_job'] == 'spanning' else 'runs per partition'}. "
                        "In a spanning job every rank runs the same plan in lock step: the "
                        "step is paced by the slowest partition and the plan must fit the "
                        "smallest GPU memory; utilisation is a partition's own step over the "
                        f"paced step. Separate jobs would reach {cmp_['separate_over_spanning']:.2f}x "
                        "the spanning job's tokens/s in total."
                    ),
                    _table(
                        ["partition", "GPU", "GPUs", "utilisation", "MFU", "own job: days"], rows
                    ),
                ],
            )
        )
    if phases:
        headers, rows = roadmap_rows(phases)
        out.append(
            Section(
                id="roadmap",
                title="Build-out",
                blocks=[
                    _p(
                        "The cluster as it stands after each phase, run through the whole "
                        "pipeline: capacity, power against the supply, capex spent so far "
                        "and the days to train the workload."
                    ),
                    _table(headers, rows),
                ],
                figures=roadmap_figures(phases),
            )
        )
    return out
