"""The verilator device (command engine + core compiled by Verilator behind a pipe) gives the same
RUN.npz spike arrays as the golden device for the same seed, for random Boltzmann machines with and
without depression; and the serial device reaches the same harness through a pseudo-terminal."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lifstp.bm import random_bm, save
from lifstp.cli import main
from lifstp.sampling import load_run
from lifstp.sim.harness import device_binary, start_pty


@pytest.mark.parametrize("stp", [[], ["--stp-u", "0.2", "--stp-tau-rec-ms", "200"], ["--stp-u", "0"]],
                         ids=["renewing", "depressing", "plain"])
def test_sample_on_verilator_equals_golden(tmp_path, stp):
    for m in range(2):
        machine = random_bm(5, np.random.default_rng(100 + m))
        bm_path = tmp_path / f"bm{m}.npz"
        save(bm_path, machine)
        runs = {}
        for device in ("golden", "verilator"):
            out = tmp_path / f"{device}{m}.npz"
            assert main(["sample", str(bm_path), "--device", device, "--duration-ms", "1500", "--seed", str(m),
                         "--out", str(out), "--no-progress", *stp]) == 0
            runs[device] = load_run(out)
        assert len(runs["golden"]["spike_tick"]) > 100
        for key in ("spike_tick", "spike_neuron", "n_ticks", "n_neurons", "tau_ref_ticks"):
            np.testing.assert_array_equal(runs["verilator"][key], runs["golden"][key])


def test_serial_device_through_a_pseudo_terminal(tmp_path):
    """pyserial opens the harness's pseudo-terminal as it would a board's UART."""
    proc, tty = start_pty(device_binary(5))
    try:
        machine = random_bm(5, np.random.default_rng(7))
        save(tmp_path / "bm.npz", machine)
        for device in ("golden", f"serial:{tty}"):
            assert main(["sample", str(tmp_path / "bm.npz"), "--device", device, "--duration-ms", "1000",
                         "--seed", "3", "--out", str(tmp_path / f"{device[:6]}.npz"), "--no-progress"]) == 0
        golden, serial = load_run(tmp_path / "golden.npz"), load_run(tmp_path / "serial.npz")
        np.testing.assert_array_equal(serial["spike_tick"], golden["spike_tick"])
        np.testing.assert_array_equal(serial["spike_neuron"], golden["spike_neuron"])
    finally:
        proc.terminate()
        proc.wait(5)


def test_board_uart_path_through_a_pseudo_terminal(tmp_path):
    """The board-level path (UART PHY at 4 clock cycles per bit, receive FIFO, command engine, core),
    its serial lines driven bit by bit by the harness, behind a pseudo-terminal: the same spikes as the
    golden device."""
    from lifstp.sim.harness import uart_binary

    proc, tty = start_pty(uart_binary(5, divisor=4))
    try:
        machine = random_bm(5, np.random.default_rng(8))
        save(tmp_path / "bm.npz", machine)
        for device in ("golden", f"serial:{tty}"):
            assert main(["sample", str(tmp_path / "bm.npz"), "--device", device, "--duration-ms", "1000",
                         "--seed", "5", "--stp-u", "0.1", "--stp-tau-rec-ms", "300",
                         "--out", str(tmp_path / f"{device[:6]}.npz"), "--no-progress"]) == 0
        golden, serial = load_run(tmp_path / "golden.npz"), load_run(tmp_path / "serial.npz")
        assert len(golden["spike_tick"]) > 50
        np.testing.assert_array_equal(serial["spike_tick"], golden["spike_tick"])
        np.testing.assert_array_equal(serial["spike_neuron"], golden["spike_neuron"])
    finally:
        proc.terminate()
        proc.wait(5)
    said = proc.stderr.read()
    assert "framing_errors=0" in said


def test_harness_takes_a_flood_without_being_read():
    """20000 READs written before a single byte is read (several times what the pipes hold, each
    way): the harness keeps taking input while its answers wait, and every answer equals the golden
    device's."""
    from lifstp import protocol as P
    from lifstp.emulator import GoldenEmulator
    from lifstp.link import PipeTransport

    # The counters after CYCLES_LAST_TICK (the golden device has no clock), 16 bytes a reply.
    read = P.BURST_HEADER.pack(P.Space.STATUS, 0, P.StatusCounter.SATURATED_V, 4)
    flood = b"".join(P.encode_frame(P.Op.READ, k & 0xFF, read) for k in range(20000))
    expected = GoldenEmulator(5).feed(flood)
    assert len(flood) > 4 * 65536 and len(expected) > 4 * 65536  # more than a pipe holds, each way
    pipe = PipeTransport(device_binary(5))
    try:
        pipe.write(flood)  # DeviceTimeout if the harness stopped reading
        answer = bytearray()
        deadline = time.monotonic() + 60
        while len(answer) < len(expected) and time.monotonic() < deadline:
            answer += pipe.read(0.5)
    finally:
        pipe.close()
    assert bytes(answer) == expected and expected.count(bytes([P.DELIMITER])) == 20000


def test_harness_exits_when_its_host_goes_during_a_stalled_run():
    """A run stalled for credit, then the host closes its end: the harness exits by itself within
    seconds (no credit can come any more) instead of simulating the stall for ever."""
    from lifstp import protocol as P
    from lifstp.golden_model.spec import ClampMode
    from lifstp.link import PipeTransport

    pipe = PipeTransport(device_binary(5))
    try:
        # Every neuron clamped on: a spike each tick, so the first frame fills and waits for credit.
        clamp = P.BURST_HEADER.pack(P.Space.NEURON, P.NeuronField.CLAMP, 0, 5) + bytes([int(ClampMode.ON)] * 5)
        pipe.write(P.encode_frame(P.Op.WRITE, 1, clamp) + P.encode_frame(P.Op.RUN, 2, P.RUN_PAYLOAD.pack(10**6, 0)))
        time.sleep(0.5)
        pipe.proc.stdin.close()
        t0 = time.monotonic()
        pipe.proc.wait(timeout=30)
        assert time.monotonic() - t0 < 30
    finally:
        if pipe.proc.poll() is None:
            pipe.proc.kill()
