#!/usr/bin/env bash
# Accuracy figures on real MNIST, through the CLI itself:
#   s8 (1-channel) after 2 epochs per norm, the full mnist-norms sweep (3 norms x 3 seeds), and
#   s8 in fp32 and bf16 (3 norms x 2 precisions x 3 seeds).
# usage: bash benchmarks/accuracy.sh [DATA_DIR]   (default ../shared/datasets)
#        EXPERIMENTS=mnist-bf16 bash benchmarks/accuracy.sh   (only those)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
export TRACKER_PROGRESS=0
for exp in ${EXPERIMENTS:-mnist-s8 mnist-norms mnist-bf16}; do
  start=$(date +%s)
  tracker sweep "experiments/$exp.toml" --data-dir "$data" | tail -2
  echo "$exp: $(( $(date +%s) - start )) s of wall time"
  tracker compare --experiment "$exp" --format markdown
done
