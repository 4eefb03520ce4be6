#!/bin/sh
# The stand-in PostgreSQL image's entry point (docker/standin/postgres.Dockerfile), after the
# official image's: on an empty data folder, initdb with POSTGRES_USER as the superuser and
# POSTGRES_PASSWORD (scram-sha-256 over TCP, trust on the local socket), then create POSTGRES_DB;
# then run the server as the postgres user in the foreground, listening on every address.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
  echo "postgres-entrypoint: POSTGRES_PASSWORD must be set" >&2
  exit 1
fi
as_postgres() { "$@"; }
if [ "$(id -u)" = 0 ]; then
  # A named volume may arrive owned by root: hand it to postgres, as the official image does,
  # and run everything below as postgres.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  chown postgres "$pwfile" 2>/dev/null || true
  as_postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Create the database on a server that listens on the socket only, then stop it.
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$POSTGRES_DB" != postgres ]; then
    as_postgres psql -v ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
      -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
  fi
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: initialised $PGDATA (database $POSTGRES_DB, user $POSTGRES_USER)"
fi

if [ "$1" = postgres ]; then
  shift
  set -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
  [ "$(id -u)" != 0 ] || set -- setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
