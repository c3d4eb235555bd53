"""Drive the core's ports from cocotb (Verilog of `lifstp.rtl.core.Core`, flattened port names).

Python wakes only on events while ticks run: a rising `spikes__valid`, or `run__ready` rising when
the core is idle again, so the simulator runs freely between spikes.
"""

from __future__ import annotations

from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge

from lifstp.golden_model.fixed import GoldenCore
from lifstp.rtl.config import CoreConfig, read_layout, spike_layout, write_layout
from lifstp.rtl.core import status_layout

from .program import decode_snapshot, load_commands, pack, snapshot_requests, unpack

__all__ = ["CocotbHost"]


class CocotbHost:
    def __init__(self, dut, cfg: CoreConfig):
        self.dut, self.cfg = dut, cfg
        self.wl, self.rl = write_layout(cfg), read_layout(cfg)
        self.sl, self.stl = spike_layout(cfg), status_layout(cfg)

    async def reset(self):
        dut = self.dut
        for sig in (dut.write__valid, dut.read__valid, dut.run__valid):
            sig.value = 0
        dut.read_data__ready.value = 1
        dut.spikes__ready.value = 1
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def write(self, cmds):
        """One write per cycle (the core accepts writes every cycle while idle)."""
        dut = self.dut
        clk = dut.clk
        await self._idle()
        dut.write__valid.value = 1
        for space, field, addr, value in cmds:
            dut.write__payload.value = pack(self.wl, {"space": space, "field": field, "addr": addr, "data": value})
            await RisingEdge(clk)
        dut.write__valid.value = 0

    async def load(self, gc: GoldenCore):
        await self.write(load_commands(self.cfg, gc))

    async def _idle(self):
        await ReadOnly()
        if not self.dut.run__ready.value:
            await RisingEdge(self.dut.run__ready)
        await RisingEdge(self.dut.clk)

    async def run(self, n_ticks: int) -> list[tuple[int, int]]:
        """Run n_ticks ticks; the spikes (tick, neuron) in stream order."""
        dut = self.dut
        await self._idle()
        dut.run__payload.value = n_ticks
        dut.run__valid.value = 1
        await RisingEdge(dut.clk)
        dut.run__valid.value = 0
        spikes = []
        sl = self.sl
        while True:
            await ReadOnly()
            if dut.spikes__valid.value:
                p = unpack(sl, dut.spikes__payload.value.to_unsigned())
                spikes.append((p["tick"], p["neuron"]))
                await RisingEdge(dut.clk)  # the transfer (ready is held high)
                continue
            if dut.run__ready.value:
                break
            trig = await First(RisingEdge(dut.spikes__valid), RisingEdge(dut.run__ready))
            del trig
        await RisingEdge(dut.clk)
        return spikes

    async def read(self, reqs) -> list[int]:
        dut = self.dut
        out = []
        await self._idle()
        for space, field, addr in reqs:
            dut.read__payload.value = pack(self.rl, {"space": space, "field": field, "addr": addr})
            dut.read__valid.value = 1
            await RisingEdge(dut.clk)  # accepted (idle)
            dut.read__valid.value = 0
            await ClockCycles(dut.clk, 2)
            await ReadOnly()
            assert dut.read_data__valid.value, "read_data not valid when expected"
            out.append(dut.read_data__payload.value.to_unsigned())
            await RisingEdge(dut.clk)
        return out

    async def snapshot(self, tick: int):
        words = await self.read(snapshot_requests(self.cfg))
        return decode_snapshot(self.cfg, words, tick)

    async def status(self) -> dict:
        await ReadOnly()
        st = unpack(self.stl, self.dut.status.value.to_unsigned())
        await RisingEdge(self.dut.clk)
        return st
