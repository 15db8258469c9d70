"""The training loop: learning on easy data, exact resume, checkpoints, NaN handling, bad input."""

import json

import numpy as np
import pytest

from minieleatt.data.sources import Dataset, load_splits
from minieleatt.errors import CheckpointError, TrainingError
from minieleatt.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def splits():
    return load_splits("synthetic", n_train_per_class=12, n_test_per_class=4, seed=0, length=(8, 14), min_val=1)


def small(**kw):
    base = dict(hidden_size=8, num_layers=2, attention_layers=1, batch_size=16, epochs=3, seed=0, lr=0.01)
    base.update(kw)
    return TrainConfig(**base)


def params_of(trainer):
    return {k: v.copy() for k, v in trainer.net.parameters().items()}


def test_resumed_run_ends_with_exactly_the_parameters_of_an_uninterrupted_one(splits, tmp_path):
    full = Trainer(small(epochs=4, early_stop=0), splits.train, splits.val, out_dir=tmp_path / "full", progress=False,
                   log=lambda *a: None)
    full.fit()
    full_last = np.load(tmp_path / "full" / "last.npz")

    part = Trainer(small(epochs=2, early_stop=0), splits.train, splits.val, out_dir=tmp_path / "part", progress=False,
                   log=lambda *a: None)
    part.fit()
    resumed = Trainer(small(epochs=4, early_stop=0), splits.train, splits.val, out_dir=tmp_path / "part",
                      progress=False, log=lambda *a: None)
    resumed.fit(resume=True)
    part_last = np.load(tmp_path / "part" / "last.npz")
    keys = [k for k in full_last.files if k.startswith("a/")]
    assert any(k.startswith("a/optim.") for k in keys)
    for k in keys:
        np.testing.assert_array_equal(part_last[k], full_last[k], err_msg=k)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    lines = (tmp_path / "part" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]


def test_seeded_runs_are_reproducible_and_learn(splits):
    a = Trainer(small(epochs=6, num_layers=1, hidden_size=16, lr=0.02, dropout=0.0, augment=False), splits.train,
                splits.val, progress=False, log=lambda *a: None)
    ra = a.fit()
    b = Trainer(small(epochs=6, num_layers=1, hidden_size=16, lr=0.02, dropout=0.0, augment=False), splits.train,
                splits.val, progress=False, log=lambda *a: None)
    b.fit()
    for k, v in params_of(a).items():
        np.testing.assert_array_equal(v, params_of(b)[k])
    losses = [r["train_loss"] for r in ra["history"]]
    assert losses[-1] < 0.8 * losses[0]


def test_best_checkpoint_is_kept_and_restored(splits, tmp_path):
    t = Trainer(small(epochs=4), splits.train, splits.val, out_dir=tmp_path, progress=False, log=lambda *a: None)
    result = t.fit()
    assert (tmp_path / "best.npz").exists() and (tmp_path / "last.npz").exists()
    best = np.load(tmp_path / "best.npz")
    for k, v in t.net.parameters().items():
        np.testing.assert_array_equal(v, best[f"a/param.{k}"])
    best_row = min(result["history"], key=lambda r: r["val_loss"])       # the watched number: validation loss
    assert result["watched"] == "validation loss" and all(r["watched"] == r["val_loss"] for r in result["history"])
    assert result["best_epoch"] == best_row["epoch"] and result["best_val_acc"] == best_row["val_acc"]


def test_checkpoint_of_another_architecture_is_refused(splits, tmp_path):
    Trainer(small(epochs=1), splits.train, splits.val, out_dir=tmp_path, progress=False, log=lambda *a: None).fit()
    other = Trainer(small(epochs=2, hidden_size=9), splits.train, splits.val, progress=False, log=lambda *a: None)
    with pytest.raises(CheckpointError, match=r"different architecture \(hidden_size: checkpoint 8, this model 9\)"):
        other.load(tmp_path / "last.npz")
    with pytest.raises(CheckpointError, match=r"other settings: hidden_size: checkpoint 8, now 9"):
        Trainer(small(epochs=2, hidden_size=9), splits.train, splits.val, out_dir=tmp_path, progress=False,
                log=lambda *a: None).fit(resume=True)
    data = (tmp_path / "last.npz").read_bytes()
    (tmp_path / "last.npz").write_bytes(data[:200])
    same = Trainer(small(epochs=2), splits.train, splits.val, out_dir=tmp_path, progress=False, log=lambda *a: None)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        same.fit(resume=True)


def test_nan_loss_stops_training_with_a_clear_message(splits):
    t = Trainer(small(epochs=2), splits.train, splits.val, progress=False, log=lambda *a: None)
    t.net.fc["W"][...] = np.inf
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, batch 1 .*smaller lr"):
        t.fit()


def test_bad_data_and_settings(splits):
    tr = splits.train
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        Trainer(small(batch_size=0), tr, splits.val)
    with pytest.raises(ValueError, match="lr_patience must be an integer >= 0"):
        Trainer(small(lr_patience=-1), tr, splits.val)
    with pytest.raises(ValueError, match="empty dataset"):
        Trainer(small(), Dataset([], np.zeros(0, np.int64), ()), None)
    bad_labels = Dataset(tr.sequences, np.where(tr.labels == 0, 99, tr.labels), tr.class_names)
    with pytest.raises(ValueError, match=r"label 99 of sequence \d+ is outside 0..9 \(10 classes\)"):
        Trainer(small(), bad_labels, splits.val)
    wrong_rank = Dataset([s[None] for s in tr.sequences], tr.labels, tr.class_names)
    with pytest.raises(ValueError, match=r"sequence 0 has shape \(1, \d+, 75\), expected \(T_i, C\)"):
        Trainer(small(), wrong_rank, splits.val)
    with pytest.raises(ValueError, match="unknown training settings"):
        TrainConfig.from_dict({"lr": 0.1, "learning_rate": 0.1})


def test_predict_agrees_with_evaluate(splits):
    t = Trainer(small(epochs=2), splits.train, splits.val, progress=False, log=lambda *a: None)
    t.fit()
    preds = t.predict(splits.test, batch_size=7)
    assert preds.shape == splits.test.labels.shape and preds.dtype.kind == "i"
    assert (preds == splits.test.labels).mean() == pytest.approx(t.evaluate(splits.test)[1])


def test_attention_per_class(splits):
    t = Trainer(small(epochs=1), splits.train, splits.val, progress=False, log=lambda *a: None)
    att = t.class_attention(splits.test)
    assert att.shape == (len(splits.class_names), 75)
    assert ((att > 0) & (att < 1)).all()
    no_gate = Trainer(small(epochs=1, attention_layers=0), splits.train, splits.val, progress=False)
    with pytest.raises(ValueError, match="no attention gate"):
        no_gate.class_attention(splits.test)


def test_long_sequences_are_averaged_for_training_and_evaluation_alike(splits):
    from minieleatt.data.batching import average_windows, pad_sequences
    from minieleatt.nn import softmax_cross_entropy

    t = Trainer(small(epochs=1, max_length=4), splits.train, splits.val, progress=False, log=lambda *a: None)
    longest = max(len(s) for s in splits.train.sequences)
    assert t.window == -(-longest // 4) > 1 and max(len(s) for s in t.train_data.sequences) <= 4
    assert t.data_info["window"] == t.window
    x, mask = pad_sequences(average_windows(splits.test.sequences, t.window))
    logits, _ = t.net.forward(x, mask)
    loss, _ = softmax_cross_entropy(logits, splits.test.labels)
    assert t.evaluate(splits.test)[0] == pytest.approx(loss, rel=1e-5)       # the test set, averaged the same way
    np.testing.assert_array_equal(t.predict(splits.test), logits.argmax(axis=1))


def test_the_end_of_run_warning_is_said_once_and_no_progress_bar_off_a_terminal(tmp_path, capsys):
    from minieleatt.cli import main
    assert main(["train", "--layers", "1", "--hidden", "4", "--train-per-class", "4", "--test-per-class", "1",
                 "--epochs", "2", "--lr", "1e-6", "--out", str(tmp_path / "run")]) == 0
    said = capsys.readouterr()
    text = said.out + said.err
    assert text.count("near chance") == 1                      # the run's log says it; the command not again
    assert "epoch   1  train loss" in said.out                  # plain epoch lines
    assert "batch/s" not in said.err and "\r" not in said.err  # pytest's capture is no terminal: no tqdm frames
