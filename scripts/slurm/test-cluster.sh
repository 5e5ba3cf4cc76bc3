#!/bin/bash
# `make slurm-test`: a live one-node Slurm cluster under a temporary directory, a sweep run on it as
# a job array of 3 shards through scripts/slurm/sweep-array.sh (submitted, with its merge job, by
# scripts/slurm/submit.sh --wait), and the merged summary.csv compared with an unsharded
# `mlp sweep` of the same file, the wall-time column aside.
#
# Needs root (it starts slurmctld, slurmd and munged) and Debian's packages slurm-wlm and munge,
# which it installs with apt-get when missing. Nothing outside the temporary directory is
# configured: a private munge key and socket, a generated slurm.conf (node described as
# `slurmd -C` reports it; proctrack/linuxproc and task/none, no cgroups; no accounting), free
# ports. Every daemon it started is stopped on exit, success or not. The last line printed is the
# verdict: `slurm-test: PASS: ...` or `slurm-test: FAIL: <reason>` (exit status 1).
#
# Environment: SLURM_TEST_SWEEP (default scripts/slurm/sweep-short.toml), SLURM_TEST_SHARDS (3),
# SLURM_TEST_KEEP=1 to keep the temporary directory (it is kept anyway on failure), MLP_BIN
# (default target/release/mlp; copied, so a rebuild during the test cannot mix two binaries).
set -Eeuo pipefail

t0=$(date +%s.%N)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
sweep=${SLURM_TEST_SWEEP:-scripts/slurm/sweep-short.toml}
shards=${SLURM_TEST_SHARDS:-3}
keep=${SLURM_TEST_KEEP:-0}

log() { echo "slurm-test: $*"; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

verdict=
tmp=
submit_pid=
err_where=
trap 'err_where="line $LINENO: $BASH_COMMAND"' ERR
# The verdict line is printed last, after the cleanup.
fail() {
    verdict="FAIL: $*"
    exit 1
}

# ---- cleanup: cancel our jobs, stop our daemons (by their pid files), report leftovers ----
# the state letter of a process (R, S, Z, ...; empty if gone), from /proc (procps may be absent)
proc_state() { sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true; }
stop_pid() { # name pid: SIGTERM, wait up to 15 s, then SIGKILL
    local name=$1 pid=$2 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        # a zombie waiting for its parent has stopped already
        [[ $(proc_state "$pid") == Z ]] && return 0
        sleep 0.1
    done
    log "$name (pid $pid) ignored SIGTERM; killing it"
    kill -9 "$pid" 2>/dev/null || true
}
pid_of() { if [[ -s $1 ]]; then head -n 1 "$1"; fi; }
pidfile() { if [[ $1 == munged ]]; then echo "$tmp/munge-run/munged.pid"; else echo "$tmp/$1.pid"; fi; }
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local status=$? left='' p name
    set +e
    trap - ERR
    if [[ -n $submit_pid ]] && kill -0 "$submit_pid" 2>/dev/null; then
        kill "$submit_pid" 2>/dev/null # timeout passes it on to submit.sh, which stops its sbatch clients
        wait "$submit_pid" 2>/dev/null
    fi
    if [[ -n $tmp && -d $tmp ]]; then
        if [[ -n ${SLURM_CONF:-} && -s $tmp/slurmctld.pid ]] && kill -0 "$(pid_of "$tmp/slurmctld.pid")" 2>/dev/null; then
            local jobs
            jobs=$(squeue -h -o %A 2>/dev/null | sort -u)
            if [[ -n $jobs ]]; then
                log "cancelling jobs left in the queue: $(echo "$jobs" | tr '\n' ' ')"
                # shellcheck disable=SC2086
                scancel $jobs 2>/dev/null
                for _ in $(seq 50); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.2; done
            fi
        fi
        local stopped=''
        for name in slurmd slurmctld munged; do
            p=$(pid_of "$tmp/$name.pid.started")
            [[ -n $p ]] || p=$(pid_of "$(pidfile "$name")")
            [[ -n $p ]] || continue
            echo "$p" >"$tmp/$name.pid.started"
            stop_pid "$name" "$p"
            stopped+=" $name($p)"
        done
        [[ -n $stopped ]] && log "stopped:$stopped"
        for name in slurmd slurmctld munged; do
            p=$(pid_of "$tmp/$name.pid.started")
            if [[ -n $p ]] && kill -0 "$p" 2>/dev/null && [[ $(proc_state "$p") != Z ]]; then
                left+=" $name($p)"
            fi
        done
    fi
    if [[ -n $left ]]; then
        log "daemons still running after the cleanup:$left"
        [[ -z $verdict || $verdict == PASS* ]] && verdict="FAIL: daemons left running:$left"
        status=1
    fi
    if [[ -z $verdict ]]; then
        verdict="FAIL: stopped at ${err_where:-an unexpected exit (status $status)}"
    fi
    [[ $verdict == PASS* ]] || status=1
    if [[ -n $tmp && -d $tmp ]]; then
        if [[ $status == 0 && $keep != 1 ]]; then
            rm -rf "$tmp"
        else
            log "kept $tmp (logs in $tmp/log and $tmp/jobs)"
        fi
    fi
    log "total $(since "$t0") s"
    echo "slurm-test: $verdict"
    exit "$status"
}
trap cleanup EXIT
trap 'verdict="FAIL: interrupted"; exit 130' INT TERM

# ---- 1. packages ----
[[ $(id -u) == 0 ]] || fail "must run as root (it starts munged, slurmctld and slurmd)"
missing=
for c in slurmctld slurmd sbatch squeue sinfo scancel munged; do
    command -v "$c" >/dev/null 2>&1 || missing+=" $c"
done
if [[ -n $missing ]]; then
    log "installing slurm-wlm and munge (missing:$missing)"
    t=$(date +%s.%N)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq slurm-wlm munge >/dev/null || fail "apt-get install slurm-wlm munge failed"
    log "installed in $(since "$t") s"
fi
for c in slurmctld slurmd sbatch munged; do
    command -v "$c" >/dev/null 2>&1 || fail "$c not found after installing slurm-wlm and munge"
done
id munge >/dev/null 2>&1 || fail "no munge user (the munge package creates it)"

mlp_src=${MLP_BIN:-target/release/mlp}
[[ -x $mlp_src ]] || fail "no mlp binary at $mlp_src (make build)"
[[ -f $sweep ]] || fail "no sweep file $sweep"

# ---- 2. a one-node cluster under a temporary directory ----
tmp=$(mktemp -d /tmp/mlp-slurm-test.XXXXXX)
chmod 755 "$tmp" # munged (as user munge) must reach its socket directory
mkdir -p "$tmp"/{state,spool,log,jobs,munge-key,munge-run}
cp "$mlp_src" "$tmp/mlp"
mlp=$tmp/mlp
data=$root/data/mnist
[[ -d $data ]] || fail "no MNIST data in $data"

# munge: a private key, socket, pid and log (as the munge user; munged refuses other owners)
chown munge:munge "$tmp/munge-key" "$tmp/munge-run"
chmod 700 "$tmp/munge-key"
chmod 755 "$tmp/munge-run"
as_munge() {
    if command -v runuser >/dev/null 2>&1; then runuser -u munge -- "$@"; else su -s /bin/sh munge -c "$(printf '%q ' "$@")"; fi
}
if command -v mungekey >/dev/null 2>&1; then
    as_munge mungekey --create --keyfile="$tmp/munge-key/munge.key" --bits=1024
else
    as_munge dd if=/dev/urandom of="$tmp/munge-key/munge.key" bs=128 count=1 status=none
    chmod 600 "$tmp/munge-key/munge.key"
fi
socket=$tmp/munge-run/munge.socket
as_munge /usr/sbin/munged --socket="$socket" --key-file="$tmp/munge-key/munge.key" \
    --pid-file="$tmp/munge-run/munged.pid" --log-file="$tmp/munge-key/munged.log" \
    --seed-file="$tmp/munge-key/munged.seed" ||
    fail "munged did not start: $(tail -n 3 "$tmp/munge-key/munged.log" 2>/dev/null)"
pid_of "$(pidfile munged)" >"$tmp/munged.pid.started"
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null || fail "munge credential round trip failed"

# free ports for slurmctld and slurmd (not Slurm's defaults, in case a real cluster runs here)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port=
for p in $(seq 17817 10 18817); do
    if port_free "$p" && port_free "$((p + 1))"; then ctld_port=$p; break; fi
done
[[ -n $ctld_port ]] || fail "no free port pair between 17817 and 18818"

host=$(hostname -s)
getent hosts "$host" >/dev/null || fail "the short hostname $host does not resolve (add it to /etc/hosts)"
node=$(slurmd -C | head -n 1)
get() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$node"; }
cpus=$(get CPUs) boards=$(get Boards) sockets=$(get SocketsPerBoard) cores=$(get CoresPerSocket)
threads=$(get ThreadsPerCore) memory=$(get RealMemory)
[[ -n $cpus && -n $sockets && -n $cores && -n $threads && -n $memory ]] ||
    fail "could not read the node from slurmd -C: $node"
log "node $host: CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory"

cat >"$tmp/slurm.conf" <<EOF
# generated by scripts/slurm/test-cluster.sh
ClusterName=mlptest
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$((ctld_port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# sbatch --wait polls after 2 s, then 4 times longer each time (8, 32 s) while that is under
# MinJobAge/2: at 5 (default 300) it polls every 2 s. Records of ended jobs live at least that long.
MinJobAge=5
NodeName=$host CPUs=$cpus Boards=${boards:-1} SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
log "$(sbatch --version), $(munged --version 2>&1 | head -n 1)"

t=$(date +%s.%N)
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -n 3 "$tmp/log/slurmctld.log" 2>/dev/null)"
for _ in $(seq 100); do [[ -s $tmp/slurmctld.pid ]] && break; sleep 0.05; done
pid_of "$tmp/slurmctld.pid" >"$tmp/slurmctld.pid.started"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: $(tail -n 3 "$tmp/log/slurmd.log" 2>/dev/null)"
for _ in $(seq 100); do [[ -s $tmp/slurmd.pid ]] && break; sleep 0.05; done
pid_of "$tmp/slurmd.pid" >"$tmp/slurmd.pid.started"
state=
for _ in $(seq 300); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    [[ $state == drain* || $state == down* ]] && break
    sleep 0.1
done
[[ $state == idle ]] || fail "node $host is '${state:-unreachable}', not idle: $(sinfo -h -R 2>/dev/null | tr -s ' ')"
log "cluster up (slurmctld port $ctld_port, slurmd $((ctld_port + 1))): node $host idle after $(since "$t") s"

# ---- 3. the sweep as a job array of $shards shards, and the merge job after it ----
sharded=$tmp/sharded
t=$(date +%s.%N)
# In the background, waited for: a signal to this script is handled at once (the cleanup stops
# submit.sh and cancels the jobs) instead of after the foreground command.
cd "$tmp/jobs" # the jobs' working directory: Slurm's output files land here
MLP_BIN=$mlp MLP_DATA_DIR=$data timeout 900 bash "$root/scripts/slurm/submit.sh" --wait \
    "$root/$sweep" "$sharded" "$shards" --cpus-per-task=1 --mem=1G --time=00:15:00 &
submit_pid=$!
cd "$root"
submit_status=0
wait "$submit_pid" || submit_status=$?
submit_pid=
((submit_status == 0)) || {
    ((submit_status != 124)) || log "submit.sh timed out after 900 s"
    for f in "$tmp"/jobs/*.out; do [[ -e $f ]] && { echo "--- $f"; tail -n 4 "$f"; }; done
    fail "the job array or its merge failed (job logs above and in $tmp/jobs)"
}
log "array of $shards shards and merge job done in $(since "$t") s"
for f in "$tmp"/jobs/slurm-mlp-sweep-*.out; do
    [[ -e $f ]] || fail "no job log of the array in $tmp/jobs"
    log "  $(basename "$f"): $(grep -m1 'running:' "$f" | sed 's/.*running: //')"
done
nlogs=$(find "$tmp/jobs" -name 'slurm-mlp-sweep-*.out' | wc -l)
[[ $nlogs == "$shards" ]] || fail "$nlogs array task logs, expected $shards"

# the merge as `mlp report` again, here, into another directory (the merge job wrote $sharded)
t=$(date +%s.%N)
"$mlp" report "$sharded" --out "$tmp/merged" >/dev/null || fail "mlp report $sharded failed"
log "mlp report of the shards' runs in $(since "$t") s"

# ---- 4. the same sweep unsharded ----
t=$(date +%s.%N)
"$mlp" sweep "$root/$sweep" --out "$tmp/unsharded" --data-dir "$data" --quiet >/dev/null ||
    fail "the unsharded mlp sweep failed"
log "unsharded sweep in $(since "$t") s"

# ---- 5. compare: rows sorted by run id, the execution columns dropped ----
# train_wall_s and threads say how a run was executed (a task's CPUs may differ from this shell's);
# every other column must agree.
canon() { # summary.csv -> header, then rows sorted by run id, without train_wall_s and threads
    awk -F, -v OFS=, '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_wall_s" || $i == "threads") drop[i] = 1
                  if (length(drop) != 2) { print "no train_wall_s or threads column" > "/dev/stderr"; exit 2 } }
        { out = ""; for (i = 1; i <= NF; i++) if (!(i in drop)) out = out (out == "" ? "" : OFS) $i
          print (NR == 1 ? "0" : "1") "\t" out }' "$1" | LC_ALL=C sort -t$'\t' -k1,1 -k2,2 | cut -f2-
}
for f in "$sharded/summary.csv" "$tmp/merged/summary.csv" "$tmp/unsharded/summary.csv"; do
    [[ -s $f ]] || fail "no $f"
done
canon "$tmp/unsharded/summary.csv" >"$tmp/unsharded.canon" || fail "unexpected summary.csv header"
canon "$sharded/summary.csv" >"$tmp/sharded.canon" || fail "unexpected summary.csv header"
canon "$tmp/merged/summary.csv" >"$tmp/merged.canon" || fail "unexpected summary.csv header"
runs=$(($(wc -l <"$tmp/unsharded.canon") - 1))
((runs > 0)) || fail "the unsharded sweep has no runs"
dirs=$(find "$sharded" -mindepth 1 -maxdepth 1 -type d | wc -l)
[[ $dirs == "$runs" ]] || fail "$dirs run directories in the sharded output, $runs runs unsharded"
if ! diff -u "$tmp/unsharded.canon" "$tmp/sharded.canon" >"$tmp/diff.txt"; then
    head -n 20 "$tmp/diff.txt"
    fail "the merge job's summary.csv differs from the unsharded one (diff above, $tmp/diff.txt)"
fi
if ! diff -u "$tmp/unsharded.canon" "$tmp/merged.canon" >"$tmp/diff.txt"; then
    head -n 20 "$tmp/diff.txt"
    fail "mlp report's summary.csv differs from the unsharded one (diff above, $tmp/diff.txt)"
fi
verdict="PASS: $shards shards, $runs runs, merged summary equals the unsharded one (train_wall_s and threads aside)"
