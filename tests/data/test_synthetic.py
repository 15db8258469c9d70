"""The synthetic skeleton generator: kinematics, class signal, distractors, subjects, splits."""

import numpy as np
import pytest

from minieleatt.data import (
    BONES, CLASS_NAMES, JOINT_NAMES, PARENT, RELEVANT_JOINTS, REST_POSE, SPINE_MID,
    SkeletonData, generate_skeletons, synthetic_splits,
)
from minieleatt.data.joints import JOINT_INDEX, descendants, topological_order
from minieleatt.data.synthetic import ACTUATED_JOINTS

# Fixed global pose, no distractor, no noise: the output is the body frame minus a constant.
STILL = dict(distractor=0.0, noise=0.0, yaw=0.0, tilt=0.0, translation=0.0)


def joints(seq):
    """(T, 75) frames -> (T, 25, 3) float64 points."""
    return np.asarray(seq, dtype=np.float64).reshape(len(seq), 25, 3)


def energy(data):
    """(N, 25): temporal variance of each joint, summed over x, y, z."""
    return np.array([joints(s).var(axis=0).sum(axis=-1) for s in data.sequences])


def class_means(values, labels, num_classes):
    return np.array([values[labels == c].mean(axis=0) for c in range(num_classes)])


def f_statistic(values, labels, num_classes):
    """One-way ANOVA F per column of ``values`` (N, K), groups = labels."""
    grand = values.mean(axis=0)
    means = class_means(values, labels, num_classes)
    counts = np.bincount(labels, minlength=num_classes)[:, None]
    between = (counts * (means - grand) ** 2).sum(axis=0) / (num_classes - 1)
    within = ((values - means[labels]) ** 2).sum(axis=0) / (len(labels) - num_classes)
    return between / within


@pytest.fixture(scope="module")
def default_data():
    return generate_skeletons(60, seed=0)


# ------------------------------------------------------------------ the skeleton

def test_parent_is_derived_from_bones():
    assert PARENT.shape == (25,) and PARENT[0] == -1
    assert [int(PARENT[c]) for _, c in BONES] == [p for p, _ in BONES]
    order = topological_order()
    assert sorted(order) == list(range(25))
    assert all(order.index(PARENT[j]) < order.index(j) for j in order if PARENT[j] >= 0)


def test_rest_pose_looks_like_a_standing_person_from_the_front():
    y = {name: REST_POSE[JOINT_INDEX[name], 1] for name in JOINT_NAMES}
    assert y["Head"] > y["Neck"] > y["SpineShoulder"] > y["SpineMid"] > y["SpineBase"]
    assert abs(y["SpineBase"]) < 0.05 and 0.6 < y["Head"] - y["SpineBase"] < 0.85
    assert y["FootLeft"] == y["FootRight"] == REST_POSE[:, 1].min()
    assert y["HandLeft"] < y["ElbowLeft"] < y["ShoulderLeft"]            # arms hanging down
    for j, name in enumerate(JOINT_NAMES):
        if name.endswith("Left"):
            right = JOINT_INDEX[name[:-4] + "Right"]
            assert REST_POSE[j, 0] > 0 > REST_POSE[right, 0]
            np.testing.assert_array_equal(REST_POSE[right], REST_POSE[j] * [-1, 1, 1])
    for side in ("Left", "Right"):                                      # feet toward the camera (-z)
        assert REST_POSE[JOINT_INDEX["Foot" + side], 2] < REST_POSE[JOINT_INDEX["Ankle" + side], 2]


def test_relevant_joints_are_the_descendants_of_the_actuated_joints():
    assert len(CLASS_NAMES) == len(RELEVANT_JOINTS) == 10
    wave_right = RELEVANT_JOINTS[CLASS_NAMES.index("wave_right")]
    assert [JOINT_NAMES[j] for j in wave_right] == [
        "ElbowRight", "WristRight", "HandRight", "HandTipRight", "ThumbRight"]
    for actuated, relevant in zip(ACTUATED_JOINTS, RELEVANT_JOINTS):
        assert set(relevant) == set().union(*(descendants(j) for j in actuated))
    kick_left = RELEVANT_JOINTS[CLASS_NAMES.index("kick_left")]
    assert JOINT_INDEX["FootLeft"] in kick_left and JOINT_INDEX["FootRight"] not in kick_left


# ------------------------------------------------------------------ class signal and distractors

def test_without_distractor_exactly_the_relevant_joints_move():
    data = generate_skeletons(3, seed=5, **STILL)
    for seq, label in zip(data.sequences, data.labels):
        p = joints(seq)
        moving = np.flatnonzero(np.abs(p - p[0]).max(axis=(0, 2)) > 1e-9)
        assert tuple(moving) == RELEVANT_JOINTS[label], CLASS_NAMES[label]


def test_class_motion_dominates_the_energy_of_its_relevant_joints(default_data):
    E = energy(default_data)
    means = class_means(E, default_data.labels, 10)
    for c, relevant in enumerate(RELEVANT_JOINTS):
        own = E[default_data.labels == c][:, relevant].mean(axis=1)          # (n,) per sequence
        others = np.delete(means[:, relevant].mean(axis=1), c).mean()
        assert own.mean() > 1.3 * others, CLASS_NAMES[c]
        assert own.mean() - others > 4 * own.std() / np.sqrt(len(own)), CLASS_NAMES[c]


def test_distractor_energy_does_not_depend_on_the_class():
    quiet = generate_skeletons(60, seed=1, motion=0.0)
    F = f_statistic(energy(quiet), quiet.labels, 10)
    assert F.max() < 4.0                          # F(9, 590): 4.0 is far beyond the 0.1 % point (~3.1)
    loud = generate_skeletons(60, seed=1)         # the same statistic sees the class motion
    assert f_statistic(energy(loud), loud.labels, 10)[list(RELEVANT_JOINTS[0])].min() > 20


def test_without_class_motion_the_class_changes_nothing():
    wave = generate_skeletons(4, seed=2, motion=0.0, classes=[0])
    nod = generate_skeletons(4, seed=2, motion=0.0, classes=[8])
    for a, b in zip(wave.sequences, nod.sequences):
        np.testing.assert_array_equal(a, b)


def test_distractor_zero_means_still_apart_from_the_class_motion():
    data = generate_skeletons(2, seed=3, classes=[CLASS_NAMES.index("nod")], **STILL)
    for seq in data.sequences:
        p = joints(seq)
        assert np.abs(p - p[0]).max(axis=(0, 2))[JOINT_INDEX["HandLeft"]] == 0
    swaying = generate_skeletons(2, seed=3, classes=[CLASS_NAMES.index("nod")], distractor=0.5, noise=0.0)
    assert all(joints(s).var(axis=0).sum(-1).min() > 0 for s in swaying.sequences)


# ------------------------------------------------------------------ kinematics and subjects

def test_bone_lengths_are_constant_within_a_sequence_and_differ_between_subjects():
    data = generate_skeletons(4, seed=4, noise=0.0)
    parents, kids = np.array(BONES).T
    per_subject = {}
    for seq, subject in zip(data.sequences, data.subjects):
        p = joints(seq)
        lengths = np.linalg.norm(p[:, kids] - p[:, parents], axis=-1)       # (T, 24)
        np.testing.assert_allclose(lengths, np.broadcast_to(lengths[0], lengths.shape), rtol=2e-5, atol=2e-6)
        per_subject.setdefault(int(subject), []).append(lengths[0])
    for rows in per_subject.values():                                     # one body per subject
        np.testing.assert_allclose(rows, np.broadcast_to(rows[0], np.shape(rows)), rtol=2e-5, atol=2e-6)
    firsts = np.array([rows[0] for rows in per_subject.values()])
    assert len(firsts) > 5 and np.ptp(firsts[:, 0]) > 0.01


def test_a_subject_has_the_same_body_in_every_call():
    def spine(data, subject):
        p = joints(data.sequences[int(np.flatnonzero(data.subjects == subject)[0])])
        return np.linalg.norm(p[0, 20] - p[0, 1])
    a = generate_skeletons(2, subjects=[3, 4], seed=7, noise=0.0)
    b = generate_skeletons(2, subjects=[3, 9, 11], seed=7, noise=0.0)
    assert spine(a, 3) == pytest.approx(spine(b, 3), rel=1e-6)
    assert spine(a, 3) != pytest.approx(spine(a, 4), rel=1e-3)


def test_frames_are_translated_by_spine_mid_of_the_first_frame(default_data):
    for seq in default_data.sequences[:50]:
        assert np.all(joints(seq)[0, SPINE_MID] == 0)
        assert np.abs(joints(seq)[1:, SPINE_MID]).max() < 0.3               # it drifts only a little


# ------------------------------------------------------------------ the returned data

def test_shapes_dtypes_lengths_and_balance(default_data):
    d = default_data
    assert isinstance(d, SkeletonData) and d.class_names == CLASS_NAMES and d.relevant_joints == RELEVANT_JOINTS
    assert len(d.sequences) == len(d.labels) == len(d.subjects) == 600
    assert d.labels.dtype == np.int64 and d.subjects.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(d.labels), [60] * 10)
    lengths = [len(s) for s in d.sequences]
    assert min(lengths) >= 30 and max(lengths) <= 60 and len(set(lengths)) > 20
    assert all(s.dtype == np.float32 and s.shape[1] == 75 and np.isfinite(s).all() for s in d.sequences)
    assert set(d.subjects.tolist()) == set(range(20))
    assert np.ptp(np.bincount(d.subjects[d.labels == 0])) <= 1               # subjects balanced within a class


def test_length_range_is_respected():
    d = generate_skeletons(5, seed=0, length=(12, 14), classes=[4, 5])
    assert {len(s) for s in d.sequences} <= {12, 13, 14}


def test_seeded_and_reproducible():
    a, b = generate_skeletons(3, seed=11), generate_skeletons(3, seed=11)
    c = generate_skeletons(3, seed=12)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.subjects, b.subjects)
    assert all(np.array_equal(x, y) for x, y in zip(a.sequences, b.sequences))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a.sequences, c.sequences))


def test_classes_subset_is_renumbered():
    d = generate_skeletons(4, seed=0, classes=[8, 4])
    assert d.class_names == ("nod", "kick_right")
    assert d.relevant_joints == (RELEVANT_JOINTS[8], RELEVANT_JOINTS[4])
    np.testing.assert_array_equal(np.bincount(d.labels), [4, 4])


def test_take_selects_consistently(default_data):
    sub = default_data.take(np.array([5, 0, 7]))
    assert sub.sequences[1] is default_data.sequences[0]
    np.testing.assert_array_equal(sub.labels, default_data.labels[[5, 0, 7]])
    np.testing.assert_array_equal(sub.subjects, default_data.subjects[[5, 0, 7]])


@pytest.mark.parametrize("kwargs, error", [
    (dict(n_per_class=0), ValueError),
    (dict(n_per_class=2.5), TypeError),
    (dict(length=(1, 5)), ValueError),
    (dict(length=(40, 30)), ValueError),
    (dict(classes=[10]), ValueError),
    (dict(classes=[1, 1]), ValueError),
    (dict(subjects=[]), ValueError),
    (dict(distractor=-1.0), ValueError),
    (dict(noise=-0.1), ValueError),
    (dict(seed=-1), ValueError),
    (dict(speed=3.0), TypeError),
])
def test_bad_generator_arguments(kwargs, error):
    kwargs = {"n_per_class": 1, **kwargs}
    with pytest.raises(error):
        generate_skeletons(**kwargs)


# ------------------------------------------------------------------ splits

@pytest.fixture(scope="module")
def splits():
    return synthetic_splits(n_train_per_class=40, n_test_per_class=10, seed=3, length=(20, 30))


def test_splits_are_cross_subject(splits):
    train, val, test = (set(splits[k].subjects.tolist()) for k in ("train", "val", "test"))
    assert test == {15, 16, 17, 18, 19}                          # default: the last quarter
    assert not test & train and not test & val
    assert val <= train


def test_validation_is_five_percent_of_the_training_split(splits):
    np.testing.assert_array_equal(np.bincount(splits["val"].labels), [2] * 10)     # 5 % of 40
    np.testing.assert_array_equal(np.bincount(splits["train"].labels), [38] * 10)
    np.testing.assert_array_equal(np.bincount(splits["test"].labels), [10] * 10)
    train_ids = {id(s) for s in splits["train"].sequences}
    assert not any(id(s) in train_ids for s in splits["val"].sequences)


def test_splits_are_reproducible_and_take_explicit_test_subjects(splits):
    again = synthetic_splits(n_train_per_class=40, n_test_per_class=10, seed=3, length=(20, 30))
    for k in splits:
        assert all(np.array_equal(a, b) for a, b in zip(splits[k].sequences, again[k].sequences))
    other = synthetic_splits(4, 2, num_subjects=6, test_subjects=[0, 5], val_fraction=0.25, seed=1)
    assert set(other["test"].subjects.tolist()) == {0, 5}
    assert set(other["train"].subjects.tolist()) <= {1, 2, 3, 4}
    assert len(other["val"].labels) == 10


@pytest.mark.parametrize("kwargs", [dict(test_subjects=[20]), dict(test_subjects=range(20)),
                                    dict(val_fraction=1.0)])
def test_bad_split_arguments(kwargs):
    with pytest.raises(ValueError):
        synthetic_splits(2, 1, **kwargs)
