#!/usr/bin/env bash
# The Python test peers: a virtualenv in .venv/ with real gRPC clients (grpcio, its health-checking
# and reflection clients), asyncpg for the guide's direct-database integration, pytest, the
# OpenTelemetry SDK with its OTLP gRPC and HTTP exporters and Pydantic AI, an agent framework with
# its own GenAI instrumentation and an offline test model (OTLP ingest tests); and Python
# stubs generated from Protos/ into .venv/gen. Idempotent; prints the python path.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(grpcio==1.85.3 grpcio-tools==1.85.1 protobuf==7.36.2 grpcio-health-checking==1.85.1
      grpcio-reflection==1.85.1 asyncpg==0.32.0 pytest==9.2.0
      opentelemetry-api==1.45.2 opentelemetry-sdk==1.45.2 opentelemetry-proto==1.45.2
      opentelemetry-exporter-otlp-proto-grpc==1.45.2 opentelemetry-exporter-otlp-proto-http==1.45.2
      pydantic-ai-slim==2.78.0 h2==4.4.1)
scripts/venv-install.sh "${PKGS[@]}"
mkdir -p .venv/gen
# Only the service's own API: the OTLP messages under Protos/opentelemetry come from the
# OpenTelemetry SDK's own opentelemetry-proto package (stubs of our subset would clash with it).
mapfile -t protos < <(cd Protos && find learning -name '*.proto' | LC_ALL=C sort)
.venv/bin/python -m grpc_tools.protoc -I Protos -I /usr/share/grpc-proto -I /usr/include \
  --python_out=.venv/gen --grpc_python_out=.venv/gen "${protos[@]}" >&2
echo "$(pwd)/.venv/bin/python"
