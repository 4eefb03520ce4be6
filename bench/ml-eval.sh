#!/usr/bin/env bash
# ML evaluation of ../shared/ml-eval (see its README for the protocol), end to end through the service.
# usage: bench/ml-eval.sh [--direct] [data-dir]   (default ../shared/ml-eval/dev, relative to the repo)
#
# Default: starts a throwaway PostgreSQL (scripts/pg-cluster.sh, first free port from
# ML_EVAL_PG_PORT, default 56013) and a release learning-server on a free port, then
# bench/ml_eval_service.py (grpcio + the generated stubs) ingests rows 0..n_train-1 through
# IngestExecutions, retrains as of split_timestamp (RetrainRequest.as_of), queries predictions,
# recommendations and patterns, ingests the remaining rows, reads the anomalies the service detected
# online and the error signatures (GetErrorSignatures), writes predictions.jsonl and runs score.py.
# --direct: the old path, Sources/LearningEval feeds the LearningML engine straight from the CSV.
# Output in ML_EVAL_OUT (default .build/ml-eval): predictions.jsonl, scores.json, timings.json, server.log.
# ML_EVAL_API_PORT fixes the service's port (default: a free one); ML_EVAL_SERVER runs that
# learning-server binary instead of building .build/release/learning-server (a copy keeps a long
# run of bench/ml-eval-family.sh on one build while the tree changes).
set -euo pipefail
cd "$(dirname "$0")/.."
DIRECT=0
if [ "${1:-}" = "--direct" ]; then DIRECT=1; shift; fi
DATA="${1:-../shared/ml-eval/dev}"
OUT="${ML_EVAL_OUT:-.build/ml-eval}"
mkdir -p "$OUT"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import numpy, pandas, scipy, sklearn" 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  .venv/bin/pip install -q --disable-pip-version-check numpy==2.4.6 pandas==3.1.1 scipy==1.17.1 scikit-learn==1.9.1 >&2
fi
score() {
  .venv/bin/python "$(dirname "$DATA")/score.py" --data "$DATA" --pred "$OUT/predictions.jsonl" --json "$OUT/scores.json"
}

if [ "$DIRECT" = 1 ]; then
  swift build -c release --product LearningEval >&2
  .build/release/LearningEval "$DATA" "$OUT/predictions.jsonl"
  score
  exit 0
fi

# The stubs are made by scripts/python-env.sh (the test peers); made again when the .proto is newer.
[ .venv/gen/learning/v1/learning_pb2.py -nt Protos/learning/v1/learning.proto ] || scripts/python-env.sh >/dev/null
SERVER_BIN="${ML_EVAL_SERVER:-}"
if [ -z "$SERVER_BIN" ]; then
  swift build -c release --product learning-server >&2
  SERVER_BIN=.build/release/learning-server
fi
PGDIR=$(mktemp -d /tmp/ml-eval-pg.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$PGDIR" 2>/dev/null || true
}
trap cleanup EXIT
PG_PORT=$(scripts/pg-cluster.sh free-port "${ML_EVAL_PG_PORT:-56013}")
DB_URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
API_PORT=${ML_EVAL_API_PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
# The workload's timestamps are far in the past: keep them in the learned history (retention), and
# keep scheduled retrains out of the way (the run triggers its own, as of split_timestamp).
cat > "$OUT/config.json" <<EOF
{"performance": {"metrics_retention_days": 36500}, "ml": {"model_update_frequency": 1000000}}
EOF
LEARNING_DATABASE_URL="$DB_URL" LEARNING_API_HOST=127.0.0.1 LEARNING_API_PORT="$API_PORT" \
  LEARNING_CONFIG_FILE="$OUT/config.json" ML_MODEL_UPDATE_INTERVAL=1000000 \
  "$SERVER_BIN" > "$OUT/server.log" 2>&1 &
SERVER_PID=$!
T0=$(date +%s.%N)
PYTHONPATH=.venv/gen .venv/bin/python bench/ml_eval_service.py --target "127.0.0.1:$API_PORT" --data "$DATA" \
  --out "$OUT/predictions.jsonl" --timings "$OUT/timings.json"
echo "end-to-end through the service: $(echo "$(date +%s.%N) - $T0" | bc) s (server log: $OUT/server.log)" >&2
score
