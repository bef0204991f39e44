#!/usr/bin/env bash
# The main job on the embedded default: installs, builds, fetches MNIST, trains the small CNN
# naturally and evaluates it. Outputs land in results/demo/.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-mnist.sh"
OUT="${ROBUSTSCOPE_RESULTS_DIR:-$ROOT/results}/demo"
mkdir -p "$OUT"
BIN="$BUILD_DIR/src/cli/robustscope"
if [[ ! -f "$OUT/small-cnn-natural.pt" ]]; then
  say "training the small CNN on the MNIST split"
  "$BIN" train --dataset mnist --data-dir "$DATA_DIR" --arch small-cnn --epochs 6 --batch-size 64 \
    --learning-rate 0.05 --schedule cosine --seed 0 --output "$OUT/small-cnn-natural.pt"
else
  say "using the existing $OUT/small-cnn-natural.pt (delete it to retrain)"
fi
say "evaluating"
"$BIN" eval --model "$OUT/small-cnn-natural.pt" --data-dir "$DATA_DIR" | tee "$OUT/eval.txt"
say "demo finished in $(( $(date +%s) - start )) s; outputs in $OUT"
