"""Figures: loss curves, accuracy bars, the skeleton, attention over time and per channel."""

import numpy as np
import pytest

from minieleatt import analysis, viz
from minieleatt.data import RELEVANT_JOINTS, REST_POSE


def _history(epochs, val=True, cut_at=None):
    rows, lr = [], 0.01
    for e in range(1, epochs + 1):
        if e == cut_at:
            lr /= 10
        rows.append({"epoch": e, "train_loss": 1 / e, "train_acc": 0.5, "val_loss": 1.2 / e if val else None,
                     "val_acc": 0.5 if val else None, "watched": 1.2 / e if val else 1 / e, "lr": lr, "seconds": 1.0})
    return rows


def _legend_labels(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_figures_render(tmp_path):
    hist = _history(3)
    paths = [viz.save(viz.plot_loss_curves({"a": hist, "b": hist}), tmp_path / "loss.png"),
             viz.save(viz.plot_accuracy_bars(["a", "b"], [0.5, 0.7], baseline=0.5, n_test=100), tmp_path / "acc.png"),
             viz.save(viz.plot_skeleton_attention(np.random.default_rng(0).uniform(1, 2, (3, 25)), viz.display_pose(),
                                                  ["x", "y", "z"], RELEVANT_JOINTS[:3]), tmp_path / "sk.png")]
    for p in paths:
        assert p.stat().st_size > 5000
    with pytest.raises(ValueError, match="no histories"):
        viz.plot_loss_curves({})
    with pytest.raises(ValueError, match=r"joint_weights must have shape \(K, 25\)"):
        viz.plot_skeleton_attention(np.ones((2, 24)), REST_POSE, ["a", "b"])


def test_loss_curves_one_panel_per_model_and_no_promised_validation_line():
    fig = viz.plot_loss_curves({"a": _history(6, val=False), "b": _history(6, val=False), "c": _history(6, val=False)})
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 3
    assert panels[0].get_shared_y_axes().joined(panels[0], panels[2])        # one scale for all
    for ax in panels:
        assert all(line.get_linestyle() != "--" for line in ax.get_lines())
    labels = _legend_labels(fig)
    assert "training loss" in labels and not any("validation" in s for s in labels)
    assert not any("dashed" in t.get_text() for t in fig.texts)

    fig = viz.plot_loss_curves({"a": _history(6, val=True)})
    assert "validation loss" in _legend_labels(fig)
    assert sum(line.get_linestyle() == "--" for line in fig.axes[0].get_lines()) == 1


def test_loss_curves_mark_the_best_epoch_and_the_learning_rate_cuts():
    fig = viz.plot_loss_curves({"a": _history(10, cut_at=6)}, best_epochs={"a": 4})
    ax = fig.axes[0]
    stars = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [4]
    cuts = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(cuts) == 1 and list(cuts[0].get_xdata()) == [5.5, 5.5]        # between epochs 5 and 6
    assert "best epoch 4" in ax.get_title() and "learning rate cut" in _legend_labels(fig)
    fig = viz.plot_loss_curves({"a": _history(10)})                     # no best epoch given: lowest watched
    assert [list(line.get_xdata()) for line in fig.axes[0].get_lines() if line.get_marker() == "*"] == [[10]]
    assert "learning rate cut" not in _legend_labels(fig)


def test_accuracy_bars_start_at_zero_and_draw_the_wilson_interval():
    fig = viz.plot_accuracy_bars(["a", "b"], [0.9, 0.95], n_test=600)
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0
    low, high = analysis.wilson_interval(np.array([0.9, 0.95]), 600)
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    spans = sorted((seg[:, 1].min(), seg[:, 1].max()) for seg in segments)
    np.testing.assert_allclose(spans, np.stack([100 * low, 100 * high], axis=1), rtol=1e-9)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "90.0 %" in texts and "95.0 %" in texts and f"[{100 * low[0]:.1f}, {100 * high[0]:.1f}]" in texts
    fig = viz.plot_accuracy_bars(["a", "b"], [0.9, 0.95], n_test=600, from_zero=False)
    assert fig.axes[0].get_ylim()[0] > 0 and "not 0" in fig.axes[0].get_ylabel()
    fig = viz.plot_accuracy_bars(["a"], [0.9])
    assert "no interval" in fig.axes[0].get_title()
    fig = viz.plot_accuracy_bars(["a", "b"], [0.9, 0.95], n_test=600, errors=[0.01, 0.02],
                                 seed_accuracies=[[0.89, 0.91], [0.93, 0.97]])
    assert "± 2.0" in " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "single seeds" in _legend_labels(fig)


def test_display_pose_lifts_the_arms_keeps_the_bones_and_separates_every_joint():
    pose = viz.display_pose()
    assert pose[7, 0] > REST_POSE[7, 0] and pose[11, 0] < REST_POSE[11, 0]       # hands away from the body
    for a, b in [(4, 5), (5, 6), (8, 9), (12, 13), (13, 14)]:
        assert np.linalg.norm(pose[a] - pose[b]) == pytest.approx(np.linalg.norm(REST_POSE[a] - REST_POSE[b]))
    xy = pose[:, :2]
    dist = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(25)
    assert dist.min() > 0.06                  # seen from the front no joint sits on another (feet, thumbs)


def test_skeleton_shows_every_joint_and_the_class_contrast():
    w = np.ones((3, 25))
    w[:, 0] = 5.0                             # the spine: bright in every class
    w[0, 15] = 2.0                            # a foot, in class 0 only
    fig = viz.plot_skeleton_attention(w, viz.display_pose(), ["a", "b", "c"], [(15,), (7,), (11,)])
    joints = [ax.collections[0] for ax in fig.axes[:3]]
    for sc in joints:
        sizes = sc.get_sizes()
        assert sizes.min() >= 40 and np.all(np.diff(sizes) <= 0)            # never a speck; small ones on top
    colour = np.asarray(joints[0].get_array())
    offsets = joints[0].get_offsets()
    spine = np.flatnonzero(np.all(np.isclose(offsets, viz.display_pose()[0, :2]), axis=1))[0]
    foot = np.flatnonzero(np.all(np.isclose(offsets, viz.display_pose()[15, :2]), axis=1))[0]
    assert colour[spine] == pytest.approx(1.0)                              # same in every class: neutral
    assert colour[foot] == pytest.approx(2.0 / (4 / 3))                     # above the mean of the classes
    assert "over the mean of the classes" in fig.get_suptitle()
    assert any("size" in (lg.get_title().get_text()) for lg in fig.legends)
    fig = viz.plot_skeleton_attention(w, viz.display_pose(), ["a", "b", "c"], contrast="absolute")
    assert np.asarray(fig.axes[0].collections[0].get_array()).max() == 5.0
    assert "the response" in fig.get_suptitle()
    with pytest.raises(ValueError, match="contrast"):
        viz.plot_skeleton_attention(w, viz.display_pose(), ["a", "b", "c"], contrast="loud")


def test_attention_over_time_draws_the_input_beside_the_response():
    rng = np.random.default_rng(0)
    x, att = rng.standard_normal((40, 6)), rng.uniform(size=(40, 6))
    fig = viz.plot_attention_over_time(x, att, channel_names=list("abcdef"))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    np.testing.assert_array_equal(images[0].get_array(), x.T)               # elements down, time across
    np.testing.assert_array_equal(images[1].get_array(), att.T)
    assert images[0].axes.get_shared_x_axes().joined(images[0].axes, images[1].axes)
    assert {"input value", "gate response"} <= {ax.get_ylabel() for ax in fig.axes}          # the colour bars
    fig = viz.plot_attention_over_time(x[:, :1], att[:, :1])                # univariate: two line plots
    lines = [ax.get_lines()[0] for ax in fig.axes]
    np.testing.assert_array_equal(lines[1].get_ydata(), att[:, 0])
    with pytest.raises(ValueError, match=r"attention must have the shape of x \(40, 6\)"):
        viz.plot_attention_over_time(x, att[:, :5])
    with pytest.raises(ValueError, match="channel_names: 2 names for 6"):
        viz.plot_attention_over_time(x, att, channel_names=["a", "b"])
    viz.plot_attention_over_time(rng.standard_normal((300, 75)), rng.uniform(size=(300, 75)))    # long, wide


def test_class_attention_over_time_and_channel_attention():
    rng = np.random.default_rng(1)
    cases = [rng.standard_normal((int(n), 3)) for n in rng.integers(5, 9, size=8)]
    labels = np.arange(8) % 2
    mx = analysis.class_mean_over_time(cases, labels, 2)
    ma = analysis.class_mean_over_time([1 / (1 + np.exp(-c)) for c in cases], labels, 2)
    fig = viz.plot_class_attention_over_time(mx, ma, ["p", "q"], channel_names=["u", "v", "w"])
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 4
    np.testing.assert_array_equal(images[1].get_array(), np.ma.masked_invalid(ma[0].T))
    assert {"input value", "gate response"} <= {ax.get_ylabel() for ax in fig.axes}
    fig = viz.plot_class_attention_over_time(mx[:, :, :1], ma[:, :, :1], ["p", "q"])   # univariate: classes down
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2 and images[1].get_array().shape == (2, mx.shape[1])
    with pytest.raises(ValueError, match="class_names: 3 names for 2 classes"):
        viz.plot_class_attention_over_time(mx, ma, ["p", "q", "r"])

    ca = analysis.class_attention(analysis.case_mean([1 / (1 + np.exp(-c)) for c in cases]), labels, 2)
    fig = viz.plot_channel_attention(ca, ["p", "q"], ["u", "v", "w"])
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), ca)
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.2f}" for v in ca.ravel())
    fig = viz.plot_channel_attention(ca, ["p", "q"], relative=True)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), ca / ca.mean(axis=0))
    norm = fig.axes[0].images[0].norm                     # ratios: 1 white, r and 1/r equally strong, never < 0
    assert norm.vcenter == 1 and norm.vmin > 0 and norm.vmin * norm.vmax == pytest.approx(1)
    assert "over the mean of the classes" in fig.get_suptitle()
    fig = viz.plot_channel_attention(rng.uniform(size=(10, 75)), [str(i) for i in range(10)])
    assert not fig.axes[0].texts                                            # too many cells to write
