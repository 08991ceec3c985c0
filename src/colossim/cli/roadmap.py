"""``colossim roadmap``: the cluster as it grows, phase by phase (scenario ``phases``)."""

from __future__ import annotations

import click

from colossim.cli.common import (
    FORMAT,
    SEED,
    SET,
    counted_progress,
    handle_errors,
    output,
    verbosity,
)

__all__ = ["COMMANDS", "roadmap"]


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=None,
    help="campaign trials per phase [default: bounded work per phase]",
)
@SEED
@verbosity
@handle_errors
def roadmap(
    scenario: str | None,
    fmt: str,
    overrides: tuple[str, ...],
    trials: int | None,
    seed: int | None,
) -> None:
    """The build-out of SCENARIO phase by phase (its `phases:`): GPUs, IT and facility
    power, capex spent so far, fabric, and days to train the workload on the cluster as
    it stands (with failures)."""
    from colossim.pipeline.roadmap import roadmap as build_out
    from colossim.report.roadmap import roadmap_table, roadmap_to_json
    from colossim.scenario.load import load_scenario

    loaded = load_scenario(scenario, overrides=list(overrides))
    root = click.get_current_context().find_root()
    root.obj = {**(root.obj or {}), "loaded": loaded}
    sc = loaded.scenario
    with counted_progress(len(sc.phases or ()), "phases") as bar:
        seen: list[str] = []

        def started(name: str) -> None:
            if seen:
                bar.advance()
            seen.append(name)
            bar.stage(name)

        phases = build_out(loaded, trials=trials, seed=seed, on_phase=started)
    warnings = [f"{ph.name}: {w}" for ph in phases for w in ph.warnings]
    output(
        fmt,
        roadmap_to_json(sc.name, phases),
        [roadmap_table(sc.name, phases)],
        warnings=warnings,
    )


COMMANDS = [roadmap]
