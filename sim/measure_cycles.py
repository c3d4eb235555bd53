"""Measure cycles per tick in simulation for several N, L and activity levels; print a Markdown table.

    python -m lifstp.sim.measure_cycles [--ticks 50] [--configs 64x1,64x2,64x4,4x4,256x4]

The cycle model it is compared with (docs/core.md): M * (1 + spikes) + CYCLE_OVERHEAD (10) with
M = N / L, i.e. N/L neuron updates + spikes*N/L synaptic events (L per cycle) + 10 cycles of fixed
overhead (START, the drains of the two pipelines, the empty DELIVER cycle, END).
"""

from __future__ import annotations

import argparse

import numpy as np

from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import CYCLE_OVERHEAD
from lifstp.sim.build import run_testbench


def measure(n: int, lanes: int, ticks: int) -> list[dict]:
    levels = sorted({0, 1, max(1, n // 16), max(1, n // 4), n})
    res = run_testbench(CoreConfig(n, lanes), {"spiking": levels, "ticks": ticks},
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
            "N": n, "L": lanes, "spikes/tick": spikes.mean(), "events/tick": events,
            "cycles/tick": cyc.mean(), "model": depth * (1 + spikes.mean()) + CYCLE_OVERHEAD,
            # delivery cycles = measured cycles minus the update phase (M) and the overhead
            "events/cycle/lane": (events / (cyc.mean() - depth - CYCLE_OVERHEAD) / lanes
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
        n, lanes = (int(x) for x in item.split("x"))
        rows += measure(n, lanes, args.ticks)
    print(f"| N | L | spikes/tick | synaptic events/tick | cycles/tick measured | model M(1+s)+{CYCLE_OVERHEAD} | "
          "events/cycle/lane in delivery |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        epc = "–" if np.isnan(r["events/cycle/lane"]) else f"{r['events/cycle/lane']:.2f}"
        print(f"| {r['N']} | {r['L']} | {r['spikes/tick']:.1f} | {r['events/tick']:.0f} | {r['cycles/tick']:.1f} | "
              f"{r['model']:.1f} | {epc} |")


if __name__ == "__main__":
    main()
