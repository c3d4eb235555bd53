"""Gate-level simulation of both board top levels (lifstp.sim.gate_level): the netlist Yosys synthesises
for each board's default design (iCEBreaker: N = 256, L = 1 with its SPRAM weight bank; ULX3S-85F:
N = 256, L = 4), simulated with Yosys's cell models in the Verilator harness, takes random networks
(one without depression, stp_u = 0, one with, stp_u = 0.5) from `lifstp.link.DeviceClient` over its
simulated UART, and spikes and ends in the state the golden model does.

A fault that only synthesis introduces (`SYNTHESIS_FAULTS["dsp_signedness"]`: the iCE40 DSP blocks of
signed products configured unsigned in the netlist) is caught: on the same networks the RTL simulation
of the iCEBreaker's design behind its UART equals the golden model, the faulty netlist does not.

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
from lifstp.sim.campaign import spike_differences, state_differences, write_active_state, zero_padding
from lifstp.sim.cases import build_golden, random_case
from lifstp.sim.gate_level import harness_binary
from lifstp.sim.harness import board_binary, parse_stats

#: Neurons of each random network on a board's 256-neuron core; the rest are padding (clamped OFF, no
#: weights), which keeps the bytes over the simulated UART few (`write_active_state`).
ACTIVE = 16
#: Ticks per network: a tick of the iCEBreaker's default core is about 1 900 cycles, its netlist
#: simulates some 40 000 cycles a second.
TICKS = 100
#: A gate-level simulation answers slowly: seconds per reply on a loaded machine.
REPLY_TIMEOUT_S = 120.0
#: Spikes a network may give in its ticks: enough to exercise the delivery, few enough for the UART.
SPIKES = (20, 300)
#: (seed, stp_u, limit_active) of each board's networks: without depression (U = 0) and with it; the
#: first updates all the core's neurons every tick, the second only its own (the n_active register)
NETWORKS = ((2, 0.0, 0.0), (3, 0.5, 1.0))
FAULT = "dsp_signedness"
#: harness -> (build function, arguments); the longest builds first, since two run at a time
HARNESSES = {
    "ulx3s-85f": (harness_binary, (BOARDS["ulx3s-85f"],)),
    "icebreaker": (harness_binary, (BOARDS["icebreaker"],)),
    "icebreaker-fault": (harness_binary, (BOARDS["icebreaker"], FAULT)),
    "icebreaker-rtl": (board_binary, (BOARDS["icebreaker"], True)),  # the same design's RTL behind its UART
}


@pytest.fixture(scope="module")
def harnesses() -> dict:
    """Every harness of this file, built (or found in the cache) two at a time."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = {key: pool.submit(build, *args) for key, (build, args) in HARNESSES.items()}
        return {key: job.result() for key, job in jobs.items()}


def golden(case: dict, cfg):
    """The case's golden core on the core `cfg` (its N and formats), its padding as a device powers up."""
    gc = build_golden(case, cfg.n_neurons, cfg.formats)
    zero_padding(gc, case["n_active"])
    return gc


def draw_case(seed: int, stp_u: float, limit_active: float, cfg, n_active: int, ticks: int) -> dict:
    """The first network (n_active neurons active, the given stp_u and limit_active) drawn from `seed`
    whose golden spikes number within SPIKES and that has weights."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        case = {**random_case(rng, cfg.n_neurons), "n_active": n_active, "stp_u": stp_u, "limit_active": limit_active}
        gc = golden(case, cfg)
        t, _ = gc.run(ticks)
        if SPIKES[0] <= len(t) <= SPIKES[1] and np.any(gc.weights):
            return case
    raise AssertionError(f"no suitable network drawn from seed {seed}")


def check(binary, case: dict, cfg, ticks: int) -> list[str]:
    """The case loaded into a freshly started harness over its UART and run: how the device differs from
    the golden model (nothing when it does not): spikes, then the active neurons' fields and every
    counter, a command the device failed, framing errors on its serial line."""
    pipe = PipeTransport(binary)
    differences = []
    try:
        client = DeviceClient(pipe, timeout_s=REPLY_TIMEOUT_S)
        assert client.identify().n_neurons == cfg.n_neurons
        gc = golden(case, cfg)
        write_active_state(client, gc, case["n_active"])
        got = client.run(ticks)[:2]
        differences += spike_differences(got, gc.run(ticks)) + state_differences(client, gc, case["n_active"])
    except LifstpError as exc:  # the golden device answers every command
        differences.append(f"{type(exc).__name__}: {exc}")
    finally:
        stats = parse_stats(pipe.close())
    if stats.get("framing_errors"):
        differences.append(f"{stats['framing_errors']:g} framing errors on the line from the device")
    return differences


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("network", NETWORKS)
def test_board_netlist_spikes_like_the_golden_model(harnesses, board, network):
    """A random network through the board's default netlist, without and with depression."""
    cfg = BOARDS[board].config()
    case = draw_case(*network, cfg, ACTIVE, TICKS)
    assert check(harnesses[board], case, cfg, TICKS) == []


def test_synthesis_fault_is_caught_only_at_gate_level(harnesses):
    """On the iCEBreaker's networks of the test above, the RTL of its design equals the golden model and
    its netlist with the fault does not (the RTL is the same for both: the fault is in synthesis only)."""
    cfg = BOARDS["icebreaker"].config()
    cases = [draw_case(*network, cfg, ACTIVE, TICKS) for network in NETWORKS]
    for case in cases:
        assert check(harnesses["icebreaker-rtl"], case, cfg, TICKS) == []
    caught = [check(harnesses["icebreaker-fault"], case, cfg, TICKS) for case in cases]
    assert all(any(d.startswith("spikes differ") for d in diffs) for diffs in caught), caught
    print("\n".join(d for diffs in caught for d in diffs))
