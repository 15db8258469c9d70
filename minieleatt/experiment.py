"""The paper's experiments in miniature: train several stacks on one dataset and compare them.

- Layer replacement (the paper's central experiment): a 3-layer stack in which
  the first m = 0, 1, 2, 3 layers carry the attention gate ("m-EleAtt-GRU + n-GRU").
- Cells: each cell (RNN, LSTM, GRU) with and without the gate.

``run_comparison`` trains the models (x seeds) with the same data and settings, as the
tasks of a sweep (``minieleatt.sweep``: several at once on the local cores, or on a Dask
cluster, with the same results), and returns one result per model; ``write_report`` writes
the results table (Markdown and JSON) and the three figures (loss curves,
accuracies, attention on the skeleton).
"""

import json
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from . import analysis
from .atomic import write_atomic
from .provenance import environment
from .runs import RunLock, prepare_folder, resumable, run_files
from .sweep import Task, finished_result, raise_failures, record_result, resolve_jobs, run_sweep
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


def _train_one(spec, config, train, val, test, folder, relevant_joints, progress, log, resume, data_info,
               preprocessing=None):
    """Train one model with one seed; returns (row, history, class attention or None).

    With ``resume``, a folder with a checkpoint continues from it; a folder that a kill left
    before its first checkpoint is moved aside and the run starts again."""
    trainer = Trainer(config, train, val, out_dir=folder, progress=progress, log=log, data_info=data_info,
                      preprocessing=preprocessing)
    t0 = time.perf_counter()
    present = [] if folder is None or not os.path.isdir(folder) else run_files(folder)
    can_resume = folder is not None and os.path.isdir(folder) and bool(resumable(folder))
    fit = trainer.fit(resume=resume and can_resume, overwrite=resume and bool(present) and not can_resume)
    seconds = time.perf_counter() - t0
    test_loss, test_acc = trainer.evaluate(test)
    last = fit["history"][-1]
    row = {"test_acc": test_acc, "test_loss": test_loss, "train_acc": fit["train_acc"],
           "best_val_acc": fit["best_val_acc"], "best_epoch": fit["best_epoch"],
           "final_train_loss": last["train_loss"], "final_val_loss": last["val_loss"],
           "epochs": fit["epochs"], "seconds": seconds, "seconds_per_epoch": seconds / max(fit["epochs"], 1),
           "parameters": trainer.net.num_params, "n_test": len(test.labels), "attention_ratio": None,
           "attention_selectivity": None, "warning": fit["warning"]}
    att = trainer.class_attention(test) if spec.attention_layers >= 1 else None
    if att is not None and relevant_joints is not None:
        joints = analysis.joint_attention(att)
        row["attention_ratio"] = float(analysis.attention_ratio(joints, relevant_joints).mean())
        row["attention_selectivity"] = float(analysis.attention_selectivity(joints, relevant_joints).mean())
    return row, fit["history"], att




def _quiet(*args, **kwargs):
    pass


def _plain(value):
    """``value`` as JSON gives it back: the form in which a result is stored and compared."""
    return json.loads(json.dumps(value))


def compare_task(spec, config, folder, train, val, test, relevant_joints=None, resume=False, data_info=None,
                 progress=False, log=None, preprocessing=None):
    """One task of a comparison (one model, one seed), where it runs (here, a loky or a Dask worker):
    trains in ``folder`` (None: no run folder) and returns its result as the JSON-able dict that
    ``summary.json`` stores: model, seed, config, data, row, history, attention (a list) and its dtype."""
    log = log or _quiet
    log(f"== {spec.label}: {config.cell}, {config.num_layers} x {config.hidden_size}, gate in the first "
        f"{spec.attention_layers} layer(s), seed {config.seed}")
    row, history, att = _train_one(spec, config, train, val, test, folder, relevant_joints, progress, log, resume,
                                   data_info, preprocessing)
    return _plain({"model": spec.label, "seed": config.seed, "config": asdict(config), "data": data_info,
                   "row": row, "history": history, "attention": None if att is None else att.tolist(),
                   "attention_dtype": None if att is None else str(att.dtype)})


def _stored(task, resume, data_info):
    """A finished run's stored result, when it was made with the task's settings and data; None otherwise
    (the run is then resumed from its checkpoint, whose own checks name what differs)."""
    folder = task.kwargs["folder"]
    if not resume or folder is None:
        return None
    summary = finished_result(folder)
    if (summary is None or "row" not in summary or summary.get("config") != _plain(asdict(task.kwargs["config"]))
            or summary.get("data") != _plain(data_info)):
        return None
    return summary


def _record(task, summary):
    if task.kwargs["folder"] is not None:
        record_result(task.kwargs["folder"], summary)


def _said(summary):
    row = summary["row"]
    return (f"test accuracy {row['test_acc']:.3f}, loss {row['test_loss']:.4f}, {row['epochs']} epochs"
            + ("" if row["attention_ratio"] is None else f", attention ratio {row['attention_ratio']:.2f}"))


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
    out["n_test"] = rows[0]["n_test"]
    out["first_seed_best_epoch"] = rows[0]["best_epoch"]          # the epoch marked on the first seed's curves
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
                   seeds=None, resume=False, overwrite=False, data_info=None, preprocessing=None, jobs=1, scheduler=None, blas_threads=1):
    """Train every model of ``specs`` with ``config`` (cell and attention_layers replaced per model).

    ``seeds``: the training seeds (initialisation, batch order, augmentation, dropout) to run
    each model with (default: ``config.seed`` alone, distinct); the data stay the same.
    ``out_dir``: a folder that already holds a comparison is refused unless ``resume``
    (finished models are kept as they are, models with a checkpoint continue, the others train)
    or ``overwrite`` (the old comparison is moved aside). ``data_info``, ``preprocessing``: see ``Trainer``.
    ``relevant_joints``: per class, the joints that matter (skeleton data), to score the
    first layer's attention.

    The models x seeds are the tasks of a sweep (``minieleatt.sweep``): ``jobs`` trainings at once
    on this machine (1: one after another, here; None: one per physical core; -1: every core) or
    on the Dask cluster at ``scheduler``, each with ``blas_threads`` BLAS threads; the results are
    the same whatever ``jobs``. Each finished run is recorded in its folder (``summary.json``) as
    its result arrives; a task that fails is reported with its settings while the others finish,
    then ``SweepError`` is raised (the finished runs stay recorded; ``resume`` runs the rest).

    Returns (results, histories, attention) where results is a list of dicts (one per model;
    numbers are means over the seeds, ``test_accs`` the accuracy of each seed and
    ``test_acc_std`` their standard deviation), histories maps label -> the first seed's
    per-epoch history, and attention maps label -> (C, D) mean first-layer gate response per
    class on the test set (averaged over the seeds).
    """
    seeds = check_seeds([config.seed] if seeds is None else seeds)
    run = dict(specs=specs, train=train, val=val, test=test, config=config, out_dir=out_dir,
               relevant_joints=relevant_joints, progress=progress, log=log, seeds=seeds, resume=resume,
               data_info=data_info, preprocessing=preprocessing, jobs=jobs, scheduler=scheduler,
               blas_threads=blas_threads)
    if out_dir is None:
        return _run_comparison(**run)
    with RunLock(out_dir, log=log):               # the comparison's folder; each model's folder has its own
        prepare_folder(out_dir, resume=resume, overwrite=overwrite, log=log)
        return _run_comparison(**run)


def _run_comparison(specs, train, val, test, config, out_dir, relevant_joints, progress, log, seeds, resume,
                    data_info, preprocessing, jobs, scheduler, blas_threads):
    """``run_comparison`` once its folder is locked and prepared."""
    tasks = []
    for spec in specs:
        for seed in seeds:
            cfg = replace(config, cell=spec.cell, attention_layers=spec.attention_layers, seed=seed)
            folder = None if out_dir is None else os.path.abspath(os.path.join(
                out_dir, "models", _slug(spec.label) + ("" if len(seeds) == 1 else f"_seed{seed}")))
            tasks.append(Task(f"{spec.label}, seed {seed}",
                              {"model": spec.label, "cell": spec.cell, "attention_layers": spec.attention_layers,
                               "seed": seed, "folder": folder},
                              {"spec": spec, "config": cfg, "folder": folder}))
    here = scheduler is None and resolve_jobs(jobs, len(tasks)) == 1       # one after another, in this process
    shared = {"train": train, "val": val, "test": test, "relevant_joints": relevant_joints, "resume": resume,
              "data_info": data_info, "preprocessing": preprocessing, "progress": progress and here,
              "log": log if here else None}
    outcomes = run_sweep(compare_task, tasks, jobs=jobs, scheduler=scheduler, blas_threads=blas_threads,
                         shared=shared, load_done=lambda task: _stored(task, resume, data_info),
                         save_done=_record,
                         describe=_said, progress=progress, log=log)
    raise_failures(outcomes, rerun="--resume runs them again" if out_dir is not None else "run them again")
    results, histories, attention = [], {}, {}
    for spec in specs:
        mine = [o.value for o in outcomes if o.task.kwargs["spec"] == spec]
        rows = [m["row"] for m in mine]
        histories[spec.label] = mine[0]["history"]
        atts = [np.asarray(m["attention"], dtype=m["attention_dtype"]) for m in mine if m["attention"] is not None]
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
    from . import viz               # here, not at the top: a sweep's workers import this module and draw nothing

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
    title = "Loss per epoch" + (f" (seed {seeds[0]})" if several else "")
    best = {r["model"]: r["first_seed_best_epoch"] for r in results if r.get("first_seed_best_epoch") is not None}
    viz.save(viz.plot_loss_curves(histories, title=title, best_epochs=best), os.path.join(out_dir, "loss_curves.png"))
    labels = [r["model"] for r in results]
    n_test = [r["n_test"] for r in results] if all(r.get("n_test") for r in results) else None
    viz.save(viz.plot_accuracy_bars(labels, [r["test_acc"] for r in results],
                                    title="Test accuracy" + (f", mean over {len(seeds)} seeds" if several else "")
                                    + (f" on {n_test[0]} test sequences" if n_test else ""),
                                    baseline=results[0]["test_acc"], n_test=n_test,
                                    errors=[r["test_acc_std"] for r in results] if several else None,
                                    seed_accuracies=[r["test_accs"] for r in results] if several else None),
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
