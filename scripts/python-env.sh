#!/usr/bin/env bash
# The Python test peers: a virtualenv in .venv/ with real gRPC clients (grpcio, its health-checking
# and reflection clients), asyncpg for the guide's direct-database integration, pytest; and Python
# stubs generated from Protos/ into .venv/gen. Idempotent; prints the python path.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(grpcio==1.85.3 grpcio-tools==1.85.1 protobuf==7.36.2 grpcio-health-checking==1.85.1
      grpcio-reflection==1.85.1 asyncpg==0.32.0 pytest==9.2.0)
scripts/venv-install.sh "${PKGS[@]}"
mkdir -p .venv/gen
mapfile -t protos < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)
.venv/bin/python -m grpc_tools.protoc -I Protos -I /usr/share/grpc-proto -I /usr/include \
  --python_out=.venv/gen --grpc_python_out=.venv/gen "${protos[@]}" >&2
echo "$(pwd)/.venv/bin/python"
