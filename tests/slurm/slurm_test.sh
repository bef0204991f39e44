#!/usr/bin/env bash
# Starts a real SLURM on this machine (Debian's slurm-wlm and munge: munged, slurmctld and slurmd on
# localhost, as root, everything in a temporary folder and on private ports), submits a small sweep
# with the shipped slurm/one-node.sbatch on 2 ranks, with a 1-minute time limit so that the USR1
# before the limit requeues it at least once, and checks that the requeued job resumed and the
# results file is complete; then a sweep as a job array of two parts (slurm/array.sbatch).
#   slurm_test.sh ROBUSTSCOPE_BINARY DATA_DIR SOURCE_DIR
# Exit 77 (skipped, with the reason) when not root or SLURM/munge are not installed.
set -uo pipefail
binary=$1 data_dir=${ROBUSTSCOPE_DATA_DIR:-$2} source_dir=$3
skip() { echo "SKIPPED: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root to run slurmd and munged"
for tool in munged slurmctld slurmd sbatch squeue scontrol mpirun; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs slurm-wlm and munge)"
done

work=$(mktemp -d /tmp/robustscope-slurm-XXXXXX)
fail() { echo "FAILED: $*"; for log in "$work"/*.log "$work"/*.out; do [[ -f $log ]] && { echo "--- $log"; tail -30 "$log"; }; done; exit 1; }
cleanup() {
  [[ -f $work/slurmd.pid ]] && kill "$(cat "$work/slurmd.pid")" 2>/dev/null
  [[ -f $work/slurmctld.pid ]] && kill "$(cat "$work/slurmctld.pid")" 2>/dev/null
  munged --socket="$work/munge.socket" --stop >/dev/null 2>&1
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
node=$(hostname -s)
port=$((17000 + RANDOM % 2000))
mkdir -p "$work/state" "$work/spool"

dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge.key"
munged --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --log-file="$work/munged.log" --seed-file="$work/munged.seed" ||
  fail "munged did not start"
cat >"$work/slurm.conf" <<CONF
ClusterName=robustscope-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge.socket
CredType=cred/munge
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" -N "$node" || fail "slurmd did not start"
for _ in $(seq 60); do
  [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break
  sleep 1
done
[[ $(sinfo -h -o %t) == idle ]] || fail "the node did not come up: $(sinfo 2>&1)"
echo "SLURM up on $node, ports $port-$((port + 1))"

# A small model and a sweep that takes longer than the 10-20 s before the first USR1.
"$binary" train --arch small-cnn --epochs 1 \
  --train-limit 2000 --data-dir "$data_dir" --threads 2 --output "$work/model.pt" \
  >"$work/train.log" 2>&1 || fail "training the test model failed"
cat >"$work/sweep.yaml" <<SPEC
name: slurm-test
seed: 5
threads: 1
output: $work/results.h5
data: {dir: $data_dir}
samples: {count: 1000, shard_size: 50, batch_size: 50}
models:
  - {name: cnn, checkpoint: $work/model.pt}
procedures:
  metric: {epsilon: [0.1, 0.3], steps: 40}
  attacks:
    - {name: pgd, epsilon: 0.1, steps: 40}
SPEC

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ROBUSTSCOPE_BINARY="$binary"
export ROBUSTSCOPE_HOME=$source_dir

# A time limit below the shipped --signal lead (300 s) is refused at once, not requeued forever.
short=$(cd "$work" && sbatch --parsable --gpus-per-node=0 --ntasks-per-node=1 --cpus-per-task=1 \
  --time=1 --output="$work/short.out" "$source_dir/slurm/one-node.sbatch" "$work/sweep.yaml" --quiet) ||
  fail "sbatch refused the short job"
for _ in $(seq 120); do
  [[ -z $(squeue -h -j "$short" 2>/dev/null) ]] && break
  sleep 1
done
[[ -z $(squeue -h -j "$short" 2>/dev/null) ]] || fail "the short job $short did not end by itself"
grep -q "is not above the USR1 lead (300 s)" "$work/short.out" || fail "the short job was not refused"
! grep -q "requeueing" "$work/short.out" || fail "the short job was requeued"
echo "the job with --time=1 under a 300 s signal lead was refused"

export ROBUSTSCOPE_SIGNAL_LEAD=50  # the jobs below ask for USR1 50 s before their limit
job=$(cd "$work" && sbatch --parsable --gpus-per-node=0 --ntasks-per-node=2 --cpus-per-task=1 \
  --time=1 --signal=B:USR1@50 --output="$work/job.out" \
  "$source_dir/slurm/one-node.sbatch" "$work/sweep.yaml" --quiet) || fail "sbatch refused the job"
echo "submitted job $job"
requeued=0
for _ in $(seq 300); do
  state=$(squeue -h -j "$job" -o "%T %r" 2>/dev/null)
  [[ -z $state ]] && break
  # SLURM holds a requeued job back for two minutes; the test does not wait for that.
  if [[ $state == "PENDING BeginTime" ]]; then
    requeued=$((requeued + 1))
    scontrol update JobId="$job" StartTime=now
  fi
  sleep 1
done
[[ -z $(squeue -h -j "$job" 2>/dev/null) ]] || fail "job $job did not finish in 5 minutes"
cat "$work/job.out"
grep -q "requeueing job $job" "$work/job.out" || fail "the job was never requeued before its time limit"
grep -q "already complete" "$work/job.out" || fail "the requeued job did not resume"
inspect=$("$binary" inspect "$work/results.h5") || fail "inspect failed: $inspect"
echo "$inspect"
grep -q "tasks: 60 planned, 60 completed, 0 failed, 0 pending" <<<"$inspect" ||
  fail "the results file is incomplete"
grep -q "2 ranks" <<<"$inspect" || fail "the run did not use 2 ranks"

# The same kind of sweep as a job array of two parts (slurm/array.sbatch, run --part i/2) into one
# output: both elements run at once, each merges at its end, the last with every part's tasks.
sed "s#$work/results.h5#$work/array.h5#; s#count: 1000#count: 200#" "$work/sweep.yaml" >"$work/array.yaml"
array=$(cd "$work" && sbatch --parsable --array=0-1 --cpus-per-task=1 --output="$work/array-%a.out" \
  "$source_dir/slurm/array.sbatch" "$work/array.yaml" --quiet) || fail "sbatch refused the array"
echo "submitted array $array"
for _ in $(seq 300); do
  [[ -z $(squeue -h -j "$array" 2>/dev/null) ]] && break
  sleep 1
done
[[ -z $(squeue -h -j "$array" 2>/dev/null) ]] || fail "array $array did not finish in 5 minutes"
for part in 0 1; do
  cat "$work/array-$part.out"
  grep -q "part $part/2 (of 12 tasks in all)" "$work/array-$part.out" || fail "element $part did not run part $part/2"
done
inspect=$("$binary" inspect "$work/array.h5") || fail "inspect failed: $inspect"
grep -q "tasks: 12 planned, 12 completed, 0 failed, 0 pending" <<<"$inspect" ||
  fail "the array's results file is incomplete: $inspect"
echo "PASSED: job $job requeued $requeued time(s) and completed all 60 tasks; array $array's two parts completed all 12"
