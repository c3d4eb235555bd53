#!/usr/bin/env python3
"""Peer benchmark: dense LIF network with Tsodyks-Markram depression in Brian2 (2.9.0).

Run with the Brian2 venv's python, e.g.
    ~/.cache/lifstp/peers/brian2/bin/python bench/peers/brian2_lif.py --n 1000 --duration-ms 1000

Prints exactly one JSON line on stdout (Brian2 log output goes to stderr / its log file).

Same network as bench/peers/nest_lif.py (NEST iaf_psc_exp + tsodyks2_synapse semantics):
  * dt = 0.1 ms, C_m = 200 pF, tau_m = 1 ms, tau_syn = 10 ms, E_L = --e-l-mv, V_th = -50 mV
    (spike if V >= V_th), V_reset = -50.01 mV, V(0) = E_L, I(0) = 0.
    dv/dt = (E_L - v)/tau_m + I/C_m (unless refractory); dI/dt = -I/tau_syn; method='exact'
    (identical to NEST's exact-integration propagators P22, P21, P11).
  * refractory: Brian's `refractory=10.0*ms` clamps V for the 99 steps after the spike step,
    which is what NEST's t_ref = 9.9 ms does (RefractoryCounts = 99). (refractory=9.9*ms would
    clamp only 98 steps in Brian.)
  * background: PoissonInput on I, +90 pA and -90 pA, 2000 Hz each, independent per neuron.
    PoissonInput draws Binomial(K, rate*dt/K) events per step; with K = --poisson-k (1000)
    this is ~Poisson(0.2) (K = 1 would cap at one event per step = Bernoulli, a trap).
  * recurrent: all-to-all without autapses, delay 0.1 ms (1 step), w[pre, post] nA from
        rng = np.random.default_rng(seed); W = rng.normal(0, sigma, size=(N, N))
    STP: one resource R per PRESYNAPTIC neuron, dR/dt = (1 - R)/tau_rec (exact: R <- 1-(1-R)e^{-dt/tau}
    each step); at a spike the reset stores Rs = R and depletes R <- R*(1 - U); the synapse
    (delivered one step later) adds w*Rs to I_post. Rs cannot be overwritten before delivery
    because the refractory period is >> one step.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--duration-ms", type=float, default=1000.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--dense-weight-std", type=float, default=0.02,
                   help="sigma of recurrent weights in nA (efficacy after full recovery)")
    p.add_argument("--threads", type=int, default=1,
                   help="cpp_standalone: OpenMP threads (1 -> openmp_threads=0, no OpenMP)")
    p.add_argument("--e-l-mv", type=float, default=-53.0)
    p.add_argument("--stp-u", type=float, default=1.0)
    p.add_argument("--stp-tau-rec-ms", type=float, default=10.0)
    p.add_argument("--bg-rate-hz", type=float, default=2000.0)
    p.add_argument("--bg-weight-pa", type=float, default=90.0)
    p.add_argument("--poisson-k", type=int, default=1000)
    p.add_argument("--mode", choices=["cpp_standalone", "cython", "numpy"], default="cpp_standalone")
    p.add_argument("--build-dir", default=None,
                   help="cpp_standalone project directory (default: a temp dir, deleted afterwards)")
    p.add_argument("--no-recurrent", action="store_true", help="background input only")
    p.add_argument("--rates-out", default=None, help="write per-neuron spike counts (.npy, int64)")
    p.add_argument("--spikes-out", default=None,
                   help="write all spikes (.npz: t_ms float64 = spike time, i int64 = neuron index); "
                        "Brian stamps a spike at the start of its step, NEST at the end: t_ms here is "
                        "Brian's t + dt, i.e. on NEST's convention")
    a = p.parse_args()

    # Keep stdout for the JSON line only: anything the simulator (or make/g++, NEST banner, ...)
    # writes to file descriptor 1 goes to stderr instead.
    sys.stdout.flush()
    json_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    t_py0 = time.perf_counter()
    import brian2 as b2
    from brian2 import ms, mV, pA, nA, pF, Hz

    b2.prefs.logging.console_log_level = "WARNING"
    b2.prefs.logging.std_redirection = False
    b2.prefs.logging.file_log = False
    b2.prefs.logging.delete_log_on_exit = True

    tmpdir = None
    if a.mode == "cpp_standalone":
        build_dir = a.build_dir
        if build_dir is None:
            tmpdir = tempfile.mkdtemp(prefix="brian2_lif_")
            build_dir = tmpdir
        b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0 if a.threads <= 1 else a.threads
    else:
        b2.prefs.codegen.target = a.mode

    N = a.n
    dt = 0.1 * ms
    b2.defaultclock.dt = dt
    b2.seed(a.seed)

    ns = dict(
        C_m=200 * pF, tau_m=1 * ms, tau_syn=10 * ms, E_L=a.e_l_mv * mV, V_th=-50 * mV,
        V_reset=-50.01 * mV, tau_rec=a.stp_tau_rec_ms * ms, U=a.stp_u,
    )
    eqs = """
    dv/dt = (E_L - v)/tau_m + I/C_m : volt (unless refractory)
    dI/dt = -I/tau_syn : amp
    dR/dt = (1 - R)/tau_rec : 1
    Rs : 1
    """
    G = b2.NeuronGroup(N, eqs, threshold="v >= V_th", reset="v = V_reset; Rs = R; R = R*(1 - U)",
                       refractory=10.0 * ms, method="exact", namespace=ns, name="neurons")
    G.v = a.e_l_mv * mV
    G.I = 0 * pA
    G.R = 1.0
    G.Rs = 1.0

    K = a.poisson_k
    bg_ex = b2.PoissonInput(G, "I", K, a.bg_rate_hz / K * Hz, weight=a.bg_weight_pa * pA)
    bg_in = b2.PoissonInput(G, "I", K, a.bg_rate_hz / K * Hz, weight=-a.bg_weight_pa * pA)
    objs = [G, bg_ex, bg_in]

    n_out = 0
    if not a.no_recurrent and N > 1:
        rng = np.random.default_rng(a.seed)
        W = rng.normal(0.0, a.dense_weight_std, size=(N, N))  # nA, [pre, post]
        pre, post = np.nonzero(~np.eye(N, dtype=bool))
        S = b2.Synapses(G, G, "w : amp", on_pre="I_post += w*Rs_pre", delay=dt, name="rec")
        S.connect(i=pre.astype(np.int32), j=post.astype(np.int32))
        S.w = W[pre, post] * nA
        del W
        objs.append(S)
        n_out = N - 1

    mon = b2.SpikeMonitor(G, record=bool(a.spikes_out), name="spk")
    objs.append(mon)
    net = b2.Network(*objs)

    T = a.duration_ms * ms
    compile_s = None
    if a.mode == "cpp_standalone":
        net.run(T)  # only records the run; nothing executes yet
        t_gen = time.perf_counter()
        b2.device.build(directory=build_dir, compile=True, run=False, with_output=False)
        compile_s = time.perf_counter() - t_gen
        py_setup_s = t_gen - t_py0
        t_bin = time.perf_counter()
        b2.device.run(directory=build_dir, with_output=False)
        bin_s = time.perf_counter() - t_bin
        wall_s = float(b2.device._last_run_time)  # time spent inside Network::run (C++)
        setup_s = py_setup_s + (bin_s - wall_s)  # python model construction + binary init/connect/IO
    else:
        # run(0 ms) triggers code generation/compilation (counted as compile_s)
        t_gen = time.perf_counter()
        net.run(0 * ms)
        compile_s = time.perf_counter() - t_gen
        setup_s = t_gen - t_py0
        t0 = time.perf_counter()
        net.run(T)
        wall_s = time.perf_counter() - t0

    counts = np.asarray(mon.count[:], dtype=np.int64)
    if a.spikes_out:
        t_ms = np.asarray(mon.t[:] / ms, dtype=np.float64) + 0.1  # NEST stamps at step end
        ii = np.asarray(mon.i[:], dtype=np.int64)
        order = np.lexsort((ii, t_ms))
        np.savez(a.spikes_out, t_ms=t_ms[order], i=ii[order])
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)
    n_spikes = int(counts.sum())
    n_syn = n_spikes * n_out
    if a.rates_out:
        np.save(a.rates_out, counts)

    out = {
        "simulator": "brian2",
        "version": b2.__version__,
        "mode": a.mode,
        "threads": a.threads,
        "n_neurons": N,
        "duration_ms": a.duration_ms,
        "seed": a.seed,
        "dense_weight_std_na": a.dense_weight_std,
        "e_l_mv": a.e_l_mv,
        "stp_u": a.stp_u,
        "stp_tau_rec_ms": a.stp_tau_rec_ms,
        "setup_s": round(setup_s, 4),
        "compile_s": round(compile_s, 4) if compile_s is not None else None,
        "wall_s": round(wall_s, 4),
        "loadavg_1m": round(os.getloadavg()[0], 2),  # machine load when done (contention hint)
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
