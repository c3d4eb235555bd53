"""The numerical model's formats and parameters, written once (docs/model.md explains each choice).

Everything the golden model, the float reference and the RTL need to agree on is here: the fixed-point
formats (`Formats`), the physical parameters (`ModelParams`), their quantisation into the integers the
core works with (`quantise`, giving `FixedParams`), the clamp modes and the noise-count table size,
and the table of the core's global registers and per-neuron fields (`REGISTERS`, `NEURON_FIELDS`:
name, width rule, signedness, limits, meaning), from which the protocol, the RTL and the golden
kernels take widths, limits and order. This module depends on nothing else in the project.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

#: Number of Poisson-count thresholds per noise source: a background source adds at most this many
#: events per tick (the truncated tail is reported by `ModelParams.noise_tail_probability`).
NOISE_COUNT_MAX = 4
#: Width of each uniform draw that is compared with the noise thresholds.
NOISE_UNIFORM_BITS = 16


class ClampMode(enum.IntEnum):
    """Per-neuron clamp mode, for conditional sampling."""

    FREE = 0  #: the neuron follows its dynamics
    ON = 1  #: the neuron fires whenever it is not refractory (its unit reads 1)
    OFF = 2  #: the neuron never fires (its unit reads 0); its membrane still evolves


#: The clamp modes as plain integers, for the numba kernels: numba folds module-level ints into the
#: kernel as constants, while an IntEnum compared inside the kernel costs the vectorised neuron update.
CLAMP_ON, CLAMP_OFF = int(ClampMode.ON), int(ClampMode.OFF)


class ModelError(ValueError):
    """A parameter or format that the model cannot represent; the message names it."""


@dataclass(frozen=True)
class Operand:
    """One factor of a product: its width in bits and whether it is two's complement."""

    bits: int
    signed: bool

    @property
    def signed_bits(self) -> int:
        """Its width as a signed number (what a signed hardware multiplier needs)."""
        return self.bits + (0 if self.signed else 1)


@dataclass(frozen=True)
class Product:
    """One multiplication of the model and its two operands; ``bits``: the width of the product."""

    name: str
    a: Operand
    b: Operand

    @property
    def operands(self) -> tuple[Operand, Operand]:
        return (self.a, self.b)

    @property
    def bits(self) -> int:
        return self.a.bits + self.b.bits


@dataclass(frozen=True)
class Formats:
    """Fixed-point formats of the core. `frac_*` are fraction bits, `width_*` total bits (signed unless
    noted). Potentials (V, E_L, threshold, reset), the synaptic state u and noise weights share one
    format in mV; recurrent weights have their own; decay factors and the resource R are fractions of 1.
    """

    frac_v: int = 16  #: fraction bits of every mV quantity (V, E_L, threshold, reset, u, noise weights)
    width_v: int = 26  #: signed width of V and u; both saturate to it
    frac_w: int = 12  #: fraction bits of a recurrent weight (mV per tick of u)
    width_w: int = 16  #: signed width of a recurrent weight
    frac_k: int = 24  #: fraction bits of the decay increments kappa = 1 - exp(-dt/tau)
    frac_r: int = 24  #: fraction bits of the resource R in [0, 1] (unsigned, width frac_r + 1) and of U
    frac_e: int = 16  #: fraction bits of the efficacy R_e that scales a spike (unsigned, width frac_e + 1)
    width_ref: int = 16  #: unsigned width of the refractory counter

    def __post_init__(self) -> None:
        for name in ("frac_v", "width_v", "frac_w", "width_w", "frac_k", "frac_r", "frac_e", "width_ref"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ModelError(f"Formats.{name} must be a positive integer, got {value!r}")
        if self.width_v <= self.frac_v + 7:
            raise ModelError(
                f"Formats.width_v={self.width_v} leaves fewer than 7 integer bits above frac_v={self.frac_v}: "
                "potentials of -100 mV would not fit"
            )
        if self.width_w < 2:
            raise ModelError("Formats.width_w must be at least 2 (a signed weight)")
        if self.frac_e > self.frac_r:
            raise ModelError(f"Formats.frac_e={self.frac_e} must not exceed frac_r={self.frac_r}")
        if self.event_shift < 0:
            raise ModelError(
                f"Formats: frac_w + frac_e - frac_v = {self.event_shift} is negative; "
                "a weighted spike must not gain fraction bits over u"
            )
        # Every product the model forms must fit a signed 64-bit integer (the golden model's word).
        for prod in self.products():
            if prod.bits > 62:
                raise ModelError(f"Formats: the product {prod.name} needs {prod.bits} bits, more than 62")

    def products(self) -> tuple["Product", ...]:
        """The multiplications of one neuron's update and of one spike's delivery, with the widths of
        their operands under these formats (the RTL forms exactly these; docs/model.md)."""
        dv, u, w = Operand(self.width_v + 1, True), Operand(self.width_v, True), Operand(self.width_w, True)
        kappa, r = Operand(self.frac_k, False), Operand(self.frac_r + 1, False)  # 1 - R: as wide as R
        count = Operand(NOISE_COUNT_MAX.bit_length(), False)
        return (
            Product("(E_L - V) * kappa_m", dv, kappa),
            Product("u * kappa_syn", u, kappa),
            Product("(1 - R) * kappa_rec", r, kappa),
            Product("R * U", r, r),
            Product("w * R_e", w, Operand(self.frac_e + 1, False)),
            Product("k_e * w_e, k_i * w_i", count, u),
        )

    def widest_signed_operand(self) -> int:
        """Width of the widest operand of any product as a signed number (an unsigned operand of k bits
        takes k + 1): at most 18, every product fits one 18 × 18 multiplier (ECP5 MULT18X18D)."""
        return max(op.signed_bits for prod in self.products() for op in prod.operands)

    @property
    def event_shift(self) -> int:
        """Right shift (with rounding) that brings w * R_e into the format of u."""
        return self.frac_w + self.frac_e - self.frac_v

    @property
    def v_min(self) -> int:
        return -(1 << (self.width_v - 1))

    @property
    def v_max(self) -> int:
        return (1 << (self.width_v - 1)) - 1

    @property
    def w_min(self) -> int:
        return -(1 << (self.width_w - 1))

    @property
    def w_max(self) -> int:
        return (1 << (self.width_w - 1)) - 1

    @property
    def r_one(self) -> int:
        """The integer that stands for R = 1 (and U = 1)."""
        return 1 << self.frac_r

    def acc_width(self, n_neurons: int) -> int:
        """Signed width of the per-neuron input accumulator: the exact bound of one tick's recurrent
        input, n_neurons events rnd(W·e, event_shift) with W anywhere in its format and 0 <= e <= 1,
        so the accumulator never overflows and is saturated only once, into u."""
        e_max, s = 1 << self.frac_e, self.event_shift
        half = (1 << (s - 1)) if s else 0
        hi = n_neurons * ((self.w_max * e_max + half) >> s)
        lo = n_neurons * ((self.w_min * e_max + half) >> s)
        return max(hi.bit_length(), (-lo - 1).bit_length()) + 1


#: Named formats a core can be built with (`lifstp build --formats`, `--device golden:<name>`).
#: "default": the defaults above. "dsp18": every product fits one 18 × 18 multiplier (V and u in 17 bits
#: with 9 fraction bits, kappa in 17 fraction bits, R in 16), so an ECP5 lane needs about a third of the
#: multipliers and a core can have more lanes; its error budget is in docs/model.md.
FORMAT_PRESETS = {
    "default": Formats(),
    "dsp18": Formats(frac_v=9, width_v=17, frac_w=12, width_w=16, frac_k=17, frac_r=16, frac_e=16),
}


def format_preset(name: str) -> Formats:
    """The formats of a named preset; ModelError naming the presets for an unknown name."""
    if name not in FORMAT_PRESETS:
        raise ModelError(f"unknown formats {name!r}; presets: {', '.join(FORMAT_PRESETS)}")
    return FORMAT_PRESETS[name]


def preset_name(fmt: Formats) -> str | None:
    """The preset these formats are, or None."""
    return next((name for name, f in FORMAT_PRESETS.items() if f == fmt), None)


@dataclass(frozen=True)
class ModelParams:
    """Physical parameters of the core: one set for all neurons, except the per-neuron leak potentials
    and clamp modes, which live with the network (see `quantise`). Times in ms, potentials in mV,
    currents in pA, capacitance in pF, rates in Hz."""

    dt_ms: float = 0.1
    tau_m_ms: float = 1.0
    c_m_pf: float = 200.0
    tau_syn_ms: float = 10.0
    tau_ref_ms: float = 10.0
    v_th_mv: float = -50.0
    v_reset_mv: float = -50.01
    noise_rate_exc_hz: float = 2000.0
    noise_rate_inh_hz: float = 2000.0
    noise_weight_exc_pa: float = 90.0
    noise_weight_inh_pa: float = 90.0
    stp_u: float = 1.0  #: utilisation U in [0, 1]; 0 switches depression off (R stays 1)
    stp_tau_rec_ms: float = 10.0  #: recovery time constant; U = 1 with tau_rec = tau_syn renews synapses

    def __post_init__(self) -> None:
        positive = ("dt_ms", "tau_m_ms", "c_m_pf", "tau_syn_ms", "tau_ref_ms", "stp_tau_rec_ms")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ModelError(f"ModelParams.{name} must be a positive finite number, got {value!r}")
        for name in ("noise_rate_exc_hz", "noise_rate_inh_hz", "noise_weight_exc_pa", "noise_weight_inh_pa"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ModelError(f"ModelParams.{name} must be a non-negative finite number, got {value!r}")
        if not (0.0 <= self.stp_u <= 1.0):
            raise ModelError(f"ModelParams.stp_u must lie in [0, 1], got {self.stp_u!r}")
        if not self.v_reset_mv < self.v_th_mv:
            raise ModelError(
                f"ModelParams.v_reset_mv={self.v_reset_mv} must lie below v_th_mv={self.v_th_mv}"
            )
        if self.tau_ref_ticks < 1:
            raise ModelError(f"ModelParams.tau_ref_ms={self.tau_ref_ms} is shorter than one tick")

    @property
    def tau_ref_ticks(self) -> int:
        """Refractory period in ticks: a unit is on for this many ticks after each spike."""
        return int(round(self.tau_ref_ms / self.dt_ms))

    @property
    def g_l_ns(self) -> float:
        """Leak conductance in nS (pF / ms)."""
        return self.c_m_pf / self.tau_m_ms

    @property
    def p21_mv_per_pa(self) -> float:
        """Exact-integration propagator from a synaptic current to the membrane over one tick
        (mV per pA): the current i at the start of a tick, decaying with tau_syn, moves V by
        p21 * i during the tick (the propagator of NEST's iaf_psc_exp)."""
        tm, ts, h, c = self.tau_m_ms, self.tau_syn_ms, self.dt_ms, self.c_m_pf
        if abs(tm - ts) < 1e-9 * max(tm, ts):  # the limit tau_m -> tau_syn
            return h / c * math.exp(-h / tm)
        return ts * tm / (c * (tm - ts)) * (math.exp(-h / tm) - math.exp(-h / ts))

    def noise_lambda(self) -> tuple[float, float]:
        """Expected excitatory and inhibitory background events per tick."""
        return self.noise_rate_exc_hz * self.dt_ms * 1e-3, self.noise_rate_inh_hz * self.dt_ms * 1e-3

    def noise_tail_probability(self) -> float:
        """Probability per tick and source that the Poisson count exceeds NOISE_COUNT_MAX (these
        events are not generated; the larger of the two sources is reported)."""
        return max(_poisson_tail(lam, NOISE_COUNT_MAX) for lam in self.noise_lambda())


def _poisson_cdf(lam: float, k: int) -> float:
    term, total = math.exp(-lam), 0.0
    for m in range(k + 1):
        total += term
        term *= lam / (m + 1)
    return total


def _poisson_tail(lam: float, k: int) -> float:
    return max(0.0, 1.0 - _poisson_cdf(lam, k))


def noise_thresholds(lam: float) -> np.ndarray:
    """Thresholds T[m] = ceil(2^16 · CDF_Poisson(m; lam)), m = 0 .. NOISE_COUNT_MAX-1: a uniform 16-bit
    draw x yields the event count k = #{m : x >= T[m]}. For an integer x, x >= ceil(y) exactly when
    x >= y, so these integer thresholds lose nothing against the float reference's."""
    scale = 1 << NOISE_UNIFORM_BITS
    return np.array(
        [min(scale, math.ceil(scale * _poisson_cdf(lam, m))) for m in range(NOISE_COUNT_MAX)], dtype=np.int64
    )


def noise_cdf_float(lam: float) -> np.ndarray:
    """The same thresholds without quantisation (used by the float reference)."""
    scale = float(1 << NOISE_UNIFORM_BITS)
    return np.array([scale * _poisson_cdf(lam, m) for m in range(NOISE_COUNT_MAX)], dtype=np.float64)


@dataclass(frozen=True)
class FixedParams:
    """The integers the core runs on: global registers of the core (one value each) plus the weight
    quantisation. Built by `quantise`; the RTL's parameter registers hold exactly these."""

    formats: Formats
    tau_ref_ticks: int
    v_th: int  #: threshold, frac_v
    v_reset: int  #: reset potential, frac_v
    kappa_m: int  #: 1 - exp(-dt/tau_m), frac_k
    kappa_syn: int  #: 1 - exp(-dt/tau_syn), frac_k
    kappa_rec: int  #: 1 - exp(-dt/tau_rec), frac_k
    stp_u: int  #: U, frac_r (U = 1 is exactly r_one)
    noise_w_exc: int  #: u increment per excitatory background event, frac_v
    noise_w_inh: int  #: u decrement per inhibitory background event, frac_v
    noise_thr_exc: tuple[int, ...] = field(default=())  #: NOISE_COUNT_MAX thresholds
    noise_thr_inh: tuple[int, ...] = field(default=())
    #: neurons 0 .. n_active - 1 are updated and delivered to each tick, the rest keep their state and
    #: never fire (0: all); a core property rather than a model parameter, set when a network is loaded
    n_active: int = 0
    #: the readout (docs/protocol.md, "The state stream"), also core properties set by the host:
    #: 0 units: every spike is sent; else the states of units sample_first .. sample_first +
    #: sample_units - 1 at the run's tick sample_wait and every sample_every ticks after it
    sample_units: int = 0
    sample_first: int = 0
    sample_every: int = 1
    sample_wait: int = 0
    #: 1: the samples are not sent but counted on the device (on-time and co-activation counts)
    sample_stats: int = 0

    def registers(self) -> np.ndarray:
        """The global registers packed in the order of `REGISTERS` (the array the kernels and the
        devices take)."""
        return np.array([r.value_of(self) for r in REGISTERS], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# The table of the core's registers and neuron fields: every consumer (the protocol's widths and value
# limits, the RTL's shapes, the golden kernels' arguments) takes them from here.


def _full_range(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


@dataclass(frozen=True)
class Quantity:
    """One global register or one per-neuron field of the core.

    Parameters
    ----------
    name : str
        The register's name (`REGISTER_NAMES`) or the field's (`NEURON_FIELDS`, lower case).
    signed : bool
        Two's complement (True) or unsigned.
    width : callable
        Width rule ``width(formats, n_neurons) -> bits`` (n_neurons matters only for the input
        accumulator; registers ignore it).
    meaning : str
        What the value is, and its fixed-point format.
    lowest, highest : callable, optional
        ``rule(formats, n_neurons) -> int``: the limits a device of n_neurons neurons accepts, where
        the model narrows the range of the format (None: the end of the format's range; n_neurons
        may be None where the device is not known).
    param, index : str, int, optional
        Registers only: the `FixedParams` attribute the value comes from (default: ``name``), and its
        position when that attribute is a tuple (the noise thresholds).
    """

    name: str
    signed: bool
    width: Callable[[Formats, int | None], int]
    meaning: str
    lowest: Callable[[Formats, int | None], int] | None = None
    highest: Callable[[Formats, int | None], int] | None = None
    param: str | None = None
    index: int | None = None

    def bits(self, fmt: Formats, n_neurons: int | None = None) -> int:
        """Width in bits under these formats (and, for the accumulator, this many neurons)."""
        return self.width(fmt, n_neurons)

    def limits(self, fmt: Formats, n_neurons: int | None = None) -> tuple[int, int]:
        """(lowest, highest) value a device accepts: the format's range, narrowed where the model needs it."""
        lo, hi = _full_range(self.bits(fmt, n_neurons), self.signed)
        return (lo if self.lowest is None else self.lowest(fmt, n_neurons),
                hi if self.highest is None else self.highest(fmt, n_neurons))

    @property
    def attribute(self) -> str:
        """The `FixedParams` attribute (registers) or the kernel argument that holds the value."""
        return self.param or self.name

    def value_of(self, fixed: "FixedParams") -> int:
        """A register's value in quantised parameters."""
        value = getattr(fixed, self.attribute)
        return value if self.index is None else value[self.index]


def _acc_width(fmt: Formats, n_neurons: int | None) -> int:
    if n_neurons is None:
        raise ModelError("the width of the input accumulator depends on the number of neurons")
    return fmt.acc_width(n_neurons)


#: Width of the per-neuron generator state (the model's xorshift64).
RNG_BITS = 64
#: Width of the active-count register: up to 2^16 - 1 neurons, the most a core's 16-bit spike ids name.
ACTIVE_BITS = 16
#: Width of the readout's sample period and first-sample tick (registers sample_every, sample_wait).
SAMPLE_TICK_BITS = 16
#: Most units whose states one sample holds: the bits of a STATES frame's samples (the protocol checks
#: this against its frame size).
SAMPLE_UNITS_MAX = 1992
#: Width of a noise threshold: T[m] <= 2^NOISE_UNIFORM_BITS, where 2^16 means "never".
NOISE_THRESHOLD_BITS = NOISE_UNIFORM_BITS + 1

_V = lambda f, n: f.width_v  # noqa: E731  (width rules, shared by several rows)
_K = lambda f, n: f.frac_k  # noqa: E731
_R = lambda f, n: f.frac_r + 1  # noqa: E731
_R_ONE = lambda f, n: f.r_one  # noqa: E731

#: The global registers, in the order of `FixedParams.registers()` and of the protocol's REG addresses.
REGISTERS: tuple[Quantity, ...] = (
    Quantity("tau_ref_ticks", False, lambda f, n: f.width_ref,
             "refractory period in ticks; the counter is loaded with tau_ref - 1", lowest=lambda f, n: 1),
    Quantity("v_th", True, _V, "threshold potential, frac_v"),
    Quantity("v_reset", True, _V, "reset potential, frac_v"),
    Quantity("kappa_m", False, _K, "membrane decay increment 1 - exp(-dt/tau_m), frac_k"),
    Quantity("kappa_syn", False, _K, "synaptic decay increment 1 - exp(-dt/tau_syn), frac_k"),
    Quantity("kappa_rec", False, _K, "resource recovery increment 1 - exp(-dt/tau_rec), frac_k"),
    Quantity("stp_u", False, _R, "utilisation U, frac_r (U <= 1)", highest=_R_ONE),
    Quantity("noise_w_exc", True, _V, "u increment per excitatory background event, frac_v"),
    Quantity("noise_w_inh", True, _V, "u decrement per inhibitory background event, frac_v"),
    *(Quantity(f"noise_thr_{src}{m}", False, lambda f, n: NOISE_THRESHOLD_BITS,
               f"{kind} Poisson-count threshold T[{m}] on a 16-bit uniform (2^16: never)",
               highest=lambda f, n: 1 << NOISE_UNIFORM_BITS, param=f"noise_thr_{src}", index=m)
      for src, kind in (("exc", "excitatory"), ("inh", "inhibitory")) for m in range(NOISE_COUNT_MAX)),
    Quantity("n_active", False, lambda f, n: ACTIVE_BITS,
             "neurons updated and delivered to each tick: 0 .. n_active - 1 (0: all N; at most N)",
             highest=lambda f, n: (1 << ACTIVE_BITS) - 1 if n is None else n),
    Quantity("sample_units", False, lambda f, n: ACTIVE_BITS,
             "readout: 0 sends every spike; else the states of this many units are sent instead",
             highest=lambda f, n: SAMPLE_UNITS_MAX if n is None else min(n, SAMPLE_UNITS_MAX)),
    Quantity("sample_first", False, lambda f, n: ACTIVE_BITS, "the first unit whose state is sent",
             highest=lambda f, n: (1 << ACTIVE_BITS) - 1 if n is None else n - 1),
    Quantity("sample_every", False, lambda f, n: SAMPLE_TICK_BITS, "ticks between two samples of the states",
             lowest=lambda f, n: 1),
    Quantity("sample_wait", False, lambda f, n: SAMPLE_TICK_BITS,
             "the run's tick (counted from 0) whose states are the first sample"),
    Quantity("sample_stats", False, lambda f, n: 1,
             "readout: 1 counts the samples on the device (space STATS) instead of sending them"),
)

#: Names of the global registers in the order of `FixedParams.registers()`.
REGISTER_NAMES = tuple(r.name for r in REGISTERS)
#: The registers of the readout: the device's encoder takes them, the model's kernels do not.
READOUT_REGISTERS = ("sample_units", "sample_first", "sample_every", "sample_wait", "sample_stats")

#: The per-neuron fields, in the order of the protocol's field numbers (protocol.NeuronField).
NEURON_FIELDS: tuple[Quantity, ...] = (
    Quantity("v", True, _V, "membrane potential V, frac_v"),
    Quantity("u", True, _V, "synaptic state u, frac_v"),
    Quantity("ref", False, lambda f, n: f.width_ref, "refractory counter (ticks left)"),
    Quantity("res", False, _R, "STP resource R, frac_r (R <= 1)", highest=_R_ONE),
    Quantity("rng", False, lambda f, n: RNG_BITS, "xorshift64 generator state (never zero: a fixed point)",
             lowest=lambda f, n: 1),
    Quantity("el", True, _V, "leak potential E_L, frac_v"),
    Quantity("clamp", False, lambda f, n: max(ClampMode).bit_length(), "clamp mode, a ClampMode",
             highest=lambda f, n: int(max(ClampMode))),
    Quantity("acc", True, _acc_width, "recurrent input waiting for the next tick, in the format of u"),
)


def _decay_increment(dt: float, tau: float, frac: int) -> int:
    kappa = -math.expm1(-dt / tau)
    q = int(round(kappa * (1 << frac)))
    return min(q, (1 << frac) - 1)


def _to_fixed(value: float, frac: int, lo: int, hi: int, name: str) -> int:
    q = int(round(value * (1 << frac)))
    if not lo <= q <= hi:
        raise ModelError(f"{name}={value!r} does not fit its fixed-point format (range {lo / (1 << frac):g} .. "
                         f"{hi / (1 << frac):g})")
    return q


def quantise(params: ModelParams, formats: Formats | None = None) -> FixedParams:
    """Turn physical parameters into the core's integer registers (round to nearest)."""
    fmt = formats or Formats()
    if params.tau_ref_ticks >= (1 << fmt.width_ref):
        raise ModelError(f"tau_ref of {params.tau_ref_ticks} ticks does not fit width_ref={fmt.width_ref}")
    p21 = params.p21_mv_per_pa
    lam_e, lam_i = params.noise_lambda()
    return FixedParams(
        formats=fmt,
        tau_ref_ticks=params.tau_ref_ticks,
        v_th=_to_fixed(params.v_th_mv, fmt.frac_v, fmt.v_min, fmt.v_max, "v_th_mv"),
        v_reset=_to_fixed(params.v_reset_mv, fmt.frac_v, fmt.v_min, fmt.v_max, "v_reset_mv"),
        kappa_m=_decay_increment(params.dt_ms, params.tau_m_ms, fmt.frac_k),
        kappa_syn=_decay_increment(params.dt_ms, params.tau_syn_ms, fmt.frac_k),
        kappa_rec=_decay_increment(params.dt_ms, params.stp_tau_rec_ms, fmt.frac_k),
        stp_u=int(round(params.stp_u * fmt.r_one)),
        noise_w_exc=_to_fixed(params.noise_weight_exc_pa * p21, fmt.frac_v, 0, fmt.v_max, "noise_weight_exc_pa"),
        noise_w_inh=_to_fixed(params.noise_weight_inh_pa * p21, fmt.frac_v, 0, fmt.v_max, "noise_weight_inh_pa"),
        noise_thr_exc=tuple(int(t) for t in noise_thresholds(lam_e)),
        noise_thr_inh=tuple(int(t) for t in noise_thresholds(lam_i)),
    )


def quantise_potentials(values_mv: np.ndarray, formats: Formats, name: str = "E_L") -> np.ndarray:
    """Potentials in mV (e.g. per-neuron leak potentials) to frac_v integers; error if out of range."""
    values = np.asarray(values_mv, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ModelError(f"{name} contains NaN or infinite values")
    with np.errstate(over="ignore"):  # compared as floats first: no overflowing cast to int64
        scaled = np.round(values * (1 << formats.frac_v))
    bad = ~((scaled >= formats.v_min) & (scaled <= formats.v_max))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(f"{name}[{i}]={float(values.flat[i])!r} mV is outside the potential format")
    return scaled.astype(np.int64)


def quantise_weights(weights_pa: np.ndarray, params: ModelParams, formats: Formats) -> tuple[np.ndarray, int]:
    """Recurrent weights in pA (pre x post) to frac_w integers in units of u, saturating to width_w.
    Returns the integer matrix and the number of weights that were clipped (reported, never silent)."""
    w = np.asarray(weights_pa, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ModelError("weights contain NaN or infinite values")
    q = np.round(w * params.p21_mv_per_pa * (1 << formats.frac_w))
    clipped = int(np.count_nonzero((q < formats.w_min) | (q > formats.w_max)))
    return np.clip(q, formats.w_min, formats.w_max).astype(np.int64), clipped


def weights_to_u_float(weights_pa: np.ndarray, params: ModelParams) -> np.ndarray:
    """Recurrent weights in pA to the float reference's units of u (mV per tick)."""
    return np.asarray(weights_pa, dtype=np.float64) * params.p21_mv_per_pa
