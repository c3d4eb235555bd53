"""A UART (8 data bits, no parity, 1 stop bit) with byte streams, for the board top levels.

Amaranth 0.5 has no UART in its standard library and amaranth-stdio has no release on PyPI, so this
small one is the project's own (no `from __future__ import annotations` here: Component reads its
port annotations at run time). The baud rate is a clock divisor fixed at elaboration; the receiver
samples each bit in its middle, after a two-flop synchroniser, and reports framing errors (a low stop
bit) by dropping the byte and counting it.
"""


from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


#: Line bits per byte: start bit, 8 data bits, stop bit (8N1), so a UART carries baud / BITS_PER_BYTE
#: bytes per second.
BITS_PER_BYTE = 10


def divisor_for(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit; ValueError if the rate error would exceed 2 % (a UART tolerates ~4 %
    summed over both ends)."""
    if baud <= 0:
        raise ValueError(f"baud rate must be positive, got {baud}")
    div = round(clk_hz / baud)
    if div < 4:
        raise ValueError(f"{baud} baud is too fast for a {clk_hz / 1e6:g} MHz clock (needs >= 4 cycles per bit)")
    error = abs(clk_hz / div - baud) / baud
    if error > 0.02:
        raise ValueError(f"{baud} baud from {clk_hz / 1e6:g} MHz is off by {100 * error:.1f} % (divisor {div})")
    return div


class UARTTx(wiring.Component):
    """Serialiser: start bit, 8 data bits LSB first, stop bit."""

    #: Bytes to send; ready while the transmitter is idle.
    data: In(stream.Signature(8))
    #: The serial line (idle high).
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        shreg = Signal(BITS_PER_BYTE)  # stop, data[7:0], start; shifted out LSB first
        bits_left = Signal(range(BITS_PER_BYTE + 1))
        timer = Signal(range(self.divisor))
        m.d.comb += self.data.ready.eq(bits_left == 0)
        with m.If(bits_left == 0):
            with m.If(self.data.valid):
                m.d.sync += [shreg.eq(self.data.payload << 1 | (1 << (BITS_PER_BYTE - 1))), bits_left.eq(BITS_PER_BYTE),
                             timer.eq(0)]
        with m.Else():
            m.d.sync += self.tx.eq(shreg[0])
            with m.If(timer == self.divisor - 1):
                m.d.sync += [timer.eq(0), shreg.eq(shreg >> 1), bits_left.eq(bits_left - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer + 1)
        with m.If(bits_left == 0):
            m.d.sync += self.tx.eq(1)
        return m


class UARTRx(wiring.Component):
    """Deserialiser. A byte whose stop bit reads low is dropped and counted in `framing_errors`; a byte
    that arrives while the previous one is still unread is dropped and counted in `overruns`."""

    #: The serial line.
    rx: In(1, init=1)
    #: Received bytes.
    data: Out(stream.Signature(8))
    #: Bytes dropped for a low stop bit (saturating).
    framing_errors: Out(16)
    #: Bytes dropped because `data` was not taken in time (saturating).
    overruns: Out(16)

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        shreg = Signal(8)
        bit = Signal(range(10))
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):  # start bit: sample data bit 0 in its middle, 1.5 bits later
                    m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(line << 7 | shreg >> 1), bit.eq(bit + 1), timer.eq(self.divisor - 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~line):
                        with m.If(self.framing_errors != 0xFFFF):
                            m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                        m.next = "WAIT_IDLE"
                    with m.Else():
                        with m.If(self.data.valid & ~self.data.ready):
                            with m.If(self.overruns != 0xFFFF):
                                m.d.sync += self.overruns.eq(self.overruns + 1)
                        with m.Else():
                            m.d.sync += [self.data.payload.eq(shreg), self.data.valid.eq(1)]
                        m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("WAIT_IDLE"):  # after a framing error, wait for the line to return high
                with m.If(line):
                    m.next = "IDLE"
        return m
