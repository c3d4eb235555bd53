"""`lifstp bench link`: how much of a UART's line rate the protocol turns into payload.

The board-level path (UART PHY, receive FIFO, command engine, core) runs in the Verilator harness,
which drives the serial lines bit by bit at a clock divisor, so line time is simulated exactly:
a byte takes 10 bit times (8N1), and the raw link rate is baud / 10 bytes/s. Two measurements:

- weight upload: the host writes a whole weight matrix in bursts (up to 8 frames in flight); payload
  = the weight bytes; time = from the first to the last byte the device received;
- spike read-back: a network whose neurons are clamped on fires every τ_ref, faster than the line
  can carry; payload = the 3-byte spike records; time = from the first to the last byte sent.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from lifstp import protocol as P
from lifstp.golden_model.spec import ClampMode, Formats, ModelParams
from lifstp.network import Network


def _session(binary, work):
    """Run work(client, mark) against a fresh harness on a pseudo-terminal, where mark() restarts the
    harness's line statistics; returns the statistics and what work returned."""
    import signal

    from lifstp.link import DeviceClient, SerialTransport
    from lifstp.sim.harness import parse_stats, start_pty

    proc, tty = start_pty(binary)
    try:
        client = DeviceClient(SerialTransport(tty), timeout_s=60.0)
        result = work(client, lambda: (proc.send_signal(signal.SIGUSR1), time.sleep(0.2)))
        client.transport.close()
    finally:
        proc.terminate()
        proc.wait(10)
    stats = parse_stats(proc.stderr.read())
    proc.stdout.close()
    proc.stderr.close()
    return stats, result


def run_link_bench(n_neurons: int = 64, clk_hz: float = 12e6, divisor: int = 4, out=sys.stdout) -> int:
    from lifstp.device import load_network
    from lifstp.sim.harness import uart_binary

    baud = clk_hz / divisor
    line_bytes_per_s = baud / 10
    binary = uart_binary(n_neurons, divisor, log=lambda m: print(f"  ({m})", file=out, flush=True))
    print(f"UART at {baud / 1e6:g} Mbaud ({clk_hz / 1e6:g} MHz clock / {divisor}), 8N1: raw link rate "
          f"{line_bytes_per_s / 1e3:.0f} kB/s; device of {n_neurons} neurons", file=out)

    rng = np.random.default_rng(1)
    weights = rng.integers(-2000, 2000, size=(n_neurons, n_neurons))

    def upload(client, mark):
        client.identify()
        mark()
        client.write(P.Space.WEIGHT, 0, 0, weights)

    stats, _ = _session(binary, upload)
    fmt = Formats()
    payload = weights.size * P.wire_bytes(P.Space.WEIGHT, 0, fmt, n_neurons)
    frames = -(-weights.size // P.max_burst(P.Space.WEIGHT, 0, fmt, n_neurons))
    print(f"  weight upload: {payload} payload bytes in {frames} frames", file=out)
    up_eff = _report_upload(stats, payload, clk_hz, line_bytes_per_s, out)

    params = ModelParams()
    net = Network(params, np.full(n_neurons, -60.0), np.zeros((n_neurons, n_neurons)),
                  np.full(n_neurons, int(ClampMode.ON)))
    n_ticks = 20 * params.tau_ref_ticks

    def stream(client, mark):
        load_network(client, net, seed=1)
        mark()
        return client.run(n_ticks)

    stats2, (ticks, _, _) = _session(binary, stream)
    spike_payload = len(ticks) * P.SPIKE_RECORD_BYTES
    span = (stats2["last_out"] - stats2["first_out"]) / clk_hz
    rate = spike_payload / span
    print(f"  spike read-back: {len(ticks)} spikes in {n_ticks} ticks, {spike_payload} record bytes of "
          f"{stats2['bytes_out']:.0f} bytes sent ({100 * spike_payload / stats2['bytes_out']:.1f} % payload), "
          f"over {span * 1e3:.2f} ms of simulated time: {rate / 1e3:.1f} kB/s = "
          f"{100 * rate / line_bytes_per_s:.1f} % of the line rate ({rate / P.SPIKE_RECORD_BYTES:.0f} spikes/s)", file=out)
    print(f"link: upload_efficiency={up_eff:.3f} readback_efficiency={rate / line_bytes_per_s:.3f} "
          f"baud={baud:.0f}", file=out)
    return 0 if up_eff >= 0.9 else 1


def _report_upload(stats, payload, clk_hz, line_bytes_per_s, out) -> float:
    span = (stats["last_in"] - stats["first_in"]) / clk_hz
    rate = payload / span
    eff = rate / line_bytes_per_s
    print(f"  the host's bytes occupied the line for {span * 1e3:.2f} ms of simulated time "
          f"({stats['bytes_in']:.0f} bytes): {rate / 1e3:.1f} kB/s of payload = {100 * eff:.1f} % of the line rate",
          file=out)
    return eff
