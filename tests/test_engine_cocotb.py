"""The device top level (command engine + core, `DeviceTop`) in Verilog on Verilator under cocotb, against
the golden emulator: the same bytes into both, every answer compared (sim/tb_device.py).

pytest builds the cases as byte sequences and hands them to one cocotb run on one cached build:

- `load_run`: the bytes the host's client sends for `lifstp.device.load_network` (captured by a
  transport that records and forwards to a golden emulator; the frames of a WRITE window go in back
  to back, as the client sends them), READs of every register, neuron field and weight, STATUS and
  IDENTIFY, a RUN of 400 ticks with an initial credit of 1 and CREDIT(1) per SPIKES frame (so the run
  stalls for credit), then every field read again (the state after the run, bit for bit).
- `fuzz-k`: hypothesis (derandomised) draws 1..3 random or damaged frames each (bad CRC, truncated,
  too short, oversized, garbage, unknown opcodes, wrong lengths, spaces, fields, addresses and values:
  the strategy of tests/test_engine_fuzz.py), each within the cycle bound of that test, followed by
  valid READs that show an uncorrupted state; they run one after the other on the loaded device.
- `after_fuzz`: every field and weight read back, STATUS, and a run of 50 ticks.

N = 8 with 1 and 2 lanes. LIFSTP_ENGINE_FUZZ=N sets the number of fuzz examples (default 40).
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from amaranth.back import verilog
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lifstp import protocol as P
from lifstp.device import load_network
from lifstp.emulator import GoldenEmulator
from lifstp.link import DeviceClient, LoopbackTransport
from lifstp.rtl.config import CoreConfig
from lifstp.rtl.device_top import DeviceTop
from lifstp.sim.build import build_verilog, config_to_json, run_build

from test_engine_fuzz import cycle_bound, wire_bytes  # noqa: E402  (tests/ is on sys.path under pytest)
from test_protocol import small_network  # noqa: E402

N = 8
TOPLEVEL = "lifstp_device"
EXAMPLES = int(os.environ.get("LIFSTP_ENGINE_FUZZ", "40"))
RUN_TICKS = 400
READ_BUDGET = 20_000  # cycles for a valid READ of up to 64 values and its reply


class RecordingTransport(LoopbackTransport):
    """A loopback transport that records what the host writes, one chunk per burst of writes between
    two reads (the frames a client has in flight together)."""

    def __init__(self, device):
        super().__init__(device)
        self.chunks: list[bytes] = []
        self._open = bytearray()

    def write(self, data: bytes) -> None:
        self._open += data
        super().write(data)

    def read(self, timeout_s: float) -> bytes:
        self.flush()
        return super().read(timeout_s)

    def flush(self) -> None:
        if self._open:
            self.chunks.append(bytes(self._open))
            self._open = bytearray()

    def take(self) -> list[dict]:
        self.flush()
        steps = [{"send": c.hex()} for c in self.chunks]
        self.chunks = []
        return steps


def _network():
    """A 7-neuron network (one padding neuron on the device) that spikes ~500 times in 400 ticks."""
    net = small_network(7, seed=1)
    return dataclasses.replace(net, e_l_mv=net.e_l_mv + 3.0,
                               params=dataclasses.replace(net.params, tau_ref_ms=0.5))


def _read_everything(client) -> None:
    client.read(P.Space.REG, 0, 0, P.space_size(P.Space.REG, N))
    for f in P.NeuronField:
        client.read(P.Space.NEURON, f, 0, N)
    client.read(P.Space.WEIGHT, 0, 0, N * N)
    client.status()


def load_run_case() -> dict:
    rec = RecordingTransport(GoldenEmulator(N))
    client = DeviceClient(rec, timeout_s=5)  # sends a delimiter first
    client.identify()
    load_network(client, _network(), seed=4)
    _read_everything(client)
    steps = rec.take()
    steps.append({"run": RUN_TICKS, "credit": 1, "seq": 200})
    _read_everything(client)
    client.identify()
    steps += rec.take()
    return {"name": "load_run", "reset": True, "steps": steps}


def after_fuzz_case() -> dict:
    rec = RecordingTransport(GoldenEmulator(N))
    client = DeviceClient(rec, timeout_s=5)
    _read_everything(client)
    steps = rec.take()
    steps.append({"run": 50, "credit": 4, "seq": 100})
    client.status()
    steps += rec.take()
    return {"name": "after_fuzz", "steps": steps}


@st.composite
def fuzz_case(draw):
    """1..3 frames on the wire, perhaps damaged, then valid READs of a neuron field and the registers."""
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        frame = draw(wire_bytes())
        steps.append({"send": frame.hex(), "budget": cycle_bound(len(frame))})
    field = draw(st.sampled_from(list(P.NeuronField)))
    seq = draw(st.integers(0, 255))
    reads = (P.encode_frame(P.Op.READ, seq, P.BURST_HEADER.pack(P.Space.NEURON, field, 0, N))
             + P.encode_frame(P.Op.READ, (seq + 1) & 0xFF,
                              P.BURST_HEADER.pack(P.Space.REG, 0, 0, P.space_size(P.Space.REG, N))))
    steps.append({"send": reads.hex(), "budget": READ_BUDGET, "expect": "reply"})
    return steps


def draw_fuzz_cases(count: int) -> list[dict]:
    cases: list[dict] = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(fuzz_case())
    def collect(steps):
        cases.append({"name": f"fuzz-{len(cases)}", "steps": steps})

    collect()
    return cases


_CASES: list[dict] | None = None


def all_cases() -> list[dict]:
    global _CASES
    if _CASES is None:
        _CASES = [load_run_case(), *draw_fuzz_cases(EXAMPLES), after_fuzz_case()]
    return _CASES


def device_build(cfg: CoreConfig):
    text = verilog.convert(DeviceTop(cfg), name=TOPLEVEL, emit_src=False)
    return build_verilog(text, TOPLEVEL, "verilator",
                         stamp={"device": True, "n_neurons": cfg.n_neurons, "lanes": cfg.lanes})


@pytest.mark.parametrize("lanes", [1, 2])
def test_device_against_golden_emulator_on_verilator(lanes):
    cfg = CoreConfig(n_neurons=N, lanes=lanes)
    cases = all_cases()
    t0 = time.perf_counter()
    build_dir = device_build(cfg)
    t1 = time.perf_counter()
    results = run_build(build_dir, TOPLEVEL, {"config": config_to_json(cfg), "cases": cases},
                        "lifstp.sim.tb_device")
    assert results["cocotb_failures"] == 0 and not results["failures"], results.get("failures")
    assert [r["name"] for r in results["cases"]] == [c["name"] for c in cases]
    assert all(r["mismatch"] is None and r["steps"] == len(c["steps"]) for r, c in zip(results["cases"], cases))
    load_run, after = results["cases"][0], results["cases"][-1]
    run = load_run["runs"][0]
    assert run["run_done"][:3] == [RUN_TICKS, RUN_TICKS, run["spikes"]] and run["spikes"] > 300
    assert run["spike_frames"] >= 4 and run["credits_sent"] == run["spike_frames"]  # stalled for credit
    assert load_run["frames"] >= 30 and after["runs"][0]["spikes"] > 0
    fuzz_frames = sum(r["frames"] for r in results["cases"][1:-1])
    print(f"\nN={N} L={lanes}: {len(cases)} cases, {results['cycles']} cycles, {fuzz_frames} fuzz replies compared, "
          f"{run['spikes']} spikes in the load_run case; build {t1 - t0:.1f} s, cocotb {results['wall_s']:.1f} s")
