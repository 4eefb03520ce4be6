#!/usr/bin/env bash
# Transport benchmarks, all in one run so the ratios mean something on a shared machine:
#   nghttpd (HTTP/2 ceiling) and FastAPI+uvicorn (HTTP/1.1) peers from ../shared/bench-peers, then
#   H2BenchServer: the GetHealth RPC (h2load -c 16 -m 32 and -c 64 -m 1, gRPC body from a file,
#   content-type: application/grpc, te: trailers) and REST GET /health over HTTP/1.1 (h2load --h1).
# The peers' harness (measure.sh) verifies each server with grpcio/nghttp/curl first and fails a
# run with any failed request.
# usage: bench/run.sh            (env: N_REQ=50000 RUNS=1 N_WARM=5000 PEERS="nghttpd fastapi";
#                                 add swift-grpc / py-grpc-aio to PEERS to build and run those too)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=bench/peers.sh
. bench/peers.sh
prepare_peers /tmp/peers-transport
setup_http_peers

swift build -c release --product H2BenchServer >&2
SERVER="$(swift build -c release --show-bin-path)/H2BenchServer"
PORT=${BENCH_PORT:-18551}
# Ports of our own, so a peer run of another engineer on the default ports does not collide.
export PORT_NGHTTPD=${PORT_NGHTTPD:-18581} PORT_FASTAPI=${PORT_FASTAPI:-18582} PORT_SWIFT_GRPC=${PORT_SWIFT_GRPC:-18583}
export PORT_PYGRPC_SYNC=${PORT_PYGRPC_SYNC:-18584} PORT_PYGRPC_AIO=${PORT_PYGRPC_AIO:-18585}

RESULTS="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
export RESULTS
mkdir -p "$RESULTS/raw"
{
  echo "date: $(date -Is)"; echo "host: $(uname -srm); cpus: $(nproc)"
  echo "cpu: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "h2load: $(h2load --version 2>&1 | head -1)"
  echo "settings: N_REQ=$N_REQ RUNS=$RUNS N_WARM=$N_WARM; H2BenchServer with one loop thread per core ($(nproc))"
  echo "commit: $(git rev-parse --short HEAD)"
} | tee "$RESULTS/env.txt"

for peer in $PEERS; do
  case "$peer" in
    nghttpd) "$PEERS_DIR/nghttpd/run.sh" ;;
    fastapi) "$PEERS_DIR/fastapi/run.sh" std ;;
    swift-grpc) "$PEERS_DIR/swift-grpc/run.sh" ;;
    py-grpc-aio) "$PEERS_DIR/py-grpc/run.sh" aio ;;
    py-grpc-sync) "$PEERS_DIR/py-grpc/run.sh" sync ;;
    *) echo "unknown peer $peer" >&2; exit 2 ;;
  esac
done
"$PEERS_DIR/measure.sh" transport-grpc-health "$PORT" grpc --path /learning.v1.LearningSystem/GetHealth \
  -- "$SERVER" "$PORT"
"$PEERS_DIR/measure.sh" transport-rest-health "$PORT" h1get --path /health -- "$SERVER" "$PORT"

"$PEERS_DIR/.venv/bin/python" "$PEERS_DIR/lib/summarize.py" "$RESULTS" | tee "$RESULTS/table.md"
echo "exact load commands: $RESULTS/commands.tsv"
