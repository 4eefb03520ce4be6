#!/usr/bin/env bash
# Durable ingest through the REAL service (release learning-server, its own throwaway PostgreSQL,
# fsync on), beside the PostgreSQL probe of ../shared/bench-peers (pg/run.sh: pgbench 1-row INSERT
# transactions from 8 clients, 100-row INSERTs, one psql \copy) in the same run:
#   1. unary LogExecution, one record per request, h2load -c 64 -m 1
#   2. batch RPC LogExecutions, 1000-record requests, h2load -c C_BATCH -m M_BATCH (no event ids:
#      every request stores 1000 new rows)
#   each RUNS times, each run after a CHECKPOINT (the peer's order and reset; UNARY_LAST=1 puts
#   the unary runs after the batch runs) (default 3, like the peer's runs; the median is reported, as the peer does),
#   each measured as the peer's runs are (the peers' run_measured: a quiet-machine gate, then the
#   cores of the server with its PostgreSQL, of h2load, and of everything else, "foreign"); after
#   each run psql checks that the rows added equal acknowledged requests x records (nothing lost).
#   3. overload: h2load keeps OV_CONNS x OV_STREAMS_PER_CONN 1000-record batches in flight for OV_SECS
#      seconds (no backing off) beside a grpcio client that counts the status codes it gets, while
#      the server's VmRSS is sampled; errors from /metrics, rows stored from psql.
# usage: bench/service-ingest.sh   (env: N_BATCH=300 C_BATCH=4 M_BATCH=4 N_UNARY=50000 RUNS=3 OV_CONNS=32
#        OV_STREAMS_PER_CONN=16 OV_SECS=15 PG_SECS=10 RETRIES=2 PEER=1 RATES=1 UNARY_LAST=0;
#        PEER=0 RATES=0 runs the overload only; SERVER_BIN=path instead of a release build of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N_BATCH=${N_BATCH:-300} C_BATCH=${C_BATCH:-4} M_BATCH=${M_BATCH:-4} N_UNARY=${N_UNARY:-50000} RUNS=${RUNS:-3}
OV_SECS=${OV_SECS:-15}
# shellcheck source=bench/peers.sh
. bench/peers.sh
prepare_peers /tmp/peers-store
RESULTS="$ROOT/bench/results/service-ingest-$(date +%Y%m%d-%H%M%S)"; export RESULTS
mkdir -p "$RESULTS/raw"
# The peers' own measuring (run_measured: a quiet-machine gate, then foreign / server / client
# cores from /proc/stat, the server's ticks and the client's rusage), so both sides of a ratio are
# accounted alike. Sourced before PY and log, which it also defines.
QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-20}
# shellcheck source=/dev/null
. "$PEERS_DIR/lib/common.sh"
PY=$(scripts/python-env.sh)
if [ -n "${SERVER_BIN:-}" ]; then
  SERVER=$SERVER_BIN
else
  swift build -c release --product learning-server >&2
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi
log() { echo "$*" | tee -a "$RESULTS/summary.txt"; }
log "date: $(date -Is); host: $(uname -srm); cpus: $(nproc); commit: $(git rev-parse --short HEAD)"

# The peer first (its own cluster, Unix socket), 1 measured run of each workload.
if [ "${PEER:-1}" = 1 ]; then
  log "uptime before pg peer: $(uptime)"
  SKIP_SWIFT=1 "$PEERS_DIR/setup.sh" >&2
  PG_SECS=${PG_SECS:-10} RUNS=$RUNS QUIET_MAX_WAIT=$QUIET_MAX_WAIT RETRIES=${RETRIES:-2} "$PEERS_DIR/pg/run.sh" || true
  log "peer (pg/run.sh):"; sed 's/^/  /' "$RESULTS/pg.tsv" | tee -a "$RESULTS/summary.txt"
fi

PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18661}")
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-56112}")
PGDIR=$(mktemp -d /tmp/service-ingest-pg.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
log "cluster: fsync=$(psql "$URL" -XAtc 'SHOW fsync') synchronous_commit=$(psql "$URL" -XAtc 'SHOW synchronous_commit') (TCP 127.0.0.1)"
LEARNING_DATABASE_URL=$URL LEARNING_LOG_LEVEL=WARNING "$SERVER" --port "$PORT" >"$RESULTS/raw/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
rows() { psql "$URL" -XAtc 'SELECT count(*) FROM agents.execution_log'; }
checkpoint() { psql "$URL" -XAtqc 'CHECKPOINT'; }
rss() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$SERVER_PID/status"; }
"$PY" bench/service_client.py body "$RESULTS/batch1000.bin" log-batch --records 1000
"$PY" bench/service_client.py body "$RESULTS/one.bin" log-one
GRPC=(-H 'content-type: application/grpc' -H 'te: trailers')

# The postmaster and its children, one per line.
pg_pids() { local pm; pm=$(head -1 "$PGDIR/pgdata/postmaster.pid"); echo "$pm"; ps --ppid "$pm" -o pid= | tr -d " "; }
# CPU ticks of the service under test: the server and its PostgreSQL (pid_ticks counts reaped
# children too, so backends that exited meanwhile are in the postmaster's figure).
service_ticks() { local t p; t=$(pid_ticks "$SERVER_PID"); for p in $(pg_pids); do t=$((t + $(pid_ticks "$p"))); done; echo "$t"; }
# h2load RUN-NAME RECORDS-PER-REQUEST ARGS...: runs (run_measured), checks rows added == succeeded
# x records, and appends "rows/s foreign-cores" to $RESULTS/NAME.runs. A run with more foreign CPU
# than the peers allow (FOREIGN_MAX_CORES, counting the hypervisor's steal) is repeated up to
# RETRIES times by the peers' own rule (should_retry), as the peer's runs are; superseded attempts
# stay in raw/ as NAME.attemptN.txt.
measure() {
  local name=$1 per=$2 before after ok secs rate attempt=0; shift 2
  while true; do
    attempt=$((attempt + 1))
    log "uptime before $name: $(uptime)"
    log "command: h2load $*"
    before=$(rows)
    : >"$RESULTS/raw/$name.txt"
    run_measured "$RESULTS/raw/$name.txt" service_ticks h2load "$@"
    after=$(rows)
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$RESULTS/raw/$name.txt")
    secs=$(awk '/finished in/ { s = $3; sub(/,/, "", s); if (s ~ /ms$/) { sub(/ms/, "", s); s /= 1000 } else sub(/s$/, "", s); print s }' "$RESULTS/raw/$name.txt")
    rate=$(awk -v r=$((after - before)) -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? r / s : 0 }')
    grep -E "finished in|^requests:|status codes|time for request|quiet-gate" "$RESULTS/raw/$name.txt" | sed 's/^/  /' | tee -a "$RESULTS/summary.txt"
    log "  $name: rows added $((after - before)), expected $((ok * per)) (succeeded $ok x $per); rows/s $rate; cores server+postgres/h2load/foreign $M_SERVER/$M_CLIENT/$M_FOREIGN; server RSS now $(rss) MiB (attempt $attempt)"
    [ "$((after - before))" = "$((ok * per))" ] || log "  MISMATCH: rows added != acknowledged x records"
    if should_retry "$attempt"; then
      mv "$RESULTS/raw/$name.txt" "$RESULTS/raw/$name.attempt$attempt.txt"
      continue
    fi
    break
  done
  echo "$rate $M_FOREIGN" >>"$RESULTS/${name%-*}.runs"
}
# median NAME: the median rows/s of NAME's runs, with that run's foreign cores
median() { sort -n "$RESULTS/$1.runs" | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'; }
if [ "${RATES:-1}" = 1 ]; then
measure warmup-batch 1000 -n 20 -c 2 -m 1 -t 1 -d "$RESULTS/batch1000.bin" "${GRPC[@]}" "http://127.0.0.1:$PORT/learning.v1.LearningSystem/LogExecutions"
# As the peer does (its reset_table before every run): each workload's runs one after the other,
# each started after a CHECKPOINT, the small-row workload first. The peer's 1-row runs each
# start on an empty table; ours start on what the warm-up and earlier unary runs stored (at most
# ~170,000 rows), not on the ~1,000,000 rows of three batch runs, with their WAL still to
# checkpoint and their autovacuum running (UNARY_LAST=1 measures that harder case instead).
unary_runs() { for r in $(seq 1 "$RUNS"); do checkpoint; measure "unary-$r" 1 -n "$N_UNARY" -c 64 -m 1 -t 1 -d "$RESULTS/one.bin" "${GRPC[@]}" "http://127.0.0.1:$PORT/learning.v1.LearningSystem/LogExecution"; done; }
batch_runs() { for r in $(seq 1 "$RUNS"); do checkpoint; measure "batch-$r" 1000 -n "$N_BATCH" -c "$C_BATCH" -m "$M_BATCH" -t 1 -d "$RESULTS/batch1000.bin" "${GRPC[@]}" "http://127.0.0.1:$PORT/learning.v1.LearningSystem/LogExecutions"; done; }
if [ "${UNARY_LAST:-0}" = 1 ]; then batch_runs; unary_runs; else unary_runs; batch_runs; fi
read -r b_rate b_foreign <<<"$(median batch)"
read -r u_rate u_foreign <<<"$(median unary)"
peer() { [ -f "$RESULTS/pg.tsv" ] || return 0; awk -F'\t' -v w="$1" '$2 == w { print $4 }' "$RESULTS/pg.tsv" | sort -n | awk '{ r[NR] = $1 } END { if (NR) print r[int((NR + 1) / 2)] }'; }
copy=$(peer copy-100000) one=$(peer insert-1row-txn)
log "median of $RUNS: batch $b_rate rows/s (foreign $b_foreign) = $(awk -v a="$b_rate" -v b="${copy:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }') the COPY peer's median ${copy:-n/a};" \
  "unary $u_rate calls/s (foreign $u_foreign) = $(awk -v a="$u_rate" -v b="${one:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }') the 1-row INSERT peer's median ${one:-n/a}"
fi

# Overload: h2load keeps OV_CONNS x OV_STREAMS_PER_CONN 1000-record batches in flight (far more than
# the queue's 50,000 rows) for OV_SECS seconds; beside it a grpcio client with OV_PY_STREAMS callers
# counts the status codes it gets; /metrics' error counter of the method covers everyone's calls.
OV_CONNS=${OV_CONNS:-32} OV_STREAMS_PER_CONN=${OV_STREAMS_PER_CONN:-16} OV_PY_STREAMS=${OV_PY_STREAMS:-16}
metric() { curl -s "http://127.0.0.1:$PORT/metrics?format=prometheus" | awk -v m="$1" 'index($0, m) == 1 && /LogExecutions"/ {s += $2} END {print s + 0}' || echo 0; }
log "uptime before overload: $(uptime)"
log "command: h2load -D $OV_SECS -c $OV_CONNS -m $OV_STREAMS_PER_CONN -t 1 -d batch1000.bin ... /LogExecutions, with service_client.py overload --streams $OV_PY_STREAMS --batch 1000 --seconds $OV_SECS"
before=$(rows); peak=0; calls0=$(metric learning_requests_total); errors0=$(metric learning_request_errors_total)
h2load -D "$OV_SECS" -c "$OV_CONNS" -m "$OV_STREAMS_PER_CONN" -t 1 -d "$RESULTS/batch1000.bin" "${GRPC[@]}" \
  "http://127.0.0.1:$PORT/learning.v1.LearningSystem/LogExecutions" >"$RESULTS/raw/overload-h2load.txt" 2>&1 &
LOAD=$!
"$PY" bench/service_client.py overload "127.0.0.1:$PORT" --streams "$OV_PY_STREAMS" --batch 1000 --seconds "$OV_SECS" \
  >"$RESULTS/raw/overload.txt" 2>&1 &
CLIENT=$!
: >"$RESULTS/raw/overload-rss.txt"
while kill -0 "$LOAD" 2>/dev/null || kill -0 "$CLIENT" 2>/dev/null; do
  r=$(rss); echo "$(date +%s.%N) $r" >>"$RESULTS/raw/overload-rss.txt"
  peak=$(awk -v a="$peak" -v b="$r" 'BEGIN{print (b > a) ? b : a}')
  sleep 0.5
done
wait "$LOAD" || true; wait "$CLIENT" || true
sleep 2
after=$(rows); calls1=$(metric learning_requests_total); errors1=$(metric learning_request_errors_total)
grep -E "finished in|^requests:|status codes" "$RESULTS/raw/overload-h2load.txt" | sed 's/^/  h2load: /' | tee -a "$RESULTS/summary.txt"
log "  grpcio: $(cat "$RESULTS/raw/overload.txt")"
log "  overload: LogExecutions calls $((calls1 - calls0)), errors $((errors1 - errors0)) (/metrics); rows added $((after - before)) = $(( (after - before) / 1000 )) calls stored"
log "  overload: server RSS peak $peak MiB (samples every 0.5 s: raw/overload-rss.txt), after $(rss) MiB"
log "total rows $(rows); results in $RESULTS"
