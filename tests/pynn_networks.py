"""PyNN scripts that tests/test_pynn.py runs on lifstp.pynn and on pyNN.nest: the same code, only the
backend module and setup()'s backend-specific arguments differ.

The networks are those of the foundation tests (tests/test_nest.py, bench/peers/nest_lif.py): the
core's default neuron (C_m = 200 pF, tau_m = 1 ms, tau_syn = 10 ms, threshold -50 mV, reset -50.01 mV,
t_ref 9.9 ms = 100 ticks on the core) under a background of 2000 Hz excitatory and inhibitory Poisson
events of ±90 pA, one source of each per neuron.

As a script, for a backend in its own process (NEST in particular):
    python tests/pynn_networks.py BACKEND NETWORK --seed S --out SPIKES.npz
writes the spike times (t_ms) and neuron indices (i) of every neuron.
"""

from __future__ import annotations

import argparse
import importlib

import numpy as np

DT = 0.1
NEURON = dict(cm=0.2, tau_m=1.0, tau_syn_E=10.0, tau_syn_I=10.0, tau_refrac=9.9, v_thresh=-50.0, v_reset=-50.01,
              i_offset=0.0)
BACKGROUND_HZ, BACKGROUND_NA = 2000.0, 0.09


def neurons_with_background(sim, v_rest):
    """IF_curr_exp neurons at leak potentials `v_rest`, each with its own pair of Poisson sources."""
    n = len(v_rest)
    pop = sim.Population(n, sim.IF_curr_exp(v_rest=v_rest, **NEURON), initial_values={"v": v_rest}, label="lif")
    for weight, receptor in ((BACKGROUND_NA, "excitatory"), (-BACKGROUND_NA, "inhibitory")):
        sources = sim.Population(n, sim.SpikeSourcePoisson(rate=BACKGROUND_HZ), label=f"bg_{receptor}")
        sim.Projection(sources, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=weight, delay=DT),
                       receptor_type=receptor)
    return pop


def activation(sim, seed, n=40, t_ms=50_000.0, lo=-56.0, hi=-46.0, **setup):
    """Uncoupled neurons, leak potential swept over [lo, hi]: the activation curve."""
    sim.setup(timestep=DT, rng_seed=seed, **setup)
    pop = neurons_with_background(sim, np.linspace(lo, hi, n))
    pop.record("spikes")
    sim.run(t_ms)
    return _spikes(sim, pop)


def dense_depressing(sim, seed, n=100, t_ms=20_000.0, sigma_na=0.05, u=0.2, tau_rec=100.0, e_l=-53.0, **setup):
    """All-to-all random weights (efficacy W ~ N(0, sigma) nA after full recovery, no autapses) with
    depression, from a connection list (FromListConnector)."""
    sim.setup(timestep=DT, rng_seed=seed, **setup)
    pop = neurons_with_background(sim, np.full(n, e_l))
    w = np.random.default_rng(seed).normal(0.0, sigma_na, size=(n, n))  # [pre, post]
    pre, post = np.nonzero(~np.eye(n, dtype=bool))
    # PyNN's TsodyksMarkramSynapse transmits weight * U * x: weight = W / U gives W at x = 1.
    conns = [(int(i), int(j), float(w[i, j] / u)) for i, j in zip(pre, post)]
    for sign, receptor in ((1, "excitatory"), (-1, "inhibitory")):
        mine = [c for c in conns if np.sign(c[2]) == sign]
        sim.Projection(pop, pop, sim.FromListConnector(mine, column_names=["weight"]),
                       sim.TsodyksMarkramSynapse(U=u, tau_rec=tau_rec, tau_facil=0.0, delay=DT),
                       receptor_type=receptor)
    pop.record("spikes")
    sim.run(t_ms)
    return _spikes(sim, pop)


NETWORKS = {"activation": activation, "dense_depressing": dense_depressing}


def _spikes(sim, pop):
    """(spike times in ms, neuron index), sorted by time then neuron, and end()."""
    trains = pop.get_data("spikes").segments[0].spiketrains
    t = np.concatenate([np.asarray(st.rescale("ms").magnitude) for st in trains] + [np.zeros(0)])
    i = np.concatenate([np.full(len(st), k) for k, st in enumerate(trains)] + [np.zeros(0, int)])
    sim.end()
    order = np.lexsort((i, t))
    return t[order], i[order].astype(np.int64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("backend", help="the PyNN backend module, e.g. pyNN.nest")
    p.add_argument("network", choices=sorted(NETWORKS))
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    t, i = NETWORKS[a.network](importlib.import_module(a.backend), a.seed)
    np.savez(a.out, t_ms=t, i=i)


if __name__ == "__main__":
    main()
