#!/usr/bin/env bash
# A private PostgreSQL cluster for development and tests, owned by the `postgres` user (initdb
# refuses root), listening on 127.0.0.1:PORT and on a Unix socket inside DIR.
#
#   scripts/pg-cluster.sh start DIR PORT   create (first time) and start; prints the database URL
#   scripts/pg-cluster.sh stop DIR         fast shutdown
#   scripts/pg-cluster.sh url DIR PORT     print the URL only
#
# Creates the guide's database `claude_auth` and role `claude_user` (trust auth, loopback only).
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start|stop|url DIR [PORT]}
dir=${2:?data folder}
port=${3:-5432}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found: apt-get install postgresql" >&2; exit 2; }

as_owner() { # run a command as the owner of the cluster (postgres when we are root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql://claude_user@127.0.0.1:$port/claude_auth"; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/pgdata/PG_VERSION" ]; then
      as_owner "$PGBIN/initdb" -D "$dir/pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" status >/dev/null 2>&1; then
      as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 start \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" >/dev/null \
        || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    fi
    psql_admin() { as_owner "$PGBIN/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtAX "$@"; }
    [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='claude_user'")" = 1 ] \
      || psql_admin -c "CREATE ROLE claude_user LOGIN SUPERUSER"
    [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='claude_auth'")" = 1 ] \
      || psql_admin -c "CREATE DATABASE claude_auth OWNER claude_user"
    url
    ;;
  stop)
    [ -f "$dir/pgdata/PG_VERSION" ] || exit 0
    as_owner "$PGBIN/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  url) url ;;
  *) echo "usage: pg-cluster.sh start|stop|url DIR [PORT]" >&2; exit 2 ;;
esac
