#!/usr/bin/env bash
# A real single-node SLURM cluster on 127.0.0.1, for testing profiles/slurm.
#
#   tests/workflow/cluster/local-slurm.sh start    install slurm + munge if missing, start the daemons
#   tests/workflow/cluster/local-slurm.sh status   print the daemons' state; exit 0 only if the cluster is up
#   tests/workflow/cluster/local-slurm.sh stop     stop the daemons this script started (by pid), nothing else
#
# Runs as root on Debian without systemd. Every command is idempotent: `start` on a running cluster
# does nothing, `stop` on a stopped one does nothing.
#
# State (pid files, logs, slurmctld's state, the spool) lives in $LMM_SLURM_STATE (default
# /tmp/lmm-slurm). The configuration is written to /etc/slurm/slurm.conf, the default path, so every
# SLURM client (sbatch, squeue, and the srun inside each job) finds it without SLURM_CONF; a
# slurm.conf that this script did not write is never overwritten.
#
# Exit codes: 0 success; 1 failure (see the message and the logs in $LMM_SLURM_STATE/log);
# 3 SLURM cannot be started on this machine (not root, no apt-get, a foreign slurm.conf): callers
# such as tests/workflow/test_cluster.py skip on 3 and print the reason.
#
# SLURM's ports 6817/6818 are fixed, so there is one such cluster per machine; tests share it.
set -euo pipefail

STATE=${LMM_SLURM_STATE:-/tmp/lmm-slurm}
CONF=/etc/slurm/slurm.conf
MARKER="# Written by lmm-pipeline tests/workflow/cluster/local-slurm.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
MUNGE_SOCKET_DIR=/run/munge

log() { printf 'local-slurm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
cannot() { log "cannot start SLURM here: $*"; exit 3; }
# `hostname` is not installed everywhere; uname is (coreutils).
short_host() { uname -n | cut -d. -f1; }

# --- pids ----------------------------------------------------------------------------------------

# pid_alive PIDFILE EXE: the pid in PIDFILE is a running process whose executable is named EXE
# and which is not a zombie (guards against a stale pid file whose pid now belongs to something else).
pid_alive() {
    local pidfile=$1 exe=$2 pid
    [[ -s $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -d /proc/$pid ]] || return 1
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
    [[ $(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)") == "$exe" ]] \
        || [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$exe" ]]
}

# stop_pid NAME PIDFILE EXE: TERM the process, wait up to 15 s, then KILL it.
stop_pid() {
    local name=$1 pidfile=$2 exe=$3 pid i
    if ! pid_alive "$pidfile" "$exe"; then
        rm -f "$pidfile"
        return 0
    fi
    pid=$(<"$pidfile")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        [[ -d /proc/$pid ]] || break
        # a zombie has stopped; its parent (not us) reaps it
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && break
        sleep 0.1
    done
    if [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
        log "$name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# --- install -------------------------------------------------------------------------------------

installed() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null
}

install_packages() {
    installed && return 0
    [[ $(id -u) -eq 0 ]] || cannot "SLURM is not installed and installing it needs root"
    command -v apt-get >/dev/null || cannot "SLURM is not installed and there is no apt-get"
    log "installing ${PACKAGES[*]} from Debian (about 10 s)"
    export DEBIAN_FRONTEND=noninteractive
    # The postinst scripts try to start the services; without systemd that is denied: harmless.
    if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}" >"$STATE/log/apt.log" 2>&1; then
        log "apt-get install failed; running apt-get update once and retrying"
        apt-get update >>"$STATE/log/apt.log" 2>&1 || cannot "apt-get update failed (see $STATE/log/apt.log)"
        apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>"$STATE/log/apt.log" 2>&1 \
            || cannot "apt-get install ${PACKAGES[*]} failed (see $STATE/log/apt.log)"
    fi
    installed || die "packages installed but slurmctld/slurmd/sbatch/munged not on PATH"
}

# --- munge ---------------------------------------------------------------------------------------

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    if munge_works; then
        # ours (pid file alive) or one the machine already runs: use it, never stop the latter
        return 0
    fi
    getent passwd munge >/dev/null || die "user munge missing (the munge package creates it)"
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    # munged refuses to run unless its key and directories belong to the user it runs as.
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 0700 /etc/munge
    chmod 0600 /etc/munge/munge.key
    mkdir -p "$MUNGE_SOCKET_DIR" /var/lib/munge /var/log/munge "$STATE/munge"
    chown munge:munge "$MUNGE_SOCKET_DIR" /var/lib/munge /var/log/munge "$STATE/munge"
    chmod 0755 "$MUNGE_SOCKET_DIR"
    runuser -u munge -- /usr/sbin/munged --force \
        --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/munge/munged.log" 9>&- \
        || die "munged failed to start (see $STATE/munge/munged.log)"
    local i
    for ((i = 0; i < 50; i++)); do
        munge_works && return 0
        sleep 0.1
    done
    die "munged started but 'munge -n | unmunge' fails (see $STATE/munge/munged.log)"
}

# --- slurm ---------------------------------------------------------------------------------------

write_conf() {
    local host node name
    if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        cannot "$CONF exists and was not written by this script; not overwriting a site's configuration"
    fi
    host=$(short_host)
    # `slurmd -C` prints this machine's node line: NodeName=<host> CPUs=... RealMemory=...
    node=$(slurmd -C | head -n 1)
    [[ $node == NodeName=* ]] || die "unexpected output from 'slurmd -C': $node"
    name=${node%% *}
    name=${name#NodeName=}
    # slurmd looks itself up by the short host name
    [[ $name == "$host" ]] || die "'slurmd -C' names the node '$name' but the host name is '$host'"
    mkdir -p /etc/slurm
    cat >"$CONF.tmp" <<EOF
$MARKER (state: $STATE).
# A single-node cluster on 127.0.0.1 for tests; see that script. Not a production configuration.
ClusterName=localcluster
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No slurmdbd: sacct does not work here, so status queries must use squeue ...
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
# ... and finished jobs stay visible to squeue for 300 s.
MinJobAge=300
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
# Two partitions on the one node. The default is \`main\`; profiles/slurm asks for \`debug\`, so a job
# found in \`debug\` shows that the profile's partition reached sbatch.
PartitionName=main Nodes=$name Default=YES MaxTime=INFINITE State=UP
PartitionName=debug Nodes=$name Default=NO MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

cluster_up() {
    scontrol ping 2>/dev/null | grep -q 'is UP' || return 1
    local state
    state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
    [[ $state == idle* || $state == mixed* || $state == allocated* || $state == completing* ]]
}

wait_up() {
    local i state
    for ((i = 0; i < 300; i++)); do
        cluster_up && return 0
        state=$(sinfo -h -o %T 2>/dev/null | head -n 1 || true)
        if [[ $state == down* || $state == drain* ]] && ((i % 20 == 19)); then
            scontrol update NodeName="$(short_host)" State=RESUME >/dev/null 2>&1 || true
        fi
        sleep 0.1
    done
    return 1
}

cmd_start() {
    mkdir -p "$STATE"/{run,log,ctld,d}
    if pid_alive "$STATE/run/slurmctld.pid" slurmctld && pid_alive "$STATE/run/slurmd.pid" slurmd \
        && munge_works && cluster_up; then
        log "already running (state: $STATE)"
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || cannot "starting slurmctld/slurmd as this script does needs root"
    install_packages
    start_munge
    write_conf
    if ! pid_alive "$STATE/run/slurmctld.pid" slurmctld; then
        log "starting slurmctld"
        # -c: start clean, no jobs or node state from an earlier run
        slurmctld -c 9>&- || die "slurmctld failed to start (see $STATE/log/slurmctld.log)"
    fi
    if ! pid_alive "$STATE/run/slurmd.pid" slurmd; then
        log "starting slurmd"
        slurmd 9>&- || die "slurmd failed to start (see $STATE/log/slurmd.log)"
    fi
    if ! wait_up; then
        cmd_status >&2 || true
        die "cluster not up after 30 s (see $STATE/log/slurmctld.log and slurmd.log)"
    fi
    log "up: partitions main (default) and debug, node $(short_host) ($(sinfo -h -o '%c CPUs, %m MB')); state in $STATE"
}

cmd_stop() {
    stop_pid slurmd "$STATE/run/slurmd.pid" slurmd
    stop_pid slurmctld "$STATE/run/slurmctld.pid" slurmctld
    # munged only if this script started it (a munged the machine already ran has no pid file here)
    stop_pid munged "$STATE/munge/munged.pid" munged
    log "stopped"
}

cmd_status() {
    local up=0 name pidfile
    for name in munged slurmctld slurmd; do
        pidfile=$STATE/run/$name.pid
        [[ $name == munged ]] && pidfile=$STATE/munge/munged.pid
        if pid_alive "$pidfile" "$name"; then
            echo "$name: running (pid $(<"$pidfile"), started by this script)"
        else
            echo "$name: not started by this script"
        fi
    done
    if command -v scontrol >/dev/null && cluster_up; then
        echo "cluster: up ($(scontrol ping | tr -s ' ' | head -n 1 | sed 's/^ //'))"
        sinfo
        up=1
    else
        echo "cluster: down"
    fi
    echo "state: $STATE"
    ((up))
}

# start and stop of concurrent callers (two test sessions, say) take turns. The daemons are
# started with fd 9 closed, so that they do not hold the lock.
locked() {
    mkdir -p "$STATE"
    exec 9>"$STATE/lock"
    flock -w 600 9 || die "could not lock $STATE/lock within 600 s"
    "$@"
}

case ${1:-} in
    start) locked cmd_start ;;
    stop) locked cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status   (state in \$LMM_SLURM_STATE, default /tmp/lmm-slurm)" >&2
        exit 2
        ;;
esac
