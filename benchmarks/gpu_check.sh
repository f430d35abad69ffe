#!/usr/bin/env bash
# The GPU check, for the first machine with a GPU: the test suite on it, then tracker's epoch
# against pure compute (benchmarks/pipeline.py --only overhead) for mnist-fast on MNIST-shaped
# and s8 on CIFAR-shaped data, BN, LN and GN, channels_last off and on, as one table, with the
# GPU memory that tracker's checks assume against what a step takes (benchmarks/gpu_memory.py).
#
#     bash benchmarks/gpu_check.sh [--quick] [--dry-run] [--device cuda:0] [--python PATH] [--jobs 4]
#                                  [--all-tests] [--images 20000] [--rounds 3]
#
# Needs the README's set-up (.venv with `pip install -e '.[test]'`), or --python naming an
# interpreter that has it; no dataset (random images; real-MNIST tests skip without
# ../shared/datasets). Tests: all but the `server` ones (--all-tests adds them), --jobs at once
# (pytest-xdist, a file to a process). --quick: all but the `server` and `slow` (real-MNIST)
# tests, and one pipeline round on 5000 images. Budget on one modern GPU, by estimate
# (benchmarks/README.md, "The GPU check"): --quick about 3 min (at most 5), the full check about
# 6 (at most 10); each step prints its time.
# --dry-run prints every step and the empty table, and exits 0, on any machine (no .venv, torch
# or GPU needed). A step that fails is named in the steps' table, and the script then exits 1.
set -uo pipefail

DRY=0 QUICK=0 DEVICE=cuda IMAGES=20000 ROUNDS=3 MARK="not server" PY=.venv/bin/python JOBS=4
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --quick) QUICK=1 IMAGES=5000 ROUNDS=1 MARK="not server and not slow" ;;
    --device) DEVICE="$2"; shift ;;
    --python) PY="$2"  # a path is made absolute here (the script moves to the checkout), a name is found on PATH
              case "$2" in */*) [ -d "$(dirname "$2")" ] && PY="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" ;; esac
              shift ;;
    --all-tests) MARK="" ;;
    --images) IMAGES="$2"; shift ;;
    --rounds) ROUNDS="$2"; shift ;;
    --jobs) JOBS="$2"; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
cd "$(dirname "$0")/.."  # the checkout's root
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's tracker, whichever interpreter
OUT=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
START=$SECONDS
STEPS=() FAILED=0  # a row of the steps' table each: "| name | s | result |"

step() {  # step NAME OUTFILE CMD...: print the command; run it unless --dry-run, its output to OUTFILE
  local name="$1" out="$2"; shift 2
  echo "== $name: $(printf "%q " "$@")"
  if [ "$DRY" = 1 ]; then STEPS+=("| $name | · | · (not run) |"); return 0; fi
  local t0=$SECONDS
  "$@" 2>&1 | tee "$out"
  local rc=${PIPESTATUS[0]}
  echo "   ($name: $((SECONDS - t0)) s, exit $rc)"
  if [ "$rc" = 0 ]; then
    STEPS+=("| $name | $((SECONDS - t0)) | passed |")
  else
    STEPS+=("| $name | $((SECONDS - t0)) | FAILED (exit $rc; output in $out) |") FAILED=1
  fi
  return "$rc"
}

if [ "$DRY" = 1 ]; then
  echo "dry run: nothing is run; these are the steps, then the table they fill"
  command -v "$PY" >/dev/null || echo "note: no $PY here; a real run needs the README's set-up, or --python PATH"
elif ! command -v "$PY" >/dev/null; then
  echo "error: no Python environment at $PY: set one up as the README says (python3 -m venv .venv &&" \
       ".venv/bin/pip install -e '.[test]'), or name one with --python PATH" >&2
  exit 2
elif ! "$PY" -c 'import torch, tracker' 2>"$OUT/import.txt"; then
  echo "error: $PY cannot import torch and tracker ($(tail -1 "$OUT/import.txt")); install them:" \
       "$PY -m pip install -e '.[test]'" >&2
  exit 2
elif ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "error: no CUDA GPU on this machine (torch.cuda.is_available() is False); --dry-run shows what would run" >&2
  exit 2
fi

# 1. the tests, on the GPU: device = "auto" picks it; test_reliability checks that a resumed run
#    repeats the uninterrupted one exactly (deterministic kernels, every generator restored)
#    (--jobs processes at once, a test file each: the suite is CPU-bound, the GPU box has cores)
XDIST=()
if [ "$JOBS" -gt 1 ]; then
  if [ "$DRY" = 1 ] || "$PY" -c 'import xdist' 2>/dev/null; then
    XDIST=(-n "$JOBS" --dist loadfile)
  else
    echo "note: $PY has no pytest-xdist (the README's set-up installs it): the tests run one at a time"
  fi
fi
step tests "$OUT/tests.txt" env TRACKER_PROGRESS=0 "$PY" -m pytest -q -p no:cacheprovider \
  ${XDIST[@]+"${XDIST[@]}"} ${MARK:+-m "$MARK"}

# 2. tracker's epoch against pure compute, channels_last forced off, then on
for layout in off on; do
  step "pipeline, channels_last $layout" "$OUT/layout-$layout.txt" "$PY" benchmarks/pipeline.py \
    --device "$DEVICE" --only overhead --mnist-arch mnist-fast --layout "$layout" \
    --images "$IMAGES" --rounds "$ROUNDS"
done

# 3. GPU memory: what tracker.ml.memory assumes against what a step takes
step memory "$OUT/memory.txt" "$PY" benchmarks/gpu_memory.py --device "$DEVICE"

# the table: pipeline.py's lines "  DATA NORM: pure P s, tracker epoch T s -> Rx (tracker picks channels_last X)"
echo
echo "GPU check on $DEVICE: tracker's epoch against pure compute (s summed over $ROUNDS round(s) of $IMAGES" \
     "images; ratio = tracker / pure), channels_last off and on"
echo "| net, data | norm | pure s, off | tracker s, off | ratio, off | pure s, on | tracker s, on | ratio, on" \
     "| channels_last speed-up (pure) | tracker picks |"
echo "|---|---|---|---|---|---|---|---|---|---|"
touch "$OUT/layout-off.txt" "$OUT/layout-on.txt"
awk '
  $3 == "pure" && $6 == "tracker" && $7 == "epoch" {
    sub(/:/, "", $2); sub(/x/, "", $11); sub(/[)]/, "", $15)
    key = $1 " " $2 " " (FILENAME ~ /layout-off/ ? "off" : "on")
    pure[key] = $4; ours[key] = $8; ratio[key] = $11; picks[$1 " " $2] = $15
  }
  function cell(table, key) { return (key in table) ? table[key] : "·" }  # never creates table[key]
  END {
    split("mnist cifar10", data, " "); split("batch layer group", norms, " ")
    nets["mnist"] = "mnist-fast, MNIST-shaped"; nets["cifar10"] = "s8, CIFAR-shaped"
    for (d = 1; d <= 2; d++) for (n = 1; n <= 3; n++) {
      k = data[d] " " norms[n]; off = k " off"; on = k " on"
      speedup = (off in pure && on in pure && pure[on] > 0) ? sprintf("%.2fx", pure[off] / pure[on]) : "·"
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", nets[data[d]], norms[n],
        cell(pure, off), cell(ours, off), cell(ratio, off), cell(pure, on), cell(ours, on), cell(ratio, on),
        speedup, cell(picks, k)
    }
  }' "$OUT/layout-off.txt" "$OUT/layout-on.txt"
if [ -s "$OUT/memory.txt" ]; then cat "$OUT/memory.txt"; else echo "memory: · (not run)"; fi
echo
echo "| step | s | result |"
echo "|---|---|---|"
printf '%s\n' "${STEPS[@]}"
if [ "$DRY" = 1 ]; then
  echo "tests: · (not run)"
  echo "(dry run: the cells marked · are filled on a machine with a GPU)"
  exit 0
fi
echo "tests: $(grep -E '[0-9]+ (passed|failed|error)' "$OUT/tests.txt" | tail -1)"
echo "total: $((SECONDS - START)) s (budget $([ "$QUICK" = 1 ] && echo 300 || echo 600) s on one modern GPU);" \
     "outputs in $OUT"
[ "$FAILED" = 0 ] && echo "every step passed" || echo "a step FAILED: see the steps' table"
exit "$FAILED"
