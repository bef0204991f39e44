#!/usr/bin/env bash
# The main job on the embedded default: installs, builds, fetches MNIST, trains the small CNN
# naturally, evaluates it under attacks and the divergence metric, and draws its input-space
# landscapes. Outputs land in results/demo/.
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
say "evaluating: clean accuracy, attacks at epsilon 0.1 and 0.3, the metric (first 500 test digits)"
for epsilon in 0.1 0.3; do
  "$BIN" eval --model "$OUT/small-cnn-natural.pt" --data-dir "$DATA_DIR" --limit 500 \
    --epsilon "$epsilon" --attack fgsm --attack pgd:steps=20 --attack apgd-ce:steps=20 --ensemble \
    --metric --output "$OUT/samples-eps$epsilon.csv" | tee "$OUT/eval-eps$epsilon.txt"
done
say "landscapes of four test digits"
rm -f "$OUT/landscapes.h5"
"$BIN" landscape --model "$OUT/small-cnn-natural.pt" --data-dir "$DATA_DIR" --samples 0,1,2,3 \
  --epsilon 0.1 --output "$OUT/landscapes.h5"
"$PYTHON" "$ROOT/scripts/plot_landscapes.py" "$OUT/figures" "$OUT/landscapes.h5" --labels natural \
  --sample 0
say "demo finished in $(( $(date +%s) - start )) s; outputs in $OUT"
