"""Devices that run networks. `open_device(spec)` picks one by its --device name.

`golden` runs the bit-exact golden model in-process (the embedded default). Each device quantises the
network with the model's formats, reports anything it had to clip, and returns spikes as arrays.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import Formats, ModelError, quantise, quantise_potentials, quantise_weights

from .errors import InputError, LifstpError
from .network import Network


@dataclass
class SpikeRun:
    """Spikes of one run, in emission order, with the device's status counters afterwards."""

    spike_tick: np.ndarray  #: int64
    spike_neuron: np.ndarray  #: int32
    n_ticks: int
    status: dict


class GoldenDevice:
    """The golden model in-process."""

    name = "golden"

    def __init__(self, formats: Formats | None = None):
        self.formats = formats or Formats()

    def info(self) -> dict:
        return {"device": self.name, "formats": self.formats}

    def build_core(self, network: Network, seed: int) -> tuple[GoldenCore, int]:
        """Quantise `network` and return the core with its state reset, and the number of clipped weights."""
        try:
            fixed = quantise(network.params, self.formats)
            e_l = quantise_potentials(network.e_l_mv, self.formats, "E_L")
            weights, clipped = quantise_weights(network.weights_pa, network.params, self.formats)
        except ModelError as exc:
            raise InputError(f"the network does not fit the core: {exc}") from None
        if clipped:
            warnings.warn(f"{clipped} weights exceed the {self.formats.width_w}-bit weight format and were "
                          "saturated", stacklevel=3)
        return GoldenCore(fixed, e_l, weights, network.clamp, seed), clipped

    def run(self, network: Network, n_ticks: int, seed: int, progress=None) -> SpikeRun:
        """Reset, load `network`, run `n_ticks` ticks. progress(ticks_done_increment) is called as it goes."""
        core, clipped = self.build_core(network, seed)
        ticks, neurons = core.run(n_ticks, progress=progress)
        status = core.status()
        status["weights_clipped"] = clipped
        return SpikeRun(ticks, neurons, n_ticks, status)


def open_device(spec: str):
    """The device named by a --device argument."""
    if spec == "golden":
        return GoldenDevice()
    if spec == "verilator" or spec.startswith("serial:"):
        raise LifstpError(f"device {spec!r} is not available yet in this version; use --device golden")
    raise InputError(f"unknown device {spec!r}; expected golden, verilator or serial:<pyserial URL>")
