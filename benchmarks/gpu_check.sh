#!/usr/bin/env bash
# The GPU check, for the first machine with a GPU: the test suite on it, then tracker's epoch
# against pure compute (benchmarks/pipeline.py --only overhead) for mnist-fast on MNIST-shaped
# and s8 on CIFAR-shaped data, BN, LN and GN, channels_last off and on, as one table, with the
# GPU memory that tracker's batch-size check assumes against what a step takes.
#
#     bash benchmarks/gpu_check.sh [--dry-run] [--device cuda:0] [--all-tests] [--images 20000] [--rounds 3]
#
# Needs only the README's set-up (.venv with `pip install -e '.[test]'`); no dataset (the
# benchmarks use random images; tests that need real MNIST skip without ../shared/datasets).
# --dry-run prints what it would run and the table it would fill, and exits 0 on any machine.
# Tests: every test but the `server` ones (they test MLflow servers, not the device), which
# --all-tests adds. Budget: 10 minutes on one modern GPU; the script prints each step's time.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0 DEVICE=cuda IMAGES=20000 ROUNDS=3 MARK="not server"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --device) DEVICE="$2"; shift ;;
    --all-tests) MARK="" ;;
    --images) IMAGES="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

PY=.venv/bin/python
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
START=$SECONDS
TESTS="skipped (dry run)"

step() {  # step NAME OUTFILE CMD...: print the command; run it unless --dry-run, its output to OUTFILE
  local name="$1" out="$2"; shift 2
  echo "== $name: $(printf "%q " "$@")"
  [ "$DRY" = 1 ] && return 0
  local t0=$SECONDS
  "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  echo "   ($name: $((SECONDS - t0)) s, exit $rc)"
  return "$rc"
}

if [ "$DRY" = 0 ] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: no CUDA GPU on this machine (torch.cuda.is_available() is False); --dry-run shows what would run" >&2
  exit 2
fi
[ "$DRY" = 1 ] && echo "dry run: nothing is run; these are the steps, then the table they fill"

# 1. the tests, on the GPU: device = "auto" picks it; test_reliability checks that a resumed run
#    repeats the uninterrupted one exactly (deterministic kernels, every generator restored)
if step tests "$OUT/tests.txt" env TRACKER_PROGRESS=0 .venv/bin/pytest -q -p no:cacheprovider ${MARK:+-m "$MARK"}; then
  [ "$DRY" = 0 ] && TESTS="passed: $(grep -E '[0-9]+ passed' "$OUT/tests.txt" | tail -1)"
else
  TESTS="FAILED: $(grep -E '[0-9]+ (passed|failed)' "$OUT/tests.txt" | tail -1) (full output: $OUT/tests.txt)"
fi

# 2. tracker's epoch against pure compute, channels_last forced off, then on
for layout in off on; do
  step "pipeline, channels_last $layout" "$OUT/layout-$layout.txt" "$PY" benchmarks/pipeline.py \
    --device "$DEVICE" --only overhead --mnist-arch mnist-fast --layout "$layout" \
    --images "$IMAGES" --rounds "$ROUNDS"
done

# 3. GPU memory: what tracker.ml.memory assumes against what a step takes
step "memory" "$OUT/memory.txt" "$PY" benchmarks/gpu_memory.py --device "$DEVICE"

# the table
"$PY" - "$OUT" "$DEVICE" "$DRY" <<'EOF'
import re, sys
from pathlib import Path

out, device, dry = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
from tracker.ml.device import _CHANNELS_LAST_CUDA as PICK  # the layout tracker picks on CUDA

LINE = re.compile(r"^\s+(\w+)\s+(\w+): pure\s+([\d.]+) s, tracker epoch\s+([\d.]+) s -> ([\d.]+)x")
cells = {}
for layout in ("off", "on"):
    f = out / f"layout-{layout}.txt"
    for line in f.read_text().splitlines() if f.exists() else []:
        if m := LINE.match(line):
            cells[(m[1], m[2], layout)] = (float(m[3]), float(m[4]), float(m[5]))

def show(key, i, fmt):
    return fmt.format(cells[key][i]) if key in cells else "·"

print(f"\nGPU check on {device}: tracker's epoch against pure compute (s summed over the rounds; "
      "ratio = tracker / pure), channels_last off and on")
print("| net, data | norm | pure s, off | tracker s, off | ratio, off | pure s, on | tracker s, on | ratio, on "
      "| channels_last speed-up (pure) | tracker picks |")
print("|---|---|---|---|---|---|---|---|---|---|")
for data, net in (("mnist", "mnist-fast, MNIST-shaped"), ("cifar10", "s8, CIFAR-shaped")):
    for norm in ("batch", "layer", "group"):
        off, on = (data, norm, "off"), (data, norm, "on")
        speedup = f"{cells[off][0] / cells[on][0]:.2f}x" if off in cells and on in cells else "·"
        print(f"| {net} | {norm} | {show(off, 0, '{:.2f}')} | {show(off, 1, '{:.2f}')} | {show(off, 2, '{:.3f}')} "
              f"| {show(on, 0, '{:.2f}')} | {show(on, 1, '{:.2f}')} | {show(on, 2, '{:.3f}')} | {speedup} "
              f"| {'on' if PICK[norm] else 'off'} |")
memory = out / "memory.txt"
for line in memory.read_text().splitlines() if memory.exists() else ["memory: · (not run)"]:
    print(line)
if dry:
    print("(dry run: the cells marked · are filled on a machine with a GPU)")
EOF
echo "tests: $TESTS"
echo "total: $((SECONDS - START)) s (budget 600 s on one modern GPU); outputs in $OUT"
