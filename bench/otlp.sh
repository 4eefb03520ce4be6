#!/usr/bin/env bash
# OTLP/gRPC span ingest (TraceService/Export) against LogExecutions row ingest, same server, same
# run: bench/otlp_bench.py alternates the two, each request carrying BATCH items, CONCURRENCY
# callers, SECS seconds per phase, ROUNDS rounds. A release learning-server on a throwaway cluster.
#
#   bench/otlp.sh      SECS=10 CONCURRENCY=4 BATCH=500 ROUNDS=3 PG_PORT=5442 PORT=19050
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}; CONCURRENCY=${CONCURRENCY:-4}; BATCH=${BATCH:-500}; ROUNDS=${ROUNDS:-3}
PG_PORT=${PG_PORT:-5442}; PORT=${PORT:-19050}; DIR=${DIR:-/tmp/learning-otlp-bench-pg}
PY=$(scripts/python-env.sh)
swift build -c release --product learning-server >&2
BIN=$(swift build -c release --show-bin-path)/learning-server
scripts/pg-cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"   # our own dedicated throwaway path only
SERVER=""
cleanup() {
  [ -z "$SERVER" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  scripts/pg-cluster.sh stop "$DIR" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$DIR" "$PG_PORT")
LOG=$(mktemp /tmp/learning-otlp-bench.XXXXXX)
LEARNING_DATABASE_URL=$URL LEARNING_LOG_LEVEL=WARNING "$BIN" --port "$PORT" >"$LOG" 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"healthy"' && break
  sleep 0.1
done
echo "machine: $(nproc) cores; batch $BATCH, concurrency $CONCURRENCY, ${SECS}s per phase"
"$PY" bench/otlp_bench.py "127.0.0.1:$PORT" "$SECS" "$CONCURRENCY" "$BATCH" "$ROUNDS"
stored=$(psql "$URL" -Atc "SELECT count(*) FROM agents.execution_log")
echo "rows stored: $stored"
