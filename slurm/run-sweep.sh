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
#   ROBUSTSCOPE_SIGNAL_LEAD  seconds before the time limit that USR1 comes (default 300, the batch
#                         scripts' --signal=B:USR1@300; set it with any other --signal)
set -uo pipefail
# USR1 can come before the run starts (a limit below its lead): note it, do not die of it.
trap 'echo "run-sweep: USR1 before the run started"' USR1
spec=${1:?usage: run-sweep.sh SPEC.yaml [robustscope run options]}
shift
home=${ROBUSTSCOPE_HOME:-${SLURM_SUBMIT_DIR:-$PWD}}
binary=${ROBUSTSCOPE_BINARY:-$home/build/src/cli/robustscope}
launcher=${ROBUSTSCOPE_LAUNCHER:-mpirun}
cd "$home" || exit 1
[[ -x "$binary" ]] || { echo "run-sweep: no executable $binary (set ROBUSTSCOPE_BINARY)" >&2; exit 1; }

echo "run-sweep: job ${SLURM_JOB_ID:-?} restart ${SLURM_RESTART_COUNT:-0} at $(date -u +%FT%TZ)" \
  "on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} ranks, spec $spec"
# A time limit at or below the signal's lead makes SLURM signal at once: every start would requeue
# the job again before a task ran. Refuse it instead.
seconds_of() {  # SLURM's [days-][hours:]minutes:seconds, or minutes; nothing for UNLIMITED
  local text=$1 days=0 h=0 m=0 s=0
  [[ $text =~ ^[0-9] ]] || return 0
  if [[ $text == *-* ]]; then days=${text%%-*}; text=${text#*-}; fi
  IFS=: read -r -a parts <<<"$text"
  case ${#parts[@]} in
    1) m=${parts[0]} ;;
    2) m=${parts[0]} s=${parts[1]} ;;
    3) h=${parts[0]} m=${parts[1]} s=${parts[2]} ;;
  esac
  echo $(((10#$days * 24 + 10#$h) * 3600 + 10#$m * 60 + 10#$s))
}
lead=${ROBUSTSCOPE_SIGNAL_LEAD:-300}
if [[ -n ${SLURM_JOB_ID:-} ]] && command -v squeue >/dev/null; then
  limit_text=$(squeue -h -j "$SLURM_JOB_ID" -o %l 2>/dev/null)
  limit=$(seconds_of "$limit_text")
  if [[ -n $limit ]] && ((limit <= lead)); then
    echo "run-sweep: the job's time limit ($limit_text, $limit s) is not above the USR1 lead ($lead s):" \
      "SLURM would signal at once and every start would requeue; raise --time, or give a shorter" \
      "--signal=B:USR1@<s> and ROBUSTSCOPE_SIGNAL_LEAD=<s>" >&2
    exit 2
  fi
fi

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
