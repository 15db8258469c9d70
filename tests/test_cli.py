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


def test_gradcheck_exits_non_zero_on_a_failure(capsys, monkeypatch):
    from minieleatt import functional
    monkeypatch.setattr(functional.sequence, "FAST_PATH", False)     # the bug goes into the plain code
    monkeypatch.setattr(functional.lstm, "tanh_grad_from_output", lambda t: 1 - t)
    assert main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "worst tensor" in out


def test_gradcheck_on_gpu_without_one_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    from minieleatt.errors import DeviceError
    with pytest.raises(DeviceError, match="pip install"):
        main(["gradcheck", "--device", "gpu"])
