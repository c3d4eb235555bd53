"""The bytes of the executor's fixed replies and of its ERROR frames, addressed by position."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import CoreConfig, bits_for

from .decode import DETAIL_BITS

__all__ = ["ReplyBytes"]


class ReplyBytes(wiring.Component):
    """Byte ``index`` of a reply's fixed part or of an ERROR frame's body.

    A reply starts with opcode | REPLY_BIT and seq; IDENTIFY's reply continues with the constant
    payload (`protocol.IDENTIFY_PAYLOAD`: version, N, lanes, formats, MAX_PAYLOAD). An ERROR frame is
    ERROR, seq, then `protocol.ERROR_PAYLOAD` (code, opcode, detail). The detail follows from the code:
    the expected length for BAD_LENGTH, the address or the range's end for BAD_ADDRESS, the value's
    index for BAD_VALUE, else 0. A frame the receiver rejected (``rx_error``) is answered with its
    code, opcode 0 and seq 0. Combinational (latency 0).

    Parameters
    ----------
    cfg : CoreConfig
        The core behind the engine (IDENTIFY reports its N, lanes and formats).

    Attributes
    ----------
    index_bits : int
        Bits of ``index``: enough for the longest of the two.
    error_last : int
        The index of an ERROR frame's last byte.

    Members
    -------
    op : :py:`In(8)`
        The command's opcode.
    seq : :py:`In(8)`
        The command's seq.
    rx_error : :py:`In(1)`
        The receiver rejected the frame (``rx_code`` says why).
    rx_code : :py:`In(8)`
        The receiver's error code.
    error : :py:`In(range(max(Err) + 1))`
        The executor's error code (0: none).
    length_detail : :py:`In(DETAIL_BITS)`
        BAD_LENGTH's detail (`CommandDecoder.length_detail`).
    address_detail : :py:`In(DETAIL_BITS)`
        BAD_ADDRESS's detail (`CommandDecoder.address_detail`).
    value_index : :py:`In(DETAIL_BITS)`
        BAD_VALUE's detail: the index of the bad value in its burst.
    error_frame : :py:`In(1)`
        Give the ERROR frame's bytes, not the reply's.
    index : :py:`In(index_bits)`
        The byte's position in the frame body.
    byte : :py:`Out(8)`
        That byte.
    last : :py:`Out(index_bits)`
        The position of the reply's last fixed byte (IDENTIFY: its payload's last; else seq).
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        fmt = cfg.formats
        self._identify = P.IDENTIFY_PAYLOAD.pack(P.PROTOCOL_VERSION, cfg.n_neurons, cfg.lanes,
                                                 *P.format_fields(fmt), P.MAX_PAYLOAD,
                                                 int(P.Readout.SPIKES | (P.Readout.STATES | P.Readout.STATS if cfg.states_readout else 0)))
        reply_len = P.HEADER_BYTES + len(self._identify)
        error_len = P.HEADER_BYTES + P.ERROR_PAYLOAD.size
        self.index_bits = bits_for(max(reply_len, error_len))
        self.error_last = error_len - 1
        super().__init__({
            "op": In(8),
            "seq": In(8),
            "rx_error": In(1),
            "rx_code": In(8),
            "error": In(range(max(P.Err) + 1)),
            "length_detail": In(DETAIL_BITS),
            "address_detail": In(DETAIL_BITS),
            "value_index": In(DETAIL_BITS),
            "error_frame": In(1),
            "index": In(self.index_bits),
            "byte": Out(8),
            "last": Out(self.index_bits),
        })

    def elaborate(self, platform):
        m = Module()
        op, seq, rx_err = self.op, self.seq, self.rx_error
        reply_bytes = [op | P.REPLY_BIT, seq, *(Const(b, 8) for b in self._identify)]
        m.d.comb += self.last.eq(Mux(op == P.Op.IDENTIFY, len(reply_bytes) - 1, P.HEADER_BYTES - 1))

        # ERROR: the detail follows from the code, the opcode and the frame (all still held).
        detail = Signal(DETAIL_BITS)
        with m.Switch(self.error):
            with m.Case(P.Err.BAD_LENGTH):
                m.d.comb += detail.eq(self.length_detail)
            with m.Case(P.Err.BAD_ADDRESS):
                m.d.comb += detail.eq(self.address_detail)
            with m.Case(P.Err.BAD_VALUE):
                m.d.comb += detail.eq(self.value_index)
        code = Mux(rx_err, self.rx_code, self.error)
        error_fields = [code, Mux(rx_err, 0, op), detail]  # ERROR_PAYLOAD, byte by byte
        error_bytes = [Const(P.Msg.ERROR, 8), Mux(rx_err, 0, seq),
                       *(b for f, (_, size) in zip(error_fields, P.struct_fields(P.ERROR_PAYLOAD))
                         for b in ([f] if size == 1 else [f[8 * i:8 * (i + 1)] for i in range(size)]))]
        assert len(error_bytes) == self.error_last + 1

        with m.Switch(self.index):
            for i in range(max(len(reply_bytes), len(error_bytes))):
                with m.Case(i):
                    if i < len(error_bytes):
                        m.d.comb += self.byte.eq(Mux(self.error_frame, error_bytes[i], reply_bytes[i]))
                    else:
                        m.d.comb += self.byte.eq(reply_bytes[i])
        return m
