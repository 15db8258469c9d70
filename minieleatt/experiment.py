"""The paper's experiments in miniature: train several stacks on one dataset and compare them.

- Layer replacement (the paper's central experiment): a 3-layer stack in which
  the first m = 0, 1, 2, 3 layers carry the attention gate ("m-EleAtt-GRU + n-GRU").
- Cells: each cell (RNN, LSTM, GRU) with and without the gate.

``run_comparison`` trains the models one after another with the same data,
seed and settings and returns one result per model; ``write_report`` writes
the results table (Markdown and JSON) and the three figures (loss curves,
accuracies, attention on the skeleton).
"""

import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import analysis, viz
from .provenance import environment
from .atomic import write_atomic
from .runs import RunLock, prepare_folder, resumable
from .train import Trainer


@dataclass(frozen=True)
class ModelSpec:
    """One model of a comparison."""

    label: str
    cell: str
    attention_layers: int


def model_specs(cells=("gru",), attention_layers=None, num_layers=3):
    """The models to compare.

    One cell: the layer-replacement sweep, m in ``attention_layers`` (default 0..num_layers),
    labelled as in the paper ("3-GRU", "1-EleAtt-GRU + 2-GRU", ..., "3-EleAtt-GRU").
    Several cells: each with m = 0 and m = num_layers (default), labelled "GRU" / "EleAtt-GRU".
    """
    if not cells:
        raise ValueError("model_specs: name at least one cell")
    if attention_layers is None:
        attention_layers = range(num_layers + 1) if len(cells) == 1 else (0, num_layers)
    specs = []
    for cell in cells:
        name = cell.upper()
        for m in attention_layers:
            if not 0 <= m <= num_layers:
                raise ValueError(f"attention layers must be from 0 to {num_layers}, got {m}")
            if len(cells) == 1:
                if m == 0:
                    label = f"{num_layers}-{name}"
                elif m == num_layers:
                    label = f"{num_layers}-EleAtt-{name}"
                else:
                    label = f"{m}-EleAtt-{name} + {num_layers - m}-{name}"
            else:
                label = name if m == 0 else (f"EleAtt-{name}" if m == num_layers else f"{m}-EleAtt-{name}")
            specs.append(ModelSpec(label, cell, int(m)))
    return specs


def _slug(label):
    return "".join(c if c.isalnum() else "_" for c in label).strip("_").lower()


def _train_one(spec, config, train, val, test, folder, relevant_joints, progress, log, resume, data_info):
    """Train one model with one seed; returns (row, history, class attention or None)."""
    trainer = Trainer(config, train, val, out_dir=folder, progress=progress, log=log, data_info=data_info)
    t0 = time.perf_counter()
    fit = trainer.fit(resume=resume and folder is not None and os.path.isdir(folder) and bool(resumable(folder)))
    seconds = time.perf_counter() - t0
    test_loss, test_acc = trainer.evaluate(test)
    last = fit["history"][-1]
    row = {"test_acc": test_acc, "test_loss": test_loss, "train_acc": fit["train_acc"],
           "best_val_acc": fit["best_val_acc"], "best_epoch": fit["best_epoch"],
           "final_train_loss": last["train_loss"], "final_val_loss": last["val_loss"],
           "epochs": fit["epochs"], "seconds": seconds, "seconds_per_epoch": seconds / max(fit["epochs"], 1),
           "parameters": trainer.net.num_params, "attention_ratio": None, "attention_selectivity": None,
           "warning": fit["warning"]}
    att = trainer.class_attention(test) if spec.attention_layers >= 1 else None
    if att is not None and relevant_joints is not None:
        joints = analysis.joint_attention(att)
        row["attention_ratio"] = float(analysis.attention_ratio(joints, relevant_joints).mean())
        row["attention_selectivity"] = float(analysis.attention_selectivity(joints, relevant_joints).mean())
    return row, fit["history"], att


def _mean_row(rows):
    """One row from the rows of several seeds: the mean of every number, the accuracy's spread too."""
    out = {}
    for key in rows[0]:
        values = [r[key] for r in rows]
        if key == "warning":
            out[key] = next((v for v in values if v), None)
            continue
        out[key] = None if any(v is None for v in values) else float(np.mean(values))
    out["epochs"] = int(round(out["epochs"]))
    out["parameters"] = rows[0]["parameters"]
    out["test_accs"] = [r["test_acc"] for r in rows]
    out["test_acc_std"] = float(np.std(out["test_accs"]))
    return out


def check_seeds(seeds):
    """The seeds as a list of distinct integers; a repeated seed would train the same model twice
    and report a spread that is not there."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seeds: {', '.join(map(str, repeated))} given more than once; a repeated seed trains "
                         "the same model again and shrinks the reported spread")
    return seeds


def run_comparison(specs, train, val, test, config, out_dir=None, relevant_joints=None, progress=True, log=print,
                   seeds=None, resume=False, overwrite=False, data_info=None):
    """Train every model of ``specs`` with ``config`` (cell and attention_layers replaced per model).

    ``seeds``: the training seeds (initialisation, batch order, augmentation, dropout) to run
    each model with (default: ``config.seed`` alone, distinct); the data stay the same.
    ``out_dir``: a folder that already holds a comparison is refused unless ``resume``
    (models with a checkpoint continue, finished ones are only evaluated, the others train)
    or ``overwrite`` (the old comparison is moved aside). ``data_info``: see ``Trainer``.
    ``relevant_joints``: per class, the joints that matter (skeleton data), to score the
    first layer's attention. Returns (results, histories, attention) where results is a
    list of dicts (one per model; numbers are means over the seeds, ``test_accs`` the
    accuracy of each seed and ``test_acc_std`` their standard deviation), histories maps
    label -> the first seed's per-epoch history, and attention maps label -> (C, D) mean
    first-layer gate response per class on the test set (averaged over the seeds).
    """
    seeds = check_seeds([config.seed] if seeds is None else seeds)
    if out_dir is None:
        return _run_comparison(specs, train, val, test, config, out_dir, relevant_joints, progress, log, seeds,
                               resume, data_info)
    with RunLock(out_dir, log=log):               # the comparison's folder; each model's folder has its own
        prepare_folder(out_dir, resume=resume, overwrite=overwrite, log=log)
        return _run_comparison(specs, train, val, test, config, out_dir, relevant_joints, progress, log, seeds,
                               resume, data_info)


def _run_comparison(specs, train, val, test, config, out_dir, relevant_joints, progress, log, seeds, resume,
                    data_info):
    results, histories, attention = [], {}, {}
    for spec in specs:
        rows, atts = [], []
        for seed in seeds:
            cfg = replace(config, cell=spec.cell, attention_layers=spec.attention_layers, seed=seed)
            folder = None if out_dir is None else os.path.join(
                out_dir, "models", _slug(spec.label) + ("" if len(seeds) == 1 else f"_seed{seed}"))
            log(f"== {spec.label}: {cfg.cell}, {cfg.num_layers} x {cfg.hidden_size}, gate in the first "
                f"{spec.attention_layers} layer(s), seed {seed}")
            row, history, att = _train_one(spec, cfg, train, val, test, folder, relevant_joints, progress, log,
                                           resume, data_info)
            rows.append(row)
            histories.setdefault(spec.label, history)
            if att is not None:
                atts.append(att)
            log(f"   test accuracy {row['test_acc']:.3f}, loss {row['test_loss']:.4f}, {row['epochs']} epochs, "
                f"{row['seconds']:.0f} s" + ("" if row["attention_ratio"] is None
                                             else f", attention ratio {row['attention_ratio']:.2f}"))
        results.append({"model": spec.label, "cell": spec.cell, "attention_layers": spec.attention_layers,
                        "seeds": seeds, **_mean_row(rows)})
        if atts:
            attention[spec.label] = np.mean(atts, axis=0)
    return results, histories, attention


def results_table(results):
    """The results as a Markdown table (with several seeds: their means, accuracy ± its std)."""
    lines = ["| model | test acc. | test loss | final train loss | final val loss | epochs | time (s) | s/epoch "
             "| attention ratio | selectivity |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def num(v, digits=2):
        return "–" if v is None else f"{v:.{digits}f}"

    for r in results:
        acc = f"{100 * r['test_acc']:.1f} %"
        if len(r.get("test_accs", ())) > 1:
            acc = f"{100 * r['test_acc']:.1f} ± {100 * r['test_acc_std']:.1f} %"
        lines.append(f"| {r['model']} | {acc} | {r['test_loss']:.3f} | "
                     f"{r['final_train_loss']:.3f} | {num(r['final_val_loss'], 3)} | {r['epochs']} | "
                     f"{r['seconds']:.0f} | {r['seconds_per_epoch']:.1f} | {num(r['attention_ratio'])} | "
                     f"{num(r.get('attention_selectivity'))} |")
    return "\n".join(lines)


def write_report(results, histories, attention, out_dir, class_names=None, relevant_joints=None, settings=None,
                 figure_classes=None):
    """Write results.md, results.json, loss_curves.png, accuracy.png and, when there is
    attention on skeleton data, attention_skeleton.png. Returns the Markdown table."""
    os.makedirs(out_dir, exist_ok=True)
    table = results_table(results)
    device = (settings or {}).get("device", "cpu")
    write_atomic(os.path.join(out_dir, "results.json"),
                 (json.dumps({"results": results, "settings": settings or {}, "environment": environment(device),
                              "histories": histories}, indent=1) + "\n").encode())
    warnings = [f"{r['model']}: {r['warning']}" for r in results if r.get("warning")]
    notes = []
    if any(r["attention_ratio"] is not None for r in results):
        notes.append("Attention ratio: the first layer's mean gate response (x, y, z summed per joint) on the "
                     "joints each action moves, over the mean on the other joints, averaged over classes; "
                     "1.0 means no preference. Selectivity: the response on an action's joints in that action "
                     "over the response on the same joints in the other actions, averaged over classes; above "
                     "1.0 the gate opens those joints for this action rather than for every action.")
    seeds = results[0].get("seeds", [])
    several = len(seeds) > 1
    env = environment(device)
    notes.append(f"Ran on {env['cpu']} ({env['cores']} cores, device {device}), NumPy {env['numpy']} with "
                 f"{env['blas'].split(' (')[0]}, minieleatt {env['minieleatt']}"
                 + (f" at {env['commit']}" if env.get("commit") else "") + ". Single runs differ across "
                 "machines and BLAS builds (sums in another order, amplified by training): compare means over "
                 "seeds, not single runs.")
    if several:
        notes.append(f"Each model trained with the seeds {seeds} on the same data: accuracy is the mean ± the "
                     "standard deviation over the seeds, the other numbers means; the loss curves are the first "
                     "seed's.")
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("# Comparison\n\n" + table + "\n\n" + "\n\n".join(notes + warnings) + "\n")
        if settings:
            f.write("\nSettings: " + ", ".join(f"{k}={v}" for k, v in settings.items()) + "\n")
    title = "Loss per epoch: training (solid) and validation (dashed)" + (f", seed {seeds[0]}" if several else "")
    viz.save(viz.plot_loss_curves(histories, title=title), os.path.join(out_dir, "loss_curves.png"))
    labels = [r["model"] for r in results]
    viz.save(viz.plot_accuracy_bars(labels, [r["test_acc"] for r in results],
                                    title="Test accuracy" + (f" over {len(seeds)} seeds" if several else ""),
                                    baseline=results[0]["test_acc"],
                                    errors=[r["test_acc_std"] for r in results] if several else None),
             os.path.join(out_dir, "accuracy.png"))
    if attention and relevant_joints is not None and class_names is not None:
        label = max(attention, key=lambda k: next(r["attention_layers"] for r in results if r["model"] == k))
        joints = analysis.joint_attention(attention[label])
        classes = list(range(len(class_names))) if figure_classes is None else list(figure_classes)
        fig = viz.plot_skeleton_attention(joints[classes], viz.display_pose(), [class_names[c] for c in classes],
                                          [relevant_joints[c] for c in classes],
                                          title=f"{label}: first layer's attention per joint "
                                                f"(red rings: the joints the action moves)")
        viz.save(fig, os.path.join(out_dir, "attention_skeleton.png"))
    return table


def settings_of(config, **extra):
    """A flat dict of the run's settings for the report (the per-model cell and gate layers left out)."""
    d = asdict(config)
    d.pop("cell", None)
    d.pop("attention_layers", None)
    d.update(extra)
    return d
