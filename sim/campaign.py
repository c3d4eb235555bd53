"""Long and wide checks of the compiled RTL against the golden model, beyond what the tests run.

- `soak`: one random network for many ticks (10⁷ by default) on the Verilator device, run in chunks;
  after every chunk the spikes of the chunk, every neuron's state and the status counters are
  compared with the golden model's.
- `campaign`: many freshly drawn networks (1000 by default) of a few thousand ticks each, spread over
  every board's core configuration and a range of lane counts, with and without depression and
  clamps (the draws of `lifstp.sim.cases`), each checked the same way.

Both drive the harness through the real protocol (`lifstp.link.DeviceClient` over a pipe), so the
command engine, the spike encoder and flow control are part of what is checked. They are commands
(`lifstp verify soak | campaign`), not tests: the tests run a few networks of the same code.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from lifstp import protocol as P
from lifstp.errors import InputError
from lifstp.golden_model.fixed import GoldenCore
from lifstp.golden_model.spec import ClampMode
from lifstp.link import DeviceClient, PipeTransport
from lifstp.progress import progress_bar
from lifstp.rtl.config import CoreConfig

from .cases import build_golden, random_case
from .harness import config_binary

#: Neuron fields and the golden core's arrays they hold.
STATE_FIELDS = {P.NeuronField.V: "v", P.NeuronField.U: "u", P.NeuronField.REF: "ref", P.NeuronField.RES: "res",
                P.NeuronField.RNG: "rng", P.NeuronField.EL: "e_l", P.NeuronField.CLAMP: "clamp",
                P.NeuronField.ACC: "acc"}
#: Counters compared with the golden model's (the golden model has no clock, so no cycle count).
COMPARED_COUNTERS = [c.name.lower() for c in P.StatusCounter if c != P.StatusCounter.CYCLES_LAST_TICK]


#: Networks a small core gets for each one a board's core gets: a board core updates all its 256
#: neurons every tick whatever the network (about 30 s per network of 2000 ticks on the iCEBreaker's
#: shared-multiplier core in Verilator), so most draws go where they are cheap.
SMALL_CORE_SHARE = 6


def campaign_configs() -> dict[str, tuple[CoreConfig, int]]:
    """The core configurations a campaign covers, each with its share of the networks: each board's
    default core, and lane counts 1, 2, 4 (full-throughput and shared-multiplier lanes) on a small
    core where runs are cheap."""
    from lifstp.boards.top import BOARDS

    configs = {f"board {b.name}": (b.config(), 1) for b in BOARDS.values()}
    for lanes in (1, 2, 4):
        configs[f"N=32 L={lanes}"] = (CoreConfig(32, lanes), SMALL_CORE_SHARE)
    configs["N=32 L=2 shared"] = (CoreConfig(32, 2, shared_multiplier=True), SMALL_CORE_SHARE)
    return configs


def write_state(client: DeviceClient, gc: GoldenCore) -> None:
    """RESET, then a golden core's whole state: registers, every neuron field and the weights."""
    client.reset()
    client.write(P.Space.REG, 0, 0, np.asarray(gc.regs, dtype=np.int64))
    for f, name in STATE_FIELDS.items():
        client.write(P.Space.NEURON, f, 0, getattr(gc, name))
    client.write(P.Space.WEIGHT, 0, 0, gc.weights.reshape(-1))


def zero_padding(gc: GoldenCore, n_active: int) -> None:
    """Neurons n_active.. of a golden core (padding without weights) put in the state a device's
    memories power up in, every field zero, but clamped OFF: with a zero generator state they draw no
    noise and they never fire, so `write_active_state` need not write them."""
    if np.any(gc.weights[n_active:]) or np.any(gc.weights[:, n_active:]):
        raise ValueError(f"neurons {n_active}.. have weights: they are not padding")
    for name in STATE_FIELDS.values():
        getattr(gc, name)[n_active:] = 0
    gc.clamp[n_active:] = int(ClampMode.OFF)


def write_active_state(client: DeviceClient, gc: GoldenCore, n_active: int) -> None:
    """RESET, then what a device that has just powered up (memories all zero) lacks of a golden core
    whose padding is zero (`zero_padding`): the registers, the first n_active neurons' fields, every
    neuron's clamp and the weights among the first n_active. Far fewer bytes than `write_state` where
    n_active is much smaller than N, for simulations that pay for every byte (the gate level)."""
    client.reset()
    client.write(P.Space.REG, 0, 0, np.asarray(gc.regs, dtype=np.int64))
    for f, name in STATE_FIELDS.items():
        values = getattr(gc, name)
        client.write(P.Space.NEURON, f, 0, values if f == P.NeuronField.CLAMP else values[:n_active])
    for pre in range(n_active):
        client.write(P.Space.WEIGHT, 0, pre * gc.n, gc.weights[pre, :n_active])


def state_differences(client: DeviceClient, gc: GoldenCore, neurons: int | None = None) -> list[str]:
    """Every neuron field (of the first `neurons`, default all) and compared counter where the device
    differs from the golden core."""
    out = []
    for f, name in STATE_FIELDS.items():
        got = client.read(P.Space.NEURON, f, 0, neurons or gc.n)
        want = np.asarray(getattr(gc, name), np.int64)[:neurons or gc.n]
        if got.dtype == np.uint64:  # the 64-bit generator state reads back unsigned; the model keeps int64
            want = want.view(np.uint64)
        bad = np.flatnonzero(got != want)
        if bad.size:
            i = int(bad[0])
            out.append(f"{f.name} differs at {bad.size} neurons (first: neuron {i}, device {got[i]}, golden {want[i]})")
    got = client.status()
    # The golden core counts ticks and saturations; a device that runs as it should drops no spike
    # and rejects no frame.
    want = {"spikes_dropped": 0, "frames_rejected": 0, **gc.status()}
    for name in COMPARED_COUNTERS:
        if got[name] != want[name]:
            out.append(f"counter {name}: device {got[name]}, golden {want[name]}")
    return out


def spike_differences(got: tuple, want: tuple) -> list[str]:
    """The first difference between two spike trains (tick, neuron arrays), or nothing."""
    (t1, n1), (t0, n0) = got, want
    if len(t1) == len(t0) and np.array_equal(t1, t0) and np.array_equal(n1, n0):
        return []
    k = next((i for i in range(min(len(t0), len(t1))) if (t0[i], n0[i]) != (t1[i], n1[i])), min(len(t0), len(t1)))
    where = (f"golden ({t0[k]}, {n0[k]})" if k < len(t0) else "golden ends") + ", " + \
            (f"device ({t1[k]}, {n1[k]})" if k < len(t1) else "device ends")
    return [f"spikes differ from spike {k} on: {where}; {len(t1)} spikes against {len(t0)}"]


@dataclass
class CheckResult:
    """What a soak or campaign compared and found."""

    networks: int = 0
    ticks: int = 0
    spikes: int = 0
    comparisons: int = 0        #: state snapshots compared
    mismatches: int = 0         #: networks (campaign) or chunks (soak) with any difference
    first_failures: list = field(default_factory=list)  #: up to 10, each with its case and differences
    per_config: dict = field(default_factory=dict)
    wall_s: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.networks} networks, {self.ticks} ticks, {self.spikes} spikes, {self.comparisons} state "
                f"snapshots: {self.mismatches} mismatches ({self.wall_s:.0f} s)")


def _record(result: CheckResult, what: dict, diffs: list[str]) -> None:
    if diffs:
        result.mismatches += 1
        if len(result.first_failures) < 10:
            result.first_failures.append({**what, "differences": diffs})


def soak(n_ticks: int = 10_000_000, seed: int = 0, cfg: CoreConfig | None = None, chunk_ticks: int = 100_000,
         show_progress: bool = True, log=None) -> CheckResult:
    """One random network (drawn from `seed`, all of the core active, always spiking) for n_ticks on
    the Verilator device, compared with the golden model after every chunk of chunk_ticks."""
    if n_ticks < 1 or chunk_ticks < 1 or chunk_ticks > P.RUN_MAX_TICKS:
        raise InputError(f"a soak needs n_ticks >= 1 and 1 <= chunk_ticks <= {P.RUN_MAX_TICKS}")
    cfg = cfg or CoreConfig(64, 2)
    rng = np.random.default_rng(seed)
    case = dict(random_case(rng, cfg.n_neurons), n_active=cfg.n_neurons, noise_rate_hz=2000.0, clamp_fraction=0.2)
    gc = build_golden(case, cfg.n_neurons, cfg.formats)
    result = CheckResult(networks=1)
    t0 = time.perf_counter()
    client = DeviceClient(PipeTransport(config_binary(cfg, log=log)), timeout_s=120.0)
    try:
        write_state(client, gc)
        with progress_bar(n_ticks, "soak", "tick", enabled=show_progress) as bar:
            done = 0
            while done < n_ticks:
                k = min(chunk_ticks, n_ticks - done)
                t, n, _ = client.run(k)
                want = gc.run(k)
                diffs = spike_differences((t, n), want) + state_differences(client, gc)
                result.comparisons += 1
                result.spikes += len(want[0])
                _record(result, {"case": case, "ticks": [done, done + k]}, diffs)
                done += k
                result.ticks = done
                bar.update(k)
                if diffs:
                    break  # the states have parted: later chunks would only repeat the difference
    finally:
        client.transport.close()
    result.wall_s = time.perf_counter() - t0
    return result


def campaign(n_networks: int = 1000, n_ticks: int = 2000, seed: int = 0, configs: dict | None = None,
             show_progress: bool = True, log=None) -> CheckResult:
    """n_networks freshly drawn networks (seeded from `seed`), dealt round-robin over `configs`
    ({name: (CoreConfig, share)}, default campaign_configs(): a config of share k gets k networks per
    round), each loaded into one harness per configuration, run n_ticks and compared: spikes, every
    neuron's state and the counters afterwards."""
    if n_networks < 1 or not 1 <= n_ticks <= P.RUN_MAX_TICKS:
        raise InputError(f"a campaign needs at least 1 network and 1 .. {P.RUN_MAX_TICKS} ticks")
    shares = configs or campaign_configs()
    configs = {name: cfg for name, (cfg, _) in shares.items()}
    names = list(configs)
    rounds = [name for name, (_, share) in shares.items() for _ in range(share)]
    rng = np.random.default_rng(seed)
    cases = [(rounds[k % len(rounds)], random_case(rng, configs[rounds[k % len(rounds)]].n_neurons))
             for k in range(n_networks)]
    result = CheckResult(per_config={name: {"networks": 0, "mismatches": 0} for name in names})
    t0 = time.perf_counter()
    with progress_bar(n_networks, "campaign", "network", enabled=show_progress) as bar:
        for name in names:
            cfg = configs[name]
            mine = [c for cname, c in cases if cname == name]
            if not mine:
                continue
            client = DeviceClient(PipeTransport(config_binary(cfg, log=log)), timeout_s=120.0)
            try:
                for case in mine:
                    gc = build_golden(case, cfg.n_neurons, cfg.formats)
                    write_state(client, gc)
                    t, n, _ = client.run(n_ticks)
                    want = gc.run(n_ticks)
                    diffs = spike_differences((t, n), want) + state_differences(client, gc)
                    before = result.mismatches
                    _record(result, {"config": name, "case": case}, diffs)
                    result.networks += 1
                    result.ticks += n_ticks
                    result.spikes += len(want[0])
                    result.comparisons += 1
                    result.per_config[name]["networks"] += 1
                    result.per_config[name]["mismatches"] += result.mismatches - before
                    bar.update(1)
            finally:
                client.transport.close()
    result.wall_s = time.perf_counter() - t0
    return result
