#!/usr/bin/env python3
"""Check that nest_lif.py and brian2_lif.py simulate the same network, spike for spike.

With the Poisson background switched off (--bg-rate-hz 0) and E_L above threshold, the network is
deterministic, so NEST (iaf_psc_exp + tsodyks2_synapse) and Brian2 must produce identical spike
trains (same times, same neurons) for the same weights (same --seed). If the project's float
reference (golden_model.reference.FloatCore) is importable with this interpreter, it is compared too
(its tick k corresponds to NEST time (k + 1) * 0.1 ms).

Run from the repo root with any python that has numpy, e.g. .venv/bin/python bench/peers/check_equivalence.py
Exit status 0 if all compared spike trains are identical.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NEST_PY = os.path.join(ROOT, ".peers", "nest", "bin", "python")
BRIAN_PY = os.path.join(ROOT, ".peers", "brian2", "bin", "python")
HERE = os.path.dirname(os.path.abspath(__file__))

CASES = [  # (E_L mV, sigma nA, U, tau_rec ms)
    (-49.9, 0.05, 0.5, 50.0),
    (-45.0, 0.5, 0.5, 50.0),
    (-45.0, 2.0, 1.0, 10.0),
    (-49.9, 0.3, 0.2, 100.0),
]
N, T_MS, SEED = 200, 500.0, 1


def run(py, script, args, spikes):
    out = subprocess.run([py, os.path.join(HERE, script), *args, "--spikes-out", spikes],
                         capture_output=True, text=True, check=True).stdout
    z = np.load(spikes)
    return json.loads(out), z["t_ms"], z["i"]


def same(a, b):
    return a[0].size == b[0].size and np.allclose(a[0], b[0], atol=1e-6) and bool((a[1] == b[1]).all())


def float_core(el, sigma, U, tau_rec):
    sys.path.insert(0, ROOT)
    from golden_model.reference import FloatCore
    from golden_model.spec import ModelParams

    w_pa = np.random.default_rng(SEED).normal(0.0, sigma, size=(N, N)) * 1000.0
    np.fill_diagonal(w_pa, 0.0)
    p = ModelParams(noise_rate_exc_hz=0.0, noise_rate_inh_hz=0.0, stp_u=U, stp_tau_rec_ms=tau_rec)
    t, i = FloatCore(p, np.full(N, el), w_pa, seed=SEED).run(int(round(T_MS / 0.1)))
    t_ms = (t.astype(np.float64) + 1.0) * 0.1
    i = i.astype(np.int64)
    o = np.lexsort((i, t_ms))
    return t_ms[o], i[o]


def main():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        for el, sigma, U, tau_rec in CASES:
            args = ["--n", str(N), "--duration-ms", str(T_MS), "--seed", str(SEED), "--bg-rate-hz", "0",
                    "--e-l-mv", str(el), "--dense-weight-std", str(sigma), "--stp-u", str(U),
                    "--stp-tau-rec-ms", str(tau_rec)]
            jn, tn, i_n = run(NEST_PY, "nest_lif.py", args, os.path.join(d, "n.npz"))
            jb, tb, i_b = run(BRIAN_PY, "brian2_lif.py", args, os.path.join(d, "b.npz"))
            res = {"nest_spikes": jn["n_spikes"], "brian2_spikes": jb["n_spikes"],
                   "nest==brian2": same((tn, i_n), (tb, i_b))}
            ok &= res["nest==brian2"]
            try:
                tf, i_f = float_core(el, sigma, U, tau_rec)
                res["floatcore_spikes"] = int(tf.size)
                res["nest==floatcore"] = same((tn, i_n), (tf, i_f))
                ok &= res["nest==floatcore"]
            except Exception as e:  # project code absent/changed or interpreter lacks numba
                res["floatcore"] = f"skipped ({type(e).__name__}: {e})"
            print(json.dumps({"E_L": el, "sigma_nA": sigma, "U": U, "tau_rec_ms": tau_rec, **res}))
    print("equivalence:", "OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
