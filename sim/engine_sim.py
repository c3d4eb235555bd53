"""The device (engine + core) in Amaranth's simulator behind a byte interface: feed(bytes) -> bytes.

`EngineSim` looks like the golden emulator to a host (`lifstp.link.LoopbackTransport` wraps either),
so the same byte sequences go to both and their answers can be compared. Each feed() runs the clock
until the input is consumed and the device is idle again (or has been silent for `quiet_cycles`, as
in a run stalled for credit); `max_cycles` bounds it: a device that does not settle raises
`DeviceHang`.
"""

from __future__ import annotations

from collections import deque

from amaranth.sim import Simulator

from lifstp.rtl.config import CoreConfig
from lifstp.rtl.device_top import DeviceTop

__all__ = ["EngineSim", "DeviceHang"]

PERIOD = 1e-6


class DeviceHang(AssertionError):
    """The device did not settle within the cycle budget."""


class EngineSim:
    """DeviceTop(cfg) in the Amaranth simulator, fed and drained byte by byte."""

    def __init__(self, cfg: CoreConfig, quiet_cycles: int = 4000, max_cycles: int = 2_000_000, chunk: int = 64):
        self.cfg = cfg
        self.top = DeviceTop(cfg)
        self.quiet_cycles, self.max_cycles, self.chunk = quiet_cycles, max_cycles, chunk
        self.inq: deque[int] = deque()
        self.out = bytearray()
        self.cycles = 0
        self.idle = False
        self.last_activity = 0
        self.sim = Simulator(self.top)
        self.sim.add_clock(PERIOD)
        self.sim.add_testbench(self._bench)
        self._time = 0

    async def _bench(self, ctx):
        top = self.top
        ctx.set(top.tx.ready, 1)
        while True:
            presented = bool(self.inq)  # inq may grow between chunks: pop only what was on the port
            if presented:
                ctx.set(top.rx.payload, self.inq[0])
                ctx.set(top.rx.valid, 1)
            else:
                ctx.set(top.rx.valid, 0)
            _, _, rx_ready, tx_valid, tx_byte, idle = await ctx.tick().sample(
                top.rx.ready, top.tx.valid, top.tx.payload, top.idle)
            self.cycles += 1
            if presented and rx_ready:
                self.inq.popleft()
                self.last_activity = self.cycles
            if tx_valid:
                self.out.append(tx_byte)
                self.last_activity = self.cycles
            self.idle = bool(idle)

    def step(self, cycles: int) -> None:
        self._time += cycles
        self.sim.run_until(self._time * PERIOD + PERIOD / 2)

    def feed(self, data: bytes = b"") -> bytes:
        """Send bytes; return what the device answered once it settled."""
        self.inq.extend(data)
        start = self.last_activity = self.cycles  # the quiet time counts from now
        self.step(2)
        while True:
            if not self.inq and self.idle:
                break
            if not self.inq and self.cycles - self.last_activity >= self.quiet_cycles:
                break
            if self.cycles - start > self.max_cycles:
                raise DeviceHang(f"the device did not settle within {self.max_cycles} cycles")
            self.step(self.chunk)
        self.last_cost = self.cycles - start
        out, self.out = bytes(self.out), bytearray()
        return out
