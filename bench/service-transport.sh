#!/usr/bin/env bash
# Transport figures through the REAL service (release learning-server on a throwaway PostgreSQL,
# fsync on), each beside the peers measured in the same run with the peers' own harness
# (../shared/bench-peers, copied to /tmp/peers-store; measure.sh verifies every server with a grpcio
# call and nghttp first and fails a run with any failed request or a wrong DATA length):
#   nghttpd (static ~95-byte file), FastAPI+uvicorn (HTTP/1.1), optionally Python grpcio (aio), then
#   learning-server: GetHealth RPC (-c 16 -m 32, -c 64 -m 1; 5-byte empty-request frame from a file,
#   content-type: application/grpc, te: trailers), PredictPerformance for a pair with data (3,000
#   executions logged through LogExecutions and a Retrain RPC first), REST GET /health over HTTP/1.1.
# usage: bench/service-transport.sh   (env: N_REQ=50000 RUNS=1 N_WARM=5000 PEERS="nghttpd fastapi"
#        SERVICE="health predict rest"; rest-h2 adds REST GET /health over h2c)
#        PEERS="nghttpd fastapi py-grpc-aio" adds Python grpcio; swift-grpc builds grpc-swift-2 (~10 min).
# Before/after in one run: SERVER_BIN=path measures that binary instead of building one (default: a
# release build of this checkout); BEFORE_BIN=path adds a second binary, measured interleaved with
# the first ROUNDS times (default 2; odd rounds before first, even rounds after first), rows named
# service-...-before / -after, each row the median of its rounds. Compare the ratios of one run.
#   e.g. swift build -c release --product learning-server --scratch-path /tmp/before-build (on a
#        checkout of the old commit), then BEFORE_BIN=/tmp/before-build/release/learning-server \
#        bench/service-transport.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=bench/peers.sh
. bench/peers.sh
prepare_peers /tmp/peers-store
setup_http_peers
PY=$(scripts/python-env.sh)

if [ -n "${SERVER_BIN:-}" ]; then
  SERVER=$SERVER_BIN
else
  swift build -c release --product learning-server >&2
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi
BEFORE=${BEFORE_BIN:-}
for binary in "$SERVER" ${BEFORE:+"$BEFORE"}; do
  [ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 2; }
done
ROUNDS=${ROUNDS:-$([ -n "$BEFORE" ] && echo 2 || echo 1)}
export PORT_NGHTTPD=${PORT_NGHTTPD:-18681} PORT_FASTAPI=${PORT_FASTAPI:-18682} PORT_SWIFT_GRPC=${PORT_SWIFT_GRPC:-18683}
export PORT_PYGRPC_SYNC=${PORT_PYGRPC_SYNC:-18684} PORT_PYGRPC_AIO=${PORT_PYGRPC_AIO:-18685}
PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18651}")
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-56102}")
PGDIR=$(mktemp -d /tmp/service-transport-pg.XXXXXX)
SEED_PID=""
cleanup() {
  [ -n "$SEED_PID" ] && kill "$SEED_PID" 2>/dev/null
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")

RESULTS="$ROOT/bench/results/service-transport-$(date +%Y%m%d-%H%M%S)"; export RESULTS
mkdir -p "$RESULTS/raw"
{
  echo "date: $(date -Is)"; echo "host: $(uname -srm); cpus: $(nproc)"
  echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "uptime: $(uptime)"
  echo "h2load: $(h2load --version 2>&1 | head -1)"
  echo "settings: N_REQ=$N_REQ RUNS=$RUNS N_WARM=$N_WARM; learning-server with default loop threads, database $URL (fsync=$(psql "$URL" -XAtc 'SHOW fsync'))"
  echo "commit: $(git rev-parse --short HEAD)"
  echo "server: $SERVER ($(sha256sum "$SERVER" | cut -c1-12))"
  [ -z "$BEFORE" ] || echo "before: $BEFORE ($(sha256sum "$BEFORE" | cut -c1-12)); rounds: $ROUNDS"
} | tee "$RESULTS/env.txt"

# Data for the prediction RPC: log executions through the RPC, retrain, stop (the model is saved in
# agents.ml_models and loaded by every later start).
LEARNING_DATABASE_URL=$URL LEARNING_LOG_LEVEL=WARNING "$SERVER" --port "$PORT" >"$RESULTS/raw/seed.server.log" 2>&1 &
SEED_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
"$PY" bench/service_client.py seed "127.0.0.1:$PORT" --rows "${SEED_ROWS:-3000}" | tee "$RESULTS/seed.txt"
kill -TERM "$SEED_PID"; wait "$SEED_PID" || true; SEED_PID=""
"$PY" bench/service_client.py body "$RESULTS/predict_request.bin" predict

for peer in $PEERS; do
  echo "uptime before $peer: $(uptime)" | tee -a "$RESULTS/env.txt"
  case "$peer" in
    nghttpd) "$PEERS_DIR/nghttpd/run.sh" ;;
    fastapi) "$PEERS_DIR/fastapi/run.sh" std ;;
    swift-grpc) "$PEERS_DIR/swift-grpc/run.sh" ;;
    py-grpc-aio) "$PEERS_DIR/py-grpc/run.sh" aio ;;
    py-grpc-sync) "$PEERS_DIR/py-grpc/run.sh" sync ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
done
# measure.sh also requires the same DATA length for every response; GetHealth's response carries
# live values (uptime, memory) whose varint sizes vary, so that check can fail with zero failed
# requests: report it and carry on (the table's failed/non-2xx columns are what count).
measure_service() { # MEASURE NAME_SUFFIX BINARY
  local m=$1 suffix=$2
  local run=(env LEARNING_DATABASE_URL="$URL" LEARNING_LOG_LEVEL=WARNING "$3" --port "$PORT")
  echo "uptime before service $m$suffix: $(uptime)" | tee -a "$RESULTS/env.txt"
  case "$m" in
    health) "$PEERS_DIR/measure.sh" "service-grpc-health$suffix" "$PORT" grpc --path /learning.v1.LearningSystem/GetHealth -- "${run[@]}" ;;
    predict) "$PEERS_DIR/measure.sh" "service-grpc-predict$suffix" "$PORT" grpc --path /learning.v1.LearningSystem/PredictPerformance \
      --grpc-request "$RESULTS/predict_request.bin" -- "${run[@]}" ;;
    rest) "$PEERS_DIR/measure.sh" "service-rest-health$suffix" "$PORT" h1get --path /health -- "${run[@]}" ;;
    rest-h2) "$PEERS_DIR/measure.sh" "service-rest-h2-health$suffix" "$PORT" h2get --path /health -- "${run[@]}" ;;
    *) echo "unknown SERVICE measure $m" >&2; false ;;
  esac || echo "measure.sh flagged service $m$suffix (see above)" | tee -a "$RESULTS/env.txt"
}
for round in $(seq "$ROUNDS"); do
  for m in ${SERVICE:-health predict rest}; do
    if [ -z "$BEFORE" ]; then
      measure_service "$m" "" "$SERVER"
    elif [ $((round % 2)) -eq 1 ]; then
      measure_service "$m" -before "$BEFORE"; measure_service "$m" -after "$SERVER"
    else
      measure_service "$m" -after "$SERVER"; measure_service "$m" -before "$BEFORE"
    fi
  done
done

"$PEERS_DIR/.venv/bin/python" "$PEERS_DIR/lib/summarize.py" "$RESULTS" | tee "$RESULTS/table.md"
echo "exact load commands: $RESULTS/commands.tsv"
