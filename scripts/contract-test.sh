#!/usr/bin/env bash
# The API contract, tested by a third party: schemathesis (PyPI, pinned) generates requests for
# every operation of the OpenAPI document a live learning-server serves (/api/openapi.json, made
# from Protos/), against a fresh database on the given PostgreSQL server, and checks every answer
# for conformance: response body against its schema, status code documented, content type
# documented, and no 5xx. Any finding fails the run. make test runs it after the Swift tests.
#
#   scripts/contract-test.sh DATABASE_URL [SERVER_BINARY]
#
# DATABASE_URL: any database of the server (a fresh `contract_*` database is created beside it and
# dropped afterwards). SERVER_BINARY: default .build/debug/learning-server.
# Knobs: CONTRACT_EXAMPLES (generated cases per operation and phase, default 20), CONTRACT_SEED
# (default a fixed one, so a run can be replayed; any integer), CONTRACT_PORT (first port tried).
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: contract-test.sh DATABASE_URL [SERVER_BINARY]}
SERVER=${2:-.build/debug/learning-server}
[ -x "$SERVER" ] || { echo "no server binary at $SERVER (swift build first)" >&2; exit 2; }
scripts/venv-install.sh schemathesis==4.32.5

DB="contract_$$_$RANDOM"
BASE=${URL%/*}
psql "$URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
PORT=$(scripts/pg-cluster.sh free-port "${CONTRACT_PORT:-$((20000 + RANDOM % 12000))}")
KEY="contract-$RANDOM-0123456789abcdef"
LOG=$(mktemp /tmp/contract-server.XXXXXX.log)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  psql "$URL" -qX -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT

LEARNING_DATABASE_URL="$BASE/$DB" LEARNING_API_PORT=$PORT LEARNING_API_KEYS=$KEY LEARNING_LOG_LEVEL=WARNING \
  "$SERVER" >"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited:" >&2; cat "$LOG" >&2; exit 1; }
  sleep 0.5
done
echo "learning-server on 127.0.0.1:$PORT, database $DB; schemathesis $(.venv/bin/schemathesis --version | awk '{print $NF}')"
# Writes need the key; every operation is exercised, the stateful phase follows the document's links.
.venv/bin/schemathesis run "http://127.0.0.1:$PORT/api/openapi.json" \
  --checks response_schema_conformance,status_code_conformance,content_type_conformance,not_a_server_error \
  --max-examples "${CONTRACT_EXAMPLES:-20}" --seed "${CONTRACT_SEED:-260745869680697981674559822508631532052}" \
  --header "Authorization: Bearer $KEY" --no-color
