"""Recording on the lifstp PyNN backend: spikes of IF_curr_exp neurons, from the device's spike stream.

The core reports spikes and nothing else, and generates its background inside each neuron: membrane
potentials, synaptic currents and the background's own spikes cannot be recorded, and are refused.
"""

from __future__ import annotations

import numpy as np
from pyNN import recording

from lifstp.errors import UnrepresentableError

from . import simulator
from .to_core import core_index


class Recorder(recording.Recorder):
    """PyNN's recorder, reading the spikes of the current segment from the simulator state."""

    _simulator = simulator

    def record(self, variables, ids, sampling_interval=None, locations=None):
        names = [variables] if isinstance(variables, str) else list(variables)
        if self.population.is_source:
            raise UnrepresentableError(f"record {names} of {self.population.label}: the core generates its "
                                       "background inside each neuron and does not report its events")
        other = [n for n in names if n != "spikes"]
        if other:
            raise UnrepresentableError(f"record {other}: the core reports spikes only")
        super().record(variables, ids, sampling_interval, locations)

    def _record(self, variable, new_ids, sampling_interval=None):
        pass

    def _times_by_id(self, ids) -> dict[int, np.ndarray]:
        """Spike times (ms) of the cells `ids` in the current segment, after the recording started."""
        state = self._simulator.state
        out = {int(i): np.zeros(0) for i in ids}
        if state.spikes is None or not out:
            return out
        t_ms, neuron = state.spikes
        start = float(self._recording_start_time.rescale("ms").magnitude)
        keep = t_ms > start + 1e-9 * state.dt
        t_ms, neuron = t_ms[keep], neuron[keep]
        for cell in out:
            out[cell] = t_ms[neuron == core_index(state, self.population, cell)]
        return out

    def _get_spiketimes(self, ids, clear=False):
        return self._times_by_id(ids)

    def _get_all_signals(self, variable, ids, clear=False):
        raise UnrepresentableError(f"{variable.name}: the core reports spikes only")

    def _local_count(self, variable, filter_ids=None):
        ids = self.filter_recorded(variable, filter_ids)
        return {cell: times.size for cell, times in self._times_by_id(ids).items()}

    def _clear_simulator(self):
        pass

    def _reset(self):
        pass
