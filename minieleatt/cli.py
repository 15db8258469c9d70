"""The command line: ``minieleatt gradcheck | train | compare | crosscheck | assignment``.

Argument parsing and printing only; the work is done by the library.
"""

import argparse
import json
import os
import sys

from .data.sources import EXPERIMENT_DATA
from .errors import MinieleattError
from .implementations import IMPLS

IMPL_HELP = ("which implementation of the cells runs: auto (default: the NumPy fast path on the CPU, the fused "
             "kernels on the GPU), reference (the readable minieleatt.functional), fast, or fused")


# defaults of `minieleatt compare`, chosen to finish in about five minutes on 2 CPU cores
COMPARE_EPOCHS = 30


def _cmd_gradcheck(args):
    from .backend import array_module, gpu_available
    from .cellcheck import all_configs, check_cell
    from .implementations import resolve_impl

    if args.device == "gpu" and not gpu_available():
        array_module("gpu")                       # raises the clear error that says how to get one
    configs = all_configs()
    impl = resolve_impl(args.impl, array_module(args.device))
    print(f"Finite-difference gradient check, float64, device={args.device}, impl={args.impl}"
          f"{f' ({impl})' if impl != args.impl else ''}, T={args.T} B={args.B} D={args.D} H={args.H}, "
          f"tolerance {args.tol:.0e}")
    print(f"{'configuration':<48} {'tensor':<6} {'rel. error':>10}  result")
    failed = 0
    worst = 0.0
    for cfg in configs:
        report = check_cell(cfg, T=args.T, B=args.B, D=args.D, H=args.H, device=args.device, seed=args.seed,
                            tol=args.tol, impl=impl)
        for row in report.rows:
            print(f"{cfg.label:<48} {row.name:<6} {row.rel_error:>10.2e}  {'pass' if row.passed else 'FAIL'}")
            worst = max(worst, row.rel_error)
        if not report.passed:
            failed += 1
            print(f"  -> {report.describe_worst()}")
    print(f"{len(configs) - failed}/{len(configs)} configurations pass; largest relative error {worst:.2e}")
    return 1 if failed else 0


# ----------------------------------------------------------------------------- train and compare

def _add_model_options(p, single=True):
    g = p.add_argument_group("model")
    if single:
        g.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="gru")
        g.add_argument("--attention-layers", type=int, default=None, metavar="M",
                       help="the first M layers carry the attention gate (default: all)")
    g.add_argument("--layers", type=int, default=3, help="recurrent layers (default 3)")
    g.add_argument("--hidden", type=int, default=100, help="neurons per layer (default 100)")
    g.add_argument("--attention", choices=["sigmoid", "softmax"], default="sigmoid",
                   help="the gate's activation (default sigmoid, the paper's; softmax is its ablation)")
    g.add_argument("--reset-after", action="store_true", help="GRU: the cuDNN/PyTorch variant")
    g.add_argument("--dropout", type=float, default=0.5)
    g.add_argument("--readout", choices=["mean", "last"], default="mean",
                   help="average the scores over the valid steps (default) or take the last valid step")


def _add_training_options(p, epochs):
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs)
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    g.add_argument("--lr", type=float, default=0.005, help="learning rate (default 0.005, the paper's)")
    g.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    g.add_argument("--weight-decay", type=float, default=0.0)
    g.add_argument("--clip", type=float, default=1.0, help="clip the gradients' global norm (0: off)")
    g.add_argument("--lr-patience", type=int, default=6,
                   help="epochs without a better validation accuracy before the learning rate is cut by 10 "
                        "(default %(default)s: the small validation set is noisy, and a cut during the early "
                        "plateau freezes a run there)")
    g.add_argument("--early-stop", type=int, default=10,
                   help="stop after this many epochs without improvement (default %(default)s; 0: never)")
    g.add_argument("--no-augment", action="store_true", help="no random rotation and noise (skeleton data)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    g.add_argument("--impl", choices=IMPLS, default="auto", help=IMPL_HELP)
    g.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    g.add_argument("--out", default=None, help="output folder")
    g.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")


def _add_data_options(p):
    g = p.add_argument_group("data")
    g.add_argument("--data", choices=["synthetic", "ntu", "ts"], default="synthetic",
                   help="synthetic skeleton actions (default, no download), NTU RGB+D skeletons, or a UEA/UCR set")
    g.add_argument("--data-dir", default=None, help="NTU: the folder of .skeleton files; ts: a UEA archive folder")
    g.add_argument("--protocol", choices=["cs", "cv"], default="cs", help="NTU: cross-subject or cross-view")
    g.add_argument("--ts-name", default=None, help="ts: a problem name, e.g. BasicMotions (bundled with aeon)")
    g.add_argument("--train-file", default=None, help="ts: the _TRAIN.ts file")
    g.add_argument("--test-file", default=None, help="ts: the _TEST.ts file")
    g.add_argument("--train-per-class", type=int, default=EXPERIMENT_DATA["n_train_per_class"],
                   help="synthetic: training sequences per class (default %(default)s)")
    g.add_argument("--test-per-class", type=int, default=EXPERIMENT_DATA["n_test_per_class"],
                   help="synthetic: test sequences per class (default %(default)s)")
    g.add_argument("--motion", type=float, default=EXPERIMENT_DATA["motion"],
                   help="synthetic: strength of the class motion (default %(default)s; 1 = full)")
    g.add_argument("--distractor", type=float, default=EXPERIMENT_DATA["distractor"],
                   help="synthetic: strength of the sway that carries no class information (default %(default)s)")


def _load_data(args):
    from .data.sources import load_splits

    if args.data == "synthetic":
        return load_splits("synthetic", n_train_per_class=args.train_per_class, n_test_per_class=args.test_per_class,
                           motion=args.motion, distractor=args.distractor, seed=args.seed)
    if args.data == "ntu":
        if not args.data_dir:
            raise SystemExit("minieleatt: --data ntu needs --data-dir, the folder of .skeleton files")
        return load_splits("ntu", data_dir=args.data_dir, protocol=args.protocol, seed=args.seed,
                           progress=not args.quiet)
    return load_splits("ts", name=args.ts_name, train_file=args.train_file, test_file=args.test_file,
                       data_dir=args.data_dir, seed=args.seed)


def _config(args, splits, cell=None, attention_layers=None):
    from .train import TrainConfig

    m = args.layers if attention_layers is None else attention_layers
    return TrainConfig(cell=cell or args.cell, hidden_size=args.hidden, num_layers=args.layers, attention_layers=m,
                       attention=args.attention, reset_after=args.reset_after, dropout=args.dropout,
                       readout=args.readout, optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                       weight_decay=args.weight_decay, clip=args.clip, batch_size=args.batch_size,
                       epochs=args.epochs, lr_patience=args.lr_patience, early_stop=args.early_stop,
                       augment=splits.skeleton and not args.no_augment, seed=args.seed, device=args.device,
                       dtype=args.dtype, impl=args.impl)


def _log(args):
    return (lambda *a, **k: None) if args.quiet else print


def _cmd_train(args):
    from . import viz
    from .train import Trainer

    out = args.out or os.path.join("runs", f"{args.cell}-m{args.attention_layers}-{args.data}")
    splits = _load_data(args)
    config = _config(args, splits, attention_layers=args.attention_layers)
    log = _log(args)
    log(f"data: {splits.description}; {len(splits.train.labels)} train, {len(splits.val.labels)} validation, "
        f"{len(splits.test.labels)} test sequences")
    trainer = Trainer(config, splits.train, splits.val, out_dir=out, progress=not args.quiet, log=log)
    log(f"model: {config.num_layers} x {config.cell.upper()}({config.hidden_size}), gate in the first "
        f"{config.attention_layers} layer(s), {trainer.net.num_params} parameters, device {config.device}")
    result = trainer.fit(resume=args.resume)
    test_loss, test_acc = trainer.evaluate(splits.test)
    summary = {"test_acc": test_acc, "test_loss": test_loss, "best_val_acc": result["best_val_acc"],
               "best_epoch": result["best_epoch"], "epochs": result["epochs"], "seconds": result["seconds"],
               "data": splits.description, "config": vars(args) | {"func": None}}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    viz.save(viz.plot_loss_curves({f"{config.cell} m={config.attention_layers}": result["history"]}),
             os.path.join(out, "loss_curve.png"))
    print(f"test accuracy {100 * test_acc:.1f} % (loss {test_loss:.4f}) with the best validation epoch "
          f"{result['best_epoch']}; checkpoints, metrics.jsonl, summary.json and loss_curve.png in {out}")
    return 0


def _cmd_compare(args):
    from .experiment import model_specs, run_comparison, settings_of, write_report

    out = args.out
    splits = _load_data(args)
    cells = args.cells
    specs = model_specs(cells, args.attention_layers_list, args.layers)
    log = _log(args)
    log(f"data: {splits.description}; {len(splits.train.labels)} train, {len(splits.val.labels)} validation, "
        f"{len(splits.test.labels)} test sequences")
    base = _config(args, splits, cell=cells[0], attention_layers=0)
    results, histories, attention = run_comparison(specs, splits.train, splits.val, splits.test, base, out_dir=out,
                                                   relevant_joints=splits.relevant_joints,
                                                   progress=not args.quiet, log=log, seeds=args.seeds)
    table = write_report(results, histories, attention, out, splits.class_names, splits.relevant_joints,
                         settings_of(base, data=splits.description))
    print(table)
    print(f"\nresults.md, results.json, loss_curves.png, accuracy.png"
          f"{', attention_skeleton.png' if attention and splits.relevant_joints else ''} in {out}")
    return 0


def _cmd_crosscheck(args):
    from . import crosscheck as cc

    try:
        header = cc.header(args.tol)
    except ImportError:
        print("minieleatt crosscheck: the oracle 'torch' needs PyTorch: pip install 'minieleatt[torch]'",
              file=sys.stderr)
        return 2
    size = dict(T=args.T, B=args.B, seed=args.seed, tol=args.tol, impl=args.impl)
    if args.checkpoint:
        report = cc.crosscheck_checkpoint(args.checkpoint, **size)
    elif args.plain:
        report = cc.crosscheck_torch_made(args.cell, args.layers, [m == "on" for m in args.mask], D=args.D, H=args.H,
                                          **size)
    else:
        report = cc.crosscheck_cells(args.cell, [None if a == "none" else a for a in args.attention],
                                     [v == "after" for v in args.variant], [m == "on" for m in args.mask],
                                     D=args.D, H=args.H, **size)
    print(f"ours: impl={args.impl}")
    print("\n".join(header + report.lines()))
    return 0 if report.passed else 1


def _add_crosscheck_parser(sub):
    from .crosscheck import ORACLES, TOLERANCE

    x = sub.add_parser("crosscheck", help="our forward and backward passes against PyTorch's autograd, through "
                                          "minieleatt.interop, in float64; exits 1 above the tolerance")
    x.add_argument("--checkpoint", metavar="FILE",
                   help="the whole network of a `minieleatt train` checkpoint (e.g. runs/gru/last.npz) on random "
                        "inputs, instead of the single layers")
    x.add_argument("--plain", action="store_true",
                   help="start from torch.nn.RNN/LSTM/GRU made by torch and bring them in with from_torch "
                        "(instead of our layers taken to torch)")
    x.add_argument("--cell", nargs="+", choices=["rnn", "lstm", "gru"], default=["rnn", "lstm", "gru"])
    x.add_argument("--attention", nargs="+", choices=["none", "sigmoid", "softmax"],
                   default=["none", "sigmoid", "softmax"], help="the gate: none, sigmoid, softmax (default: all)")
    x.add_argument("--variant", nargs="+", choices=["before", "after"], default=["before", "after"],
                   help="GRU: reset before (the paper's) or after (PyTorch's) the product (default: both)")
    x.add_argument("--mask", nargs="+", choices=["off", "on"], default=["off", "on"],
                   help="without and with a mask (a padded tail and a hole) (default: both)")
    x.add_argument("--layers", type=int, default=1, help="--plain: layers of the torch modules (default 1)")
    x.add_argument("--oracle", choices=ORACLES, default="torch", help="the reference (default: torch)")
    x.add_argument("--impl", choices=IMPLS, default="auto", help=IMPL_HELP)
    x.add_argument("--T", type=int, default=12, help="steps (default 12)")
    x.add_argument("--B", type=int, default=4, help="batch (default 4)")
    x.add_argument("--D", type=int, default=4, help="input size of the single layers (default 4)")
    x.add_argument("--H", type=int, default=5, help="hidden size of the single layers (default 5)")
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--tol", type=float, default=TOLERANCE,
                   help="largest relative difference that passes (default %(default).0e)")
    x.set_defaults(func=_cmd_crosscheck)


def _cmd_doctor(args):
    from .doctor import run

    return run(check=not args.no_check)


# ----------------------------------------------------------------------------- assignment (the course)

def _cmd_assignment_build(args):
    from .exercises.handout import build

    written = build(args.out_dir, hints=args.hints, install=args.install, assignments=args.assignment)
    for path in written:
        print(path)
    return 0


def _cmd_assignment_grade(args):
    from .exercises.grader import grade_file

    report = grade_file(args.submission, assignment=args.assignment, hints=args.hints)
    print(report.text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_json(), f, indent=1, ensure_ascii=False)
            f.write("\n")
    return 0 if report.passed else 1


def _add_assignment_parser(sub):
    from .exercises import ASSIGNMENTS, HINT_LEVELS
    from .exercises.handout import DEFAULT_INSTALL

    a = sub.add_parser("assignment", help="the course: build the student and teacher notebooks, or grade a submission")
    asub = a.add_subparsers(dest="action", required=True)
    b = asub.add_parser("build", help="write OUT_DIR/student/*.ipynb (solutions stripped) and OUT_DIR/teacher/*.ipynb "
                                      "(with solutions) from one source; the same bytes on every run")
    b.add_argument("out_dir", metavar="OUT_DIR")
    b.add_argument("--hints", choices=HINT_LEVELS, default="formula",
                   help="how much the notebooks' checks reveal (default %(default)s)")
    b.add_argument("--install", default=DEFAULT_INSTALL, metavar="SPEC",
                   help="what the notebooks pip-install on a hosted service such as Colab (default %(default)s)")
    b.add_argument("--assignment", nargs="+", choices=list(ASSIGNMENTS), default=None, help="default: all")
    b.set_defaults(func=_cmd_assignment_build)
    g = asub.add_parser("grade", help="grade a completed notebook (or a .py with the same functions); exit 0 only on "
                                      "full marks")
    g.add_argument("submission", metavar="SUBMISSION")
    g.add_argument("--json", metavar="FILE", help="also write the result as JSON (Gradescope's results.json)")
    g.add_argument("--hints", choices=HINT_LEVELS, default="location",
                   help="none: verdicts only; location: where the error is; formula: and what to check "
                        "(default %(default)s)")
    g.add_argument("--assignment", choices=list(ASSIGNMENTS), default=None,
                   help="default: the notebook's, or the one whose functions the submission defines")
    g.set_defaults(func=_cmd_assignment_grade)


def build_parser():
    parser = argparse.ArgumentParser(prog="minieleatt", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gradcheck", help="check every cell's backward pass by finite differences (float64)")
    g.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    g.add_argument("--impl", choices=IMPLS, default="auto", help=IMPL_HELP)
    g.add_argument("--T", type=int, default=3, help="steps (default 3)")
    g.add_argument("--B", type=int, default=2, help="batch (default 2)")
    g.add_argument("--D", type=int, default=3, help="input size (default 3)")
    g.add_argument("--H", type=int, default=4, help="hidden size (default 4)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes (default 1e-6)")
    g.set_defaults(func=_cmd_gradcheck)

    t = sub.add_parser("train", help="train one model and evaluate it on the test split")
    _add_model_options(t)
    _add_data_options(t)
    _add_training_options(t, epochs=30)
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.npz")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="the paper's experiment: stacks with the gate in 0..L layers, or cells "
                                       "with and without it; writes a table and three figures")
    c.add_argument("--cells", nargs="+", choices=["rnn", "lstm", "gru"], default=["gru"],
                   help="one cell: the layer-replacement sweep; several: each with and without the gate")
    c.add_argument("--seeds", nargs="+", type=int, default=None, metavar="S",
                   help="train every model with each of these seeds (same data) and report mean ± std "
                        "(default: --seed alone)")
    c.add_argument("--attention-layers", dest="attention_layers_list", nargs="+", type=int, default=None,
                   metavar="M", help="which m to train (default 0..layers for one cell, 0 and layers for several)")
    _add_model_options(c, single=False)
    _add_data_options(c)
    _add_training_options(c, epochs=COMPARE_EPOCHS)
    c.set_defaults(func=_cmd_compare, out="runs/compare")

    _add_crosscheck_parser(sub)
    d = sub.add_parser("doctor", help="versions (Python, NumPy, BLAS, CuPy, CUDA), the GPUs, and with a GPU a "
                                      "forward+backward on both devices; exit 1 if CuPy is installed but unusable")
    d.add_argument("--no-check", action="store_true", help="only report what is installed; run nothing on the GPU")
    d.set_defaults(func=_cmd_doctor)
    _add_assignment_parser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (MinieleattError, FileNotFoundError, ValueError) as exc:
        print(f"minieleatt {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
