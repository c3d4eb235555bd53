"""The statistics readout: on-device counts of the samples' states (docs/protocol.md, "The statistics
readout").

`SampleStats` keeps, for the first `STATS_UNITS_MAX` units of the readout's range, how many samples
had unit i and unit j on together: C[i, j] for i <= j (i = j: unit i on), u32 each, saturating, in
one block RAM addressed i * STATS_UNITS_MAX + j. A sample's states come as a bit vector; the unit
walks over its pairs of on units only (a sample with k units on costs k (k + 1) / 2 increments of
two cycles each), while the core runs on. The host reads (and may write) the counts in space STATS
between runs; (i, j) and (j, i) name the same count. A run in this readout first clears them all.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P

__all__ = ["SampleStats", "lowest_set"]

_UNITS = P.STATS_UNITS_MAX
_INDEX_BITS = (_UNITS - 1).bit_length()
_COUNT_BITS = 8 * P.STATS_COUNT_BYTES
_DEPTH = _UNITS * _UNITS


def lowest_set(m: Module, x) -> tuple[Signal, Signal]:
    """(one-hot, index) of the lowest set bit of `x` (both 0 for x = 0): x & -x by one carry chain,
    then the index by an OR tree per bit, not by a chain of 64 multiplexers."""
    one_hot = Signal(len(x))
    m.d.comb += one_hot.eq(x & (~x + 1))
    index = Signal(max(1, (len(x) - 1).bit_length()))
    for b in range(len(index)):
        m.d.comb += index[b].eq(Cat(*(one_hot[k] for k in range(len(x)) if (k >> b) & 1)).any())
    return one_hot, index


def _pair_address(i, j):
    """The count of (i, j), stored at (min, max)."""
    swap = j < i
    return Cat(Mux(swap, i, j), Mux(swap, j, i))


class SampleStats(wiring.Component):
    """Counts of on units and of pairs of on units over the samples of a run (module docstring).

    Ports:

    - ``clear`` (In): pulse, zero every count (takes STATS_UNITS_MAX² cycles, ``busy`` meanwhile).
    - ``add`` (In): pulse, count the sample ``bits`` (unit k of the range at bit k); only while not busy.
    - ``bits`` (In): the sample's states.
    - ``busy`` (Out): clearing or counting.
    - ``addr`` (In): the host's address in space STATS (i * STATS_UNITS_MAX + j), read or written;
      ``data`` (Out) is the count there, a cycle later (while idle).
    - ``write`` (In): pulse, write ``wdata`` (In) at ``addr``. The host reads and writes only between runs.
    """

    def __init__(self):
        super().__init__({
            "clear": In(1),
            "add": In(1),
            "bits": In(_UNITS),
            "busy": Out(1),
            "addr": In(2 * _INDEX_BITS),
            "data": Out(_COUNT_BITS),
            "write": In(1),
            "wdata": In(_COUNT_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.counts = mem = Memory(shape=_COUNT_BITS, depth=_DEPTH, init=[])
        wp, rp = mem.write_port(), mem.read_port()
        rows = Signal(_UNITS)  # on units whose row of pairs is still to count
        cols = Signal(_UNITS)  # on units still to pair with the row's unit
        _, i = lowest_set(m, rows)
        j_hot, j = lowest_set(m, cols)
        i_hot, _ = lowest_set(m, rows)
        pair = Signal(2 * _INDEX_BITS)
        clear_addr = Signal(range(_DEPTH))
        host_i, host_j = self.addr[_INDEX_BITS:], self.addr[:_INDEX_BITS]
        m.d.comb += [rp.addr.eq(_pair_address(host_i, host_j)), self.data.eq(rp.data),
                     wp.addr.eq(_pair_address(host_i, host_j)), wp.data.eq(self.wdata), wp.en.eq(self.write)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.clear):
                    m.d.sync += clear_addr.eq(0)
                    m.next = "CLEAR"
                with m.Elif(self.add & self.bits.any()):
                    m.d.sync += [rows.eq(self.bits), cols.eq(self.bits)]
                    m.next = "READ"
            with m.State("CLEAR"):
                m.d.comb += [self.busy.eq(1), wp.addr.eq(clear_addr), wp.data.eq(0), wp.en.eq(1)]
                m.d.sync += clear_addr.eq(clear_addr + 1)
                with m.If(clear_addr == _DEPTH - 1):
                    m.next = "IDLE"
            with m.State("READ"):  # the count of (i, j), j the lowest of cols (all >= i)
                m.d.comb += [self.busy.eq(1), rp.addr.eq(Cat(j, i))]
                m.d.sync += [pair.eq(Cat(j, i)), cols.eq(cols & ~j_hot)]
                m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += [self.busy.eq(1), wp.addr.eq(pair), wp.data.eq(rp.data + (~rp.data).any()), wp.en.eq(1)]
                with m.If(cols == 0):  # the row is done: the next on unit's, paired with those above it
                    rest = rows & ~i_hot
                    m.d.sync += [rows.eq(rest), cols.eq(rest)]
                    with m.If(rest == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ"
                with m.Else():
                    m.next = "READ"
        return m
