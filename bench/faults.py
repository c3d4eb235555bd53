"""`python -m lifstp.bench.faults`: what the host survives on a damaged wire (docs/protocol.md, "Faults on
the wire").

The same network runs on a device reached through a `lifstp.faults.FaultyTransport` that damages the
given fraction of the bytes in each direction (flips, drops and inserts equally likely), once per seed,
on two paths: the golden device's loopback, and the board-level UART path (UART PHY, receive FIFO,
command engine, core) in Verilator behind a pseudo-terminal. Each run ends in one of three ways: every
spike of the fault-free run, a clear LinkError/DeviceError, or other spikes (a silent loss: must never
happen). The table gives the counts of each, the mean of the host's link counts and the time per run.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass

import numpy as np

from lifstp.device import ProtocolDevice
from lifstp.emulator import GoldenEmulator
from lifstp.errors import LifstpError
from lifstp.faults import FaultRates, FaultyTransport
from lifstp.link import DeviceClient, DeviceError, LinkError, LoopbackTransport, SerialTransport
from lifstp.network import Network

from .network import BenchNetwork

#: Columns of the link counts in the table (LinkStats fields).
COUNTS = ("retries", "reruns", "frames_lost", "frames_corrupted", "credit_regrants")


@dataclass
class Trial:
    """One run through a damaged link."""

    outcome: str  #: "complete", "error" or "WRONG"
    seconds: float
    faults: int  #: bytes the injector damaged, both ways
    link: dict
    message: str = ""


def bench_network(n: int) -> Network:
    """The benchmark network of n neurons with leak potentials near threshold, so that it spikes often
    (a few hundred spikes a second of model time at n = 5)."""
    b = BenchNetwork(n, weight_std_na=0.2, e_l_mv=-50.0, stp_u=0.3, stp_tau_rec_ms=150.0)
    return Network(b.params(), np.full(n, b.e_l_mv), b.weights_pa())


def trial(transport, rate: float, seed: int, net: Network, n_ticks: int, reference) -> Trial:
    """Run `net` through `transport` damaged at `rate` per byte each way; compare with `reference`."""
    rates = FaultRates.per_byte(rate)
    link = FaultyTransport(transport, rates, rates, seed=seed)
    dev = ProtocolDevice("faulty", DeviceClient(link))
    t0 = time.monotonic()
    try:
        run = dev.run(net, n_ticks, seed=1)
    except (LinkError, DeviceError) as exc:
        return Trial("error", time.monotonic() - t0, _faults(link), dev.client.stats.as_dict(),
                     f"{type(exc).__name__}: {exc}")
    same = np.array_equal(run.spike_tick, reference[0]) and np.array_equal(run.spike_neuron, reference[1])
    return Trial("complete" if same else "WRONG", time.monotonic() - t0, _faults(link), run.link)


def _faults(link: FaultyTransport) -> int:
    return sum(c.faults for c in link.counts.values())


def _row(path: str, rate: float, trials: list[Trial]) -> str:
    n = len(trials)
    count = {k: sum(t.outcome == k for t in trials) for k in ("complete", "error", "WRONG")}
    means = " | ".join(f"{np.mean([t.link[k] for t in trials]):.1f}" for k in COUNTS)
    return (f"| {path} | {rate:g} | {n} | {count['complete']} | {count['error']} | {count['WRONG']} | "
            f"{np.mean([t.faults for t in trials]):.1f} | {means} | {np.mean([t.seconds for t in trials]):.2f} |")


def _errors(trials: list[Trial]) -> list[str]:
    """The distinct error messages, their counts in brackets left out."""
    return sorted({re.sub(r" \([^()]*\)$", "", t.message) for t in trials if t.outcome == "error"})


def run_fault_bench(rates, seeds: int, board_rates, board_seeds: int, n: int = 5, duration_ms: float = 1000.0,
                    out=sys.stdout) -> int:
    """Print the table; returns 1 if any run gave other spikes than the fault-free run, else 0."""
    net = bench_network(n)
    n_ticks = round(duration_ms / net.params.dt_ms)
    clean = ProtocolDevice("golden", DeviceClient(LoopbackTransport(GoldenEmulator(n)))).run(net, n_ticks, seed=1)
    reference = (clean.spike_tick, clean.spike_neuron)
    print(f"network: {n} neurons, {n_ticks} ticks ({duration_ms:g} ms), {len(clean.spike_tick)} spikes; faults "
          "per byte each way, flips, drops and inserts equally likely; counts are means per run", file=out)
    print(f"\n| path | faults per byte | runs | every spike | clear error | other spikes | bytes damaged | "
          f"{' | '.join(k.replace('_', ' ') for k in COUNTS)} | s per run |", file=out)
    print("|" + " --- |" * (7 + len(COUNTS) + 1), file=out)
    everything: list[Trial] = []
    for rate in rates:
        trials = [trial(LoopbackTransport(GoldenEmulator(n)), rate, s, net, n_ticks, reference) for s in range(seeds)]
        print(_row("golden loopback", rate, trials), file=out, flush=True)
        everything += trials
    if board_rates:
        from lifstp.sim.harness import start_pty, uart_binary

        proc, tty = start_pty(uart_binary(n, divisor=4, log=lambda m: print(f"  ({m})", file=sys.stderr)))
        try:
            for rate in board_rates:
                trials = []
                for s in range(board_seeds):
                    transport = SerialTransport(tty)
                    try:
                        trials.append(trial(transport, rate, s, net, n_ticks, reference))
                    finally:
                        transport.close()
                print(_row("board UART (Verilator)", rate, trials), file=out, flush=True)
                everything += trials
        finally:
            proc.terminate()
            proc.wait(10)
    errors = _errors(everything)
    if errors:
        print("\nerrors raised:", file=out)
        for message in errors:
            print(f"- {message}", file=out)
    return 1 if any(t.outcome == "WRONG" for t in everything) else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lifstp.bench.faults", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", default="0,1e-4,1e-3,1e-2,3e-2", help="faults per byte on the golden loopback")
    p.add_argument("--seeds", type=int, default=10, help="runs per rate on the golden loopback (default 10)")
    p.add_argument("--board-rates", default="0,1e-4,1e-3,3e-3",
                   help="faults per byte on the simulated board UART (empty: none)")
    p.add_argument("--board-seeds", type=int, default=3, help="runs per rate on the board UART (default 3)")
    p.add_argument("--neurons", type=int, default=5)
    p.add_argument("--duration-ms", type=float, default=5000.0, help="model time per run (default 5000 ms)")
    args = p.parse_args(argv)
    rates = [float(x) for x in args.rates.split(",") if x]
    board = [float(x) for x in args.board_rates.split(",") if x]
    try:
        return run_fault_bench(rates, args.seeds, board, args.board_seeds, args.neurons, args.duration_ms)
    except LifstpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
