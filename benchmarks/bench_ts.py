"""The data panel: the default recipe on every UEA/UCR classification set bundled with aeon or sktime.

    python benchmarks/bench_ts.py                                  # every set found, seeds 0 1 2
    python benchmarks/bench_ts.py --sets BasicMotions GunPoint --seeds 0

For every classification problem found in the installed aeon / sktime (``datasets/data/``),
a plain GRU stack (no gate) and an EleAtt-GRU stack (the gate in every layer) are trained
with ``TrainConfig()``'s defaults, nothing set per problem: the batch size, the epochs,
the length of the sequences, the validation rule and the readout all come from the recipe
(``minieleatt.recipe``). Each model runs once per seed; the table gives the mean test
accuracy ± the standard deviation over the seeds, beside the published accuracy of the
1-nearest-neighbour classifier with dynamic time warping (1-NN DTW), the archives' own
yardstick. The run writes ``benchmarks/RESULTS_TS.md`` (the table, the machine, the notes)
and ``benchmarks/RESULTS_TS.json`` (every run); ``--resume`` skips the runs the JSON already
holds, so an interrupted panel continues where it stopped. The trainings are the tasks of a
sweep (``minieleatt.sweep``): ``--jobs N`` of them at once, one BLAS thread each (default: one
per physical core), with the same results as one after another.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from minieleatt.data.sources import load_splits
from minieleatt.data.ts import bundled_problems
from minieleatt.provenance import environment
from minieleatt.sweep import SweepError, Task, default_jobs, raise_failures, run_sweep
from minieleatt.train import TrainConfig, Trainer

HERE = os.path.dirname(os.path.abspath(__file__))

# The yardstick: 1-NN DTW test accuracy on the archive's train/test split.
# Univariate (UCR): 1 - the "DTW (w=100)" error (full warping window) of the archive's DataSummary.csv,
#   H. A. Dau, A. Bagnall, K. Kamgar et al., "The UCR Time Series Archive", IEEE/CAA Journal of
#   Automatica Sinica 6(6), 2019 (arXiv:1810.07758); https://www.cs.ucr.edu/~eamonn/time_series_data_2018/
# Multivariate (UEA): DTW_D (dependent warping), A. Bagnall, H. A. Dau, J. Lines et al., "The UEA
#   multivariate time series classification archive, 2018", arXiv:1811.00075, table of benchmark results.
YARDSTICK = {
    "ACSF1": (0.640, "UCR, DTW w=100"),
    "ArrowHead": (0.703, "UCR, DTW w=100"),
    "GunPoint": (0.907, "UCR, DTW w=100"),
    "ItalyPowerDemand": (0.950, "UCR, DTW w=100"),
    "OSULeaf": (0.591, "UCR, DTW w=100"),
    "PickupGestureWiimoteZ": (0.660, "UCR, DTW w=100"),
    "BasicMotions": (0.975, "UEA, DTW_D"),
    "JapaneseVowels": (0.949, "UEA, DTW_D"),
}
# The field's deep-learning reference: InceptionTime's test accuracy on the default split (H. Ismail Fawaz et al.,
# "InceptionTime: Finding AlexNet for time series classification", 2020; the hfawaz/InceptionTime results files).
INCEPTION = {"ACSF1": 0.920, "ArrowHead": 0.846, "GunPoint": 1.000, "ItalyPowerDemand": 0.965, "OSULeaf": 0.942,
             "PickupGestureWiimoteZ": 0.760, "BasicMotions": 1.000, "JapaneseVowels": 0.992}
NO_YARDSTICK = {
    "UnitTest": "aeon's 42-series test set cut from Chinatown, not an archive split: no published figure",
    "Covid3Month_disc": "aeon's discretised Covid3Month regression set, not in the archives: no published figure",
}
MODELS = (("GRU", 0), ("EleAtt-GRU", None))          # attention_layers: none, every layer


def describe(splits):
    """Cases, length and channels of a problem, as the table shows them."""
    train = splits.train.sequences + splits.val.sequences
    lengths = [len(s) for s in train + splits.test.sequences]
    length = str(lengths[0]) if min(lengths) == max(lengths) else f"{min(lengths)}-{max(lengths)}"
    return {"train": len(train), "test": len(splits.test.sequences), "length": length,
            "channels": int(train[0].shape[1]), "classes": len(splits.class_names)}


def run_one(splits, attention_layers, seed):
    """One model, one seed, the default recipe: a dict with the test accuracy and what the recipe chose."""
    trainer = Trainer(TrainConfig(attention_layers=attention_layers, seed=seed), splits.train, splits.val,
                      progress=False, log=lambda *a: None)
    start = time.perf_counter()
    fit = trainer.fit()
    test_loss, test_acc = trainer.evaluate(splits.test)
    c = trainer.config
    return {"test_acc": test_acc, "test_loss": test_loss, "train_acc": fit["train_acc"], "epochs": fit["epochs"],
            "batch_size": c.batch_size, "window": trainer.window, "readout": c.readout, "watched": fit["watched"],
            "warning": fit["warning"], "seconds": time.perf_counter() - start}


def choices(runs):
    """What the recipe chose for a set's runs, as the table shows it: batch, window, readout, epochs run."""
    if not runs:
        return "–"
    r, epochs = runs[0], sorted(run["epochs"] for run in runs)
    span = str(epochs[0]) if epochs[0] == epochs[-1] else f"{epochs[0]}–{epochs[-1]}"
    return (f"batch {r['batch_size']}, " + (f"window {r['window']}, " if r.get("window", 1) > 1 else "")
            + f"{r['readout']}, {span} epochs")


def table(results, sets, seeds):
    """The Markdown table of the panel (the sets that have results)."""
    sets = [name for name in sets if name in results]
    lines = ["| set | cases (train/test) | length | channels | classes | GRU | × DTW | × IT | EleAtt-GRU | × DTW | "
             "× IT | 1-NN DTW | InceptionTime | recipe | time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name in sets:
        info = results[name]["info"]
        yard = YARDSTICK.get(name)
        inception = INCEPTION.get(name)
        cells, seconds, every = [], 0.0, []
        for label, _ in MODELS:
            runs = [results[name]["runs"].get(f"{label}/{s}") for s in seeds]
            runs = [r for r in runs if r is not None]
            every += runs
            if not runs:
                cells += ["–", "–", "–"]
                continue
            accs = [r["test_acc"] for r in runs]
            seconds += sum(r["seconds"] for r in runs)
            spread = f" ± {100 * np.std(accs):.1f}" if len(accs) > 1 else ""
            cells += [f"{100 * np.mean(accs):.1f}{spread} %", "–" if yard is None else f"{np.mean(accs) / yard[0]:.2f}",
                      "–" if inception is None else f"{np.mean(accs) / inception:.2f}"]
        lines.append(f"| {name} | {info['train']}/{info['test']} | {info['length']} | {info['channels']} | "
                     f"{info['classes']} | {' | '.join(cells)} | "
                     f"{'–' if yard is None else f'{100 * yard[0]:.1f} %'} | "
                     f"{'–' if inception is None else f'{100 * inception:.1f} %'} | {choices(every)} | {seconds:.0f} |")
    return "\n".join(lines)


def write_report(results, sets, seeds, path_md, path_json, wall):
    env = environment("cpu")
    sets = [name for name in sets if name in results]
    with open(path_json, "w") as f:
        json.dump({"seeds": seeds, "environment": env, "wall_seconds": wall, "results": results}, f, indent=1)
    notes = [f"Each model trained with `TrainConfig()` defaults (3 x 100 GRU, dropout 0.5, Adam, clipping 1.0; the "
             "batch size, learning rate, epochs, sequence length, validation and readout from the recipe of "
             f"`minieleatt.recipe`, nothing set per problem), seeds {seeds}; accuracy is the mean ± the standard "
             "deviation over the seeds on the archive's test split. \"× DTW\" is that mean over the yardstick "
             "(the target: 1.0 or more), \"× IT\" over InceptionTime's accuracy (the field's deep-learning "
             "reference: Ismail Fawaz et al., \"InceptionTime\", 2020, the hfawaz/InceptionTime results files). "
             "Recipe: what the recipe chose (batch size, window of averaged steps, readout, epochs run).",
             "1-NN DTW: univariate sets, 1 − the full-window DTW error (\"DTW (w=100)\") of the UCR archive's "
             "DataSummary.csv (Dau et al., \"The UCR Time Series Archive\", IEEE/CAA J. Autom. Sinica 6(6), 2019); "
             "multivariate sets, DTW_D of Bagnall et al., \"The UEA multivariate time series classification "
             "archive, 2018\" (arXiv:1811.00075).",
             *(f"{name}: {why}." for name, why in NO_YARDSTICK.items() if name in sets),
             f"Time: the seconds of training and testing both models over all seeds; the whole panel took "
             f"{wall / 60:.1f} min of wall time.",
             f"Machine: {env['cpu']}, {env['cores']} cores, NumPy {env['numpy']} with {env['blas'].split(' (')[0]}, "
             f"minieleatt {env['minieleatt']}" + (f" at {env['commit']}" if env.get("commit") else "") + "; "
             "the machine was shared with other work, so the times are only indicative."]
    warned = [f"{name} {key}: {run['warning']}" for name in sets for key, run in results[name]["runs"].items()
              if run.get("warning")]
    if warned:
        notes.append("Warnings at the end of runs: " + " ".join(warned))
    with open(path_md, "w") as f:
        f.write("# The data panel: the default recipe on the UEA/UCR sets bundled with aeon\n\n"
                "`python benchmarks/bench_ts.py`\n\n" + table(results, sets, seeds) + "\n\n"
                + "\n\n".join(notes) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=None, help="problem names (default: every bundled one)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS_TS"), help="path of the report, without .md/.json")
    p.add_argument("--resume", action="store_true", help="keep the runs already in OUT.json and do the others")
    p.add_argument("--jobs", type=int, default=None,
                   help="trainings at once, each in its own process with one BLAS thread (-1: every core; "
                        f"default: one per physical core, {default_jobs()} here); the results are the same")
    args = p.parse_args(argv)
    sets = args.sets or bundled_problems()
    if not sets:
        print("no UEA/UCR set found: install aeon or sktime (pip install --no-deps aeon)", file=sys.stderr)
        return 2
    path_md, path_json = args.out + ".md", args.out + ".json"
    results, wall_before = {}, 0.0
    if args.resume and os.path.exists(path_json):
        with open(path_json) as f:
            saved = json.load(f)
        results, wall_before = saved["results"], saved.get("wall_seconds", 0.0)
    start = time.perf_counter()
    tasks = []
    for name in sets:
        splits = load_splits("ts", name=name)
        entry = results.setdefault(name, {"info": describe(splits), "runs": {}})
        for label, m in MODELS:
            for seed in args.seeds:
                if f"{label}/{seed}" not in entry["runs"]:
                    tasks.append(Task(f"{name} {label} seed {seed}", {"set": name, "model": label, "seed": seed},
                                      {"splits": splits, "attention_layers": m, "seed": seed}))

    def arrived(task, run):
        s = task.settings
        results[s["set"]]["runs"][f"{s['model']}/{s['seed']}"] = run
        write_report(results, sets, args.seeds, path_md, path_json, wall_before + time.perf_counter() - start)

    def said(run):
        return (f"test accuracy {100 * run['test_acc']:5.1f} % ({run['epochs']} epochs of batch "
                f"{run['batch_size']}, window {run['window']})")

    outcomes = run_sweep(run_one, tasks, jobs=args.jobs, save_done=arrived, describe=said,
                         log=lambda line: print(line, flush=True))
    write_report(results, sets, args.seeds, path_md, path_json, wall_before + time.perf_counter() - start)
    print("\n" + table(results, sets, args.seeds))
    print(f"\n{path_md} and {path_json} written")
    try:
        raise_failures(outcomes, rerun="--resume runs them again")
    except SweepError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
