"""Faults on the wire, on purpose: a transport wrapper that flips bits in, drops and inserts bytes, to
test and measure what the host survives (docs/protocol.md, "Faults on the wire").

`FaultyTransport` wraps any transport (the golden device's loopback, a pipe, a serial port or the
simulated board UART behind a pseudo-terminal) and damages the bytes going each way at its own rates.
Every decision is drawn from a generator seeded per direction, one fixed number of draws per byte, so
the same seed and the same byte stream give the same faults however the stream is cut into calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per byte: `flip` one of its bits, `drop` it, `insert` a random byte after it."""

    flip: float = 0.0
    drop: float = 0.0
    insert: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip", "drop", "insert"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault rate {name}={p!r} is not a probability")

    @classmethod
    def per_byte(cls, rate: float) -> "FaultRates":
        """A byte is damaged with probability `rate`, the three kinds of fault equally likely."""
        return cls(rate / 3, rate / 3, rate / 3)

    @property
    def any(self) -> bool:
        """Any fault at all."""
        return bool(self.flip or self.drop or self.insert)


@dataclass
class FaultCounts:
    """What the injector did to one direction of the stream."""

    bytes: int = 0  #: bytes that came in to be damaged
    flipped: int = 0
    dropped: int = 0
    inserted: int = 0

    @property
    def faults(self) -> int:
        """Bytes damaged: flipped, dropped or followed by an inserted one."""
        return self.flipped + self.dropped + self.inserted


class _Injector:
    """Damages one direction of the stream."""

    #: Uniform draws per byte: flip?, drop?, insert?, and one that picks the bit or the inserted byte.
    DRAWS = 4

    def __init__(self, rates: FaultRates, seed: np.random.SeedSequence):
        self.rates = rates
        self.rng = np.random.default_rng(seed)
        self.counts = FaultCounts()

    def __call__(self, data: bytes) -> bytes:
        n = len(data)
        self.counts.bytes += n
        if not n or not self.rates.any:
            return data
        u = self.rng.random((n, self.DRAWS))
        byte = np.frombuffer(data, dtype=np.uint8).copy()
        drop = u[:, 1] < self.rates.drop
        flip = (u[:, 0] < self.rates.flip) & ~drop
        insert = u[:, 2] < self.rates.insert
        byte[flip] ^= (1 << (u[flip, 3] * 8).astype(np.uint8)).astype(np.uint8)
        self.counts.flipped += int(flip.sum())
        self.counts.dropped += int(drop.sum())
        self.counts.inserted += int(insert.sum())
        if not (drop.any() or insert.any()):
            return byte.tobytes()
        # Each byte becomes 0, 1 or 2 bytes: itself unless dropped, then a random byte if inserting.
        out = np.stack([byte, (u[:, 3] * 256).astype(np.uint8)], axis=1)
        keep = np.stack([~drop, insert], axis=1)
        return out[keep].tobytes()


class FaultyTransport:
    """A transport whose bytes are damaged on the way: `to_device` rates on what the host writes,
    `from_device` rates on what it reads, drawn from `seed` (each direction its own generator).

    `counts` holds a `FaultCounts` per direction ("to_device", "from_device"); close() closes the
    wrapped transport and returns what it returns.
    """

    def __init__(self, transport, to_device: FaultRates = FaultRates(), from_device: FaultRates = FaultRates(),
                 seed: int = 0):
        self.transport = transport
        down, up = np.random.SeedSequence(seed).spawn(2)
        self._to_device = _Injector(to_device, down)
        self._from_device = _Injector(from_device, up)

    @property
    def counts(self) -> dict[str, FaultCounts]:
        """What was done to each direction: "to_device", "from_device"."""
        return {"to_device": self._to_device.counts, "from_device": self._from_device.counts}

    def write(self, data: bytes) -> None:
        self.transport.write(self._to_device(bytes(data)))

    def read(self, timeout_s: float) -> bytes:
        return self._from_device(self.transport.read(timeout_s))

    def idle(self) -> bool:
        """The wrapped transport's idle(), where it has one (LoopbackTransport): damage never delays."""
        idle = getattr(self.transport, "idle", None)
        return bool(idle and idle())

    def close(self):
        return self.transport.close()
