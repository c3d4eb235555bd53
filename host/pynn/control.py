"""setup(), run(), reset(), end() and the state queries of the lifstp PyNN backend."""

from __future__ import annotations

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from lifstp.errors import UnrepresentableError

from . import simulator
from .to_core import core_network


def setup(timestep=DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY, device="golden", rng_seed=simulator.DEFAULT_SEED,
          **extra_params):
    """Start a new simulation on a lifstp device.

    Parameters
    ----------
    timestep : float
        The core's tick in ms (its dt).
    min_delay : "auto" or float
        Must be the timestep (or "auto"): the core delivers every spike one tick after it is emitted.
    device : str
        ``golden``, ``verilator`` or ``serial:<pyserial URL>``, as ``lifstp --device`` takes them.
    rng_seed : int
        Seed of the core's per-neuron noise generators: the same seed gives the same spikes on every
        device.
    """
    for name in ("max_delay",):
        if extra_params.get(name, "auto") not in ("auto", timestep):
            raise UnrepresentableError(f"{name} = {extra_params[name]}: every delay on the core is one tick "
                                       f"({timestep} ms)")
    if min_delay not in ("auto", timestep):
        raise UnrepresentableError(f"min_delay = {min_delay}: every delay on the core is one tick ({timestep} ms)")
    common.setup(timestep, min_delay, **extra_params)
    simulator.state.configure(float(timestep), device, rng_seed, core_network)
    return rank()


def end(compatible_output=True):
    """Write the data asked for with write_on_end, and release the device."""
    for population, variables, filename in simulator.state.write_on_end:
        population.write_data(get_io(filename), variables)
    simulator.state.write_on_end = []
    simulator.state.close()


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize
get_current_time, get_time_step, get_min_delay, get_max_delay, num_processes, rank = \
    common.build_state_queries(simulator)
