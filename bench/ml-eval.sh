#!/usr/bin/env bash
# ML evaluation: runs the ../shared/ml-eval protocol through LearningML and scores it.
# usage: bench/ml-eval.sh [data-dir]   (default ../shared/ml-eval/dev, relative to the repo)
# Phase 1 feeds rows 0..n_train-1 of executions.csv (retrain with now = split_timestamp) and
# exports pair/row/recommendation/synergy/schedule/resource records forecast for `end`; phase 2
# observes the remaining rows online and exports anomaly and error_group records. The engine is
# fed directly from the CSV for now (Sources/LearningEval); score.py alone reads the truth.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/ml-eval/dev}"
OUT="${ML_EVAL_OUT:-.build/ml-eval}"
mkdir -p "$OUT"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import numpy, pandas, scipy, sklearn" 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  .venv/bin/pip install -q --disable-pip-version-check numpy==2.4.6 pandas==3.1.1 scipy==1.17.1 scikit-learn==1.9.1 >&2
fi
swift build -c release --product LearningEval >&2
.build/release/LearningEval "$DATA" "$OUT/predictions.jsonl"
.venv/bin/python "$(dirname "$DATA")/score.py" --data "$DATA" --pred "$OUT/predictions.jsonl" --json "$OUT/scores.json"
