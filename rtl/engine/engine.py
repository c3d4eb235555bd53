"""The command engine: receive path, executor, spike encoder and transmit path wired together."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import DATA_WIDTH, CoreConfig, read_layout, readout_layout, spike_layout, write_layout
from lifstp.rtl.status import status_layout

from .cobs import FrameReceiver, FrameTransmitter
from .commands import Executor
from .spikes import SpikeEncoder
from .stats import SampleStats

__all__ = ["Engine"]


class Engine(wiring.Component):
    """The wire protocol (docs/protocol.md) over byte streams, in front of a `Core` of the same `cfg`.

    Ports:

    - ``rx`` (In stream of bytes): bytes from the host. Not ready while a frame is being carried out
      (a UART needs a FIFO of one frame in front; a simulator harness just waits).
    - ``tx`` (Out stream of bytes): COBS-encoded frames to the host, each followed by a zero byte.
    - ``write`` (Out stream of `write_layout`): to the core's write port.
    - ``read`` (Out stream of `read_layout`): to the core's read request port.
    - ``read_data`` (In stream, 64 bits): the core's read answers.
    - ``run`` (Out stream): to the core's run port (one tick per request).
    - ``spikes`` (In stream of `spike_layout`): the core's spikes; not ready without spike-frame credit
      (the core then waits).
    - ``status`` (In `status_layout`): the core's status port.
    - ``idle`` (Out): no frame is being received, carried out or sent, and no run is in progress.
    - ``readout`` (In `readout_layout`), ``z_unit`` (Out), ``z`` (In): states readout only, the core's
      readout registers and state bits (`SpikeEncoder`).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "write": Out(stream.Signature(write_layout(cfg))),
            "read": Out(stream.Signature(read_layout(cfg))),
            "read_data": In(stream.Signature(DATA_WIDTH)),
            "run": Out(stream.Signature(cfg.counter_width)),
            "spikes": In(stream.Signature(spike_layout(cfg))),
            "status": In(status_layout(cfg)),
            "idle": Out(1),
            **({"readout": In(readout_layout(cfg)), "z_unit": Out(range(cfg.n_neurons)), "z": In(1)}
               if cfg.states_readout else {}),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.submodules.receiver = rx = FrameReceiver()
        m.submodules.executor = ex = Executor(cfg)
        m.submodules.spike_encoder = enc = SpikeEncoder(cfg)
        m.submodules.transmitter = tx = FrameTransmitter(3)

        wiring.connect(m, wiring.flipped(self.rx), rx.i)
        wiring.connect(m, rx.frame, ex.frame)
        m.d.comb += [rx.rd_addr.eq(ex.rx_addr), ex.rx_data.eq(rx.rd_data)]
        wiring.connect(m, ex.tx, tx.src0)  # replies first
        wiring.connect(m, enc.tx0, tx.src1)  # the spike encoder's two buffers, used in turn
        wiring.connect(m, enc.tx1, tx.src2)
        wiring.connect(m, tx.o, wiring.flipped(self.tx))
        wiring.connect(m, ex.ctl, enc.ctl)

        if cfg.states_readout:
            self._route_stats(m, ex, enc)
        else:
            wiring.connect(m, ex.write, wiring.flipped(self.write))
            wiring.connect(m, ex.read, wiring.flipped(self.read))
            wiring.connect(m, wiring.flipped(self.read_data), ex.read_data)
        wiring.connect(m, enc.run, wiring.flipped(self.run))
        wiring.connect(m, wiring.flipped(self.spikes), enc.spikes)
        m.d.comb += [
            ex.status.eq(self.status),
            enc.core_busy.eq(self.status.busy),
            enc.core_ticks.eq(self.status.ticks),
            self.idle.eq(ex.idle & tx.idle & ~ex.ctl.running & ~rx.frame.valid),
        ]
        if cfg.states_readout:
            m.d.comb += [enc.readout.eq(self.readout), self.z_unit.eq(enc.z_unit), enc.z.eq(self.z)]
        return m

    def _route_stats(self, m: Module, ex, enc) -> None:
        """The statistics unit, fed by the encoder; the executor's writes and reads of space STATS go to
        it, all others to the core. A read of STATS is answered two cycles after it is taken (the
        address registered, then the count read), held until taken, as the core holds its answers."""
        m.submodules.stats = st = SampleStats()
        m.d.comb += [st.clear.eq(enc.stats_clear), st.add.eq(enc.stats_add), st.bits.eq(enc.stats_bits),
                     enc.stats_busy.eq(st.busy)]
        wr, rd = ex.write, ex.read
        wr_stats = wr.payload.space == P.Space.STATS
        rd_stats = rd.payload.space == P.Space.STATS
        m.d.comb += [self.write.payload.eq(wr.payload), self.write.valid.eq(wr.valid & ~wr_stats),
                     wr.ready.eq(wr_stats | self.write.ready),
                     self.read.payload.eq(rd.payload), self.read.valid.eq(rd.valid & ~rd_stats)]
        addr = Signal.like(st.addr)
        m.d.comb += st.addr.eq(addr)
        with m.If(wr.valid & wr_stats):
            m.d.comb += [st.addr.eq(wr.payload.addr), st.wdata.eq(wr.payload.data), st.write.eq(1)]
        with m.FSM(name="stats_read"):
            with m.State("IDLE"):
                m.d.comb += rd.ready.eq(Mux(rd_stats, 1, self.read.ready))
                with m.If(rd.valid & rd_stats):
                    m.d.sync += addr.eq(rd.payload.addr)
                    m.next = "FETCH"
                m.d.comb += [ex.read_data.valid.eq(self.read_data.valid),
                             ex.read_data.payload.eq(self.read_data.payload),
                             self.read_data.ready.eq(ex.read_data.ready)]
            with m.State("FETCH"):  # the memory reads the registered address
                m.next = "ANSWER"
            with m.State("ANSWER"):
                m.d.comb += [ex.read_data.valid.eq(1), ex.read_data.payload.eq(st.data)]
                with m.If(ex.read_data.ready):
                    m.next = "IDLE"
