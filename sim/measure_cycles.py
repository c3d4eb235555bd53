"""Measure cycles per tick in simulation for several N, L and activity levels; print a Markdown table.

    python -m lifstp.sim.measure_cycles [--ticks 50] [--configs 64x1,64x2,64x4,4x4,256x4,64x1s]

A configuration NxL measures the full-throughput core, NxLs the core with one shared multiplier per
lane (`CoreConfig.shared_multiplier`). The cycle model it is compared with (docs/core.md,
`rtl/core.py: cycles_per_tick`): M * (1 + spikes) + CYCLE_OVERHEAD (8) with M = N / L, i.e. N/L
neuron updates + spikes*N/L synaptic events (L per cycle) + 8 cycles of fixed overhead (the tick's
first, the update pipeline's drain, the empty DELIVER cycle, END); with the shared multiplier an update
takes 7 cycles.
"""

from __future__ import annotations

import argparse

import numpy as np

from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import CYCLE_OVERHEAD, cycles_per_tick
from lifstp.sim.build import run_testbench


def measure(n: int, lanes: int, ticks: int, shared: bool = False) -> list[dict]:
    levels = sorted({0, 1, max(1, n // 16), max(1, n // 4), n})
    cfg = CoreConfig(n, lanes, shared_multiplier=shared)
    res = run_testbench(cfg, {"spiking": levels, "ticks": ticks},
                        test_module="lifstp.sim.tb_cycles")
    if res["cocotb_failures"]:
        raise SystemExit(f"cycle testbench failed for N={n}, L={lanes}")
    rows = []
    depth = n // lanes
    for level in res["levels"]:
        spikes = np.array([s for s, _ in level["ticks"]], dtype=float)
        cyc = np.array([c for _, c in level["ticks"]], dtype=float)
        events = spikes.mean() * n
        rows.append({
            "N": n, "L": f"{lanes}{' shared' if shared else ''}", "spikes/tick": spikes.mean(),
            "events/tick": events, "cycles/tick": cyc.mean(),
            "model": cycles_per_tick(cfg, 0) + depth * spikes.mean(),
            # delivery cycles = measured cycles minus those of a tick without spikes
            "events/cycle/lane": (events / (cyc.mean() - cycles_per_tick(cfg, 0)) / lanes
                                  if spikes.mean() else float("nan")),
        })
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=50)
    ap.add_argument("--configs", default="64x1,64x2,64x4,4x4,256x4")
    args = ap.parse_args(argv)
    rows = []
    for item in args.configs.split(","):
        shared = item.endswith("s")
        n, lanes = (int(x) for x in item.rstrip("s").split("x"))
        rows += measure(n, lanes, args.ticks, shared)
    print(f"| N | L | spikes/tick | synaptic events/tick | cycles/tick measured | model (cycles_per_tick) | "
          "events/cycle/lane in delivery |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        epc = "–" if np.isnan(r["events/cycle/lane"]) else f"{r['events/cycle/lane']:.2f}"
        print(f"| {r['N']} | {r['L']} | {r['spikes/tick']:.1f} | {r['events/tick']:.0f} | {r['cycles/tick']:.1f} | "
              f"{r['model']:.1f} | {epc} |")


if __name__ == "__main__":
    main()
