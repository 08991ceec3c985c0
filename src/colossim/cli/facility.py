"""``colossim facility``: the physical facility of a scenario -- grid rules and the battery
that meets them, mitigations, cooling and water, racks and floor space, and the capex."""

from __future__ import annotations

import click

from colossim.cli.common import (
    FORMAT,
    SET,
    handle_errors,
    output,
    progress,
    run,
    searched,
    verbosity,
)

__all__ = ["COMMANDS", "facility"]


@click.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@FORMAT
@SET
@verbosity
@handle_errors
def facility(scenario: str | None, fmt: str, overrides: tuple[str, ...]) -> None:
    """Grid rules, battery, mitigations, cooling/water, racks and capex of SCENARIO."""
    from rich.table import Table

    from colossim.report.power import facility_tables, facility_to_json

    r = searched(run(scenario, overrides))
    with progress("simulating failures, power trace, grid and battery"):
        fac = r.facility
        cost = r.cost
    payload = facility_to_json(fac)
    payload["battery"] = None if fac.battery is None else fac.battery.id
    payload["battery_units"] = fac.battery_units
    payload["capex_usd"] = cost.capex_usd
    payload["capex_breakdown_usd"] = {
        i.name: i.capex_usd for i in cost.breakdown if i.lifetime_years > 0
    }
    capex = Table(title="Capex")
    capex.add_column("item")
    capex.add_column("$M", justify="right")
    for name, usd in payload["capex_breakdown_usd"].items():
        capex.add_row(name, f"{usd / 1e6:,.0f}")
    capex.add_row("total", f"{cost.capex_usd / 1e6:,.0f}")
    output(fmt, payload, [*facility_tables(fac), capex], warnings=r.warnings())


COMMANDS = [facility]
