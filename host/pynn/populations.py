"""Populations, views and assemblies of the lifstp PyNN backend (PyNN's common classes, with the
parameters held in arrays on the host, as pyNN.mock holds them): the core is loaded with them at run().

A population of a cell type the core cannot represent is refused when it is made; so is one whose
per-core parameters (time constants, threshold, reset, refractory period) differ from neuron to neuron
or from another population's (`to_core.check_population`).
"""

from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify

from lifstp.errors import UnrepresentableError

from . import simulator
from .recording import Recorder
from .to_core import check_population
from .standardmodels import SUPPORTED_CELLS, WHY_NOT, SpikeSourcePoisson


def _standard_parameters(pop, names):
    """The PyNN parameters `names` of `pop` (native names are PyNN's own here)."""
    native = pop.celltype.get_native_names(*names) if names else pop.celltype.get_native_names()
    return pop.celltype.reverse_translate(pop._get_native_parameters(*native))


class Assembly(common.Assembly):
    __doc__ = common.Assembly.__doc__
    _simulator = simulator


class PopulationView(common.PopulationView):
    __doc__ = common.PopulationView.__doc__
    _assembly_class = Assembly
    _simulator = simulator

    def _get_parameters(self, *names):
        return _standard_parameters(self, names)

    def _get_native_parameters(self, *names):
        values = {name: simplify(np.asarray(self.parent._parameters[name])[self.mask]) for name in names}
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        for name, value in parameter_space.items():
            try:
                self.parent._parameters[name][self.mask] = value.evaluate(simplify=True)
            except ValueError:
                raise errors.InvalidParameterValueError(f"{name} should not be of type {type(value)}") from None

    def _set_initial_value_array(self, variable, initial_values):
        pass

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def _create_cells(self):
        if not isinstance(self.celltype, SUPPORTED_CELLS):
            kind = type(self.celltype)
            why = WHY_NOT.get(kind.__name__) or (f"{kind.__module__}.{kind.__name__} is not a cell type of lifstp.pynn; "
                                                 "use lifstp.pynn.IF_curr_exp and lifstp.pynn.SpikeSourcePoisson")
            raise UnrepresentableError(f"Population of {kind.__name__}: {why}")
        state = simulator.state
        ids = np.arange(state.id_counter, state.id_counter + self.size)
        self.all_cells = np.array([simulator.ID(i) for i in ids], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        space = self.celltype.native_parameters
        space.shape = (self.size,)
        space.evaluate(simplify=False)
        self._parameters = space.as_dict()
        for cell in self.all_cells:
            cell.parent = self
        state.id_counter += self.size
        check_population(self, state)
        state.populations.append(self)

    def _set_initial_value_array(self, variable, initial_values):
        pass

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_parameters(self, *names):
        return _standard_parameters(self, names)

    def _get_native_parameters(self, *names):
        return ParameterSpace({name: simplify(self._parameters[name]) for name in names}, shape=(self.local_size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False, mask=self._mask_local)
        for name, value in parameter_space.items():
            self._parameters[name] = value

    @property
    def is_source(self) -> bool:
        """Whether this is a population of background sources (no neurons on the core)."""
        return isinstance(self.celltype, SpikeSourcePoisson)
