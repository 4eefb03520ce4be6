#!/usr/bin/env bash
# The abuse suite's attacks (Tests/LearningServiceTests/python/abuse_suite.py, issue #19) against a
# RELEASE learning-server on a throwaway PostgreSQL, for the figures docs/BENCHMARKS.md records:
# RSS held by unfinished bodies (one connection, 100 connections) with a probe's p99 meanwhile,
# silent streams answered within the request timeout, rapid reset across reconnects (server CPU),
# descriptor exhaustion (idle CPU). The suite asserts the bounds; this records what it measured.
# usage: bench/abuse.sh [CASE...]   (env: SERVER_BIN=path instead of a release build of this
#        checkout; BENCH_PORT (default a free one from 18830), PG_PORT (default 25530),
#        REQUEST_TIMEOUT (seconds, default 3))
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ -n "${SERVER_BIN:-}" ]; then
  SERVER=$SERVER_BIN
else
  swift build -c release --product learning-server >&2
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi
PY=$(scripts/python-env.sh)
KEY=bench-abuse-key-0123456789
TIMEOUT=${REQUEST_TIMEOUT:-3}
PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18830}")
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-25530}")
PGDIR=$(mktemp -d /tmp/bench-abuse-pg.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -z "$SERVER_PID" ] || { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; }
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
RESULTS="$ROOT/bench/results/abuse-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RESULTS"
{
  echo "date: $(date -Is)"; echo "host: $(uname -srm); cpus: $(nproc)"
  echo "uptime: $(uptime)"
  echo "server: $SERVER ($(sha256sum "$SERVER" | cut -c1-12)); request timeout ${TIMEOUT} s"
} | tee "$RESULTS/env.txt"
LEARNING_DATABASE_URL=$URL LEARNING_API_KEYS=$KEY LEARNING_REQUEST_TIMEOUT_SECONDS=$TIMEOUT \
  "$SERVER" --port "$PORT" > "$RESULTS/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do grep -q "start-up complete" "$RESULTS/server.log" && break; sleep 0.2; done
echo "server RSS after start-up: $(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status") kB" | tee -a "$RESULTS/env.txt"
PYTHONPATH="$ROOT/.venv/gen" "$PY" Tests/LearningServiceTests/python/abuse_suite.py "127.0.0.1:$PORT" "$SERVER_PID" "$KEY" \
  "$TIMEOUT" "$SERVER" "$URL" "$@" | tee "$RESULTS/suite.txt"
echo "results: $RESULTS"
