#!/usr/bin/env bash
# Durable ingest of LearningStore (fsync on, synchronous_commit on) beside PostgreSQL's own ingest
# ceilings measured in the same run by the shared probe (bench-peers/pg/run.sh: pgbench 1-row and
# 100-row INSERT transactions from 8 clients, one psql \copy stream).
# Measured at the repository level (StoreBench calls LearningStore directly; the RPC layer is not
# in the path yet). Both clusters are throwaway initdb-default clusters reached over a Unix socket.
#
#   bench/ingest.sh        SECS=10 PEER_SECS=10 BENCH_PEERS_SRC=../shared/bench-peers OUT=bench/results/ingest-<time>
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${SECS:-10}; PEER_SECS=${PEER_SECS:-10}
OUT=${OUT:-$ROOT/bench/results/ingest-$(date +%Y%m%d-%H%M%S)}
PORT=${PORT:-56032}; DIR=${DIR:-/tmp/learning-ingest-bench-pg}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
export PATH="$PGBIN:$PATH"
mkdir -p "$OUT"
echo "machine: $(nproc) cores, $(uptime)" | tee "$OUT/machine.txt"

# 1. The peer: PostgreSQL's own rates, this machine, this run (one measured run per workload).
# A fresh copy each run (the probe keeps its results beside itself).
rm -rf "${BENCH_PEERS_DIR:-/tmp/peers-store}"
# shellcheck source=bench/peers.sh
. bench/peers.sh
prepare_peers /tmp/peers-store
[ -x "$PEERS_DIR/.venv/bin/python" ] || python3 -m venv "$PEERS_DIR/.venv"   # the probe needs only stdlib
command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 1; }
RESULTS="$OUT/peer" RUNS=1 PG_SECS="$PEER_SECS" QUIET_MAX_WAIT=${QUIET_MAX_WAIT:-20} RETRIES=0 \
  bash "$PEERS_DIR/pg/run.sh" 2>&1 | tee "$OUT/peer.log" | grep -E "postgres (insert|copy)|pg_test_fsync" || true
peer() { awk -F'\t' -v w="$1" '$2 == w {print $4}' "$OUT/peer/pg.tsv" | head -1; }
P1=$(peer insert-1row-txn); P100=$(peer insert-100row-txn); PCOPY=$(peer copy-100000)

# 2. Ours: the same kind of cluster, StoreBench in release mode.
swift build -c release --product StoreBench >&2
BIN=$(swift build -c release --show-bin-path)/StoreBench
scripts/pg-cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"   # our own dedicated throwaway path only
cleanup() { scripts/pg-cluster.sh stop "$DIR" || true; rm -rf "$DIR"; }
trap cleanup EXIT
scripts/pg-cluster.sh start "$DIR" "$PORT" >/dev/null
URL="postgresql:///claude_auth?host=$DIR&port=$PORT&user=claude_user"
psql "$URL" -XAtc "SELECT name||'='||setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','wal_sync_method','shared_buffers') ORDER BY 1" | tr '\n' ' ' | tee "$OUT/settings.txt"; echo
run() { echo "+ StoreBench $*" | tee -a "$OUT/ours.log"; "$BIN" "$@" --url "$URL" 2>&1 | tee -a "$OUT/ours.log" | grep '^mode='; }
val() { grep "^mode=$1 " "$OUT/ours.log" | tail -1 | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k {print $2}'; }
run single --clients 64 --seconds "$SECS" >/dev/null
run batch --batch 1000 --concurrency 4 --seconds "$SECS" >/dev/null
run overload --clients 256 --batch 500 --queue 50000 --seconds "$SECS" >/dev/null
S=$(val single rows_per_s); B=$(val batch rows_per_s)

{
  echo "| path | rows/s | peer (same run) | peer rows/s | ratio | target |"
  echo "|---|---|---|---|---|---|"
  awk -v s="$S" -v p="$P1" 'BEGIN{printf "| logExecution, 64 concurrent callers | %.0f | pgbench 1-row INSERT txns, 8 clients | %.0f | %.2fx | >= 2x |\n", s, p, s/p}'
  printf '| logExecutions, 1000-record batches, 4 callers | %s | psql \\copy of 100,000 rows, 1 stream | %s | %s | >= 0.5x |\n' \
    "$(printf %.0f "$B")" "$(printf %.0f "$PCOPY")" "$(awk -v s="$B" -v p="$PCOPY" 'BEGIN{printf "%.2fx", s/p}')"
  awk -v s="$B" -v p="$P100" 'BEGIN{printf "| (same) | | pgbench 100-row INSERT txns, 8 clients | %.0f | %.2fx | |\n", p, s/p}'
  echo
  echo "overload (256 callers x 500-record batches, queue 50,000 rows, advice ignored): $(grep '^mode=overload' "$OUT/ours.log" | tail -1)"
  echo "single: $(grep '^mode=single' "$OUT/ours.log" | tail -1)"
  echo "batch: $(grep '^mode=batch' "$OUT/ours.log" | tail -1)"
} | tee "$OUT/summary.md"
