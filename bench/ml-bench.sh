#!/usr/bin/env bash
# LearningML micro-benchmarks: retrain time over 200,000 executions, prediction and observe cost,
# memory per pair, model size. usage: bench/ml-bench.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product MLBench >&2
echo "machine: $(nproc) cores, $(uname -sr)"
.build/release/MLBench "${1:-200000}"
