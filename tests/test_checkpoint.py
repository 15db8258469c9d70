import os
import zipfile

import numpy as np
import pytest

from minieleatt import checkpoint
from minieleatt.checkpoint import load_checkpoint, save_checkpoint
from minieleatt.errors import CheckpointError


def test_round_trip_without_pickle(tmp_path):
    path = tmp_path / "c.npz"
    arrays = {"param.W": np.arange(6.0).reshape(2, 3), "optim.m.W": np.ones(3, np.float32)}
    meta = {"epoch": 3, "rng": {"state": {"state": 2 ** 100, "inc": 7}}, "best": float("-inf")}
    save_checkpoint(path, arrays, meta)
    with np.load(path, allow_pickle=False) as f:           # a plain .npz that needs no pickle
        assert "meta" in f.files
    got, got_meta = load_checkpoint(path)
    assert set(got) == set(arrays)
    for k in arrays:
        np.testing.assert_array_equal(got[k], arrays[k])
        assert got[k].dtype == arrays[k].dtype
    assert got_meta["epoch"] == 3 and got_meta["rng"]["state"]["state"] == 2 ** 100
    assert got_meta["best"] == float("-inf")


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": np.ones(1000)}, {"epoch": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"c\.npz: truncated or corrupt checkpoint"):
        load_checkpoint(path)
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match=r"c\.npz: not a minieleatt checkpoint \(not an \.npz archive\)"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.npz")


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.ones(2))
    with pytest.raises(CheckpointError, match="not a minieleatt checkpoint"):
        load_checkpoint(path)


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    save_checkpoint(path, {"a": np.zeros(3)}, {"epoch": 1})
    before = path.read_bytes()

    def crash_midway(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.np, "savez", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"a": np.ones(3)}, {"epoch": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.npz"]             # no temporary file left behind
    monkeypatch.undo()
    arrays, meta = load_checkpoint(path)
    assert meta["epoch"] == 1 and not arrays["a"].any()
    assert zipfile.is_zipfile(path)
