"""A run is a model: trained from the command line on a UCR text pair, loaded, applied to new data."""

import csv
import json

import numpy as np
import pytest

from minieleatt import load_run
from minieleatt.checkpoint import load_checkpoint, save_checkpoint
from minieleatt.cli import main
from minieleatt.data.ucr import read_ucr_file
from minieleatt.errors import CheckpointError, DataFormatError


def ucr_pair(folder, n_train=40, n_test=30, seed=0):
    """A 2-class univariate UCR text pair: sines and ramps of unequal lengths (NaN-padded), longer
    than the recipe's 64 steps, so that the run averages windows, with a missing value here and there."""
    rng = np.random.default_rng(seed)
    paths = []
    for split, n in (("TRAIN", n_train), ("TEST", n_test)):
        lines = []
        for i in range(n):
            label = ("up", "wave")[i % 2]
            T = int(rng.integers(90, 150))
            t = np.linspace(0, 1, T)
            x = (t if label == "up" else np.sin(8 * t)) * 3 + 10 + rng.normal(0, 1.0, T)
            if i % 7 == 3:
                x[T // 2] = np.nan                        # a missing value
            values = list(x) + [np.nan] * (150 - T)       # NaN padding to a common width
            lines.append("\t".join([label] + ["NaN" if np.isnan(v) else f"{v:.5f}" for v in values]))
        path = folder / f"Toy_{split}.tsv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    train, test = ucr_pair(folder)
    out = folder / "run"
    code = main(["train", "--data", "ts", "--train-file", str(train), "--test-file", str(test), "--out", str(out),
                 "--hidden", "8", "--layers", "2", "--epochs", "4", "--quiet"])
    assert code == 0
    return out, train, test


def test_predict_prints_exactly_the_runs_test_accuracy_and_load_run_agrees_with_the_csv(toy_run, tmp_path, capsys):
    out, _, test = toy_run
    summary = json.loads((out / "summary.json").read_text())
    csv_path = tmp_path / "p.csv"
    capsys.readouterr()
    assert main(["predict", "--run", str(out), "--test-file", str(test), "--out", str(csv_path)]) == 0
    printed = capsys.readouterr().out
    n = len(read_ucr_file(test).cases)
    correct = int(round(summary["test_acc"] * n))
    assert f"test accuracy {100 * summary['test_acc']:.1f} % ({correct} of {n} cases" in printed
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == ["index", "predicted", "label", "p(up)", "p(wave)"]
    model = load_run(out)
    data = read_ucr_file(test)
    assert model.predict(data.cases).tolist() == [r["predicted"] for r in rows]
    assert model.evaluate(data.cases, data.labels)["accuracy"] == summary["test_acc"]
    proba = model.predict_proba(data.cases)
    assert np.allclose(proba.sum(axis=1), 1) and np.allclose(
        proba, [[float(r["p(up)"]), float(r["p(wave)"])] for r in rows], atol=1e-5)


def test_the_checkpoint_holds_what_prediction_needs(toy_run):
    out, _, _ = toy_run
    _, meta = load_checkpoint(out / "best.npz")
    info = meta["model"]
    assert info["classes"] == ["up", "wave"]
    assert info["window"] == 3 and info["readout"] == "mean+last" and info["dtype"] == "float32"
    assert len(info["preprocessing"]["normalizer"]["mean"]) == 1 and info["library_version"]
    model = load_run(out)
    assert model.window_ == 3 and model.classes_.tolist() == ["up", "wave"] and model.n_channels_ == 1


def test_every_input_form_gives_the_same_predictions(toy_run):
    out, _, test = toy_run
    model = load_run(out)
    cases = read_ucr_file(test).cases                      # list of (T_i, 1)
    expected = model.predict(cases)
    width = max(len(c) for c in cases)
    padded = np.full((len(cases), width), np.nan)
    for i, c in enumerate(cases):
        padded[i, : len(c)] = c[:, 0]
    assert model.predict(padded).tolist() == expected.tolist()                     # (n, T) univariate
    assert model.predict(padded[:, None, :]).tolist() == expected.tolist()         # aeon's (n, C, T)
    assert model.predict([c.T for c in cases]).tolist() == expected.tolist()       # list of (C, T_i)
    att = model.attention(cases)
    assert [a.shape for a in att] == [(int(np.ceil(len(c) / 3)), 1) for c in cases]
    assert all(((a > 0) & (a < 1)).all() for a in att)                             # sigmoid responses


def test_a_case_with_other_channels_is_refused(toy_run):
    model = load_run(toy_run[0])
    with pytest.raises(ValueError, match="model takes 1 channels"):
        model.predict(np.ones((2, 3, 10)))


def test_a_checkpoint_of_an_older_version_says_what_it_lacks(toy_run, tmp_path):
    out, _, test = toy_run
    arrays, meta = load_checkpoint(out / "best.npz")
    old = tmp_path / "old.npz"
    save_checkpoint(old, arrays, {k: v for k, v in meta.items() if k not in ("model", "format", "version")})
    with pytest.raises(CheckpointError, match="lacks the class names, the normaliser's statistics") as err:
        load_run(old)
    assert str(old) in str(err.value) and "allow_incomplete=True" in str(err.value)
    model = load_run(old, allow_incomplete=True)
    assert model.classes_.tolist() == [0, 1] and model.window_ == 3 and model.normalizer_ is None


def test_load_run_explains_folders_without_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_run(tmp_path)
    (tmp_path / "models" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="comparison of several models"):
        load_run(tmp_path)


def test_predict_on_a_file_without_labels_writes_predictions_only(toy_run, tmp_path, capsys):
    out, _, test = toy_run
    cases = read_ucr_file(test).cases
    X = np.full((len(cases), 1, 150), np.nan)
    for i, c in enumerate(cases):
        X[i, 0, : len(c)] = c[:, 0]
    np.savez(tmp_path / "new.npz", X=X)
    csv_path = tmp_path / "p.csv"
    assert main(["predict", "--run", str(out), "--test-file", str(tmp_path / "new.npz"), "--out",
                 str(csv_path)]) == 0
    assert "has no labels" in capsys.readouterr().out
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == ["index", "predicted", "p(up)", "p(wave)"] and len(rows) == len(cases)
    assert main(["predict", "--run", str(out), "--test-file", str(tmp_path / "new.npz"), "--out",
                 str(csv_path)]) == 2                                   # an existing --out is kept
    assert "--overwrite" in capsys.readouterr().err


def test_predict_refuses_malformed_files_and_other_channel_counts(toy_run, tmp_path, capsys):
    out, _, _ = toy_run
    bad = tmp_path / "bad.tsv"
    bad.write_text("up\t1\t2\nwave\t1\tx\n")
    assert main(["predict", "--run", str(out), "--test-file", str(bad), "--out", str(tmp_path / "p.csv")]) == 2
    assert f"{bad}, line 2: value 2 is not a number" in capsys.readouterr().err
    np.savez(tmp_path / "wide.npz", X=np.ones((3, 2, 20)))
    assert main(["predict", "--run", str(out), "--test-file", str(tmp_path / "wide.npz")]) == 2
    assert "has 2 channel(s), but the run" in capsys.readouterr().err
    with pytest.raises(DataFormatError):
        read_ucr_file(bad)


def test_attention_writes_the_table_and_the_figures(toy_run, tmp_path, capsys):
    out, _, test = toy_run
    folder = tmp_path / "att"
    assert main(["attention", "--run", str(out), "--test-file", str(test), "--out", str(folder), "--case", "2"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["attention_by_class.csv", "attention_case_2.png", "attention_channels.png",
                     "attention_classes.png"]
    rows = list(csv.reader((folder / "attention_by_class.csv").open()))
    assert rows[0] == ["class", "cases", "channel 1"] and [r[0] for r in rows[1:]] == ["up", "wave"]
    att = load_run(out).attention(read_ucr_file(test).cases)
    labels = np.array([0 if lab == "up" else 1 for lab in read_ucr_file(test).labels])
    expected = np.mean([a.mean() for a, y in zip(att, labels) if y == 0])
    assert float(rows[1][2]) == pytest.approx(expected, rel=1e-5)
    assert main(["attention", "--run", str(out), "--test-file", str(test), "--case", "99"]) == 2
    assert "--case 99" in capsys.readouterr().err
