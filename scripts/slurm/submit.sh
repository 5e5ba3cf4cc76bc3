#!/bin/bash
# Submit a sweep as a Slurm job array of N shards, and its merge as a job that runs after it.
#
#   scripts/slurm/submit.sh [--wait] [--tasks LIST] SWEEP_FILE OUT N [extra sbatch args...]
#
#   1. sbatch --parsable --array=1-N [extra] scripts/slurm/sweep-array.sh SWEEP_FILE OUT N
#   2. sbatch --parsable --dependency=afterok:<array job> --kill-on-invalid-dep=yes [extra]
#      --wrap "mlp report OUT"      (summary.csv/summary.md of all the shards' runs, in OUT)
#   and prints both job ids. If a task fails, the merge is cancelled (its dependency can no
#   longer be met): resubmit the failed tasks with --tasks (they resume where they stopped),
#   which queues a new merge after them.
#
#   --wait        wait for both jobs (sbatch --wait); exit non-zero if a task or the merge failed
#   --tasks LIST  submit only these task ids of the N (e.g. 2,5 or 3-4) instead of 1-N
#   extra         passed to both sbatch calls (e.g. --partition=..., --account=...); the array's
#                 resources (--cpus-per-task, --mem, --time) override sweep-array.sh's #SBATCH
#                 lines; the merge asks for 1 CPU, 1G and 15 minutes whatever extra says
#
# OUT must be on a file system shared by the nodes. Relative paths are taken from the current
# directory, which is the jobs' working directory. MLP_BIN (default: mlp on PATH, else this
# checkout's target/release/mlp) and MLP_DATA_DIR (optional, see sweep-array.sh) are resolved
# here and handed to the jobs as absolute paths, as are SWEEP_FILE and OUT. Slurm's output files
# go to the current directory unless extra args say otherwise (slurm-mlp-sweep-<job>_<task>.out,
# slurm-mlp-merge-<job>.out).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
show() { printf 'submit.sh:'; printf ' %q' "$@"; echo; }
usage="usage: submit.sh [--wait] [--tasks LIST] SWEEP_FILE OUT N [extra sbatch args...]"

wait_mode=0
tasks=
while [[ $# -gt 0 ]]; do
    case $1 in
        --wait) wait_mode=1; shift ;;
        --tasks) tasks=${2:?$usage}; shift 2 ;;
        --tasks=*) tasks=${1#--tasks=}; shift ;;
        -h | --help) echo "$usage"; exit 0 ;;
        *) break ;;
    esac
done
if [[ $# -lt 3 ]]; then
    echo "$usage" >&2
    exit 2
fi
sweep_file=$1 out=$2 n=$3
shift 3
extra=("$@")
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
    echo "submit.sh: N must be a positive number of shards, not '$n'" >&2
    exit 2
fi
if [[ ! -f $sweep_file ]]; then
    echo "submit.sh: no sweep file $sweep_file" >&2
    exit 2
fi

if [[ -n ${MLP_BIN:-} ]]; then
    mlp=$MLP_BIN
elif command -v mlp >/dev/null 2>&1; then
    mlp=$(command -v mlp)
else
    mlp=$here/../../target/release/mlp
fi
if [[ ! -x $mlp ]]; then
    echo "submit.sh: no mlp binary at $mlp (set MLP_BIN)" >&2
    exit 2
fi
mlp=$(realpath "$mlp")
sweep_file=$(realpath "$sweep_file")
mkdir -p "$out"
out=$(realpath "$out")
export MLP_BIN=$mlp

# --export names the variables the task needs, in case the site's default is --export=NONE
export_opt=--export=ALL,MLP_BIN=$mlp
if [[ -n ${MLP_DATA_DIR:-} ]]; then
    export_opt+=,MLP_DATA_DIR=$(realpath "$MLP_DATA_DIR")
fi
array_opts=(--parsable --array="${tasks:-1-$n}" "$export_opt" "${extra[@]}")
array_job=("$here/sweep-array.sh" "$sweep_file" "$out" "$n")
printf -v merge_wrap '%q report %q' "$mlp" "$out"
merge_opts=(--parsable --job-name=mlp-merge --output=slurm-%x-%j.out --kill-on-invalid-dep=yes
    "${extra[@]}" --cpus-per-task=1 --mem=1G --time=00:15:00)

if ((wait_mode == 0)); then
    array_cmd=(sbatch "${array_opts[@]}" "${array_job[@]}")
    show "${array_cmd[@]}"
    array_id=$("${array_cmd[@]}")
    array_id=${array_id%%;*}
    merge_cmd=(sbatch "${merge_opts[@]}" --dependency=afterok:"$array_id" --wrap "$merge_wrap")
    show "${merge_cmd[@]}"
    merge_id=$("${merge_cmd[@]}")
    merge_id=${merge_id%%;*}
    echo "submit.sh: array job $array_id ($n shards), merge job $merge_id (after it)"
    exit 0
fi

# --wait: sbatch --wait prints the job id when it submits and exits when the job has ended, with
# the largest exit code of its tasks. Run the array's sbatch in the background, read its id, queue
# the merge after it and wait for both. (A merge cancelled because a task failed also leaves
# sbatch --wait with status 0, hence the array's own status decides first.)
idfile=$(mktemp)
bg_pids=()
# On an early exit (a signal, an error), stop the waiting sbatch clients too (not the jobs).
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -f "$idfile" "$idfile.merge"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
array_cmd=(sbatch "${array_opts[@]}" --wait "${array_job[@]}")
show "${array_cmd[@]}"
"${array_cmd[@]}" >"$idfile" &
array_pid=$!
bg_pids+=("$array_pid")
while [[ ! -s $idfile ]]; do
    if ! kill -0 "$array_pid" 2>/dev/null; then
        wait "$array_pid" || true
        [[ -s $idfile ]] && break
        echo "submit.sh: the array was not submitted" >&2
        exit 1
    fi
    sleep 0.1
done
array_id=$(head -n 1 "$idfile")
array_id=${array_id%%;*}
echo "submit.sh: array job $array_id submitted ($n shards)"
merge_cmd=(sbatch "${merge_opts[@]}" --dependency=afterok:"$array_id" --wait --wrap "$merge_wrap")
show "${merge_cmd[@]}"
"${merge_cmd[@]}" >"$idfile.merge" &
merge_pid=$!
bg_pids+=("$merge_pid")
array_status=0
wait "$array_pid" || array_status=$?
merge_status=0
wait "$merge_pid" || merge_status=$?
bg_pids=()
merge_id=$(head -n 1 "$idfile.merge" 2>/dev/null || true)
merge_id=${merge_id%%;*}
echo "submit.sh: array job $array_id ended with status $array_status," \
    "merge job ${merge_id:-?} with status $merge_status"
if ((array_status != 0)); then
    echo "submit.sh: a task of array job $array_id failed; the merge was cancelled" >&2
    exit "$array_status"
fi
exit "$merge_status"
