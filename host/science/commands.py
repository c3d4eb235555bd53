"""Command-line commands of the science package, registered by the `lifstp` command line (lifstp.cli).

`add_commands(subparsers)` adds `lifstp train`; `add_experiments(experiment_subparsers)` adds
`lifstp experiment mixing | imbalanced | sweep | classify | inloop` to the existing `experiment` group.
Nothing but lifstp.cli imports this module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _tty() -> bool:
    return sys.stderr.isatty()


def _progress(args) -> bool:
    return args.progress if getattr(args, "progress", None) is not None else _tty()


def _stp(args):
    from .spiking import lif_params

    stp = (args.stp_u, args.stp_tau_rec_ms)
    lif_params(stp)  # InputError unless U is in [0, 1] and tau_rec > 0 (ModelParams's rule)
    return stp


def cmd_train(args) -> int:
    from .digits import imbalance, load_digits_binary, split
    from .idx import load_mnist
    from .rbm import TrainConfig, save_machine, train_images

    if args.mnist_images or args.mnist_labels:
        from lifstp.errors import InputError

        if not (args.mnist_images and args.mnist_labels):
            raise InputError("--mnist-images and --mnist-labels go together")
        data = load_mnist(args.mnist_images, args.mnist_labels, factor=args.downsample)
    else:
        data = load_digits_binary()
    train, test = split(data, args.test_fraction, args.seed)
    if args.skew != "balanced":
        train = imbalance(train, args.skew, args.seed)
    cfg = TrainConfig(n_hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      momentum=args.momentum, weight_decay=args.weight_decay, n_chains=args.chains,
                      disc_weight=args.disc_weight, augment=args.augment, seed=args.seed)
    negative, device = None, None
    if args.negative_phase == "lif":
        from lifstp.device import open_device

        from .spiking import SpikingNegativePhase

        device = open_device(args.device)
        negative = SpikingNegativePhase(device, duration_ms=args.negative_ms, seed=args.seed)
    rbm = train_images(train, cfg, test, show_progress=_progress(args), negative_phase=negative)
    rbm.meta.update(skew=args.skew, dataset="mnist" if args.mnist_images else "sklearn-digits",
                    test_fraction=args.test_fraction, negative_phase=args.negative_phase)
    if negative is not None:
        rbm.meta.update(negative_device=device.name, negative_runs=negative.calls, negative_ticks=negative.ticks,
                        negative_ms_per_update=args.negative_ms)
    out = save_machine(args.out, rbm)
    print(f"wrote {out}: {rbm.n_pixels} pixel + {rbm.n_labels} label + {rbm.n_hidden} hidden units, "
          f"trained on {len(train.y)} images in {rbm.meta['train_seconds']:.1f} s"
          + (f", negative phase from {negative.calls} runs of the spiking network on {device.name}" if negative else ""))
    print(f"test accuracy of the exact label posterior: {rbm.meta['test_accuracy']:.4f} ({len(test.y)} held-out images)")
    if negative is not None:
        from .spiking import classify_clamped, lif_params

        n = min(100, len(test.y))
        pred, _, _ = classify_clamped(rbm, device, lif_params(None), test.x[:n], seed=args.seed)
        print(f"test accuracy of the spiking network, images clamped: {float((pred == test.y[:n]).mean()):.4f} "
              f"({n} images)")
    return 0


def add_commands(subparsers) -> None:
    """Register `lifstp train` on the top-level subparsers."""
    from .digits import SKEWS
    from .rbm import TrainConfig

    d = TrainConfig()
    p = subparsers.add_parser("train", help="train an RBM with label units on 8×8 digits (or MNIST) by PCD; "
                                             "write BM.npz with unit groups")
    p.add_argument("--out", default="out/digits_bm.npz", help="output BM.npz (default out/digits_bm.npz)")
    p.add_argument("--hidden", type=int, default=d.n_hidden, help=f"hidden units (default {d.n_hidden})")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"epochs (default {d.epochs})")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help=f"initial learning rate, decays linearly (default {d.lr})")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--chains", type=int, default=d.n_chains, help="persistent chains")
    p.add_argument("--disc-weight", type=float, default=d.disc_weight,
                   help=f"weight of the exact discriminative gradient (hybrid training; default {d.disc_weight})")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.augment,
                   help="also train on one-pixel shifts of the images")
    p.add_argument("--skew", default="balanced", choices=list(SKEWS), help="class skew of the training set")
    p.add_argument("--test-fraction", type=float, default=0.2, help="stratified held-out fraction (default 0.2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mnist-images", help="MNIST images IDX file (.gz ok) instead of the sklearn digits")
    p.add_argument("--mnist-labels", help="MNIST labels IDX file")
    p.add_argument("--downsample", type=int, default=1, help="MNIST block-mean downsampling factor")
    p.add_argument("--negative-phase", choices=("gibbs", "lif"), default="gibbs",
                   help="where the negative phase comes from: persistent Gibbs chains (default), or the spiking "
                        "network itself on --device (training in the loop)")
    p.add_argument("--device", default="golden", help="device of --negative-phase lif (default golden)")
    p.add_argument("--negative-ms", type=float, default=200.0,
                   help="model time the spiking network runs per update with --negative-phase lif (default 200)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.set_defaults(func=cmd_train)


def _common(p, seeds: bool = True) -> None:
    from lifstp.device import DEVICE_HELP

    p.add_argument("--device", default="golden", help=DEVICE_HELP)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    if seeds:
        p.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3; 1 with --quick)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true", help="small run of the whole pipeline (a few minutes)")
    from .experiments import FULL, QUICK

    p.add_argument("--fit-steps", type=int, default=None,
                   help=f"steps of the network-specific fit of each spiking sampler (default {FULL.fit.steps}; "
                        f"{QUICK.fit.steps} with --quick)")
    p.add_argument("--fit-step-ms", type=float, default=None,
                   help=f"model time of each fit step in ms (default {FULL.fit.duration_ms:g}; "
                        f"{QUICK.fit.duration_ms:g} with --quick)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)


def _add_executor(p) -> None:
    from lifstp.executor import EXECUTOR_HELP

    p.add_argument("--executor", default="serial", help=EXECUTOR_HELP)


def _fit(args):
    """The fit settings of the scale, with --fit-steps / --fit-step-ms applied (None: the scale's)."""
    from dataclasses import replace

    from .experiments import scale_for

    if args.fit_steps is None and args.fit_step_ms is None:
        return None
    base = scale_for(args.quick, paper=bool(getattr(args, "paper_size", False) or getattr(args, "mnist", None))).fit
    steps = base.steps if args.fit_steps is None else args.fit_steps
    ms = base.duration_ms if args.fit_step_ms is None else args.fit_step_ms
    return replace(base, steps=steps, duration_ms=ms)


def _add_stp(p) -> None:
    from .spiking import MIXING_STP

    p.add_argument("--stp-u", type=float, default=MIXING_STP[0],
                   help=f"U of the lif_stp sampler, in [0, 1] as for `lifstp sample` (0: no depression; default "
                        f"{MIXING_STP[0]}; lif_stp_paper uses 0.01)")
    p.add_argument("--stp-tau-rec-ms", type=float, default=MIXING_STP[1],
                   help=f"τ_rec of the lif_stp sampler in ms (default {MIXING_STP[1]})")


def _seeds(args) -> int:
    from lifstp.errors import InputError

    n = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if n < 1:
        raise InputError(f"--seeds must be at least 1, got {n}")
    return n


def _finish(out, stem: str) -> int:
    out = Path(out)
    print((out / f"{stem}.md").read_text(), end="")
    print(f"wrote {out / (stem + '.json')}, {out / (stem + '.md')}, figures and samples in {out}")
    return 0


def cmd_mixing(args) -> int:
    from lifstp.device import open_device

    from .experiments import run_mixing

    from .experiments import Dataset

    samplers = [s for s in args.samplers.split(",") if s]
    run_mixing(open_device(args.device), args.out, seed=args.seed, n_seeds=_seeds(args), quick=args.quick,
               samplers=samplers, stp=_stp(args), bm_path=args.bm, show_progress=_progress(args), fit=_fit(args),
               dataset=Dataset(paper=args.paper_size or args.mnist is not None, mnist=args.mnist),
               n_samples=args.samples, executor=args.executor)
    return _finish(args.out, "mixing")


def cmd_imbalanced(args) -> int:
    from lifstp.device import open_device

    from .experiments import run_imbalanced

    run_imbalanced(open_device(args.device), args.out, seed=args.seed, n_seeds=_seeds(args), quick=args.quick,
                   samplers=[s for s in args.samplers.split(",") if s], skews=[s for s in args.skews.split(",") if s],
                   stp=_stp(args), show_progress=_progress(args), fit=_fit(args), executor=args.executor)
    return _finish(args.out, "imbalanced")


def cmd_sweep(args) -> int:
    from lifstp.device import open_device

    from .experiments import run_sweep

    run_sweep(open_device(args.device), args.out, seed=args.seed, quick=args.quick, bm_path=args.bm,
              show_progress=_progress(args), fit=_fit(args), executor=args.executor)
    return _finish(args.out, "sweep")


def cmd_classify(args) -> int:
    from lifstp.device import open_device

    from .experiments import run_classify

    run_classify(open_device(args.device), args.out, seed=args.seed, quick=args.quick, stp=_stp(args),
                 bm_path=args.bm, show_progress=_progress(args), fit=_fit(args))
    return _finish(args.out, "classify")


def cmd_inloop(args) -> int:
    from lifstp.device import open_device

    from .experiments import run_inloop

    run_inloop(open_device(args.device), args.out, seed=args.seed, quick=args.quick, negative_ms=args.negative_ms,
               show_progress=_progress(args), fit=_fit(args), epochs=args.epochs)
    return _finish(args.out, "inloop")


def add_experiments(experiment_subparsers) -> None:
    """Register mixing, imbalanced, sweep, classify and inloop on the `lifstp experiment` subparsers."""
    from .experiments import IMBALANCED_SAMPLERS, IMBALANCED_SKEWS, MIXING_SAMPLERS
    from .samplers import KNOWN

    from .experiments import FULL, QUICK

    def samplers(e, default) -> None:
        _common(e)
        _add_stp(e)
        _add_executor(e)
        e.add_argument("--samplers", default=",".join(default),
                       help="comma-separated names of the sampler registry: " + ", ".join(KNOWN))

    e = experiment_subparsers.add_parser("mixing", help="free-running samplers on the digits RBM: class switches, "
                                                       "classes visited, class frequencies, ISL")
    samplers(e, MIXING_SAMPLERS)
    e.add_argument("--bm", help="use this BM.npz (with unit groups) instead of training one per seed")
    e.add_argument("--samples", type=int, default=None,
                   help=f"samples per sampler (default {FULL.n_samples}; {QUICK.n_samples} with --quick)")
    e.add_argument("--paper-size", action="store_true",
                   help="the paper's size: 784 + 10 visible, 500 hidden units (MNIST with --mnist, else the digits "
                        "upsampled to 28×28, said in every table)")
    e.add_argument("--mnist", metavar="DIR", help="a folder with MNIST's train-images-idx3-ubyte and "
                                                  "train-labels-idx1-ubyte (.gz ok); implies --paper-size")
    e.set_defaults(func=cmd_mixing)

    e = experiment_subparsers.add_parser("imbalanced", help="train on class-skewed digits; generated class "
                                                           "frequencies against the training ones")
    samplers(e, IMBALANCED_SAMPLERS)
    e.add_argument("--skews", default=",".join(IMBALANCED_SKEWS), help="comma-separated skews (cut5-9, linear)")
    e.set_defaults(func=cmd_imbalanced)

    e = experiment_subparsers.add_parser("sweep", help="LIF + STP over U × τ_rec: switch rate and ISL maps")
    _common(e, seeds=False)
    _add_executor(e)
    e.add_argument("--bm", help="use this BM.npz instead of training one")
    e.set_defaults(func=cmd_sweep)

    e = experiment_subparsers.add_parser("classify", help="clamp test images; label-spike accuracy with and "
                                                         "without STP, and the exact posterior's")
    _common(e, seeds=False)
    _add_stp(e)
    e.add_argument("--bm", help="use this BM.npz instead of training one")
    e.set_defaults(func=cmd_classify)

    e = experiment_subparsers.add_parser("inloop", help="training in the loop (spiking negative phase) against "
                                                       "classical training then fitting")
    _common(e, seeds=False)
    e.add_argument("--negative-ms", type=float, default=200.0,
                   help="model time of the spiking negative phase per update (default 200)")
    e.add_argument("--epochs", type=int, default=None, help="training epochs of both machines (default: the scale's)")
    e.set_defaults(func=cmd_inloop)
