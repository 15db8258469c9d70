"""NTU RGB+D: the cached, parallel loader and its skip report (minieleatt/data/ntu/loader.py)."""

import os

import numpy as np
import pytest

from minieleatt.data import ntu
from minieleatt.data.ntu import load_ntu, preprocess_skeleton, read_skeleton
from minieleatt.errors import DataFormatError

from .._files import BIG_ID, frames_from_tracks, joints12, moving_body, replace_token, skeleton_text


def write(path, text):
    path.write_bytes(text.encode("ascii"))
    return path


# --------------------------------------------------------------------------- load_ntu

SAMPLES = {
    # name: (n_frames, tracks) -- cs: subjects 1, 2 train, 3 test; cv: camera 1 test, 2 and 3 train
    "S001C001P001R001A001": (20, [(BIG_ID, 0, moving_body(20, seed=11))]),
    "S001C002P003R001A002": (24, [(BIG_ID, 0, moving_body(24, amplitude=0.1, seed=12)),
                                  (BIG_ID + 1, 2, moving_body(22, center=(0.8, 0.2, 3.0), seed=13))]),
    "S002C003P002R002A060": (15, [(BIG_ID + 3, 0, moving_body(15, seed=14))]),
    "S001C001P003R001A010": (12, []),                                      # no body: skipped
    "S001C002P001R001A011": (30, [(BIG_ID, 4, moving_body(3, seed=15))]),  # 3 frames: skipped
}


@pytest.fixture
def ntu_dir(tmp_path):
    folder = tmp_path / "nturgb+d_skeletons"
    folder.mkdir()
    for name, (n, tracks) in SAMPLES.items():
        full = [(bid, first, joints12(xyz, seed=k)) for k, (bid, first, xyz) in enumerate(tracks)]
        write(folder / f"{name}.skeleton", skeleton_text(frames_from_tracks(n, full), newline="\r\n"))
    (folder / "notes.txt").write_text("not a skeleton")
    return folder


def _expected(folder, name):
    return preprocess_skeleton(read_skeleton(folder / f"{name}.skeleton"))


def test_load_ntu_splits_labels_and_skip_report(ntu_dir, tmp_path):
    data = load_ntu(ntu_dir, "cs", cache=tmp_path / "c.npz", workers=1, progress=False)
    assert data.train.names == ["S001C001P001R001A001", "S002C003P002R002A060"]
    assert data.test.names == ["S001C002P003R001A002"]
    np.testing.assert_array_equal(data.train.labels, [0, 59])
    np.testing.assert_array_equal(data.test.labels, [1])
    assert data.train.labels.dtype == np.int64
    for split in (data.train, data.test):
        for name, seq in zip(split.names, split.sequences):
            assert seq.dtype == np.float32 and seq.shape[1] == 150
            np.testing.assert_array_equal(seq, _expected(ntu_dir, name))
    assert data.test.sequences[0].shape == (24, 150)
    assert {(s.name, s.kind) for s in data.skipped} == {
        ("S001C001P003R001A010", "no-body"), ("S001C002P001R001A011", "too-few-frames")}
    assert len(data.skipped) == 2 and data.skipped.counts() == {"no-body": 1, "too-few-frames": 1}
    assert "S001C001P003R001A010: no-body" in str(data.skipped)
    assert data.from_cache is False and data.cache_path == str(tmp_path / "c.npz")


def test_load_ntu_cache_round_trip_and_second_load_uses_it(ntu_dir, tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "ntu.npz"
    first = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert cache.exists() and not first.from_cache
    assert [p.name for p in cache.parent.iterdir()] == ["ntu.npz"]  # no temporary file left
    with np.load(cache, allow_pickle=False) as z:  # no pickled object inside
        assert all(z[k].dtype != object for k in z.files)
        assert z["names"].dtype.kind == "U" and z["data"].shape == (20 + 24 + 15, 150)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the files were parsed again although the cache is valid")

    monkeypatch.setattr(ntu.loader, "_build_table", no_parsing)
    second = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert second.from_cache
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert a.names == b.names
        np.testing.assert_array_equal(a.labels, b.labels)
        for x, y in zip(a.sequences, b.sequences):
            np.testing.assert_array_equal(x, y)
    assert list(second.skipped) == list(first.skipped)
    # One cache serves both protocols.
    cv = load_ntu(ntu_dir, "cv", cache=cache, workers=1, progress=False)
    assert cv.from_cache
    assert cv.train.names == ["S001C002P003R001A002", "S002C003P002R002A060"]
    assert cv.test.names == ["S001C001P001R001A001"]


@pytest.mark.parametrize("mp_context", [None, "spawn"])
def test_load_ntu_parallel_matches_serial(ntu_dir, mp_context):
    serial = load_ntu(ntu_dir, "cv", cache=None, workers=1, progress=False)
    parallel = load_ntu(ntu_dir, "cv", cache=None, workers=2, progress=True, mp_context=mp_context)
    assert parallel.train.names == serial.train.names and parallel.test.names == serial.test.names
    for x, y in zip(serial.train.sequences + serial.test.sequences,
                    parallel.train.sequences + parallel.test.sequences):
        np.testing.assert_array_equal(x, y)
    assert list(parallel.skipped) == list(serial.skipped)
    assert parallel.cache_path is None


def test_load_ntu_stale_cache_other_settings(ntu_dir, tmp_path):
    cache = tmp_path / "c.npz"
    load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    with pytest.raises(DataFormatError, match="other preprocessing settings.*min_valid_frames"):
        load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3,
                 on_stale_cache="error")
    with pytest.warns(UserWarning, match="other preprocessing settings"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3)
    assert not data.from_cache and "S001C002P001R001A011" in data.train.names  # 3 frames now enough
    assert load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, min_valid_frames=3).from_cache


def test_load_ntu_stale_cache_after_files_change(ntu_dir, tmp_path):
    cache = tmp_path / "c.npz"
    load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    (ntu_dir / "S001C001P001R001A001.skeleton").rename(ntu_dir / "S001C001P001R001A005.skeleton")
    with pytest.warns(UserWarning, match="files changed"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert not data.from_cache and data.train.names[0] == "S001C001P001R001A005"
    np.testing.assert_array_equal(data.train.labels, [4, 59])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "inconsistent"])
def test_load_ntu_corrupt_cache_is_rebuilt_or_refused(ntu_dir, tmp_path, damage):
    cache = tmp_path / "c.npz"
    good = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    raw = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        cache.write_bytes(raw[: len(raw) // 2])
    else:
        with np.load(cache, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["offsets"] = arrays["offsets"][::-1].copy()
        with open(cache, "wb") as f:
            np.savez(f, **arrays)
    with pytest.raises(DataFormatError, match="cannot be used") as info:
        load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False, on_stale_cache="error")
    assert info.value.path == str(cache)
    with pytest.warns(UserWarning, match="unreadable or damaged"):
        data = load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False)
    assert not data.from_cache and data.train.names == good.train.names
    assert load_ntu(ntu_dir, "cs", cache=cache, workers=1, progress=False).from_cache


def test_load_ntu_unwritable_cache_only_warns(ntu_dir, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="could not write the NTU cache"):
        data = load_ntu(ntu_dir, "cs", cache=blocker / "c.npz", workers=1, progress=False)
    assert len(data.train.names) == 2


def test_load_ntu_auto_cache_location(ntu_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    data = load_ntu(ntu_dir, "cs", workers=1, progress=False)
    assert data.cache_path.startswith(str(tmp_path / "xdg" / "minieleatt")) and os.path.exists(data.cache_path)
    assert load_ntu(ntu_dir, "cs", workers=1, progress=False).from_cache


@pytest.mark.parametrize("workers", [1, 2])
def test_load_ntu_format_error_raises_or_is_reported(ntu_dir, workers):
    bad = ntu_dir / "S003C001P001R001A003.skeleton"
    lines = skeleton_text([[(BIG_ID, joints12(moving_body(1))[0])]]).splitlines()
    lines[6] = replace_token(lines[6], 2, "nan?")
    write(bad, "\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as info:
        load_ntu(ntu_dir, "cs", cache=None, workers=workers, progress=False)
    assert info.value.path == str(bad) and info.value.line == 7
    data = load_ntu(ntu_dir, "cs", cache=None, workers=workers, progress=False, on_error="skip")
    (entry,) = [s for s in data.skipped if s.kind == "format-error"]
    assert entry.name == "S003C001P001R001A003" and "line 7" in entry.detail


def test_load_ntu_bad_folders_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="no \\*.skeleton file in .*empty_dir"):
        (tmp_path / "empty_dir").mkdir()
        load_ntu(tmp_path / "empty_dir", "cs", cache=None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_ntu(tmp_path / "missing", "cs", cache=None)
    with pytest.raises(ValueError, match="'cs' .*'cv'"):
        load_ntu(tmp_path, "cross", cache=None)
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "take1.skeleton").write_text("0\n")
    with pytest.raises(ValueError, match="'take1.skeleton' is not an NTU RGB\\+D sample name"):
        load_ntu(tmp_path / "odd", "cs", cache=None)
