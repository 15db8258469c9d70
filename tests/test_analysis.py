"""The attention numbers: per sequence, per class, per joint, ratio and selectivity."""

import numpy as np
import pytest

from minieleatt.analysis import (attention_ratio, attention_selectivity, class_attention, joint_attention,
                                 sequence_attention)


def test_attention_ratio_and_selectivity():
    w = np.ones((2, 25))
    w[0, [1, 2]] = 3.0                      # class 0 attends its joints 1, 2
    w[1, [1, 2]] = 3.0                      # ... and so does class 1 (a static preference)
    rel = [(1, 2), (3,)]
    np.testing.assert_allclose(attention_ratio(w, rel), [3.0, 24 / 28])   # class 1: 1 over (22·1 + 2·3)/24
    np.testing.assert_allclose(attention_selectivity(w, rel), [1.0, 1.0])
    w[1, [1, 2]] = 1.0                      # now only class 0 opens them
    assert attention_selectivity(w, rel)[0] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="proper subset"):
        attention_ratio(w, [(), (1,)])


def test_joint_attention_sums_xyz():
    a = np.arange(6.0).reshape(1, 6)
    np.testing.assert_array_equal(joint_attention(a), [[3.0, 12.0]])
    with pytest.raises(ValueError, match="multiple of 3"):
        joint_attention(np.ones((1, 5)))


def test_sequence_attention_averages_over_the_valid_steps_only():
    a = np.zeros((3, 2, 2))
    a[:, 0] = [[1, 2], [3, 4], [100, 100]]            # the last step of sequence 0 is padding
    a[:, 1] = [[1, 1], [2, 2], [3, 3]]
    mask = np.array([[1, 1], [1, 1], [0, 1]])
    np.testing.assert_allclose(sequence_attention(a, mask), [[2, 3], [2, 2]])
    np.testing.assert_allclose(sequence_attention(a), a.mean(axis=0))
    mask[:, 1] = 0
    with pytest.raises(ValueError, match="sequence 1 of the batch has no valid step"):
        sequence_attention(a, mask)


def test_class_attention_is_the_mean_per_class():
    per_seq = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    att = class_attention(per_seq, np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(att, [[2, 1], [0, 0], [5, 5]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        class_attention(per_seq, np.array([0, 0, 2]), 2)
