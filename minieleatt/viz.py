"""Figures (matplotlib): loss curves, accuracy bars, attention over time and per channel, attention on the skeleton.

Functions take arrays and numbers and return a ``matplotlib.figure.Figure``; the
numbers about the attention (ratios, per-joint sums) come from ``minieleatt.analysis``;
they know the skeleton's bones but nothing of the models or the training loop.
Figures are made without pyplot's global state, so a script can make many
without leaking memory; ``save(fig, path)`` writes a PNG.
"""

import os
import textwrap

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .analysis import attention_ratio, relative_to_classes, wilson_interval
from .data.joints import BONES, JOINT_INDEX, NUM_JOINTS, REST_POSE

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def save(fig, path, dpi=120):
    """Write ``fig`` to ``path`` (the folder is created); returns the path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _best_epoch(history):
    """The epoch with the lowest watched loss (the validation loss, else the training loss) in ``history``."""
    key = "watched" if all(row.get("watched") is not None for row in history) else (
        "val_loss" if all(row.get("val_loss") is not None for row in history) else "train_loss")
    return min(history, key=lambda row: row[key])["epoch"]


def _lr_cuts(history):
    """The epochs trained with a lower learning rate than the epoch before (the schedule cut it in between)."""
    return [row["epoch"] for prev, row in zip(history, history[1:])
            if row.get("lr") is not None and prev.get("lr") is not None and row["lr"] < prev["lr"]]


def plot_loss_curves(histories, title="Loss per epoch", best_epochs=None, ncols=None):
    """Small multiples: one panel per model on shared axes, training loss solid, validation loss dashed.

    histories: dict label -> list of per-epoch dicts (a run's history) with the keys 'epoch',
      'train_loss' and, optionally, 'val_loss' (None without a validation set: then no dashed
      line is drawn, and the legend does not mention one), 'watched' and 'lr'.
    title: the figure's title (say nothing there about lines: the legend does).
    best_epochs: optional dict label -> the epoch whose parameters the run kept (a run's
      ``best_epoch``), marked with a star; a label missing from it gets the epoch of the lowest
      watched loss (the 'watched' key, else the validation loss, else the training loss).
    ncols: panels per row (default: up to 3, 2 for four models).

    Learning-rate cuts (an epoch whose 'lr' is below the epoch before's) are dotted vertical
    lines. The other models' curves are drawn in light grey behind each panel, for comparison.
    The legend (below the title) lists only what is drawn.
    """
    if not histories:
        raise ValueError("plot_loss_curves: no histories to plot")
    empty = [label for label, hist in histories.items() if not hist]
    if empty:
        raise ValueError(f"plot_loss_curves: the history of {empty[0]!r} has no epochs")
    best_epochs = best_epochs or {}
    n = len(histories)
    ncols = ncols or (2 if n == 4 else min(n, 3))
    nrows = -(-n // ncols)
    fig = Figure(figsize=(6.5, 4.4) if n == 1 else (0.6 + 3.6 * ncols, 0.9 + 2.7 * nrows))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    has_val = {label: any(row.get("val_loss") is not None for row in hist) for label, hist in histories.items()}
    drawn = set()

    def curve(hist, key):
        return ([row["epoch"] for row in hist if row.get(key) is not None],
                [row[key] for row in hist if row.get(key) is not None])

    for i, (label, hist) in enumerate(histories.items()):
        ax, color = axes[i], COLORS[i % len(COLORS)]
        for other, ohist in histories.items():          # the others, faint, for comparison
            if other != label and n > 1:
                ax.plot(*curve(ohist, "val_loss" if has_val[other] else "train_loss"), color="0.85", lw=1, zorder=1)
                drawn.add("others")
        ax.plot(*curve(hist, "train_loss"), color=color, lw=2, zorder=3)
        drawn.add("train")
        if has_val[label]:
            ax.plot(*curve(hist, "val_loss"), color=color, lw=2, ls="--", zorder=3)
            drawn.add("val")
        for e in _lr_cuts(hist):
            ax.axvline(e - 0.5, color="0.3", ls=":", lw=1.2, zorder=2)
            drawn.add("lr")
        best = best_epochs.get(label)
        best = _best_epoch(hist) if best is None else int(round(best))
        row = next((r for r in hist if r["epoch"] == best), None)
        if row is not None:
            y = row["val_loss"] if has_val[label] and row.get("val_loss") is not None else row["train_loss"]
            ax.plot([best], [y], marker="*", ms=13, color=color, markeredgecolor="k", zorder=4, ls="none")
            drawn.add("best")
        ax.set_title(f"{label}" + ("" if row is None else f"  (best epoch {best})"), fontsize=10)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))          # epochs are whole numbers
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[:n]:
        if ax.get_subplotspec().is_last_row() or not axes[min(n - 1, list(axes).index(ax) + ncols)].get_visible():
            ax.set_xlabel("epoch")
            ax.tick_params(labelbottom=True)
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("cross-entropy loss")
    from matplotlib.lines import Line2D
    proxies = {"train": Line2D([], [], color="k", lw=2, label="training loss"),
               "val": Line2D([], [], color="k", lw=2, ls="--", label="validation loss"),
               "best": Line2D([], [], color="w", marker="*", ms=12, markeredgecolor="k", label="kept (best) epoch"),
               "lr": Line2D([], [], color="0.3", ls=":", lw=1.2, label="learning rate cut"),
               "others": Line2D([], [], color="0.8", lw=1.5, label="the other models")}
    handles = [proxies[k] for k in ("train", "val", "best", "lr", "others") if k in drawn]
    h = fig.get_figheight()
    fig.text(0.5, 1 - 0.1 / h, title, ha="center", va="top", fontsize=12)      # (not a suptitle: laid out by hand)
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 3 if ncols == 1 else 5), fontsize=9,
               frameon=False, bbox_to_anchor=(0.5, 1 - 0.38 / h), columnspacing=1.2, handlelength=2.2)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.75 if ncols > 1 or len(handles) <= 3 else 1.0) / h))
    return fig


def plot_accuracy_bars(labels, accuracies, title="Test accuracy", baseline=None, errors=None, n_test=None,
                       seed_accuracies=None, from_zero=True):
    """A bar per model with its accuracy (in %) written on it and its 95 % interval (the paper's
    layer-replacement figure).

    labels: M model names.
    accuracies: M accuracies in [0, 1] (with seeds: their means).
    title: the figure's title.
    baseline: an accuracy to draw as a dotted line (e.g. the plain model's).
    errors: optional M spreads over seeds (e.g. their standard deviation), drawn as a grey bar
      beside the interval and written as "± s".
    n_test: the number of test sequences (an int, or M ints): each bar gets the Wilson 95 %
      interval of a proportion measured on that many cases (black error bar, written as
      "[low, high]"); None: no interval, and the title says so.
    seed_accuracies: optional M lists of the single seeds' accuracies, drawn as dots.
    from_zero: True (default): the axis starts at 0 %; False starts it just below the lowest
      interval, and the axis label and a break mark on the axis say so.
    """
    if len(labels) != len(accuracies) or not labels:
        raise ValueError("plot_accuracy_bars: need one accuracy per label, at least one")
    M = len(labels)
    acc = 100 * np.asarray(accuracies, dtype=float)
    err = None if errors is None else 100 * np.asarray(errors, dtype=float)
    if err is not None and err.shape != (M,):
        raise ValueError(f"plot_accuracy_bars: errors must give one spread per label ({M}), got {err.shape}")
    if n_test is not None:
        low, high = wilson_interval(np.asarray(accuracies, dtype=float), n_test)
        low, high = 100 * np.broadcast_to(low, (M,)), 100 * np.broadcast_to(high, (M,))
    fig = Figure(figsize=(1.6 + 1.5 * M, 4.4))
    ax = fig.add_subplot()
    x = np.arange(M)
    bars = ax.bar(x, acc, width=0.7, color=[COLORS[i % len(COLORS)] for i in range(M)], zorder=2)
    handles = []
    if n_test is not None:
        h = ax.errorbar(x, acc, yerr=[acc - low, high - acc], fmt="none", ecolor="k", elinewidth=1.5, capsize=7,
                        zorder=4, label="95 % interval (Wilson, test set size)")
        handles.append(h)
    if err is not None:
        h = ax.errorbar(x + 0.2, acc, yerr=err, fmt="none", ecolor="0.45", elinewidth=4, capsize=0, zorder=3,
                        label="± spread over seeds")
        handles.append(h)
    if seed_accuracies is not None:
        if len(seed_accuracies) != M:
            raise ValueError(f"plot_accuracy_bars: seed_accuracies must give one list per label ({M})")
        for i, seeds in enumerate(seed_accuracies):
            s = 100 * np.asarray(seeds, dtype=float)
            h = ax.scatter(np.full(s.shape, x[i] - 0.2), s, s=18, color="w", edgecolors="k", zorder=5,
                           label="single seeds")
        handles.append(h)
    if baseline is not None:
        ax.axhline(100 * baseline, color="k", ls=":", lw=1, zorder=1)
    ax.set_xticks(x, [textwrap.fill(str(label), 14) for label in labels])
    top_values = acc if n_test is None else high
    if err is not None:
        top_values = np.maximum(top_values, acc + err)
    if from_zero:
        ax.set_ylim(0, 102)
        ax.set_yticks(range(0, 101, 20))
        ax.set_ylabel("accuracy (%)")
    else:
        bottom_values = acc if n_test is None else low
        if err is not None:
            bottom_values = np.minimum(bottom_values, acc - err)
        lo = max(0.0, 5 * np.floor((bottom_values.min() - 8) / 5))
        ax.set_ylim(lo, min(100.0, top_values.max() + 2))
        ax.set_ylabel(f"accuracy (%): the axis starts at {lo:.0f} %, not 0")
        for y in (0.03, 0.05):                                # the break mark: //
            ax.plot([-0.015, 0.015], [y, y + 0.02], transform=ax.transAxes, color="k", lw=1, clip_on=False)
    y0, y1 = ax.get_ylim()
    for i, (bar, a) in enumerate(zip(bars, acc)):        # the numbers: inside the bar, at its foot
        text = f"{a:.1f} %" + ("" if err is None else f"\n± {err[i]:.1f}")
        if n_test is not None:
            text += f"\n[{low[i]:.1f}, {high[i]:.1f}]"
        xc = bar.get_x() + bar.get_width() / 2
        if (a - y0) / (y1 - y0) > 0.3:
            ax.annotate(text, (xc, 0), xytext=(0, 6), textcoords="offset points", xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=9, color="w", fontweight="bold", zorder=6)
        else:                                             # too short to hold them: above the interval
            ax.annotate(text, (xc, top_values[i]), xytext=(0, 4), textcoords="offset points", ha="center",
                        va="bottom", fontsize=9, zorder=6)
    ax.set_title(title + ("" if n_test is not None else "  (no interval: the test set size was not given)"),
                 fontsize=11)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    if handles:
        fig.legend(handles=handles, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 0.0),
                   ncol=len(handles) if M > 2 else 1, frameon=False)
    fig.tight_layout(rect=(0, (0.3 if M > 2 else 0.1 + 0.2 * len(handles)) / fig.get_figheight() if handles else 0,
                           1, 1))
    return fig


def display_pose(pose=None, abduction=0.6):
    """A pose to draw the skeleton from the front: ``pose`` (25, 3; default the rest pose) with the arms lifted
    sideways by ``abduction`` rad about the shoulders, so that the hands stand clear of the hips,
    and the hands and feet opened out in the picture's plane so that none of their joints hides
    another: the hand, hand tip and thumb spread from the wrist, the feet turned outwards (a foot
    points at the camera, so seen from the front it would sit on its ankle). Only the
    drawing's pose: bones down to the wrists and ankles keep their lengths."""
    pose = np.array(REST_POSE if pose is None else pose, dtype=float)
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        shoulder = pose[JOINT_INDEX[f"Shoulder{side}"]]
        c, s = np.cos(sign * abduction), np.sin(sign * abduction)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])       # about z: in the frontal plane
        for name in ("Elbow", "Wrist", "Hand", "HandTip", "Thumb"):
            j = JOINT_INDEX[f"{name}{side}"]
            pose[j] = shoulder + rot @ (pose[j] - shoulder)
        wrist = pose[JOINT_INDEX[f"Wrist{side}"]]
        down = wrist - pose[JOINT_INDEX[f"Elbow{side}"]]
        down /= np.linalg.norm(down)                                         # along the forearm
        across = np.array([down[1], -down[0], 0.0]) * sign                   # toward the body, in the plane
        hand = wrist + 0.10 * down
        pose[JOINT_INDEX[f"Hand{side}"]] = hand
        pose[JOINT_INDEX[f"HandTip{side}"]] = hand + 0.10 * down
        pose[JOINT_INDEX[f"Thumb{side}"]] = hand + 0.08 * (0.5 * down - across) / np.linalg.norm(0.5 * down - across)
        ankle = pose[JOINT_INDEX[f"Ankle{side}"]]
        pose[JOINT_INDEX[f"Foot{side}"]] = ankle + np.array([sign * 0.10, -0.05, 0.0])
    return pose


def _ratio_norm(ratios, least):
    """A colour scale for ratios centred on 1 and even in log: r and 1/r equally strong (white at 1)."""
    from matplotlib.colors import TwoSlopeNorm
    r = np.asarray(ratios, dtype=float)
    r = r[np.isfinite(r) & (r > 0)]
    m = max(np.abs(np.log(r)).max() if r.size else 0.0, np.log1p(least))
    return TwoSlopeNorm(1.0, np.exp(-m), np.exp(m))


def plot_skeleton_attention(joint_weights, pose, class_names, relevant=None, title=None, ncols=None,
                            contrast="relative", reference=None):
    """The attention drawn on the skeleton, one panel per class (the paper's visualisation).

    joint_weights: (K, 25) per-joint responses (e.g. the first layer's gate, x, y, z summed:
      ``analysis.joint_attention``).
    pose: (25, 2 or 3) joint positions to draw (x, y used; see ``display_pose``).
    class_names: K names.
    relevant: optional K collections of joint indices that matter, drawn with a red ring.
    title: the first line of the title (the second says which contrast is drawn).
    ncols: panels per row (default up to 5).
    contrast: "relative" (default): the colour is each joint's response in this class over its
      mean over the classes (``analysis.relative_to_classes``): red above 1 (this class opens
      the joint more than the average class), blue below, white at 1; a joint bright in every
      class (the spine) comes out white, so what is particular to an action shows.
      "absolute": the colour is the response itself (viridis).
    reference: optional (25,) values to divide by under "relative" instead of the mean of the K
      rows given (e.g. the mean over all classes when only some are drawn).

    Circle sizes always give the response itself, on one scale for all panels, never smaller
    than a visible dot; the size legend and the colour bar give both scales.
    """
    w = np.asarray(joint_weights, dtype=float)
    pose = np.asarray(pose, dtype=float)
    if w.ndim != 2 or w.shape[1] != NUM_JOINTS:
        raise ValueError(f"joint_weights must have shape (K, {NUM_JOINTS}), got {w.shape}")
    if pose.ndim != 2 or pose.shape[0] != NUM_JOINTS or pose.shape[1] < 2:
        raise ValueError(f"pose must have shape ({NUM_JOINTS}, 2 or 3), got {pose.shape}")
    if len(class_names) != w.shape[0]:
        raise ValueError(f"class_names: {len(class_names)} names for {w.shape[0]} rows of joint_weights")
    if relevant is not None and len(relevant) != w.shape[0]:
        raise ValueError(f"relevant: {len(relevant)} collections for {w.shape[0]} rows of joint_weights")
    if contrast not in ("relative", "absolute"):
        raise ValueError(f"contrast must be 'relative' or 'absolute', got {contrast!r}")
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    K = w.shape[0]
    ncols = ncols or min(K, 5)
    nrows = -(-K // ncols)
    fig = Figure(figsize=(2.7 * ncols + 1.4, 3.3 * nrows + 1.0))
    lo, hi = w.min(), w.max()
    small, big = 45.0, 260.0                                  # marker areas (pt^2): smallest and largest response
    size = small + (big - small) * ((w - lo) / (hi - lo) if hi > lo else np.full_like(w, 0.5))
    if contrast == "relative":
        colour = relative_to_classes(w, reference) if K > 1 or reference is not None else np.ones_like(w)
        norm, cmap, clabel = _ratio_norm(colour, 0.05), "RdBu_r", "response ÷ its mean\nover the classes"
    else:
        colour, norm, cmap, clabel = w, Normalize(lo, hi), "viridis", "gate response (x+y+z)"
    ratios = attention_ratio(w, relevant) if relevant is not None else None
    order = np.argsort(-size, axis=1)                         # big first: a small joint is never hidden
    for k in range(K):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        for a, b in BONES:
            ax.plot(pose[[a, b], 0], pose[[a, b], 1], color="0.6", lw=1.5, zorder=1)
        o = order[k]
        sc = ax.scatter(pose[o, 0], pose[o, 1], s=size[k, o], c=colour[k, o], cmap=cmap, norm=norm,
                        edgecolors="k", linewidths=0.6, zorder=2)
        if relevant is not None:
            rel = list(relevant[k])
            ax.scatter(pose[rel, 0], pose[rel, 1], s=size[k, rel] * 1.9 + 30, facecolors="none",
                       edgecolors="red", linewidths=1.6, zorder=3)
        pad = 0.08 * np.ptp(pose[:, :2], axis=0).max()
        ax.set_xlim(pose[:, 0].min() - pad, pose[:, 0].max() + pad)
        ax.set_ylim(pose[:, 1].min() - pad, pose[:, 1].max() + pad)
        name = class_names[k]
        ax.set_title(name if ratios is None else f"{name}\nratio {ratios[k]:.2f}", fontsize=9)
        ax.set_aspect("equal")            # +x is the person's left: facing us, it is on our right
        ax.axis("off")
    fig.subplots_adjust(left=0.02, right=0.86, top=1 - 0.9 / fig.get_figheight(), bottom=0.02,
                        wspace=0.05, hspace=0.25)
    cax = fig.add_axes((0.89, 0.42, 0.018, 0.4))
    fig.colorbar(sc, cax=cax, label=clabel)
    values = np.linspace(lo, hi, 3)
    sizes = small + (big - small) * ((values - lo) / (hi - lo) if hi > lo else np.full(3, 0.5))
    handles = [Line2D([], [], ls="none", marker="o", markersize=np.sqrt(sz), markerfacecolor="0.85",
                      markeredgecolor="k", label=f"{v:.2f}") for v, sz in zip(values, sizes)]
    if relevant is not None:
        handles.append(Line2D([], [], ls="none", marker="o", markersize=13, markerfacecolor="none",
                              markeredgecolor="red", markeredgewidth=1.6, label="moved by\nthe action"))
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.865, 0.38), fontsize=8, frameon=False,
               title="size: response\n(x+y+z)", title_fontsize=8, labelspacing=1.1)
    what = ("colour: each class over the mean of the classes" if contrast == "relative"
            else "colour and size: the response")
    fig.suptitle((title or "First layer's attention per joint") + f"\n{what}", fontsize=11)
    return fig


def _ticks(ax, names, axis="y", most=24):
    """Label an image's rows (or columns) with ``names``, at most ``most`` of them (every k-th)."""
    step = max(1, -(-len(names) // most))
    idx = list(range(0, len(names), step))
    if axis == "y":
        ax.set_yticks(idx, [str(names[i]) for i in idx], fontsize=7 if len(names) > 12 else 8)
    else:
        wide = len(idx) > 12 or max(len(str(n)) for n in names) > 8
        ax.set_xticks(idx, [str(names[i]) for i in idx], fontsize=7 if len(names) > 12 else 8,
                      rotation=90 if wide else 0)


def _image(ax, a, cmap, vmin, vmax):
    """Draw ``a`` (rows, T) with time along x; NaN (no data) blank."""
    import matplotlib
    cm = matplotlib.colormaps[cmap].with_extremes(bad="white")
    return ax.imshow(np.ma.masked_invalid(a), aspect="auto", interpolation="nearest", cmap=cm, vmin=vmin,
                     vmax=vmax, origin="upper", extent=(-0.5, a.shape[1] - 0.5, a.shape[0] - 0.5, -0.5))


def _input_scale(x):
    """A diverging scale centred on 0 when the input has both signs (normalised data), else its range."""
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return "RdBu_r", -1.0, 1.0
    lo, hi = finite.min(), finite.max()
    if lo < 0 < hi:
        m = np.percentile(np.abs(finite), 99) or max(-lo, hi)
        return "RdBu_r", -m, m
    return "cividis", lo, hi


def _response_scale(att):
    """(vmin, vmax) of the gate's responses for a colour scale: their range, NaN left out ((0, 1) if none)."""
    finite = att[np.isfinite(att)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _channel_names(channel_names, D):
    if channel_names is None:
        return [f"element {d}" for d in range(D)] if D > 1 else ["input"]
    if len(channel_names) != D:
        raise ValueError(f"channel_names: {len(channel_names)} names for {D} input elements")
    return list(channel_names)


def plot_attention_over_time(x, attention, channel_names=None, title=None):
    """One case: the input and the gate's response to it, step by step, on a shared time axis.

    x: (T, D) the case's input (as the network saw it: after normalisation and windows).
    attention: (T, D) the gate's response at each step to each input element (e.g. the first
      gated layer's, from a model's ``attention(X)``).
    channel_names: optional D names (default "element d"; for skeletons e.g. "HandLeft.x").
    title: the figure's title.

    T may be long (the image is drawn one column per step) and D any size: D = 1 draws two line
    plots (input above, response below); D > 1 two heatmaps, input elements down, time across,
    each with a labelled colour bar (the input on a blue-white-red scale centred on 0 when it
    has both signs), at most 24 row labels. NaN steps (padding) are drawn blank.
    """
    x = np.asarray(x, dtype=float)
    att = np.asarray(attention, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (T, D), got {x.shape}")
    if att.shape != x.shape:
        raise ValueError(f"attention must have the shape of x {x.shape} (T, D), got {att.shape}")
    T, D = x.shape
    names = _channel_names(channel_names, D)
    if D == 1:
        fig = Figure(figsize=(9, 4.6))
        ax_x, ax_a = fig.subplots(2, 1, sharex=True)
        t = np.arange(T)
        ax_x.plot(t, x[:, 0], color=COLORS[0], lw=1.5)
        ax_x.set_ylabel("input" if channel_names is None else f"{names[0]}\n(input)")
        ax_a.plot(t, att[:, 0], color=COLORS[3], lw=1.5)
        ax_a.set_ylabel("gate response")
        for ax in (ax_x, ax_a):
            ax.grid(alpha=0.3)
        ax_a.set_xlabel("time step")
        fig.suptitle(title or "The input and the gate's response to it")
        fig.tight_layout()
        return fig
    h = min(4.0, 1.0 + 0.05 * D)
    fig = Figure(figsize=(10, 2 * h + 1.2))
    ax_x, ax_a = fig.subplots(2, 1, sharex=True)
    cmap, vmin, vmax = _input_scale(x)
    im = _image(ax_x, x.T, cmap, vmin, vmax)
    fig.colorbar(im, ax=ax_x, label="input value", fraction=0.04, pad=0.015)
    im = _image(ax_a, att.T, "viridis", *_response_scale(att))
    fig.colorbar(im, ax=ax_a, label="gate response", fraction=0.04, pad=0.015)
    for ax, what in ((ax_x, "input"), (ax_a, "gate response")):
        _ticks(ax, names)
        ax.set_title(what, fontsize=10, loc="left")
    ax_a.set_xlabel("time step")
    fig.suptitle(title or "The input (above) and the gate's response to each input element (below)")
    fig.tight_layout()
    return fig


def plot_class_attention_over_time(mean_x, mean_attention, class_names, channel_names=None, title=None):
    """Each class's mean input and mean gate response, step by step, on a shared time axis.

    mean_x: (C, T, D) per class the mean input over its cases at every step (e.g.
      ``analysis.class_mean_over_time``; NaN where no case reaches a step: drawn blank).
    mean_attention: (C, T, D) the same for the gate's responses.
    class_names: C names.
    channel_names: optional D names (default "element d").
    title: the figure's title.

    One colour scale per column (input, response) for all classes, with a labelled colour bar.
    D = 1 (univariate): two heatmaps, classes down, time across: the mean input and the mean
    response. D > 1: one row per class, the input's heatmap (elements down, time across) on the
    left and the response's on the right; every element labelled up to D = 8, fewer beyond.
    """
    x = np.asarray(mean_x, dtype=float)
    att = np.asarray(mean_attention, dtype=float)
    if x.ndim != 3:
        raise ValueError(f"mean_x must have shape (C, T, D), got {x.shape}")
    if att.shape != x.shape:
        raise ValueError(f"mean_attention must have the shape of mean_x {x.shape} (C, T, D), got {att.shape}")
    C, T, D = x.shape
    if len(class_names) != C:
        raise ValueError(f"class_names: {len(class_names)} names for {C} classes")
    names = _channel_names(channel_names, D)
    cmap, vmin, vmax = _input_scale(x)
    alo, ahi = _response_scale(att)
    if D == 1:
        fig = Figure(figsize=(10, 2 * (0.9 + 0.3 * C) + 1.2), layout="constrained")
        ax_x, ax_a = fig.subplots(2, 1, sharex=True)
        what = "mean input" if channel_names is None else f"mean input ({names[0]})"
        for ax, a, cm, lo, hi, label in ((ax_x, x[:, :, 0], cmap, vmin, vmax, what),
                                         (ax_a, att[:, :, 0], "viridis", alo, ahi, "mean gate response")):
            im = _image(ax, a, cm, lo, hi)
            fig.colorbar(im, ax=ax, label=label, fraction=0.04, pad=0.015)
            _ticks(ax, list(class_names))
            ax.set_title(label, fontsize=10, loc="left")
        ax_a.set_xlabel("time step")
    else:
        h = min(2.6, max(0.9, 0.12 * D))                    # inches per class row
        most = D if D <= 8 else int(8 * h)                  # row labels that fit
        fig = Figure(figsize=(12, h * C + 1.0), layout="constrained")
        axes = fig.subplots(C, 2, sharex=True, squeeze=False)
        for c in range(C):
            im_x = _image(axes[c, 0], x[c].T, cmap, vmin, vmax)
            im_a = _image(axes[c, 1], att[c].T, "viridis", alo, ahi)
            axes[c, 0].set_ylabel(str(class_names[c]), fontsize=9, fontweight="bold")
            _ticks(axes[c, 0], names, most=most)
            _ticks(axes[c, 1], names, most=most)
        axes[0, 0].set_title("mean input", fontsize=10)
        axes[0, 1].set_title("mean gate response", fontsize=10)
        for ax in axes[-1]:
            ax.set_xlabel("time step")
        fig.colorbar(im_x, ax=axes[:, 0], label="input value", shrink=min(1.0, 3.0 / (h * C)), aspect=30)
        fig.colorbar(im_a, ax=axes[:, 1], label="gate response", shrink=min(1.0, 3.0 / (h * C)), aspect=30)
    fig.suptitle(title or "Per class: the mean input and the gate's mean response, step by step")
    return fig


def plot_channel_attention(class_channel_att, class_names, channel_names=None, title=None, relative=False):
    """Which input elements the gate favours in each class: a classes x elements heatmap.

    class_channel_att: (C, D) per class the mean gate response to each input element (e.g.
      ``analysis.class_attention(analysis.case_mean(att), labels, C)``).
    class_names: C names.
    channel_names: optional D names (default "element d").
    title: the first line of the title (the second says what the colour is).
    relative: False (default): the colour is the response; True: each class's response over the
      element's mean over the classes (``analysis.relative_to_classes``: 1 = as in the average
      class; red above, blue below).

    The values are written in the cells when there are at most 24 elements and 300 cells;
    with more elements the columns carry at most 40 labels.
    """
    a = np.asarray(class_channel_att, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"class_channel_att must have shape (C, D), got {a.shape}")
    C, D = a.shape
    if len(class_names) != C:
        raise ValueError(f"class_names: {len(class_names)} names for {C} classes")
    names = _channel_names(channel_names, D)
    if relative:
        v = relative_to_classes(a)
        kw, label = dict(cmap="RdBu_r", norm=_ratio_norm(v, 0.02)), "response ÷ mean over classes"
    else:
        v, kw, label = a, dict(cmap="viridis"), "mean gate response"
    write = D <= 24 and C * D <= 300
    fig = Figure(figsize=(min(16, 2.5 + (0.62 if write else 0.16) * D), 1.4 + 0.38 * C))
    ax = fig.add_subplot()
    im = ax.imshow(v, aspect="auto", interpolation="nearest", **kw)
    fig.colorbar(im, ax=ax, label=label, fraction=0.05, pad=0.02)
    _ticks(ax, list(class_names), most=60)
    _ticks(ax, names, axis="x", most=40)
    if write:
        for c in range(C):
            for d in range(D):
                r, g, b, _ = im.cmap(im.norm(v[c, d]))
                ax.text(d, c, f"{v[c, d]:.2f}", ha="center", va="center", fontsize=7,
                        color="k" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "w")
    ax.set_xlabel("input element")
    what = "each class over the mean of the classes" if relative else "mean over each class's cases and steps"
    fig.suptitle((title or "The gate's response per class and input element") + f"\n({what})", fontsize=11)
    fig.tight_layout()
    return fig
