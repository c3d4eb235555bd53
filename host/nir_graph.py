"""Networks on the core as NIR graphs (the Neuromorphic Intermediate Representation, `nir` package),
and NIR graphs as networks on the core (docs/nir.md).

A network on the core (lifstp.network.Network) is one population of current-based LIF neurons with
one exponential synaptic current each and all-to-all recurrent weights. In NIR that is a `CubaLIF`
node with a recurrent `Linear` edge:

    Input -> lif -> Output,   lif -> recurrent -> lif.

NIR's CubaLIF obeys τ_syn dI/dt = −I + w_in·(W s), τ_mem dv/dt = (v_leak − v) + r·I, spike when v
crosses v_threshold, then v = v_reset. The core's equations are the same with r = τ_m / C_m and a
spike of neuron i raising the current of neuron j by weights_pa[i, j]; the exporter writes the Linear
weight as weights_pa transposed (NIR's W is [post, pre]) in pA and w_in = τ_syn, so that a spike
raises I by w_in·W/τ_syn = W pA exactly. Units throughout: ms, mV, pA, GΩ (mV/pA).

What NIR has no field for (the background noise, the refractory time, the clamp modes, the
Tsodyks-Markram parameters, the tick) goes into the CubaLIF node's metadata under PyNN's parameter
names and in PyNN's units (`PYNN_UNITS`); a graph without them gets the core's defaults.
"""

from __future__ import annotations

import io
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from lifstp.golden_model.spec import ClampMode, ModelError, ModelParams

from .errors import GraphError, InputError
from .network import Network

#: Version of the metadata layout the exporter writes (metadata key `lifstp_nir_version`).
NIR_METADATA_VERSION = 1
#: Units of the NIR node parameters the exporter writes and the importer assumes.
NIR_UNITS = "time ms, voltage mV, current pA, resistance GOhm (mV/pA), synaptic weight pA with w_in = tau_syn"
#: Units of the metadata, which uses PyNN's names: PyNN's standard units.
PYNN_UNITS = "time ms, voltage mV, current nA, capacitance nF, rate Hz"
#: nA per pA and nF per pF: PyNN's units against the core's.
_PER_PICO = 1e-3

#: The names of the nodes the exporter writes.
LIF_NODE, EDGE_NODE, INPUT_NODE, OUTPUT_NODE = "lif", "recurrent", "input", "output"


def _nir():
    try:
        import nir
    except ImportError as exc:  # a dependency of lifstp: only a broken installation lacks it
        raise InputError(f"the nir package is missing ({exc}); reinstall lifstp") from None
    return nir


def _pynn_metadata(params: ModelParams, clamp: np.ndarray) -> dict:
    """What the CubaLIF node cannot say, under PyNN's names (IF_curr_exp, SpikeSourcePoisson,
    TsodyksMarkramSynapse, setup's timestep), in PyNN's units."""
    return {
        "lifstp_nir_version": NIR_METADATA_VERSION,
        "units": NIR_UNITS,
        "pynn_units": PYNN_UNITS,
        "timestep": params.dt_ms,
        "cm": params.c_m_pf * _PER_PICO,
        "tau_refrac": params.tau_ref_ms,
        "noise_exc": {"rate": params.noise_rate_exc_hz, "weight": params.noise_weight_exc_pa * _PER_PICO,
                      "receptor_type": "excitatory"},
        "noise_inh": {"rate": params.noise_rate_inh_hz, "weight": params.noise_weight_inh_pa * _PER_PICO,
                      "receptor_type": "inhibitory"},
        "synapse_dynamics": {"model": "TsodyksMarkramSynapse", "U": params.stp_u, "tau_rec": params.stp_tau_rec_ms,
                             "tau_facil": 0.0},
        "clamp": np.asarray(clamp, dtype=np.int64),
        "clamp_modes": ", ".join(f"{int(m)} {m.name}" for m in ClampMode),
    }


def network_to_graph(network: Network, metadata: dict | None = None):
    """The NIR graph of `network`: Input -> CubaLIF -> Output with a recurrent Linear edge holding the
    core's weights in pA; `metadata` is added to the graph's own (where the network came from)."""
    nir = _nir()
    p, n = network.params, network.n
    full = lambda x: np.full(n, float(x))  # noqa: E731  (NIR's neuron parameters are per neuron)
    lif = nir.CubaLIF(tau_syn=full(p.tau_syn_ms), tau_mem=full(p.tau_m_ms), r=full(p.tau_m_ms / p.c_m_pf),
                      v_leak=np.array(network.e_l_mv, dtype=np.float64), v_threshold=full(p.v_th_mv),
                      v_reset=full(p.v_reset_mv), w_in=full(p.tau_syn_ms),
                      metadata=_pynn_metadata(p, network.clamp))
    edge = nir.Linear(weight=np.ascontiguousarray(network.weights_pa.T, dtype=np.float64))
    nodes = {INPUT_NODE: nir.Input(input_type=np.array([n])), LIF_NODE: lif, EDGE_NODE: edge,
             OUTPUT_NODE: nir.Output(output_type=np.array([n]))}
    edges = [(INPUT_NODE, LIF_NODE), (LIF_NODE, EDGE_NODE), (EDGE_NODE, LIF_NODE), (LIF_NODE, OUTPUT_NODE)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"producer": "lifstp", **(metadata or {})})


def write_graph(graph, out) -> None:
    """Write `graph` as a NIR (HDF5) file to an open binary file (written only, never read back)."""
    buf = io.BytesIO()  # HDF5 seeks and reads while it writes: build the file in memory first
    _nir().write(buf, graph)
    out.write(buf.getvalue())


def read_graph(path: str | Path):
    """Read a NIR file; InputError if it is missing or not a NIR graph."""
    nir = _nir()
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        return nir.read(path, type_check=False)  # the shapes are checked against the core (graph_to_network)
    except Exception as exc:  # h5py and nir raise OSError, KeyError, ValueError, AssertionError, ...
        raise InputError(f"{path}: not a readable NIR graph ({type(exc).__name__}: {exc})") from None


def _uniform(node_name: str, node, attr: str, n: int) -> float:
    """The one value of a per-neuron NIR parameter the core holds in one register."""
    a = np.asarray(getattr(node, attr), dtype=np.float64).reshape(-1)
    if a.size not in (1, n) or not np.isfinite(a).all():
        raise GraphError(f"node {node_name!r} (CubaLIF): {attr} must hold {n} finite values, got {a.size}")
    if a.min() != a.max():
        raise GraphError(f"node {node_name!r} (CubaLIF): {attr} differs between neurons ({a.min():g} .. {a.max():g}); "
                         "the core has one value for all neurons")
    return float(a[0])


def _per_neuron(node_name: str, node, attr: str, n: int) -> np.ndarray:
    a = np.asarray(getattr(node, attr), dtype=np.float64).reshape(-1)
    if a.size == 1:
        a = np.full(n, a[0])
    if a.size != n or not np.isfinite(a).all():
        raise GraphError(f"node {node_name!r} (CubaLIF): {attr} must hold {n} finite values")
    return a


def _meta_number(meta: dict, key: str, default: float, where: str) -> float:
    value = meta.get(key, default)
    try:
        value = float(np.asarray(value).reshape(-1)[0]) if np.size(value) == 1 else value
    except (TypeError, ValueError):
        pass
    if not isinstance(value, float):
        raise GraphError(f"{where}: metadata {key} must be a number, got {value!r}")
    return value


def _params_from(node_name: str, lif, n: int, base: ModelParams) -> ModelParams:
    """The core's parameters from a CubaLIF node and its metadata (PyNN names; absent: `base`)."""
    where = f"node {node_name!r} (CubaLIF)"
    meta = dict(lif.metadata or {})
    tau_m = _uniform(node_name, lif, "tau_mem", n)
    r = _uniform(node_name, lif, "r", n)
    if not r > 0:
        raise GraphError(f"{where}: r must be positive (the membrane's resistance), got {r:g}")
    stp = meta.get("synapse_dynamics", {}) or {}
    exc, inh = meta.get("noise_exc", {}) or {}, meta.get("noise_inh", {}) or {}
    if not all(isinstance(d, dict) for d in (stp, exc, inh)):
        raise GraphError(f"{where}: metadata synapse_dynamics, noise_exc and noise_inh must be groups of values")
    if float(np.asarray(stp.get("tau_facil", 0.0))) != 0.0:
        raise GraphError(f"{where}: synapse_dynamics has tau_facil = {stp['tau_facil']}; the core depresses, "
                         "it does not facilitate")
    values = dict(
        dt_ms=_meta_number(meta, "timestep", base.dt_ms, where),
        tau_m_ms=tau_m, c_m_pf=tau_m / r, tau_syn_ms=_uniform(node_name, lif, "tau_syn", n),
        tau_ref_ms=_meta_number(meta, "tau_refrac", base.tau_ref_ms, where),
        v_th_mv=_uniform(node_name, lif, "v_threshold", n), v_reset_mv=_uniform(node_name, lif, "v_reset", n),
        noise_rate_exc_hz=_meta_number(exc, "rate", base.noise_rate_exc_hz, where + " noise_exc"),
        noise_rate_inh_hz=_meta_number(inh, "rate", base.noise_rate_inh_hz, where + " noise_inh"),
        noise_weight_exc_pa=_meta_number(exc, "weight", base.noise_weight_exc_pa * _PER_PICO,
                                         where + " noise_exc") / _PER_PICO,
        noise_weight_inh_pa=_meta_number(inh, "weight", base.noise_weight_inh_pa * _PER_PICO,
                                         where + " noise_inh") / _PER_PICO,
        stp_u=_meta_number(stp, "U", base.stp_u, where + " synapse_dynamics"),
        stp_tau_rec_ms=_meta_number(stp, "tau_rec", base.stp_tau_rec_ms, where + " synapse_dynamics"))
    if "cm" in meta:  # an exported graph says C_m itself: take it rather than tau_m / r (one rounding less)
        cm = _meta_number(meta, "cm", 0.0, where) / _PER_PICO
        if abs(cm - values["c_m_pf"]) > 1e-9 * cm:
            raise GraphError(f"{where}: metadata cm = {cm * _PER_PICO:g} nF disagrees with tau_mem / r = "
                             f"{values['c_m_pf'] * _PER_PICO:g} nF")
        values["c_m_pf"] = cm
    assert {f.name for f in fields(ModelParams)} == set(values)
    try:
        return replace(base, **values)
    except ModelError as exc:
        raise GraphError(f"{where}: {exc}") from None


def graph_to_network(graph, base: ModelParams | None = None) -> Network:
    """The network on the core that a NIR graph describes: one CubaLIF population, at most one recurrent
    Linear or Affine edge (lif -> edge -> lif), Input and Output nodes (the core has no external input:
    an Input receives nothing). GraphError names the first node or edge that does not fit."""
    nir = _nir()
    base = base or ModelParams()
    lifs, edges_nodes = [], []
    for name, node in graph.nodes.items():
        if isinstance(node, nir.CubaLIF):
            lifs.append(name)
        elif isinstance(node, (nir.Linear, nir.Affine)):
            edges_nodes.append(name)
        elif not isinstance(node, (nir.Input, nir.Output)):
            raise GraphError(f"node {name!r} ({type(node).__name__}) cannot run on the core: it runs one CubaLIF "
                             "population with a recurrent Linear or Affine edge (and Input/Output nodes)")
    if len(lifs) != 1:
        raise GraphError(f"the graph has {len(lifs)} CubaLIF nodes ({', '.join(map(repr, lifs)) or 'none'}); the "
                         "core runs exactly one population" + (f": node {lifs[1]!r} is one too many" if lifs else ""))
    lif_name = lifs[0]
    lif = graph.nodes[lif_name]
    n = int(np.asarray(lif.v_leak).size)
    if n < 1 or np.asarray(lif.v_leak).ndim > 1:
        raise GraphError(f"node {lif_name!r} (CubaLIF): a population is a vector of neurons, got shape "
                         f"{np.asarray(lif.v_leak).shape}")
    if len(edges_nodes) > 1:
        raise GraphError(f"node {edges_nodes[1]!r} ({type(graph.nodes[edges_nodes[1]]).__name__}) is a second "
                         "connection; the core has one recurrent weight matrix")
    edge_name = edges_nodes[0] if edges_nodes else None
    allowed = {(lif_name, edge_name), (edge_name, lif_name)}
    for src, dst in graph.edges:
        kinds = (type(graph.nodes[src]).__name__, type(graph.nodes[dst]).__name__)
        if (src, dst) in allowed or kinds == ("Input", "CubaLIF") or kinds == ("CubaLIF", "Output"):
            continue
        bad = src if not isinstance(graph.nodes[src], nir.Input) else dst
        raise GraphError(f"edge {src!r} -> {dst!r} ({kinds[0]} -> {kinds[1]}) does not fit the core: node {bad!r} "
                         f"would need to be a recurrent edge {lif_name!r} -> edge -> {lif_name!r}")
    params = _params_from(lif_name, lif, n, base)
    e_l = _per_neuron(lif_name, lif, "v_leak", n)
    weights = np.zeros((n, n))
    if edge_name is not None:
        if not {(lif_name, edge_name), (edge_name, lif_name)} <= set(map(tuple, graph.edges)):
            raise GraphError(f"node {edge_name!r} is not a recurrent edge {lif_name!r} -> {edge_name!r} -> "
                             f"{lif_name!r}")
        edge = graph.nodes[edge_name]
        w = np.asarray(edge.weight, dtype=np.float64)
        if w.shape != (n, n) or not np.isfinite(w).all():
            raise GraphError(f"node {edge_name!r} ({type(edge).__name__}): weight must be {n}×{n} finite values to "
                             f"connect {lif_name!r} to itself, got shape {w.shape}")
        # A spike raises I by w_in·W/τ_syn (NIR's current equation): per postsynaptic neuron, a row of W.
        gain = _per_neuron(lif_name, lif, "w_in", n) / params.tau_syn_ms
        weights = (w * gain[:, None]).T
        if isinstance(edge, nir.Affine):
            bias = np.asarray(edge.bias, dtype=np.float64).reshape(-1)
            if bias.size not in (1, n) or not np.isfinite(bias).all():
                raise GraphError(f"node {edge_name!r} (Affine): bias must hold {n} finite values")
            # A constant input b holds I at w_in·b, which moves the resting potential by r·w_in·b: folded
            # into the leak potential (the core has no bias current; NIR's I rises to it over τ_syn).
            e_l = e_l + (params.tau_m_ms / params.c_m_pf) * _per_neuron(lif_name, lif, "w_in", n) * bias
    clamp = np.asarray((lif.metadata or {}).get("clamp", np.zeros(n, np.int64))).reshape(-1)
    if clamp.size != n:
        raise GraphError(f"node {lif_name!r} (CubaLIF): metadata clamp must hold {n} modes, got {clamp.size}")
    try:
        return Network(params, e_l, weights, clamp.astype(np.int64))
    except InputError as exc:
        raise GraphError(f"node {lif_name!r} (CubaLIF): {exc}") from None


def is_fit_file(path: str | Path) -> bool:
    """Whether an .npz is a FIT.npz of `lifstp fit` (it also holds W and b: those of the fitted machine)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return "target_W" in data.files and "metadata" in data.files
    except (OSError, ValueError):
        return False


def mapped_network(path: str | Path, device, params: ModelParams | None = None) -> tuple[Network, dict]:
    """The network `lifstp sample` runs for BM.npz (calibrated mapping on `device`, core parameters
    `params`, default renewing) or for FIT.npz (the fitted network; `params`, if given, must be the
    fit's), with a description of where it came from for the graph's metadata."""
    from .bm import load
    from .fitting import load_fit
    from .mapping import map_bm
    from .sampling import calibration_for, sampling_params

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if is_fit_file(path):
        fit = load_fit(path, formats=device.formats, params=params)
        cal = fit.calibration
        net, source = fit.network(), "FIT.npz (the network fitted by lifstp fit)"
    else:
        bm = load(path)
        params = params or sampling_params()
        cal = calibration_for(device, params)
        net, source = map_bm(bm, params, cal), "BM.npz (the calibrated mapping of lifstp sample)"
    return net, {"source": f"{path.name}: {source}", "calibration_v_p05_mv": cal.v_p05_mv,
                 "calibration_alpha_mv": cal.alpha_mv, "calibration_weight_scale": cal.weight_scale}
