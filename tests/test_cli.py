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
    config = summary["config"]                          # the settings the run used, chosen ones included
    assert (config["cell"], config["hidden_size"], config["batch_size"], config["readout"]) == ("lstm", 8, 8, "mean")
    env = summary["environment"]
    assert env["numpy"] and env["blas"] and env["cpu"] and env["device"] == "cpu"


def test_the_train_and_compare_options_come_from_train_config():
    from dataclasses import fields

    from minieleatt.cli import build_parser
    from minieleatt.train import TrainConfig

    parser = build_parser()
    args = parser.parse_args(["train"])
    for f in fields(TrainConfig):                       # every field, with the dataclass's own default
        assert getattr(args, f.name) == f.default, f.name
    compare = parser.parse_args(["compare"])
    assert not hasattr(compare, "cell") and compare.attention_layers_list is None
    helps = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "the power of two nearest N/30" in helps and "sqrt(batch size / 64)" in helps and "0: off" in helps


def test_a_new_train_config_field_appears_on_the_command_line(monkeypatch):
    import dataclasses

    from minieleatt import cli, train

    @dataclasses.dataclass
    class Extended(train.TrainConfig):
        impl: str = train.option("auto", "which implementation", choices=("auto", "reference"))
        warmup: int = 0

    monkeypatch.setattr(cli, "TrainConfig", Extended)
    args = cli.build_parser().parse_args(["train", "--impl", "reference", "--warmup", "3"])
    config = cli.config_from_args(args)
    assert (config.impl, config.warmup) == ("reference", 3)
    assert cli.build_parser().parse_args(["train"]).impl == "auto"


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
    settings = (out / "results.md").read_text().split("Settings: ")[1]
    assert "batch_size=8," in settings and "readout=mean," in settings and "lr=0.0017" in settings   # as chosen
    assert results[0]["attention_ratio"] is None and results[2]["attention_ratio"] > 0


def test_compare_cells_with_and_without_the_gate(tmp_path, capsys):
    assert main(["compare", "--cells", "rnn", "lstm", "--hidden", "6", "--layers", "1", "--train-per-class", "4",
                 "--test-per-class", "2", "--epochs", "1", "--quiet", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for label in ("RNN", "EleAtt-RNN", "LSTM", "EleAtt-LSTM"):
        assert f"| {label} |" in printed


def test_bad_data_options_are_clear_errors(tmp_path, capsys):
    assert main(["train", "--data", "ntu", "--data-dir", str(tmp_path), "--quiet", "--out", str(tmp_path / "a")]) == 2
    assert "no *.skeleton file in" in capsys.readouterr().err
    assert main(["train", "--data", "ts", "--quiet", "--out", str(tmp_path / "b")]) == 2
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
    report = (out / "results.md").read_text()
    assert "seeds [0, 1]" in report and "Single runs differ across machines and BLAS builds" in report
    env = json.loads((out / "results.json").read_text())["environment"]
    assert {"minieleatt", "python", "numpy", "blas", "cpu", "cores", "device"} <= set(env)
