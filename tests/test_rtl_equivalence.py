"""The RTL core against the golden model, bit for bit, in cocotb on Verilator (and Icarus).

Hypothesis draws the random networks in pytest (sizes 1..64 on a 64-neuron core, the rest padded,
weights, leak potentials, noise rates, seeds, STP on/off with several U and tau_rec, clamps); one cocotb
process per test loads each network into the one cached build through the write port, runs 2000 ticks
and compares every spike (tick, neuron), the full state (v, u, ref, res, rng, acc) at ticks 1, 700 and
2000, the status counters and the cycles of the last tick of each run. Set LIFSTP_RTL_RANDOM=1 to draw
new networks on every run (by default the draw is derandomised, so CI is reproducible).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from lifstp.golden_model.spec import format_preset
from lifstp.rtl.config import CoreConfig
from lifstp.sim.build import run_testbench
from lifstp.sim.cases import case_strategy, golden_cost

N_TICKS = 2000
CHECKPOINTS = [1, 700, N_TICKS]
MAX_CYCLES_PER_CASE = 500_000  # ~2 s of Verilator per case
MAX_SPIKES_PER_CASE = 8_000  # Python wakes once per spike
RANDOM = os.environ.get("LIFSTP_RTL_RANDOM") == "1"


#: A full-size, active network with STP, clamps and saturating weights, always included.
BUSY_NETWORK = {"n_active": 64, "net_seed": 11, "seed": 2**64 - 5, "bias_mv": 0.5, "tau_m_ms": 1.0,
                "tau_syn_ms": 10.0, "tau_ref_ms": 10.0, "noise_rate_hz": 2000.0, "stp_u": 0.5,
                "stp_tau_rec_ms": 10.0, "weight_scale": 100.0, "clamp_fraction": 0.2}


def affordable(cfg: CoreConfig, n_ticks: int):
    def ok(case):
        spikes, cycles = golden_cost(case, cfg, n_ticks)
        return spikes <= MAX_SPIKES_PER_CASE and cycles <= MAX_CYCLES_PER_CASE
    return ok


def draw_networks(cfg: CoreConfig, count: int, n_ticks: int = N_TICKS) -> list[dict]:
    """Up to `count` distinct networks drawn by hypothesis (its generate phase, so they are diverse),
    skipping those too expensive to simulate; they then all run in one cocotb process."""
    cases: list[dict] = []

    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              derandomize=not RANDOM, suppress_health_check=list(HealthCheck))
    @given(case_strategy(cfg.n_neurons).filter(affordable(cfg, n_ticks)))
    def collect(case):
        if case not in cases:
            cases.append(case)

    collect()
    return cases


def check(cfg: CoreConfig, cases: list[dict], simulator: str, checkpoints=CHECKPOINTS) -> dict:
    results = run_testbench(cfg, {"cases": cases, "checkpoints": checkpoints}, simulator=simulator)
    assert results["cocotb_failures"] == 0 and not results["failures"], results.get("failures")
    assert len(results["cases"]) == len(cases)
    for rec in results["cases"]:
        assert rec["ticks"] == checkpoints[-1] and rec["mismatch"] is None
    total = sum(r["spikes"] for r in results["cases"])
    print(f"\n{cfg.n_neurons} neurons, {cfg.lanes} lanes, {simulator}: {len(cases)} networks, {total} spikes, "
          f"{results['wall_s']:.1f} s in the simulator")
    return results


@pytest.mark.parametrize("lanes,formats", [(4, "default"), (8, "dsp18")])
def test_random_networks_64_neurons(lanes, formats):
    """N = 64 core (networks of 1..64 neurons), L = 4 lanes at the default formats, and L = 8 at the
    dsp18 formats (every product on one 18 × 18 multiplier: an ECP5 core with more lanes): spikes
    and state equal the golden model. (L = 2 is covered by the Icarus test, L = 1 by tests/test_verilator_device.py's
    random machines against the golden device.)"""
    cfg = CoreConfig(64, lanes, formats=format_preset(formats))
    # A busy machine of 37 neurons with the n_active register set: the last row is partly active
    # for L = 4 and 8 (its other lanes must neither write back, fire nor count saturations).
    partial = dict(BUSY_NETWORK, n_active=37, limit_active=1.0)
    results = check(cfg, draw_networks(cfg, 10) + [BUSY_NETWORK, partial], "verilator")
    assert sum(r["saturated_u"] + r["saturated_v"] for r in results["cases"]) > 0, "no saturation exercised"


@pytest.mark.parametrize("n,lanes", [(16, 1)])
def test_random_networks_shared_multiplier(n, lanes):
    """The iCE40 variant (one shared multiplier per lane, a neuron every SharedNeuronUpdate.INTERVAL
    cycles; the iCEBreaker's core has one lane): spikes, state and the cycles per tick equal the
    golden model and the cycle model. (Shared lanes side by side: tests/test_boards_spram.py, L = 2.)"""
    cfg = CoreConfig(n, lanes, shared_multiplier=True)
    check(cfg, draw_networks(cfg, 8), "verilator")
    # Every neuron fires every tick, so V saturates; 300 ticks suffice (Python wakes once per spike,
    # and 2000 ticks of these two took 80 % of this test's time).
    busy = dict(BUSY_NETWORK, n_active=cfg.n_neurons, tau_ref_ms=0.1)
    results = check(cfg, [busy, dict(busy, n_active=cfg.n_neurons - 3, limit_active=1.0)], "verilator",
                    checkpoints=[1, 150, 300])
    assert sum(r["saturated_u"] + r["saturated_v"] for r in results["cases"]) > 0, "no saturation exercised"


def test_random_networks_one_neuron_per_lane():
    """N = L = 4: every spike's row is one cycle long, so back-to-back rows hit the same accumulator
    address in consecutive cycles (the read-modify-write forwarding path)."""
    cfg = CoreConfig(4, 4)
    check(cfg, draw_networks(cfg, 16), "verilator")


def test_icarus_equivalence():
    """The same testbench on Icarus Verilog (slow: a small core and a few hundred ticks)."""
    cases = [
        {"n_active": 4, "net_seed": 3, "seed": 99, "bias_mv": 1.0, "tau_m_ms": 1.0, "tau_syn_ms": 10.0,
         "tau_ref_ms": 0.5, "noise_rate_hz": 2000.0, "stp_u": 0.5, "stp_tau_rec_ms": 10.0, "weight_scale": 3.0,
         "clamp_fraction": 0.0},
        {"n_active": 3, "net_seed": 4, "seed": 7, "bias_mv": -1.0, "tau_m_ms": 5.0, "tau_syn_ms": 1.0,
         "tau_ref_ms": 0.1, "noise_rate_hz": 20000.0, "stp_u": 1.0, "stp_tau_rec_ms": 0.3, "weight_scale": 100.0,
         "clamp_fraction": 0.2, "limit_active": 1.0},
    ]
    check(CoreConfig(4, 2), cases, "icarus", checkpoints=[1, 150, 300])
