"""A run folder is a transaction: one writer (a lock), every write atomic and ordered so that a kill
at any instant, or a full disk, loses nothing (minieleatt.runs, minieleatt.atomic, Trainer.fit)."""

import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from minieleatt import atomic, runs
from minieleatt.checkpoint import load_checkpoint
from minieleatt.cli import main

HOST = socket.gethostname()


def tiny(out, *extra, epochs=3):
    return ["train", "--train-per-class", "3", "--test-per-class", "1", "--hidden", "4", "--layers", "1",
            "--epochs", str(epochs), "--quiet", "--out", str(out), *extra]


def in_child(fn):
    """Run ``fn()`` in a forked child (no interpreter start-up); returns the child's pid and its wait status."""
    pid = os.fork()
    if pid == 0:                                             # the child: never returns into pytest
        code = 1
        try:
            code = fn() or 0
        finally:
            os._exit(code)
    return pid, os.waitpid(pid, 0)[1]


# ----------------------------------------------------------------------------- one writer per folder

def hold_lock(folder):
    """A child process that takes the folder's lock and waits for the word to let it go: (pid, release)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            with runs.RunLock(folder, log=lambda *a: None):
                os.write(ready_w, b"1")
                os.read(go_r, 1)
        finally:
            os._exit(0)
    assert os.read(ready_r, 1) == b"1"

    def release():
        os.write(go_w, b"1")
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
    return pid, release


def test_a_second_writer_is_refused_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "run"
    pid, release = hold_lock(out)
    try:
        assert json.loads((out / ".lock").read_text())["pid"] == pid
        assert main(tiny(out)) == 2
        err = capsys.readouterr().err
        assert f"{out} is in use by another run (process {pid} on {HOST}, since " in err
        assert "wait for it to end, or choose another --out" in err
        assert runs.run_files(out) == []                     # nothing written by the refused run
    finally:
        release()
    assert not out.exists()                                  # the holder made the folder for nothing: gone
    assert main(tiny(out, epochs=1)) == 0                    # free again
    assert not (out / ".lock").exists()


def test_a_stale_lock_of_a_killed_process_is_taken_over_and_said_so(tmp_path, capsys):
    out = tmp_path / "run"

    def take_and_die():
        runs.RunLock(out, log=lambda *a: None).acquire()
        os.kill(os.getpid(), signal.SIGKILL)

    pid, status = in_child(take_and_die)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert json.loads((out / ".lock").read_text())["pid"] == pid          # left behind
    assert main([w for w in tiny(out, epochs=1) if w != "--quiet"]) == 0
    said = capsys.readouterr().out
    assert f"took over the lock of {out} left by process {pid} on {HOST}" in said
    assert "which is no longer running (killed or crashed)" in said


def test_the_lock_is_reentrant_in_one_process_and_released_at_the_end(tmp_path):
    folder = tmp_path / "run"
    with runs.RunLock(folder, log=lambda *a: None):
        with runs.RunLock(folder, log=lambda *a: None):
            assert (folder / ".lock").exists()
        assert (folder / ".lock").exists()                   # the outer holder still holds it
    assert not folder.exists()


def run_cli(out, seed):
    return subprocess.Popen([sys.executable, "-m", "minieleatt", *tiny(out, "--seed", str(seed))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


CONCURRENT_PAIRS = 3


@pytest.mark.slow
def test_two_trainings_started_together_into_one_folder(tmp_path):
    outcomes = []
    for k in range(CONCURRENT_PAIRS):
        out = tmp_path / f"run{k}"
        procs = [run_cli(out, 5), run_cli(out, 6)]
        done = [(p, *p.communicate(timeout=600)) for p in procs]
        winners = [d for d in done if d[0].returncode == 0]
        losers = [d for d in done if d[0].returncode != 0]
        assert len(winners) == 1 and len(losers) == 1, [(d[0].returncode, d[2]) for d in done]
        winner, loser = winners[0], losers[0]
        assert loser[0].returncode == 2
        named = f"{out} is in use by another run (process {winner[0].pid} on {HOST}, since " in loser[2]
        finished_first = f"{out} already holds a run" in loser[2]          # it came after the winner's end
        assert named or finished_first, loser[2]
        outcomes.append("named" if named else "after")
        # one consistent run: every file from the winner's seed, every metrics row in its checkpoint
        seed = json.loads((out / "summary.json").read_text())["config"]["seed"]
        assert str(seed) in " ".join(winner[0].args)
        _, last = load_checkpoint(out / "last.npz")
        _, best = load_checkpoint(out / "best.npz")
        assert last["config"]["seed"] == best["config"]["seed"] == seed and last["epoch"] == 3
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        assert rows == last["history"]
        assert sorted(os.listdir(out)) == ["best.npz", "last.npz", "loss_curve.png", "metrics.jsonl",
                                           "summary.json"]
    print("concurrent pairs:", outcomes)


# ----------------------------------------------------------------------------- a kill at any instant

STAGES = ("begin", "half", "written", "renamed")
EPOCHS = 3
KILL_POINTS = ([f"{name}:{stage}:{n}" for n in range(1, EPOCHS + 1) for name in ("best.npz", "last.npz", "metrics.jsonl")
                for stage in STAGES]
               + [f"{name}:{stage}:1" for name in ("summary.json", "loss_curve.png") for stage in STAGES])


def cli_in_child(args, **env):
    def go():
        os.environ.update(env)
        atomic.reset_hooks()
        return main(args)
    return in_child(go)[1]


def snapshot(out):
    """Everything a run leaves that must not depend on interruptions (wall-clock seconds left out)."""
    def timeless(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    state = {}
    for name in ("last.npz", "best.npz"):
        arrays, meta = load_checkpoint(out / name)
        state[name] = ({k: (a.dtype.str, a.shape, a.tobytes()) for k, a in arrays.items()},
                       {**meta, "history": timeless(meta["history"])})
    state["metrics"] = timeless(json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines())
    summary = json.loads((out / "summary.json").read_text())
    state["summary"] = {k: v for k, v in summary.items() if k not in ("seconds", "environment")}
    state["files"] = sorted(os.listdir(out))
    return state


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert cli_in_child(tiny(out, epochs=EPOCHS)) == 0
    return snapshot(out)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_at_any_point_is_resumed_to_the_uninterrupted_run_bit_for_bit(point, uninterrupted, tmp_path):
    out = tmp_path / "run"
    status = cli_in_child(tiny(out, epochs=EPOCHS), **{atomic.KILL_AT: point})
    name, stage, n = point.split(":")
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        assert name == "best.npz" and os.WEXITSTATUS(status) == 0      # an epoch that did not improve: no write
        pytest.skip(f"{point}: not reached (the run improved fewer than {n} times)")
    assert (out / ".lock").exists()                                   # killed holding it
    assert cli_in_child(tiny(out, "--resume", epochs=EPOCHS)) == 0
    assert snapshot(out) == uninterrupted


# ----------------------------------------------------------------------------- a full disk

FULL_DISK_POINTS = ["best.npz:begin:1", "last.npz:half:2", "best.npz:written:2", "metrics.jsonl:begin:3",
                    "last.npz:renamed:3", "summary.json:half:1", "loss_curve.png:written:1"]


@pytest.mark.parametrize("point", FULL_DISK_POINTS)
def test_a_full_disk_is_one_line_and_resume_continues_exactly(point, uninterrupted, tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    name = point.split(":")[0]
    monkeypatch.setenv(atomic.FAIL_AT, point)
    atomic.reset_hooks()
    assert main(tiny(out, epochs=EPOCHS)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"minieleatt train: cannot write {out / name}: No space left on device")
    if name == "best.npz" and point.endswith(":1"):                   # nothing saved yet: nothing left behind
        assert not out.exists()
    else:
        assert err.rstrip().endswith(f"the last good checkpoint is intact: once that is fixed, continue with: "
                                     f"minieleatt {' '.join(tiny(out, epochs=EPOCHS))} --resume")
        assert load_checkpoint(out / "last.npz")[1]["epoch"] >= 1
        assert sorted(os.listdir(out)) == sorted(set(runs.run_files(out)) | ({"loss_curve.png"} & set(os.listdir(out))))
    monkeypatch.delenv(atomic.FAIL_AT)                                # space freed
    resume = [] if not out.exists() else ["--resume"]
    assert main(tiny(out, *resume, epochs=EPOCHS)) == 0
    assert snapshot(out) == uninterrupted
