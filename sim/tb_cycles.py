"""cocotb testbench: cycles per tick at controlled activity levels (docs/core.md, "Cycles").

For each activity level k (job "spiking": a list of k) the first... every (N/k)-th neuron is clamped ON
with a one-tick refractory period, so exactly k neurons spike in every tick, the others are clamped
OFF; the core runs tick by tick and the status port's cycles_last_tick is recorded. Spikes are still
checked against the golden model, so the measurement is of a core that computes the right thing.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock

from lifstp.golden_model.spec import ClampMode
from lifstp.sim.build import config_from_json
from lifstp.sim.cases import build_golden
from lifstp.sim.cocotb_host import CocotbHost

BASE_CASE = {"net_seed": 1, "seed": 1, "bias_mv": 0.0, "tau_m_ms": 1.0, "tau_syn_ms": 10.0, "tau_ref_ms": 0.1,
             "noise_rate_hz": 2000.0, "stp_u": 0.5, "stp_tau_rec_ms": 10.0, "weight_scale": 0.3,
             "clamp_fraction": 0.0}


@cocotb.test()
async def cycles(dut):
    with open(os.environ["LIFSTP_JOB"]) as fh:
        job = json.load(fh)
    cfg = config_from_json(job["config"])
    n = cfg.n_neurons
    Clock(dut.clk, 10, unit="ns").start()
    host = CocotbHost(dut, cfg)
    await host.reset()
    out = []
    for k in job["spiking"]:
        gc = build_golden({**BASE_CASE, "n_active": n}, n, cfg.formats)
        clamp = np.full(n, int(ClampMode.OFF))
        if k:
            clamp[np.linspace(0, n - 1, k).round().astype(int)] = int(ClampMode.ON)
        gc.set_clamp(clamp)
        await host.load(gc)
        measured = []
        for _ in range(job["ticks"]):
            spikes = await host.run(1)
            t, j = gc.run(1)
            assert spikes == list(zip(t.tolist(), j.tolist()))
            status = await host.status()
            measured.append((len(spikes), status["cycles_last_tick"]))
        out.append({"spiking": k, "ticks": measured})
    with open(os.environ["LIFSTP_RESULTS"], "w") as fh:
        json.dump({"levels": out}, fh)
