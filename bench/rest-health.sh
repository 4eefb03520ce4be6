#!/usr/bin/env bash
# REST GET /health of the real learning-server (LearningREST's inline route over LearningService)
# against H2BenchServer's /health (the transport's minimal inline handler) in the same run, with
# h2load over HTTP/1.1, alternating the two so machine load affects both alike.
# usage: bench/rest-health.sh     (env: N_REQ=100000 CLIENTS=16 ROUNDS=3 PG_PORT=56096)
set -euo pipefail
cd "$(dirname "$0")/.."
N_REQ=${N_REQ:-100000} CLIENTS=${CLIENTS:-16} ROUNDS=${ROUNDS:-3} PG_PORT=${PG_PORT:-56096}
swift build -c release --product learning-server >&2
swift build -c release --product H2BenchServer >&2
BIN=$(swift build -c release --show-bin-path)
PGDIR=$(mktemp -d /tmp/rest-health-pg.XXXXXX)
URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
cleanup() { kill "$SERVER_PID" "$BENCH_PID" 2>/dev/null || true; scripts/pg-cluster.sh stop "$PGDIR" >/dev/null || true; rm -rf "$PGDIR"; }
trap cleanup EXIT
LEARNING_DATABASE_URL=$URL "$BIN/learning-server" --port 18611 >/dev/null 2>&1 & SERVER_PID=$!
"$BIN/H2BenchServer" 18612 >/dev/null 2>&1 & BENCH_PID=$!
for _ in $(seq 50); do curl -sf http://127.0.0.1:18611/health >/dev/null && curl -sf http://127.0.0.1:18612/health >/dev/null && break; sleep 0.2; done
echo "date: $(date -Is); host: $(uname -srm); cpus: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); commit: $(git rev-parse --short HEAD)"
for round in $(seq "$ROUNDS"); do
  for target in "learning-server 18611" "H2BenchServer 18612"; do
    set -- $target
    echo "round $round $1: h2load --h1 -n $N_REQ -c $CLIENTS -t 1 http://127.0.0.1:$2/health"
    h2load --h1 -n "$N_REQ" -c "$CLIENTS" -t 1 "http://127.0.0.1:$2/health" | grep -E "finished in|requests:"
  done
done
