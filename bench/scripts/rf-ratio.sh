#!/bin/bash
# rf-ratio.sh: RF=3 (a replicated group, quorum fsync) against RF=1 (one broker, SYNC_FLUSH),
# same run, alternating, with mqbench produce through a name server: the measurement of
# docs/BENCHMARKS.md "Replicated group: RF=3 vs RF=1".
#
#   bench/scripts/rf-ratio.sh [-rounds N] [-n MESSAGES] [-slice CORES] [-bin DIR] [-data DIR]
#
# -slice CORES puts every broker process (the RF=1 broker, each replica) in a CPU cgroup of its
# own limited to CORES (e.g. 0.6): each replica gets the CPU the single broker gets, as on one
# machine per replica. Needs root and a cgroup v1 "cpu" or v2 "cpu" controller. Without it the
# three replicas share the machine's cores that RF=1's broker has to itself.
# Each round prints throughput, p50/p99 and the CPU seconds of each server process.
# Loopback aliases 127.0.0.170-174, ports 20911 (clients), 30911 (Raft), 29876-29877 (name servers).
set -euo pipefail
ROUNDS=4 N=50000 SLICE="" BIN=bin DATA=${TMPDIR:-/tmp}
while [ $# -gt 0 ]; do
  case $1 in
    -rounds) ROUNDS=$2; shift 2 ;; -n) N=$2; shift 2 ;; -slice) SLICE=$2; shift 2 ;;
    -bin) BIN=$2; shift 2 ;; -data) DATA=$2; shift 2 ;;
    *) echo "usage: $0 [-rounds N] [-n MESSAGES] [-slice CORES] [-bin DIR] [-data DIR]" >&2; exit 2 ;;
  esac
done
[ -x "$BIN/mqstore" ] && [ -x "$BIN/mqbench" ] || { echo "$BIN/mqstore and $BIN/mqbench missing (make build)" >&2; exit 2; }

# CPU slices: one cgroup per broker process, period 20 ms.
CG=""
if [ -n "$SLICE" ]; then
  quota=$(awk -v c="$SLICE" 'BEGIN { printf "%d", c * 20000 }')
  if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cgroup.procs ]; then
    for g in 0 1 2 3; do
      mkdir -p /sys/fs/cgroup/cpu/mqrf$g
      echo 20000 >/sys/fs/cgroup/cpu/mqrf$g/cpu.cfs_period_us
      echo "$quota" >/sys/fs/cgroup/cpu/mqrf$g/cpu.cfs_quota_us
    done
    CG=/sys/fs/cgroup/cpu/mqrf
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    for g in 0 1 2 3; do
      mkdir -p /sys/fs/cgroup/mqrf$g
      echo "$quota 20000" >/sys/fs/cgroup/mqrf$g/cpu.max
    done
    CG=/sys/fs/cgroup/mqrf
  else
    echo "-slice: no writable cgroup cpu controller" >&2; exit 2
  fi
fi
# The slices are removed at exit (their processes are gone by then).
[ -n "$CG" ] && trap 'for g in 0 1 2 3; do rmdir "$CG$g" 2>/dev/null || true; done' EXIT

# start G CMD...: starts CMD in the background, in slice G with -slice; PID is its process id.
start() {
  local g=$1; shift
  if [ -n "$CG" ]; then
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG$g" "$@" &
  else
    "$@" &
  fi
  PID=$!
}
ticks() { local s=""; for p in "$@"; do read -r -a f </proc/"$p"/stat; s="$s $((f[13] + f[14]))"; done; echo "$s"; }
cpus() { # before after: CPU seconds per process
  local -a a=($1) b=($2); local out=""
  for i in "${!a[@]}"; do out="$out $(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.2f", (y - x) / 100 }')"; done
  echo "$out"
}
report() { grep -E '^throughput|^latency' | sed -E 's/^throughput +([0-9,]+ msgs\/s).*/\1/; s/^latency +p50 ([0-9.]+ .s).*p99 ([0-9.]+ .s).*/p50 \1 p99 \2/' | tr '\n' ' '; }

rf1() {
  local d; d=$(mktemp -d "$DATA/rf1.XXXX")
  start 0 "$BIN/mqstore" -storePathRootDir "$d" -flushDiskType SYNC_FLUSH -bindAddress 127.0.0.170 \
    -brokerIP1 127.0.0.170 -listenPort 20911 -namesrv-listen 127.0.0.170:29876 -metrics-addr= \
    -grpcServerPort 0 -consoleEnable=false >"$d/log" 2>&1
  local p=$PID
  sleep 2
  local c0; c0=$(ticks $p)
  local out; out=$("$BIN/mqbench" produce -addr 127.0.0.170:29876 -size 1024 -producers 4 -window 64 -n "$N" -queues 8 -quiet 2>&1 | report)
  echo "RF=1: $out| broker CPU s:$(cpus "$c0" "$(ticks $p)")"
  kill $p; wait $p 2>/dev/null || true; rm -rf "$d"
}

rf3() {
  local d; d=$(mktemp -d "$DATA/rf3.XXXX")
  local peers='n0-127.0.0.172:30911;n1-127.0.0.173:30911;n2-127.0.0.174:30911'
  "$BIN/mqstore" namesrv -listen 127.0.0.171:29877 >"$d/ns.log" 2>&1 &
  local ns=$! pids=()
  for i in 0 1 2; do
    start $((i + 1)) "$BIN/mqstore" -brokerClusterName RF3 -brokerName broker-rf3 -bindAddress 127.0.0.17$((i + 2)) \
      -brokerIP1 127.0.0.17$((i + 2)) -listenPort 20911 -namesrvAddr 127.0.0.171:29877 -registerNameServerPeriod 1000 \
      -storePathRootDir "$d/n$i" -metrics-addr= -grpcServerPort 0 -consoleEnable=false -enableDLegerCommitLog=true \
      -dLegerGroup broker-rf3 -dLegerPeers "$peers" -dLegerSelfId n$i >"$d/n$i.log" 2>&1
    pids+=($PID)
  done
  for _ in $(seq 1 300); do grep -q "leader services started" "$d"/n*.log 2>/dev/null && break; sleep 0.1; done
  local leader; leader=$(grep -l "leader services started" "$d"/n*.log | head -1 | sed 's/.*n\([0-9]\)\.log/n\1/')
  sleep 2
  local c0; c0=$(ticks "${pids[@]}")
  local out; out=$("$BIN/mqbench" produce -addr 127.0.0.171:29877 -size 1024 -producers 4 -window 64 -n "$N" -queues 8 -quiet 2>&1 | report)
  echo "RF=3: $out| n0 n1 n2 CPU s:$(cpus "$c0" "$(ticks "${pids[@]}")") (leader $leader)"
  kill "${pids[@]}" $ns; wait "${pids[@]}" $ns 2>/dev/null || true; rm -rf "$d"
}

echo "# $N messages of 1 KiB, 4 producers x 64 in flight, 8 queues; slice: ${SLICE:-none}; load $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then echo "round $r: $(rf1)"; echo "round $r: $(rf3)"; else echo "round $r: $(rf3)"; echo "round $r: $(rf1)"; fi
done
