"""A whole device: the command engine in front of the core, with one byte stream in each direction.

`DeviceTop(cfg)` is what a Verilator harness or a UART wraps: bytes in on `rx`, bytes out on `tx`,
the wire protocol of docs/protocol.md in between (docs/engine.md).
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp.golden_model.spec import Formats

from .config import CoreConfig
from .core import Core
from .engine import Engine

__all__ = ["DeviceTop"]


class DeviceTop(wiring.Component):
    """Engine + core.

    Parameters: ``cfg`` a `CoreConfig`, or ``n_neurons``, ``lanes`` and ``formats`` to build one;
    ``weight_bank``: the core's weight-bank factory (rtl/weights.py), None for the generic memory.

    Ports:

    - ``rx`` (In stream of bytes): bytes from the host (ready low while a frame is carried out).
    - ``tx`` (Out stream of bytes): frames to the host; the device waits while it is not ready.
    - ``idle`` (Out): nothing in progress (no frame, no run, nothing being sent).
    """

    def __init__(self, cfg: CoreConfig | None = None, *, n_neurons: int | None = None, lanes: int = 1,
                 formats: Formats | None = None, weight_bank=None):
        #: factory(shape, depth) of the core's weight banks (rtl/weights.py; None: the generic Memory);
        #: the board layer sets it before elaboration (iCE40: SPRAM)
        self.weight_bank = weight_bank
        if cfg is None:
            cfg = CoreConfig(n_neurons=n_neurons, lanes=lanes, formats=formats or Formats())
        self.cfg = cfg
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = Core(self.cfg, weight_bank=self.weight_bank)
        m.submodules.engine = eng = Engine(self.cfg)
        wiring.connect(m, wiring.flipped(self.rx), eng.rx)
        wiring.connect(m, eng.tx, wiring.flipped(self.tx))
        wiring.connect(m, eng.write, core.write)
        wiring.connect(m, eng.read, core.read)
        wiring.connect(m, core.read_data, eng.read_data)
        wiring.connect(m, eng.run, core.run)
        wiring.connect(m, core.spikes, eng.spikes)
        m.d.comb += [eng.status.eq(core.status), self.idle.eq(eng.idle)]
        if self.cfg.states_readout:
            m.d.comb += [eng.readout.eq(core.readout), core.z_unit.eq(eng.z_unit), eng.z.eq(core.z)]
        return m
