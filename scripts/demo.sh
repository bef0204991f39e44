#!/usr/bin/env bash
# The main job on the embedded default, the demo study (experiments/demo.yaml): installs, builds,
# fetches MNIST, trains the study's models that are missing (robustscope prepare), runs the sweep
# through MPI on every core (robustscope run; a rerun resumes), and writes the report
# (scripts/report.py) next to the results in results/demo/.
#   scripts/demo.sh [SPEC.yaml]        (another spec runs the same way)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start=$(date +%s)
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh"
"$ROOT/scripts/fetch-mnist.sh"
cd "$ROOT"
SPEC="${1:-experiments/demo.yaml}"
OUTPUT=$(awk '/^output:/ {print $2; exit}' "$SPEC")
BIN="$BUILD_DIR/src/cli/robustscope"
RANKS="${ROBUSTSCOPE_RANKS:-$(nproc)}"
MPIRUN=("$ROOT/scripts/mpirun.sh" -np "$RANKS")

say "planning $SPEC"
"$BIN" plan "$SPEC" | grep -E '^(spec|total|note)'
say "training the models that are missing ($RANKS ranks)"
"${MPIRUN[@]}" "$BIN" prepare "$SPEC" --data-dir "$DATA_DIR"
say "running the sweep ($RANKS ranks)"
status=0
"${MPIRUN[@]}" "$BIN" run "$SPEC" --data-dir "$DATA_DIR" --quiet || status=$?
# Exit 3: some tasks failed (listed above, kept in the file); the report still comes.
[[ $status -eq 0 || $status -eq 3 ]] || exit "$status"
"$BIN" inspect "$OUTPUT" > "$OUTPUT.inspect.txt"
sed -n 1,20p "$OUTPUT.inspect.txt"
sed -n '/^gradient-masking alarms/,$p' "$OUTPUT.inspect.txt"   # docs/alarms.md
say "writing the report"
"$PYTHON" "$ROOT/scripts/report.py" "$OUTPUT"
say "demo finished in $(( $(date +%s) - start )) s: $(dirname "$OUTPUT")/report/report.html"
exit "$status"
