"""From a PyNN network on this backend to the core's `Network`: what maps onto what, and the checks
that refuse what the core cannot represent (docs/pynn.md).

- IF_curr_exp: tau_m, cm, tau_syn_E (= tau_syn_I), v_thresh, v_reset and tau_refrac are the core's
  global parameters, one value for every neuron of every population; the core's leak potential is
  v_rest + i_offset·tau_m/cm per neuron (a constant current moves the resting point, exactly). The core
  holds V for tau_ref_ticks − 1 ticks after a spike, NEST holds it for t_ref/dt steps: tau_ref_ticks =
  tau_refrac/dt + 1.
- SpikeSourcePoisson → the core's background: every neuron gets one excitatory (weight > 0) and/or one
  inhibitory (weight < 0) source of its own, all excitatory ones at the same rate and weight, likewise
  the inhibitory ones, running from t = 0 past the end of the run.
- StaticSynapse / TsodyksMarkramSynapse → the weight matrix, pA = 1000 · weight (nA) · U (PyNN and
  NEST transmit weight · U · x; the core transmits w · R). One U and tau_rec for the whole core:
  StaticSynapse is U = 0, so static and depressing synapses cannot share a core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lifstp.golden_model.spec import ModelError, ModelParams, quantise, quantise_potentials, quantise_weights
from lifstp.errors import UnrepresentableError
from lifstp.network import Network

from .standardmodels import IF_curr_exp, SpikeSourcePoisson, StaticSynapse, TsodyksMarkramSynapse, no_facilitation

#: IF_curr_exp parameters the core holds once, for every neuron.
CORE_WIDE = ("tau_m", "cm", "tau_syn_E", "tau_syn_I", "tau_refrac", "v_thresh", "v_reset")
#: Largest probability per tick that a background source's Poisson count exceeds what the core draws
#: (`ModelParams.noise_tail_probability`): beyond it the truncation would no longer be negligible.
NOISE_TAIL_LIMIT = 1e-4
_REL = 1e-9  #: relative tolerance of "the same value" for floats that went through unit conversions


def _same(a, b) -> bool:
    return abs(a - b) <= _REL * max(abs(a), abs(b), 1.0)


def _label(pop) -> str:
    return f"Population {pop.label!r}"


def _uniform(values: np.ndarray, what: str) -> float:
    """The one value of `values`, or a refusal naming `what`."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size and not all(_same(v, values[0]) for v in (values.min(), values.max())):
        raise UnrepresentableError(f"{what} differs from neuron to neuron ({values.min():g} .. {values.max():g}); "
                                   "the core holds one value for all neurons")
    return float(values[0])


# --- populations -------------------------------------------------------------------------------------

def _neurons(state) -> list:
    return [p for p in state.populations if isinstance(p.celltype, IF_curr_exp)]


def _core_wide(pop) -> dict[str, float]:
    return {name: _uniform(pop._parameters[name], f"{_label(pop)}: {name}") for name in CORE_WIDE}


def check_population(pop, state) -> None:
    """Refuse a population whose core-wide parameters vary, or differ from the other populations'."""
    if not isinstance(pop.celltype, IF_curr_exp):
        return
    mine = _core_wide(pop)
    if not _same(mine["tau_syn_E"], mine["tau_syn_I"]):
        raise UnrepresentableError(f"{_label(pop)}: tau_syn_E = {mine['tau_syn_E']:g} ms and tau_syn_I = "
                                   f"{mine['tau_syn_I']:g} ms; the core has one synaptic time constant")
    for other in _neurons(state):
        theirs = _core_wide(other)
        for name in CORE_WIDE:
            if not _same(mine[name], theirs[name]):
                raise UnrepresentableError(f"{_label(pop)}: {name} = {mine[name]:g}, but {_label(other)} has "
                                           f"{theirs[name]:g}; the core holds one {name} for all neurons")


def _offsets(state) -> dict[int, int]:
    """id(population) -> core index of its first neuron (neurons in the order populations were made)."""
    out, k = {}, 0
    for pop in _neurons(state):
        out[id(pop)] = k
        k += pop.size
    return out


def core_index(state, pop, cell: int) -> int:
    """The core neuron that PyNN cell `cell` of `pop` runs on."""
    return _offsets(state)[id(pop)] + int(cell) - int(pop.first_id)


def _cell_maps(state):
    """Per cell id: its core neuron (or -1) and its background source index (or -1)."""
    n = max([int(p.last_id) + 1 for p in state.populations] + [0])
    core, source = np.full(n, -1, np.int64), np.full(n, -1, np.int64)
    k = s = 0
    for pop in state.populations:
        ids = np.asarray(pop.all_cells, dtype=np.int64)
        if isinstance(pop.celltype, IF_curr_exp):
            core[ids], k = np.arange(k, k + pop.size), k + pop.size
        else:
            source[ids], s = np.arange(s, s + pop.size), s + pop.size
    return core, source


# --- projections -------------------------------------------------------------------------------------

def _stp(prj) -> tuple[float, float | None]:
    """(U, tau_rec) of a projection's synapses: (0, None) for static ones (no depression)."""
    attrs = prj._attributes
    if isinstance(prj.synapse_type, StaticSynapse) or not len(prj):
        return 0.0, None
    facil = attrs["tau_facil"]
    if np.any(facil != 0):
        raise UnrepresentableError(f"Projection {prj.label!r}: " + no_facilitation(float(facil[facil != 0][0])))
    u = _uniform(attrs["U"], f"Projection {prj.label!r}: U")
    tau = _uniform(attrs["tau_rec"], f"Projection {prj.label!r}: tau_rec")
    return (0.0, None) if u == 0 else (u, tau)


def _check_connections(prj, dt: float, source: np.ndarray) -> None:
    """Delays and synapse types of one projection (PyNN itself checks the weights' signs)."""
    name = f"Projection {prj.label!r}"
    if not len(prj):
        return
    pre, _, attrs = prj.connection_arrays()
    delay = attrs["delay"]
    bad = np.flatnonzero(np.abs(delay - dt) > _REL * dt)
    if bad.size:
        raise UnrepresentableError(f"{name}: delay {delay[bad[0]]:g} ms; the core delivers every spike one "
                                   f"tick ({dt:g} ms) after it is emitted")
    if isinstance(prj.synapse_type, TsodyksMarkramSynapse) and np.any(source[pre] >= 0):
        raise UnrepresentableError(f"{name}: the core's background events are not depressed; connect "
                                   "SpikeSourcePoisson with StaticSynapse")
    _stp(prj)


def _common_stp(projections, core) -> tuple[float, float | None]:
    """The one (U, tau_rec) of all recurrent projections, or a refusal."""
    seen = None
    for prj in projections:
        pre, _, _ = prj.connection_arrays()
        if not len(prj) or not np.any(core[pre] >= 0):
            continue  # background projections carry no depression
        mine = _stp(prj)
        if seen is not None and not (_same(mine[0], seen[1][0]) and _same(mine[1] or 0, seen[1][1] or 0)):
            def say(stp):
                return "no depression (StaticSynapse)" if stp[0] == 0 else f"U = {stp[0]:g}, tau_rec = {stp[1]:g} ms"
            raise UnrepresentableError(f"Projection {prj.label!r} has {say(mine)} but {seen[0].label!r} has "
                                       f"{say(seen[1])}; the core holds one U and tau_rec for all neurons")
        seen = seen or (prj, mine)
    return seen[1] if seen else (0.0, None)


def _check_fanout(projections, source) -> None:
    """Every background source drives at most one neuron (each neuron's background is its own)."""
    counts = np.zeros(max(int(source.max()) + 1, 1), np.int64)
    for prj in projections:
        pre, _, _ = prj.connection_arrays()
        s = source[pre]
        np.add.at(counts, s[s >= 0], 1)
        if np.any(counts > 1):
            raise UnrepresentableError(f"Projection {prj.label!r}: a SpikeSourcePoisson drives more than one "
                                       "connection; the core's background is independent for each neuron "
                                       "(connect one source to one neuron, e.g. with OneToOneConnector)")


def check_projection(prj, state) -> None:
    """Refuse a projection the core cannot represent, alone or with the projections made before it."""
    core, source = _cell_maps(state)
    _check_connections(prj, state.dt, source)
    _check_fanout([*state.projections, prj], source)
    _common_stp([*state.projections, prj], core)


# --- the network -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoreBuild:
    """The core network a PyNN network translates to (None: no neurons)."""

    network: Network | None

    def same_as(self, other: "CoreBuild") -> bool:
        a, b = self.network, other.network
        if a is None or b is None:
            return a is b
        return (a.params == b.params and np.array_equal(a.e_l_mv, b.e_l_mv)
                and np.array_equal(a.weights_pa, b.weights_pa) and np.array_equal(a.clamp, b.clamp))


def _leak_potentials(pops) -> np.ndarray:
    """Per neuron: v_rest + i_offset·tau_m/cm; each population's initial v must be it."""
    out = []
    for pop in pops:
        p = pop._parameters
        e_l = np.asarray(p["v_rest"], float) + np.asarray(p["i_offset"], float) * np.asarray(p["tau_m"]) / p["cm"]
        e_l = np.broadcast_to(e_l, (pop.size,))
        v0 = np.broadcast_to(pop.initial_values["v"].evaluate(simplify=False), (pop.size,))
        bad = np.flatnonzero(np.abs(v0 - e_l) > 1e-9 * np.maximum(1.0, np.abs(e_l)))
        if bad.size:
            i = int(bad[0])
            raise UnrepresentableError(
                f"{_label(pop)}: the core starts each neuron at its leak potential v_rest + i_offset·tau_m/cm "
                f"({e_l[i]:g} mV for neuron {i}), not at v = {v0[i]:g} mV: initialize(v=...) with it")
        for current in ("isyn_exc", "isyn_inh"):
            if current in pop.initial_values and np.any(pop.initial_values[current].evaluate(simplify=False) != 0):
                raise UnrepresentableError(f"{_label(pop)}: the core starts with no synaptic current "
                                           f"({current} must be 0)")
        out.append(e_l)
    return np.concatenate(out)


def _background(state, projections, core, source, n: int, t_stop_ms: float) -> dict[str, float]:
    """The core's background rates and weights (ModelParams fields) from the source projections."""
    rates = np.zeros(int(source.max()) + 1 if source.size and source.max() >= 0 else 0)
    starts, ends = rates.copy(), rates.copy()
    for pop in state.populations:
        if isinstance(pop.celltype, SpikeSourcePoisson):
            s = source[np.asarray(pop.all_cells, np.int64)]
            p = pop._parameters
            rates[s], starts[s] = p["rate"], p["start"]
            ends[s] = np.asarray(p["start"]) + np.asarray(p["duration"])
    conns = [prj.connection_arrays() for prj in projections]
    src = np.concatenate([source[pre] for pre, _, _ in conns] + [np.zeros(0, np.int64)])
    tgt = np.concatenate([core[post] for _, post, _ in conns] + [np.zeros(0, np.int64)])
    w = np.concatenate([attrs["weight"] for _, _, attrs in conns] + [np.zeros(0)])
    out = {}
    for sign, kind in ((+1, "exc"), (-1, "inh")):
        mine = (src >= 0) & (np.sign(w) == sign)
        src_k, tgt_k, w_k = src[mine], tgt[mine], w[mine]
        word = "excitatory" if sign > 0 else "inhibitory"
        if src_k.size == 0:
            out[f"noise_rate_{kind}_hz"], out[f"noise_weight_{kind}_pa"] = 0.0, 0.0
            continue
        if src_k.size != n or not np.array_equal(np.sort(tgt_k), np.arange(n)):
            raise UnrepresentableError(f"{src_k.size} {word} SpikeSourcePoisson connections reach "
                                       f"{np.unique(tgt_k).size} of the {n} neurons; the core's background "
                                       "gives every neuron one source of each kind, or none to all")
        weight = _uniform(w_k, f"the {word} background weight")
        rate = _uniform(rates[src_k], f"the {word} SpikeSourcePoisson rate")
        if np.any(starts[src_k] != 0) or np.any(ends[src_k] < t_stop_ms):
            raise UnrepresentableError(f"the {word} SpikeSourcePoisson sources must run from t = 0 past the "
                                       f"end of the run ({t_stop_ms:g} ms): the core's background never stops")
        out[f"noise_rate_{kind}_hz"], out[f"noise_weight_{kind}_pa"] = rate, abs(weight) * 1000.0
    return out


def _model_params(pops, dt: float, background: dict, stp: tuple) -> ModelParams:
    wide = _core_wide(pops[0])
    ref_ticks = wide["tau_refrac"] / dt
    if abs(ref_ticks - round(ref_ticks)) > 1e-6:
        raise UnrepresentableError(f"tau_refrac = {wide['tau_refrac']:g} ms is not a whole number of ticks "
                                   f"of {dt:g} ms")
    u, tau_rec = stp
    try:
        params = ModelParams(
            dt_ms=dt, tau_m_ms=wide["tau_m"], c_m_pf=wide["cm"] * 1000.0, tau_syn_ms=wide["tau_syn_E"],
            tau_ref_ms=(round(ref_ticks) + 1) * dt, v_th_mv=wide["v_thresh"], v_reset_mv=wide["v_reset"],
            stp_u=u, stp_tau_rec_ms=tau_rec if tau_rec is not None else ModelParams.stp_tau_rec_ms, **background)
    except ModelError as exc:
        raise UnrepresentableError(str(exc)) from None
    tail = params.noise_tail_probability()
    if tail > NOISE_TAIL_LIMIT:
        lam = max(params.noise_lambda())
        raise UnrepresentableError(f"a background rate of {lam / (dt * 1e-3):g} Hz is {lam:g} events per tick: "
                                   f"the core draws at most a few per tick (P(more) = {tail:.1e} > "
                                   f"{NOISE_TAIL_LIMIT:g}); use a shorter timestep or a lower rate")
    return params


def core_network(state, t_stop_ms: float) -> CoreBuild:
    """The whole PyNN network as one core `Network`, checked against the device's formats."""
    pops = _neurons(state)
    if not pops:
        return CoreBuild(None)
    for pop in pops:
        check_population(pop, state)
    core, source = _cell_maps(state)
    projections = state.projections
    for prj in projections:
        _check_connections(prj, state.dt, source)
    _check_fanout(projections, source)
    stp = _common_stp(projections, core)
    n = int(core.max()) + 1
    e_l = _leak_potentials(pops)
    params = _model_params(pops, state.dt, _background(state, projections, core, source, n, t_stop_ms), stp)
    u_scale = stp[0] if stp[0] > 0 else 1.0  # PyNN's TM weight is the weight at U·x = 1
    weights = np.zeros((n, n))
    for prj in projections:
        pre, post, attrs = prj.connection_arrays()
        rec = core[pre] >= 0
        scale = 1000.0 * (u_scale if isinstance(prj.synapse_type, TsodyksMarkramSynapse) else 1.0)
        np.add.at(weights, (core[pre[rec]], core[post[rec]]), attrs["weight"][rec] * scale)
    formats = state.device.formats
    try:
        quantise(params, formats)
        quantise_potentials(e_l, formats, "v_rest + i_offset·tau_m/cm")
        q, clipped = quantise_weights(weights, params, formats)
    except ModelError as exc:
        raise UnrepresentableError(str(exc)) from None
    if clipped:
        pre, post = np.argwhere((q == formats.w_min) | (q == formats.w_max))[0]
        top = (formats.w_max / (1 << formats.frac_w)) / params.p21_mv_per_pa / 1000.0
        raise UnrepresentableError(f"{clipped} weights exceed the core's weight format (|w| <= {top:.4g} nA at "
                                   f"U·x = 1), e.g. neuron {pre} -> {post}: {weights[pre, post] / 1000:g} nA")
    return CoreBuild(Network(params, e_l, weights))
