#!/usr/bin/env bash
# mpirun as the README uses it on one machine: the given arguments, plus --oversubscribe (more ranks than
# cores is fine for a try-out) and, as root (containers, the set-up scripts), --allow-run-as-root, which
# Open MPI otherwise refuses. On a cluster call mpirun (or srun) directly: docs/cluster.md.
extra=(--oversubscribe)
[[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
exec mpirun "${extra[@]}" "$@"
