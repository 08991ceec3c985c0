"""Speed of the facility pipeline: one day of a 100,000-GPU cluster at 100 ms.

Times (best of N repeats) the power trace (864,000 bins, with sampled outages), one
grid + battery dispatch simulation with a fixed battery, and a full battery sizing
(doubling search + bisection). Target: trace + dispatch < 1 s.

    python benchmarks/grid_speed.py [--repeats 5] [--format text|json]
"""

from __future__ import annotations

import json
import time

import click
import numpy as np

from colossim.power import (
    StepPhases,
    battery_spec,
    cluster_power,
    grid_config,
    power_config,
    power_trace,
    sample_outages,
    simulate_grid,
    size_battery,
    trace_config,
)

TARGET_S = 1.0


def best_of(repeats: int, fn):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


@click.command()
@click.option("--repeats", default=5, show_default=True, help="timing repeats (best is kept)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--seed", default=1234, show_default=True)
def main(repeats: int, fmt: str, seed: int) -> None:
    power = cluster_power(
        power_config(gpu_id="h100-sxm-80gb", num_gpus=100_000, gpus_per_node=8),
        StepPhases(compute_s=5.1, communication_s=1.2, idle_s=0.73),
    )
    trace_cfg = trace_config(duration_s=86_400.0, resolution_s=0.1)
    outages = sample_outages(
        rate_per_hour=0.7,
        mean_duration_s=600.0,
        horizon_s=86_400.0,
        rng=np.random.default_rng(np.random.SeedSequence(seed)),
    )
    grid = grid_config(grid_limit_w=150e6, ramp_limit_w_per_s=2e6)
    battery = battery_spec("megapack-2xl-2h")

    t_trace, trace = best_of(repeats, lambda: power_trace(power, trace_cfg, outages=outages))
    t_grid, result = best_of(
        repeats,
        lambda: simulate_grid(
            trace.power_w, resolution_s=0.1, grid=grid, battery=battery, units=60
        ),
    )
    t_size, sizing = best_of(
        1,
        lambda: size_battery(trace.power_w, resolution_s=0.1, grid=grid, battery=battery),
    )
    figures = {
        "bins": int(trace.power_w.size),
        "outages": outages.count,
        "trace_s": t_trace,
        "dispatch_s": t_grid,
        "trace_plus_dispatch_s": t_trace + t_grid,
        "target_s": TARGET_S,
        "meets_target": t_trace + t_grid < TARGET_S,
        "dispatch_ok_with_60_units": result.ok,
        "sizing_s": t_size,
        "sizing_simulations": sizing.simulations,
        "sized_units": sizing.units,
        "sized_power_mw": sizing.power_w / 1e6,
        "sized_energy_mwh": sizing.energy_j / 3.6e9,
        "peak_swing_mw": power.peak_swing_w / 1e6,
        "facility_compute_mw": power.compute.facility_w / 1e6,
        "energy_mwh": trace.energy_j / 3.6e9,
    }
    if fmt == "json":
        click.echo(json.dumps(figures, indent=2))
        return
    click.echo(
        f"one day, 100,000 x H100, {figures['bins']:,} bins of 100 ms, {figures['outages']} outages"
    )
    click.echo(f"  power trace            {t_trace * 1e3:8.1f} ms")
    click.echo(f"  grid + battery (60 u)  {t_grid * 1e3:8.1f} ms")
    click.echo(
        f"  trace + dispatch       {(t_trace + t_grid) * 1e3:8.1f} ms "
        f"(target < {TARGET_S * 1e3:.0f} ms: {'ok' if figures['meets_target'] else 'MISSED'})"
    )
    click.echo(
        f"  battery sizing         {t_size * 1e3:8.1f} ms ({sizing.simulations} simulations)"
        f" -> {sizing.units} units, {figures['sized_power_mw']:.0f} MW / "
        f"{figures['sized_energy_mwh']:.0f} MWh"
    )
    click.echo(
        f"  facility power (compute phase) {figures['facility_compute_mw']:.1f} MW, "
        f"peak swing {figures['peak_swing_mw']:.1f} MW, "
        f"energy {figures['energy_mwh']:,.0f} MWh/day"
    )


if __name__ == "__main__":
    main()
