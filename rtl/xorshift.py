"""The per-neuron background-noise generator: one xorshift64 (13, 7, 17) step and the two Poisson
counts drawn from it (golden_model/rng.py, docs/model.md "Background noise")."""


from amaranth.hdl import Module, Value, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import NOISE_COUNT_MAX, NOISE_UNIFORM_BITS

from .config import RNG_WIDTH

__all__ = ["xorshift64_step", "noise_count", "noise_uniforms", "Xorshift64Noise"]

MASK = (1 << RNG_WIDTH) - 1


def xorshift64_step(x: Value) -> Value:
    """The next xorshift64 state (a 64-bit expression)."""
    x = Value.cast(x)
    x = (x ^ (x << 13))[:RNG_WIDTH]
    x = x ^ (x >> 7)
    x = (x ^ (x << 17))[:RNG_WIDTH]
    return x


def noise_uniforms(x: Value) -> tuple[Value, Value]:
    """The two uniforms of a stepped state: bits 63..48 (excitatory), 47..32 (inhibitory)."""
    hi = RNG_WIDTH
    return x[hi - NOISE_UNIFORM_BITS:hi], x[hi - 2 * NOISE_UNIFORM_BITS:hi - NOISE_UNIFORM_BITS]


def noise_count(draw: Value, thresholds: list[Value]) -> Value:
    """k = #{m : draw >= T[m]}, 0 .. NOISE_COUNT_MAX."""
    total = 0
    for t in thresholds:
        total = total + (draw >= t)
    return total


class Xorshift64Noise(wiring.Component):
    """Combinational: one generator step and the two noise counts (used inside the neuron update;
    a component of its own so it can be tested alone)."""

    state: In(RNG_WIDTH)
    """Generator state before the step."""
    thr_exc: In(unsigned(NOISE_UNIFORM_BITS + 1)).array(NOISE_COUNT_MAX)
    """Excitatory thresholds T_e[m]."""
    thr_inh: In(unsigned(NOISE_UNIFORM_BITS + 1)).array(NOISE_COUNT_MAX)
    """Inhibitory thresholds T_i[m]."""
    next_state: Out(RNG_WIDTH)
    """Generator state after the step."""
    k_exc: Out(range(NOISE_COUNT_MAX + 1))
    """Excitatory background events this tick."""
    k_inh: Out(range(NOISE_COUNT_MAX + 1))
    """Inhibitory background events this tick."""

    def elaborate(self, platform):
        m = Module()
        x = xorshift64_step(self.state)
        ue, ui = noise_uniforms(x)
        m.d.comb += [
            self.next_state.eq(x),
            self.k_exc.eq(noise_count(ue, list(self.thr_exc))),
            self.k_inh.eq(noise_count(ui, list(self.thr_inh))),
        ]
        return m
