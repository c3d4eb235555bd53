"""The arithmetic of `lifstp bench board`: a board's ticks per second from its measured parts.

The core computes clock / cycles_per_tick ticks/s; the UART carries baud / BITS_PER_BYTE bytes/s, so
it allows that divided by the readout's bytes per tick. The spike encoder has two frame buffers: it
fills one while the other is on the line, so the core and the line work at once and the board runs at
the smaller of the two limits, which the run through the simulated UART confirms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lifstp.boards.uart import BITS_PER_BYTE


def link_ticks_per_s(bytes_per_tick: float, baud: float) -> float:
    """Ticks/s a UART of `baud` (8N1: BITS_PER_BYTE line bits a byte) carries when every tick sends
    `bytes_per_tick` bytes; infinite for a readout that sends nothing."""
    if bytes_per_tick <= 0:
        return math.inf
    return baud / BITS_PER_BYTE / bytes_per_tick


@dataclass(frozen=True)
class BoardSpeed:
    """A board's speed on one network, from the measured cycles per tick, the clock, the readout's
    bytes per tick, the baud rate and the golden model's ticks/s."""

    cycles_per_tick: float
    clock_hz: float
    bytes_per_tick: float
    baud: float
    golden_ticks_per_s: float
    dt_ms: float  #: the model's time step

    @property
    def compute_ticks_per_s(self) -> float:
        """What the core computes: clock / cycles per tick."""
        return self.clock_hz / self.cycles_per_tick

    @property
    def link_ticks_per_s(self) -> float:
        """What the UART carries of this readout."""
        return link_ticks_per_s(self.bytes_per_tick, self.baud)

    @property
    def ticks_per_s(self) -> float:
        """The board's ticks/s: the smaller of the two limits, since the spike encoder fills one frame
        buffer while the other is sent."""
        return min(self.compute_ticks_per_s, self.link_ticks_per_s)

    @property
    def link_bound(self) -> bool:
        """The link, not the core, sets the pace."""
        return self.link_ticks_per_s < self.compute_ticks_per_s

    @property
    def realtime_x(self) -> float:
        """Model time per wall time: ticks/s × dt."""
        return self.ticks_per_s * self.dt_ms * 1e-3

    @property
    def ratio_vs_golden(self) -> float:
        """Board ticks/s over the golden model's."""
        return self.ticks_per_s / self.golden_ticks_per_s

    def summary_line(self, name: str) -> str:
        """The benchmark's last line."""
        return (f"board: name={name} ticks_per_s={self.ticks_per_s:.4g} realtime_x={self.realtime_x:.4g} "
                f"ratio_vs_golden={self.ratio_vs_golden:.4g} link_bound={'yes' if self.link_bound else 'no'}")
