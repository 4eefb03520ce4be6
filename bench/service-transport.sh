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
#        SERVICE="health predict rest")
#        PEERS="nghttpd fastapi py-grpc-aio" adds Python grpcio; swift-grpc builds grpc-swift-2 (~10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=bench/peers.sh
. bench/peers.sh
prepare_peers /tmp/peers-store
setup_http_peers
PY=$(scripts/python-env.sh)

swift build -c release --product learning-server >&2
SERVER="$(swift build -c release --show-bin-path)/learning-server"
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
RUN=(env LEARNING_DATABASE_URL="$URL" LEARNING_LOG_LEVEL=WARNING "$SERVER" --port "$PORT")
# measure.sh also requires the same DATA length for every response; GetHealth's response carries
# live values (uptime, memory) whose varint sizes vary, so that check can fail with zero failed
# requests: report it and carry on (the table's failed/non-2xx columns are what count).
for m in ${SERVICE:-health predict rest}; do
  echo "uptime before service $m: $(uptime)" | tee -a "$RESULTS/env.txt"
  case "$m" in
    health) "$PEERS_DIR/measure.sh" service-grpc-health "$PORT" grpc --path /learning.v1.LearningSystem/GetHealth -- "${RUN[@]}" ;;
    predict) "$PEERS_DIR/measure.sh" service-grpc-predict "$PORT" grpc --path /learning.v1.LearningSystem/PredictPerformance \
      --grpc-request "$RESULTS/predict_request.bin" -- "${RUN[@]}" ;;
    rest) "$PEERS_DIR/measure.sh" service-rest-health "$PORT" h1get --path /health -- "${RUN[@]}" ;;
    *) echo "unknown SERVICE measure $m" >&2; false ;;
  esac || echo "measure.sh flagged service $m (see above)" | tee -a "$RESULTS/env.txt"
done

"$PEERS_DIR/.venv/bin/python" "$PEERS_DIR/lib/summarize.py" "$RESULTS" | tee "$RESULTS/table.md"
echo "exact load commands: $RESULTS/commands.tsv"
