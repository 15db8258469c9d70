"""Figures (matplotlib): loss curves, accuracy bars, attention drawn on the skeleton.

Functions take arrays and numbers and return a ``matplotlib.figure.Figure``; the
numbers about the attention (ratios, per-joint sums) come from ``minieleatt.analysis``;
they know the skeleton's bones but nothing of the models or the training loop.
Figures are made without pyplot's global state, so a script can make many
without leaking memory; ``save(fig, path)`` writes a PNG.
"""

import os

import numpy as np
from matplotlib.figure import Figure

from .analysis import attention_ratio
from .data.joints import BONES, JOINT_INDEX, NUM_JOINTS, REST_POSE

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def save(fig, path, dpi=120):
    """Write ``fig`` to ``path`` (the folder is created); returns the path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def plot_loss_curves(histories, title="Loss per epoch: training (solid) and validation (dashed)"):
    """One colour per model: training loss solid, validation loss dashed (the paper's convergence figure).

    histories: dict label -> list of per-epoch dicts with 'epoch', 'train_loss', 'val_loss' (None
    without a validation set: then only the training loss is drawn).
    """
    if not histories:
        raise ValueError("plot_loss_curves: no histories to plot")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for i, (label, hist) in enumerate(histories.items()):
        color = COLORS[i % len(COLORS)]
        epochs = [row["epoch"] for row in hist]
        ax.plot(epochs, [row["train_loss"] for row in hist], color=color, lw=2, label=f"{label} train")
        if any(row.get("val_loss") is not None for row in hist):         # no validation set: no dashed line
            ax.plot(epochs, [row["val_loss"] for row in hist], color=color, lw=2, ls="--", label=f"{label} val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    return fig


def plot_accuracy_bars(labels, accuracies, title="Test accuracy", baseline=None, errors=None):
    """A bar per model with its accuracy (in %) written on top (the paper's layer-replacement figure).

    baseline: an accuracy to draw as a dotted line (e.g. the plain model's);
    errors: one spread per model (e.g. the standard deviation over seeds), drawn as error bars.
    """
    if len(labels) != len(accuracies) or not labels:
        raise ValueError("plot_accuracy_bars: need one accuracy per label, at least one")
    acc = 100 * np.asarray(accuracies, dtype=float)
    fig = Figure(figsize=(1.6 + 1.3 * len(labels), 4.2))
    ax = fig.add_subplot()
    err = None if errors is None else 100 * np.asarray(errors, dtype=float)
    bars = ax.bar(range(len(labels)), acc, yerr=err, capsize=6,
                  color=[COLORS[i % len(COLORS)] for i in range(len(labels))])
    for i, (bar, a) in enumerate(zip(bars, acc)):
        top = a + (0 if err is None else err[i])
        text = f"{a:.1f}" if err is None else f"{a:.1f} ± {err[i]:.1f}"
        ax.text(bar.get_x() + bar.get_width() / 2, top + 0.5, text, ha="center", va="bottom", fontsize=10)
    if baseline is not None:
        ax.axhline(100 * baseline, color="k", ls=":", lw=1)
    ax.set_xticks(range(len(labels)), labels, rotation=15, ha="right")
    spread = 0 if err is None else err.max()
    low = max(0.0, acc.min() - spread - 15)
    ax.set_ylim(low, min(100.0, acc.max() + spread + 6))
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig




def display_pose(pose=REST_POSE, abduction=0.6):
    """A pose to draw the skeleton from the front: ``pose`` (25, 3) with the arms lifted
    sideways by ``abduction`` rad about the shoulders, so that the hands stand clear of the hips."""
    pose = np.array(pose, dtype=float)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        shoulder = pose[JOINT_INDEX[f"Shoulder{side}"]]
        c, s = np.cos(sign * abduction), np.sin(sign * abduction)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])       # about z: in the frontal plane
        for name in ("Elbow", "Wrist", "Hand", "HandTip", "Thumb"):
            j = JOINT_INDEX[f"{name}{side}"]
            pose[j] = shoulder + rot @ (pose[j] - shoulder)
    return pose



def plot_skeleton_attention(joint_weights, pose, class_names, relevant=None, title=None, ncols=None):
    """The attention drawn on the skeleton, one panel per class (the paper's visualisation).

    joint_weights: (K, 25) per-joint responses (e.g. the first layer's gate, x, y, z summed);
    pose: (25, 2 or 3) joint positions to draw (x, y used); class_names: K names;
    relevant: optional K collections of joints that matter, drawn with a red ring.
    Circles are sized by the response (one scale for all panels) and coloured by it.
    """
    w = np.asarray(joint_weights, dtype=float)
    pose = np.asarray(pose, dtype=float)
    if w.ndim != 2 or w.shape[1] != NUM_JOINTS:
        raise ValueError(f"joint_weights must have shape (K, {NUM_JOINTS}), got {w.shape}")
    if pose.shape[0] != NUM_JOINTS or pose.shape[1] < 2:
        raise ValueError(f"pose must have shape ({NUM_JOINTS}, 2 or 3), got {pose.shape}")
    K = w.shape[0]
    ncols = ncols or min(K, 5)
    nrows = -(-K // ncols)
    fig = Figure(figsize=(2.6 * ncols, 3.3 * nrows + 0.4))
    lo, hi = w.min(), w.max()
    norm = (w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5)
    ratios = attention_ratio(w, relevant) if relevant is not None else None
    for k in range(K):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        for a, b in BONES:
            ax.plot(pose[[a, b], 0], pose[[a, b], 1], color="0.55", lw=1.5, zorder=1)
        sc = ax.scatter(pose[:, 0], pose[:, 1], s=8 + 220 * norm[k], c=w[k], cmap="viridis", vmin=lo, vmax=hi,
                        edgecolors="k", linewidths=0.5, zorder=2)
        if relevant is not None:
            rel = list(relevant[k])
            ax.scatter(pose[rel, 0], pose[rel, 1], s=30 + 220 * norm[k, rel], facecolors="none",
                       edgecolors="red", linewidths=1.5, zorder=3)
        pad = 0.08 * np.ptp(pose[:, :2], axis=0).max()
        ax.set_xlim(pose[:, 0].min() - pad, pose[:, 0].max() + pad)
        ax.set_ylim(pose[:, 1].min() - pad, pose[:, 1].max() + pad)
        name = class_names[k]
        ax.set_title(name if ratios is None else f"{name}\nratio {ratios[k]:.2f}", fontsize=9)
        ax.set_aspect("equal")            # +x is the person's left: facing us, it is on our right
        ax.axis("off")
    fig.colorbar(sc, ax=fig.axes, shrink=0.6, label="gate response (x+y+z)")
    fig.suptitle(title or "First layer's attention per joint (red rings: the joints the action moves)")
    return fig
