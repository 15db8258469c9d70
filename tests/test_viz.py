"""Figures: loss curves, accuracy bars, the skeleton."""

import numpy as np
import pytest

from minieleatt import viz
from minieleatt.data import RELEVANT_JOINTS, REST_POSE


def test_figures_render(tmp_path):
    hist = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e} for e in range(1, 4)]
    paths = [viz.save(viz.plot_loss_curves({"a": hist, "b": hist}), tmp_path / "loss.png"),
             viz.save(viz.plot_accuracy_bars(["a", "b"], [0.5, 0.7], baseline=0.5), tmp_path / "acc.png"),
             viz.save(viz.plot_skeleton_attention(np.random.default_rng(0).uniform(1, 2, (3, 25)), viz.display_pose(),
                                                  ["x", "y", "z"], RELEVANT_JOINTS[:3]), tmp_path / "sk.png")]
    for p in paths:
        assert p.stat().st_size > 5000
    no_val = [dict(row, val_loss=None) for row in hist]
    fig = viz.plot_loss_curves({"a": no_val})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a train"]
    with pytest.raises(ValueError, match="no histories"):
        viz.plot_loss_curves({})
    with pytest.raises(ValueError, match=r"joint_weights must have shape \(K, 25\)"):
        viz.plot_skeleton_attention(np.ones((2, 24)), REST_POSE, ["a", "b"])


def test_display_pose_lifts_the_arms_and_keeps_the_bones():
    pose = viz.display_pose()
    assert pose[7, 0] > REST_POSE[7, 0] and pose[11, 0] < REST_POSE[11, 0]       # hands away from the body
    for a, b in [(4, 5), (5, 6), (8, 9)]:
        assert np.linalg.norm(pose[a] - pose[b]) == pytest.approx(np.linalg.norm(REST_POSE[a] - REST_POSE[b]))
