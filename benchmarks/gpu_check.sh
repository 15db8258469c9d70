#!/usr/bin/env bash
# The GPU check in one command, for the day a GPU is at hand (under 8 minutes on one data-centre GPU:
# each step has a time limit, and the limits add up to 7 min 50 s; a step that reaches its limit is
# reported as TIMED OUT and the check goes on):
#
#   bash benchmarks/gpu_check.sh [REPORT.md]        (run from anywhere; default report: runs/gpu_check/report.md)
#
# Steps, in order:
#   1. doctor       python -m minieleatt doctor (versions, driver, devices, GPU against CPU, one timing)
#   2. gpu tests    python -m pytest -m gpu (every test marked gpu, with the 10 slowest; on a cold CuPy
#                   kernel cache this step also compiles CuPy's kernels, which later steps reuse)
#   3. gradcheck    python -m minieleatt gradcheck --device gpu, with --impl fused (what auto runs on the
#                   GPU) and --impl reference (the readable cells on CuPy): every cell configuration, float64
#   4. launches     python benchmarks/launch_count.py (kernel launches per training step, fused and
#                   reference path, counted on the CPU by a stand-in for CuPy: runs with or without a GPU)
#   5. benchmark    python benchmarks/bench_cells.py --device gpu --batches 64 256 --repeats 3 (our cells on
#                   the GPU beside the unfused GPU path, our CPU figure and, when torch with CUDA is
#                   installed, torch's autograd EleAtt-GRU and cuDNN torch.nn.GRU / LSTM)
#   6. train        python -m minieleatt train --device gpu, a short run on the synthetic skeletons
# Without a GPU (CuPy missing, or no device) the script says NO GPU FOUND, runs steps 1 and 4 and marks
# steps 2, 3, 5 and 6 as skipped; that is the dry run. Exit status: 0 when no step failed, 1 otherwise.
#
# The report (Markdown), written to REPORT.md, with the benchmark's own files beside it:
#
#   # GPU check
#   one line: date, host, git commit, the command
#   **GPU: <name from nvidia-smi or doctor>**, or **NO GPU FOUND: the GPU parts were skipped**
#   ## Summary
#   | step | status | seconds | command |      status is one of: ok, FAILED (exit N), TIMED OUT (limit N s),
#                                             skipped (no GPU found)
#   ## 1. doctor ... ## 6. train               one section per step, in the order above: the command, its
#                                             status, then its output (the last 60 lines, in a code block);
#                                             the benchmark's section is its own Markdown table (headings
#                                             one level down) and the console lines in a code block
#
# PYTHON selects the interpreter (default: python); the package is imported from this checkout.
# LAUNCH_STEPS sets the sequence length of step 4 (default 100, the benchmark's; the tests use fewer).
set -uo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 1
PY="${PYTHON:-python}"
REPORT="${1:-runs/gpu_check/report.md}"
OUTDIR="$(dirname "$REPORT")"
mkdir -p "$OUTDIR"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SUMMARY="$WORK/summary.md"
SECTIONS="$WORK/sections.md"
: > "$SUMMARY"
: > "$SECTIONS"
FAILED=0
STEP=0

if "$PY" -c "import sys; from minieleatt.backend import gpu_available; sys.exit(0 if gpu_available() else 1)"; then
    GPU=1
    GPU_NAME="$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -n 1)"
    GPU_LINE="**GPU: ${GPU_NAME:-found by CuPy (nvidia-smi not available)}**"
    echo "gpu_check: GPU found: ${GPU_NAME:-see the doctor}"
else
    GPU=0
    GPU_LINE="**NO GPU FOUND: the GPU parts were skipped** (CuPy missing or no CUDA device; see the doctor)"
    echo "gpu_check: NO GPU FOUND (CuPy missing or no CUDA device): this is a dry run, the GPU parts are skipped"
fi

# run_step TITLE LIMIT_SECONDS NEEDS_GPU COMMAND... : runs the command, records its status, time and output
run_step() {
    local title="$1" limit="$2" needs_gpu="$3"
    shift 3
    STEP=$((STEP + 1))
    local cmd="$*" log="$WORK/step$STEP.log" status seconds rc
    if [ "$1" = sh ] && [ "${2:-}" = -c ]; then
        cmd="$3"                        # a step of two commands: show the commands, not the shell around them
    fi
    {
        echo "## $STEP. $title"
        echo
        echo "\`$cmd\`"
        echo
    } >> "$SECTIONS"
    if [ "$needs_gpu" = 1 ] && [ "$GPU" = 0 ]; then
        status="skipped (no GPU found)"
        echo "gpu_check: step $STEP ($title): skipped, no GPU found"
        echo "Status: $status." >> "$SECTIONS"
        echo >> "$SECTIONS"
        echo "| $STEP. $title | $status | | \`$cmd\` |" >> "$SUMMARY"
        return
    fi
    echo "gpu_check: step $STEP ($title): $cmd"
    local t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1
    rc=$?
    seconds=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then
        status="ok"
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        status="TIMED OUT (limit $limit s)"
        FAILED=$((FAILED + 1))
    else
        status="FAILED (exit $rc)"
        FAILED=$((FAILED + 1))
    fi
    echo "gpu_check: step $STEP ($title): $status in $seconds s"
    tail -n 60 "$log" | sed 's/^/    /'
    {
        echo "Status: $status, $seconds s."
        echo
        if [ -n "${EMBED:-}" ] && [ -s "$EMBED" ]; then
            sed 's/^#/##/' "$EMBED"
            echo
        fi
        echo '```'
        tail -n 60 "$log"
        echo '```'
        echo
    } >> "$SECTIONS"
    echo "| $STEP. $title | $status | $seconds | \`$cmd\` |" >> "$SUMMARY"
}

run_step "doctor" 45 0 "$PY" -m minieleatt doctor
run_step "gpu tests" 160 1 "$PY" -m pytest -q -m gpu -p no:cacheprovider --durations=10
run_step "gradcheck on the GPU" 60 1 sh -c \
    "\"$PY\" -m minieleatt gradcheck --device gpu --impl fused && \"$PY\" -m minieleatt gradcheck --device gpu --impl reference"
run_step "kernel launches per training step (counted on the CPU)" 40 0 \
    "$PY" benchmarks/launch_count.py --steps "${LAUNCH_STEPS:-100}"
rm -f "$OUTDIR/bench_cells_gpu.md"
EMBED="$OUTDIR/bench_cells_gpu.md" run_step "cell benchmark on the GPU" 120 1 \
    "$PY" benchmarks/bench_cells.py --device gpu --batches 64 256 --repeats 3 --out "$OUTDIR/bench_cells_gpu.md"
run_step "short training run on the GPU" 45 1 \
    "$PY" -m minieleatt train --device gpu --epochs 3 --train-per-class 30 --test-per-class 10 --layers 2 \
    --hidden 64 --early-stop 0 --quiet --out "$OUTDIR/train_gpu"

COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
{
    echo "# GPU check"
    echo
    echo "$(date '+%Y-%m-%d %H:%M'), host $(hostname), commit $COMMIT, \`bash benchmarks/gpu_check.sh $REPORT\`"
    echo
    echo "$GPU_LINE"
    echo
    echo "## Summary"
    echo
    echo "| step | status | seconds | command |"
    echo "|---|---|---:|---|"
    cat "$SUMMARY"
    echo
    cat "$SECTIONS"
} > "$REPORT"
echo "gpu_check: $FAILED step(s) failed; report in $REPORT"
[ "$FAILED" -eq 0 ]
