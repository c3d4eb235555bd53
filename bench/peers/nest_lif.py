#!/usr/bin/env python3
"""Peer benchmark: dense LIF network with Tsodyks-Markram depression in NEST 3.10.

Run with the NEST venv's python, e.g.
    ~/.cache/lifstp/peers/nest/bin/python bench/peers/nest_lif.py --n 1000 --duration-ms 1000

Prints exactly one JSON line on stdout (NEST banner/log output is silenced).

Network (shared with bench/peers/brian2_lif.py):
  * iaf_psc_exp, dt = 0.1 ms, C_m = 200 pF, tau_m = 1 ms, tau_syn_ex = tau_syn_in = 10 ms,
    E_L = --e-l-mv, V_th = -50 mV, V_reset = -50.01 mV, t_ref = 9.9 ms (= 99 clamped steps
    after the spike step), V_m(0) = E_L.
  * background: per neuron independent Poisson 2000 Hz (+90 pA) and 2000 Hz (-90 pA), delay 0.1 ms.
  * recurrent: all-to-all without autapses, delay 0.1 ms, tsodyks2_synapse (U, tau_rec, tau_fac=0),
    efficacy after full recovery = W[pre, post] nA where
        rng = np.random.default_rng(seed); W = rng.normal(0, sigma, size=(N, N))  # [pre, post]
    NEST weight = 1000 * W / U  (pA), so that transmitted current = x * U * weight = x * W.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("PYNEST_QUIET", "1")  # suppress the banner (must be set before import)

import numpy as np  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--duration-ms", type=float, default=1000.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dense-weight-std", type=float, default=0.02,
                   help="sigma of recurrent weights in nA (efficacy after full recovery)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--e-l-mv", type=float, default=-53.0)
    p.add_argument("--e-l-sweep", type=float, nargs=2, metavar=("LO", "HI"), default=None,
                   help="give neuron k the leak potential linspace(LO, HI, N)[k] instead of --e-l-mv")
    p.add_argument("--stp-u", type=float, default=1.0)
    p.add_argument("--stp-tau-rec-ms", type=float, default=10.0)
    p.add_argument("--bg-rate-hz", type=float, default=2000.0)
    p.add_argument("--bg-weight-pa", type=float, default=90.0)
    p.add_argument("--no-recurrent", action="store_true", help="background input only")
    p.add_argument("--rates-out", default=None, help="write per-neuron spike counts (.npy, int64)")
    p.add_argument("--spikes-out", default=None,
                   help="write all spikes (.npz: t_ms float64 = spike time, i int64 = neuron index)")
    a = p.parse_args()

    # Keep stdout for the JSON line only: anything the simulator (or make/g++, NEST banner, ...)
    # writes to file descriptor 1 goes to stderr instead.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    import nest

    nest.verbosity = nest.VerbosityLevel.ERROR  # silence [INFO] logs of Simulate/Prepare

    t_setup0 = time.perf_counter()
    N = a.n
    dt = 0.1
    nest.ResetKernel()
    nest.resolution = dt
    nest.local_num_threads = a.threads
    nest.rng_seed = a.seed + 1  # must be >= 1

    neuron_params = {
        "C_m": 200.0, "tau_m": 1.0, "tau_syn_ex": 10.0, "tau_syn_in": 10.0,
        "E_L": a.e_l_mv, "V_th": -50.0, "V_reset": -50.01, "t_ref": 9.9,
        "V_m": a.e_l_mv, "I_e": 0.0,
    }
    neurons = nest.Create("iaf_psc_exp", N, params=neuron_params)
    if a.e_l_sweep is not None:
        e_l = np.linspace(a.e_l_sweep[0], a.e_l_sweep[1], N)
        neurons.set({"E_L": e_l.tolist(), "V_m": e_l.tolist()})

    pg_ex = nest.Create("poisson_generator", params={"rate": a.bg_rate_hz})
    pg_in = nest.Create("poisson_generator", params={"rate": a.bg_rate_hz})
    # all_to_all from one generator: every target gets its own independent Poisson train
    nest.Connect(pg_ex, neurons, "all_to_all", {"weight": a.bg_weight_pa, "delay": dt})
    nest.Connect(pg_in, neurons, "all_to_all", {"weight": -a.bg_weight_pa, "delay": dt})

    n_out = 0
    if not a.no_recurrent and N > 1:
        rng = np.random.default_rng(a.seed)
        W = rng.normal(0.0, a.dense_weight_std, size=(N, N))  # nA, [pre, post]
        mask = ~np.eye(N, dtype=bool)
        pre, post = np.nonzero(mask)
        ids = np.asarray(neurons.tolist())
        m = pre.size
        U = a.stp_u
        nest.Connect(
            ids[pre], ids[post], "one_to_one",
            {
                "synapse_model": "tsodyks2_synapse",
                "weight": 1000.0 * W[pre, post] / U,  # pA
                "delay": np.full(m, dt),
                "U": np.full(m, U),
                # NEST 3.10 uses (x, u) as they are for the first spike through a synapse
                # (t_lastspike_ = -1), so with u = U, x = 1 the first efficacy is exactly W.
                "u": np.full(m, U),
                "x": np.ones(m),
                "tau_rec": np.full(m, a.stp_tau_rec_ms),
                "tau_fac": np.zeros(m),
            },
        )
        del W, mask, pre, post
        n_out = N - 1

    sr = nest.Create("spike_recorder")
    nest.Connect(neurons, sr)

    nest.Prepare()
    # Force construction of the presynaptic connection infrastructure now (it is otherwise
    # done lazily inside the first Run and would be counted as simulation time).
    nest.GetConnections(neurons[0:1], neurons[0:1])
    setup_s = time.perf_counter() - t_setup0

    t0 = time.perf_counter()
    c0 = time.process_time()
    nest.Run(a.duration_ms)
    wall_s = time.perf_counter() - t0
    cpu_s = time.process_time() - c0
    nest.Cleanup()

    ev = sr.get("events")
    senders = np.asarray(ev["senders"], dtype=np.int64)
    first = neurons.tolist()[0]
    counts = np.bincount(senders - first, minlength=N).astype(np.int64)
    n_spikes = int(counts.sum())
    n_syn = n_spikes * n_out
    if a.rates_out:
        np.save(a.rates_out, counts)
    if a.spikes_out:
        t_ms = np.asarray(ev["times"], dtype=np.float64)
        order = np.lexsort((senders, t_ms))
        np.savez(a.spikes_out, t_ms=t_ms[order], i=(senders - first)[order])

    ks = nest.GetKernelStatus()
    out = {
        "simulator": "nest",
        "version": nest.__version__,
        "mode": "native",
        "threads": a.threads,
        "n_neurons": N,
        "duration_ms": a.duration_ms,
        "seed": a.seed,
        "dense_weight_std_na": a.dense_weight_std,
        "e_l_mv": a.e_l_mv,
        "stp_u": a.stp_u,
        "stp_tau_rec_ms": a.stp_tau_rec_ms,
        "setup_s": round(setup_s, 4),
        "wall_s": round(wall_s, 4),
        "cpu_s": round(cpu_s, 4),  # process CPU time of the run (all threads)
        "loadavg_1m": round(os.getloadavg()[0], 2),  # machine load when done (contention hint)
        "nest_time_simulate_s": round(float(ks.get("time_simulate", float("nan"))), 4),
        "n_spikes": n_spikes,
        "n_syn_events": n_syn,
        "mean_rate_hz": n_spikes / N / (a.duration_ms / 1000.0),
        "syn_events_per_s": n_syn / wall_s if wall_s > 0 else None,
        "n_synapses": N * n_out,
    }
    json_out.write(json.dumps(out) + "\n")
    json_out.flush()


if __name__ == "__main__":
    main()
