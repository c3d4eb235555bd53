"""cocotb testbench: the whole device (command engine + core, `lifstp.rtl.device_top.DeviceTop`, in
Verilog) against the golden emulator (`lifstp.emulator.GoldenEmulator`), the same bytes into both.

The job (JSON, path in $LIFSTP_JOB, written by tests/test_engine_cocotb.py) holds the core's
configuration and a list of cases; each case is a list of steps, run in order on one device:

- ``{"send": hex, "budget": cycles}``: these bytes go into ``rx`` (one byte per cycle while ``rx.ready``
  is high; ``tx.ready`` is always high); the testbench collects ``tx`` until the input is consumed and
  the device has been ``idle`` (nothing sent) for `IDLE_HOLD` cycles. More than ``budget`` cycles is a
  failure ("the device hung"). The same bytes go to the golden emulator, and `lifstp.sim.engine_pair.Tee`
  compares the answers: every reply and ERROR frame byte for byte (STATUS with CYCLES_LAST_TICK
  masked), SPIKES / RUN_DONE frames decoded (ticks, neurons, RUN_DONE fields).
  ``"expect": "reply"`` also requires that every frame the device answered is a reply (no ERROR).
- ``{"run": ticks, "credit": c, "seq": s}``: RUN with an initial credit of c; like the host's client,
  the testbench sends CREDIT(1) for every SPIKES frame it receives, until RUN_DONE and idle; the golden
  emulator is driven the same way by its own frames (the two devices cut the spike stream into frames
  differently, so their CREDIT bytes may differ). The RUN replies must be equal byte for byte, the
  decoded spikes and the RUN_DONE fields equal, and the RTL's stream seqs consecutive.

A case with ``"reset": true`` starts from a reset device (``rst`` pulsed) and a new golden emulator;
otherwise it continues on the state the previous case left. Results (per case: steps, cycles, frames
compared, spikes, the first mismatch) go to $LIFSTP_RESULTS; any mismatch fails the cocotb test.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from lifstp import protocol as P
from lifstp.emulator import GoldenEmulator
from lifstp.sim.build import config_from_json
from lifstp.sim.engine_pair import Tee, decode_stream

#: cycles the device must stay idle, sending nothing, with nothing left to send it, to count as settled
IDLE_HOLD = 8


class DeviceHung(AssertionError):
    pass


class _Replay:
    """The RTL side of a Tee: its feed() returns the bytes the cocotb driver collected for that input."""

    def __init__(self):
        self.answer = b""

    def feed(self, data: bytes) -> bytes:
        out, self.answer = self.answer, b""
        return out


class DeviceDriver:
    """Bytes into `rx`, bytes out of `tx`, clock by clock (Verilog port names rx__valid, ...)."""

    def __init__(self, dut):
        self.dut = dut
        self.cycles = 0

    async def reset(self):
        dut = self.dut
        dut.rx__valid.value = 0
        dut.rx__payload.value = 0
        dut.tx__ready.value = 1
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await RisingEdge(dut.clk)

    async def feed(self, data: bytes, budget: int, on_frame=None) -> tuple[bytes, int]:
        """Send `data`; return (bytes answered, cycles) once settled. `on_frame(raw)` is called with each
        complete frame from the device (without its delimiter) and returns bytes to send after the
        rest (the host's reaction, e.g. CREDIT)."""
        dut = self.dut
        clk, rx_valid, rx_payload = dut.clk, dut.rx__valid, dut.rx__payload
        rx_ready, tx_valid, tx_payload, idle = dut.rx__ready, dut.tx__valid, dut.tx__payload, dut.idle
        inq = bytearray(data)
        pos = 0
        out = bytearray()
        frame_start = 0
        held = 0
        cycles = 0
        presented = -1
        while True:
            if pos < len(inq):
                if presented != pos:
                    rx_payload.value = inq[pos]
                    rx_valid.value = 1
                    presented = pos
            elif presented >= 0:
                rx_valid.value = 0
                presented = -1
            await ReadOnly()
            took = presented >= 0 and rx_ready.value
            sent = tx_valid.value
            is_idle = idle.value
            if sent:
                b = tx_payload.value.to_unsigned()
                out.append(b)
                if b == P.DELIMITER:
                    if on_frame is not None and len(out) - 1 > frame_start:
                        inq += on_frame(bytes(out[frame_start:-1]))
                    frame_start = len(out)
            await RisingEdge(clk)
            cycles += 1
            if took:
                pos += 1
            if pos >= len(inq) and is_idle and not sent and not took:
                held += 1
                if held >= IDLE_HOLD:
                    break
            else:
                held = 0
            if cycles > budget:
                raise DeviceHung(
                    f"the device hung: not idle within {budget} cycles ({pos} of {len(inq)} bytes taken, "
                    f"{len(out)} bytes answered, idle={int(is_idle)})")
        self.cycles += cycles
        return bytes(out), cycles


def _frames(data: bytes) -> list[P.Frame]:
    return [P.decode_frame(raw) for raw in P.FrameSplitter().feed(data)]


def _golden_run(emu: GoldenEmulator, run_frame: bytes, credit_frame: bytes, max_rounds: int = 100_000) -> bytes:
    """Drive the golden emulator through a run as the testbench drives the RTL: CREDIT(1) per SPIKES frame."""
    out = bytearray()
    data = run_frame
    for _ in range(max_rounds):
        answer = emu.feed(data)
        out += answer
        frames = _frames(answer)
        if any(f.op == P.Msg.RUN_DONE for f in frames):
            return bytes(out)
        data = credit_frame * sum(f.op == P.Msg.SPIKES for f in frames)
        if not data:
            raise AssertionError("the golden emulator stalled in a run")
    raise AssertionError("the golden emulator did not finish the run")


async def run_step(driver: DeviceDriver, tee: Tee, step: dict, budget: int) -> dict:
    """RUN with credit, CREDIT(1) per SPIKES frame; returns a record (raises AssertionError on a mismatch)."""
    seq = step["seq"]
    run_frame = P.encode_frame(P.Op.RUN, seq, P.RUN_PAYLOAD.pack(step["run"], step["credit"]))
    credit_frame = P.encode_frame(P.Op.CREDIT, (seq + 1) & 0xFF, P.CREDIT_PAYLOAD.pack(1))
    credits = [0]

    def on_frame(raw: bytes) -> bytes:
        if P.decode_frame(raw).op == P.Msg.SPIKES:
            credits[0] += 1
            return credit_frame
        return b""

    rtl_out, cycles = await driver.feed(run_frame, budget, on_frame)
    emu_out = _golden_run(tee.emu, run_frame, credit_frame)
    streams, others = ([], []), ([], [])
    for k, out in enumerate((rtl_out, emu_out)):
        for raw in P.FrameSplitter().feed(out):
            f = P.decode_frame(raw)
            (streams if f.op in (P.Msg.SPIKES, P.Msg.RUN_DONE) else others)[k].append((raw, f))
    assert [r for r, _ in others[0]] == [r for r, _ in others[1]], \
        f"replies to RUN differ: rtl {[r.hex() for r, _ in others[0]]} golden {[r.hex() for r, _ in others[1]]}"
    (rt, rn, rdone, seqs), (et, en, edone, _) = (decode_stream([f for _, f in s]) for s in streams)
    assert len(rdone) == 1 and streams[0][-1][1].op == P.Msg.RUN_DONE, f"RTL run ended with {rdone} RUN_DONE frames"
    if not (np.array_equal(rt, et) and np.array_equal(rn, en)):
        first = next((i for i in range(min(len(rt), len(et))) if (rt[i], rn[i]) != (et[i], en[i])),
                     min(len(rt), len(et)))
        raise AssertionError(
            f"spikes differ: rtl {len(rt)} golden {len(et)}, first difference at #{first}: rtl "
            f"{(int(rt[first]), int(rn[first])) if first < len(rt) else None} golden "
            f"{(int(et[first]), int(en[first])) if first < len(et) else None}")
    assert rdone == edone, f"RUN_DONE differs: rtl {rdone} golden {edone}"
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:])), f"stream seqs not consecutive: {seqs}"
    return {"cycles": cycles, "spikes": len(rt), "spike_frames": len(seqs), "credits_sent": credits[0],
            "run_done": list(rdone[0])}


async def send_step(driver: DeviceDriver, tee: Tee, step: dict, budget: int) -> dict:
    data = bytes.fromhex(step["send"])
    out, cycles = await driver.feed(data, budget)
    tee.rtl.answer = out
    before = tee.compared
    tee.feed(data)
    tee.check()
    (rt, rn, rdone, _), (et, en, edone, _) = tee.take_streams()
    assert np.array_equal(rt, et) and np.array_equal(rn, en) and rdone == edone, \
        f"run streams differ: rtl {list(zip(rt, rn))} {rdone} golden {list(zip(et, en))} {edone}"
    if step.get("expect") == "reply":
        bad = [f for f in _frames(out) if not f.op & P.REPLY_BIT or f.op == P.Msg.ERROR]
        assert not bad, f"expected replies only, got {bad}"
    return {"cycles": cycles, "frames": tee.compared - before, "spikes": len(rt)}


@cocotb.test()
async def device_equivalence(dut):
    with open(os.environ["LIFSTP_JOB"]) as fh:
        job = json.load(fh)
    cfg = config_from_json(job["config"])
    Clock(dut.clk, 10, unit="ns").start()
    driver = DeviceDriver(dut)
    default_budget = job.get("budget", 200_000)
    tee = None
    results = {"cases": []}
    failures = []
    t_start = time.perf_counter()
    for k, case in enumerate(job["cases"]):
        if case.get("reset", False) or tee is None:
            await driver.reset()
            emu = GoldenEmulator(cfg.n_neurons, cfg.formats)
            emu.lanes = cfg.lanes  # IDENTIFY reports the core's lanes
            tee = Tee(_Replay(), emu)
        rec = {"case": k, "name": case.get("name", str(k)), "steps": 0, "cycles": 0, "frames": 0, "spikes": 0,
               "runs": [], "mismatch": None}
        for i, step in enumerate(case["steps"]):
            budget = step.get("budget", default_budget)
            try:
                if "run" in step:
                    r = await run_step(driver, tee, step, budget)
                    rec["runs"].append(r)
                else:
                    r = await send_step(driver, tee, step, budget)
                    rec["frames"] += r["frames"]
            except AssertionError as exc:  # DeviceHung too
                what = f"run of {step['run']} ticks" if "run" in step else f"bytes {step['send'][:120]}"
                rec["mismatch"] = f"step {i} ({what}): {exc}"
                break
            rec["steps"] += 1
            rec["cycles"] += r["cycles"]
            rec["spikes"] += r["spikes"]
        results["cases"].append(rec)
        if rec["mismatch"]:
            failures.append(f"case {k} ({rec['name']}): {rec['mismatch']}")
            dut._log.error("case %d (%s): %s", k, rec["name"], rec["mismatch"])
            if job.get("stop_on_first", True):
                break
    results["failures"] = failures
    results["cycles"] = driver.cycles
    results["wall_s"] = time.perf_counter() - t_start
    with open(os.environ["LIFSTP_RESULTS"], "w") as fh:
        json.dump(results, fh)
    assert not failures, "\n".join(failures)
