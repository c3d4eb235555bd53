"""A PyNN backend for the lifstp core: ``import lifstp.pynn as sim`` (docs/pynn.md).

PyNN scripts run on the core's devices (``setup(device="golden" | "verilator" | "serial:URL")``):
Populations of IF_curr_exp neurons with the core's Poisson background as SpikeSourcePoisson sources,
Projections with any PyNN connector and StaticSynapse or TsodyksMarkramSynapse (depression), spikes
recorded and returned as Neo blocks. What the core cannot represent is refused when it is made
(`lifstp.errors.UnrepresentableError`), never approximated.

It is `lifstp.pynn` rather than `pyNN.lifstp`: pyNN is a regular package owned by PyNN's distribution,
so another distribution cannot add a module to it without writing into PyNN's installed files.
"""

from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.network import Network  # noqa: F401
from pyNN.random import NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.space import Space  # noqa: F401

from lifstp.errors import UnrepresentableError  # noqa: F401

from .control import (end, get_current_time, get_max_delay, get_min_delay, get_time_step,  # noqa: F401
                      initialize, num_processes, rank, reset, run, run_for, run_until, setup)
from .populations import Assembly, Population, PopulationView  # noqa: F401
from .procedural_api import connect, create, record  # noqa: F401
from .projections import Projection  # noqa: F401
from .standardmodels import *  # noqa: F401,F403
from .standardmodels import SUPPORTED_CELLS


def list_standard_models():
    """The standard cell types the core represents."""
    return [cls.__name__ for cls in SUPPORTED_CELLS]
