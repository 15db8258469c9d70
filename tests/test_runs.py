"""Runs are never lost or silently changed: the output folder's rules, in the library and on the command line."""

import json
import os

import numpy as np
import pytest

from minieleatt import runs
from minieleatt.checkpoint import TEMP_PREFIX, TEMP_SUFFIX
from minieleatt.cli import main
from minieleatt.data.sources import load_splits
from minieleatt.errors import CheckpointError, RunFolderError
from minieleatt.train import TrainConfig, Trainer


@pytest.fixture(scope="module")
def splits():
    return load_splits("synthetic", n_train_per_class=8, n_test_per_class=2, seed=0, length=(6, 9), min_val=1)


def small(**kw):
    base = dict(hidden_size=6, num_layers=1, batch_size=16, epochs=2, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def trainer(splits, folder, log=None, **kw):
    return Trainer(small(**kw), splits.train, splits.val, out_dir=folder, progress=False,
                   log=log or (lambda *a: None), data_info=splits.settings)


def tiny_train(out, *extra):
    return ["train", "--layers", "1", "--hidden", "4", "--train-per-class", "4", "--test-per-class", "1",
            "--epochs", "1", "--quiet", "--out", str(out), *extra]


# ----------------------------------------------------------------------------- a folder that holds a run

def test_training_into_a_folder_that_holds_a_run_is_refused(splits, tmp_path):
    trainer(splits, tmp_path).fit()
    before = (tmp_path / "last.npz").read_bytes()
    with pytest.raises(RunFolderError, match=r"already holds a run \(last.npz, best.npz, metrics.jsonl\); continue "
                                             r"it with resume=True, or start again with overwrite=True"):
        trainer(splits, tmp_path).fit()
    assert (tmp_path / "last.npz").read_bytes() == before                 # untouched


def test_the_command_line_words_the_refusal_with_its_flags(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(tiny_train(out)) == 0
    capsys.readouterr()
    assert main(tiny_train(out)) == 2
    err = capsys.readouterr().err
    assert f"{out} already holds a run" in err and "pass --resume to continue it or --overwrite to start again" in err
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1
    assert main(tiny_train(out, "--resume", "--overwrite")) == 2
    assert "--resume and --overwrite exclude each other" in capsys.readouterr().err


def test_overwrite_moves_the_old_run_aside_and_says_so(splits, tmp_path):
    folder = tmp_path / "run"
    trainer(splits, folder).fit()
    old_last = (folder / "last.npz").read_bytes()
    said = []
    trainer(splits, folder, log=said.append, seed=1).fit(overwrite=True)
    assert (tmp_path / "run.old" / "last.npz").read_bytes() == old_last
    assert any(f"moved the previous run in {folder} aside to {folder}.old" in line for line in said)
    trainer(splits, folder, seed=2).fit(overwrite=True)
    assert (tmp_path / "run.old2").is_dir() and (tmp_path / "run.old").is_dir()


# ----------------------------------------------------------------------------- resume

def test_resume_without_a_checkpoint_is_an_error_naming_the_folder(splits, tmp_path, capsys):
    typo = tmp_path / "rnu"
    with pytest.raises(RunFolderError, match=f"nothing to resume in {typo}"):
        trainer(splits, typo).fit(resume=True)
    assert main(tiny_train(typo, "--resume")) == 2
    assert f"--resume: nothing to resume in {typo}" in capsys.readouterr().err
    assert not typo.exists()                                              # the typo made no folder
    typo.mkdir()
    (typo / "summary.json").write_text("{}")                              # a run's files, but no checkpoint
    with pytest.raises(RunFolderError, match=f"nothing to resume in {typo}: no checkpoint last.npz"):
        trainer(splits, typo).fit(resume=True)


def test_resume_refuses_other_settings_naming_each_difference(splits, tmp_path):
    trainer(splits, tmp_path).fit()
    with pytest.raises(CheckpointError, match=r"other settings: batch_size: checkpoint 16, now 8; lr: checkpoint "
                                              r"0.0025, now 0.01; seed: checkpoint 0, now 1"):
        trainer(splits, tmp_path, seed=1, lr=0.01, batch_size=8, epochs=3).fit(resume=True)
    other = load_splits("synthetic", n_train_per_class=8, n_test_per_class=2, seed=0, length=(6, 9), min_val=1,
                        motion=0.9)
    t = Trainer(small(epochs=3), other.train, other.val, out_dir=tmp_path, progress=False, log=lambda *a: None,
                data_info=other.settings)
    with pytest.raises(CheckpointError, match=r"other data: motion: checkpoint 0.5, now 0.9; train: checkpoint"):
        t.fit(resume=True)
    assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] == 2   # nothing trained


def test_resume_on_the_command_line_refuses_another_seed(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(tiny_train(out)) == 0
    assert main(tiny_train(out, "--resume", "--seed", "1")) == 2
    err = capsys.readouterr().err
    assert "seed: checkpoint 0, now 1" in err


def test_resume_accepts_more_epochs_and_refuses_fewer(splits, tmp_path):
    trainer(splits, tmp_path, epochs=2).fit()
    result = trainer(splits, tmp_path, epochs=3).fit(resume=True)
    assert result["epochs"] == 3 and [r["epoch"] for r in result["history"]] == [1, 2, 3]
    with pytest.raises(CheckpointError, match="has trained 3 epochs already; epochs=2 is fewer"):
        trainer(splits, tmp_path, epochs=2).fit(resume=True)


def test_resume_keeps_the_settings_the_run_chose_from_the_data(splits, tmp_path):
    first = trainer(splits, tmp_path, epochs=30)                 # patience left open: 6 and 10 for 30 epochs
    assert (first.config.lr_patience, first.config.early_stop) == (6, 10)
    first.fit()
    more = trainer(splits, tmp_path, epochs=60)                  # 60 epochs alone would choose 12 and 20
    more.fit(resume=True)
    assert (more.config.lr_patience, more.config.early_stop, more.config.epochs) == (6, 10, 60)


def test_resume_continues_an_early_stopped_run_when_given_more_epochs(splits, tmp_path, monkeypatch):
    from minieleatt import recipe

    # a run that learns nothing sits on the chance plateau, where early stopping waits (recipe.left_chance);
    # here the subject is resuming a run that did stop early, so the plateau is taken as left
    monkeypatch.setattr(recipe, "left_chance", lambda history, labels: True)
    first = trainer(splits, tmp_path, epochs=40, early_stop=1, lr=1e-9).fit()        # nothing improves: stops
    assert first["stopped_early"] and first["epochs"] < 40
    done = first["epochs"]
    said = []
    same = trainer(splits, tmp_path, log=said.append, epochs=40, early_stop=1, lr=1e-9).fit(resume=True)
    assert same["epochs"] == done and any("give more epochs than its 40" in line for line in said)
    said.clear()
    more = trainer(splits, tmp_path, log=said.append, epochs=45, early_stop=1, lr=1e-9).fit(resume=True)
    assert more["epochs"] > done
    assert any(f"had stopped early after epoch {done}; continuing it up to epoch 45" in line for line in said)


# ----------------------------------------------------------------------------- the folder itself

def test_a_wrong_or_unwritable_out_is_an_error_before_any_training(splits, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    with pytest.raises(RunFolderError, match="notes.txt is a file, not a folder"):
        trainer(splits, a_file).fit()
    assert main(tiny_train(a_file)) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root): no unwritable folder to test")
        assert main(tiny_train(locked / "run")) == 2
        assert "cannot write to the folder" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_a_folder_that_cannot_be_created_is_refused_before_the_data_are_loaded(tmp_path, capsys, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    loaded = []
    monkeypatch.setattr("minieleatt.cli._load_data", lambda args: loaded.append(args))
    assert main(tiny_train(a_file / "run")) == 2
    assert "cannot write to the folder" in capsys.readouterr().err and not loaded


def test_temporaries_of_a_killed_checkpoint_write_are_removed_on_the_next_start(splits, tmp_path):
    trainer(splits, tmp_path, epochs=1).fit()
    leftover = tmp_path / f"{TEMP_PREFIX}k1ll3d{TEMP_SUFFIX}"
    leftover.write_bytes(b"PK\x03\x04" + bytes(1000))                    # what a SIGKILL mid-write leaves
    (tmp_path / "metrics.jsonl.tmp").write_text('{"epoch": 1')
    keep = tmp_path / "my-notes.npz.tmp.txt"
    keep.write_text("not ours")
    said = []
    trainer(splits, tmp_path, log=said.append, epochs=2).fit(resume=True)
    assert not leftover.exists() and not (tmp_path / "metrics.jsonl.tmp").exists() and keep.exists()
    assert any("removed 2 temporary file(s) left by an interrupted checkpoint write" in line for line in said)


def test_default_output_folders_have_readable_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(tiny_train("x")[:-2]) == 0                                   # no --out
    assert (tmp_path / "runs" / "gru-m1-synthetic-s0" / "summary.json").exists()
    assert main(tiny_train("x")[:-2] + ["--attention-layers", "0", "--seed", "3", "--cell", "lstm"]) == 0
    assert (tmp_path / "runs" / "lstm-m0-synthetic-s3" / "last.npz").exists()
    assert "in runs/lstm-m0-synthetic-s3" in capsys.readouterr().out


def test_check_folder_changes_nothing_and_names_what_it_found(tmp_path):
    (tmp_path / "metrics.jsonl").write_text("")
    assert runs.run_files(tmp_path) == ["metrics.jsonl"]
    with pytest.raises(RunFolderError) as err:
        runs.check_folder(tmp_path)
    assert err.value.kind == "exists"
    assert runs.check_folder(tmp_path, overwrite=True) == ["metrics.jsonl"]
    assert (tmp_path / "metrics.jsonl").exists()


# ----------------------------------------------------------------------------- duplicate seeds, empty checks

def test_duplicate_seeds_are_refused(tmp_path, capsys):
    from minieleatt.experiment import check_seeds

    with pytest.raises(ValueError, match="seeds: 3 given more than once"):
        check_seeds([3, 1, 3])
    assert main(["compare", "--seeds", "3", "3", "--quiet", "--out", str(tmp_path / "cmp")]) == 2
    assert "seeds: 3 given more than once" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()                                  # refused before any work


@pytest.mark.parametrize("size", ["--H", "--T", "--B", "--D"])
def test_gradcheck_refuses_an_empty_check(size, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["gradcheck", size, "0"])
    assert exit_.value.code == 2
    assert "an empty check checks nothing" in capsys.readouterr().err


def test_compare_into_a_folder_with_a_comparison_needs_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "cmp"
    args = ["compare", "--layers", "1", "--hidden", "4", "--train-per-class", "4", "--test-per-class", "1",
            "--epochs", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    assert "already holds a run (results.json, models)" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0                                 # finished models: evaluated again
    first = json.loads((out / "results.json").read_text())["results"]
    assert main(args + ["--overwrite"]) == 0
    assert (tmp_path / "cmp.old" / "results.json").exists()
    again = json.loads((out / "results.json").read_text())["results"]
    assert [r["test_acc"] for r in again] == [r["test_acc"] for r in first]
    assert np.isfinite([r["test_loss"] for r in again]).all()
