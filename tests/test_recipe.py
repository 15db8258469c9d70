"""The default recipe: settings from the size of the data, the validation rule, the end-of-run warning,
and the recipe end to end on a small real set."""

import importlib.util
import math

import numpy as np
import pytest

from minieleatt import recipe
from minieleatt.data.batching import average_windows, validation_holdout
from minieleatt.data.sources import load_splits
from minieleatt.train import TrainConfig, Trainer

HAVE_UEA = any(importlib.util.find_spec(p) is not None for p in ("aeon", "sktime"))


@pytest.mark.parametrize("n, batch", [(20, 8), (40, 8), (270, 8), (500, 16), (1000, 32), (1900, 64), (50000, 64)])
def test_batch_size_is_the_power_of_two_nearest_n_over_30_within_8_and_64(n, batch):
    assert recipe.default_batch_size(n) == batch


@pytest.mark.parametrize("n, batch, epochs", [(40, 8, 200), (50, 8, 143), (100, 8, 77), (1900, 64, 34), (3, 8, 200),
                                              (270, 8, 30), (50000, 64, 30)])
def test_epochs_aim_for_about_1000_updates_within_30_and_200(n, batch, epochs):
    assert recipe.default_epochs(n, batch) == epochs


@pytest.mark.parametrize("batch, lr", [(64, 0.005), (256, 0.005), (16, 0.0025), (8, 0.005 / 8 ** 0.5)])
def test_learning_rate_follows_the_square_root_of_the_batch_below_64(batch, lr):
    assert recipe.default_lr(batch) == pytest.approx(lr)


def test_patience_is_a_fifth_and_a_third_of_the_epochs():
    assert recipe.default_patience(30) == (6, 10) and recipe.default_patience(200) == (40, 66)
    assert recipe.default_patience(10) == (5, 10)


def test_long_sequences_are_averaged_over_windows():
    assert recipe.length_window(1460, 64) == 23 and recipe.length_window(64, 64) == 1
    assert recipe.length_window(1460, 0) == 1                                 # 0: off
    x = np.arange(14.0).reshape(7, 2)
    short = average_windows([x], 3)[0]
    np.testing.assert_allclose(short, [[2, 3], [8, 9], [12, 13]])             # the last window holds one step
    assert average_windows([x], 1)[0] is x


def test_validation_set_only_when_it_means_something():
    labels = np.repeat(np.arange(4), 10)                                      # 40 sequences, as BasicMotions
    held, note = validation_holdout(labels, 0.1, np.random.default_rng(0), min_size=30)
    assert not held.any() and "4 of the 40 training sequences" in note and "fewer than 30" in note
    labels = np.repeat(np.arange(10), 40)
    held, note = validation_holdout(labels, 0.1, np.random.default_rng(0), min_size=30)
    assert held.sum() == 40 and note is None
    assert all(held[labels == c].sum() == 4 for c in range(10))              # stratified


def test_chance_warning_names_the_likely_cause():
    labels = np.repeat([0, 1, 2], 10)
    flat = [{"epoch": e, "train_loss": math.log(3), "lr": 0.005} for e in range(1, 41)]
    said = recipe.chance_warning(0.36, labels, flat, min_lr=1e-5)
    assert "near chance" in said and "never went below 0.9 x 1.099" in said and "chance plateau" in said
    cut = [dict(row, lr=1e-5 if row["epoch"] >= 12 else 0.005) for row in flat]
    assert "cut the learning rate to its floor 1e-05 by epoch 12" in recipe.chance_warning(0.36, labels, cut, 1e-5)
    fell = [dict(row, train_loss=0.2) for row in flat]
    assert "fell but the accuracy did not" in recipe.chance_warning(0.36, labels, fell, 1e-5)
    assert recipe.chance_warning(0.8, labels, flat, 1e-5) is None


def test_the_chance_loss_is_the_entropy_of_the_class_shares_and_the_plateau_ends_below_0_9_of_it():
    assert recipe.chance_loss([0, 1, 2] * 5) == pytest.approx(math.log(3))
    assert recipe.chance_loss([0, 0, 0, 1]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    labels = [0, 1] * 10
    flat = [{"train_loss": math.log(2)}, {"train_loss": 0.95 * math.log(2)}]
    assert not recipe.left_chance(flat, labels)
    lucky = flat + [{"train_loss": 0.8 * math.log(2)}, {"train_loss": math.log(2)}]
    assert not recipe.left_chance(lucky, labels)           # one lucky epoch of a few noisy batches is not enough
    assert recipe.left_chance(flat + [{"train_loss": 0.8 * math.log(2)}] * 4, labels)


def _scripted_run(losses, monkeypatch, **settings):
    """A Trainer whose epochs report the training losses ``losses`` in turn (no validation set)."""
    from types import SimpleNamespace
    rng = np.random.default_rng(0)
    data = SimpleNamespace(sequences=[rng.normal(size=(5, 1)) for _ in range(20)], labels=np.array([0, 1] * 10))
    t = Trainer(TrainConfig(hidden_size=4, num_layers=1, epochs=len(losses), lr=0.01, seed=0, **settings), data,
                progress=False, log=lambda *a: None)
    script = iter(losses)
    monkeypatch.setattr(t, "train_epoch", lambda: (next(script), 0.5))
    return t, t.fit()


def test_the_schedule_and_early_stopping_wait_until_the_loss_leaves_the_chance_plateau(monkeypatch):
    flat, falling, low = [math.log(2)] * 30, list(np.linspace(0.68, 0.3, 10)), [0.3] * 40
    t, result = _scripted_run(flat + falling + low, monkeypatch, lr_patience=3, early_stop=6)
    rows = result["history"]
    assert all(row["lr"] == 0.01 for row in rows[:31])         # no cut on the plateau: 30 flat epochs, patience 3
    assert len(rows) > 40 and result["best_epoch"] > 30        # no stop there either: the fall is reached
    assert result["stopped_early"] and len(rows) < 80          # after it, both count again
    assert min(row["lr"] for row in rows) < 0.01


def test_a_run_that_never_leaves_the_plateau_runs_its_epochs_out_and_says_so_once(monkeypatch):
    said = []
    from types import SimpleNamespace
    rng = np.random.default_rng(0)
    data = SimpleNamespace(sequences=[rng.normal(size=(5, 1)) for _ in range(20)], labels=np.array([0, 1] * 10))
    t = Trainer(TrainConfig(hidden_size=4, num_layers=1, epochs=25, lr=0.01, seed=0, lr_patience=2, early_stop=3),
                data, progress=False, log=said.append)
    monkeypatch.setattr(t, "train_epoch", lambda: (math.log(2), 0.5))
    monkeypatch.setattr(t, "_evaluate", lambda data, batch_size=256: (math.log(2), 0.5))
    result = t.fit()
    assert len(result["history"]) == 25 and not result["stopped_early"]
    assert all(row["lr"] == 0.01 for row in result["history"])
    assert "chance plateau for all its 25 epochs" in result["warning"]
    assert sum(line.startswith("warning: ") for line in said) == 1


def test_a_run_that_learns_nothing_says_so_at_the_end():
    splits = load_splits("synthetic", n_train_per_class=4, n_test_per_class=1, seed=0, length=(6, 8))
    said = []
    t = Trainer(TrainConfig(hidden_size=4, num_layers=1, epochs=2, lr=1e-5, seed=0), splits.train, splits.val,
                progress=False, log=said.append)
    result = t.fit()
    assert result["warning"] is not None and "near chance" in result["warning"]
    assert any(line.startswith("warning: ") for line in said)


def test_a_too_small_validation_set_goes_back_into_training_and_the_run_watches_the_training_loss():
    splits = load_splits("synthetic", n_train_per_class=6, n_test_per_class=1, seed=0, length=(6, 8))
    assert len(splits.val.labels) == 0 and len(splits.train.labels) == 60
    assert "too few to mean anything" in splits.notes[0]
    said = []
    t = Trainer(TrainConfig(hidden_size=4, num_layers=1, epochs=3, seed=0), splits.train, splits.val,
                progress=False, log=said.append)
    assert t.config.batch_size == 8 and t.config.readout == "mean" and t.config.augment   # skeletons
    result = t.fit()
    assert result["watched"] == "training loss (smoothed)" and result["best_val_acc"] is None
    assert all(row["val_loss"] is None for row in result["history"])
    watched = [row["watched"] for row in result["history"]]
    losses = [row["train_loss"] for row in result["history"]]
    assert watched[0] == losses[0] and watched[1] == pytest.approx(0.7 * losses[0] + 0.3 * losses[1])
    assert "watching the training loss (smoothed)" in said[0]


@pytest.mark.skipif(not HAVE_UEA, reason="neither aeon nor sktime (which bundle the UEA files) is installed")
def test_the_recipe_on_a_small_real_set_chooses_from_its_size_and_learns():
    splits = load_splits("ts", name="UnitTest")                      # 20 training series of 24 steps, 2 classes
    assert len(splits.val.labels) == 0 and "no validation set" in splits.notes[0]
    t = Trainer(TrainConfig(hidden_size=32, num_layers=2, seed=0), splits.train, splits.val, progress=False,
                log=lambda *a: None)                            # a smaller network than the default, for speed
    c = t.config
    assert (c.batch_size, c.epochs, c.readout, c.augment, c.attention_layers) == (8, 200, "mean+last", False, 2)
    assert c.lr == pytest.approx(0.005 / 8 ** 0.5) and (c.lr_patience, c.early_stop) == (40, 66)
    result = t.fit()
    assert result["warning"] is None and result["train_acc"] > 0.9
    assert t.evaluate(splits.test)[1] >= 0.8


def test_resolve_fills_only_what_was_left_open():
    c = recipe.resolve(TrainConfig(), 40, skeleton=False)
    assert (c.batch_size, c.epochs, c.lr_patience, c.early_stop) == (8, 200, 40, 66)
    assert (c.readout, c.augment, c.attention_layers) == ("mean+last", False, 3)
    assert c.lr == pytest.approx(recipe.default_lr(8))
    s = recipe.resolve(TrainConfig(), 1900, skeleton=True)
    assert (s.batch_size, s.epochs, s.lr, s.readout, s.augment) == (64, 34, 0.005, "mean", True)
    given = recipe.resolve(TrainConfig(batch_size=16, epochs=7, lr=0.01, lr_patience=0, early_stop=0,
                                       readout="mean", attention_layers=1), 40, skeleton=False)
    assert (given.batch_size, given.epochs, given.lr, given.lr_patience, given.early_stop, given.readout,
            given.attention_layers) == (16, 7, 0.01, 0, 0, "mean", 1)
