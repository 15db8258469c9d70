"""What a trained run's gate attends to on some data: the numbers, a table and the figures.

``write_attention_report(model, cases, labels, out_dir)`` writes, for a ``RunModel`` and raw cases:

- ``attention_by_class.csv``: the first layer's mean gate response per class (rows) and input
  element (columns), averaged over each case's steps, then over the cases of the class;
- ``attention_case_K.png``: one case over time, the gate's response beside the input the network saw;
- ``attention_classes.png``: the same for each class's mean (cases aligned at their first step);
- ``attention_channels.png``: which input elements the gate favours in each class;
- ``attention_skeleton.png`` for skeleton runs: the response per joint drawn on the skeleton.

Without labels, the per-class parts are left out and the table has one row, all the cases.
"""

import csv
import io
import os

import numpy as np

from .. import analysis, viz
from ..data.joints import JOINT_NAMES
from ..atomic import write_atomic


def input_names(model):
    """A short name for every input element: ``SpineBase.x`` ... for skeletons, ``channel 1`` ... otherwise."""
    D = model.n_channels_
    if model.skeleton and D == 3 * len(JOINT_NAMES):
        return [f"{joint}.{axis}" for joint in JOINT_NAMES for axis in "xyz"]
    return [f"channel {d + 1}" for d in range(D)]


def write_attention_report(model, cases, labels, out_dir, case=0, title=None):
    """Write the table and the figures of the module docstring to ``out_dir``; returns their paths.

    ``cases``: raw cases (any form ``model.prepare`` takes); ``labels``: class indices of ``model.classes_``
    (``(N,)`` ints) or None. ``case``: the case drawn alone. ``title``: what to call the run in the titles.
    """
    if model.net.attention_layers < 1:
        raise ValueError("the run's first layer has no attention gate (attention_layers = 0): nothing to show")
    os.makedirs(out_dir, exist_ok=True)
    inputs = model.prepare(cases)
    att = model.attention(cases)
    names = input_names(model)
    per_case = analysis.case_mean(att)                                 # (N, D): each case's mean over its steps
    title = title or "the run"
    written = []

    if labels is None:
        rows, row_names = per_case.mean(axis=0, keepdims=True), ["all cases"]
    else:
        labels = np.asarray(labels)
        rows = analysis.class_attention(per_case, labels, len(model.classes_))
        row_names = [str(c) for c in model.classes_]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "cases"] + names)
    counts = [len(per_case)] if labels is None else [int((labels == c).sum()) for c in range(len(model.classes_))]
    for name, n, row in zip(row_names, counts, rows):
        writer.writerow([name, n] + ["" if np.isnan(v) else f"{v:.6g}" for v in row])
    path = os.path.join(out_dir, "attention_by_class.csv")
    write_atomic(path, buffer.getvalue().encode())
    written.append(path)

    shown = "" if labels is None else f" (class {model.classes_[labels[case]]})"
    window = f", windows of {model.window_} steps" if model.window_ > 1 else ""
    fig = viz.plot_attention_over_time(inputs[case], att[case], channel_names=names,
                                       title=f"{title}: case {case}{shown}, the gate's response beside the input "
                                             f"(normalised{window})")
    written.append(_save(fig, out_dir, f"attention_case_{case}.png"))

    if labels is not None:
        present = [c for c in range(len(model.classes_)) if (labels == c).any()]
        C = len(model.classes_)
        mean_x = analysis.class_mean_over_time(inputs, labels, C)[present]
        mean_a = analysis.class_mean_over_time(att, labels, C)[present]
        class_names = [str(model.classes_[c]) for c in present]
        fig = viz.plot_class_attention_over_time(mean_x, mean_a, class_names, channel_names=names,
                                                 title=f"{title}: each class's mean over its cases")
        written.append(_save(fig, out_dir, "attention_classes.png"))
        fig = viz.plot_channel_attention(rows[present], class_names, channel_names=names,
                                         title=f"{title}: mean gate response per class and input element",
                                         relative=len(present) > 1)
        written.append(_save(fig, out_dir, "attention_channels.png"))
        if model.skeleton and len(names) == 3 * len(JOINT_NAMES):
            joints = analysis.joint_attention(rows[present])
            fig = viz.plot_skeleton_attention(joints, viz.display_pose(), class_names,
                                              title=f"{title}: the first layer's attention per joint")
            written.append(_save(fig, out_dir, "attention_skeleton.png"))
    return written


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    viz.save(fig, path)
    return path
