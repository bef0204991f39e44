#!/usr/bin/env bash
# The test command: installs what is missing, builds, fetches MNIST and Fashion-MNIST and runs every test.
# Extra arguments go to ctest (e.g. scripts/test.sh -L quick).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-mnist.sh"
"$ROOT/scripts/fetch-fmnist.sh"
say "running tests"
# Two test processes at a time, each with one LibTorch thread, fill the two cores without contention.
ROBUSTSCOPE_DATA_DIR="$DATA_DIR" OMP_NUM_THREADS=1 \
  ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "$@"
say "install, build and tests took $(( $(date +%s) - start )) s"
