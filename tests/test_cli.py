import json
import sys

import pytest

from minieleatt.cli import main


def test_gradcheck_command_prints_a_table_and_exits_0(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "24/24 configurations pass" in out
    rows = [line for line in out.splitlines() if line.rstrip().endswith(("pass", "FAIL"))]
    assert len(rows) > 150 and not any(r.endswith("FAIL") for r in rows)
    assert any("gru/reset-after attention=softmax mask=on" in r and " b_hn " in r for r in rows)


def test_gradcheck_exits_non_zero_on_a_failure_of_the_reference(capsys, monkeypatch):
    from minieleatt import functional
    monkeypatch.setattr(functional.lstm, "tanh_grad_from_output", lambda t: 1 - t)   # a bug in the reference LSTM
    assert main(["gradcheck", "--impl", "reference"]) == 1
    out = capsys.readouterr().out
    assert "impl=reference" in out and "FAIL" in out and "worst tensor" in out
    assert main(["gradcheck", "--impl", "auto"]) == 0          # the fast path does not use the reference
    assert "impl=auto (fast)" in capsys.readouterr().out


@pytest.mark.parametrize("impl", ["fast", "fused"])
def test_gradcheck_checks_the_implementation_it_is_given(impl, capsys, monkeypatch):
    from minieleatt import implementations
    fast_backward = implementations._BACKWARD[impl]["gru"]

    def planted(dhs, cache, dh_T=None):                  # a wrong gradient of W_x from that implementation
        dx, dh0, grads = fast_backward(dhs, cache, dh_T)
        return dx, dh0, {**grads, "W_x": grads["W_x"] * 1.01}
    monkeypatch.setitem(implementations._BACKWARD[impl], "gru", planted)
    assert main(["gradcheck", "--impl", impl]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "12/24 configurations pass" in out      # the 12 GRU configurations fail
    assert main(["gradcheck", "--impl", "reference"]) == 0


def test_gradcheck_on_gpu_without_one_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert main(["gradcheck", "--device", "gpu"]) == 2
    assert "needs CuPy, which is not installed" in capsys.readouterr().err


def test_train_and_resume_end_to_end_on_tiny_synthetic_data(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--cell", "lstm", "--attention-layers", "1", "--layers", "2", "--hidden", "8",
            "--train-per-class", "6", "--test-per-class", "2", "--epochs", "2", "--quiet", "--out", str(out)]
    assert main(args) == 0
    assert "test accuracy" in capsys.readouterr().out
    for name in ("last.npz", "best.npz", "metrics.jsonl", "summary.json", "loss_curve.png"):
        assert (out / name).exists(), name
    args[args.index("--epochs") + 1] = "3"
    assert main(args + ["--resume"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 3
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3


def test_compare_end_to_end_writes_the_table_and_three_figures(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "--hidden", "8", "--layers", "2", "--train-per-class", "6", "--test-per-class", "2",
                 "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in ("2-GRU", "1-EleAtt-GRU + 1-GRU", "2-EleAtt-GRU"):
        assert f"| {label} |" in printed
    for name in ("results.md", "results.json", "loss_curves.png", "accuracy.png", "attention_skeleton.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())["results"]
    assert [r["attention_layers"] for r in results] == [0, 1, 2]
    assert results[0]["attention_ratio"] is None and results[2]["attention_ratio"] > 0


def test_compare_cells_with_and_without_the_gate(tmp_path, capsys):
    assert main(["compare", "--cells", "rnn", "lstm", "--hidden", "6", "--layers", "1", "--train-per-class", "4",
                 "--test-per-class", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for label in ("RNN", "EleAtt-RNN", "LSTM", "EleAtt-LSTM"):
        assert f"| {label} |" in printed


def test_bad_data_options_are_clear_errors(tmp_path, capsys):
    assert main(["train", "--data", "ntu", "--data-dir", str(tmp_path), "--quiet", "--out", str(tmp_path)]) == 2
    assert "no *.skeleton file in" in capsys.readouterr().err
    assert main(["train", "--data", "ts", "--quiet", "--out", str(tmp_path)]) == 2
    assert "needs a problem name" in capsys.readouterr().err


def test_compare_over_several_seeds_reports_mean_and_spread(tmp_path, capsys):
    out = tmp_path / "seeds"
    assert main(["compare", "--hidden", "6", "--layers", "1", "--train-per-class", "4", "--test-per-class", "2",
                 "--epochs", "1", "--seeds", "0", "1", "--quiet", "--out", str(out)]) == 0
    assert " ± " in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())["results"]
    for r in results:
        assert r["seeds"] == [0, 1] and len(r["test_accs"]) == 2
        assert r["test_acc"] == sum(r["test_accs"]) / 2
    assert (out / "models" / "1_gru_seed1" / "best.npz").exists() or (out / "models" / "1_gru_seed1" / "last.npz").exists()
    assert "seeds [0, 1]" in (out / "results.md").read_text()
