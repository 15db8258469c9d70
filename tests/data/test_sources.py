import re

import numpy as np
import pytest

from minieleatt.data import write_skeleton
from minieleatt.data.batching import stratified_holdout
from minieleatt.data.ntu import Body
from minieleatt.data.sources import load_splits
from minieleatt.errors import DataFormatError


def test_stratified_holdout_takes_a_share_of_every_class():
    labels = np.repeat([0, 1, 2], [20, 10, 3])
    held = stratified_holdout(labels, 0.1, np.random.default_rng(0))
    assert [int(held[labels == c].sum()) for c in range(3)] == [2, 1, 1]
    assert not stratified_holdout(labels, 0.0, np.random.default_rng(0)).any()
    with pytest.raises(ValueError, match=r"validation fraction must be in \[0, 1\)"):
        stratified_holdout(labels, 1.0, np.random.default_rng(0))


def test_synthetic_splits_in_the_common_form():
    s = load_splits("synthetic", n_train_per_class=10, n_test_per_class=2, length=(5, 8))
    assert s.skeleton and len(s.class_names) == 10 and len(s.relevant_joints) == 10
    assert len(s.train.labels) + len(s.val.labels) == 100 and len(s.test.labels) == 20
    assert all(x.dtype == np.float32 and x.shape[1] == 75 for x in s.train.sequences)


def _write_ts(path, rows, header_extra=""):
    text = ("@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n"
            f"@equalLength false\n@classLabel true a b\n{header_extra}@data\n" + "\n".join(rows) + "\n")
    path.write_text(text)


def test_ts_files_are_normalised_on_train_only_and_missing_values_filled(tmp_path):
    rows = [f"{i},{i + 1},?:{2 * i},{2 * i},{2 * i}:{'ab'[i % 2]}" for i in range(10)]
    _write_ts(tmp_path / "T_TRAIN.ts", rows)
    _write_ts(tmp_path / "T_TEST.ts", ["100,100:5,5:a", "0,0:0,0:b"])
    s = load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "T_TEST.ts", val_fraction=0.2,
                    min_val=1)
    assert s.class_names == ("a", "b") and not s.skeleton
    assert len(s.train.labels) == 8 and len(s.val.labels) == 2
    train_values = np.concatenate(s.train.sequences + s.val.sequences)
    assert np.isfinite(train_values).all()
    assert abs(train_values[:, 1].mean()) < 1e-6                       # a complete channel: mean 0 on train
    assert s.test.sequences[0][0, 0] > 5                                # test is scaled with the train statistics
    with pytest.raises(ValueError, match="needs a problem name"):
        load_splits("ts", train_file=tmp_path / "T_TRAIN.ts")
    _write_ts(tmp_path / "U_TEST.ts", ["1,1:1,1:c"], "")
    with pytest.raises(ValueError, match="label"):
        load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "U_TEST.ts")


def test_ntu_folder_gives_protocol_splits(tmp_path):
    rng = np.random.default_rng(0)
    for subject, camera, action in [(1, 1, 1), (2, 2, 2), (3, 1, 1), (1, 3, 2), (4, 2, 1), (2, 1, 2), (1, 2, 1),
                                    (2, 3, 2)]:
        frames = [[Body(72057594037931101, np.zeros(9), np.c_[rng.normal(size=(25, 3)), np.zeros((25, 9))])]
                  for _ in range(20)]
        write_skeleton(tmp_path / f"S001C{camera:03d}P{subject:03d}R001A{action:03d}.skeleton", frames)
    s = load_splits("ntu", data_dir=tmp_path, protocol="cs", progress=False, cache=None, workers=1)
    assert len(s.train.labels) + len(s.val.labels) == 7 and len(s.test.labels) == 1   # subject 3 is a test subject
    assert s.train.sequences[0].shape[1] == 150 and s.skeleton
    with pytest.raises(ValueError, match="data source must be one of"):
        load_splits("imagenet")


@pytest.mark.parametrize("value", ["1e300", "-4e38"])
def test_values_beyond_float32_are_refused_naming_file_and_line(tmp_path, value):
    rows = [f"{i},{i + 1}:{2 * i},{2 * i}:{'ab'[i % 2]}" for i in range(6)]
    rows[3] = f"1,{value}:0,0:b"
    _write_ts(tmp_path / "T_TRAIN.ts", rows)
    _write_ts(tmp_path / "T_TEST.ts", ["1,1:5,5:a"])
    said = re.escape(f"T_TRAIN.ts, line 12: value {float(value):g} (channel 1, step 2) is beyond the float32 range")
    with pytest.raises(DataFormatError, match=said):
        load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "T_TEST.ts")
    _write_ts(tmp_path / "T_TRAIN.ts", [r for k, r in enumerate(rows) if k != 3])
    _write_ts(tmp_path / "T_TEST.ts", ["1,1:5,5:a", f"1,1:{value},5:b"])
    with pytest.raises(DataFormatError, match=r"T_TEST.ts, line 10: value .* \(channel 2, step 1\)"):
        load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "T_TEST.ts")


def test_channel_statistics_that_overflow_are_refused():
    from minieleatt.data.ts import ChannelNormalizer

    cases = [np.array([[1.0, 1e200], [2.0, -1e200]])]
    with pytest.raises(ValueError, match="channel 1 has values too large to standardise"):
        ChannelNormalizer().fit(cases)


def test_too_small_a_validation_set_is_not_held_out_and_says_why(tmp_path):
    rows = [f"{i},{i + 1}:{2 * i},{2 * i}:{'ab'[i % 2]}" for i in range(40)]
    _write_ts(tmp_path / "T_TRAIN.ts", rows)
    _write_ts(tmp_path / "T_TEST.ts", ["1,1:5,5:a"])
    s = load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "T_TEST.ts")
    assert len(s.val.labels) == 0 and len(s.train.labels) == 40
    assert s.notes == ("no validation set: 4 of the 40 training sequences (10 % per class) would be too few to "
                       "mean anything (fewer than 30); all of them train",)
    s = load_splits("ts", train_file=tmp_path / "T_TRAIN.ts", test_file=tmp_path / "T_TEST.ts", min_val=4)
    assert len(s.val.labels) == 4 and s.notes == ()
