"""A network on a board's design in Verilator: the device's cycles and the bytes it sends for one run.

The design is the one the board's top level builds (`lifstp.sim.harness.board_binary`). The network
is loaded as every device loads it (`lifstp.device.load_network`); then the harness's statistics are
restarted and one RUN is granted all the credit a run can have, so that the host sends nothing while
it lasts and the device's timing depends on the device alone. The harness counts the cycles in which
the device was busy (exactly: from the RUN frame taken to RUN_DONE's delimiter sent), and a wrapper
around the transport counts the bytes the device sent meanwhile (the RUN reply, every SPIKES frame and
RUN_DONE, COBS-encoded with their CRC and delimiters).

With `states=(first, units, every)` the run is made in the states readout (docs/protocol.md, "The
state stream"): the device sends the units' states every `every` ticks instead of every spike; with
`stats` too, in the statistics readout: it counts them, and the counts are read after the run (the
harness's busy cycles end with RUN_DONE, before that read).

Two ways to run it: on a pipe with the device's byte output always taken (`serial=False`: what the
design computes, its transmitter at full speed), or behind the board's UART bridge with the serial
lines simulated at the board's divisor (`serial=True`: the whole path to the host's USB bridge).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass

import numpy as np

from lifstp import protocol as P
from lifstp.network import Network

#: The most credit (SPIKES frames) one RUN can grant.
MAX_CREDIT = (1 << (8 * P.CREDIT_PAYLOAD.size)) - 1
#: Seconds the host waits for each frame of the device (a simulated board is slow).
FRAME_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RtlRun:
    """One measured run: ticks, busy cycles, the bytes the device sent (as they came off the wire),
    and the spikes."""

    n_ticks: int
    busy_cycles: int
    sent: bytes
    spike_tick: np.ndarray
    spike_neuron: np.ndarray
    serial: bool
    #: the states readout's samples (samples x units), None for a run that streamed spikes
    states: np.ndarray | None = None
    #: the statistics readout's (samples counted, units x units counts), None for other readouts
    stats: tuple[int, np.ndarray] | None = None

    @property
    def cycles_per_tick(self) -> float:
        return self.busy_cycles / self.n_ticks

    @property
    def bytes_per_tick(self) -> float:
        return len(self.sent) / self.n_ticks


class _RecordingTransport:
    """A transport that keeps the bytes it reads."""

    def __init__(self, transport):
        self.transport = transport
        self.received = bytearray()

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def read(self, timeout_s: float) -> bytes:
        data = self.transport.read(timeout_s)
        self.received += data
        return data

    def close(self):
        return self.transport.close()


def frames_needed(n_spikes: int, n_ticks: int) -> int:
    """An upper bound on the SPIKES frames of a run of n_ticks with n_spikes spikes: one record per
    spike and per SKIP (at most one per SPIKE_MAX_DELTA ticks), SPIKES_PER_FRAME records a frame."""
    records = n_spikes + n_ticks // P.SPIKE_MAX_DELTA + 1
    return -(-records // P.SPIKES_PER_FRAME) + 1


def _run_states(client, transport, n_ticks: int, first: int, units: int, every: int, stats: bool = False,
                end_phase=None):
    """One RUN in the states readout, all credit granted at once: (its samples (samples x units), the
    bytes received up to RUN_DONE); with `stats`, in the statistics readout: the samples are (samples
    counted, units x units counts read after the run)."""
    from lifstp.golden_model.spec import REGISTER_NAMES
    from lifstp.link import LinkError

    for name, value in (("sample_units", units), ("sample_first", first), ("sample_every", every),
                        ("sample_wait", 0), ("sample_stats", int(stats))):
        client.write(P.Space.REG, 0, REGISTER_NAMES.index(name), [value])
    client.wait_reply(P.Op.RUN | P.REPLY_BIT, client.send(P.Op.RUN, P.RUN_PAYLOAD.pack(n_ticks, MAX_CREDIT)))
    samples = []
    while True:
        frame = client.next_frame()
        if frame.op == P.Msg.STATES and not stats:
            samples.append(P.decode_states(frame.payload, units)[2])
        elif frame.op == P.Msg.RUN_DONE:
            sent, received = P.RUN_DONE_PAYLOAD.unpack(frame.payload)[2], bytes(transport.received)
            if stats:
                end_phase()  # the run's busy cycles end here, before the counts are read
                k = P.STATS_UNITS_MAX
                return (sent, np.stack([client.read(P.Space.STATS, 0, i * k, units) for i in range(units)])), received
            states = np.concatenate(samples) if samples else np.zeros((0, units), np.uint8)
            if sent != len(states):
                raise LinkError(f"the device sent {sent} samples, {len(states)} arrived")
            return states, received
        else:
            raise LinkError(f"unexpected frame 0x{frame.op:02x} during a {'stats' if stats else 'states'} run")


def run_on_board_rtl(binary, network: Network, n_ticks: int, seed: int, serial: bool = False,
                     states: tuple[int, int, int] | None = None, stats: bool = False) -> RtlRun:
    """Load `network` into the board design compiled as `binary` (`lifstp.sim.harness.board_binary(b,
    serial)`) and run it for n_ticks ticks (see the module docstring). The run may need at most
    MAX_CREDIT frames (`frames_needed`)."""
    from lifstp.device import load_network
    from lifstp.link import DeviceClient, PipeTransport, SerialTransport
    from lifstp.sim.harness import parse_stats, phase_busy_cycles, start_pty

    if serial:
        proc, tty = start_pty(binary)
        inner = SerialTransport(tty)
    else:
        inner = PipeTransport(binary)
        proc = inner.proc
    transport = _RecordingTransport(inner)
    try:
        client = DeviceClient(transport, timeout_s=FRAME_TIMEOUT_S)
        load_network(client, network, seed)
        proc.send_signal(signal.SIGUSR1)  # the harness restarts its counts; the device is idle
        time.sleep(0.2)
        transport.received.clear()
        if states is None:
            ticks, neurons, _ = client.run(n_ticks, credit=MAX_CREDIT)
            samples = None
        else:
            ticks, neurons = np.empty(0, np.int64), np.empty(0, np.int32)
            def end_phase():
                proc.send_signal(signal.SIGUSR1)
                time.sleep(0.2)

            samples, sent = _run_states(client, transport, n_ticks, *states, stats=stats, end_phase=end_phase)
        if states is None:
            sent = bytes(transport.received)
    finally:
        said = transport.close()
        if serial:
            proc.terminate()
            proc.wait(10)
            said = proc.stderr.read()
            proc.stdout.close()
            proc.stderr.close()
    busy = phase_busy_cycles(said)[-1] if stats else int(parse_stats(said)["busy_cycles"])
    counts = samples if stats else None
    return RtlRun(n_ticks, busy, sent, ticks, neurons, serial,
                  None if stats else samples, counts)
