"""benchmarks/gpu_check.sh on a machine without a GPU: the dry run says so, skips the GPU parts and
still writes its report (the doctor and the launch count run anyway)."""

import os
import pathlib
import subprocess
import sys

import pytest

from minieleatt.backend import gpu_available

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


@pytest.mark.skipif(gpu_available(), reason="with a GPU the script runs the whole GPU check (minutes)")
def test_the_dry_run_says_no_gpu_skips_the_gpu_parts_and_writes_the_report(tmp_path):
    report = tmp_path / "check" / "report.md"
    env = dict(os.environ, PYTHON=sys.executable, LAUNCH_STEPS="2")
    done = subprocess.run(["bash", str(SCRIPT), str(report)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NO GPU FOUND" in done.stdout and "the GPU parts are skipped" in done.stdout
    text = report.read_text()
    assert text.startswith("# GPU check\n") and "**NO GPU FOUND: the GPU parts were skipped**" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| step")]
    status = {row.split(" | ")[0].strip("| "): row.split(" | ")[1] for row in rows}
    assert status == {"1. doctor": "ok", "2. gpu tests": "skipped (no GPU found)",
                      "3. gradcheck on the GPU": "skipped (no GPU found)",
                      "4. kernel launches per training step (counted on the CPU)": "ok",
                      "5. cell benchmark on the GPU": "skipped (no GPU found)",
                      "6. short training run on the GPU": "skipped (no GPU found)"}
    for n, title in enumerate(["doctor", "gpu tests", "gradcheck on the GPU"], start=1):
        assert f"## {n}. {title}" in text
    assert "NumPy:" in text and "gru + gate" in text      # the doctor's and the launch count's output
