"""The simulator state of the lifstp PyNN backend: the device, the clock, the network built so far and
the spikes of the current segment (PyNN's `simulator` module, as in pyNN.mock and pyNN.nest).

The core runs a network from a fresh state for a number of ticks and hands back every spike; it cannot
pause and continue. `run(t)` therefore runs the whole segment from t = 0 to the new time, with the same
seed: the device is deterministic, so the ticks already run come out again, spike for spike (checked),
and the new ones follow. Between two `run()` calls of one segment the network must not change.
"""

from __future__ import annotations

import sys

import numpy as np

from lifstp.device import Device, open_device
from lifstp.errors import UnrepresentableError
from lifstp.progress import progress_bar
from lifstp.sampling import sample_ticks

from pyNN import common

name = "lifstp"  #: annotates the data PyNN's recorders produce

#: The seed of the core's noise generators when setup() is given no `rng_seed`.
DEFAULT_SEED = 1


class ID(int, common.IDMixin):
    """A cell's global id (an int), as PyNN backends have it."""

    def __init__(self, n):
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Everything setup() creates and end() releases: the device, the time, the populations and
    projections, and the spikes of the current segment."""

    def __init__(self):
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay = self.max_delay = self.dt
        self.device: Device | None = None
        self.device_name = "golden"
        self.seed = DEFAULT_SEED
        self.translate = None  #: (state, t_stop_ms) -> to_core.CoreBuild, given by setup()
        self.segment_counter = -1
        self.clear()

    def configure(self, dt: float, device: str, seed: int, translate) -> None:
        """Set up a new simulation on `device` (opened here, so a bad name fails at setup()), with
        `translate` turning the PyNN network into the core's."""
        self.close()
        self.device = open_device(device)
        self.translate = translate
        self.device_name, self.dt, self.min_delay, self.max_delay = device, dt, dt, dt
        self.seed = int(seed)
        self.clear()

    def clear(self) -> None:
        """Forget the network and its data (setup() and end())."""
        self.recorders = set()
        self.populations: list = []
        self.projections: list = []
        self.id_counter = 0
        self.segment_counter = -1
        self.reset()

    def reset(self) -> None:
        """Time back to 0, a new segment: the next run starts the core from its initial state."""
        self.running = False
        self.t = 0.0
        self.t_start = 0.0
        self.segment_counter += 1
        self.frozen = None  #: the core network this segment runs (fixed at its first run)
        self.spikes = None  #: (spike times in ms, core neuron index) of the segment so far
        self.n_ticks = 0

    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        """Run the segment from 0 to `tstop` on the device (see the module's docstring)."""
        if self.device is None:
            raise UnrepresentableError("run() before setup(): setup() chooses the device")
        n_ticks = sample_ticks(tstop, self.dt) if tstop > 0 else 0
        if abs(n_ticks * self.dt - tstop) > 1e-6 * self.dt:
            raise UnrepresentableError(f"run until t = {tstop:g} ms: the core runs whole ticks of {self.dt:g} ms")
        built = self.translate(self, n_ticks * self.dt)
        if self.frozen is not None and not built.same_as(self.frozen):
            raise UnrepresentableError("the network changed during a run; the core cannot change it in the "
                                       "middle of a run: call reset() first")
        self.frozen = built
        self.running = True
        if n_ticks > self.n_ticks:
            before = self.spikes
            self.spikes = self._run_device(built, n_ticks)
            if before is not None:
                self._check_prefix(before)
            self.n_ticks = n_ticks
        self.t = n_ticks * self.dt

    def _run_device(self, built, n_ticks: int):
        if built.network is None:  # no neurons: nothing to run, and nothing spikes
            return np.zeros(0), np.zeros(0, np.int64)
        with progress_bar(n_ticks, f"lifstp.pynn on {self.device_name}", "tick",
                          enabled=sys.stderr.isatty()) as bar:
            run = self.device.run(built.network, n_ticks, self.seed, progress=bar.update)
        # A spike emitted in tick k is reported at the end of that tick, (k + 1)·dt, as NEST reports it.
        return (run.spike_tick + 1) * self.dt, run.spike_neuron.astype(np.int64)

    def _check_prefix(self, before) -> None:
        """The rerun must reproduce the spikes of the ticks already run (the device is deterministic)."""
        t_new, i_new = self.spikes
        k = len(before[0])
        if not (np.array_equal(t_new[:k], before[0]) and np.array_equal(i_new[:k], before[1])):
            raise RuntimeError("the device did not reproduce the spikes of the earlier run() of this segment")

    def close(self) -> None:
        """Release the device (a serial port)."""
        if self.device is not None:
            self.device.close()
            self.device = None


state = State()
