#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md, measured on a CUDA host that has a pip PyTorch but no Debian
# packages (Ubuntu 24.04 with torch+cu13x): unpacks the Debian libraries that
# scripts/dev/fetch-gpu-debs.sh put in .gpu/ (bring .gpu/ and data/mnist along), builds the CLI, the
# benchmarks and the device tests against the wheel's LibTorch, then runs the device tests (CUDA
# against the CPU, replayed CUDA-graph steps against eager ones), the attack benchmark (with Python's
# eager PGD on the same GPU), the demo sweep at its own shard size, at 300-sample shards and with 4
# tasks in flight, and the landscape benchmark if time is left. Every log goes to $OUT. Should the build with CUDA graphs
# fail, it builds without; should the device tests fail, the rest runs with graphs off.
# Each step gets what is left of a fixed budget, so the script ends inside one device call.
#   OUT=/some/dir BUDGET_S=570 scripts/dev/gpu-check.sh
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT=${OUT:-/tmp/robustscope-gpu}
BUDGET_S=${BUDGET_S:-570}
mkdir -p "$OUT"
start=$(date +%s)
stamp() { echo "== $(($(date +%s) - start)) s: $*" | tee -a "$OUT/steps.log"; }
left() { echo $((BUDGET_S - ($(date +%s) - start))); }

stamp "host"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  nproc
} >"$OUT/host.txt" 2>&1
bash .gpu/prepare-host.sh >"$OUT/prepare.log" 2>&1 || { stamp "prepare-host failed"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_ess_singleton_isolated=1
python=$(command -v python3)
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')

configure() {
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
    -DROBUSTSCOPE_PYTHON="$python" -DTORCH_CUDA_ARCH_LIST=9.0 \
    -DBoost_DIR=/usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0 -DBoost_NO_SYSTEM_PATHS=ON "$@" \
    >>"$OUT/configure.log" 2>&1 || { stamp "configure failed"; tail -40 "$OUT/configure.log"; exit 1; }
}
targets=(robustscope robustscope-bench-attacks robustscope-bench-landscape device_test)
stamp "configure"
configure
grep "CUDA graphs" "$OUT/configure.log"
stamp "build"
if ! timeout "$(left)" ninja -C build-gpu "${targets[@]}" >"$OUT/build.log" 2>&1; then
  stamp "build failed; again without CUDA graphs"
  grep -m3 -B2 -A12 "error" "$OUT/build.log"
  configure -DROBUSTSCOPE_CUDA_GRAPHS=OFF
  timeout "$(left)" ninja -C build-gpu "${targets[@]}" >"$OUT/build-no-graphs.log" 2>&1 ||
    { stamp "build failed"; grep -m3 -B2 -A12 "error" "$OUT/build-no-graphs.log"; exit 1; }
fi
bin=build-gpu/src

stamp "device tests"
if ! timeout 120 build-gpu/tests/device_test >"$OUT/device_test.log" 2>&1; then
  stamp "device_test failed: the rest runs with CUDA graphs off"
  export ROBUSTSCOPE_CUDA_GRAPHS=0
fi
grep -E "^\[ +(OK|FAILED|SKIPPED) +\]" "$OUT/device_test.log"

stamp "attack benchmark"
timeout "$(($(left) - 90))" "$bin/bench/robustscope-bench-attacks" --device cuda \
  --models "${BENCH_MODELS:-small-cnn,preact-resnet18}" --batch-sizes 256,1024 --repetitions 5 \
  --python "$python" >"$OUT/bench-attacks.txt" 2>&1
stamp "attack benchmark rc=$?"

stamp "demo"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -lms 500 \
  >"$OUT/demo-utilization.csv" 2>&1 &
sampler=$!
{
  s=$(date +%s%N)
  timeout "$(left)" "$bin/cli/robustscope" prepare experiments/demo.yaml
  echo "prepare rc=$? in $((($(date +%s%N) - s) / 1000000)) ms"
  s=$(date +%s%N)
  timeout "$(left)" "$bin/cli/robustscope" run experiments/demo.yaml
  echo "run rc=$? in $((($(date +%s%N) - s) / 1000000)) ms"
  # The same study with 300-sample shards and batches: one task per setting and model.
  sed -e 's/shard_size: 50, batch_size: 50/shard_size: 300, batch_size: 300/' \
    -e 's|output: results/demo/results.h5|output: results/demo-300/results.h5|' \
    experiments/demo.yaml >/tmp/demo-300.yaml
  s=$(date +%s%N)
  timeout "$(left)" "$bin/cli/robustscope" run /tmp/demo-300.yaml
  echo "run (300-sample shards) rc=$? in $((($(date +%s%N) - s) / 1000000)) ms"
  # The demo's own shards again, four tasks in flight on their own streams (results compared below).
  s=$(date +%s%N)
  timeout "$(left)" "$bin/cli/robustscope" run experiments/demo.yaml --tasks-in-flight 4 --quiet \
    --output results/demo-k4/results.h5
  echo "run (4 tasks in flight) rc=$? in $((($(date +%s%N) - s) / 1000000)) ms"
  python3 scripts/compare_results.py results/demo/results.h5 results/demo-k4/results.h5 | tail -1
  "$bin/cli/robustscope" inspect results/demo/results.h5
} >"$OUT/demo.log" 2>&1
kill "$sampler" 2>/dev/null
stamp "demo done"

if [[ $(left) -gt 20 ]]; then
  stamp "landscape benchmark"
  timeout "$(($(left) - 5))" "$bin/bench/robustscope-bench-landscape" --device cuda --resolution 101 \
    --chunk-size 4096 >"$OUT/bench-landscape.txt" 2>&1
  stamp "landscape benchmark rc=$?"
fi
stamp "end"
