#!/usr/bin/env bash
# The README's run command (`make run`): installs missing Debian packages, builds the release
# server, and, when no database is configured, starts a local PostgreSQL cluster in .data/postgres
# (port 5433 like the guide's compose file, or the next free one). Then it starts the service on
# 127.0.0.1:8080. Ctrl-C or SIGTERM stops the service first, then the cluster if this script
# started it. A second run reuses the data.
#
# A database counts as configured when LEARNING_DATABASE_URL or DATABASE_URL is set, or when the
# JSON file named by LEARNING_CONFIG_FILE has a "database" section.
#
# Knobs: LEARNING_API_HOST / LEARNING_API_PORT (where the service listens, default 127.0.0.1:8080),
# LEARNING_DATA_DIR (default .data; the cluster lives in its postgres/ folder), LEARNING_PG_PORT
# (first port to try for the cluster, default 5433), LEARNING_SERVER_BIN (run this binary instead of
# building learning-server; the tests use it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '==> %s\n' "$*"; }

say "[1/4] checking Debian packages"
scripts/install-deps.sh

if [ -n "${LEARNING_SERVER_BIN:-}" ]; then
  say "[2/4] using the server at $LEARNING_SERVER_BIN (LEARNING_SERVER_BIN), no build"
  SERVER=$LEARNING_SERVER_BIN
else
  say "[2/4] building learning-server (swift build -c release)"
  swift build -c release --product learning-server
  SERVER="$(swift build -c release --show-bin-path)/learning-server"
fi

config_has_database=no
if [ -n "${LEARNING_CONFIG_FILE:-}" ]; then
  config_has_database=$(python3 -c 'import json, sys
config = json.load(open(sys.argv[1]))
print("yes" if isinstance(config, dict) and "database" in config else "no")' "$LEARNING_CONFIG_FILE") \
    || { echo "LEARNING_CONFIG_FILE=$LEARNING_CONFIG_FILE is not a readable JSON file" >&2; exit 2; }
fi
database_configured() { # prints where the database setting comes from
  if [ -n "${LEARNING_DATABASE_URL:-}" ]; then echo "LEARNING_DATABASE_URL"
  elif [ -n "${DATABASE_URL:-}" ]; then echo "DATABASE_URL"
  elif [ "$config_has_database" = yes ]; then echo "the database section of $LEARNING_CONFIG_FILE"
  else return 1
  fi
}

PGDIR="" OWN_CLUSTER=0 SERVER_PID=""
stop_all() {
  trap - INT TERM EXIT
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    say "stopping the service (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local waited=0 # tenths of a second; after 30 s it is killed
    while kill -0 "$SERVER_PID" 2>/dev/null && [ "$waited" -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      say "the service did not stop within 30 s: killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$OWN_CLUSTER" = 1 ]; then
    say "stopping PostgreSQL ($PGDIR)"
    scripts/pg-cluster.sh stop "$PGDIR"
  fi
  [ -z "$PGDIR$SERVER_PID" ] || say "stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

if source=$(database_configured); then
  say "[3/4] using the configured database ($source)"
else
  PGDIR="${LEARNING_DATA_DIR:-$ROOT/.data}/postgres"
  if port=$(scripts/pg-cluster.sh status "$PGDIR" 2>/dev/null); then
    say "[3/4] PostgreSQL in $PGDIR is already running on port $port: using it (and leaving it running)"
  else
    port=$(scripts/pg-cluster.sh free-port "${LEARNING_PG_PORT:-5433}")
    if [ -f "$PGDIR/pgdata/PG_VERSION" ]; then
      say "[3/4] starting PostgreSQL on 127.0.0.1:$port with the data in $PGDIR"
    else
      say "[3/4] creating a PostgreSQL cluster in $PGDIR and starting it on 127.0.0.1:$port"
    fi
    OWN_CLUSTER=1
  fi
  LEARNING_DATABASE_URL=$(scripts/pg-cluster.sh start "$PGDIR" "$port")
  export LEARNING_DATABASE_URL
  say "      database: $LEARNING_DATABASE_URL"
fi

export LEARNING_API_HOST=${LEARNING_API_HOST:-127.0.0.1}
export LEARNING_API_PORT=${LEARNING_API_PORT:-8080}
if (exec 3<>"/dev/tcp/127.0.0.1/$LEARNING_API_PORT") 2>/dev/null; then
  echo "port $LEARNING_API_PORT is already in use: stop what listens there or set LEARNING_API_PORT" >&2
  exit 1
fi
say "[4/4] starting the service on $LEARNING_API_HOST:$LEARNING_API_PORT (REST and gRPC); Ctrl-C stops it"
"$SERVER" &
SERVER_PID=$!
set +e
wait "$SERVER_PID"
status=$?
set -e
SERVER_PID=""
say "the service exited with status $status"
exit "$status"
