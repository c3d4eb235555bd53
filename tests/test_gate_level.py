"""Gate-level simulation of both board top levels (lifstp.sim.gate_level): the netlist Yosys synthesises
for each board (iCEBreaker with its SPRAM weight bank, ULX3S-85F), simulated with Yosys's cell models in
the Verilator harness, takes random networks (one with stp_u = 1, one with stp_u = 0.5) from
`lifstp.link.DeviceClient` over its simulated UART, and spikes and ends in the state the golden model
does. A fault that only synthesis introduces (DSP blocks configured for unsigned operands,
`SYNTHESIS_FAULTS`) makes the spikes of those networks differ.

The netlists and the compiled harnesses are cached (user cache directory); a cold run builds them two
at a time.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from lifstp.boards.top import BOARDS
from lifstp.errors import LifstpError
from lifstp.link import DeviceClient, PipeTransport
from lifstp.sim.campaign import spike_differences, state_differences, write_state
from lifstp.sim.cases import build_golden, random_case
from lifstp.sim.gate_level import GATE_NEURONS, harness_binary
from lifstp.sim.harness import parse_stats

TICKS = 300
#: A gate-level simulation answers slowly: seconds per reply on a loaded machine.
REPLY_TIMEOUT_S = 120.0
#: Spikes a network may give in TICKS ticks: enough to exercise the delivery, few enough for the UART.
SPIKES = (30, 400)
#: (seed, stp_u) of each board's networks
NETWORKS = ((2, 1.0), (3, 0.5))
FAULT = "dsp_signedness"
#: harness -> (board, fault); the longest build first, since two run at a time
HARNESSES = {"ulx3s-85f": ("ulx3s-85f", None), "icebreaker": ("icebreaker", None),
             "icebreaker-fault": ("icebreaker", FAULT)}


@pytest.fixture(scope="module")
def harnesses() -> dict:
    """Every harness of this file, built (or found in the cache) two at a time."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {key: pool.submit(harness_binary, BOARDS[board], GATE_NEURONS, fault)
                for key, (board, fault) in HARNESSES.items()}
        return {key: job.result() for key, job in jobs.items()}


def draw_case(seed: int, stp_u: float) -> dict:
    """The first network (all GATE_NEURONS neurons active, the given stp_u) drawn from `seed` whose
    golden spikes number within SPIKES."""
    rng = np.random.default_rng(seed)
    for _ in range(200):
        case = {**random_case(rng, GATE_NEURONS), "n_active": GATE_NEURONS, "stp_u": stp_u}
        if SPIKES[0] <= len(build_golden(case, GATE_NEURONS).run(TICKS)[0]) <= SPIKES[1]:
            return case
    raise AssertionError(f"no suitable network drawn from seed {seed}")


def check(binary, cases: list[dict]) -> list[str]:
    """Each case loaded into the harness over its UART and run for TICKS ticks: how the device differs
    from the golden model (nothing when it does not): spikes, then every neuron field and counter, a
    command the device failed, framing errors on its serial line."""
    pipe = PipeTransport(binary)
    differences = []
    try:
        client = DeviceClient(pipe, timeout_s=REPLY_TIMEOUT_S)
        assert client.identify().n_neurons == GATE_NEURONS
        for case in cases:
            golden = build_golden(case, GATE_NEURONS)
            write_state(client, golden)
            got = client.run(TICKS)[:2]
            differences += spike_differences(got, golden.run(TICKS)) + state_differences(client, golden)
    except LifstpError as exc:  # the golden device answers every command
        differences.append(f"{type(exc).__name__}: {exc}")
    finally:
        stats = parse_stats(pipe.close())
    if stats.get("framing_errors"):
        differences.append(f"{stats['framing_errors']:g} framing errors on the line from the device")
    return differences


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_board_netlist_spikes_like_the_golden_model(harnesses, board):
    """Two networks, stp_u = 1 and 0.5, through the board's netlist."""
    cases = [draw_case(seed, stp_u) for seed, stp_u in NETWORKS]
    assert check(harnesses[board], cases) == []


def test_synthesis_fault_is_caught_only_at_gate_level(harnesses):
    """The faulty netlist spikes otherwise on the networks the correct one runs right (test above); the
    RTL is the same for both (the fault is in synthesis only), so no simulation of it can tell them
    apart."""
    differences = check(harnesses["icebreaker-fault"], [draw_case(seed, stp_u) for seed, stp_u in NETWORKS])
    assert any(d.startswith("spikes differ") for d in differences), differences
    print("\n".join(differences))
