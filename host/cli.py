"""The `lifstp` command line: a thin layer over the Python API (README, "Command line")."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

from .errors import InputError, LifstpError
from .science.commands import add_commands, add_experiments


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _add_device(p: argparse.ArgumentParser) -> None:
    from .device import DEVICE_HELP

    p.add_argument("--device", default="golden", help=DEVICE_HELP)


def _add_stp(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stp-u", type=float, default=None,
                   help="Tsodyks-Markram utilisation U in [0, 1] (default 1: renewing synapses; 0: no depression)")
    p.add_argument("--stp-tau-rec-ms", type=float, default=None,
                   help="recovery time constant in ms (default tau_syn = 10 ms)")


def _check_out(path: str) -> Path:
    """The output file, checked before any work: not a folder, and its folder writable (or creatable)."""
    out = Path(path)
    if out.is_dir() or path.endswith(os.sep):
        raise LifstpError(f"--out {path}: is a folder; give the path of the file to write")
    try:  # the folder made and a file created in it: what the write after the run will need
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as exc:
        raise LifstpError(f"--out {path}: cannot write there ({exc.strerror or exc})") from None
    return out


def _write_exactly(out: Path, save) -> None:
    """save(file object) into exactly `out` (np.savez given a name would append .npz), atomically: a
    failure leaves no partial file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            save(fh)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LifstpError(f"--out {out}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_fit_settings(p: argparse.ArgumentParser) -> None:
    from .fitting import FitSettings

    d = FitSettings()
    p.add_argument("--fit-steps", type=int, default=d.steps, help=f"moment-matching steps (default {d.steps})")
    p.add_argument("--fit-step-ms", type=float, default=d.duration_ms,
                   help=f"model time of the device run of each step, in ms (default {d.duration_ms:g})")
    p.add_argument("--fit-lr", type=float, default=d.lr, help=f"initial step size (default {d.lr:g})")
    p.add_argument("--reference-samples", type=int, default=20_000,
                   help="states per parallel-tempering run, for machines of more than 20 units (default 20000)")


def _run_fit(args, machine, device, params, show_progress: bool):
    """Fit `machine` to `device` (lifstp fit, lifstp sample --fit); FitError if it does not converge."""
    from .fitting import FitSettings, fit_machine
    from .reference import reference_for
    from .sampling import calibration_for

    settings = FitSettings(steps=args.fit_steps, duration_ms=args.fit_step_ms, lr=args.fit_lr)
    reference = reference_for(machine, args.reference_samples, args.seed, show_progress=show_progress).check_trusted()
    fit = fit_machine(machine, device, params, calibration_for(device, params), reference, settings, seed=args.seed,
                      show_progress=show_progress)
    print(f"fit against {reference.source}: unit-mean error {fit.history[0].mean_error:.4f} -> "
          f"{fit.final_mean_error:.4f}, co-activation error {fit.history[0].pair_error:.4f} -> "
          f"{fit.final_pair_error:.4f} in {settings.steps} steps")
    return fit


def cmd_fit(args) -> int:
    from . import bm as bm_mod
    from .device import open_device
    from .fitting import FitError
    from .plots import plot_fit
    from .sampling import sampling_params

    out = _check_out(args.out)
    machine = bm_mod.load(args.bm)
    params = sampling_params(args.stp_u, args.stp_tau_rec_ms)
    device = open_device(args.device)
    fit = _run_fit(args, machine, device, params, args.progress if args.progress is not None else _stderr_is_tty())
    _write_exactly(out, fit.save)
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    print(f"wrote {out} and its convergence plot {plot_fit(fit, plot)}")
    if not fit.converged:
        raise FitError(f"the fit did not converge: unit-mean error {fit.final_mean_error:.4f} > tolerance "
                       f"{fit.settings.tolerance:g} ({out} is kept for inspection; `lifstp sample --fit` refuses it); "
                       "try more --fit-steps or a longer --fit-step-ms")
    return 0


def _sample_readout(args, machine, params, device) -> dict:
    """sample()'s readout arguments from --readout, --units, --every; InputError for bad ones (a range
    outside the machine, too many units, a bad period, a device without the states or stats readout)
    before anything is sent to the device but its IDENTIFY."""
    from .device import require_readout
    from .readout import parse_units, states_readout, stats_readout

    if args.readout not in ("states", "stats"):
        if args.units is not None or args.every is not None:
            raise InputError("--units and --every are options of --readout states or stats")
        return {}
    units = None if args.units is None else parse_units(args.units)
    make = stats_readout if args.readout == "stats" else states_readout
    ro = make(machine.n, params.tau_ref_ticks, units, args.every)
    require_readout(device.name, device.info(), args.readout)
    return {"readout": args.readout, "units": (ro.first, ro.stop), "every": ro.every}


def cmd_sample(args) -> int:
    from . import bm as bm_mod
    from .device import open_device
    from .fitting import FitError, check_fit_matches, load_fit
    from .sampling import sample, sample_ticks, sampling_params

    out = _check_out(args.out)
    machine = bm_mod.load(args.bm)
    params = sampling_params(args.stp_u, args.stp_tau_rec_ms)
    device = open_device(args.device)
    show = args.progress if args.progress is not None else _stderr_is_tty()
    sample_ticks(args.duration_ms, params.dt_ms)  # a bad duration is refused before any fit or run
    readout = _sample_readout(args, machine, params, device)
    fit = None
    if args.fit is True:
        fit = _run_fit(args, machine, device, params, show)
        if not fit.converged:
            raise FitError(f"the fit did not converge (unit-mean error {fit.final_mean_error:.4f}); nothing sampled")
    elif args.fit:
        fit = check_fit_matches(load_fit(args.fit, machine), machine, device, params)
    run = sample(machine, device, args.duration_ms, args.seed, params=params, show_progress=show, fit=fit, **readout)
    _write_exactly(out, run.save)
    cal = (f"calibration v_p05={run.calibration.v_p05_mv:.3f} mV, alpha={run.calibration.alpha_mv:.3f} mV, "
           f"weight scale {run.calibration.weight_scale:.3f}")
    if run.readout == "stats":
        ro = run.states_readout
        mean = run.stats_counts.diagonal().mean() / run.stats_samples if run.stats_samples else 0
        print(f"wrote {out}: the counts of {run.stats_samples} samples of units {ro.first}:{ro.stop} every {ro.every} "
              f"ticks over {run.n_ticks} ticks, counted on the device ({mean:.3f} mean state); {cal}")
    elif run.states_readout is not None:
        ro = run.states_readout
        print(f"wrote {out}: {len(run.states)} samples of the states of units {ro.first}:{ro.stop} every {ro.every} "
              f"ticks over {run.n_ticks} ticks ({run.states.mean() if run.states.size else 0:.3f} mean state); {cal}")
    else:
        rates = len(run.spike_tick) / max(run.n_neurons, 1) / (run.n_ticks * run.dt_ms * 1e-3)
        print(f"wrote {out}: {len(run.spike_tick)} spikes from {run.n_neurons} neurons over {run.n_ticks} ticks "
              f"({rates:.1f} Hz mean); {cal}")
    _report_status(run.status)
    _report_link(run.link, {"spikes": "spike", "states": "sample", "stats": "count"}[run.readout])
    return 0


def cmd_nir(args) -> int:
    from .device import open_device
    from .nir_graph import graph_to_network, mapped_network, network_to_graph, read_graph, write_graph
    from .sampling import run_network, sample_ticks, sampling_params

    out = _check_out(args.out)
    device = open_device(args.device)
    if args.action == "export":
        if args.duration_ms is not None:
            raise InputError("--duration-ms is an option of `lifstp nir run`")
        given = args.stp_u is not None or args.stp_tau_rec_ms is not None
        net, meta = mapped_network(args.source, device, sampling_params(args.stp_u, args.stp_tau_rec_ms) if given else None)
        _write_exactly(out, lambda fh: write_graph(network_to_graph(net, meta), fh))
        print(f"wrote {out}: a CubaLIF population of {net.n} neurons with a recurrent Linear edge, from {meta['source']}")
        return 0
    if args.stp_u is not None or args.stp_tau_rec_ms is not None:
        raise InputError("--stp-u and --stp-tau-rec-ms are options of `lifstp nir export` (a graph carries its own)")
    if args.duration_ms is None:
        raise InputError("lifstp nir run needs --duration-ms")
    net = graph_to_network(read_graph(args.source))
    sample_ticks(args.duration_ms, net.params.dt_ms)
    run = run_network(net, device, args.duration_ms, args.seed,
                      args.progress if args.progress is not None else _stderr_is_tty())
    _write_exactly(out, run.save)
    rate = len(run.spike_tick) / run.n_neurons / (run.n_ticks * run.dt_ms * 1e-3)
    print(f"wrote {out}: {len(run.spike_tick)} spikes from {run.n_neurons} neurons over {run.n_ticks} ticks "
          f"({rate:.1f} Hz mean)")
    _report_status(run.status)
    _report_link(run.link)
    return 0


def _report_link(link: dict, what: str = "spike") -> None:
    """One line of what the host survived on the wire, only if anything happened."""
    from .link import LinkStats

    said = LinkStats(**link).summary()
    if said:
        print(f"link: {said}; every {what} arrived")


def _report_status(status: dict) -> None:
    issues = {k: v for k, v in status.items() if k != "ticks" and v}
    if issues:
        print("warning: the core reported " + ", ".join(f"{k}={v}" for k, v in issues.items()), file=sys.stderr)


def cmd_calibrate(args) -> int:
    from .device import open_device
    from .plots import plot_activation
    from .sampling import calibration_for, sampling_params

    device = open_device(args.device)
    params = sampling_params(args.stp_u, args.stp_tau_rec_ms)
    cal = calibration_for(device, params)
    print(f"v_p05 = {cal.v_p05_mv:.4f} mV, alpha = {cal.alpha_mv:.4f} mV, weight scale = {cal.weight_scale:.4f}")
    if args.plot:
        print(f"wrote {plot_activation(cal, args.plot)}")
    return 0


def cmd_demo(args) -> int:
    """Sample a random 5-unit machine with renewing and with plain synapses; plot against the exact
    distribution, and D_KL against time."""
    import numpy as np

    from .analysis import joint_distribution, kl_divergence
    from .bm import exact_distribution, random_bm, save
    from .device import open_device
    from .analysis import run_states
    from .plots import plot_activation, plot_distributions, plot_raster, plot_states
    from .sampling import calibration_for, sample, sampling_params

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = open_device(args.device)
    machine = random_bm(5, np.random.default_rng(args.seed))
    save(out / "bm.npz", machine)
    p = exact_distribution(machine)
    sampled = {}
    for name, (u, tau) in {"renewing synapses": (1.0, None), "plain synapses": (0.0, None)}.items():
        params = sampling_params(u, tau)
        cal = calibration_for(device, params)
        run = sample(machine, device, args.duration_ms, args.seed, params=params, calibration=cal,
                     show_progress=_stderr_is_tty())
        q = joint_distribution(run.spike_tick, run.spike_neuron, 5, run.n_ticks, run.tau_ref_ticks)
        sampled[f"{name}, D_KL={kl_divergence(p, q):.4f}"] = q
        if u == 1.0:
            run.save(out / "run.npz")
            plot_activation(cal, out / "activation.png")
            plot_raster(run.spike_tick, run.spike_neuron, run.dt_ms, out / "raster.png")
            plot_states(run_states(run)[1],
                        run.dt_ms, run.tau_ref_ticks, out / "states.png")
        print(f"{name}: D_KL(p_exact || p_sampled) = {kl_divergence(p, q):.4f} after {args.duration_ms:g} ms")
    png = plot_distributions(p, sampled, out / "distribution.png",
                             f"random 5-unit Boltzmann machine, {args.duration_ms:g} ms on the {args.device} device")
    print(f"wrote {png}, {out / 'activation.png'}, {out / 'raster.png'}, {out / 'states.png'}, {out / 'run.npz'}, "
          f"{out / 'bm.npz'}")
    return 0


def cmd_experiment_fit_accuracy(args) -> int:
    import json

    import numpy as np

    from .accuracy import run_fit_accuracy
    from .device import open_device

    out = _check_out(str(Path(args.out) / "fit_accuracy.json"))
    r, ran = run_fit_accuracy(open_device(args.device), n_machines=args.machines, n_units=args.units,
                              sigma=args.sigma, duration_ms=args.duration_ms, seed=args.seed,
                              show_progress=args.progress if args.progress is not None else _stderr_is_tty(),
                              executor=args.executor)
    out.write_text(json.dumps({**json.loads(r.to_json()), "tasks": ran.to_json()}, indent=1) if r.fitted else
                   json.dumps({"tasks": ran.to_json()}, indent=1))
    if r.fitted:
        print(f"{len(r.fitted)} machines of {args.units} units, W, b ~ N(0, {args.sigma:g}²), seed {args.seed}: median "
              f"D_KL(p_sampled ‖ p_exact) after {args.duration_ms:g} ms {np.median(r.calibrated):.4f} with the "
              f"calibrated mapping, {np.median(r.fitted):.4f} fitted ({np.mean(r.fit_seconds):.1f} s per fit); "
              f"{ran.summary()} wrote {out}")
    ran.raise_failures("machines")
    return 0


def cmd_experiment_accuracy(args) -> int:
    from .accuracy import run_accuracy, write_report
    from .device import open_device

    durations = [float(x) for x in args.durations_ms.split(",")]
    result = run_accuracy(open_device(args.device), n_machines=args.machines, durations_ms=durations,
                          seed=args.seed, show_progress=_stderr_is_tty())
    for path in write_report(result, args.out):
        print(f"wrote {path}")
    print((Path(args.out) / "accuracy.md").read_text(), end="")
    return 0


def cmd_info(args) -> int:
    from .device import open_device

    from lifstp.golden_model.spec import preset_name

    device = open_device(args.device)
    for key, value in device.info().items():
        if key == "formats" and preset_name(value):  # a preset's name too (a board's formats come by IDENTIFY)
            value = f"{preset_name(value)}: {value}"
        print(f"{key}: {value}")
    return 0


def cmd_build(args) -> int:
    from lifstp.boards.build import BuildError, build
    from lifstp.boards.top import board

    try:
        b = board(args.board)
        n = args.neurons or b.default_neurons
        lanes = args.lanes or b.default_lanes
        formats = args.formats or b.default_formats
        device = b.device(n, lanes, formats)
        out = Path(args.out or f"build/{b.name}")
        report = build(b, device, out, baud=args.baud)
    except (BuildError, ValueError) as exc:
        raise LifstpError(str(exc)) from None
    print(f"{b.name}: {n} neurons, {lanes} lane(s), {formats} formats, {args.baud or b.default_baud} baud")
    print(report.summary())
    return 0


def cmd_flash(args) -> int:
    from lifstp.boards.build import BuildError, flash
    from lifstp.boards.top import board

    try:
        b = board(args.board)
        bitstream = Path(args.bitstream or f"build/{b.name}/lifstp.{b.bitstream_ext}")
        print(flash(b, bitstream, dry_run=args.dry_run))
    except (BuildError, ValueError) as exc:
        raise LifstpError(str(exc)) from None
    return 0


#: The default network of `lifstp bench board`: the digits machine of `lifstp train --seed 0`, cached
#: here in the user cache directory once trained.
BENCH_BM = ("bench", "digits-seed0.npz")


def _bench_bm(args) -> Path:
    """--bm, or the default network: `lifstp train --seed 0`, run once and cached (BENCH_BM)."""
    from .cache import build_lock, cache_dir

    if args.bm:
        return Path(args.bm)
    path = cache_dir(BENCH_BM[0]) / BENCH_BM[1]
    if not path.exists():
        with build_lock(path):
            if not path.exists():
                print(f"no --bm: training the default network with `lifstp train --seed 0` (about a minute, once; "
                      f"cached as {path})", flush=True)
                partial = path.with_name(f".{path.stem}.partial.npz")
                train = build_parser().parse_args(["train", "--seed", "0", "--out", str(partial)])
                train.func(train)
                os.replace(partial, path)
    return path


def cmd_bench(args) -> int:
    if args.target != "board" and (args.board or args.bm or args.build_report or args.build or args.formats):
        raise LifstpError("--board, --bm, --build-report, --build and --formats are options of `lifstp bench board`")
    if args.target == "board":
        from lifstp.bench.board import run_board_bench
        from lifstp.boards.build import BuildError

        if not args.board:
            raise LifstpError("lifstp bench board needs --board (icebreaker or ulx3s-85f)")
        try:
            return run_board_bench(args.board, _bench_bm(args), report=args.build_report, build=args.build,
                                   duration_ms=1000.0 if args.duration_ms is None else args.duration_ms,
                                   readout=args.readout, lanes=args.lanes, formats=args.formats)
        except BuildError as exc:
            raise LifstpError(str(exc)) from None
    if args.target == "link":
        from lifstp.bench.link import run_link_bench

        return run_link_bench()
    if args.target == "verilator":
        from lifstp.bench.verilator import run_verilator_bench

        sizes = [int(x) for x in (args.sizes or "256").split(",")]
        return max(run_verilator_bench(n, lanes=args.lanes or 1, duration_ms=args.duration_ms or 100.0) for n in sizes)
    from lifstp.bench.runner import run_bench

    return run_bench(args.target, sizes=[int(x) for x in (args.sizes or "100,500,1000").split(",")], duration_ms=args.duration_ms or 1000.0,
                     peers=[p for p in args.peers.split(",") if p])


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_verify(args) -> int:
    import json

    from lifstp.sim.campaign import campaign, soak

    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.is_dir():
        raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    show = sys.stderr.isatty() if args.progress is None else args.progress
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if args.kind == "soak":
        from lifstp.rtl.config import ConfigError, CoreConfig

        try:
            cfg = CoreConfig(args.neurons, args.lanes)
        except ConfigError as exc:
            raise InputError(str(exc)) from None
        result = soak(args.ticks or 10_000_000, seed=args.seed, cfg=cfg, show_progress=show, log=log)
    else:
        result = campaign(args.networks, args.ticks or 2000, seed=args.seed, show_progress=show, log=log)
    if out is not None:
        out.write_text(json.dumps(result.to_json(), indent=1))
    for failure in result.first_failures:
        print(f"mismatch: {json.dumps(failure)}", file=sys.stderr)
    for name, counts in result.per_config.items():
        print(f"  {name}: {counts['networks']} networks, {counts['mismatches']} mismatches")
    print(f"verify {args.kind}: {result.summary()}")
    return 1 if result.mismatches else 0


def build_parser() -> argparse.ArgumentParser:
    from lifstp.golden_model.spec import FORMAT_PRESETS

    parser = argparse.ArgumentParser(prog="lifstp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)

    p = sub.add_parser("sample", help="sample a Boltzmann machine (BM.npz with W, b) and write RUN.npz")
    p.add_argument("bm", help="BM.npz holding W (n×n, symmetric, zero diagonal) and b (n)")
    _add_device(p)
    p.add_argument("--duration-ms", type=float, required=True, help="model time to sample, in ms")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise generators (default 0)")
    _add_stp(p)
    p.add_argument("--out", required=True, help="output RUN.npz")
    p.add_argument("--fit", nargs="?", const=True, default=None, metavar="FIT.npz",
                   help="run the network fitted to the device: fit first (no value), or reuse FIT.npz from `lifstp fit`")
    _add_fit_settings(p)
    p.add_argument("--readout", choices=["spikes", "states", "stats"], default="spikes",
                   help="what the device sends: spikes (every spike, default), states (the states of --units "
                   "every --every ticks; docs/protocol.md, \"The state stream\") or stats (those samples counted "
                   "on the device: each unit's and each pair's on-counts, at most 64 units; \"The statistics "
                   "readout\")")
    p.add_argument("--units", default=None, metavar="A:B",
                   help="--readout states or stats: the units A .. B-1 (default: all the machine's units)")
    p.add_argument("--every", type=int, default=None, metavar="K",
                   help="--readout states or stats: ticks between two samples, 1 .. 65535 (default tau_ref_ticks)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("fit", help="fit the core's parameters to a machine by moment matching on the device; "
                                   "write FIT.npz and a convergence plot")
    p.add_argument("bm", help="BM.npz holding W and b")
    _add_device(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the reference and of the device runs (default 0)")
    _add_stp(p)
    _add_fit_settings(p)
    p.add_argument("--out", required=True, help="output FIT.npz")
    p.add_argument("--plot", help="convergence plot (default: FIT.png beside FIT.npz)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("nir", help="NIR graphs (docs/nir.md): export a mapped network, or run a graph the core "
                                   "can represent")
    p.add_argument("action", choices=["export", "run"],
                   help="export: BM.npz or FIT.npz -> NET.nir (the network `lifstp sample` runs); run: NET.nir -> "
                        "RUN.npz (one CubaLIF population with a recurrent Linear or Affine edge)")
    p.add_argument("source", help="export: BM.npz or FIT.npz; run: a NIR file")
    _add_device(p)
    p.add_argument("--duration-ms", type=float, default=None, help="run: model time, in ms")
    p.add_argument("--seed", type=int, default=0, help="run: seed of the noise generators (default 0)")
    _add_stp(p)
    p.add_argument("--out", required=True, help="export: output NET.nir; run: output RUN.npz")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_nir)

    p = sub.add_parser("info", help="what the device reports (protocol version, N, lanes, formats)")
    _add_device(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("calibrate", help="fit the activation function and weight scale; optionally plot it")
    _add_device(p)
    _add_stp(p)
    p.add_argument("--plot", help="write the activation curve to this PNG")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("demo", help="sample a random 5-unit machine and plot it against the exact distribution")
    _add_device(p)
    p.add_argument("--duration-ms", type=float, default=1e5, help="model time (default 1e5 ms)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("experiment", help="experiments that write figures and tables")
    esub = p.add_subparsers(dest="experiment", required=True)
    e = esub.add_parser("accuracy", help="D_KL of random 5-unit machines against sampling time")
    _add_device(e)
    e.add_argument("--machines", type=int, default=10)
    e.add_argument("--durations-ms", default="1e4,1e5,1e6", help="comma-separated sampling times")
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--out", default="out/accuracy")
    e.set_defaults(func=cmd_experiment_accuracy)
    e = esub.add_parser("fit-accuracy", help="D_KL of strongly coupled random machines, calibrated mapping against "
                                             "the fit in the loop")
    _add_device(e)
    e.add_argument("--machines", type=int, default=10)
    e.add_argument("--units", type=int, default=8)
    e.add_argument("--sigma", type=float, default=1.5, help="W and b ~ N(0, sigma²) (default 1.5)")
    e.add_argument("--duration-ms", type=float, default=1e5)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--out", default="out/fit_accuracy")
    e.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    from .executor import EXECUTOR_HELP

    e.add_argument("--executor", default="serial", help=EXECUTOR_HELP)
    e.set_defaults(func=cmd_experiment_fit_accuracy)
    add_experiments(esub)

    p = sub.add_parser("build", help="build a bitstream for a board with the YoWASP tools")
    p.add_argument("--board", required=True, help="icebreaker or ulx3s-85f")
    p.add_argument("--neurons", type=int, default=None, help="neurons of the core (default: the board's)")
    p.add_argument("--lanes", type=int, default=None, help="parallel lanes (default: the board's)")
    p.add_argument("--formats", choices=list(FORMAT_PRESETS), default=None,
                   help="the core's fixed-point formats (default: the board's; docs/model.md)")
    p.add_argument("--baud", type=int, default=None, help="UART baud rate (default: the board's fastest)")
    p.add_argument("--out", default=None, help="build folder (default build/BOARD)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("flash", help="program a board with openFPGALoader")
    p.add_argument("--board", required=True, help="icebreaker or ulx3s-85f")
    p.add_argument("--bitstream", default=None, help="bitstream (default build/BOARD/lifstp.bin|bit)")
    p.add_argument("--dry-run", action="store_true", help="print the programmer command, do not run it")
    p.set_defaults(func=cmd_flash)

    p = sub.add_parser("bench", help="benchmarks: golden model against NEST and Brian2, the Verilator device, the "
                                     "link, a board")
    p.add_argument("target", choices=["golden", "verilator", "link", "board"],
                   help="golden: the golden model against NEST and Brian2; verilator: the compiled RTL harness; "
                   "link: payload rates over the simulated UART; board: a board's ticks/s on a network, from "
                   "its design in Verilator, its build's clock and its UART")
    p.add_argument("--sizes", default=None, help="network sizes, comma-separated (default 100,500,1000 for "
                   "golden, 256 for verilator)")
    p.add_argument("--duration-ms", type=float, default=None,
                   help="model time per run (default 1000 ms for golden and board, 100 ms for verilator)")
    p.add_argument("--board", default=None, help="board: icebreaker or ulx3s-85f")
    p.add_argument("--bm", default=None, help="board: BM.npz to run (default: the digits machine of "
                   "`lifstp train --seed 0`, trained once and cached)")
    p.add_argument("--readout", default="spikes",
                   help="board: what the board sends the host: spikes (default, every spike), states (every "
                   "unit's state every tau_ref ticks) or stats (those of the first 64 units counted on the board)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--build-report", default=None, metavar="PATH",
                     help="board: nextpnr report.json of the board's build (default: the newest build cached by "
                     "--build)")
    src.add_argument("--build", action="store_true",
                     help="board: build the board's bitstream now (into the user cache) and use its report")
    p.add_argument("--lanes", type=int, default=None,
                   help="lanes of the verilator device (default 1) or of the board's core (default: the board's)")
    p.add_argument("--formats", choices=list(FORMAT_PRESETS), default=None,
                   help="board: the formats of the board's core (default: the board's; docs/model.md)")
    p.add_argument("--peers", default="nest,brian2", help="peers to compare with (comma-separated; empty for none)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("verify", help="long checks of the compiled RTL against the golden model: a soak of one "
                       "network, or a campaign of many freshly drawn ones (not tests: minutes to hours)")
    p.add_argument("kind", choices=["soak", "campaign"],
                   help="soak: one random network for --ticks, compared chunk by chunk; campaign: --networks "
                   "networks of --ticks each over every board's core configuration and lanes 1, 2, 4")
    p.add_argument("--ticks", type=_positive_int, default=None,
                   help="ticks per network (default 10000000 for soak, 2000 for campaign)")
    p.add_argument("--networks", type=_positive_int, default=1000, help="networks of a campaign (default 1000)")
    p.add_argument("--neurons", type=_positive_int, default=64, help="neurons of the soak's core (default 64)")
    p.add_argument("--lanes", type=_positive_int, default=2, help="lanes of the soak's core (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn networks (default 0)")
    p.add_argument("--out", default=None, help="write the result as JSON here")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            return args.func(args)
    except LifstpError as exc:
        print(f"lifstp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lifstp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
