"""`lifstp bench golden`: the golden model against NEST and Brian2 on the same network.

For each size N the golden model runs the benchmark network (bench/network.py) for the same model
time as each peer, on one thread; the line per run gives synaptic events/s, neuron updates/s and the
wall time. The ratio compares wall times of the same simulation (peer wall / golden wall: > 1 means
the golden model is faster), since the peers' noise differs and their spike counts differ a little.
The last line is `golden: ratio_vs_best_peer=<x> ...` at the largest N.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from lifstp.golden_model.fixed import GoldenCore

from .network import BenchNetwork
from .peer_envs import PEERS, PeerUnavailable, run_peer


def run_golden(bench: BenchNetwork, repeats: int = 3) -> dict:
    """Best of `repeats` timed runs (compilation excluded by a short warm-up run)."""
    n_ticks = int(round(bench.duration_ms / bench.params().dt_ms))
    best, spikes = float("inf"), 0
    for _ in range(repeats):
        core = GoldenCore.from_physical(bench.params(), np.full(bench.n, bench.e_l_mv), bench.weights_pa(),
                                        seed=bench.seed)
        core.run(1)
        core.reset(bench.seed)
        t0 = time.perf_counter()
        ticks, _ = core.run(n_ticks)
        best = min(best, time.perf_counter() - t0)
        spikes = len(ticks)
    return {"simulator": "golden", "n_neurons": bench.n, "wall_s": best, "n_spikes": spikes,
            "n_syn_events": spikes * (bench.n - 1), "n_updates": bench.n * n_ticks}


def _line(r: dict, n_ticks: int) -> str:
    ev = r["n_syn_events"] / r["wall_s"]
    upd = r["n_neurons"] * n_ticks / r["wall_s"]
    rate = r["n_spikes"] / r["n_neurons"] / (n_ticks * 1e-4)
    mode = f" ({r['mode']})" if r.get("mode") else ""
    return (f"  {r['simulator']:>7}{mode:<18} wall {r['wall_s']:8.3f} s  {ev:10.3e} syn events/s  "
            f"{upd:10.3e} neuron updates/s  {rate:5.1f} Hz")


def run_bench(target: str, sizes=(100, 500, 1000), duration_ms: float = 1000.0, peers=("nest", "brian2"),
              out=sys.stdout) -> int:
    """Print the comparison; returns the exit code."""
    if target != "golden":
        print(f"unknown benchmark target {target!r}", file=sys.stderr)
        return 2
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        print(f"unknown peer(s) {unknown}; known: {sorted(PEERS)}", file=sys.stderr)
        return 2
    skipped: dict[str, str] = {}
    summary = None
    for n in sizes:
        bench = BenchNetwork(n, duration_ms=duration_ms)
        n_ticks = int(round(duration_ms / bench.params().dt_ms))
        print(f"N = {n}, {duration_ms:g} ms of model time, dense weights, renewing synapses, one thread", file=out)
        golden = run_golden(bench)
        print(_line(golden, n_ticks), file=out, flush=True)
        peer_results = []
        for name in peers:
            if name in skipped:
                continue
            try:
                r = run_peer(name, bench.peer_args(), log=lambda m: print(f"  ({m})", file=out, flush=True))
            except PeerUnavailable as exc:
                skipped[name] = str(exc)
                print(f"  skipping {name}: {exc}", file=out, flush=True)
                continue
            peer_results.append(r)
            print(_line(r, n_ticks) + f"   golden is {r['wall_s'] / golden['wall_s']:.1f}x faster", file=out,
                  flush=True)
        if peer_results:
            best = min(peer_results, key=lambda r: r["wall_s"])
            summary = (f"golden: ratio_vs_best_peer={best['wall_s'] / golden['wall_s']:.2f} best_peer={best['simulator']} "
                       f"N={n} golden_syn_events_per_s={golden['n_syn_events'] / golden['wall_s']:.3e} "
                       f"golden_neuron_updates_per_s={golden['n_updates'] / golden['wall_s']:.3e}")
        else:
            summary = (f"golden: ratio_vs_best_peer=nan (no peer ran) N={n} "
                       f"golden_syn_events_per_s={golden['n_syn_events'] / golden['wall_s']:.3e}")
    print(summary, file=out)
    return 0
