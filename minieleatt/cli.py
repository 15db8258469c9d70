"""The command line: ``minieleatt gradcheck | train | compare | predict | attention | crosscheck | doctor | assignment``.

Argument parsing and printing only; the work is done by the library. Each command is a
pair: ``add_<name>_command(subparsers)`` builds its parser and points it at
``_cmd_<name>(args)``, which runs it; ``COMMANDS`` lists the builders in the order of
``--help``. The options of ``train`` and ``compare`` that set up the training are
generated from ``TrainConfig`` (its fields, defaults and help), so the defaults live in
one place and a field added there appears here without code.
"""

import argparse
import contextlib
import io
import json
import os
import re
import shlex
import sys
from dataclasses import MISSING, asdict, fields

from .data.sources import EXPERIMENT_DATA
from .errors import MinieleattError, RunFolderError
from .implementations import IMPLS
from .train import TrainConfig

IMPL_HELP = ("which implementation of the cells runs: auto (default: the NumPy fast path on the CPU, the fused "
             "kernels on the GPU), reference (the readable minieleatt.functional), fast, or fused")
RECIPE_HELP = ("Settings left unset follow the training set's size N (minieleatt.recipe): the batch size is the "
               "power of two nearest N/30 (at least 8, at most 64); the learning rate 0.005 at batch 64, times "
               "sqrt(batch size / 64) below; the epochs enough for about 1,000 updates (at least 30, at most 200); "
               "sequences longer than --max-length steps are averaged over windows; the readout is the mean over "
               "the steps for skeleton data, the mean and the last step side by side otherwise. A validation set is held out only when it "
               "gets at least 30 sequences; the run watches the validation loss, or without a validation set the "
               "smoothed training loss, for the schedule (--lr-patience, default a fifth of the epochs) and early "
               "stopping (--early-stop, default a third); 0 turns either off. Neither counts a stalled epoch while the "
               "run is on the chance plateau (until the smoothed training loss is below 0.9 x the loss of guessing "
               "the class shares, log C for C balanced classes), so a small set that starts flat is never cut or "
               "stopped there. On univariate input the gate scales the one number of a step: it weighs steps, "
               "it cannot choose between channels.")


# ----------------------------------------------------------------------------- gradcheck

def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (an empty check checks nothing), got {value}")
    return value


def add_size_options(parser, T, B, D, H, of=""):
    """--T, --B, --D, --H: the sizes of a check's random problem, each a positive integer."""
    for flag, default, what in (("--T", T, "steps"), ("--B", B, "batch"), ("--D", D, f"input size{of}"),
                                ("--H", H, f"hidden size{of}")):
        parser.add_argument(flag, type=_positive_int, default=default, help=f"{what} (default {default})")


def add_gradcheck_command(sub):
    g = sub.add_parser("gradcheck", help="check every cell's backward pass by finite differences (float64)")
    g.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    g.add_argument("--impl", choices=IMPLS, default="auto", help=IMPL_HELP)
    add_size_options(g, T=3, B=2, D=3, H=4)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--tol", type=float, default=1e-6, help="largest relative error that passes (default 1e-6)")
    g.set_defaults(func=_cmd_gradcheck)
    return g


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


# ----------------------------------------------------------------------------- options from TrainConfig

def add_config_options(parser, exclude=()):
    """One option per ``TrainConfig`` field (but those in ``exclude``), in the field's group
    ('model' or 'training'), with its default and help; booleans become on/off switches."""
    groups = {}
    for f in fields(TrainConfig):
        if f.name in exclude:
            continue
        meta = f.metadata
        name = meta.get("group") or "training"
        group = groups.get(name) or groups.setdefault(name, parser.add_argument_group(name))
        flag = meta.get("flag") or "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else f.default_factory()
        text = meta.get("help") or f"TrainConfig.{f.name}"
        if isinstance(default, bool):
            if default:
                flag = "--no-" + flag[2:]
                text = f"turn off: {text}"
            group.add_argument(flag, dest=f.name, action="store_false" if default else "store_true",
                               default=default, help=text)
            continue
        kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "str": str}.get(str(f.type), str)
        if default is not None:
            text += " (default %(default)s)"
        group.add_argument(flag, dest=f.name, type=kind, default=default, choices=meta.get("choices"),
                           metavar=None if meta.get("choices") else f.name.upper(), help=text)


def config_from_args(args, **overrides):
    """The ``TrainConfig`` of the parsed options (fields without an option keep their default)."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    return TrainConfig(**{**values, **overrides})


# ----------------------------------------------------------------------------- data and run folder

def add_data_options(p):
    g = p.add_argument_group("data")
    g.add_argument("--data", choices=["synthetic", "ntu", "ts"], default="synthetic",
                   help="synthetic skeleton actions (default, no download), NTU RGB+D skeletons, or a UEA/UCR set")
    g.add_argument("--data-dir", default=None, help="NTU: the folder of .skeleton files; ts: a UEA archive folder")
    g.add_argument("--protocol", choices=["cs", "cv"], default="cs", help="NTU: cross-subject or cross-view")
    g.add_argument("--ts-name", default=None, help="ts: a problem name, e.g. BasicMotions (bundled with aeon)")
    g.add_argument("--train-file", default=None,
                   help="ts: the training file: UEA/UCR .ts, the UCR archive's text format (.tsv, .txt, .csv: "
                        "the label, then the values, one case a line) or .npz (X, y)")
    g.add_argument("--test-file", default=None, help="ts: the test file, in one of the same formats")
    g.add_argument("--train-per-class", type=int, default=EXPERIMENT_DATA["n_train_per_class"],
                   help="synthetic: training sequences per class (default %(default)s)")
    g.add_argument("--test-per-class", type=int, default=EXPERIMENT_DATA["n_test_per_class"],
                   help="synthetic: test sequences per class (default %(default)s)")
    g.add_argument("--motion", type=float, default=EXPERIMENT_DATA["motion"],
                   help="synthetic: strength of the class motion (default %(default)s; 1 = full)")
    g.add_argument("--distractor", type=float, default=EXPERIMENT_DATA["distractor"],
                   help="synthetic: strength of the sway that carries no class information (default %(default)s)")


def add_run_options(p, default_out):
    g = p.add_argument_group("output")
    g.add_argument("--out", default=None, help=f"output folder (default: {default_out})")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (same settings; a larger --epochs also "
                        "continues a run that stopped early)")
    g.add_argument("--overwrite", action="store_true",
                   help="start again in an --out that holds a run (the old run is moved aside to OUT.old)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")


def _data_tag(args):
    """A short name of the data for folder names: synthetic, ntu-cs, BasicMotions, X (from X_TRAIN.ts)."""
    if args.data == "ntu":
        return f"ntu-{args.protocol}"
    if args.data == "ts":
        if args.ts_name:
            return args.ts_name
        if args.train_file:
            stem = os.path.splitext(os.path.basename(args.train_file))[0]
            return stem[:-len("_TRAIN")] if stem.upper().endswith("_TRAIN") else stem
        return "ts"
    return "synthetic"


def _check_out(out, args):
    """Refuse a folder that cannot serve the run as asked, before the data are loaded, in the words of the flags."""
    from .runs import check_folder, run_files

    try:
        check_folder(out, args.resume, args.overwrite)
    except RunFolderError as exc:
        kind = getattr(exc, "kind", None)
        if kind == "exists":
            raise RunFolderError(f"{out} already holds a run ({', '.join(run_files(out))}); pass --resume to "
                                 "continue it or --overwrite to start again (the old run is moved aside)") from None
        if kind == "nothing-to-resume":
            raise RunFolderError(f"--resume: nothing to resume in {out} (no checkpoint last.npz there); "
                                 "is --out right?") from None
        if kind == "bad-request":
            raise RunFolderError("--resume and --overwrite exclude each other") from None
        raise


@contextlib.contextmanager
def _lock_out(out, log):
    """The run folder's lock (``minieleatt.runs.RunLock``) held for the block, refused in the words of the flags."""
    from .runs import RunLock

    lock = RunLock(out, log=log)
    try:
        lock.acquire()
    except RunFolderError as exc:
        if getattr(exc, "kind", None) == "locked":
            raise RunFolderError(str(exc).replace("choose another folder", "choose another --out")) from None
        raise
    try:
        yield lock
    finally:
        lock.release()


def _check_flags(args):
    """The settings that can be checked before anything is loaded or created, in the words of the flags."""
    from .backend import array_module, gpu_available

    config_from_args(args).check()
    if not isinstance(args.seed, int) or args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    if args.device == "gpu" and not gpu_available():
        array_module("gpu")                       # raises the error that says why, worded by _in_flags


def _write_summary(path, summary):
    from .atomic import write_atomic

    write_atomic(path, (json.dumps(summary, indent=1, default=str) + "\n").encode())


def _save_figure(fig, path):
    """A figure written atomically, like every file of a run."""
    import matplotlib.pyplot as plt

    from .atomic import write_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    write_atomic(path, buffer.getvalue())


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


def _describe_data(splits, log):
    log(f"data: {splits.description}; {len(splits.train.labels)} train, {len(splits.val.labels)} validation, "
        f"{len(splits.test.labels)} test sequences")
    for note in splits.notes:
        log(note)


def _log(args):
    return (lambda *a, **k: None) if args.quiet else print


# ----------------------------------------------------------------------------- train

def add_train_command(sub):
    t = sub.add_parser("train", help="train one model and evaluate it on the test split",
                       description="Train one model and evaluate it on the test split. " + RECIPE_HELP)
    add_config_options(t)
    add_data_options(t)
    add_run_options(t, "runs/CELL-mM-DATA-sSEED, e.g. runs/gru-m3-synthetic-s0")
    t.set_defaults(func=_cmd_train)
    return t


def _cmd_train(args):
    _check_flags(args)
    m = args.num_layers if args.attention_layers is None else args.attention_layers
    out = args.out_dir = args.out or os.path.join("runs", f"{args.cell}-m{m}-{_data_tag(args)}-s{args.seed}")
    _check_out(out, args)
    log = _log(args)
    with _lock_out(out, log):              # one writer; a folder made for a run that fails to start goes again
        return _train(args, out, log)


def _train(args, out, log):
    from . import viz
    from .provenance import environment
    from .train import Trainer

    splits = _load_data(args)
    config = config_from_args(args)
    _describe_data(splits, log)
    trainer = Trainer(config, splits.train, splits.val, out_dir=out, progress=not args.quiet, log=log,
                      data_info=splits.settings, preprocessing=splits.preprocessing)
    c = trainer.config
    log(f"model: {c.num_layers} x {c.cell.upper()}({c.hidden_size}), gate in the first {c.attention_layers} "
        f"layer(s), {trainer.net.num_params} parameters, device {c.device}; output in {out}")
    result = trainer.fit(resume=args.resume, overwrite=args.overwrite)
    test_loss, test_acc = trainer.evaluate(splits.test)
    summary = {"test_acc": test_acc, "test_loss": test_loss, "train_acc": result["train_acc"],
               "best_val_acc": result["best_val_acc"], "best_epoch": result["best_epoch"],
               "epochs": result["epochs"], "stopped_early": result["stopped_early"], "watched": result["watched"],
               "seconds": result["seconds"], "warning": result["warning"], "data": splits.description,
               "data_settings": splits.settings, "notes": list(splits.notes), "config": asdict(c),
               "environment": environment(c.device)}
    _write_summary(os.path.join(out, "summary.json"), summary)
    label = f"{c.cell} m={c.attention_layers}"
    _save_figure(viz.plot_loss_curves({label: result["history"]}, best_epochs={label: result["best_epoch"]}),
                 os.path.join(out, "loss_curve.png"))
    if result["warning"] and args.quiet:        # otherwise the run's log has said it already
        print(f"warning: {result['warning']}", file=sys.stderr)
    print(f"test accuracy {100 * test_acc:.1f} % (loss {test_loss:.4f}) with the parameters of epoch "
          f"{result['best_epoch']} (best {result['watched']}); checkpoints, metrics.jsonl, summary.json and "
          f"loss_curve.png in {out}")
    return 0


# ----------------------------------------------------------------------------- compare

def add_compare_command(sub):
    c = sub.add_parser("compare", help="the paper's experiment: stacks with the gate in 0..L layers, or cells "
                                       "with and without it; writes a table and three figures",
                       description="Train several models on the same data and compare them. " + RECIPE_HELP)
    c.add_argument("--cells", nargs="+", choices=["rnn", "lstm", "gru"], default=["gru"],
                   help="one cell: the layer-replacement sweep; several: each with and without the gate")
    c.add_argument("--seeds", nargs="+", type=int, default=None, metavar="S",
                   help="train every model with each of these distinct seeds (same data) and report mean ± std "
                        "(default: --seed alone)")
    c.add_argument("--attention-layers", dest="attention_layers_list", nargs="+", type=int, default=None,
                   metavar="M", help="which m to train (default 0..layers for one cell, 0 and layers for several)")
    add_config_options(c, exclude=("cell", "attention_layers"))
    add_data_options(c)
    add_run_options(c, "runs/compare")
    add_sweep_options(c)
    c.set_defaults(func=_cmd_compare)
    return c


def _jobs(text):
    value = int(text)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"a number of workers from 1, or -1 for every core, got {value}")
    return value


def _count(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a number of threads from 0 (0: as they are), got {value}")
    return value


def add_sweep_options(p):
    """--jobs, --scheduler, --blas-threads: where the trainings of a sweep run (minieleatt.sweep)."""
    from .sweep import default_jobs

    g = p.add_argument_group("sweep (the models x seeds are independent trainings)")
    g.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help=f"trainings at once, each in its own process (-1: every core; 1: one after another; "
                        f"default: one per physical core, {default_jobs()} on this machine, and 1 with --device gpu); "
                        "the results are the same whatever N")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="send the trainings to the Dask cluster whose scheduler is at ADDRESS (e.g. "
                        "tcp://10.0.0.1:8786; start it with `dask scheduler` and the workers with `dask worker "
                        "ADDRESS`; needs pip install 'minieleatt[dask]'); the results come back here, the workers "
                        "write the checkpoints at the same path, so --out must be on storage they share")
    g.add_argument("--blas-threads", type=_count, default=1, metavar="N",
                   help="BLAS threads per training (default %(default)s: at these sizes more buy nothing; "
                        "0: leave them as they are)")


def _cmd_compare(args):
    from .experiment import check_seeds, model_specs

    _check_flags(args)
    out = args.out_dir = args.out or os.path.join("runs", "compare")
    specs = model_specs(args.cells, args.attention_layers_list, args.num_layers)
    seeds = None if args.seeds is None else check_seeds(args.seeds)
    _check_out(out, args)
    log = _log(args)
    with _lock_out(out, log):
        return _compare(args, out, log, specs, seeds)


def _compare(args, out, log, specs, seeds):
    from .experiment import run_comparison, settings_of, write_report
    from .recipe import resolve

    splits = _load_data(args)
    _describe_data(splits, log)
    base = config_from_args(args, cell=args.cells[0], attention_layers=0)
    jobs = 1 if args.jobs is None and args.device == "gpu" else args.jobs
    results, histories, attention = run_comparison(specs, splits.train, splits.val, splits.test, base, out_dir=out,
                                                   relevant_joints=splits.relevant_joints,
                                                   progress=not args.quiet, log=log, seeds=seeds,
                                                   resume=args.resume, overwrite=args.overwrite,
                                                   data_info=splits.settings, preprocessing=splits.preprocessing,
                                                   jobs=jobs,
                                                   scheduler=args.scheduler,
                                                   blas_threads=args.blas_threads or None)
    chosen = resolve(base, len(splits.train.labels), splits.skeleton)      # the settings as the runs chose them
    table = write_report(results, histories, attention, out, splits.class_names, splits.relevant_joints,
                         settings_of(chosen, data=splits.description))
    print(table)
    from .sweep import resolve_jobs

    n_runs = len(specs) * (len(seeds) if seeds else 1)
    said = not args.quiet and args.scheduler is None and resolve_jobs(jobs, n_runs) == 1   # by the runs' own log
    for r in results:
        if r.get("warning") and not said:
            print(f"warning: {r['model']}: {r['warning']}", file=sys.stderr)
    print(f"\nresults.md, results.json, loss_curves.png, accuracy.png"
          f"{', attention_skeleton.png' if attention and splits.relevant_joints else ''} in {out}")
    return 0


# ----------------------------------------------------------------------------- predict and attention

def _add_model_options(p):
    p.add_argument("--run", required=True, metavar="DIR",
                   help="a run folder written by `minieleatt train` (its best.npz is read) or a checkpoint file")
    p.add_argument("--test-file", required=True, metavar="FILE",
                   help="the cases: UEA/UCR .ts, the UCR archive's text format (.tsv, .txt, .csv) or .npz (X and "
                        "optionally y); raw, as the run's own files were: the run normalises and shortens them")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")


def add_predict_command(sub):
    p = sub.add_parser("predict", help="apply a trained run to new data: one row per case in a CSV, and the "
                                       "accuracy when the file has labels")
    _add_model_options(p)
    p.add_argument("--out", default="predictions.csv", metavar="CSV",
                   help="where to write the predictions (default %(default)s): index, predicted label, the true "
                        "label when the file has one, one probability column per class")
    p.add_argument("--overwrite", action="store_true", help="replace an --out file that exists")
    p.set_defaults(func=_cmd_predict)
    return p


def _read_cases(path):
    from .data.files import read_labelled_file
    from .data.ts import check_range

    data = read_labelled_file(path)
    check_range(data.cases, data.lines, data.path)
    return data


def _load_model(args):
    from .model import load_run

    model = load_run(args.run, device=args.device)
    data = _read_cases(args.test_file)
    if data.cases[0].shape[1] != model.n_channels_:
        raise ValueError(f"{args.test_file} has {data.cases[0].shape[1]} channel(s), but the run {model.path} was "
                         f"trained on {model.n_channels_}")
    return model, data


def _known_labels(model, data):
    """The file's labels as class indices, or (None, why) when it has none or some the run never saw."""
    if data.labels is None:
        return None, f"{data.path} has no labels: no accuracy"
    try:
        return model.label_indices(data.labels, name=data.path), None
    except ValueError as exc:
        return None, f"no accuracy: {exc}"


def _cmd_predict(args):
    import csv
    import io

    import numpy as np

    from .atomic import write_atomic

    if os.path.exists(args.out) and not args.overwrite:
        raise FileExistsError(f"--out {args.out} exists; pass --overwrite to replace it")
    model, data = _load_model(args)
    logits = model.decision_function(data.cases)
    proba = model.probabilities(logits)
    predicted = model.classes_[logits.argmax(axis=1)]
    labels, why = _known_labels(model, data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["index", "predicted"] + (["label"] if data.labels is not None else [])
                    + [f"p({c})" for c in model.classes_])
    for i, row in enumerate(proba):
        writer.writerow([i, predicted[i]] + ([data.labels[i]] if data.labels is not None else [])
                        + [f"{p:.6g}" for p in row])
    write_atomic(args.out, buffer.getvalue().encode())
    print(f"{len(proba)} predictions of {model.path} written to {args.out}")
    if labels is None:
        print(why)
        return 0
    correct = int((logits.argmax(axis=1) == labels).sum())
    loss = -float(np.log(proba[np.arange(len(labels)), labels]).mean())
    print(f"test accuracy {100 * correct / len(labels):.1f} % ({correct} of {len(labels)} cases; loss {loss:.4f}) "
          f"on {args.test_file}")
    return 0


def add_attention_command(sub):
    p = sub.add_parser("attention", help="what a trained run's gate attends to on some data: figures over time, "
                                         "per channel and class, and a table of the mean response")
    _add_model_options(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the figures and the table (default: RUN/attention-STEM, STEM the file's name)")
    p.add_argument("--case", type=int, default=0, metavar="K", help="the case shown alone (default 0, the first)")
    p.set_defaults(func=_cmd_attention)
    return p


def _cmd_attention(args):
    from .model.attention import write_attention_report

    model, data = _load_model(args)
    if not 0 <= args.case < len(data.cases):
        raise ValueError(f"--case {args.case}: the file has {len(data.cases)} cases (0 to {len(data.cases) - 1})")
    labels, why = _known_labels(model, data)
    run_dir = args.run if os.path.isdir(args.run) else os.path.dirname(os.path.abspath(args.run))
    stem = os.path.splitext(os.path.basename(args.test_file))[0]
    out = args.out or os.path.join(run_dir, f"attention-{stem}")
    written = write_attention_report(model, data.cases, labels, out, case=args.case,
                                     title=os.path.basename(os.path.normpath(run_dir)))
    if why:
        print(why.replace("no accuracy", "no per-class figures"))
    for path in written:
        print(path)
    return 0


def _cmd_crosscheck(args):
    from . import crosscheck as cc

    try:
        header = cc.header(args.tol)
    except ImportError:
        print("minieleatt crosscheck: the oracle 'torch' needs PyTorch: pip install torch --index-url "
              "https://download.pytorch.org/whl/cpu (the CPU build), or pip install torch for a CUDA one",
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
    x.add_argument("--layers", type=_positive_int, default=1, help="--plain: layers of the torch modules (default 1)")
    x.add_argument("--oracle", choices=ORACLES, default="torch", help="the reference (default: torch)")
    x.add_argument("--impl", choices=IMPLS, default="auto", help=IMPL_HELP)
    add_size_options(x, T=12, B=4, D=4, H=5, of=" of the single layers")
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

    from .exercises.course import Course, load

    course = load(args.course) if args.course else None
    settings = course or Course()
    report = grade_file(args.submission, assignment=args.assignment, isolate=not args.in_process,
                        hints=args.hints or settings.hints,
                        timeout=args.timeout if args.timeout is not None else settings.timeout,
                        memory_mb=args.memory if args.memory is not None else settings.memory_mb,
                        secret=args.secret, hidden_share=settings.hidden_share,
                        hidden_visibility=settings.hidden_visibility, course=course)
    print(report.text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_json(), f, indent=1, ensure_ascii=False)
            f.write("\n")
    return 0 if report.passed else 1


def _cmd_assignment_gradescope(args):
    from .exercises.gradescope import write_kit

    course = args.course
    if course is None:                       # the checkout's course file, when there is one
        from .exercises.handout import NoCourse, course_dir
        try:
            course = os.path.join(course_dir(), "course.toml")
        except NoCourse:
            course = None
        if course is not None and not os.path.isfile(course):
            course = None
    print(write_kit(args.out, course=course, secret=args.secret, assignment=args.assignment, wheel=args.wheel,
                    install=args.install))
    return 0


def _add_assignment_parser(sub):
    from .exercises import ASSIGNMENTS, HINT_LEVELS
    from .exercises.handout import DEFAULT_INSTALL
    from .exercises.isolation import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT

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
    g.add_argument("--hints", choices=HINT_LEVELS, default=None,
                   help="none: verdicts only; location: where the error is; formula: and what to check "
                        "(default: the course file's, else location)")
    g.add_argument("--assignment", choices=list(ASSIGNMENTS), default=None,
                   help="default: the notebook's, or the one whose functions the submission defines")
    g.add_argument("--course", default=None, metavar="TOML",
                   help="the course file (course/course.toml): points, hint level, limits, hidden cases' share and "
                        "visibility, the teacher's own problems")
    g.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help=f"wall-clock limit of each part; a part past it scores zero (default: the course file's, "
                        f"else {DEFAULT_TIMEOUT:g})")
    g.add_argument("--memory", type=int, default=None, metavar="MB",
                   help=f"address-space limit of the submission's process (default: the course file's, else "
                        f"{DEFAULT_MEMORY_MB})")
    g.add_argument("--secret", default=None, metavar="TEXT|@FILE",
                   help="the teacher's secret: every part is also graded on hidden cases drawn from it, scored "
                        "and reported apart (Gradescope visibility: the course file's, else after_due_date)")
    g.add_argument("--in-process", action="store_true",
                   help="run the submission in the grader's own process (debugging only: it can then rewrite the "
                        "grader)")
    g.set_defaults(func=_cmd_assignment_grade)
    k = asub.add_parser("gradescope", help="write a Gradescope autograder zip (setup.sh, run_autograder, the package, "
                                           "the course file) that installs the package and grades each submission")
    k.add_argument("out", metavar="OUT.zip")
    k.add_argument("--course", default=None, metavar="TOML",
                   help="the course file to bundle (default: the checkout's course/course.toml, if any)")
    k.add_argument("--secret", default=None, metavar="TEXT|@FILE", help="grade hidden cases drawn from this secret")
    k.add_argument("--assignment", choices=list(ASSIGNMENTS), default=None,
                   help="default: the one each submitted notebook names")
    k.add_argument("--wheel", default=None, metavar="PATH",
                   help="the package's wheel to bundle (default: built from this checkout)")
    k.add_argument("--install", default=None, metavar="SPEC",
                   help="a pip requirement Gradescope installs instead of a bundled wheel (a git URL)")
    k.set_defaults(func=_cmd_assignment_gradescope)


# ----------------------------------------------------------------------------- the parser

def add_crosscheck_command(sub):
    _add_crosscheck_parser(sub)


def add_doctor_command(sub):
    d = sub.add_parser("doctor", help="versions (Python, NumPy, BLAS, CuPy, CUDA), the GPUs, and with a GPU a "
                                      "forward+backward on both devices; exit 1 if CuPy is installed but unusable")
    d.add_argument("--no-check", action="store_true", help="only report what is installed; run nothing on the GPU")
    d.set_defaults(func=_cmd_doctor)


COMMANDS = [add_gradcheck_command, add_train_command, add_compare_command, add_predict_command,
            add_attention_command, add_crosscheck_command, add_doctor_command, _add_assignment_parser]


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(prog="minieleatt", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"minieleatt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(sub)
    return parser


def _flag_of(name):
    f = next(f for f in fields(TrainConfig) if f.name == name)
    return f.metadata.get("flag") or "--" + name.replace("_", "-")


def _in_flags(text):
    """A library message in the words of the command line: ``hidden_size`` becomes ``--hidden``,
    ``epochs=2`` ``--epochs 2``, ``device='cpu'`` ``--device cpu``, ``data_dir=`` ``--data-dir``."""
    text = re.sub(r"device='(\w+)'", r"--device \1", text)
    text = text.replace("pass data_dir=", "pass --data-dir (the archive's folder)")
    for f in fields(TrainConfig):
        name, flag = f.name, _flag_of(f.name)
        text = re.sub(rf"(?<![\w./-]){name}=([^\s,;)]+)", rf"{flag} \1", text)
        pattern = rf"(?<![\w./-]){name}(?![\w./-])" if "_" in name else rf"(?<![\w./-]){name}(?= must )"
        text = re.sub(pattern, flag, text)
    return text


def _resume_hint(args, argv):
    """The exact command that continues an interrupted run, or None when its folder holds no checkpoint."""
    from .runs import resumable

    out = getattr(args, "out_dir", None)
    if out is None or not os.path.isdir(out) or not (resumable(out) or os.path.isdir(os.path.join(out, "models"))):
        return None
    words = [w for w in argv if w != "--overwrite"]
    if args.out is None:
        words += ["--out", out]
    if "--resume" not in words:
        words.append("--resume")
    return "minieleatt " + shlex.join(words)


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        hint = _resume_hint(args, argv)
        print(f"\nminieleatt {args.command}: interrupted; " + (f"continue the run with:\n  {hint}" if hint else
              "nothing was saved yet: run the same command again to start over"), file=sys.stderr)
        return 130
    except (MinieleattError, OSError, ValueError) as exc:
        message = str(exc)
        if isinstance(exc, OSError) and not isinstance(exc, MinieleattError):
            message = f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else message
        if args.command in ("train", "compare"):
            from .sweep import SweepError

            if not isinstance(exc, SweepError):     # a sweep's failures list each task's settings as given
                message = _in_flags(message)
            hint = _resume_hint(args, argv) if isinstance(exc, OSError) else None
            if hint:
                message += f"; the last good checkpoint is intact: once that is fixed, continue with: {hint}"
        print(f"minieleatt {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
