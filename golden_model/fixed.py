"""The golden model: the core's fixed-point arithmetic, bit for bit (docs/model.md, "One tick").

`GoldenCore` holds a network's integer state and runs it tick by tick in one numba kernel; the RTL
must produce the same spikes and the same state at every tick. Rounding is `round_shift` (add half,
shift right arithmetically: round half up); every saturation is counted.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numba
import numpy as np

from .rng import noise_uniforms, seed_states, xorshift64_step
from .spec import CLAMP_OFF, CLAMP_ON, NOISE_COUNT_MAX, READOUT_REGISTERS, REGISTERS, ClampMode, FixedParams, Formats, ModelError

if NOISE_COUNT_MAX != 4:  # run_ticks unrolls the threshold comparisons
    raise ImportError("golden_model.fixed.run_ticks is written for NOISE_COUNT_MAX = 4")

COUNTER_NAMES = ("saturated_v", "saturated_u")


@numba.njit(cache=True, inline="always")
def round_shift(x, s):
    """x / 2^s rounded to nearest, ties toward +infinity (floor of x / 2^s + 1/2)."""
    if s == 0:
        return x
    return (x + (numba.int64(1) << (s - 1))) >> s


def format_array(fmt: Formats) -> np.ndarray:
    """The formats as the kernel takes them."""
    return np.array(
        [fmt.frac_v, fmt.v_min, fmt.v_max, fmt.frac_k, fmt.frac_r, fmt.frac_e, fmt.event_shift], dtype=np.int64
    )


def _register_slots() -> list[tuple[str, object]]:
    """(kernel argument, position or positions in the registers array) for each argument: one per
    register, one per tuple of registers (the noise thresholds, in the order of their index); the
    readout's registers are not the model's."""
    slots: dict[str, list[tuple[int, int]]] = {}
    for k, q in enumerate(REGISTERS):
        if q.name in READOUT_REGISTERS:
            continue
        slots.setdefault(q.attribute, []).append((-1 if q.index is None else q.index, k))
    return [(name, pos[0][1] if pos[0][0] < 0 else np.array([k for _, k in sorted(pos)]))
            for name, pos in slots.items()]


_REGISTER_SLOTS = _register_slots()


def register_arguments(regs: np.ndarray) -> dict[str, object]:
    """The registers array (in the order of spec.REGISTERS) as the kernels' keyword arguments, named
    after `spec.Quantity.attribute`: a scalar per register, an array per tuple (the thresholds). The
    kernels thus take each register by name, whatever its position in the table."""
    return {name: regs[pos] for name, pos in _REGISTER_SLOTS}


def run_ticks(regs, fa, e_l, clamp, weights, v, u, ref, res, rng, acc, counters,
              t0, n_ticks, out_tick, out_neuron, out_eff):
    """Advance the core by up to `n_ticks` ticks from tick `t0`, appending spikes to the out arrays.

    Stops early (at a tick boundary) when the spike buffers could overflow in the next tick.
    Returns (ticks done, spikes written). State arrays are updated in place. `regs` is
    `FixedParams.registers()` (or a device's copy of it), `fa` is `format_array`.
    """
    # Positional: numba's dispatch of keyword arguments costs about half a millisecond a call, which
    # the emulator's short chunks would pay often. _KERNEL_REGISTERS pins the order to the names.
    args = register_arguments(regs)
    return _run_ticks(*(args[name] for name in _KERNEL_REGISTERS), fa, e_l, clamp, weights, v, u, ref, res, rng,
                      acc, counters, t0, n_ticks, out_tick, out_neuron, out_eff)


@numba.njit(cache=True, nogil=True)
def _run_ticks(tau_ref_ticks, v_th, v_reset, kappa_m, kappa_syn, kappa_rec, stp_u, noise_w_exc, noise_w_inh,
               noise_thr_exc, noise_thr_inh, n_active, fa, e_l, clamp, weights, v, u, ref, res, rng, acc, counters,
               t0, n_ticks, out_tick, out_neuron, out_eff):
    """The kernel of `run_ticks`, taking the registers by name (`register_arguments`).

    Phase 1 is written without branches so that the compiler vectorises it across neurons (each
    neuron touches only its own state); the few neurons that fire are then finished one by one.
    Only neurons 0 .. n - 1 take part, n = n_active (0: all): the others keep their state.
    """
    n = v.shape[0] if n_active == 0 else min(n_active, v.shape[0])
    # Views of the active neurons: the loops then run over whole arrays, which the compiler
    # vectorises as it did before the active count (a bound apart from the shape costs ~5 %).
    v, u, ref, res, rng, acc, e_l, clamp = v[:n], u[:n], ref[:n], res[:n], rng[:n], acc[:n], e_l[:n], clamp[:n]
    tau_ref, w_exc, w_inh = tau_ref_ticks, noise_w_exc, noise_w_inh
    te0, te1, te2, te3 = noise_thr_exc[0], noise_thr_exc[1], noise_thr_exc[2], noise_thr_exc[3]
    ti0, ti1, ti2, ti3 = noise_thr_inh[0], noise_thr_inh[1], noise_thr_inh[2], noise_thr_inh[3]
    frac_k, frac_r, frac_e, shift = fa[3], fa[4], fa[5], fa[6]
    v_min, v_max = fa[1], fa[2]
    r_one = numba.int64(1) << frac_r
    half_k = numba.int64(1) << (frac_k - 1)
    e_shift = frac_r - frac_e
    capacity = out_tick.shape[0]
    fire = np.zeros(n, dtype=np.bool_)
    spiked = np.empty(n, dtype=np.int64)
    eff = np.empty(n, dtype=np.int64)
    n_out = 0
    done = 0
    while done < n_ticks and n_out + n <= capacity:
        t = t0 + done
        sat_v = 0
        sat_u = 0
        # Phase 1: neuron updates, all neurons at once.
        for i in range(n):
            x = xorshift64_step(rng[i])
            rng[i] = x
            ue, ui = noise_uniforms(x)
            k_e = numba.int64(ue >= te0) + numba.int64(ue >= te1) + numba.int64(ue >= te2) + numba.int64(ue >= te3)
            k_i = numba.int64(ui >= ti0) + numba.int64(ui >= ti1) + numba.int64(ui >= ti2) + numba.int64(ui >= ti3)
            # Resource recovery toward 1.
            r = res[i]
            res[i] = r + (((r_one - r) * kappa_rec + half_k) >> frac_k)
            # Membrane: frozen while refractory, else leak toward E_L plus the synaptic state.
            vi = v[i]
            refractory = ref[i] > 0
            ref[i] -= numba.int64(refractory)
            vn = vi + (((e_l[i] - vi) * kappa_m + half_k) >> frac_k) + u[i]
            vc = min(max(vn, v_min), v_max)
            sat_v += numba.int64((vc != vn) & (not refractory))
            vi = vi if refractory else vc
            v[i] = vi
            # Synaptic state: decay, plus last tick's recurrent input and this tick's background.
            ui_ = u[i]
            un = ui_ - ((ui_ * kappa_syn + half_k) >> frac_k) + acc[i] + k_e * w_exc - k_i * w_inh
            uc = min(max(un, v_min), v_max)
            sat_u += numba.int64(uc != un)
            u[i] = uc
            acc[i] = 0
            # Spike decision: never while refractory or clamped OFF, always when clamped ON.
            c = clamp[i]
            fire[i] = (not refractory) & (c != CLAMP_OFF) & ((c == CLAMP_ON) | (vi >= v_th))
        counters[0] += sat_v
        counters[1] += sat_u
        # Finish the neurons that fired: reset, efficacy, depletion.
        n_spk = 0
        for i in range(n):
            if fire[i]:
                v[i] = v_reset
                ref[i] = tau_ref - 1
                r = res[i]
                e = round_shift(r, e_shift)
                res[i] = r - round_shift(r * stp_u, frac_r)
                eff[n_spk] = e
                spiked[n_spk] = i
                n_spk += 1
                out_tick[n_out] = t
                out_neuron[n_out] = i
                out_eff[n_out] = e
                n_out += 1
        # Phase 2: deliver this tick's spikes; they act in the next tick (any order: integer sums).
        for s in range(n_spk):
            row = weights[spiked[s], :n]
            e = eff[s]
            if shift == 0:
                for j in range(n):
                    acc[j] += numba.int64(row[j]) * e
            else:
                half = numba.int64(1) << (shift - 1)
                for j in range(n):
                    acc[j] += (numba.int64(row[j]) * e + half) >> shift
        done += 1
    return done, n_out


#: The register parameters of the kernel, in its order; each must be a register argument by name.
_KERNEL_REGISTERS = tuple(inspect.signature(_run_ticks.py_func).parameters)[:len(_REGISTER_SLOTS)]
if sorted(_KERNEL_REGISTERS) != sorted(name for name, _ in _REGISTER_SLOTS):
    raise ImportError(f"golden_model.fixed._run_ticks takes registers {_KERNEL_REGISTERS}, the table has "
                      f"{[name for name, _ in _REGISTER_SLOTS]}")


@dataclass
class Snapshot:
    """The core's full state between two ticks (all integers, in the formats of docs/model.md)."""

    tick: int
    v: np.ndarray
    u: np.ndarray
    ref: np.ndarray
    res: np.ndarray
    rng: np.ndarray
    acc: np.ndarray


class GoldenCore:
    """The bit-exact golden model of one core holding a network of N neurons.

    fixed: global registers from `spec.quantise`; e_l: per-neuron leak potentials (frac_v integers);
    weights: N x N integer matrix, weights[pre, post] in frac_w; clamp: per-neuron `ClampMode`;
    seed: seeds the per-neuron generators (see `rng.seed_states`).
    """

    def __init__(self, fixed: FixedParams, e_l: np.ndarray, weights: np.ndarray,
                 clamp: np.ndarray | None = None, seed: int = 0):
        self.fixed = fixed
        fmt = fixed.formats
        e_l = np.asarray(e_l)
        if e_l.ndim != 1 or e_l.size == 0:
            raise ModelError(f"e_l must be a non-empty 1-D array, got shape {e_l.shape}")
        n = e_l.size
        weights = np.asarray(weights)
        if weights.shape != (n, n):
            raise ModelError(f"weights must have shape ({n}, {n}) to match e_l, got {weights.shape}")
        if not np.issubdtype(weights.dtype, np.integer):
            raise ModelError(f"weights must be integers (frac_w fixed point), got dtype {weights.dtype}")
        if weights.size and (weights.min() < fmt.w_min or weights.max() > fmt.w_max):
            raise ModelError(f"weights exceed the {fmt.width_w}-bit signed weight format")
        if not np.issubdtype(e_l.dtype, np.integer):
            raise ModelError(f"e_l must be integers (frac_v fixed point), got dtype {e_l.dtype}")
        if e_l.min() < fmt.v_min or e_l.max() > fmt.v_max:
            raise ModelError("e_l exceeds the potential format")
        self.n = n
        self.e_l = e_l.astype(np.int64)
        self.weights = np.ascontiguousarray(weights, dtype=np.int32 if fmt.width_w <= 32 else np.int64)
        self.regs = fixed.registers()
        self.fa = format_array(fmt)
        self.clamp = np.zeros(n, dtype=np.int8)
        if clamp is not None:
            self.set_clamp(clamp)
        self.counters = np.zeros(len(COUNTER_NAMES), dtype=np.int64)
        self.reset(seed)

    @classmethod
    def from_physical(cls, params, e_l_mv, weights_pa, clamp=None, seed: int = 0,
                      formats: Formats | None = None) -> "GoldenCore":
        """A core for a network in physical units (quantised with spec.quantise*); ModelError if a weight
        had to be saturated (use the quantise functions directly to accept that)."""
        from .spec import quantise, quantise_potentials, quantise_weights

        fmt = formats or Formats()
        weights, clipped = quantise_weights(weights_pa, params, fmt)
        if clipped:
            raise ModelError(f"{clipped} weights exceed the {fmt.width_w}-bit weight format")
        return cls(quantise(params, fmt), quantise_potentials(e_l_mv, fmt), weights, clamp, seed)

    def reset(self, seed: int) -> None:
        """Initial state: V = E_L, u = 0, not refractory, R = 1, empty input, generators seeded."""
        n = self.n
        self.tick = 0
        self.v = self.e_l.copy()
        self.u = np.zeros(n, dtype=np.int64)
        self.ref = np.zeros(n, dtype=np.int64)
        self.res = np.full(n, self.fixed.formats.r_one, dtype=np.int64)
        self.rng = seed_states(seed, n)
        self.acc = np.zeros(n, dtype=np.int64)
        self.counters[:] = 0

    def set_clamp(self, clamp: np.ndarray) -> None:
        """Set every neuron's clamp mode (values of `ClampMode`)."""
        clamp = np.asarray(clamp)
        if clamp.shape != (self.n,):
            raise ModelError(f"clamp must have shape ({self.n},), got {clamp.shape}")
        valid = {int(m) for m in ClampMode}
        bad = [int(c) for c in np.unique(clamp) if int(c) not in valid]
        if bad:
            raise ModelError(f"clamp modes must be one of {sorted(valid)}, got {bad}")
        self.clamp = clamp.astype(np.int8)

    def run(self, n_ticks: int, progress=None, chunk_ticks: int = 20000) -> tuple[np.ndarray, np.ndarray]:
        """Run `n_ticks` ticks; return the spikes as (tick int64, neuron int32) arrays in emission
        order (ticks ascending, neurons ascending within a tick). `progress(ticks)` is called after
        each chunk of work."""
        ticks, neurons, _ = self.run_with_efficacy(n_ticks, progress, chunk_ticks)
        return ticks, neurons

    def run_with_efficacy(self, n_ticks: int, progress=None, chunk_ticks: int = 20000):
        """As `run`, also returning the efficacy R_e (frac_e integer) each spike was sent with."""
        if n_ticks < 0:
            raise ModelError(f"n_ticks must be non-negative, got {n_ticks}")
        cap = max(4 * self.n, min(chunk_ticks, n_ticks) * self.n // 8 + self.n)
        out_t = np.empty(cap, dtype=np.int64)
        out_n = np.empty(cap, dtype=np.int32)
        out_e = np.empty(cap, dtype=np.int64)
        parts_t, parts_n, parts_e = [], [], []
        remaining = n_ticks
        while remaining > 0:
            step = min(chunk_ticks, remaining)
            done, k = run_ticks(self.regs, self.fa, self.e_l, self.clamp, self.weights, self.v, self.u,
                                self.ref, self.res, self.rng, self.acc, self.counters, self.tick, step,
                                out_t, out_n, out_e)
            parts_t.append(out_t[:k].copy())
            parts_n.append(out_n[:k].copy())
            parts_e.append(out_e[:k].copy())
            self.tick += done
            remaining -= done
            if progress is not None:
                progress(done)
        if not parts_t:
            return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int64)
        return np.concatenate(parts_t), np.concatenate(parts_n), np.concatenate(parts_e)

    def snapshot(self) -> Snapshot:
        """A copy of the full state at the current tick boundary."""
        return Snapshot(self.tick, self.v.copy(), self.u.copy(), self.ref.copy(), self.res.copy(),
                        self.rng.copy(), self.acc.copy())

    def status(self) -> dict[str, int]:
        """Ticks done and the saturation counters."""
        return {"ticks": self.tick, **{name: int(c) for name, c in zip(COUNTER_NAMES, self.counters)}}
