"""Receive and transmit paths of the command engine: COBS framing with a CRC-16 (docs/protocol.md).

`FrameReceiver` decodes COBS on the fly into a frame buffer (one whole frame, `amaranth.lib.memory`),
feeds every decoded byte to the CRC and, at the delimiter, reports the frame: OK (the CRC's residue
matched), BAD_FRAMING, BAD_CRC, or TOO_LONG (reported at the byte that overflows MAX_ENCODED; the rest
up to the next delimiter is skipped). It holds the frame (input not ready) until the executor is done.

`FrameTransmitter` owns one frame buffer per source (replies of the executor, frames of the spike
encoder); a source writes a frame body (opcode, seq, payload) into its buffer and requests `send`;
the transmitter COBS-encodes the body followed by its CRC (big-endian, computed while the body is
scanned) and sends the delimiter.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lifstp import protocol as P
from lifstp.rtl.config import NO_RW_CHECK

__all__ = ["RX_DEPTH", "TX_DEPTH", "ADDR_BITS", "rx_result_layout", "FrameReceiver", "FrameTransmitter"]

#: The decoded frame is at most MAX_ENCODED - 1 bytes (COBS adds at least one byte).
RX_DEPTH = P.MAX_ENCODED
#: Body (opcode, seq, payload) and CRC of the largest frame the device sends.
TX_DEPTH = P.HEADER_BYTES + P.MAX_PAYLOAD + P.CRC_BYTES
#: Bits of an address into a frame buffer (and of a frame length).
ADDR_BITS = max(RX_DEPTH, TX_DEPTH).bit_length()
#: Longest COBS block of data bytes.
_COBS_BLOCK = 254


def rx_result_layout() -> data.StructLayout:
    return data.StructLayout({
        "code": 8,  # 0: a valid frame; else the Err (BAD_FRAMING, BAD_CRC, TOO_LONG)
        "length": ADDR_BITS,  # decoded bytes in the buffer (opcode, seq, payload, CRC)
    })


class _ByteCRC(wiring.Component):
    """The frames' CRC (`lifstp.protocol.CRC`), a byte per cycle.

    Ports (those of `amaranth.lib.crc.Processor`): ``start`` (In) restarts from the initial value
    (it wins over valid); ``data`` (In, a byte) is taken when ``valid`` (In); ``crc`` (Out) is the CRC
    of the bytes taken so far; ``match_detected`` (Out): the register holds the residue (the bytes
    ended with their CRC).

    For a CRC that reflects nothing, the register after a byte d is (crc << 8) ^ T(x), x = the top
    byte of crc ^ d, with T linear: each bit of the new register is the XOR of at most one old bit
    and a few bits of x, which is computed once. Synthesis maps this to fewer LUTs than the generic
    matrix of `amaranth.lib.crc`.
    """

    def __init__(self):
        alg = P.CRC
        if alg.reflect_input or alg.reflect_output or alg.crc_width < 8:
            raise ValueError("the byte-wise CRC handles only unreflected CRCs of at least 8 bits")
        self.residue = P.CRC(data_width=8).residue()
        super().__init__({
            "start": In(1),
            "data": In(8),
            "valid": In(1),
            "crc": Out(alg.crc_width),
            "match_detected": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        alg = P.CRC
        w, poly = alg.crc_width, alg.polynomial
        mask = (1 << w) - 1

        def table(x: int) -> int:  # the register after byte x from a zero register
            reg = x << (w - 8)
            for _ in range(8):
                reg = ((reg << 1) ^ poly if reg >> (w - 1) else reg << 1) & mask
            return reg

        reg = Signal(w, init=alg.initial_crc)
        x = Signal(8)
        m.d.comb += x.eq(reg[w - 8:] ^ self.data)
        nxt = [reg[i - 8] if i >= 8 else 0 for i in range(w)]
        for j in range(8):
            col = table(1 << j)
            for i in range(w):
                if col >> i & 1:
                    nxt[i] = nxt[i] ^ x[j]
        with m.If(self.start):
            m.d.sync += reg.eq(alg.initial_crc)
        with m.Elif(self.valid):
            m.d.sync += reg.eq(Cat(*nxt))
        m.d.comb += [self.crc.eq(reg ^ alg.xor_output), self.match_detected.eq(reg == self.residue)]
        return m


class FrameReceiver(wiring.Component):
    """Bytes from the host in, whole checked frames out.

    Ports:

    - ``i`` (In stream of bytes): the byte stream from the host. Not ready while a frame waits in
      `frame` (the executor reads the buffer meanwhile).
    - ``frame`` (Out stream of `rx_result_layout`): one result per frame: code 0 and the decoded
      length of a frame whose CRC matched, or the error code of a rejected one. Taking it (ready)
      releases the buffer.
    - ``rd_addr`` (In): address into the decoded frame (0: opcode, 1: seq, 2...: payload).
    - ``rd_data`` (Out): the byte at `rd_addr` one cycle earlier (a synchronous read port); defined
      while a frame waits in `frame` (the buffer is written only otherwise).
    """

    def __init__(self):
        super().__init__({
            "i": In(stream.Signature(8)),
            "frame": Out(stream.Signature(rx_result_layout())),
            "rd_addr": In(ADDR_BITS),
            "rd_data": Out(8),
        })

    def elaborate(self, platform):
        m = Module()
        # The frame buffers are never read where and when they are written (the receiver writes only
        # while no frame waits, and the executor reads only while one does; a source writes its transmit
        # buffer only while the transmitter does not send from it): NO_RW_CHECK spares Yosys's bypass of
        # about 27 flip-flops and 20 LUTs per buffer.
        m.submodules.mem = mem = Memory(shape=8, depth=RX_DEPTH, init=[], attrs=NO_RW_CHECK)
        m.submodules.crc = crc = _ByteCRC()
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [rp.addr.eq(self.rd_addr), self.rd_data.eq(rp.data)]

        enc_len = Signal(ADDR_BITS)  # encoded bytes since the last delimiter
        dec_len = Signal(ADDR_BITS)  # decoded bytes written (kept as the result's length while pending)
        block = Signal(8)  # 1 + data bytes left in the current COBS block (its code, counted down); 0 at first
        first = Signal(init=1)  # the next byte is the frame's first code byte
        prev_ff = Signal()  # the last code was 0xFF (no zero follows its block)
        overflow = Signal()  # skipping to the next delimiter after TOO_LONG
        pending = Signal()
        code = Signal(8)  # the result's code

        m.d.comb += [self.frame.valid.eq(pending), self.frame.payload.code.eq(code),
                     self.frame.payload.length.eq(dec_len), self.i.ready.eq(~pending)]

        byte = self.i.payload
        block_done = block[1:] == 0  # the next byte is a code byte
        restart = [enc_len.eq(0), block.eq(0), first.eq(1), prev_ff.eq(0)]
        m.d.comb += [wp.addr.eq(dec_len), crc.data.eq(wp.data)]
        with m.If(self.i.valid & self.i.ready):
            with m.If(byte == P.DELIMITER):
                m.d.sync += restart
                m.d.comb += crc.start.eq(1)
                with m.If(overflow):
                    m.d.sync += overflow.eq(0)
                with m.Elif(~first):
                    m.d.sync += pending.eq(1)
                    with m.If(~block_done | (dec_len < P.HEADER_BYTES + P.CRC_BYTES)):
                        m.d.sync += code.eq(P.Err.BAD_FRAMING)
                    with m.Elif(~crc.match_detected):
                        m.d.sync += code.eq(P.Err.BAD_CRC)
                    with m.Else():
                        m.d.sync += code.eq(0)
            with m.Elif(overflow):
                pass
            with m.Elif(enc_len >= P.MAX_ENCODED):
                m.d.sync += [*restart, dec_len.eq(0), overflow.eq(1), pending.eq(1), code.eq(P.Err.TOO_LONG)]
                m.d.comb += crc.start.eq(1)
            with m.Else():
                m.d.sync += enc_len.eq(enc_len + 1)
                with m.If(block_done):  # a code byte: the block before it ended in a zero
                    m.d.sync += [block.eq(byte), prev_ff.eq(byte == 0xFF), first.eq(0)]
                    with m.If(~first & ~prev_ff):
                        m.d.comb += [wp.data.eq(0), wp.en.eq(1), crc.valid.eq(1)]
                        m.d.sync += dec_len.eq(dec_len + 1)
                with m.Else():
                    m.d.comb += [wp.data.eq(byte), wp.en.eq(1), crc.valid.eq(1)]
                    m.d.sync += [dec_len.eq(dec_len + 1), block.eq(block - 1)]
        with m.If(self.frame.valid & self.frame.ready):  # the executor is done with the frame
            m.d.sync += [pending.eq(0), dec_len.eq(0)]
        return m


def tx_source_signature() -> wiring.Signature:
    """A source's side of the transmitter: write its buffer, then request the frame's sending."""
    return wiring.Signature({
        "w_addr": Out(ADDR_BITS),
        "w_data": Out(8),
        "w_en": Out(1),
        "send": Out(stream.Signature(ADDR_BITS)),
    })


class FrameTransmitter(wiring.Component):
    """Frame bodies in (one buffer per source), COBS-encoded frames with CRC and delimiter out.

    Ports:

    - ``src<k>`` (In `tx_source_signature`, k = 0 .. n_sources - 1, 0 has priority): ``w_addr``,
      ``w_data``, ``w_en`` write the source's buffer (opcode at 0, seq at 1, payload from 2);
      ``send`` (stream, payload = body length) requests the frame be sent. The request is taken
      (ready) in the cycle the frame's delimiter leaves; until then the source must not write.
    - ``o`` (Out stream of bytes): the encoded frames, each followed by the delimiter.
    - ``idle`` (Out): nothing is being sent.

    COBS: the transmitter scans a block (up to a zero, the end, or 254 bytes), sends its code byte,
    then its bytes, and so on, and finally the delimiter. The scan reads every byte of the frame once,
    in order, so the CRC is computed on the way: the two bytes after the body are taken from the CRC
    (big-endian), which is complete by then; the buffers hold only what the sources write.

    Cycle cost of a frame of n body bytes, from the request to the delimiter, with `o` always ready:
    4 (n + 2) + 5 (a scan and an emission, each one memory read per byte), + 3 per block cut at 254
    bytes (`cycles.transmit_cycles`).
    """

    def __init__(self, n_sources: int = 2):
        self.n_sources = n_sources
        super().__init__({
            **{f"src{k}": In(tx_source_signature()) for k in range(n_sources)},
            "o": Out(stream.Signature(8)),
            "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = _ByteCRC()
        srcs = [getattr(self, f"src{k}") for k in range(self.n_sources)]
        sel = Signal(range(self.n_sources))
        body_len = Signal(ADDR_BITS)
        pos = Signal(ADDR_BITS)  # the next byte to send
        scan = Signal(ADDR_BITS)  # the next byte to scan
        code = Signal(8, init=1)  # the code byte of the block scanned: its data bytes + 1
        raddr = Signal(ADDR_BITS)
        rdata = Signal(8)

        for k, src in enumerate(srcs):
            mem = Memory(shape=8, depth=TX_DEPTH, init=[], attrs=NO_RW_CHECK)  # (as the receiver's)
            m.submodules[f"mem{k}"] = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.addr.eq(src.w_addr), wp.data.eq(src.w_data), wp.en.eq(src.w_en), rp.addr.eq(raddr)]
            with m.If(sel == k):
                m.d.comb += rdata.eq(rp.data)

        # The byte at raddr (read a cycle earlier, raddr unchanged): from the buffer in the body, else
        # from the CRC. rel = raddr - body_len: negative in the body, 0 and 1 at the CRC, 2 at the end.
        rel = Signal(ADDR_BITS + 1)
        m.d.comb += rel.eq(raddr - body_len)
        in_body = rel[-1]
        at_end = rel == P.CRC_BYTES
        byte = Signal(8)
        m.d.comb += [byte.eq(Mux(in_body, rdata, Mux(rel[0], crc.crc[:8], crc.crc[8:]))), crc.data.eq(rdata)]

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                for k in reversed(range(self.n_sources)):  # lowest index wins
                    with m.If(srcs[k].send.valid):
                        m.d.sync += [sel.eq(k), body_len.eq(srcs[k].send.payload)]
                for k in range(self.n_sources):
                    with m.If(srcs[k].send.valid):
                        m.d.comb += crc.start.eq(1)
                        m.d.sync += [pos.eq(0), scan.eq(0), code.eq(1)]
                        m.next = "SCAN_ADDR"
            with m.State("SCAN_ADDR"):
                m.d.comb += raddr.eq(scan)
                with m.If(at_end | (code == _COBS_BLOCK + 1)):
                    m.next = "CODE"
                with m.Else():
                    m.next = "SCAN_DATA"
            with m.State("SCAN_DATA"):
                m.d.comb += [raddr.eq(scan), crc.valid.eq(in_body)]
                with m.If(byte == 0):
                    m.next = "CODE"
                with m.Else():
                    m.d.sync += [scan.eq(scan + 1), code.eq(code + 1)]
                    m.next = "SCAN_ADDR"
            with m.State("CODE"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(code)]
                with m.If(self.o.ready):
                    m.next = "EMIT_ADDR"
            with m.State("EMIT_ADDR"):
                m.d.comb += raddr.eq(pos)
                with m.If(pos != scan):
                    m.next = "EMIT_DATA"
                with m.Elif(at_end):
                    m.next = "DELIM"
                with m.Else():  # the block ended at a zero (skipped; a block, perhaps empty, follows)
                    with m.If(code != _COBS_BLOCK + 1):  # or after 254 bytes (no zero to skip)
                        m.d.sync += [pos.eq(scan + 1), scan.eq(scan + 1)]
                    m.d.sync += code.eq(1)
                    m.next = "SCAN_ADDR"
            with m.State("EMIT_DATA"):
                m.d.comb += [raddr.eq(pos), self.o.valid.eq(1), self.o.payload.eq(byte)]
                with m.If(self.o.ready):
                    m.d.sync += pos.eq(pos + 1)
                    m.next = "EMIT_ADDR"
            with m.State("DELIM"):
                m.d.comb += [self.o.valid.eq(1), self.o.payload.eq(P.DELIMITER)]
                with m.If(self.o.ready):
                    for k in range(self.n_sources):
                        with m.If(sel == k):
                            m.d.comb += srcs[k].send.ready.eq(1)
                    m.next = "IDLE"
        return m
