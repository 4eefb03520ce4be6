#!/usr/bin/env bash
# The costs behind docs/SCALING.md "Capacity on paper": PostgreSQL CPU and WAL bytes per 1,000
# executions ingested and per read, and the service's CPU per request, measured on the release
# learning-server over its own throwaway PostgreSQL (fsync on, TCP on 127.0.0.1).
#
#   1. idle:    IDLE_SECS seconds of nothing (the feed's polls, checkpoints, jobs): the baseline
#               rate, subtracted from the phases below
#   2. ingest:  N_BATCH REST batches of 1,000 executions (POST /executions/batch, AGENTS agents x
#               5 task types), sequential, then SETTLE_SECS for the feed and the checkpoint
#   3. unary:   N_UNARY single executions (POST /executions), one curl reusing its connection
#   4. outside: N_OUTSIDE rows inserted by psql (one INSERT ... SELECT), which the service reads
#               through its change feed: what every other replica pays for a row written elsewhere
#   5. reads:   N_READS GETs spread over /agents/{name}/performance, /analytics/performance,
#               /recommendations, /agents/{name}/status, /analytics/anomalies, /analytics/insights
#               (one curl reusing its connection)
# PostgreSQL CPU: utime+stime of the postmaster, its children living and reaped (cutime+cstime),
# from /proc; WAL: pg_current_wal_lsn() before and after; the service: its own utime+stime.
#
# usage: bench/scale.sh   (env: N_BATCH=100 N_UNARY=2000 N_OUTSIDE=50000 N_READS=3000 AGENTS=70 IDLE_SECS=10 SETTLE_SECS=4)
set -euo pipefail
cd "$(dirname "$0")/.."
N_BATCH=${N_BATCH:-100} N_UNARY=${N_UNARY:-2000} N_OUTSIDE=${N_OUTSIDE:-50000} N_READS=${N_READS:-3000} AGENTS=${AGENTS:-70}
IDLE_SECS=${IDLE_SECS:-10} SETTLE_SECS=${SETTLE_SECS:-4}
RESULTS="bench/results/scale-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
swift build -c release --product learning-server >&2
SERVER="$(swift build -c release --show-bin-path)/learning-server"
log() { echo "$*" | tee -a "$RESULTS/summary.txt"; }
log "date: $(date -Is); host: $(uname -srm); cpus: $(nproc); commit: $(git rev-parse --short HEAD); load: $(cut -d' ' -f1-3 /proc/loadavg)"

WORK=$(mktemp -d /tmp/scale-bench.XXXXXX)
chmod 755 "$WORK"
SERVER_PID=""
cleanup() {
  [ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
  scripts/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-56212}")
URL=$(scripts/pg-cluster.sh start "$WORK/pg" "$PG_PORT")
PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18825}")
LEARNING_DATABASE_URL=$URL LEARNING_API_PORT=$PORT LEARNING_LOG_LEVEL=WARNING "$SERVER" >"$RESULTS/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$PORT/health" 2>/dev/null | grep -q '"healthy"' && break
  sleep 0.2
done
POSTMASTER=$(head -1 "$WORK/pg/pgdata/postmaster.pid")
HZ=$(getconf CLK_TCK)

# CPU seconds: the postmaster and every descendant (living: utime+stime; reaped: the postmaster's cutime+cstime).
pg_cpu() {
  local ticks=0 pid fields
  for pid in $POSTMASTER $(pgrep -P "$POSTMASTER"); do
    fields=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    # fields after the name: state(1) ... utime(12) stime(13) cutime(14) cstime(15)
    ticks=$((ticks + $(echo "$fields" | awk '{print $12 + $13 + $14 + $15}')))
  done
  echo "scale=3; $ticks / $HZ" | bc
}
svc_cpu() { echo "scale=3; $(sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12 + $13}') / $HZ" | bc; }
wal() { psql "$URL" -XAtc "SELECT pg_current_wal_lsn()"; }
wal_bytes() { psql "$URL" -XAtc "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"; }
now() { date +%s.%N; }

# A phase: runs "$@" and prints pg_cpu svc_cpu wal_bytes seconds, less the idle rate for PG and service CPU.
IDLE_PG=0 IDLE_SVC=0 IDLE_WAL=0
measure() {
  local p0 s0 w0 t0 p1 s1 w1 t1 secs
  p0=$(pg_cpu); s0=$(svc_cpu); w0=$(wal); t0=$(now)
  "$@"
  p1=$(pg_cpu); s1=$(svc_cpu); w1=$(wal); t1=$(now)
  secs=$(echo "$t1 - $t0" | bc)
  echo "$(echo "$p1 - $p0 - $IDLE_PG * $secs" | bc) $(echo "$s1 - $s0 - $IDLE_SVC * $secs" | bc) $(( $(wal_bytes "$w0" "$w1") )) $secs"
}

idle() { sleep "$IDLE_SECS"; }
read -r ip is iw isecs < <(measure idle)
IDLE_PG=$(echo "scale=6; $ip / $isecs" | bc); IDLE_SVC=$(echo "scale=6; $is / $isecs" | bc)
IDLE_WAL=$(echo "$iw / $isecs" | bc)
log "idle: PostgreSQL $IDLE_PG cores, service $IDLE_SVC cores, WAL $IDLE_WAL bytes/s (subtracted below)"

# Batches of 1,000 executions, written to files first.
python3 - "$WORK" "$N_BATCH" "$AGENTS" <<'PY'
import json, random, sys
work, batches, agents = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(18)
tasks = ["review", "planning", "coding", "testing", "research"]
for b in range(batches):
    rows = [{"agent_name": f"agent-{random.randrange(agents):03d}", "task_type": random.choice(tasks),
             "execution_time": round(random.lognormvariate(1.0, 0.6), 3), "success": random.random() < 0.9,
             "resource_usage": {"cpu": round(random.uniform(5, 90), 1), "memory_mb": round(random.uniform(50, 900), 1)}}
            for _ in range(1000)]
    with open(f"{work}/batch-{b}.json", "w") as f:
        json.dump({"executions": rows}, f)
PY
ingest() {
  local b
  for b in $(seq 0 $((N_BATCH - 1))); do
    curl -sf -o /dev/null -H 'content-type: application/json' --data-binary "@$WORK/batch-$b.json" \
      "http://127.0.0.1:$PORT/executions/batch"
  done
  sleep "$SETTLE_SECS"
}
read -r bp bs bw bsecs < <(measure ingest)
rows=$((N_BATCH * 1000))
stored=$(psql "$URL" -XAtc "SELECT count(*) FROM agents.execution_log")
log "ingest: $rows executions in batches of 1,000 ($stored stored) in $bsecs s (with $SETTLE_SECS s settling)"
log "  per 1,000 executions: PostgreSQL $(echo "scale=4; $bp * 1000 / $rows" | bc) CPU s, WAL $((bw * 1000 / rows)) bytes, service $(echo "scale=4; $bs * 1000 / $rows" | bc) CPU s"

unary() {
  local args=() i
  for i in $(seq 1 "$N_UNARY"); do
    args+=(-o /dev/null -H 'content-type: application/json'
           --data "{\"agent_name\":\"agent-$((i % AGENTS))\",\"task_type\":\"review\",\"execution_time\":2.5,\"success\":true}"
           "http://127.0.0.1:$PORT/executions" --next)
  done
  curl -sf "${args[@]}" -o /dev/null "http://127.0.0.1:$PORT/health"
  sleep "$SETTLE_SECS"
}
read -r up us uw usecs < <(measure unary)
log "unary: $N_UNARY single executions (one curl, one connection) in $usecs s (with $SETTLE_SECS s settling)"
log "  per 1,000 executions: PostgreSQL $(echo "scale=4; $up * 1000 / $N_UNARY" | bc) CPU s, WAL $((uw * 1000 / N_UNARY)) bytes, service $(echo "scale=4; $us * 1000 / $N_UNARY" | bc) CPU s"

outside() {
  psql "$URL" -Xqc "INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success)
    SELECT 'agent-' || lpad((g % $AGENTS)::text, 3, '0'), 'review', 1 + (g % 7) * 0.5, g % 10 <> 0
    FROM generate_series(1, $N_OUTSIDE) g"
  local want=$((N_BATCH * 1000 + N_UNARY + N_OUTSIDE)) _
  for _ in $(seq 1 600); do
    curl -s "http://127.0.0.1:$PORT/analytics/performance" | grep -q "\"total_executions\":${want}[,}]" && break
    sleep 0.1
  done
  sleep "$SETTLE_SECS"
}
read -r op os ow osecs < <(measure outside)
log "outside: $N_OUTSIDE rows inserted by psql, counted through the change feed in $osecs s (with $SETTLE_SECS s settling)"
log "  per 1,000 rows: PostgreSQL $(echo "scale=4; $op * 1000 / $N_OUTSIDE" | bc) CPU s (the INSERT and the feed's reads), WAL $((ow * 1000 / N_OUTSIDE)) bytes, service $(echo "scale=4; $os * 1000 / $N_OUTSIDE" | bc) CPU s (the feed)"

reads() {
  local args=() i a
  for i in $(seq 1 "$N_READS"); do
    a=$(printf 'agent-%03d' $((i % AGENTS)))
    case $((i % 6)) in
      0) args+=(-o /dev/null "http://127.0.0.1:$PORT/agents/$a/performance") ;;
      1) args+=(-o /dev/null "http://127.0.0.1:$PORT/analytics/performance") ;;
      2) args+=(-o /dev/null "http://127.0.0.1:$PORT/recommendations?task_type=review") ;;
      3) args+=(-o /dev/null "http://127.0.0.1:$PORT/agents/$a/status") ;;
      4) args+=(-o /dev/null "http://127.0.0.1:$PORT/analytics/anomalies?limit=20") ;;
      5) args+=(-o /dev/null "http://127.0.0.1:$PORT/analytics/insights?limit=20") ;;
    esac
  done
  curl -s "${args[@]}"
}
read -r rp rs rw rsecs < <(measure reads)
log "reads: $N_READS GETs (six kinds, one connection) in $rsecs s"
log "  per read: PostgreSQL $(echo "scale=6; $rp / $N_READS" | bc) CPU s, WAL $((rw / N_READS)) bytes, service $(echo "scale=6; $rs / $N_READS" | bc) CPU s"
log "results in $RESULTS"
