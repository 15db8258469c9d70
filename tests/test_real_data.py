"""Real data end to end through the command line: UEA BasicMotions (bundled with aeon) and an NTU folder."""

import importlib.util
import json

import numpy as np
import pytest

from minieleatt.cli import main
from minieleatt.data import write_skeleton
from minieleatt.data.ntu import Body

HAVE_UEA = any(importlib.util.find_spec(p) is not None for p in ("aeon", "sktime"))


@pytest.mark.skipif(not HAVE_UEA, reason="neither aeon nor sktime (which bundle BasicMotions) is installed")
def test_eleatt_gru_learns_basic_motions_to_90_percent_with_the_default_recipe(tmp_path):
    assert main(["train", "--data", "ts", "--ts-name", "BasicMotions", "--layers", "2", "--hidden", "32",
                 "--quiet", "--out", str(tmp_path)]) == 0            # a smaller network; the rest is the recipe's
    summary = json.loads((tmp_path / "summary.json").read_text())
    config = summary["config"]
    assert config["attention_layers"] == 2                         # the default: every layer has the gate
    assert (config["batch_size"], config["epochs"], config["readout"]) == (8, 200, "mean+last")
    assert summary["watched"] == "training loss (smoothed)" and "no validation set" in summary["notes"][0]
    assert summary["test_acc"] >= 0.90, summary


def _write_ntu_folder(folder, rng):
    """Two actions told apart by which hand moves, 3 subjects, 2 cameras; plus one file with no body."""
    for subject in (1, 2, 3):
        for camera in (1, 2):
            for action in (1, 2):
                for rep in (1, 2):
                    T = int(rng.integers(20, 30))
                    joints = np.tile(rng.normal(size=(25, 3)) * 0.2, (T, 1, 1))
                    hand = 7 if action == 1 else 11
                    joints[:, hand, 1] += np.sin(np.linspace(0, 6, T))
                    frames = [[Body(72057594037931101 + subject, np.zeros(9),
                                    np.c_[joints[t], np.zeros((25, 9))])] for t in range(T)]
                    write_skeleton(folder / f"S001C{camera:03d}P{subject:03d}R{rep:03d}A{action:03d}.skeleton",
                                   frames)
    write_skeleton(folder / "S001C001P001R003A001.skeleton", [[] for _ in range(5)])


@pytest.mark.parametrize("protocol", ["cs", "cv"])
def test_train_on_an_ntu_folder(tmp_path, protocol, capsys):
    data = tmp_path / "skeletons"
    data.mkdir()
    _write_ntu_folder(data, np.random.default_rng(0))
    out = tmp_path / "run"
    assert main(["train", "--data", "ntu", "--data-dir", str(data), "--protocol", protocol, "--layers", "1",
                 "--hidden", "8", "--epochs", "2", "--batch-size", "4", "--quiet", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "1 files skipped" in summary["data"]
    assert 0.0 <= summary["test_acc"] <= 1.0
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", "ntu", "--data-dir", str(data), "--protocol", "xs", "--quiet"])
    assert exit_.value.code == 2
    assert "invalid choice: 'xs'" in capsys.readouterr().err
