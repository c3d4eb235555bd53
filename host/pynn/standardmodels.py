"""The PyNN standard models this backend offers: the ones the core represents, and stand-ins that refuse
the others when they are made, saying why (docs/pynn.md, "What is refused").

The core's neuron is `IF_curr_exp` (one set of time constants, capacitance, threshold, reset and
refractory period per core; the leak potential per neuron); `SpikeSourcePoisson` stands for the core's
per-neuron background; synapses are `StaticSynapse` or `TsodyksMarkramSynapse` (depression only).
The native parameter names are PyNN's own: the translation to the core happens in `to_core`.
"""

from __future__ import annotations

import warnings

from pyNN.standardmodels import build_translations, cells, synapses

from lifstp.errors import UnrepresentableError

from .simulator import state

#: Why the core cannot represent a PyNN standard model, by name (a stand-in refuses with this).
WHY_NOT = {
    "IF_curr_alpha": "the core's synaptic currents are exponential (IF_curr_exp), not alpha-shaped",
    "IF_curr_delta": "the core's synaptic currents are exponential (IF_curr_exp), not delta pulses",
    "IF_cond_alpha": "the core's synapses are current-based (IF_curr_exp), not conductance-based",
    "IF_cond_exp": "the core's synapses are current-based (IF_curr_exp), not conductance-based",
    "IF_cond_exp_gsfa_grr": "the core has no conductance-based synapses, adaptation or relative refractoriness",
    "IF_facets_hardware1": "the core's synapses are current-based (IF_curr_exp), not conductance-based",
    "HH_cond_exp": "the core's neuron is a leaky integrate-and-fire neuron (IF_curr_exp), not Hodgkin-Huxley",
    "EIF_cond_alpha_isfa_ista": "the core's neuron is IF_curr_exp: no exponential spike onset, no adaptation",
    "EIF_cond_exp_isfa_ista": "the core's neuron is IF_curr_exp: no exponential spike onset, no adaptation",
    "Izhikevich": "the core's neuron is IF_curr_exp, not the Izhikevich model",
    "GIF_cond_exp": "the core's neuron is IF_curr_exp: no conductances, adaptation or escape noise",
    "LIF": "composed point neurons are not offered; use IF_curr_exp",
    "AdExp": "the core's neuron is IF_curr_exp: no exponential spike onset, no adaptation",
    "PointNeuron": "composed point neurons are not offered; use IF_curr_exp",
    "SpikeSourcePoissonRefractory": "the core's background is Poisson without dead time (SpikeSourcePoisson)",
    "SpikeSourceGamma": "the core's background is Poisson (SpikeSourcePoisson), not gamma",
    "SpikeSourceInhGamma": "the core's background is Poisson (SpikeSourcePoisson), not gamma",
    "SpikeSourceArray": "the core takes no spikes from outside: its only input is its Poisson background",
    "MultiCompartmentNeuron": "the core's neurons are point neurons",
    "ElectricalSynapse": "the core has no gap junctions",
    "SimpleStochasticSynapse": "the core transmits every spike (no stochastic release)",
    "StochasticTsodyksMarkramSynapse": "the core's depression is deterministic (no stochastic release)",
    "MultiQuantalSynapse": "the core's depression is deterministic (no quantal release)",
    "STDPMechanism": "the core's weights are fixed during a run (no STDP)",
    "DCSource": "the core has no current injection; a constant current is i_offset of IF_curr_exp",
    "ACSource": "the core has no current injection",
    "StepCurrentSource": "the core has no current injection",
    "NoisyCurrentSource": "the core has no current injection; its noise is the Poisson background",
}


def _refusing(name: str) -> type:
    """A stand-in for the PyNN model `name` that refuses to be made."""
    def __init__(self, *args, **kwargs):
        raise UnrepresentableError(f"{name}: {WHY_NOT[name]}")
    return type(name, (), {"__init__": __init__, "__doc__": f"Refused on the core: {WHY_NOT[name]}."})


def _identity(*names: str):
    return build_translations(*((n, n) for n in names))


def no_facilitation(tau_facil) -> str:
    """The refusal of a facilitating synapse."""
    return (f"TsodyksMarkramSynapse with tau_facil = {tau_facil:g} ms: the core's synapses depress but do not "
            "facilitate (tau_facil must be 0)")


def _one_tick() -> float:
    """PyNN's default delay: the core delivers every spike one tick after it is emitted."""
    return state.dt


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__ + """
    On the core: one tau_m, cm, tau_syn_E = tau_syn_I, tau_refrac, v_thresh and v_reset for all
    neurons; v_rest and i_offset per neuron (folded into the core's leak potential). Records spikes.
    """
    translations = _identity(*cells.IF_curr_exp.default_parameters)
    recordable = ["spikes"]


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__ + """
    On the core: the per-neuron Poisson background. Each source drives one neuron, every neuron gets
    the same excitatory (and inhibitory) source rate and weight, from t = 0 to the end of the run
    (docs/pynn.md, "Background").
    """
    translations = _identity(*cells.SpikeSourcePoisson.default_parameters)
    recordable: list[str] = []


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__ + """
    On the core: no depression (U = 0 for the whole core); the delay is one tick.
    """
    translations = _identity("weight", "delay")

    def _get_minimum_delay(self):
        return _one_tick()


class TsodyksMarkramSynapse(synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__ + """
    On the core: depression only (tau_facil = 0), one U and tau_rec for the whole core, one resource
    per presynaptic neuron; the delay is one tick. The resource recovers directly toward 1 (NEST's
    tsodyks2_synapse), not through the active state that decays with tau_syn of Tsodyks, Uziel and
    Markram (2000), which pyNN.nest (tsodyks_synapse) and pyNN.brian2 model; docs/pynn.md says what
    that changes.
    """
    translations = _identity("weight", "delay", "U", "tau_rec", "tau_facil")

    def __init__(self, **parameters):
        facil = parameters.get("tau_facil", 0.0)
        if isinstance(facil, (int, float)) and facil != 0:
            raise UnrepresentableError(no_facilitation(facil))
        super().__init__(**parameters)
        warnings.warn("lifstp.pynn: TsodyksMarkramSynapse runs as the core's depression, whose resources "
                      "recover directly (NEST's tsodyks2_synapse), not through the active state of "
                      "pyNN.nest's tsodyks_synapse (docs/pynn.md)", stacklevel=2)

    def _get_minimum_delay(self):
        return _one_tick()


for _name in WHY_NOT:
    globals()[_name] = _refusing(_name)

__all__ = ["IF_curr_exp", "SpikeSourcePoisson", "StaticSynapse", "TsodyksMarkramSynapse", *WHY_NOT]

#: The standard models the core represents.
SUPPORTED_CELLS = (IF_curr_exp, SpikeSourcePoisson)
SUPPORTED_SYNAPSES = (StaticSynapse, TsodyksMarkramSynapse)
