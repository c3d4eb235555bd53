"""Drive the core's ports from an Amaranth async testbench (the Amaranth-simulator tests)."""

from __future__ import annotations

from lifstp.golden_model.fixed import GoldenCore
from lifstp.rtl.config import CoreConfig

from .program import decode_snapshot, load_commands, snapshot_requests

__all__ = ["AmaranthHost"]


class AmaranthHost:
    """Write, run and read the core from a testbench context `ctx`."""

    def __init__(self, dut, cfg: CoreConfig):
        self.dut, self.cfg = dut, cfg

    async def write(self, ctx, cmds):
        dut = self.dut
        for space, field, addr, value in cmds:
            ctx.set(dut.write.payload, {"space": int(space), "field": int(field), "addr": addr, "data": value})
            ctx.set(dut.write.valid, 1)
            await ctx.tick().until(dut.write.ready)
        ctx.set(dut.write.valid, 0)

    async def load(self, ctx, gc: GoldenCore):
        await self.write(ctx, load_commands(self.cfg, gc))

    async def run(self, ctx, n_ticks: int) -> list[tuple[int, int]]:
        """Run n_ticks ticks; return the spikes (tick, neuron) in stream order."""
        dut = self.dut
        ctx.set(dut.spikes.ready, 1)
        ctx.set(dut.run.payload, n_ticks)
        ctx.set(dut.run.valid, 1)
        await ctx.tick().until(dut.run.ready)
        ctx.set(dut.run.valid, 0)
        spikes = []
        while True:
            _, _, valid, busy, tick, neuron = await ctx.tick().sample(
                dut.spikes.valid, dut.status.busy, dut.spikes.payload.tick, dut.spikes.payload.neuron)
            if valid:
                spikes.append((tick, neuron))
            if not busy and not valid:
                break
        return spikes

    async def read(self, ctx, reqs) -> list[int]:
        dut = self.dut
        out = []
        ctx.set(dut.read_data.ready, 1)
        for space, field, addr in reqs:
            ctx.set(dut.read.payload, {"space": int(space), "field": int(field), "addr": addr})
            ctx.set(dut.read.valid, 1)
            await ctx.tick().until(dut.read.ready)
            ctx.set(dut.read.valid, 0)
            (data,) = await ctx.tick().sample(dut.read_data.payload).until(dut.read_data.valid)
            out.append(data)
        return out

    async def snapshot(self, ctx, tick: int):
        words = await self.read(ctx, snapshot_requests(self.cfg))
        return decode_snapshot(self.cfg, words, tick)
