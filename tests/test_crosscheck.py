"""``minieleatt crosscheck`` and ``minieleatt.crosscheck``: our passes against PyTorch through the bridge.

PyTorch is an optional dependency; without it these tests skip.
"""

import sys

import numpy as np
import pytest

from minieleatt import crosscheck
from minieleatt.cli import main

torch = pytest.importorskip("torch")
from minieleatt.interop import convert, modules  # noqa: E402


def _rows(out):
    return [line for line in out.splitlines() if line.rstrip().endswith(("pass", "FAIL"))]


def test_relative_difference():
    assert crosscheck.relative_difference([1.0, 2.0], [1.0, 2.5]) == pytest.approx(0.5 / 2.5)
    assert crosscheck.relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    assert crosscheck.relative_difference(3.0, 3.0) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        crosscheck.relative_difference(np.zeros(2), np.zeros(3))
    report = crosscheck.Report(tol=1e-10)
    report.add("case", "nan", np.array([np.nan]), np.array([1.0]))
    assert not report.passed


def test_crosscheck_every_cell_passes_and_prints_every_tensor(capsys):
    assert main(["crosscheck"]) == 0
    out = capsys.readouterr().out
    assert "tolerance 1e-10" in out and "max|ours - torch|" in out
    assert "24/24 cases pass" in out
    rows = _rows(out)
    assert not any(r.endswith("FAIL") for r in rows)
    lstm = [r for r in rows if r.startswith("lstm attention=softmax mask=on ")]
    assert [r.split()[3] for r in lstm] == ["hs", "h_T", "c_T", "a", "dx", "dh0", "dc0",
                                           "dW_xa", "dW_ha", "db_a", "dW_x", "dW_h", "db"]
    assert any(r.startswith("gru/reset-after attention=plain mask=on ") and " db_hn " in r for r in rows)


def test_crosscheck_fails_on_swapped_gru_gate_blocks(capsys, monkeypatch):
    def swapped(self, x_att, h_prev):                 # the planted bug: the r and z blocks read as z and r
        H = self.hidden_size
        W_xz, W_xr, W_xn = self.W_x.split(H, dim=1)
        W_hz, W_hr, W_hn = self.W_h.split(H, dim=1)
        b_z, b_r, b_n = self.b.split(H)
        r = torch.sigmoid(x_att @ W_xr + h_prev @ W_hr + b_r)
        z = torch.sigmoid(x_att @ W_xz + h_prev @ W_hz + b_z)
        if self.reset_after:
            n = torch.tanh(x_att @ W_xn + b_n + r * (h_prev @ W_hn + self.b_hn))
        else:
            n = torch.tanh(x_att @ W_xn + (r * h_prev) @ W_hn + b_n)
        return (1 - z) * n + z * h_prev

    monkeypatch.setattr(modules.EleAttGRUTorch, "step", swapped)
    assert main(["crosscheck", "--cell", "gru", "--mask", "on"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1/6 cases pass" in out             # the plain reset-after GRU is torch.nn.GRU


def test_crosscheck_plain_brings_torch_modules_in(capsys):
    assert main(["crosscheck", "--plain", "--layers", "2"]) == 0
    out = capsys.readouterr().out
    assert "6/6 cases pass" in out
    assert any(r.startswith("torch.nn.LSTM(layers=2) mask=on ") and " dc0[1] " in r for r in _rows(out))


def test_crosscheck_plain_fails_when_b_hn_is_folded_into_b(capsys, monkeypatch):
    native = convert._native_layers

    def folded(module, dtype):                        # the planted bug: b = b_ih + b_hh, b_hn = 0
        out = []
        for cell, D, H, dt, params in native(module, dtype):
            if cell == "gru":
                params = dict(params, b=params["b"].copy(), b_hn=np.zeros_like(params["b_hn"]))
                params["b"][2 * H:] += module.bias_hh_l0.detach().numpy()[2 * H:]
            out.append((cell, D, H, dt, params))
        return out

    monkeypatch.setattr(convert, "_native_layers", folded)
    assert main(["crosscheck", "--plain", "--cell", "gru", "lstm"]) == 1
    out = capsys.readouterr().out
    assert "2/4 cases pass" in out
    assert all(" FAIL" not in r for r in _rows(out) if r.startswith("torch.nn.LSTM"))


@pytest.fixture(scope="module")
def gru_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    assert main(["train", "--cell", "gru", "--attention-layers", "1", "--layers", "2", "--hidden", "8",
                 "--train-per-class", "4", "--test-per-class", "2", "--epochs", "1", "--quiet",
                 "--out", str(out)]) == 0
    return out / "last.npz"


def test_crosscheck_of_a_trained_checkpoint(gru_checkpoint, capsys):
    capsys.readouterr()
    assert main(["crosscheck", "--checkpoint", str(gru_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "1/1 cases pass" in out
    assert "2 x GRU(8), gate in the first 1 (sigmoid), reset_after=False" in out
    names = [r.split()[-3] for r in _rows(out)]
    assert names[:3] == ["logits", "loss", "dx"] and "dlayers.0.W_xa" in names and names[-2:] == ["dfc.W", "dfc.b"]


def test_crosscheck_of_a_checkpoint_fails_on_a_wrong_readout(gru_checkpoint, capsys, monkeypatch):
    # the planted bug: the torch network averages over every step, padded ones included
    monkeypatch.setattr(modules.EleAttNetTorch, "readout", lambda self, hs, mask: hs.mean(dim=0))
    assert main(["crosscheck", "--checkpoint", str(gru_checkpoint)]) == 1
    assert "0/1 cases pass" in capsys.readouterr().out


def test_crosscheck_errors_are_clear(tmp_path, capsys, monkeypatch):
    assert main(["crosscheck", "--checkpoint", str(tmp_path / "none.npz")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["crosscheck"]) == 2
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in capsys.readouterr().err


def test_load_network_reads_the_weights_and_refuses_what_is_not_a_network(gru_checkpoint, tmp_path):
    from minieleatt.checkpoint import load_checkpoint, save_checkpoint
    from minieleatt.errors import CheckpointError

    net, meta = crosscheck.load_network(gru_checkpoint)
    arrays, _ = load_checkpoint(gru_checkpoint)
    assert meta["architecture"] == net.architecture()
    for k, p in net.parameters().items():
        assert p.dtype == np.float64
        np.testing.assert_array_equal(p, arrays[f"param.{k}"].astype(np.float64))
    save_checkpoint(tmp_path / "bare.npz", {"param.fc.W": np.zeros((2, 2))}, {})
    with pytest.raises(CheckpointError, match="has no architecture"):
        crosscheck.load_network(tmp_path / "bare.npz")
    arrays.pop("param.fc.b")
    save_checkpoint(tmp_path / "short.npz", arrays, meta)
    with pytest.raises(CheckpointError, match=r"missing \['param.fc.b'\]"):
        crosscheck.load_network(tmp_path / "short.npz")


def test_crosscheck_checks_the_implementation_it_is_given(capsys, monkeypatch):
    from minieleatt import functional
    monkeypatch.setattr(functional.gru, "sigmoid_grad_from_output", lambda s: s)     # a bug in the reference GRU
    assert main(["crosscheck", "--cell", "gru", "--impl", "reference"]) == 1
    assert "ours: impl=reference" in capsys.readouterr().out
    assert main(["crosscheck", "--cell", "gru", "--impl", "fast"]) == 0
