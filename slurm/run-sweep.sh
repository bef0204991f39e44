#!/usr/bin/env bash
# Runs one experiment spec inside a SLURM allocation, one MPI rank per allocated task (the batch
# scripts beside this file call it). On USR1 — sent by `#SBATCH --signal=B:USR1@<seconds>` before
# the time limit — the job requeues itself; the next start resumes the run where it stopped
# (completed tasks are kept as files and checked, see docs/results.md).
#
#   ROBUSTSCOPE_HOME      the checkout (default: the directory sbatch was called from)
#   ROBUSTSCOPE_BINARY    the robustscope executable (default: $ROBUSTSCOPE_HOME/build/src/cli/robustscope)
#   ROBUSTSCOPE_LAUNCHER  mpirun (default: Open MPI reads the allocation) | srun (srun --mpi=pmix)
#   ROBUSTSCOPE_SRUN_MPI  the srun MPI plugin (default pmix)
set -uo pipefail
spec=${1:?usage: run-sweep.sh SPEC.yaml [robustscope run options]}
shift
home=${ROBUSTSCOPE_HOME:-${SLURM_SUBMIT_DIR:-$PWD}}
binary=${ROBUSTSCOPE_BINARY:-$home/build/src/cli/robustscope}
launcher=${ROBUSTSCOPE_LAUNCHER:-mpirun}
cd "$home" || exit 1
[[ -x "$binary" ]] || { echo "run-sweep: no executable $binary (set ROBUSTSCOPE_BINARY)" >&2; exit 1; }

echo "run-sweep: job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0} at $(date -u +%FT%TZ)" \
  "on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} ranks, spec $spec"
requeue() {
  echo "run-sweep: time limit near at $(date -u +%FT%TZ): requeueing job $SLURM_JOB_ID"
  scontrol requeue "$SLURM_JOB_ID"
}
trap requeue USR1

case $launcher in
  mpirun) mpirun --bind-to none "$binary" run "$spec" "$@" & ;;
  srun) srun --mpi="${ROBUSTSCOPE_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 "$binary" run "$spec" "$@" & ;;
  *) echo "run-sweep: ROBUSTSCOPE_LAUNCHER must be mpirun or srun, not $launcher" >&2; exit 2 ;;
esac
run=$!
# The trap interrupts `wait`; keep waiting until the run ends (or the requeue ends the job).
status=0
while kill -0 "$run" 2>/dev/null; do
  wait "$run"
  status=$?
done
echo "run-sweep: run ended with status $status at $(date -u +%FT%TZ)"
exit "$status"
