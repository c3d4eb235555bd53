"""Devices that run networks, all behind the wire protocol. `open_device(spec)` picks one by its
--device name:

- `golden`: the golden model in-process (GoldenEmulator), sized to each network: the embedded default;
- `verilator`: the RTL core and command engine compiled by Verilator, streaming bytes through a pipe;
- `serial:<pyserial URL>`: a board over its UART (or anything pyserial opens that speaks the protocol).

Each device quantises the network with the device's formats, pads it to the device's N (padding
neurons are clamped off and unconnected), seeds the generators, runs it and returns the spikes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from lifstp.golden_model.rng import seed_states
from lifstp.golden_model.spec import ClampMode, ModelError, quantise, quantise_potentials, quantise_weights

from . import protocol as P
from .emulator import GoldenEmulator
from .errors import InputError
from .link import DeviceClient, LoopbackTransport, SerialTransport
from .network import Network


@dataclass
class SpikeRun:
    """Spikes of one run, in emission order, with the device's status counters afterwards."""

    spike_tick: np.ndarray  #: int64, ticks since the run started
    spike_neuron: np.ndarray  #: int32
    n_ticks: int
    status: dict


def load_network(client: DeviceClient, network: Network, seed: int) -> int:
    """Write a network and a fresh state (V = E_L, u = 0, R = 1, generators seeded) into the device.
    Returns the number of weights that had to be saturated."""
    info = client.info or client.identify()
    fmt, n_dev, n = info.formats, info.n_neurons, network.n
    if n > n_dev:
        raise InputError(f"the network has {n} neurons but the device holds {n_dev}")
    try:
        fixed = quantise(network.params, fmt)
        e_l = quantise_potentials(network.e_l_mv, fmt, "E_L")
        weights, clipped = quantise_weights(network.weights_pa, network.params, fmt)
    except ModelError as exc:
        raise InputError(f"the network does not fit the device: {exc}") from None
    if clipped:
        warnings.warn(f"{clipped} weights exceed the {fmt.width_w}-bit weight format and were saturated",
                      stacklevel=3)
    # Padding neurons: clamped off, at rest, unconnected.
    e_l_dev = np.full(n_dev, int(fixed.v_reset) - 1, dtype=np.int64)
    e_l_dev[:n] = e_l
    clamp = np.full(n_dev, int(ClampMode.OFF), dtype=np.int64)
    clamp[:n] = network.clamp
    w_dev = np.zeros((n_dev, n_dev), dtype=np.int64)
    w_dev[:n, :n] = weights
    client.reset()
    client.write(P.Space.REG, 0, 0, fixed.registers())
    for field, values in ((P.NeuronField.EL, e_l_dev), (P.NeuronField.CLAMP, clamp), (P.NeuronField.V, e_l_dev),
                          (P.NeuronField.U, np.zeros(n_dev, np.int64)), (P.NeuronField.REF, np.zeros(n_dev, np.int64)),
                          (P.NeuronField.RES, np.full(n_dev, fmt.r_one, np.int64)),
                          (P.NeuronField.RNG, seed_states(seed, n_dev)), (P.NeuronField.ACC, np.zeros(n_dev, np.int64))):
        client.write(P.Space.NEURON, field, 0, values)
    client.write(P.Space.WEIGHT, 0, 0, w_dev)
    return clipped


class ProtocolDevice:
    """A device reached through a DeviceClient (any transport)."""

    def __init__(self, name: str, client: DeviceClient):
        self.name = name
        self.client = client

    def info(self) -> dict:
        info = self.client.identify()
        return {"device": self.name, "protocol_version": info.protocol_version, "n_neurons": info.n_neurons,
                "lanes": info.lanes, "formats": info.formats, "max_payload": info.max_payload}

    def run(self, network: Network, n_ticks: int, seed: int, progress=None) -> SpikeRun:
        """Load `network` with a fresh state, run `n_ticks` ticks, return spikes and status."""
        clipped = load_network(self.client, network, seed)
        ticks, neurons, done = self.client.run(n_ticks, progress=progress)
        status = self.client.status()
        status["weights_clipped"] = clipped
        if done["spikes_dropped"] or status["spikes_dropped"]:
            warnings.warn(f"the device dropped {max(done['spikes_dropped'], status['spikes_dropped'])} spikes",
                          stacklevel=2)
        if len(neurons) and neurons.max() >= network.n:
            raise InputError("a padding neuron fired: the device did not keep it clamped off")
        return SpikeRun(ticks, neurons, n_ticks, status)

    def close(self):
        return self.client.transport.close()


class GoldenDevice:
    """The golden model behind the protocol, in-process; a fresh emulator sized to each network."""

    name = "golden"

    def __init__(self, formats=None):
        self.formats = formats

    def _device(self, n: int) -> ProtocolDevice:
        return ProtocolDevice(self.name, DeviceClient(LoopbackTransport(GoldenEmulator(n, self.formats))))

    def info(self, n_neurons: int = 256) -> dict:
        return self._device(n_neurons).info()

    def run(self, network: Network, n_ticks: int, seed: int, progress=None) -> SpikeRun:
        return self._device(network.n).run(network, n_ticks, seed, progress)


def open_device(spec: str):
    """The device named by a --device argument."""
    if spec == "golden":
        return GoldenDevice()
    if spec.startswith("serial:"):
        url = spec[len("serial:"):]
        if not url:
            raise InputError("--device serial: needs a pyserial URL, e.g. serial:/dev/ttyUSB1")
        return ProtocolDevice(spec, DeviceClient(SerialTransport(url)))
    if spec == "verilator":
        from lifstp.sim.harness import open_verilator_device  # builds on first use

        return open_verilator_device()
    raise InputError(f"unknown device {spec!r}; expected golden, verilator or serial:<pyserial URL>")
