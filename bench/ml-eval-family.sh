#!/usr/bin/env bash
# Issue 16, point 4: the learning layer across the workload family. For each member N
# (../shared/ml-eval/gen.py --family N), runs the service's evaluation (bench/ml-eval.sh, through
# the service; --direct: the engine alone) and the scikit-learn baselines (baselines.py), then
# writes a table of every score per member with the best baseline beside it, the mean over the
# members and the worst member (bench/ml_eval_family.py).
# usage: bench/ml-eval-family.sh [--direct] [N ...]        (default members: 1 2 3 4 5 6 7 8)
# ML_EVAL_FAMILY_DIR (default .build/ml-eval-family) keeps each member's data, baselines and scores;
# the data and the baselines are deterministic per member and reused when present (delete them to
# redo), the service's scores are always measured again. ML_EVAL_KIT: the kit (../shared/ml-eval).
# ML_EVAL_PG_PORT / ML_EVAL_API_PORT / ML_EVAL_SERVER as for bench/ml-eval.sh. ML_EVAL_FAST_BASELINES=1
# runs bench/ml_eval_fast_baselines.py (baselines.py without gradient boosting and random forest:
# ~40 s a member) for members without a full baselines file. Output: DIR/table.md, DIR/table.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DIRECT=()
if [ "${1:-}" = "--direct" ]; then DIRECT=(--direct); shift; fi
MEMBERS=("$@")
[ ${#MEMBERS[@]} -gt 0 ] || MEMBERS=(1 2 3 4 5 6 7 8)
DIR="${ML_EVAL_FAMILY_DIR:-.build/ml-eval-family}"
KIT="${ML_EVAL_KIT:-../shared/ml-eval}"
mkdir -p "$DIR"
cp "$KIT/score.py" "$DIR/score.py"   # bench/ml-eval.sh runs $(dirname DATA)/score.py
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import numpy, pandas, scipy, sklearn" 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  .venv/bin/pip install -q --disable-pip-version-check numpy==2.4.6 pandas==3.1.1 scipy==1.17.1 scikit-learn==1.9.1 >&2
fi
for n in "${MEMBERS[@]}"; do
  m="$DIR/fam$n"
  if [ ! -f "$m/meta.json" ]; then
    echo "== member $n: generating" >&2
    .venv/bin/python "$KIT/gen.py" --family "$n" --out "$m" >&2
  fi
  if [ -n "${ML_EVAL_FAST_BASELINES:-}" ]; then
    if [ ! -f "$m-baselines.json" ] && [ ! -f "$m-baselines-fast.json" ]; then
      echo "== member $n: scikit-learn baselines without gradient boosting and random forest" >&2
      .venv/bin/python bench/ml_eval_fast_baselines.py --kit "$KIT" --data "$m" --out "$m-baselines-fast.json" >&2
    fi
  elif [ ! -f "$m-baselines.json" ]; then
    echo "== member $n: scikit-learn baselines" >&2
    # One OpenMP thread: on 2 shared cores under load, gradient boosting's two spinning threads
    # took 14 minutes for one fit (one thread: about a minute). The scores do not depend on it.
    OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" .venv/bin/python "$KIT/baselines.py" --data "$m" --variant "fam$n" \
      --preds "$m-baseline-preds" --out "$m-baselines.json" >&2
  fi
  echo "== member $n: the service's evaluation ${DIRECT[*]}" >&2
  ML_EVAL_OUT="$m-service" bench/ml-eval.sh "${DIRECT[@]}" "$m" >&2
done
.venv/bin/python bench/ml_eval_family.py --dir "$DIR" --json "$DIR/table.json" "${MEMBERS[@]}" | tee "$DIR/table.md"
