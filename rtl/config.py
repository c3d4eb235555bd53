"""Elaboration-time parameters of the core and the layouts of its ports.

`CoreConfig` holds what is fixed when the core is built: the number of neurons N, the number of lanes
L and the fixed-point `Formats` of the model (taken from `lifstp.golden_model.spec`, never restated).
It checks them and raises `ConfigError` naming the offending parameter. The register file's layout
and the shapes of the registers and neuron fields come from the model's table (`spec.REGISTERS`,
`spec.NEURON_FIELDS`: their width rules under the formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data

# Address spaces, neuron fields and status counters are the wire protocol's (one definition): the write
# and read ports use the protocol's addresses unchanged. The core holds the counters TICKS,
# CYCLES_LAST_TICK, SATURATED_V and SATURATED_U; the command engine holds the others.
from lifstp.protocol import STATS_UNITS_MAX, NeuronField, Space, StatusCounter
from lifstp.golden_model.spec import (NEURON_FIELDS, NOISE_THRESHOLD_BITS, READOUT_REGISTERS, REGISTER_NAMES, REGISTERS, RNG_BITS, Formats,
                                      Quantity)

__all__ = [
    "ConfigError", "CoreConfig", "bits_for", "NO_RW_CHECK", "Space", "NeuronField", "StatusCounter", "MUTATIONS",
    "register_shapes", "register_word_shape", "threshold_pair_width", "write_layout", "read_layout", "spike_layout",
]

#: Yosys attribute of a memory that is never read and written at one address in one cycle: synthesis
#: then adds no logic to define the read data of such a collision (iCE40: flip-flops and LUTs per port).
NO_RW_CHECK = {"no_rw_check": 1}

#: Width of the generator state (the model's xorshift64).
RNG_WIDTH = RNG_BITS
#: Width of the data field of the write and read ports (the widest quantity is the generator state).
DATA_WIDTH = 64

#: Arithmetic mutations that `CoreConfig(mutation=...)` can inject, for the test that shows the
#: equivalence check catches a one-bit change. Never used outside that test.
MUTATIONS = {
    "leak_round": "the rounding constant of rnd((E_L - V) * kappa_m, frac_k) is 2^frac_k, not 2^(frac_k-1)",
    "event_shift": "the per-event shift of rnd(W * e) is one bit too short",
    "efficacy_round": "the efficacy e is truncated instead of rounded",
}


class ConfigError(ValueError):
    """A core parameter that cannot be elaborated; the message names the parameter."""


def bits_for(n: int) -> int:
    """Bits of an unsigned index into n items (at least 1)."""
    return max(1, (n - 1).bit_length())


def _shape(q: Quantity, fmt: Formats, n_neurons: int | None = None) -> Shape:
    return Shape(q.bits(fmt, n_neurons), q.signed)


def register_shapes(fmt: Formats) -> dict[str, Shape]:
    """The shape of each global register, in the order of spec.REGISTERS (whose width rules give them)."""
    return {q.name: _shape(q, fmt) for q in REGISTERS}


def readout_layout(cfg: "CoreConfig") -> data.StructLayout:
    """The readout's registers (spec.READOUT_REGISTERS), which the spike encoder takes from the core."""
    shapes = register_shapes(cfg.formats)
    return data.StructLayout({name: shapes[name] for name in READOUT_REGISTERS})


def register_word_shape(fmt: Formats) -> Shape:
    """The signed shape that holds every global register's value (sign- or zero-extended): the width
    of the core's block-RAM copy of the registers."""
    return signed(max(sh.width + (0 if sh.signed else 1) for sh in register_shapes(fmt).values()))


def threshold_pair_width() -> int:
    """Bits of one entry of the core's threshold memory: the excitatory threshold T_e[m] in the low
    half, the inhibitory T_i[m] in the high half."""
    return 2 * NOISE_THRESHOLD_BITS


@dataclass(frozen=True)
class CoreConfig:
    """What is fixed when the core is elaborated.

    n_neurons: N, at least 1; lanes: L, a power of two dividing N (lane b updates neurons j with
    j % L == b, and holds their weights column-wise); formats: the model's `Formats`;
    tick_width / counter_width: widths of the tick number on the spike stream and of the status
    counters; shared_multiplier: each lane updates its neurons on one shared multiplier
    (rtl/neuron_shared.py: a neuron every few cycles, for FPGAs with few DSP blocks) instead of the
    full-throughput pipeline (rtl/neuron.py: a neuron every cycle); mutation: test-only arithmetic
    fault (a key of MUTATIONS), None in every real core; states_readout: the engine can send the
    states of a range of units instead of every spike (registers sample_*; each lane then keeps a
    bit per neuron, the neuron's state in the last tick); fields_in_block_ram: each lane's neuron
    fields are asked of Yosys as block RAM (``ram_style``), where it would otherwise put shallow
    memories (M ≤ 32) in LUT RAM, which at 8 lanes congests the ECP5's routing (docs/boards.md).
    """

    n_neurons: int
    lanes: int = 1
    formats: Formats = field(default_factory=Formats)
    tick_width: int = 32
    counter_width: int = 32
    shared_multiplier: bool = False
    mutation: str | None = None
    states_readout: bool = True
    fields_in_block_ram: bool = False

    def __post_init__(self) -> None:
        n, lanes = self.n_neurons, self.lanes
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"n_neurons must be a positive integer, got {n!r}")
        if n > (1 << 20):
            raise ConfigError(f"n_neurons={n} is not representable: at most 2^20 neurons per core")
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1 or lanes & (lanes - 1):
            raise ConfigError(f"lanes must be a power of two (1, 2, 4, ...), got {lanes!r}")
        if n % lanes:
            raise ConfigError(f"lanes={lanes} must divide n_neurons={n}")
        if not isinstance(self.formats, Formats):
            raise ConfigError(f"formats must be a spec.Formats, got {type(self.formats).__name__}")
        fmt = self.formats
        for q in (*REGISTERS, *NEURON_FIELDS):  # every value travels through the data port
            if q.bits(fmt, n) > DATA_WIDTH:
                raise ConfigError(f"formats: {q.name} takes {q.bits(fmt, n)} bits for n_neurons={n}, more than "
                                  f"the {DATA_WIDTH}-bit data port")
        if fmt.width_w > DATA_WIDTH:
            raise ConfigError(f"formats.width_w={fmt.width_w} exceeds the {DATA_WIDTH}-bit data port")
        for name in ("tick_width", "counter_width"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 8 <= value <= 64:
                raise ConfigError(f"{name} must be an integer in 8..64, got {value!r}")
        if not isinstance(self.shared_multiplier, bool):
            raise ConfigError(f"shared_multiplier must be True or False, got {self.shared_multiplier!r}")
        for name in ("states_readout", "fields_in_block_ram"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.mutation is not None and self.mutation not in MUTATIONS:
            raise ConfigError(f"mutation must be None or one of {sorted(MUTATIONS)}, got {self.mutation!r}")

    # Derived sizes -----------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """M = N / L: neurons per lane, and cycles of one spike's delivery."""
        return self.n_neurons // self.lanes

    def active_depth(self, n_active: int = 0) -> int:
        """Addresses a tick updates, and columns a spike's delivery reads, with n_active active neurons
        (the register n_active; 0 or N: all): ceil(n_active / L)."""
        if n_active == 0 or n_active >= self.n_neurons:
            return self.depth
        return -(-n_active // self.lanes)

    @property
    def lane_bits(self) -> int:
        return (self.lanes - 1).bit_length()

    @property
    def neuron_bits(self) -> int:
        return bits_for(self.n_neurons)

    @property
    def addr_bits(self) -> int:
        """Bits of an address into a lane's neuron memories."""
        return bits_for(self.depth)

    @property
    def acc_width(self) -> int:
        """Signed width of acc: Formats.acc_width(N), the exact bound of one tick's N events."""
        return self.formats.acc_width(self.n_neurons)

    def field_shape(self, f: NeuronField) -> Shape:
        """The shape of a per-neuron field (spec.NEURON_FIELDS) in this core."""
        return _shape(NEURON_FIELDS[f], self.formats, self.n_neurons)

    @property
    def port_addr_bits(self) -> int:
        """Bits of the addr field of the write and read ports (enough for a weight index N*N)."""
        return max(bits_for(self.n_neurons * self.n_neurons), bits_for(len(REGISTER_NAMES)), 2,
                   bits_for(STATS_UNITS_MAX * STATS_UNITS_MAX) if self.states_readout else 0)


def write_layout(cfg: CoreConfig) -> data.StructLayout:
    """Payload of the write port: one value into one register, neuron field, weight or counter."""
    return data.StructLayout({
        "space": unsigned(bits_for(len(Space))),  # a `Space`
        "field": unsigned(bits_for(len(NeuronField))),  # a `NeuronField` (space NEURON only)
        "addr": unsigned(cfg.port_addr_bits),
        "data": unsigned(DATA_WIDTH),  # the value, two's complement for signed quantities
    })


def read_layout(cfg: CoreConfig) -> data.StructLayout:
    """Payload of a read request (the reply is the value, sign-extended to DATA_WIDTH bits)."""
    return data.StructLayout({
        "space": unsigned(bits_for(len(Space))),  # a `Space`
        "field": unsigned(bits_for(len(NeuronField))),  # a `NeuronField` (space NEURON only)
        "addr": unsigned(cfg.port_addr_bits),
    })


def spike_layout(cfg: CoreConfig) -> data.StructLayout:
    """Payload of the spike output stream."""
    return data.StructLayout({
        "tick": unsigned(cfg.tick_width),
        "neuron": unsigned(cfg.neuron_bits),
    })
