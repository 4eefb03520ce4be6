#!/usr/bin/env bash
# What decoding an ingest request costs in memory against the request's size (#19's target:
# <= 4x): gRPC LogExecutions and REST POST /executions/batch of worst-case shapes (many tiny
# executions, many short strings, map entries, empty messages) and of the guide's execution,
# through the handlers the server registers, with the allocator counted (DecodeBench, release).
# usage: bench/decode-cost.sh [counts] [repeats]   (default 100,1000,10000 executions; 5 repeats)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product DecodeBench >&2
BIN=$(swift build -c release --show-bin-path)
echo "date: $(date -Is); host: $(uname -srm); cpus: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); commit: $(git rev-parse --short HEAD)"
echo "command: bench/decode-cost.sh ${1:-100,1000,10000} ${2:-5}"
"$BIN/DecodeBench" "${1:-100,1000,10000}" "${2:-5}"
