"""The board UART in Amaranth's simulator: bytes through the transmitter and receiver, against a
bit-level software model of the line, at odd divisors, with framing errors counted."""

from __future__ import annotations

import pytest
from amaranth import Module
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from lifstp.boards.uart import UARTRx, UARTTx, divisor_for


def line_bits(byte: int, divisor: int, stop: int = 1) -> list[int]:
    """The line, cycle by cycle, for one 8N1 byte."""
    bits = [0] + [(byte >> k) & 1 for k in range(8)] + [stop]
    return [b for b in bits for _ in range(divisor)]


@given(st.lists(st.integers(0, 255), min_size=1, max_size=6), st.integers(4, 13))
@settings(max_examples=20, deadline=None)
def test_tx_to_rx_loopback(data, divisor):
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor)
    m.submodules.rx = rx = UARTRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    got = []

    async def bench(ctx):
        ctx.set(rx.data.ready, 1)
        for byte in data:
            ctx.set(tx.data.payload, byte)
            ctx.set(tx.data.valid, 1)
            await ctx.tick().until(tx.data.ready)
            ctx.set(tx.data.valid, 0)
            for _ in range(divisor * 11):
                await ctx.tick()
                if ctx.get(rx.data.valid):
                    got.append(ctx.get(rx.data.payload))
        for _ in range(divisor * 12):
            await ctx.tick()
            if ctx.get(rx.data.valid):
                got.append(ctx.get(rx.data.payload))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == data


def test_rx_against_software_line_and_framing_error():
    divisor = 7
    rx = UARTRx(divisor)
    got = []

    async def bench(ctx):
        ctx.set(rx.data.ready, 1)
        samples = [1] * 20 + line_bits(0xA5, divisor) + [1] * 10 + line_bits(0x3C, divisor, stop=0) + [1] * 30 \
            + line_bits(0x00, divisor) + [1] * 30
        for level in samples:
            ctx.set(rx.rx, level)
            await ctx.tick()
            if ctx.get(rx.data.valid):
                got.append(ctx.get(rx.data.payload))
        assert ctx.get(rx.framing_errors) == 1

    sim = Simulator(rx)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got == [0xA5, 0x00]


def test_divisor_checks():
    assert divisor_for(12e6, 115200) == 104
    with pytest.raises(ValueError, match="too fast"):
        divisor_for(12e6, 6_000_000)
    with pytest.raises(ValueError, match="off by"):
        divisor_for(12e6, 1_000_000 * 12 / 4.5)
