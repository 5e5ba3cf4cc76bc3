#!/bin/bash
# One shard of an `mlp sweep`, as one task of a Slurm job array (project issue 15).
#
#   sbatch --array=1-N scripts/slurm/sweep-array.sh SWEEP_FILE OUT [N]
#   (or: SWEEP_FILE=... OUT=... sbatch --array=1-N scripts/slurm/sweep-array.sh)
#   scripts/slurm/submit.sh SWEEP_FILE OUT N   does this and queues the merge after it
#
# Task I runs `mlp sweep SWEEP_FILE --shard I/N --jobs <cpus per task> --out OUT --quiet`:
# every N-th run of the sweep, SLURM_CPUS_PER_TASK of them at a time, each into OUT/<run-id>/.
# The array size is given at submission (--array=1-N).
#
# Inputs (the arguments win over the environment):
#   $1 or SWEEP_FILE  the sweep file (TOML), e.g. experiments/study.toml
#   $2 or OUT         the output directory; it MUST be on a file system shared by all nodes
#                     (every task writes its runs there and the merge reads them all)
#   $3 or SHARDS      N, the number of shards (default: SLURM_ARRAY_TASK_COUNT, which is right
#                     for --array=1-N only: when resubmitting some tasks, e.g. --array=2,5 of 8,
#                     Slurm counts 2 tasks, so give N explicitly)
#   MLP_BIN           the mlp binary (default: mlp on PATH, else
#                     $SLURM_SUBMIT_DIR/target/release/mlp); it must be reachable from the nodes
#   MLP_DATA_DIR      optional: the MNIST IDX files (passed as --data-dir); by default mlp looks
#                     for data/mnist under the working directory (the submission directory)
# Relative paths are relative to the job's working directory: the submission directory unless
# sbatch --chdir says otherwise.
#
# Safe to requeue or resubmit: `mlp sweep` skips finished runs, resumes interrupted ones from
# their checkpoints, and locks every run directory it trains (a run held by another live task is
# reported busy and left alone). Resubmit failed tasks with: sbatch --array=<their ids> ...
#
#SBATCH --job-name=mlp-sweep
#SBATCH --cpus-per-task=4
#SBATCH --mem=2G
#SBATCH --time=01:00:00
#SBATCH --output=slurm-%x-%A_%a.out
#SBATCH --open-mode=append
#SBATCH --requeue
set -euo pipefail

sweep_file=${1:-${SWEEP_FILE:-}}
out=${2:-${OUT:-}}
shards=${3:-${SHARDS:-}}
if [[ -z $sweep_file || -z $out ]]; then
    echo "sweep-array.sh: give the sweep file and the output directory (arguments or SWEEP_FILE/OUT)" >&2
    exit 2
fi
if [[ -z ${SLURM_ARRAY_TASK_ID:-} || -z ${SLURM_ARRAY_TASK_COUNT:-} ]]; then
    echo "sweep-array.sh: not a Slurm array task; submit it with sbatch --array=1-N" >&2
    exit 2
fi
task=$SLURM_ARRAY_TASK_ID
if [[ -z $shards ]]; then
    # --array=1-N: the count is N. A subset (--array=2,5) counts fewer tasks than its largest id.
    if ((${SLURM_ARRAY_TASK_MAX:-0} > SLURM_ARRAY_TASK_COUNT)); then
        echo "sweep-array.sh: array ${SLURM_ARRAY_TASK_MIN:-?}..${SLURM_ARRAY_TASK_MAX} is not 1-N;" \
            "give the number of shards (third argument or SHARDS)" >&2
        exit 2
    fi
    shards=$SLURM_ARRAY_TASK_COUNT
fi
if ! [[ $shards =~ ^[1-9][0-9]*$ && $task =~ ^[1-9][0-9]*$ ]] || ((task > shards)); then
    echo "sweep-array.sh: task $task of $shards shards: task ids run from 1 to the number of shards" >&2
    exit 2
fi

if [[ -n ${MLP_BIN:-} ]]; then
    mlp=$MLP_BIN
elif command -v mlp >/dev/null 2>&1; then
    mlp=$(command -v mlp)
else
    mlp=${SLURM_SUBMIT_DIR:-.}/target/release/mlp
fi
if [[ ! -x $mlp ]]; then
    echo "sweep-array.sh: no mlp binary at $mlp (set MLP_BIN)" >&2
    exit 2
fi

cmd=("$mlp" sweep "$sweep_file"
    --shard "${task}/${shards}"
    --jobs "${SLURM_CPUS_PER_TASK:-1}"
    --out "$out" --quiet)
if [[ -n ${MLP_DATA_DIR:-} ]]; then
    cmd+=(--data-dir "$MLP_DATA_DIR")
fi

echo "sweep-array.sh: job ${SLURM_ARRAY_JOB_ID:-?}_${SLURM_ARRAY_TASK_ID} on $(hostname -s) in $PWD" \
    "(restart ${SLURM_RESTART_COUNT:-0})"
echo "sweep-array.sh: running: ${cmd[*]}"
exec "${cmd[@]}"
