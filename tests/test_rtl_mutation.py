"""The equivalence test is sharp: a one-bit change of the RTL's arithmetic is caught.

`CoreConfig(mutation=...)` injects, at elaboration, one of a few one-bit faults (a rounding constant
moved by one bit, a shift one bit short, a rounding replaced by truncation; see rtl/config.py
MUTATIONS). The unmutated core matches the golden model on a short active run; each mutant must not.
Runs on Icarus when it is installed (its builds take seconds), else on Verilator.
"""

from __future__ import annotations


import pytest

from lifstp.rtl.config import MUTATIONS, CoreConfig
from lifstp.sim.build import run_testbench

SIMULATOR = "icarus"  # ./dev.sh test installs it; the mutation test needs no second Verilator build
CASE = {"n_active": 4, "net_seed": 5, "seed": 12345, "bias_mv": 1.0, "tau_m_ms": 1.0, "tau_syn_ms": 10.0,
        "tau_ref_ms": 0.5, "noise_rate_hz": 2000.0, "stp_u": 0.5, "stp_tau_rec_ms": 10.0, "weight_scale": 3.0,
        "clamp_fraction": 0.0}
JOB = {"cases": [CASE], "checkpoints": [1, 20, 100], "expect_equal": False}


def run(mutation):
    results = run_testbench(CoreConfig(4, 1, mutation=mutation), JOB, simulator=SIMULATOR)
    assert results["cocotb_failures"] == 0
    return results["cases"][0]


def test_unmutated_core_passes():
    rec = run(None)
    assert rec["mismatch"] is None and rec["ticks"] == 100 and rec["spikes"] > 0


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_one_bit_mutation_is_caught(mutation):
    rec = run(mutation)
    assert rec["mismatch"] is not None, f"mutation {mutation!r} ({MUTATIONS[mutation]}) went unnoticed"
    print(f"\n{mutation}: {rec['mismatch']}")
