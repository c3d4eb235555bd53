"""NIR graphs (docs/nir.md): the exported file reads back with `nir.read` and runs to the same spikes as
`lifstp sample` with the same seed (BM.npz and FIT.npz); a graph built with the `nir` package alone
runs and matches the float reference; graphs the core cannot represent are refused by the node."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from lifstp.bm import BoltzmannMachine, random_bm, save
from lifstp.cli import main
from lifstp.device import open_device
from lifstp.fitting import Fit
from lifstp.golden_model.reference import FloatCore
from lifstp.golden_model.spec import Formats, ModelParams
from lifstp.mapping import map_bm
from lifstp.sampling import calibration_for, sampling_params

from foundation import assert_counts_agree  # tests/foundation.py

DURATION_MS = "3000"
#: Depressing synapses, the same in every test here (one calibration, shared by the tests).
STP = (0.3, 100.0)
STP_ARGS = ["--stp-u", str(STP[0]), "--stp-tau-rec-ms", str(STP[1])]


def _spikes(path):
    with np.load(path) as run:
        return run["spike_tick"], run["spike_neuron"]


@pytest.fixture(scope="module")
def bm_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("nir") / "bm.npz"
    save(path, random_bm(6, np.random.default_rng(3), 0.8))
    return path


def test_export_reads_back_and_runs_as_sample(bm_file, tmp_path, capsys):
    net_file, via_nir, via_sample = tmp_path / "net.nir", tmp_path / "nir_run.npz", tmp_path / "sample_run.npz"
    assert main(["nir", "export", str(bm_file), "--out", str(net_file), *STP_ARGS]) == 0
    graph = nir.read(net_file)
    lif = graph.nodes["lif"]
    assert isinstance(lif, nir.CubaLIF) and isinstance(graph.nodes["recurrent"], nir.Linear)
    assert {("lif", "recurrent"), ("recurrent", "lif")} <= set(graph.edges)
    # The Linear edge holds the core's weights in pA ([post, pre]), the population the core's parameters.
    params = sampling_params(*STP)
    mapped = map_bm(BoltzmannMachine(*_load_bm(bm_file)), params, calibration_for(open_device("golden"), params))
    np.testing.assert_array_equal(graph.nodes["recurrent"].weight, mapped.weights_pa.T)
    np.testing.assert_array_equal(lif.v_leak, mapped.e_l_mv)
    assert lif.metadata["synapse_dynamics"]["U"] == 0.3 and lif.metadata["synapse_dynamics"]["tau_rec"] == 100.0
    assert lif.metadata["tau_refrac"] == params.tau_ref_ms and lif.metadata["cm"] == pytest.approx(0.2)
    assert main(["nir", "run", str(net_file), "--duration-ms", DURATION_MS, "--seed", "11", "--out", str(via_nir)]) == 0
    assert main(["sample", str(bm_file), "--duration-ms", DURATION_MS, "--seed", "11", *STP_ARGS,
                 "--out", str(via_sample)]) == 0
    a, b = _spikes(via_nir), _spikes(via_sample)
    assert a[0].size > 100
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def _load_bm(path):
    with np.load(path) as data:
        return data["W"], data["b"]


def test_fit_file_exports_the_fitted_network(bm_file, tmp_path):
    """A FIT.npz exports the network it fitted (not the calibrated mapping): same spikes as sample --fit."""
    bm = BoltzmannMachine(*_load_bm(bm_file))
    params = sampling_params(*STP)
    cal = calibration_for(open_device("golden"), params)
    fitted = BoltzmannMachine(bm.W * 1.3, bm.b - 0.4)  # any other machine: the export must follow it
    fit_file = tmp_path / "fit.npz"
    Fit(bm, fitted, params, cal, Formats(), "test", converged=True, final_mean_error=0.01).save(fit_file)
    net_file, via_nir, via_sample = tmp_path / "net.nir", tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["nir", "export", str(fit_file), "--out", str(net_file)]) == 0
    np.testing.assert_array_equal(nir.read(net_file).nodes["lif"].v_leak, map_bm(fitted, params, cal).e_l_mv)
    assert main(["nir", "run", str(net_file), "--duration-ms", DURATION_MS, "--seed", "4", "--out", str(via_nir)]) == 0
    assert main(["sample", str(bm_file), "--fit", str(fit_file), "--duration-ms", DURATION_MS, "--seed", "4",
                 *STP_ARGS, "--out", str(via_sample)]) == 0
    for x, y in zip(_spikes(via_nir), _spikes(via_sample)):
        np.testing.assert_array_equal(x, y)


def _hand_built(n=40, seed=9, w_in=1.0, **lif_overrides):
    """A CubaLIF population with a recurrent Linear edge, written with the nir package only: NIR's
    current equation τ_syn dI/dt = −I + w_in·W s, so W (pA·ms here, w_in = 1) over τ_syn is the jump."""
    rng = np.random.default_rng(seed)
    w_jump_pa = rng.normal(0.0, 150.0, (n, n))
    np.fill_diagonal(w_jump_pa, 0.0)
    tau_syn = 10.0
    lif = dict(tau_syn=np.full(n, tau_syn), tau_mem=np.full(n, 1.0), r=np.full(n, 1.0 / 200.0),
               v_leak=rng.uniform(-54.0, -48.0, n), v_threshold=np.full(n, -50.0), v_reset=np.full(n, -50.01),
               w_in=np.full(n, w_in),
               metadata={"tau_refrac": 10.0, "synapse_dynamics": {"U": 0.2, "tau_rec": 200.0}})
    lif.update(lif_overrides)
    nodes = {"in": nir.Input(input_type=np.array([n])), "pop": nir.CubaLIF(**lif),
             "w": nir.Linear(weight=w_jump_pa.T * tau_syn / w_in), "out": nir.Output(output_type=np.array([n]))}
    edges = [("in", "pop"), ("pop", "w"), ("w", "pop"), ("pop", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges), lif["v_leak"], w_jump_pa


def test_hand_built_graph_matches_the_float_reference(tmp_path):
    """Per-neuron spike counts of the graph run on the golden device against the float64 reference of
    the same network (set up from the numbers above, not from the importer): z-scores below 5 and
    total counts within 2 %, the tolerance of the golden model against the float reference."""
    graph, e_l, w_pa = _hand_built()
    path, out = tmp_path / "hand.nir", tmp_path / "run.npz"
    nir.write(path, graph)
    assert main(["nir", "run", str(path), "--duration-ms", "20000", "--seed", "5", "--out", str(out)]) == 0
    _, neurons = _spikes(out)
    n = e_l.size
    ref = FloatCore(ModelParams(stp_u=0.2, stp_tau_rec_ms=200.0), e_l, w_pa, seed=5)
    _, ref_neurons = ref.run(200_000)
    cg = np.bincount(neurons, minlength=n).astype(float)
    cf = np.bincount(ref_neurons, minlength=n).astype(float)
    assert cf.sum() > 20_000
    assert_counts_agree(cg, cf)


def _write(tmp_path, nodes, edges, name="bad.nir"):
    path = tmp_path / name
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    return path


def _refused(tmp_path, capsys, path, needle):
    out = tmp_path / "run.npz"
    assert main(["nir", "run", str(path), "--duration-ms", "10", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lifstp: error: ") and "\n" not in err and needle in err, err
    assert not out.exists()
    return err


def test_refusals_name_the_node(tmp_path, capsys):
    n = 3
    graph, _, _ = _hand_built(n)
    pop, w = graph.nodes["pop"], graph.nodes["w"]
    lif = nir.LIF(tau=np.ones(n), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    # A neuron model the core does not have.
    _refused(tmp_path, capsys, _write(tmp_path, {"cells": lif, "w": w}, [("cells", "w"), ("w", "cells")]),
             "node 'cells' (LIF)")
    # Two populations.
    err = _refused(tmp_path, capsys, _write(tmp_path, {"a": pop, "b": nir.CubaLIF(**_lif_args(pop)), "w": w},
                                            [("a", "w"), ("w", "b")]), "2 CubaLIF nodes")
    assert "'b' is one too many" in err
    # A connection that is not recurrent (a feed-forward Linear from the Input).
    _refused(tmp_path, capsys, _write(tmp_path, {"in": nir.Input(input_type=np.array([n])), "ff": w, "pop": pop},
                                      [("in", "ff"), ("ff", "pop")]), "edge 'in' -> 'ff'")
    # Parameters the core holds once for all neurons, given per neuron.
    graph, _, _ = _hand_built(n, tau_mem=np.array([1.0, 2.0, 1.0]))
    _refused(tmp_path, capsys, _write(tmp_path, graph.nodes, graph.edges),
             "node 'pop' (CubaLIF): tau_mem differs between neurons")
    # Facilitation.
    graph, _, _ = _hand_built(n, metadata={"synapse_dynamics": {"U": 0.2, "tau_rec": 100.0, "tau_facil": 50.0}})
    _refused(tmp_path, capsys, _write(tmp_path, graph.nodes, graph.edges), "tau_facil")
    # A node of another kind (a delay) on the loop.
    delay = nir.Delay(delay=np.ones(n))
    _refused(tmp_path, capsys, _write(tmp_path, {"pop": pop, "w": w, "d": delay}, [("pop", "w"), ("w", "d"),
                                                                                  ("d", "pop")]), "node 'd' (Delay)")
    # Not a NIR file at all.
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    _refused(tmp_path, capsys, tmp_path / "junk.nir", "not a readable NIR graph")


def _lif_args(node):
    return {k: getattr(node, k) for k in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")}
