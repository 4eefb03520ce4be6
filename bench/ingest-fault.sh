#!/usr/bin/env bash
# Fault drill of the store's ingest (repository level; the end-to-end version through the RPC comes
# with the API): on a throwaway cluster, 64 callers write TOTAL records with event ids through the
# group-commit writer and retry on `unavailable`/`overloaded` with the same event id. After a third
# is acknowledged, PostgreSQL is stopped with `pg_ctl -m immediate stop`, left down DOWN seconds and
# restarted. Afterwards every acknowledged event id must be in the table exactly once; prints
# acknowledged / found / lost / duplicated and exits non-zero otherwise.
#
#   bench/ingest-fault.sh                 TOTAL=100000 CLIENTS=64 DOWN=3 PORT=56022 CONF=release
set -euo pipefail
cd "$(dirname "$0")/.."
TOTAL=${TOTAL:-100000}; CLIENTS=${CLIENTS:-64}; DOWN=${DOWN:-3}; PORT=${PORT:-56022}; CONF=${CONF:-release}
DIR=${DIR:-/tmp/learning-ingest-fault-pg}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
swift build -c "$CONF" --product StoreBench >&2
BIN=$(swift build -c "$CONF" --show-bin-path)/StoreBench

scripts/pg-cluster.sh stop "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR"   # our own dedicated throwaway path only
cleanup() { scripts/pg-cluster.sh stop "$DIR" || true; rm -rf "$DIR"; }
trap cleanup EXIT
URL=$(scripts/pg-cluster.sh start "$DIR" "$PORT")
echo "cluster: $URL (fsync=$(psql "$URL" -XAtc 'SHOW fsync'), synchronous_commit=$(psql "$URL" -XAtc 'SHOW synchronous_commit'))"
"$BIN" fault --url "$URL" --total "$TOTAL" --clients "$CLIENTS" &
BENCH=$!
# The fault: once a third of the writes are in the table, an immediate shutdown, then a restart.
until [ "$(psql "$URL" -XAtc 'SELECT count(*) FROM agents.execution_log' 2>/dev/null || echo 0)" -ge $((TOTAL / 3)) ]; do
  kill -0 $BENCH 2>/dev/null || break
  sleep 0.2
done
echo "fault: $(psql "$URL" -XAtc 'SELECT count(*) FROM agents.execution_log') rows stored; pg_ctl -m immediate stop"
as_owner "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m immediate -w stop >/dev/null
sleep "$DOWN"
echo "fault: restarting after ${DOWN}s down"
scripts/pg-cluster.sh start "$DIR" "$PORT" >/dev/null
echo "fault: restarted"
wait $BENCH
