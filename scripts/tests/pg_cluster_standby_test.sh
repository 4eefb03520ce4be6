#!/usr/bin/env bash
# Pins `scripts/pg-cluster.sh standby` (the read-replica tests' standby, docs/SCALING.md): a copy
# of a running primary made with pg_basebackup -R, started on another port, in recovery, streaming
# (a row inserted on the primary is read on the standby within seconds), refusing writes; a second
# call reports the running standby's URL. Everything lives in a temporary folder on private ports.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/tests/lib.sh

WORK=$(mktemp -d /tmp/learning-standby-test.XXXXXX)
chmod 755 "$WORK" # the postgres user must reach the data folders inside
cleanup() {
  scripts/pg-cluster.sh stop "$WORK/standby" >/dev/null 2>&1
  scripts/pg-cluster.sh stop "$WORK/primary" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

primary_url=$(scripts/pg-cluster.sh start "$WORK/primary" "$(scripts/pg-cluster.sh free-port $((20000 + RANDOM % 12000)))")
primary_port=$(scripts/pg-cluster.sh status "$WORK/primary")
standby_port=$(scripts/pg-cluster.sh free-port $((primary_port + 1)))
standby_url=$(scripts/pg-cluster.sh standby "$primary_port" "$WORK/standby" "$standby_port")
expect "the standby prints its URL" [ "$standby_url" = "postgresql://claude_user@127.0.0.1:$standby_port/claude_auth" ]
expect "the standby is in recovery" [ "$(psql "$standby_url" -XAtc 'SELECT pg_is_in_recovery()')" = t ]

psql "$primary_url" -Xqc "CREATE TABLE standby_probe (v int); INSERT INTO standby_probe VALUES (42)"
streamed() {
  for _ in $(seq 1 100); do
    [ "$(psql "$standby_url" -XAtc 'SELECT v FROM standby_probe' 2>/dev/null)" = 42 ] && return 0
    sleep 0.1
  done
  return 1
}
expect "a row written on the primary is read on the standby within 10 s" streamed
expect "the primary reports the standby as streaming" \
  [ "$(psql "$primary_url" -XAtc "SELECT state FROM pg_stat_replication")" = streaming ]
expect "the standby refuses writes" bash -c "! psql '$standby_url' -Xqc 'INSERT INTO standby_probe VALUES (1)' 2>/dev/null"
expect "a second call reports the running standby" \
  [ "$(scripts/pg-cluster.sh standby "$primary_port" "$WORK/standby" "$standby_port" 2>/dev/null)" = "$standby_url" ]
finish
