#!/usr/bin/env bash
# Provides Fashion-MNIST in data/fmnist/ as IDX files: the original 60,000/10,000 images of the
# Debian package dataset-fashion-mnist (gzip-compressed IDX in /usr/share/datasets/fashion-mnist/,
# or $FMNIST_SOURCE), unpacked and verified against scripts/fmnist.sha256. Files already present
# and verified are left alone; present but different files are an error (nothing is overwritten).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUT="$DATA_DIR/fmnist"
SUMS="$ROOT/scripts/fmnist.sha256"
SOURCE="${FMNIST_SOURCE:-/usr/share/datasets/fashion-mnist}"
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

if [[ -f "$OUT/train-images-idx3-ubyte" ]]; then
  if (cd "$OUT" && sha256sum --quiet -c "$SUMS" >/dev/null 2>&1); then
    say "Fashion-MNIST present and verified in $OUT"
    exit 0
  fi
  echo "fetch-fmnist: $OUT holds files that do not match scripts/fmnist.sha256 (remove them to refetch)" >&2
  exit 1
fi
for file in "${FILES[@]}"; do
  if [[ ! -f "$SOURCE/$file.gz" ]]; then
    echo "fetch-fmnist: $SOURCE/$file.gz is missing (install the Debian package dataset-fashion-mnist:" \
      "scripts/install-deps.sh, or set FMNIST_SOURCE)" >&2
    exit 1
  fi
done
tmp="$OUT.partial"
rm -rf "$tmp" && mkdir -p "$tmp"
for file in "${FILES[@]}"; do
  gzip -dc "$SOURCE/$file.gz" >"$tmp/$file"
done
if ! (cd "$tmp" && sha256sum --quiet -c "$SUMS"); then
  echo "fetch-fmnist: the unpacked files do not match scripts/fmnist.sha256" >&2
  exit 1
fi
rm -rf "$OUT" && mv "$tmp" "$OUT"
say "Fashion-MNIST: 60000 train / 10000 test images verified in $OUT"
