#!/usr/bin/env bash
# Runs every command of README.md's sh blocks, as written, from a scratch copy of the checkout (its build
# and data linked in), except the two set-up commands (which install and build: CI runs one of them, and
# this test runs inside it). Usage: readme_test.sh SOURCE_DIR BUILD_DIR DATA_DIR
set -euo pipefail
source_dir=$1 build_dir=$2 data_dir=$3
scratch=$(mktemp -d /tmp/robustscope-readme-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
cp -r "$source_dir"/{experiments,scripts,slurm,docs} "$scratch"/
ln -s "$build_dir" "$scratch/build"
ln -s "$data_dir" "$scratch/data"
cd "$scratch"
# The commands: lines of ```sh blocks, continuation lines joined, comments after a command kept (bash
# ignores them).
mapfile -t commands < <(awk '
  /^```sh/ { inside = 1; next }
  /^```/   { inside = 0; next }
  inside {
    line = $0
    if (pending != "") { line = pending " " line; pending = "" }
    if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); pending = line; next }
    print line
  }' "$source_dir/README.md")
ran=0
for command in "${commands[@]}"; do
  [[ -z "${command// }" ]] && continue
  case "$command" in
    scripts/demo.sh*|scripts/test.sh*) continue ;;
  esac
  echo "== $command"
  if ! bash -c "$command"; then
    echo "readme_test: this README command failed: $command" >&2
    exit 1
  fi
  ran=$((ran + 1))
done
echo "readme_test: $ran README commands ran"
[[ $ran -ge 10 ]] || { echo "readme_test: expected at least 10 commands, found $ran" >&2; exit 1; }
# What the walk-through promises exists.
for file in results/quickstart/results.h5 results/quickstart/report/report.html \
            results/quickstart/figures/contour_0.png samples.csv mlp-landscapes.h5 figures/cuts_0.png; do
  [[ -s "$file" ]] || { echo "readme_test: $file is missing" >&2; exit 1; }
done
