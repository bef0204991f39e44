#!/usr/bin/env bash
# mpirun as the README uses it on one machine: the given arguments, plus --oversubscribe (more ranks than
# cores is fine for a try-out) and, as root (containers, the set-up scripts), --allow-run-as-root, which
# Open MPI otherwise refuses. On a cluster call mpirun (or srun) directly: docs/cluster.md.
#
# Ctrl-C (SIGINT) or SIGTERM: Open MPI's mpirun would send its ranks SIGTERM, exit 1 whatever it was
# sent, and could end before it relayed rank 0's last lines. Here the ranks (mpirun's children on this
# machine) get SIGTERM from this script instead: rank 0 says what is kept and exits, mpirun ends the job
# and relays every line, and this script exits 128 + the signal it received, as a run without mpirun
# does (docs/results.md).
extra=(--oversubscribe)
[[ $(id -u) -eq 0 ]] && extra+=(--allow-run-as-root)
mpirun "${extra[@]}" "$@" &
launcher=$!
stop() {
  pkill -TERM -P "$launcher" 2>/dev/null || kill -TERM "$launcher" 2>/dev/null
  wait "$launcher"
  exit $((128 + $1))
}
trap 'stop 2' INT
trap 'stop 15' TERM
wait "$launcher"
