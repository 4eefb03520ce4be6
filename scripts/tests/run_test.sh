#!/usr/bin/env bash
# Pins the behaviour of scripts/run.sh (`make run`) with a stand-in server (LEARNING_SERVER_BIN):
# with no database configured it starts a PostgreSQL cluster in the data folder on the first free
# port from LEARNING_PG_PORT and hands its URL to the service; Ctrl-C (SIGINT to the whole process
# group, as a terminal sends it) and SIGTERM stop the service first and then the cluster; a second
# run reuses the data; a cluster it did not start is left running; a configured database is used
# as is. Everything lives in a temporary folder on private ports.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/tests/lib.sh

WORK=$(mktemp -d /tmp/learning-run-test.XXXXXX)
chmod 755 "$WORK" # the postgres user must reach the data folder inside
DATA="$WORK/data"
LISTENER_PID=""
cleanup() {
  scripts/pg-cluster.sh stop "$DATA/postgres" >/dev/null 2>&1
  scripts/pg-cluster.sh stop "$WORK/other/postgres" >/dev/null 2>&1
  [ -z "$LISTENER_PID" ] || kill "$LISTENER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# The stand-in server: records what it was given, proves the database answers (and counts its
# runs in a table, so a second run shows the data survived), then waits for SIGTERM.
cat >"$WORK/fake-server" <<'SH'
#!/usr/bin/env bash
log=$FAKE_LOG
echo "api=${LEARNING_API_HOST:-}:${LEARNING_API_PORT:-}" >>"$log"
echo "url=${LEARNING_DATABASE_URL:-}" >>"$log"
if [ -n "${LEARNING_DATABASE_URL:-}" ]; then
  runs=$(psql "$LEARNING_DATABASE_URL" -qtAX -c "CREATE TABLE IF NOT EXISTS fake_server_runs (at timestamptz DEFAULT now())" \
    -c "INSERT INTO fake_server_runs DEFAULT VALUES" -c "SELECT count(*) FROM fake_server_runs" 2>>"$log")
  echo "runs=$runs" >>"$log"
fi
trap 'echo "got SIGTERM" >>"$log"; exit 0' TERM
echo "ready" >>"$log"
while :; do sleep 0.1; done
SH
chmod +x "$WORK/fake-server"

# Below the kernel's ephemeral range (32768-60999): a port an outgoing connection happens to use
# looks free to the probe (nothing listens) yet refuses bind().
free_port() { scripts/pg-cluster.sh free-port $((20000 + RANDOM % 12000)); }
API_PORT=$(free_port)
RUN_PID=""

# start_run NAME [VAR=VALUE...]: runs run.sh as a terminal runs it: as a job with a process group of
# its own (job control on: without it, bash starts background commands with SIGINT ignored) and
# with SIGINT at its default (this test may itself run with SIGINT ignored, e.g. under nohup or in
# the background, and a shell cannot trap a signal that was ignored when it started).
start_run() {
  local name=$1; shift
  export FAKE_LOG="$WORK/$name.server.log"
  : >"$FAKE_LOG"
  set -m
  python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' \
    env -u LEARNING_DATABASE_URL -u DATABASE_URL -u LEARNING_CONFIG_FILE \
    LEARNING_SERVER_BIN="$WORK/fake-server" LEARNING_DATA_DIR="$DATA" LEARNING_API_PORT="$API_PORT" "$@" \
    bash scripts/run.sh >"$WORK/$name.out" 2>&1 </dev/null &
  RUN_PID=$!
  set +m
}
wait_for() { # wait_for FILE PATTERN SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_exit() { # wait_exit SECONDS: waits for run.sh to end; prints its status
  local i
  for ((i = 0; i < $1 * 10; i++)); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$RUN_PID" 2>/dev/null; then kill -KILL -- "-$RUN_PID" 2>/dev/null; fi
  wait "$RUN_PID"
}
show() { echo "# --- $1"; sed 's/^/#   /' "$WORK/$1"; }
cluster_running() { scripts/pg-cluster.sh status "$1" >/dev/null 2>&1; }

# --- 1: first run, the default port taken: a new cluster on the next port, then Ctrl-C.
PG_PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$PG_PORT" &
LISTENER_PID=$!
wait_port() { local i; for ((i = 0; i < 50; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_port "$PG_PORT"
start_run first LEARNING_PG_PORT="$PG_PORT"
if wait_for "$WORK/first.server.log" '^ready' 60; then
  ok "first run starts the service"
  expect "the service gets LEARNING_DATABASE_URL of a new cluster on the next free port" \
    grep -q "^url=postgresql://claude_user@127.0.0.1:$((PG_PORT + 1))/claude_auth$" "$WORK/first.server.log"
  expect "the service reaches the database with psql" grep -q '^runs=1$' "$WORK/first.server.log"
  expect "the service is told to listen on 127.0.0.1:LEARNING_API_PORT" \
    grep -q "^api=127.0.0.1:$API_PORT$" "$WORK/first.server.log"
  expect "the cluster lives in LEARNING_DATA_DIR/postgres" test -f "$DATA/postgres/pgdata/PG_VERSION"
  kill -INT -- "-$RUN_PID" # Ctrl-C: the terminal signals the whole foreground process group
  wait_exit 60; rc=$?
  expect "Ctrl-C ends run.sh with status 130" test "$rc" -eq 130
  expect "Ctrl-C stops the service with SIGTERM" grep -q '^got SIGTERM' "$WORK/first.server.log"
  if cluster_running "$DATA/postgres"; then not_ok "Ctrl-C stops the cluster"; else ok "Ctrl-C stops the cluster"; fi
  expect "the service is stopped before the cluster" \
    awk '/stopping the service/{s=NR} /stopping PostgreSQL/{p=NR} END{exit !(s && p && s < p)}' "$WORK/first.out"
else
  not_ok "first run starts the service"; show first.out; show first.server.log
fi
kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null; LISTENER_PID=""

# --- 2: second run reuses the data; SIGTERM to run.sh alone stops both.
start_run second LEARNING_PG_PORT="$PG_PORT"
if wait_for "$WORK/second.server.log" '^ready' 60; then
  expect "a second run reuses the data (the table written by the first run is there)" \
    grep -q '^runs=2$' "$WORK/second.server.log"
  expect "a second run says it starts the existing cluster" grep -q 'with the data in' "$WORK/second.out"
  kill -TERM "$RUN_PID"
  wait_exit 60; rc=$?
  expect "SIGTERM ends run.sh with status 143" test "$rc" -eq 143
  expect "SIGTERM stops the service" grep -q '^got SIGTERM' "$WORK/second.server.log"
  if cluster_running "$DATA/postgres"; then not_ok "SIGTERM stops the cluster"; else ok "SIGTERM stops the cluster"; fi
else
  not_ok "second run starts the service"; show second.out; show second.server.log
fi

# --- 3: a cluster that was already running is used and left running.
OTHER_URL=$(scripts/pg-cluster.sh start "$DATA/postgres" "$(free_port)")
start_run third
if wait_for "$WORK/third.server.log" '^ready' 60; then
  expect "an already running cluster is used" grep -q "^url=$OTHER_URL$" "$WORK/third.server.log"
  kill -TERM "$RUN_PID"; wait_exit 60
  expect "the service still stops" grep -q '^got SIGTERM' "$WORK/third.server.log"
  expect "a cluster run.sh did not start is left running" cluster_running "$DATA/postgres"
else
  not_ok "run with a running cluster starts the service"; show third.out; show third.server.log
fi

# --- 4: a configured database is used as is; no cluster is created.
start_run configured LEARNING_DATA_DIR="$WORK/other" LEARNING_DATABASE_URL="$OTHER_URL"
if wait_for "$WORK/configured.server.log" '^ready' 60; then
  expect "LEARNING_DATABASE_URL is passed through unchanged" grep -q "^url=$OTHER_URL$" "$WORK/configured.server.log"
  expect "no cluster is created when a database is configured" test ! -e "$WORK/other/postgres"
  kill -TERM "$RUN_PID"; wait_exit 60
else
  not_ok "run with LEARNING_DATABASE_URL starts the service"; show configured.out; show configured.server.log
fi
scripts/pg-cluster.sh stop "$DATA/postgres"

echo '{"database": {"host": "db.example", "port": 5432}}' >"$WORK/config.json"
start_run config-file LEARNING_DATA_DIR="$WORK/other" LEARNING_CONFIG_FILE="$WORK/config.json"
if wait_for "$WORK/config-file.server.log" '^ready' 60; then
  expect "a database section in LEARNING_CONFIG_FILE counts as configured" \
    grep -q 'using the configured database (the database section of' "$WORK/config-file.out"
  expect "no cluster is created for a configured database" test ! -e "$WORK/other/postgres"
  kill -TERM "$RUN_PID"; wait_exit 60
else
  not_ok "run with a config file starts the service"; show config-file.out; show config-file.server.log
fi

# --- 5: bad setups fail fast with a clear message.
echo '{"database": ' >"$WORK/broken.json"
start_run broken LEARNING_CONFIG_FILE="$WORK/broken.json"
wait_exit 30; rc=$?
expect "an unreadable config file stops run.sh with status 2" test "$rc" -eq 2
expect "... and a message naming LEARNING_CONFIG_FILE" grep -q 'LEARNING_CONFIG_FILE=.* is not a readable JSON file' "$WORK/broken.out"

python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$API_PORT" &
LISTENER_PID=$!
wait_port "$API_PORT"
start_run busy LEARNING_DATABASE_URL="$OTHER_URL"
wait_exit 30; rc=$?
expect "a busy API port stops run.sh with status 1 before the service starts" test "$rc" -eq 1
expect "... and a message naming LEARNING_API_PORT" grep -q 'already in use.*LEARNING_API_PORT' "$WORK/busy.out"
expect "... and the service never ran" test ! -s "$WORK/busy.server.log"

finish
