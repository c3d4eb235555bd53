"""What a host writes to load a golden-model network into the core, and how it reads a snapshot back.

Pure Python (no simulator): the Amaranth-simulator tests and the cocotb testbenches both drive the
core's `write` / `read` ports with these lists, so the mapping golden model ↔ core is written once.
"""

from __future__ import annotations

import numpy as np

from lifstp.golden_model.fixed import GoldenCore, Snapshot
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, NeuronField, Space, StatusCounter

__all__ = ["load_commands", "state_commands", "snapshot_requests", "decode_snapshot", "SNAPSHOT_FIELDS",
           "to_word", "from_word"]

MASK = (1 << DATA_WIDTH) - 1

#: Snapshot attributes and the neuron fields they are read from.
SNAPSHOT_FIELDS = {
    "v": NeuronField.V, "u": NeuronField.U, "ref": NeuronField.REF, "res": NeuronField.RES,
    "rng": NeuronField.RNG, "acc": NeuronField.ACC,
}


def to_word(value: int) -> int:
    """A (possibly negative) integer as the write port's two's-complement data word."""
    return int(value) & MASK


def from_word(word: int, signed_: bool) -> int:
    """A read_data word (sign-extended by the core) back to an integer."""
    word = int(word) & MASK
    if signed_ and word >> (DATA_WIDTH - 1):
        return word - (1 << DATA_WIDTH)
    return word


def state_commands(cfg: CoreConfig, gc: GoldenCore) -> list[tuple[int, int, int, int]]:
    """Writes (space, field, addr, data) that put the golden model's current state and per-neuron
    configuration into the core (the core then continues exactly as the golden model does)."""
    n = cfg.n_neurons
    if gc.n != n:
        raise ValueError(f"golden model has {gc.n} neurons, the core {n}")
    cmds = []
    per_neuron = {
        NeuronField.V: gc.v, NeuronField.U: gc.u, NeuronField.REF: gc.ref, NeuronField.RES: gc.res,
        NeuronField.RNG: gc.rng, NeuronField.EL: gc.e_l, NeuronField.CLAMP: gc.clamp, NeuronField.ACC: gc.acc,
    }
    for f, values in per_neuron.items():
        for j in range(n):
            cmds.append((Space.NEURON, f, j, to_word(int(values[j]))))
    status = gc.status()
    for k, value in ((StatusCounter.TICKS, gc.tick), (StatusCounter.SATURATED_V, status["saturated_v"]),
                     (StatusCounter.SATURATED_U, status["saturated_u"])):
        cmds.append((Space.STATUS, 0, k, to_word(value)))
    return cmds


def load_commands(cfg: CoreConfig, gc: GoldenCore, weights: bool = True) -> list[tuple[int, int, int, int]]:
    """Registers, weights (optional: zero weights are skipped only if weights=False is not asked),
    state and configuration of a golden model as writes."""
    cmds = [(Space.REG, 0, k, to_word(int(value))) for k, value in enumerate(gc.regs)]
    if weights:
        n = cfg.n_neurons
        w = gc.weights
        for i in range(n):
            for j in range(n):
                cmds.append((Space.WEIGHT, 0, i * n + j, to_word(int(w[i, j]))))
    return cmds + state_commands(cfg, gc)


def snapshot_requests(cfg: CoreConfig) -> list[tuple[int, int, int]]:
    """Read requests (space, field, addr) for a full snapshot, in the order `decode_snapshot` expects."""
    return [(Space.NEURON, f, j) for f in SNAPSHOT_FIELDS.values() for j in range(cfg.n_neurons)]


def decode_snapshot(cfg: CoreConfig, words: list[int], tick: int) -> Snapshot:
    """The answers to `snapshot_requests` as a golden-model `Snapshot`."""
    n = cfg.n_neurons
    arrays = {}
    for k, (name, f) in enumerate(SNAPSHOT_FIELDS.items()):
        chunk = words[k * n:(k + 1) * n]
        if name == "rng":
            arrays[name] = np.array([from_word(x, False) for x in chunk], dtype=np.uint64)
        else:
            arrays[name] = np.array([from_word(x, cfg.field_shape(f).signed) for x in chunk], dtype=np.int64)
    return Snapshot(tick, **arrays)


def snapshot_diff(a: Snapshot, b: Snapshot) -> list[str]:
    """Human-readable differences between two snapshots (empty when identical)."""
    out = []
    if a.tick != b.tick:
        out.append(f"tick {a.tick} != {b.tick}")
    for name in SNAPSHOT_FIELDS:
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        bad = np.flatnonzero(x != y)
        if bad.size:
            j = int(bad[0])
            out.append(f"{name}: {bad.size} neurons differ, first neuron {j}: {x[j]} != {y[j]}")
    return out


def pack(layout, values: dict) -> int:
    """A struct layout's fields (integers) as one bit vector, as the Verilog ports carry it."""
    word = 0
    for name, fld in layout:
        width = fld.width
        word |= (int(values.get(name, 0)) & ((1 << width) - 1)) << fld.offset
    return word


def unpack(layout, word: int) -> dict:
    """The fields (unsigned integers) of a struct layout's bit vector."""
    return {name: (int(word) >> fld.offset) & ((1 << fld.width) - 1) for name, fld in layout}
