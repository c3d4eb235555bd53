"""`lifstp bench verilator`: how fast the compiled Verilator harness simulates the device.

The benchmark network (bench/network.py) is loaded into a device of N neurons (default 256) and run;
the harness counts the core clock cycles it simulated while the device was busy and the wall time
they took. The golden model runs the same network in the same script for the ratio.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.network import Network

from .network import BenchNetwork


def run_verilator_bench(n_neurons: int = 256, lanes: int = 1, duration_ms: float = 100.0, out=sys.stdout) -> int:
    from lifstp.device import VerilatorDevice

    bench = BenchNetwork(n_neurons, duration_ms=duration_ms)
    net = Network(bench.params(), np.full(n_neurons, bench.e_l_mv), bench.weights_pa())
    n_ticks = int(round(duration_ms / bench.params().dt_ms))
    device = VerilatorDevice(lanes=lanes, log=lambda m: print(f"  ({m})", file=out, flush=True))
    t0 = time.perf_counter()
    run = device.run(net, n_ticks, seed=bench.seed)
    wall = time.perf_counter() - t0
    stats = device.last_stats
    cps = stats["busy_cycles"] / stats["busy_seconds"]
    core = GoldenCore.from_physical(bench.params(), net.e_l_mv, net.weights_pa, seed=bench.seed)
    core.run(1)
    core.reset(bench.seed)
    t1 = time.perf_counter()
    ticks, _ = core.run(n_ticks)
    golden_wall = time.perf_counter() - t1
    same = len(ticks) == len(run.spike_tick) and np.array_equal(ticks, run.spike_tick)
    print(f"N = {n_neurons}, L = {lanes}, {n_ticks} ticks ({duration_ms:g} ms of model time), "
          f"{len(run.spike_tick)} spikes, spikes equal to the golden model: {same}", file=out)
    print(f"  verilator: {stats['busy_cycles']:.0f} core cycles in {stats['busy_seconds']:.2f} s busy "
          f"({wall:.1f} s with loading and start-up): {cps:.3e} cycles/s, "
          f"{stats['busy_cycles'] / n_ticks:.0f} cycles/tick, {n_ticks / stats['busy_seconds']:.0f} ticks/s", file=out)
    print(f"  golden:    {golden_wall:.4f} s, {n_ticks / golden_wall:.0f} ticks/s "
          f"({stats['busy_seconds'] / golden_wall:.0f}x faster than the simulated RTL)", file=out)
    print(f"verilator: cycles_per_s={cps:.3e} N={n_neurons} lanes={lanes} ticks_per_s={n_ticks / stats['busy_seconds']:.0f}",
          file=out)
    return 0 if same else 1
