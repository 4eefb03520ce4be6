#!/usr/bin/env bash
# Volume benchmark (issue 13): the release learning-server over a table of N executions written by
# an outside writer, in one run, on its own throwaway PostgreSQL cluster (scripts/pg-cluster.sh in
# a mktemp folder, max_wal_size raised for the load; stopped and removed on exit):
#   1. build the release learning-server; start the cluster
#   2. start the server on the EMPTY database (it creates its schema); ingest on the empty table:
#      unary LogExecution (h2load -n N_UNARY -c 64 -m 1) and batch LogExecutions (N_BATCH requests
#      of 1000 records, -c 4 -m 4), the commands of bench/service-ingest.sh with smaller counts;
#      rows/s = rows added (psql count) / h2load's time. Stop the server; TRUNCATE the table.
#   3. load N rows straight into agents.execution_log with the guide's columns only (INSERT ...
#      SELECT FROM generate_series, CHUNK rows a statement, progress on stderr): 71 agents
#      agent-00..agent-70, 24 task types (8 usual ones per agent), timestamps in id order over the
#      last 89 days, execution_time lognormal around a median per agent and type, success ~93%
#      (88-98% per agent) with error messages on failures, resource_usage {cpu, memory_mb,
#      tokens}, 20% of rows on task ids shared by 2 or 3 agents; then VACUUM ANALYZE. Timed.
#   4. start the server; poll GET /status every 0.5 s (raw/startup-status.txt: state, ml_models,
#      any progress field beyond the guide's keys, VmRSS) until learning_system is not `starting`:
#      seconds, RSS at that moment and peak; the server's VmRSS is sampled every 0.5 s for as long
#      as it runs (raw/rss-*.txt)
#   5. correctness: total_executions (REST /health when it has the field, else the gRPC
#      GetHealth, which has it) and /analytics/performance's total, agents[].executions and
#      task_types[].executions against SQL's count(*) and GROUP BYs: mismatches, OK/FAIL
#   6. reads: p50/p99 of every read endpoint under READERS concurrent keep-alive readers, READ_SECS
#      seconds each (bench/volume_readers.py read; non-2xx answers are errors)
#   7. ingest with the N rows stored: the runs of step 2 again; the ratio loaded/empty
#   8. retention of one day: restart with performance.metrics_retention_days=RETENTION_DAYS (a
#      JSON config file, LEARNING_CONFIG_FILE; no environment variable sets it); the maintenance
#      loop applies retention when it starts and logs `retention: ...`. The log line, the table's
#      size (pg_total_relation_size over execution_log and any partitions) and n_dead_tup before
#      and after, the seconds it took (server start -> the log line; and the span in which
#      pg_stat_user_tables.n_tup_del grew / a DELETE was active, sampled every 0.5 s). Then the
#      restart's own replay is waited for as in step 4.
#   9. an outside COPY of COPY_ROWS rows (psql \copy of a generated file, timestamps in the last
#      hour, no error_message), then GET /health's total_executions (as in step 5) is polled every
#      0.25 s until it grew by COPY_ROWS: the delay from the end of the COPY
#  10. bench/results/volume-N-DATE/summary.txt (+ raw/), printed at the end with the machine and
#      the commit.
#
# usage: bench/volume.sh [N]   (default N=10000000)
#   env: READERS=16 READ_SECS=5 SKIP_INGEST=0 (1 skips steps 2 and 7) KEEP_DATA=0 (1 keeps the
#        stopped cluster's folder, printed at the end) BENCH_PORT=18761 PG_PORT=56171 (first ports
#        tried) N_UNARY=20000 N_BATCH=100 CHUNK=1000000 STARTUP_TIMEOUT=1800 RETENTION_DAYS=88
#        RETENTION_TIMEOUT=1800 COPY_ROWS=1000000 COPY_TIMEOUT=900 READ_AGENT=agent-07
#        SERVER=path (a release learning-server built beforehand; default: build this tree's)
# needs: the project's Debian packages (scripts/install-deps.sh, run here: postgresql, curl,
#        nghttp2-client for h2load), jq, and the .venv of scripts/python-env.sh (grpcio stubs for the
#        h2load request bodies and the gRPC GetHealth). Disk: about 400 bytes a row (10M: ~5 GB with
#        WAL) under $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-10000000}
READERS=${READERS:-16} READ_SECS=${READ_SECS:-5} SKIP_INGEST=${SKIP_INGEST:-0} KEEP_DATA=${KEEP_DATA:-0}
N_UNARY=${N_UNARY:-20000} N_BATCH=${N_BATCH:-100} CHUNK=${CHUNK:-1000000}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-1800} RETENTION_DAYS=${RETENTION_DAYS:-88} RETENTION_TIMEOUT=${RETENTION_TIMEOUT:-1800}
COPY_ROWS=${COPY_ROWS:-1000000} COPY_TIMEOUT=${COPY_TIMEOUT:-900} READ_AGENT=${READ_AGENT:-agent-07}
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -gt 0 ] || { echo "usage: bench/volume.sh [N] (N > 0 rows)" >&2; exit 2; }

scripts/install-deps.sh >&2
command -v jq >/dev/null || { echo "jq is needed: apt-get install jq" >&2; exit 2; }
PY=$(scripts/python-env.sh)
if [ -n "${SERVER:-}" ]; then
  # A copy made beforehand, so rebuilding the tree during a long run cannot swap the binary
  # under the restarts of steps 4 and 8.
  [ -x "$SERVER" ] || { echo "SERVER=$SERVER is not an executable" >&2; exit 2; }
else
  echo "building the release learning-server" >&2
  swift build -c release --product learning-server >&2
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi

RESULTS="$ROOT/bench/results/volume-$N-$(date +%Y%m%d-%H%M%S)"
RAW=$RESULTS/raw
mkdir -p "$RAW"
SUMMARY=$RESULTS/summary.txt
log() { echo "$*" | tee -a "$SUMMARY" >&2; }
note() { echo "[$(date +%T)] $*" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

PORT=$(scripts/pg-cluster.sh free-port "${BENCH_PORT:-18761}")
PG_PORT=$(scripts/pg-cluster.sh free-port "${PG_PORT:-56171}")
TARGET=127.0.0.1:$PORT
PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/volume-pg.XXXXXX")
SERVER_PID="" SAMPLER_PID=""
stop_server() {
  [ -n "$SAMPLER_PID" ] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
  SAMPLER_PID=""
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 600); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
cleanup() {
  stop_server
  scripts/pg-cluster.sh stop "$PGDIR" >/dev/null 2>&1 || true
  if [ "$KEEP_DATA" = 1 ]; then echo "cluster kept (stopped) in $PGDIR" >&2; else rm -rf "$PGDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "volume benchmark: N=$N rows; date $(date -Is)"
log "machine: $(uname -srmo); nproc $(nproc); $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo); $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
log "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift || echo ' (Sources modified)') on $(git rev-parse --abbrev-ref HEAD); server $SERVER"
log "uptime at start: $(uptime)"

URL=$(scripts/pg-cluster.sh start "$PGDIR" "$PG_PORT")
sql() { psql "$URL" -XAtq -v ON_ERROR_STOP=1 "$@"; }
sql -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '15min'" -c "SELECT pg_reload_conf()" >/dev/null
log "PostgreSQL $(sql -c 'SHOW server_version'): fsync=$(sql -c 'SHOW fsync') max_wal_size=$(sql -c 'SHOW max_wal_size') shared_buffers=$(sql -c 'SHOW shared_buffers'); server port $PORT, PostgreSQL port $PG_PORT"

# start_server NAME [VAR=value...]: the release server on the bench's database (INFO log in
# raw/server-NAME.log, VmRSS sampled every 0.5 s into raw/rss-NAME.txt); waits until it answers.
start_server() {
  local name=$1; shift
  env LEARNING_DATABASE_URL="$URL" LEARNING_LOG_LEVEL=INFO "$@" "$SERVER" --port "$PORT" >"$RAW/server-$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED=$(now)
  (while kill -0 "$SERVER_PID" 2>/dev/null; do
     awk -v t="$(now)" '/VmRSS/ { printf "%s %.1f\n", t, $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || true
     sleep 0.5
   done) >"$RAW/rss-$name.txt" &
  SAMPLER_PID=$!
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://$TARGET/health" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$RAW/server-$name.log" >&2; echo "the server exited" >&2; exit 1; }
    sleep 0.2
  done
  echo "the server did not answer within 120 s" >&2; exit 1
}
peak_rss() { awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { printf "%.1f", m }' "$RAW/rss-$1.txt"; }
rows() { sql -c 'SELECT count(*) FROM agents.execution_log'; }
# wait_ready NAME: step 4's poll; sets READY_LINE "seconds state rss-at-completion peak"
wait_ready() {
  READY_LINE=$("$PY" bench/volume_readers.py wait-ready "$TARGET" --pid "$SERVER_PID" --since "$STARTED" \
    --interval 0.5 --timeout "$STARTUP_TIMEOUT" --log "$RAW/startup-status-$1.txt") || true
}

GRPC=(-H 'content-type: application/grpc' -H 'te: trailers')
"$PY" bench/service_client.py body "$RAW/batch1000.bin" log-batch --records 1000
"$PY" bench/service_client.py body "$RAW/one.bin" log-one
# ingest NAME RECORDS-PER-REQUEST H2LOAD-ARGS...: one h2load run after a CHECKPOINT; sets RATE
ingest() {
  local name=$1 per=$2 before after ok t; shift 2
  sql -c CHECKPOINT
  before=$(rows)
  h2load "$@" >"$RAW/$name.txt" 2>&1 || true
  after=$(rows)
  ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$RAW/$name.txt")
  t=$(awk '/finished in/ { s = $3; sub(/,/, "", s); if (s ~ /ms$/) { sub(/ms/, "", s); s /= 1000 } else sub(/s$/, "", s); print s }' "$RAW/$name.txt")
  RATE=$(awk -v r=$((after - before)) -v s="$t" 'BEGIN { printf "%.0f", (s > 0) ? r / s : 0 }')
  local args="$*"
  log "  $name: h2load ${args//$RAW\//}"
  log "    $(grep -E '^requests:' "$RAW/$name.txt")"
  log "    rows added $((after - before)) (expected ${ok:-0} x $per) in ${t}s: $RATE rows/s$([ "$((after - before))" = "$(( ${ok:-0} * per ))" ] || echo '  MISMATCH')"
}
ingest_pair() { # LABEL: a warm-up (not counted), unary, then batch; sets UNARY_RATE BATCH_RATE
  h2load -n 2000 -c 64 -m 1 -t 1 -d "$RAW/one.bin" "${GRPC[@]}" "http://$TARGET/learning.v1.LearningSystem/LogExecution" >"$RAW/warmup-$1.txt" 2>&1 || true
  ingest "unary-$1" 1 -n "$N_UNARY" -c 64 -m 1 -t 1 -d "$RAW/one.bin" "${GRPC[@]}" "http://$TARGET/learning.v1.LearningSystem/LogExecution"
  UNARY_RATE=$RATE
  ingest "batch-$1" 1000 -n "$N_BATCH" -c 4 -m 4 -t 1 -d "$RAW/batch1000.bin" "${GRPC[@]}" "http://$TARGET/learning.v1.LearningSystem/LogExecutions"
  BATCH_RATE=$RATE
}

# ---- 2. the empty table --------------------------------------------------------------------------
note "step 2: server on the empty database"
start_server empty
if [ "$SKIP_INGEST" != 1 ]; then
  log "ingest on the EMPTY table:"
  ingest_pair empty
  EMPTY_UNARY=$UNARY_RATE EMPTY_BATCH=$BATCH_RATE
fi
stop_server
# What the empty-table runs left (their rows, discovered agents, roll-ups, a trained model) goes:
# the loaded database holds the outside writer's rows only.
sql -c 'TRUNCATE agents.execution_log, agents.performance_metrics, agents.insights, agents.ml_models, agents.agent_embeddings, agents.agent_registry'

# ---- 3. the outside writer's load ------------------------------------------------------------
TYPES="ARRAY['code_review','refactor','bug_fix','feature_implementation','test_writing','documentation',
  'strategic_planning','architecture_design','security_audit','performance_tuning','database_migration',
  'api_design','deployment','log_analysis','incident_response','dependency_update','data_analysis',
  'ui_design','code_generation','research','requirements_analysis','monitoring_setup','load_testing','release_notes']"
ERRORS="ARRAY['timeout after 300s','rate limit exceeded (HTTP 429)','tool error: file not found',
  'context window exceeded','assertion failed: tests did not pass','connection reset by peer']"
T_END=$(date +%s)
SPAN=$((89 * 86400))
T0=$((T_END - SPAN))
# load_sql LO HI: rows LO..HI of N. Row g: in every block of 25 rows, rows 0-2 share one task id
# (3 agents) and rows 3-4 another (2 agents) - 20% of rows; the group's agents are distinct and work
# on one task type; other rows: a hashed agent and one of its 8 usual task types. Time grows with g.
load_sql() {
  cat <<SQL
INSERT INTO agents.execution_log (agent_name, task_id, task_type, execution_time, success, error_message, resource_usage, timestamp)
SELECT 'agent-' || lpad(a::text, 2, '0'),
       CASE WHEN grp IS NULL THEN gen_random_uuid() ELSE md5('task-' || grp)::uuid END,
       ($TYPES)[(t + 1)::int],
       round(exp(ln((2 + (a * 37 + t * 11) % 90)::float8) + 0.6 * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2))::numeric, 3)::float8,
       ok,
       CASE WHEN ok THEN NULL ELSE ($ERRORS)[1 + (g % 6)::int] END,
       jsonb_build_object('cpu', round((5 + 90 * r1)::numeric, 1), 'memory_mb', round((128 + 1900 * r2)::numeric),
                          'tokens', (500 + 16000 * r3 * r3)::int),
       to_timestamp($T0 + (g - 1 + r4) * $SPAN.0 / $N) AT TIME ZONE 'UTC'
FROM (SELECT g, grp, a, t, 1 - random() AS u1, random() AS u2, random() < 0.88 + ((a * 7) % 11) / 100.0 AS ok,
             random() AS r1, random() AS r2, random() AS r3, random() AS r4
      FROM (SELECT g, grp,
                   CASE WHEN grp IS NULL THEN (hashint8(g)::bigint + 2147483648) % 71
                        ELSE ((hashint8(grp)::bigint + 2147483648) + member * 23) % 71 END AS a,
                   CASE WHEN grp IS NULL THEN (((hashint8(g)::bigint + 2147483648) % 71) * 5 + (hashint8(-g)::bigint + 2147483648) % 8) % 24
                        ELSE (hashint8(-grp)::bigint + 2147483648) % 24 END AS t
            FROM (SELECT g, CASE WHEN g % 25 < 3 THEN (g / 25) * 2 WHEN g % 25 < 5 THEN (g / 25) * 2 + 1 END AS grp,
                         CASE WHEN g % 25 < 3 THEN g % 25 ELSE g % 25 - 3 END AS member
                  FROM generate_series($1::bigint, $2::bigint) g) s0) s1) s2;
SQL
}
note "step 3: loading $N rows in chunks of $CHUNK"
LOAD_START=$(now)
lo=1
while [ "$lo" -le "$N" ]; do
  hi=$((lo + CHUNK - 1)); [ "$hi" -le "$N" ] || hi=$N
  t=$(now)
  load_sql "$lo" "$hi" | sql
  note "  loaded rows $lo..$hi of $N ($(secs "$t" "$(now)") s; $(secs "$LOAD_START" "$(now)") s so far)"
  lo=$((hi + 1))
done
LOAD_END=$(now)
sql -c 'VACUUM ANALYZE agents.execution_log'
VACUUM_END=$(now)
LOADED=$(rows)
log "load: $LOADED rows by INSERT ... SELECT FROM generate_series (chunks of $CHUNK) in $(secs "$LOAD_START" "$LOAD_END") s ($(awk -v n="$LOADED" -v a="$LOAD_START" -v b="$LOAD_END" 'BEGIN { printf "%.0f", n / (b - a) }') rows/s); VACUUM ANALYZE $(secs "$LOAD_END" "$VACUUM_END") s"
# execution_log and its partitions, if it has any (pg_partition_tree lists none for a plain table)
rels="SELECT 'agents.execution_log'::regclass AS relid UNION SELECT relid FROM pg_partition_tree('agents.execution_log')"
size_sql="SELECT pg_size_pretty(sum(pg_total_relation_size(relid))) || ' (' || sum(pg_total_relation_size(relid)) || ' bytes)' FROM ($rels) r"
stats_sql="SELECT coalesce(sum(n_tup_del), 0) || ' ' || coalesce(sum(n_dead_tup), 0) FROM pg_stat_user_tables WHERE relid IN ($rels)"
log "  table: $(sql -c "$size_sql"); $(sql -c "SELECT count(DISTINCT agent_name) || ' agents, ' || count(DISTINCT task_type) || ' task types, ' || round(100.0 * avg(success::int), 2) || '% success, ' || min(timestamp) || ' .. ' || max(timestamp) FROM agents.execution_log")"
log "  shared task ids: $(sql -c "SELECT count(*) || ' tasks with 2+ agents covering ' || sum(n) || ' rows' FROM (SELECT task_id, count(*) n FROM agents.execution_log GROUP BY task_id HAVING count(DISTINCT agent_name) > 1) s")"

# ---- 4. start-up over N rows ----------------------------------------------------------------------
note "step 4: server start over $LOADED rows"
start_server loaded
wait_ready loaded
read -r r_secs r_state r_rss r_peak <<<"$READY_LINE"
log "start-up over $LOADED rows: learning_system '$r_state' after ${r_secs} s (polled every 0.5 s; raw/startup-status-loaded.txt); RSS then $r_rss MiB, peak while starting $r_peak MiB"
extra=$(grep -c 'extra=' "$RAW/startup-status-loaded.txt" || true)
if [ "$extra" = 0 ]; then
  log "  /status reported no progress fields beyond the guide's keys"
else
  log "  /status progress fields (last): $(grep 'extra=' "$RAW/startup-status-loaded.txt" | tail -1 | sed 's/.*extra=//')"
fi
log "  server log: $(grep -E 'replay complete|training|trained' "$RAW/server-loaded.log" | head -3 | sed 's/^[^ ]* //' | paste -sd';' -)"

# ---- 5. correctness --------------------------------------------------------------------------------
note "step 5: correctness"
sleep 2
SQL_TOTAL=$(rows)
sql -F $'\t' -c 'SELECT agent_name, count(*) FROM agents.execution_log GROUP BY 1 ORDER BY 1' >"$RAW/sql-agents.tsv"
sql -F $'\t' -c "SELECT coalesce(task_type, ''), count(*) FROM agents.execution_log GROUP BY 1 ORDER BY 1" >"$RAW/sql-task-types.tsv"
"$PY" bench/volume_readers.py compare "$TARGET" --sql-total "$SQL_TOTAL" --sql-agents "$RAW/sql-agents.tsv" \
  --sql-types "$RAW/sql-task-types.tsv" >"$RAW/correctness.txt" 2>&1 || echo "compare failed" >>"$RAW/correctness.txt"
log "correctness against SQL:"
sed 's/^/  /' "$RAW/correctness.txt" | tee -a "$SUMMARY" >&2

# ---- 6. reads --------------------------------------------------------------------------------------
note "step 6: reads"
READ_TYPE=$(sql -c "SELECT task_type FROM agents.execution_log WHERE agent_name = '$READ_AGENT' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
log "reads: $READERS readers (python threads, keep-alive HTTP/1.1), ${READ_SECS} s per endpoint, agent $READ_AGENT, task type ${READ_TYPE:-code_review}:"
# One endpoint at a time, so that a crash is pinned on the endpoint whose reads it happened under:
# the crash is logged (with the end of the server's log) and the server restarted for the rest.
READ_ARGS=(--readers "$READERS" --secs "$READ_SECS" --agent "$READ_AGENT" --task-type "${READ_TYPE:-code_review}")
"$PY" bench/volume_readers.py read "$TARGET" --count "${READ_ARGS[@]}" >"$RAW/reads-count.txt"
"$PY" bench/volume_readers.py read "$TARGET" --header >"$RAW/reads.txt"
CRASHES=0 INSTANCE=loaded
for i in $(seq 0 $(($(cat "$RAW/reads-count.txt") - 1))); do
  "$PY" bench/volume_readers.py read "$TARGET" --only "$i" --no-header "${READ_ARGS[@]}" >>"$RAW/reads.txt" 2>&1 || echo "reader failed" >>"$RAW/reads.txt"
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    status=0; wait "$SERVER_PID" 2>/dev/null || status=$?
    CRASHES=$((CRASHES + 1))
    echo "    SERVER DIED under these reads (exit status $status$([ "$status" -gt 128 ] && echo ", signal $((status - 128))")); last log lines: $(grep -v '^$' "$RAW/server-$INSTANCE.log" | tail -2 | paste -sd'|' -); restarting it" >>"$RAW/reads.txt"
    SERVER_PID=""; stop_server
    INSTANCE=reads-restart-$CRASHES
    start_server "$INSTANCE"
    wait_ready "$INSTANCE"
    echo "    restarted: ready after $(cut -d' ' -f1 <<<"$READY_LINE") s" >>"$RAW/reads.txt"
  fi
done
sed 's/^/  /' "$RAW/reads.txt" | tee -a "$SUMMARY" >&2
[ "$CRASHES" = 0 ] || log "  the server crashed $CRASHES time(s) under the reads (restarted each time; the ingest below runs on instance $INSTANCE)"

# ---- 7. ingest with N rows stored -------------------------------------------------------------------
if [ "$SKIP_INGEST" != 1 ]; then
  note "step 7: ingest over the loaded table"
  log "ingest with $(rows) rows stored:"
  ingest_pair loaded
  log "ingest loaded/empty: unary $UNARY_RATE / $EMPTY_UNARY rows/s = $(awk -v a="$UNARY_RATE" -v b="$EMPTY_UNARY" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'); batch $BATCH_RATE / $EMPTY_BATCH rows/s = $(awk -v a="$BATCH_RATE" -v b="$EMPTY_BATCH" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
fi
log "server RSS: peak $(peak_rss loaded) MiB over the whole run of the first instance over the loaded table (every 0.5 s; raw/rss-loaded.txt)$([ "$INSTANCE" = loaded ] || echo "; peak of the last restarted one $(peak_rss "$INSTANCE") MiB"), now $(tail -1 "$RAW/rss-$INSTANCE.txt" | cut -d' ' -f2) MiB"
stop_server

# ---- 8. retention of one day -------------------------------------------------------------------------
note "step 8: retention ($RETENTION_DAYS days)"
echo "{\"performance\": {\"metrics_retention_days\": $RETENTION_DAYS}}" >"$PGDIR/retention.json"
cp "$PGDIR/retention.json" "$RAW/retention-config.json"
DUE=$(sql -c "SELECT count(*) FROM agents.execution_log WHERE timestamp < (now() AT TIME ZONE 'UTC') - interval '$RETENTION_DAYS days'")
SIZE_BEFORE=$(sql -c "$size_sql")
read -r DEL0 DEAD0 <<<"$(sql -c "$stats_sql")"
# pg_stat sampled every 0.5 s from before the server starts (its maintenance loop starts before it
# listens): epoch, n_tup_del, n_dead_tup, active DELETEs on execution_log
(while :; do
   echo "$(now) $(sql -c "$stats_sql") $(sql -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'DELETE FROM agents.execution_log%'")"
   sleep 0.5
 done) >"$RAW/retention-pgstat.txt" 2>/dev/null &
PGSTAT_PID=$!
start_server retention LEARNING_CONFIG_FILE="$PGDIR/retention.json"
# The restart's own replay, polled from its start beside the retention watch below.
"$PY" bench/volume_readers.py wait-ready "$TARGET" --pid "$SERVER_PID" --since "$STARTED" --interval 0.5 \
  --timeout "$STARTUP_TIMEOUT" --log "$RAW/startup-status-retention.txt" >"$RAW/ready-retention.txt" 2>&1 &
READY_PID=$!
retention_line="" deadline=$(( $(date +%s) + RETENTION_TIMEOUT ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  retention_line=$(grep -E 'retention(:| failed)' "$RAW/server-retention.log" | grep -v 'learned history' | head -1 || true)
  [ -n "$retention_line" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "the server exited during retention"; break; }
  sleep 0.5
done
LINE_SEEN=$(now)
sleep 1
kill "$PGSTAT_PID" 2>/dev/null || true; wait "$PGSTAT_PID" 2>/dev/null || true
if [ -n "$retention_line" ]; then
  stamp=$(cut -d' ' -f1 <<<"$retention_line")
  line_epoch=$(date -d "$stamp" +%s.%N)
  sleep 1
  read -r DEL1 DEAD1 <<<"$(sql -c "$stats_sql")"
  first_del=$(awk -v d="$DEL0" '$2 > d || $4 > 0 { print $1; exit }' "$RAW/retention-pgstat.txt")
  log "retention to $RETENTION_DAYS days (LEARNING_CONFIG_FILE $(cat "$PGDIR/retention.json")); $DUE rows were older than that:"
  log "  log: $retention_line"
  held=$(grep 'learned history' "$RAW/server-retention.log" | head -1 || true)
  [ -z "$held" ] || log "  log: $held"
  log "  seconds: $(secs "$STARTED" "$line_epoch") from server start to the log line; deleting (first 0.5-s sample with n_tup_del grown or a DELETE active -> log line): $(awk -v f="$first_del" -v l="$line_epoch" 'BEGIN { if (f == "" || f + 0 >= l + 0) print "under the ~1 s resolution of pg_stat"; else printf "%.1f s", l - f }') (raw/retention-pgstat.txt)"
  log "  execution_log before: $SIZE_BEFORE, n_dead_tup $DEAD0; 2 s after the log line: $(sql -c "$size_sql"), n_dead_tup $DEAD1, n_tup_del +$((DEL1 - DEL0))"
  sleep 10
  read -r _ DEAD2 <<<"$(sql -c "$stats_sql")"
  log "  12 s after: $(sql -c "$size_sql"), n_dead_tup $DEAD2; rows now $(rows)"
else
  log "retention: no 'retention:' log line within $RETENTION_TIMEOUT s (waited $(secs "$STARTED" "$LINE_SEEN") s)"
fi
wait "$READY_PID" || true
READY_LINE=$(cat "$RAW/ready-retention.txt")
read -r r_secs r_state r_rss r_peak <<<"$READY_LINE"
log "restart with retention: learning_system '$r_state' after ${r_secs} s; RSS then $r_rss MiB, peak while starting $r_peak MiB"

# ---- 9. an outside COPY ---------------------------------------------------------------------------
note "step 9: outside COPY of $COPY_ROWS rows"
T_NOW=$(date +%s)
sql -c "COPY (SELECT 'agent-' || lpad((g % 71)::text, 2, '0'), gen_random_uuid(), ($TYPES)[1 + ((g * 7) % 24)::int],
                     round((1 + 60 * random())::numeric, 3), random() < 0.93,
                     jsonb_build_object('cpu', round((5 + 90 * random())::numeric, 1), 'memory_mb', round((128 + 1900 * random())::numeric), 'tokens', (500 + 16000 * random())::int),
                     to_timestamp($T_NOW - 3600 * random()) AT TIME ZONE 'UTC'
              FROM generate_series(1, $COPY_ROWS) g) TO STDOUT" >"$PGDIR/copy.tsv"
read -r T_BEFORE T_SOURCE <<<"$("$PY" bench/volume_readers.py total "$TARGET")"
COUNT_BEFORE=$(rows)
C0=$(now)
sql -c "\\copy agents.execution_log (agent_name, task_id, task_type, execution_time, success, resource_usage, timestamp) FROM '$PGDIR/copy.tsv'"
C1=$(now)
# The target is the table's count after the COPY (nothing else writes meanwhile), not the
# service's figure before it plus COPY_ROWS: that figure can be stale (rows deleted by retention
# stay in it until its periodic recount), and then the sum is never reached.
WANTED=$((COUNT_BEFORE + COPY_ROWS))
read -r REACHED T_AFTER _ POLLS <<<"$("$PY" bench/volume_readers.py wait-total "$TARGET" "$WANTED" --exact --interval 0.25 --timeout "$COPY_TIMEOUT" --log "$RAW/copy-total.txt" || true)"
[ -n "${T_AFTER:-}" ] || T_AFTER=$(tail -1 "$RAW/copy-total.txt" | cut -d' ' -f2)
log "outside COPY of $COPY_ROWS rows: \\copy took $(secs "$C0" "$C1") s; total_executions ($T_SOURCE) $T_BEFORE before (SQL count(*) $COUNT_BEFORE), $T_AFTER at the end of polling (SQL now $(rows))"
[ "$T_BEFORE" = "$COUNT_BEFORE" ] || log "  before the COPY the service's total was off the table's count by $((T_BEFORE - COUNT_BEFORE))"
if [ "${T_AFTER:-0}" = "$WANTED" ]; then
  log "  total_executions equal to the table's count ($WANTED, +$COPY_ROWS) $(secs "$C1" "$REACHED") s after the COPY ended ($POLLS polls every 0.25 s)"
else
  log "  total_executions NOT equal to the table's count $WANTED within $COPY_TIMEOUT s of the COPY's end (last ${T_AFTER:-?}, +$((${T_AFTER:-0} - T_BEFORE)) since before the COPY; raw/copy-total.txt)"
fi
log "server RSS: peak $(peak_rss retention) MiB over the restarted instance's run (raw/rss-retention.txt); peak of the first start's instance $(peak_rss loaded) MiB"
stop_server
log "uptime at the end: $(uptime)"
log "results: $RESULTS"
echo >&2
cat "$SUMMARY"
