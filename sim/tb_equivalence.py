"""cocotb testbench: the core against the golden model on a list of random networks.

The job (JSON, path in $LIFSTP_JOB, written by tests/test_rtl_*.py) holds the core's configuration,
the cases (see `lifstp.sim.cases`) and the ticks at which full state snapshots are compared. For each
case the testbench loads the network through the write port, runs the ticks in chunks that end at the
checkpoints, and compares every spike (tick, neuron), the full state (v, u, ref, res, rng, acc) and the
status counters with `GoldenCore` run in this process. Results go to $LIFSTP_RESULTS (JSON). With
"expect_equal" (the default) any difference fails the cocotb test.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
from cocotb.clock import Clock

from lifstp.rtl.core import cycles_per_tick
from lifstp.sim.build import config_from_json
from lifstp.sim.cases import build_golden
from lifstp.sim.cocotb_host import CocotbHost
from lifstp.sim.program import snapshot_diff


@cocotb.test()
async def equivalence(dut):
    with open(os.environ["LIFSTP_JOB"]) as fh:
        job = json.load(fh)
    cfg = config_from_json(job["config"])
    n = cfg.n_neurons
    Clock(dut.clk, 10, unit="ns").start()
    host = CocotbHost(dut, cfg)
    await host.reset()
    results = {"cases": []}
    failures = []
    t_start = time.perf_counter()
    for k, case in enumerate(job["cases"]):
        gc = build_golden(case, n, cfg.formats)
        await host.load(gc)
        rec = {"case": k, "spikes": 0, "ticks": 0, "mismatch": None, "cycles": [], "sim_s": 0.0}
        t0 = time.perf_counter()
        done = 0
        for checkpoint in job["checkpoints"]:
            step = checkpoint - done
            if step <= 0:
                continue
            rtl_spikes = await host.run(step)
            t, j = gc.run(step)
            gold = list(zip(t.tolist(), j.tolist()))
            done = checkpoint
            rec["spikes"] += len(gold)
            rec["ticks"] = done
            if rtl_spikes != gold:
                first = next((i for i, (a, b) in enumerate(zip(rtl_spikes, gold)) if a != b),
                             min(len(rtl_spikes), len(gold)))
                rec["mismatch"] = (f"spikes differ before tick {done}: {len(rtl_spikes)} vs {len(gold)} spikes, "
                                   f"first difference at #{first}: rtl "
                                   f"{rtl_spikes[first] if first < len(rtl_spikes) else None} golden "
                                   f"{gold[first] if first < len(gold) else None}")
                break
            status = await host.status()
            rec["cycles"].append(status["cycles_last_tick"])
            # The cycle model of docs/core.md (spikes stream always ready).
            last = int(sum(1 for tick, _ in gold if tick == done - 1))
            want_cycles = cycles_per_tick(cfg, last, gc.fixed.n_active)
            if status["cycles_last_tick"] != want_cycles:
                rec["mismatch"] = (f"tick {done - 1} took {status['cycles_last_tick']} cycles, "
                                   f"the cycle model says {want_cycles}")
                break
            gs = gc.status()
            diff = snapshot_diff(await host.snapshot(done), gc.snapshot())
            for name in ("ticks", "saturated_v", "saturated_u"):
                if status[name] != gs[name]:
                    diff.append(f"status {name}: rtl {status[name]} golden {gs[name]}")
            rec["saturated_v"], rec["saturated_u"] = gs["saturated_v"], gs["saturated_u"]
            if diff:
                rec["mismatch"] = f"state differs at tick {done}: " + "; ".join(diff)
                break
        rec["sim_s"] = time.perf_counter() - t0
        results["cases"].append(rec)
        if rec["mismatch"]:
            failures.append(f"case {k} {case}: {rec['mismatch']}")
            dut._log.error("case %d: %s", k, rec["mismatch"])
            if job.get("stop_on_first", True):
                break
    results["failures"] = failures
    results["wall_s"] = time.perf_counter() - t_start
    with open(os.environ["LIFSTP_RESULTS"], "w") as fh:
        json.dump(results, fh)
    if job.get("expect_equal", True):
        assert not failures, "\n".join(failures)
