"""Projections of the lifstp PyNN backend: the connections any PyNN connector makes (AllToAll,
FromList, FromFile, OneToOne, ...), held on the host as arrays and written into the core's weight
matrix at run().

A projection the core cannot represent is refused when it is made (`to_core.check_projection`): a
synapse type other than StaticSynapse or TsodyksMarkramSynapse, a delay other than one tick,
facilitation, depression parameters that differ from the rest of the core's, a positive weight on an
inhibitory receptor, or a background source wired otherwise than the core's background is.
"""

from __future__ import annotations

import numpy as np
from pyNN import common
from pyNN.space import Space

from lifstp.errors import UnrepresentableError

from . import simulator
from .standardmodels import SUPPORTED_SYNAPSES, WHY_NOT
from .to_core import check_projection


class Connection(common.Connection):
    """One connection of a projection: a view into the projection's arrays."""

    def __init__(self, projection, k):
        self.projection = projection
        self.k = k
        self.presynaptic_index = int(projection._pre[k])
        self.postsynaptic_index = int(projection._post[k])

    def __getattr__(self, name):
        values = self.__dict__["projection"]._attributes.get(name)
        if values is None:
            raise AttributeError(name)
        return float(values[self.__dict__["k"]])

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None,
                 source=None, receptor_type=None, space=Space(), label=None):
        if synapse_type is not None and not isinstance(synapse_type, SUPPORTED_SYNAPSES):
            kind = type(synapse_type)
            why = WHY_NOT.get(kind.__name__) or (f"{kind.__module__}.{kind.__name__} is not a synapse type of "
                                                 "lifstp.pynn; use lifstp.pynn.StaticSynapse or TsodyksMarkramSynapse")
            raise UnrepresentableError(f"Projection with {kind.__name__}: {why}")
        if source is not None:
            raise UnrepresentableError("Projection source: the core's neurons have one spike source each")
        super().__init__(presynaptic_population, postsynaptic_population, connector, synapse_type, source,
                         receptor_type, space, label)
        self._pre = np.zeros(0, np.int64)
        self._post = np.zeros(0, np.int64)
        self._attributes: dict[str, np.ndarray] = {}
        self._chunks: list = []
        connector.connect(self)
        self._gather()
        check_projection(self, simulator.state)
        simulator.state.projections.append(self)

    def __len__(self):
        return int(self._pre.size)

    def __getitem__(self, i):
        return Connection(self, i)

    @property
    def connections(self) -> list[Connection]:
        """Every connection, as PyNN's common code reads them (get(format="array"))."""
        return [Connection(self, k) for k in range(len(self))]

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None,
                            **connection_parameters):
        if location_selector is not None:
            raise UnrepresentableError("location_selector: the core's neurons are point neurons")
        pre = np.asarray(presynaptic_indices, dtype=np.int64).ravel()
        values = {name: np.broadcast_to(np.asarray(v, dtype=np.float64), pre.shape).copy()
                  for name, v in connection_parameters.items()}
        self._chunks.append((pre, np.full(pre.size, postsynaptic_index, np.int64), values))

    def _gather(self) -> None:
        """The connections made so far as one array per attribute (presynaptic index, postsynaptic
        index, weight, delay, and the synapse's parameters)."""
        if not self._chunks:
            names = self.synapse_type.get_native_names()
            self._attributes = {name: np.zeros(0) for name in names}
            return
        self._pre = np.concatenate([c[0] for c in self._chunks])
        self._post = np.concatenate([c[1] for c in self._chunks])
        names = self._chunks[0][2].keys()
        self._attributes = {name: np.concatenate([c[2][name] for c in self._chunks]) for name in names}
        self._chunks = []

    def _get_attributes_as_list(self, names):
        columns = [self._pre if n == "presynaptic_index" else self._post if n == "postsynaptic_index"
                   else self._attributes[n] for n in names]
        return [tuple(row) for row in zip(*columns)]

    def _set_attributes(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        for name, value in parameter_space.items():
            full = np.broadcast_to(np.asarray(value, dtype=np.float64), self.shape)
            self._attributes[name] = full[self._pre, self._post].copy()

    def _set_initial_value_array(self, variable, initial_value):
        if variable != "u":
            raise UnrepresentableError(f"initialize({variable}=...): every synapse starts with its resource "
                                       "fully recovered on the core")

    def connection_arrays(self):
        """(presynaptic cell ids, postsynaptic cell ids, attributes): what the core's matrix is built from."""
        return (np.asarray(self.pre.all_cells, dtype=np.int64)[self._pre],
                np.asarray(self.post.all_cells, dtype=np.int64)[self._post], self._attributes)
