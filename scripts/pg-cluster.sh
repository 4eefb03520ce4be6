#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, owned by the `postgres` user (initdb
# refuses root), listening on 127.0.0.1:PORT and on a Unix socket inside DIR.
#
#   scripts/pg-cluster.sh start DIR PORT   create (first time) and start; prints the database URL.
#                                          Already running: prints the URL of the port it runs on.
#   scripts/pg-cluster.sh standby PRIMARY_PORT DIR PORT
#                                          a hot standby of the primary on 127.0.0.1:PRIMARY_PORT,
#                                          streaming from it (pg_basebackup -R, the first time),
#                                          started on PORT; prints its URL (the same database as the
#                                          primary's). Already running: prints the URL.
#   scripts/pg-cluster.sh stop DIR         fast shutdown (nothing to do when it is not running)
#   scripts/pg-cluster.sh status DIR       exit 0 and print the port when it runs, exit 1 otherwise
#   scripts/pg-cluster.sh url DIR PORT     print the URL only
#   scripts/pg-cluster.sh free-port PORT   print the first port from PORT up that nothing listens on
#     (start below 32768: a port in the kernel's ephemeral range may be held by an outgoing
#     connection, which this probe cannot see, and then bind() fails)
#
# Creates the guide's database `claude_auth` and role `claude_user` (trust auth, loopback only).
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|standby|stop|status|url|free-port DIR [PORT]}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "$cmd" = free-port ]; then
  port=${2:?first port to try}
  for _ in $(seq 1 200); do
    port_in_use "$port" || { echo "$port"; exit 0; }
    port=$((port + 1))
  done
  echo "no free port found from ${2} to ${port}" >&2
  exit 1
fi

primary_port=""
if [ "$cmd" = standby ]; then
  primary_port=${2:?usage: pg-cluster.sh standby PRIMARY_PORT DIR PORT}
  shift
fi
dir=${2:?data folder}
port=${3:-5432}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 2; }

as_owner() { # run a command as the owner of the cluster (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql://claude_user@127.0.0.1:$1/claude_auth"; }

running_port() { # the port of the running postmaster (line 4 of postmaster.pid), or fail
  [ -f "$dir/pgdata/PG_VERSION" ] || return 1
  as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1 || return 1
  sed -n 4p "$dir/pgdata/postmaster.pid"
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$dir"
      runuser -u postgres -- test -w "$dir" || {
        echo "the postgres user cannot write to $dir (a parent folder is closed to it, e.g. /root);" >&2
        echo "choose a data folder it can reach (run.sh: LEARNING_DATA_DIR=/var/tmp/learning-data)" >&2
        exit 1
      }
    fi
    if current=$(running_port); then
      echo "PostgreSQL in $dir is already running on port $current" >&2
      url "$current"
      exit 0
    fi
    if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
      as_owner "$PGBIN/initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" >/dev/null \
      || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    psql_admin() { as_owner "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtAX "$@"; }
    [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='claude_user'")" = 1 ] \
      || psql_admin -c "CREATE ROLE claude_user LOGIN SUPERUSER"
    [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='claude_auth'")" = 1 ] \
      || psql_admin -c "CREATE DATABASE claude_auth OWNER claude_user"
    url "$port"
    ;;
  standby)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
    if current=$(running_port); then
      echo "PostgreSQL in $dir is already running on port $current" >&2
      url "$current"
      exit 0
    fi
    if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
      # A copy of the primary that streams from it (-R writes primary_conninfo and standby.signal).
      as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir/pgdata" -R -X stream --checkpoint=fast \
        >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
    fi
    # A standby needs max_connections at least the primary's (200, as `start` sets it).
    as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c hot_standby=on" >/dev/null \
      || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    url "$port"
    ;;
  stop)
    [ -f "$dir/pgdata/PG_VERSION" ] || exit 0
    as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    ;;
  status) running_port ;;
  url) url "$port" ;;
  *) echo "usage: pg-cluster.sh start|standby|stop|status|url|free-port DIR [PORT]" >&2; exit 2 ;;
esac
