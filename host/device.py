"""Devices that run networks, all behind the wire protocol, and the one interface they share
(`Device`). `open_device(spec)` picks one by its --device name:

- `golden`: the golden model in-process (`GoldenDevice`), sized to each network: the embedded default;
- `verilator`: the RTL core and command engine compiled by Verilator, streaming bytes through a pipe
  (`VerilatorDevice`; the harness binary is built by `lifstp.sim.harness`);
- `serial:<pyserial URL>`: a board over its UART, or anything pyserial opens that speaks the protocol
  (`ProtocolDevice` over a `SerialTransport`).

Each device quantises the network with the device's formats, pads it to the device's N (padding
neurons are clamped off and unconnected), seeds the generators, runs it and returns the spikes, or in
the states readout the states of a range of units every K ticks, or in the stats readout the counts
of those samples kept on the device (`lifstp.readout`).
"""

from __future__ import annotations

import sys
import warnings
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from lifstp.golden_model.rng import seed_states
from lifstp.golden_model.spec import (FORMAT_PRESETS, ClampMode, Formats, ModelError, format_preset, preset_name,
                                      quantise, quantise_potentials, quantise_weights)
from lifstp.sim.harness import device_binary, parse_stats

from . import protocol as P
from .emulator import GoldenEmulator
from .errors import InputError
from .link import DeviceClient, LinkStats, LoopbackTransport, PipeTransport, SerialTransport
from .network import Network
from .readout import READOUTS, ReadoutResults, StatesReadout, StatsReadout, states_readout, stats_readout
from .segments import SEGMENT_TICKS, run_segments

#: Largest core the `verilator` device builds. CoreConfig accepts up to 2^20 neurons, but Verilator
#: flattens the N x N weight memory into the C++ model: its build time and memory grow with N^2 (past
#: 10 GB at N = 5000). 1024 is four times the largest board's core.
VERILATOR_MAX_NEURONS = 1024


@dataclass
class SpikeRun(ReadoutResults):
    """Spikes of one run, in emission order, with the device's status counters afterwards; in the
    states readout no spikes but the states of `states_readout`'s units at `state_ticks`; in the
    stats readout (`states_readout` a StatsReadout) no spikes and no states but their counts."""

    spike_tick: np.ndarray  #: int64, ticks since the run started (empty in the states readout)
    spike_neuron: np.ndarray  #: int32
    n_ticks: int
    status: dict
    #: what the host noticed on the wire and did about it (`LinkStats` fields; all zero on a clean link)
    link: dict = field(default_factory=lambda: LinkStats().as_dict())


def run_readout(network: Network, readout: str = "spikes", units=None, every: int | None = None,
                wait: int = 0) -> StatesReadout | None:
    """The checked readout of a run of `network` (Device.run's arguments): None for "spikes", else a
    StatesReadout (a StatsReadout for "stats"). InputError for a bad choice, before anything is sent."""
    if readout not in READOUTS:
        raise InputError(f"unknown readout {readout!r}; expected {', '.join(READOUTS[:-1])} or {READOUTS[-1]}")
    if readout == "spikes":
        if units is not None or every is not None or wait:
            raise InputError("units, every and wait are options of the states and stats readouts "
                             "(readout=\"states\" or \"stats\")")
        return None
    make = stats_readout if readout == "stats" else states_readout
    return make(network.n, network.params.tau_ref_ticks, units, every, wait)


@runtime_checkable
class Device(Protocol):
    """What every device offers, and all a caller may rely on (golden, verilator and serial alike).

    Attributes
    ----------
    name : str
        The device's --device name (``golden``, ``verilator``, ``serial:<URL>``).
    formats : Formats
        The fixed-point formats the device quantises a network with. Calibration, mapping and fitting
        use these, never defaults: the golden device's are those it was made with, the verilator
        device's those its core is built with, a board's those its IDENTIFY reports.
    max_neurons : int or None
        N, the largest network the device runs: a board's core size (IDENTIFY), the largest core the
        verilator device builds (`VERILATOR_MAX_NEURONS`), or None for no limit (golden). Devices
        that build a core per network (golden, verilator) size it to the network, rounded up to a
        multiple of the lanes; padding neurons are clamped off and never fire.
    lanes : int
        Neurons the core updates in parallel. It changes the speed, never the spikes.

    Methods
    -------
    run(network, n_ticks, seed, progress=None) -> SpikeRun
        Load `network` with a fresh state (V = E_L, u = 0, R = 1, generators seeded from `seed`), run
        `n_ticks` ticks and return the spikes with the status counters read after the run (the
        device's only state a caller gets back: golden and verilator make a fresh core per run) and
        the link's counts (`SpikeRun.link`). ``progress(k)`` is called with the ticks newly covered as
        spikes arrive. The same network, ticks and seed give the same spikes on every device; a link
        that loses spikes beyond what the host can recover raises LinkError.
        ``readout="states"`` runs in the states readout: no spikes, but the states of `units` (a range
        or (first, stop); default all the network's units) at the run's ticks wait + j * `every`
        (default τ_ref), in `SpikeRun.states` (`run_readout` checks the choice; a device whose
        IDENTIFY lacks the states readout refuses it with InputError before the network is loaded).
        ``readout="stats"`` the same samples (of at most STATS_UNITS_MAX units) counted on the
        device: `SpikeRun.stats_counts` (units x units, both on) and `stats_samples`.
    info() -> dict
        What the device reports: ``device``, ``protocol_version``, ``n_neurons``, ``lanes``,
        ``formats``, ``max_payload``, ``readouts`` (what ``lifstp info`` prints).
    close() -> None
        Release what the device holds (a serial port); the device is not used afterwards.
    """

    name: str

    @property
    def formats(self) -> Formats: ...

    @property
    def max_neurons(self) -> int | None: ...

    @property
    def lanes(self) -> int: ...

    def run(self, network: Network, n_ticks: int, seed: int, progress: Callable[[int], None] | None = None,
            readout: str = "spikes", units=None, every: int | None = None, wait: int = 0) -> SpikeRun: ...

    def info(self) -> dict: ...

    def close(self) -> None: ...


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
    # n_active = n: the padding beyond the network is neither updated nor delivered to (a smaller
    # machine takes fewer cycles a tick; its spikes are the same either way).
    client.write(P.Space.REG, 0, 0, dataclasses.replace(fixed, n_active=n).registers())
    for field, values in ((P.NeuronField.EL, e_l_dev), (P.NeuronField.CLAMP, clamp), (P.NeuronField.V, e_l_dev),
                          (P.NeuronField.U, np.zeros(n_dev, np.int64)), (P.NeuronField.REF, np.zeros(n_dev, np.int64)),
                          (P.NeuronField.RES, np.full(n_dev, fmt.r_one, np.int64)),
                          (P.NeuronField.RNG, seed_states(seed, n_dev)), (P.NeuronField.ACC, np.zeros(n_dev, np.int64))):
        client.write(P.Space.NEURON, field, 0, values)
    client.write(P.Space.WEIGHT, 0, 0, w_dev)
    return clipped


def require_readout(name: str, info: dict, readout: str = "states") -> None:
    """InputError unless a device's info() (its IDENTIFY) reports `readout` ("states" or "stats")."""
    if readout not in str(info.get("readouts", "")).split(", "):
        raise InputError(f"the device {name} has no {readout} readout (IDENTIFY reports: "
                         f"{info.get('readouts', 'spikes')})")


class ProtocolDevice:
    """A `Device` reached through a DeviceClient (any transport): formats, N and lanes are what its
    IDENTIFY reports (asked once, on first use). Runs go in segments of `segment_ticks`, each run again
    from its saved state if spike frames were lost (lifstp.segments).

    `sample_states` (default: a board on a serial line): where a sampler needs only the units' states
    every τ_ref (the science's free-running samplers), it asks for them in the states readout rather
    than for every spike, so that the UART does not set the pace (`prefers_states`)."""

    def __init__(self, name: str, client: DeviceClient, segment_ticks: int = SEGMENT_TICKS,
                 sample_states: bool | None = None):
        self.name = name
        self.client = client
        self.segment_ticks = segment_ticks
        self.sample_states = name.startswith("serial:") if sample_states is None else sample_states

    @property
    def prefers_states(self) -> bool:
        """Samplers should read states, not spikes: `sample_states` and the device has the readout."""
        return self.sample_states and P.Readout.STATES in self._identified().readouts

    def _identified(self):
        return self.client.info or self.client.identify()

    @property
    def formats(self) -> Formats:
        return self._identified().formats

    @property
    def max_neurons(self) -> int:
        return self._identified().n_neurons

    @property
    def lanes(self) -> int:
        return self._identified().lanes

    def info(self) -> dict:
        info = self.client.identify()
        return {"device": self.name, "protocol_version": info.protocol_version, "n_neurons": info.n_neurons,
                "lanes": info.lanes, "formats": info.formats, "max_payload": info.max_payload,
                "readouts": info.readout_names()}

    def run(self, network: Network, n_ticks: int, seed: int, progress=None, readout: str = "spikes", units=None,
            every: int | None = None, wait: int = 0) -> SpikeRun:
        """Load `network` with a fresh state, run `n_ticks` ticks, return spikes (or states), status and
        link counts."""
        states = run_readout(network, readout, units, every, wait)
        self.client.stats = LinkStats()
        if states is not None:
            require_readout(self.name, {"readouts": self._identified().readout_names()}, states.kind)
        clipped = load_network(self.client, network, seed)
        # (spike ticks, neurons), (sample ticks, states) or in the stats readout (counts, samples)
        ticks, records, done = run_segments(self.client, n_ticks, self.segment_ticks, progress=progress,
                                            states=states)
        status = self.client.status()
        status["weights_clipped"] = clipped
        if done["spikes_dropped"] or status["spikes_dropped"]:
            warnings.warn(f"the device dropped {max(done['spikes_dropped'], status['spikes_dropped'])} spikes",
                          stacklevel=2)
        if isinstance(states, StatsReadout):
            return SpikeRun(np.empty(0, np.int64), np.empty(0, np.int32), n_ticks, status, self.client.stats.as_dict(),
                            states_readout=states, stats_counts=ticks, stats_samples=int(records))
        if states is not None:
            return SpikeRun(np.empty(0, np.int64), np.empty(0, np.int32), n_ticks, status, self.client.stats.as_dict(),
                            states_readout=states, state_ticks=ticks, states=records)
        if len(records) and records.max() >= network.n:
            raise InputError("a padding neuron fired: the device did not keep it clamped off")
        return SpikeRun(ticks, records, n_ticks, status, self.client.stats.as_dict())

    def close(self) -> None:
        self.client.transport.close()


class GoldenDevice:
    """The golden model behind the protocol, in-process: a `Device` that makes a fresh emulator sized
    to each network, with `formats` (default: the model's `Formats()`)."""

    max_neurons = None
    lanes = GoldenEmulator.lanes

    def __init__(self, formats: Formats | None = None):
        self._formats = formats if formats is not None else Formats()
        #: its --device name: golden, or golden:<preset> with the formats of a non-default preset
        self.name = _named("golden", self._formats)

    @property
    def formats(self) -> Formats:
        return self._formats

    def _device(self, n: int) -> ProtocolDevice:
        return ProtocolDevice(self.name, DeviceClient(LoopbackTransport(GoldenEmulator(n, self._formats))))

    def info(self, n_neurons: int = 256) -> dict:
        """What an emulator of `n_neurons` neurons reports."""
        return self._device(n_neurons).info()

    def run(self, network: Network, n_ticks: int, seed: int, progress=None, readout: str = "spikes", units=None,
            every: int | None = None, wait: int = 0) -> SpikeRun:
        run_readout(network, readout, units, every, wait)  # a bad choice refused before an emulator is made
        return self._device(network.n).run(network, n_ticks, seed, progress, readout, units, every, wait)

    def close(self) -> None:
        pass


class VerilatorDevice:
    """The RTL (command engine + core) compiled by Verilator, behind a pipe: a `Device` that builds its
    core with as many neurons as each network needs (rounded up to a multiple of `lanes`), once per
    size and cached (`lifstp.sim.harness.device_binary`), and starts a fresh harness process per run.

    Parameters
    ----------
    lanes : int
        Lanes of the cores it builds.
    log : callable, optional
        Called with a line of text when a core is being built (default: print to stderr).
    formats : Formats, optional
        Formats of the cores it builds (default: the model's `Formats()`).
    """

    max_neurons = VERILATOR_MAX_NEURONS

    def __init__(self, lanes: int = 1, log=None, formats: Formats | None = None):
        self.lanes = lanes
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self._formats = formats if formats is not None else Formats()
        #: its --device name: verilator, or verilator:<preset> with the formats of a non-default preset
        self.name = _named("verilator", self._formats)
        self.last_stats: dict = {}  #: the harness's cycle counts of the last run (sim/harness_cpp/main.cpp)

    @property
    def formats(self) -> Formats:
        return self._formats

    def _size(self, n: int) -> int:
        return max(self.lanes, -(-n // self.lanes) * self.lanes)

    def open(self, n_neurons: int) -> ProtocolDevice:
        """A ProtocolDevice on a fresh harness process of at least n_neurons neurons."""
        n = self._size(n_neurons)
        if n > VERILATOR_MAX_NEURONS:
            raise InputError(f"the verilator device builds cores of up to {VERILATOR_MAX_NEURONS} neurons; "
                             f"this network needs {n}")
        binary = device_binary(n, self.lanes, formats=self._formats, log=self.log)
        return ProtocolDevice(self.name, DeviceClient(PipeTransport(binary), timeout_s=30.0))

    def info(self, n_neurons: int = 256) -> dict:
        """What a core of `n_neurons` neurons reports (built first if it is not cached)."""
        dev = self.open(n_neurons)
        try:
            return dev.info()
        finally:
            dev.close()

    def run(self, network: Network, n_ticks: int, seed: int, progress=None, readout: str = "spikes", units=None,
            every: int | None = None, wait: int = 0) -> SpikeRun:
        run_readout(network, readout, units, every, wait)  # a bad choice refused before a core is built
        dev = self.open(network.n)
        try:
            return dev.run(network, n_ticks, seed, progress, readout, units, every, wait)
        finally:
            self.last_stats = parse_stats(dev.client.transport.close())

    def close(self) -> None:
        pass


#: The --device argument's help (every command that takes one).
DEVICE_HELP = ("golden (the in-process golden model, default) or verilator, either with :<formats preset> "
               "(e.g. golden:dsp18, docs/model.md); or serial:<pyserial URL>")


def _named(kind: str, fmt: Formats) -> str:
    """A software device's --device name: the kind, with ":<preset>" for a preset other than the default."""
    preset = preset_name(fmt)
    return kind if preset in (None, "default") else f"{kind}:{preset}"


def open_device(spec: str) -> Device:
    """The device named by a --device argument: golden, verilator (either with ":<formats preset>", the
    fixed-point formats of its cores, e.g. golden:dsp18) or serial:<pyserial URL>."""
    kind, _, preset = spec.partition(":")
    if kind in ("golden", "verilator") and preset:
        try:
            fmt = format_preset(preset)
        except ModelError as exc:
            raise InputError(f"--device {spec}: {exc}") from None
        return GoldenDevice(fmt) if kind == "golden" else VerilatorDevice(formats=fmt)
    if spec == "golden":
        return GoldenDevice()
    if spec.startswith("serial:"):
        url = spec[len("serial:"):]
        if not url:
            raise InputError("--device serial: needs a pyserial URL, e.g. serial:/dev/ttyUSB1")
        return ProtocolDevice(spec, DeviceClient(SerialTransport(url)))
    if spec == "verilator":
        return VerilatorDevice()  # builds its cores on first use
    raise InputError(f"unknown device {spec!r}; expected golden, verilator (optionally :<formats preset>, "
                     f"one of {', '.join(FORMAT_PRESETS)}) or serial:<pyserial URL>")
