"""lifstp.pynn, the PyNN backend, against its peers: the same PyNN scripts on PyNN's NEST backend
(rates and activation curve within the tolerances of tests/test_nest.py), the same network loaded
directly onto the golden device, and golden against verilator spike for spike; and the refusals of
what the core cannot represent.

PyNN's NEST backend runs with spike_precision="on_grid": its default ("off_grid") simulates IF_curr_exp
as NEST's precise-timing iaf_psc_exp_ps, while the core is the grid-constrained iaf_psc_exp.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import neo
import numpy as np
import pytest

import lifstp.pynn as sim
from lifstp.device import GoldenDevice
from lifstp.errors import InputError, UnrepresentableError
from lifstp.golden_model.spec import ModelParams
from lifstp.network import Network

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pynn_networks as N  # noqa: E402
from foundation import assert_curves_agree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(N.__file__)

pytestmark = pytest.mark.filterwarnings("ignore:lifstp.pynn. TsodyksMarkramSynapse runs as:UserWarning")


def on_nest(tmp_path, network: str, seed: int):
    """Spike times and neurons of a pynn_networks script run on pyNN.nest in its own process."""
    out = tmp_path / f"{network}.npz"
    code = (f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); import numpy as np; import pyNN.nest as sim; "
            f"import pynn_networks as N; t, i = N.{network}(sim, {seed}, spike_precision='on_grid'); "
            f"np.savez({str(out)!r}, t_ms=t, i=i)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PYNEST_QUIET": "1", "PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    z = np.load(out)
    return z["t_ms"], z["i"]


# --- against PyNN's NEST backend -------------------------------------------------------------------

def test_activation_curve_agrees_with_pynn_nest(tmp_path):
    """The script of the foundation test's activation curve (40 uncoupled neurons, leak swept over
    -56 .. -46 mV, 50 s) on this backend and on pyNN.nest: fitted v_p05 within 0.06 mV, alpha within
    3 %, every point within 0.06 in p_on (tests/test_nest.py: test_activation_curve_agrees_with_nest)."""
    n, t_ms, lo, hi, seed = 40, 50_000.0, -56.0, -46.0, 4
    _, nest_i = on_nest(tmp_path, "activation", seed)
    _, core_i = N.activation(sim, seed)
    n_ticks, tau_ref_ticks = round(t_ms / N.DT), ModelParams().tau_ref_ticks
    e_l = np.linspace(lo, hi, n)
    p_nest = np.bincount(nest_i, minlength=n) * tau_ref_ticks / n_ticks
    p_core = np.bincount(core_i, minlength=n) * tau_ref_ticks / n_ticks
    assert_curves_agree(e_l, p_nest, p_core, ("pyNN.nest", "lifstp.pynn"))


def test_recurrent_rates_with_depression_agree_with_pynn_nest(tmp_path):
    """The foundation test's dense random network with background and depression (U = 0.2, tau_rec =
    100 ms, 20 s) from a FromListConnector: mean rate within 3 %, per-neuron counts within 5 sd
    (tests/test_nest.py: test_recurrent_rates_with_depression_agree_with_nest)."""
    n, t_ms, seed = 100, 20_000.0, 5
    _, nest_i = on_nest(tmp_path, "dense_depressing", seed)
    _, core_i = N.dense_depressing(sim, seed)
    cn = np.bincount(nest_i, minlength=n).astype(float)
    cc = np.bincount(core_i, minlength=n).astype(float)
    print(f"pyNN.nest {cn.sum() / n / t_ms * 1e3:.2f} Hz, lifstp.pynn {cc.sum() / n / t_ms * 1e3:.2f} Hz")
    assert cn.sum() > 10_000
    assert abs(cc.sum() / cn.sum() - 1) < 0.03
    assert np.abs((cc - cn) / np.sqrt(cc + cn + 1.0)).max() < 5.0


# --- against the core loaded directly, and across devices --------------------------------------------

def small_network(device: str, tmp_path, t_ms: float = 1000.0, runs=None):
    """5 neurons in two populations (the configuration tests/test_verilator_device.py builds), background,
    all-to-all depressing synapses inside the first and a connection file from it to the second."""
    conn_file = tmp_path / "a_to_b.txt"
    np.savetxt(conn_file, [(0, 0, -0.3), (2, 1, -0.5), (1, 1, -0.2)], header='columns = ["i", "j", "weight"]')
    sim.setup(timestep=N.DT, device=device, rng_seed=7)
    v_a, v_b = np.array([-52.0, -51.0, -50.5]), np.array([-51.5, -53.0])
    a = sim.Population(3, sim.IF_curr_exp(v_rest=v_a, **N.NEURON), initial_values={"v": v_a}, label="a")
    b = sim.Population(2, sim.IF_curr_exp(v_rest=v_b, **N.NEURON), initial_values={"v": v_b}, label="b")
    everyone = a + b
    for weight, receptor in ((N.BACKGROUND_NA, "excitatory"), (-N.BACKGROUND_NA, "inhibitory")):
        sources = sim.Population(5, sim.SpikeSourcePoisson(rate=N.BACKGROUND_HZ))
        sim.Projection(sources, everyone, sim.OneToOneConnector(), sim.StaticSynapse(weight=weight),
                       receptor_type=receptor)
    tm = dict(U=0.3, tau_rec=80.0)
    sim.Projection(a, a, sim.AllToAllConnector(allow_self_connections=False), sim.TsodyksMarkramSynapse(weight=0.4, **tm))
    sim.Projection(a, b, sim.FromFileConnector(str(conn_file)), sim.TsodyksMarkramSynapse(**tm),
                   receptor_type="inhibitory")
    everyone.record("spikes")
    for t in runs or [t_ms]:
        sim.run(t)
    block = everyone.get_data()
    sim.end()
    return block


def trains(block):
    return [np.asarray(st.rescale("ms").magnitude) for st in block.segments[0].spiketrains]


def test_golden_equals_verilator_through_pynn(tmp_path):
    golden = trains(small_network("golden", tmp_path))
    verilator = trains(small_network("verilator", tmp_path))
    assert sum(len(t) for t in golden) > 100
    assert len(golden) == len(verilator) == 5
    for g, v in zip(golden, verilator):
        np.testing.assert_array_equal(g, v)


def test_pynn_network_is_the_core_network_loaded_directly(tmp_path):
    """The same network written as a lifstp Network (core parameters, leak potentials, weights in pA at
    R = 1: 1000·w·U) and run on the golden device: the same spikes, at (tick + 1)·dt; a run in two
    pieces gives the same spikes as one (the segment is rerun from t = 0, deterministically)."""
    block = small_network("golden", tmp_path, runs=[400.0, 600.0])
    assert isinstance(block, neo.Block) and block.segments[0].spiketrains[0].t_stop == 1000.0
    params = ModelParams(stp_u=0.3, stp_tau_rec_ms=80.0)  # the foundation neuron is the core's default
    w = np.zeros((5, 5))
    w[:3, :3] = 0.4 * 0.3 * 1000.0
    np.fill_diagonal(w, 0.0)
    w[0, 3], w[2, 4], w[1, 4] = np.array([-0.3, -0.5, -0.2]) * 0.3 * 1000.0
    net = Network(params, np.array([-52.0, -51.0, -50.5, -51.5, -53.0]), w)
    run = GoldenDevice().run(net, 10_000, seed=7)
    direct = [(run.spike_tick[run.spike_neuron == k] + 1) * 0.1 for k in range(5)]
    for got, want in zip(trains(block), direct):
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert sum(len(t) for t in direct) > 100


def test_reset_starts_a_new_segment_from_the_initial_state():
    sim.setup(timestep=N.DT, rng_seed=3)
    pop = N.neurons_with_background(sim, np.full(4, -51.0))
    pop.record("spikes")
    sim.run(300.0)
    sim.reset()
    sim.run(300.0)
    block = pop.get_data()
    sim.end()
    first, second = ([np.asarray(st) for st in seg.spiketrains] for seg in block.segments)
    assert len(block.segments) == 2 and sum(map(len, first)) > 10
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# --- the README's example ----------------------------------------------------------------------------

def test_readme_pynn_example_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("### PyNN", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 8 <= len(code.strip().splitlines()) <= 20
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "README.md:PyNN", "exec"), namespace)
    counts = [len(st) for st in namespace["cells"].get_data().segments[0].spiketrains]
    assert len(counts) == 8 and counts[0] < counts[-1]  # the leak potential rises along the population


# --- refusals ---------------------------------------------------------------------------------------

def neuron(**over):
    return sim.IF_curr_exp(**{**N.NEURON, "v_rest": -51.0, **over})


def population(n=3, **over):
    return sim.Population(n, neuron(**over), initial_values={"v": over.get("v_rest", -51.0)})


def background(pop, rate=2000.0, connector=None, n=None):
    sources = sim.Population(n or pop.size, sim.SpikeSourcePoisson(rate=rate))
    return sim.Projection(sources, pop, connector or sim.OneToOneConnector(), sim.StaticSynapse(weight=0.09))


def _tm(**p):
    return sim.TsodyksMarkramSynapse(**p)


CONSTRUCTION = {
    "conductance-based neuron": (lambda: sim.IF_cond_exp(), "conductance-based"),
    "alpha synapses": (lambda: sim.IF_curr_alpha(), "not alpha-shaped"),
    "another backend's cell type": (lambda: sim.Population(2, __import__("pyNN.mock").mock.IF_curr_exp()),
                                    "pyNN.mock.standardmodels.IF_curr_exp is not a cell type of lifstp.pynn"),
    "spike array": (lambda: sim.SpikeSourceArray(spike_times=[1.0]), "no spikes from outside"),
    "current source": (lambda: sim.DCSource(amplitude=0.1), "no current injection"),
    "STDP": (lambda: sim.STDPMechanism(), "no STDP"),
    "facilitation": (lambda: _tm(tau_facil=50.0), "do not facilitate"),
    "two synaptic time constants": (lambda: population(tau_syn_I=5.0), "one synaptic time constant"),
    "tau_m varying within a population": (lambda: population(tau_m=np.array([1.0, 2.0, 1.0])),
                                          "tau_m differs from neuron to neuron"),
    "tau_m differing between populations": (lambda: (population(), population(tau_m=2.0)), "one tau_m"),
    "a delay of 1 ms": (lambda: sim.Projection(population(), population(), sim.AllToAllConnector(),
                                               sim.StaticSynapse(weight=0.1, delay=1.0)), "one tick"),
    "positive inhibitory weight": (lambda: sim.Projection(population(), population(), sim.AllToAllConnector(),
                                                          sim.StaticSynapse(weight=0.1), receptor_type="inhibitory"),
                                   "Weights must be negative", sim.errors.ConnectionError),
    "static and depressing synapses": (lambda: (lambda p: (
        sim.Projection(p, p, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1)),
        sim.Projection(p, p, sim.AllToAllConnector(), _tm(weight=0.1))))(population()), "one U and tau_rec"),
    "two values of U": (lambda: (lambda p: (
        sim.Projection(p, p, sim.AllToAllConnector(), _tm(weight=0.1, U=0.2)),
        sim.Projection(p, p, sim.AllToAllConnector(), _tm(weight=0.1, U=0.5))))(population()), "one U and tau_rec"),
    "a source shared by all neurons": (lambda: background(population(), connector=sim.AllToAllConnector(), n=1),
                                       "independent for each neuron"),
    "depressing background": (lambda: sim.Projection(sim.Population(3, sim.SpikeSourcePoisson()), population(),
                                                     sim.OneToOneConnector(), _tm(weight=0.1)), "not depressed"),
    "recording v": (lambda: population().record("v"), "spikes only"),
    "recording the background": (lambda: sim.Population(2, sim.SpikeSourcePoisson()).record("spikes"),
                                 "does not report"),
    "min_delay": (lambda: sim.setup(timestep=0.1, min_delay=1.0), "one tick"),
    "unknown device": (lambda: sim.setup(device="gpu"), "unknown device"),
}


@pytest.mark.parametrize("case", sorted(CONSTRUCTION))
def test_unrepresentable_models_are_refused_at_construction(case):
    make, message, *kind = CONSTRUCTION[case]
    sim.setup(timestep=0.1)
    # UnrepresentableError; InputError for a device's name; PyNN's own error where PyNN checks first
    with pytest.raises(kind[0] if kind else InputError) as info:
        make()
    assert message in str(info.value) and "\n" not in str(info.value)


def _initial_v():
    pop = sim.Population(2, neuron(v_rest=-51.0))  # PyNN's default initial v is -65 mV
    return pop


def _background_to_some():
    pop = population(4)
    sim.Projection(sim.Population(2, sim.SpikeSourcePoisson(rate=2000.0)), pop,
                   sim.FromListConnector([(0, 0), (1, 1)]), sim.StaticSynapse(weight=0.09))


def _changed_mid_run():
    pop = population()
    sim.run(10.0)
    pop.set(v_rest=-49.0)
    pop.initialize(v=-49.0)


AT_RUN = {
    "initial v away from the leak potential": (_initial_v, "initialize(v=...)"),
    "background to some neurons": (_background_to_some, "reach 2 of the 4 neurons"),
    "background rate beyond the core's draw": (lambda: background(population(), rate=40_000.0), "events per tick"),
    "refractory period off the tick grid": (lambda: population(tau_refrac=0.25), "whole number of ticks"),
    "weights beyond the format": (lambda: sim.Projection(population(), population(), sim.AllToAllConnector(),
                                                         sim.StaticSynapse(weight=50.0)), "weight format"),
    "network changed during a run": (_changed_mid_run, "call reset() first"),
}


@pytest.mark.parametrize("case", sorted(AT_RUN))
def test_unrepresentable_networks_are_refused_at_run(case):
    make, message = AT_RUN[case]
    sim.setup(timestep=0.1)
    make()
    with pytest.raises(UnrepresentableError) as info:
        sim.run(10.0)
    assert message in str(info.value) and "\n" not in str(info.value)
    sim.end()
