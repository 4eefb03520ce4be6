#!/usr/bin/env bash
# The Python test peers: a virtualenv in .venv/ with real gRPC clients (grpcio, its health-checking
# and reflection clients), asyncpg for the guide's direct-database integration, pytest; and Python
# stubs generated from Protos/ into .venv/gen. Idempotent; prints the python path.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(grpcio==1.85.3 grpcio-tools==1.85.1 protobuf==7.36.2 grpcio-health-checking==1.85.1
      grpcio-reflection==1.85.1 asyncpg==0.32.0 pytest==9.2.0)
stamp=".venv/.installed-$(echo "${PKGS[*]}" | md5sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  .venv/bin/pip install -q --disable-pip-version-check "${PKGS[@]}" >&2
  touch "$stamp"
fi
mkdir -p .venv/gen
.venv/bin/python -m grpc_tools.protoc -I Protos -I /usr/share/grpc-proto -I /usr/include \
  --python_out=.venv/gen --grpc_python_out=.venv/gen \
  $(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort) >&2
echo "$(pwd)/.venv/bin/python"
