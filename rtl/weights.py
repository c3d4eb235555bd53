"""The weight bank of one lane: a memory of signed weights with one synchronous read port and one
write port, behind a small interface the board layer can implement with other memories (the iCE40's
SPRAM: lifstp.boards.spram).

Interface (what `Core` relies on): ``raddr`` (In) is sampled at a clock edge and ``rdata`` (Out) shows
that word from the next cycle on; in a cycle with ``we`` (In) high, ``wdata`` is written at ``waddr``.
The core never uses ``rdata`` in the cycle after a write (the host writes weights only while the core is
idle, and reads them in separate cycles), so a single-port memory that skips the read in a write cycle
implements it as well.
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["WeightBank", "weight_bank_signature"]


def weight_bank_signature(shape: Shape, depth: int) -> wiring.Signature:
    return wiring.Signature({
        "raddr": In(range(depth)),
        "rdata": Out(shape),
        "waddr": In(range(depth)),
        "wdata": In(shape),
        "we": In(1),
    })


class WeightBank(wiring.Component):
    """The generic weight bank: an `amaranth.lib.memory.Memory` (block RAM on both FPGA families).

    A weight-bank factory is any callable ``factory(shape, depth)`` returning a component with this
    signature and behaviour; `Core(cfg, weight_bank=factory)` uses it for every lane.
    """

    def __init__(self, shape: Shape, depth: int):
        self.shape, self.depth = Shape.cast(shape), depth
        super().__init__(weight_bank_signature(self.shape, depth))

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.shape, depth=self.depth, init=[])
        wp = mem.write_port()
        rp = mem.read_port()
        m.d.comb += [
            rp.addr.eq(self.raddr), self.rdata.eq(rp.data),
            wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we),
        ]
        return m
