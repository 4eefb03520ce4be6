#!/usr/bin/env bash
# Fault drill through the REAL service: a release learning-server on a throwaway PostgreSQL (fsync
# on); a Python grpcio client (bench/service_client.py fault) writes TOTAL records with event ids
# through the LogExecutions RPC from STREAMS concurrent callers in BATCH-record requests, retrying
# UNAVAILABLE / RESOURCE_EXHAUSTED with backoff and the same event ids. Once a third is stored,
# PostgreSQL is stopped with `pg_ctl -m immediate stop`, left down DOWN seconds and restarted; the
# service keeps running and must reconnect by itself. Afterwards psql checks that every acknowledged
# event id is in agents.execution_log exactly once; prints writes, acknowledged, found, lost,
# duplicated and exits non-zero on any loss or duplicate. UNARY=1: one LogExecution call per
# record instead (the task-free unary path), STREAMS callers.
# usage: bench/service-fault.sh     (env: TOTAL=100000 STREAMS=8 BATCH=250 DOWN=3 UNARY=0;
#        SERVER_BIN=path instead of a release build of this checkout)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOTAL=${TOTAL:-100000} STREAMS=${STREAMS:-8} BATCH=${BATCH:-250} DOWN=${DOWN:-3} UNARY=${UNARY:-0}
PGBIN=${PGBIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -1)}
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PY=$(scripts/python-env.sh)
if [ -n "${SERVER_BIN:-}" ]; then
  SERVER=$SERVER_BIN
else
  swift build -c release --product learning-server >&2
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi
RESULTS="$ROOT/bench/results/service-fault-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18671}")
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-56122}")
PGDIR=$(mktemp -d /tmp/service-fault-pg.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
echo "date: $(date -Is); cpus: $(nproc); commit: $(git rev-parse --short HEAD); uptime: $(uptime)"
echo "cluster: fsync=$(psql "$URL" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$URL" -XAtc 'SHOW synchronous_commit')"
LEARNING_DATABASE_URL=$URL LEARNING_LOG_LEVEL=WARNING "$SERVER" --port "$PORT" >"$RESULTS/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
count() { psql "$URL" -XAtc 'SELECT count(*) FROM agents.execution_log' 2>/dev/null || echo 0; }

UNARY_FLAG=()
[ "$UNARY" = 1 ] && UNARY_FLAG=(--unary)
echo "client: ${TOTAL} records, ${STREAMS} callers, $([ "$UNARY" = 1 ] && echo "one LogExecution each" || echo "LogExecutions of ${BATCH}")"
"$PY" bench/service_client.py fault "127.0.0.1:$PORT" --total "$TOTAL" --streams "$STREAMS" --batch "$BATCH" \
  --acked "$RESULTS/acked.txt" "${UNARY_FLAG[@]}" &
CLIENT=$!
until [ "$(count)" -ge $((TOTAL / 3)) ]; do
  kill -0 "$CLIENT" 2>/dev/null || break
  sleep 0.2
done
echo "fault: $(count) rows stored; pg_ctl -m immediate stop"
as_owner "$PGBIN/pg_ctl" -D "$PGDIR/pgdata" -m immediate -w stop >/dev/null
sleep 1
echo "while down: /health database = $(curl -s "http://127.0.0.1:$PORT/health" | tr -d ' \n' | grep -o '"database":"[a-z]*"' || echo '?')"
sleep "$((DOWN > 1 ? DOWN - 1 : 0))"
echo "fault: restarting after ${DOWN}s down"
scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT" >/dev/null
echo "fault: restarted"
wait "$CLIENT"
kill -0 "$SERVER_PID" && echo "server: still running (pid $SERVER_PID), RSS $(awk '/VmRSS/{printf "%.1f MiB", $2/1024}' "/proc/$SERVER_PID/status")"
echo "after restart: /health database = $(curl -s "http://127.0.0.1:$PORT/health" | tr -d ' \n' | grep -o '"database":"[a-z]*"' || echo '?')"

# Every acknowledged event id exactly once.
psql "$URL" -XAq -v ON_ERROR_STOP=1 >"$RESULTS/check.txt" <<SQL
CREATE TEMP TABLE acked (event_id text PRIMARY KEY);
\copy acked FROM '$RESULTS/acked.txt'
\pset tuples_only on
\pset format unaligned
SELECT 'acknowledged=' || (SELECT count(*) FROM acked)
    || ' found=' || (SELECT count(DISTINCT a.event_id) FROM acked a JOIN agents.execution_log e USING (event_id))
    || ' lost=' || (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM agents.execution_log e WHERE e.event_id = a.event_id))
    || ' duplicated=' || (SELECT count(*) FROM (SELECT event_id FROM agents.execution_log WHERE event_id IS NOT NULL GROUP BY event_id HAVING count(*) > 1) d)
    || ' rows_in_table=' || (SELECT count(*) FROM agents.execution_log);
SQL
echo "writes=$TOTAL $(cat "$RESULTS/check.txt")"
grep -q ' lost=0 duplicated=0 ' "$RESULTS/check.txt"
