#!/usr/bin/env bash
# Configures and builds robustscope into build/ (ROBUSTSCOPE_BUILD_DIR). Extra arguments go to CMake,
# e.g. scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch-cuda.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
say "building in $BUILD_DIR with $JOBS jobs"
start=$(date +%s)
cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DROBUSTSCOPE_PYTHON="$PYTHON" "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
say "build finished in $(( $(date +%s) - start )) s"
