"""The quick part of ../shared/ml-eval/baselines.py, for many family members when time is short:
every method of it except the gradient-boosting (hgb, hgb_plus_load_team) and random-forest ones
(~40 s a member; the full script with one OpenMP thread ~2.5 minutes, with two spinning threads on
2 shared cores under load 12 a single gradient-boosting fit took 14 minutes). Same functions, same
scorer, same results layout (its "methods"), so bench/ml_eval_family.py reads either and marks
which. The kit's README lists gradient boosting as the best baseline on dev only for test-row
log-MAE and interval coverage (and schedules, which need it).

  python bench/ml_eval_fast_baselines.py --kit ../shared/ml-eval --data DIR --out FILE.json
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kit", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sys.path.insert(0, args.kit)
    import baselines as B
    import numpy as np
    S = B.S
    B.REPEATS = 1
    t0 = time.perf_counter()
    c = B.load(args.data)
    D = S.Dataset(args.data, executions=c["E"][["agent_name", "task_type", "execution_time", "success"]])
    P = B.pair_index(c)
    results = {}

    def record(name, desc, recs, tm, extra_time=None):
        sc = S.score_records(D, recs)
        fit = tm.t.get("fit", 0.0) if extra_time is None else extra_time
        results[name] = dict(description=desc, fit_s=round(fit, 3), predict_s=round(tm.t.get("predict", 0.0), 3), scores=sc)
        print("%-40s fit %.2fs" % (name, fit), flush=True)

    te = np.where(c["te"])[0]
    tm = B.Timer()
    record("global_mean", "train mean time, train success rate", B.method_global(c, P, tm), tm)
    for stat in ("mean", "median"):
        tm = B.Timer()
        record("pair_" + stat, "per-(agent,task_type) train %s / success rate" % stat, B.method_pair_empirical(c, P, tm, stat), tm)
    tm = B.Timer()
    p_row, p_pair = B.method_logreg(c, P, tm)
    st, gk, glob = B.empirical_stats(c)
    med_pair = B.lookup(c, st, gk, glob, P["pa"], P["pk"], "median")
    mean_pair = B.lookup(c, st, gk, glob, P["pa"], P["pk"], "mean")
    recs = (B.pair_records(c, P, mean_pair, med_pair, p_pair) + B.row_records(
        c, B.lookup(c, st, gk, glob, c["a"][te], c["k"][te], "median"), p_row) + B.rec_records(c, P, p_pair))
    record("logreg", "LogisticRegression(C=1) on one-hot agent, task, (agent,task), hour + day", recs, tm)
    tm = B.Timer()
    record("eb_recency_reference", "NOT sklearn: recency-weighted per-pair estimates shrunk to an additive prior",
           B.method_eb_recency(c, P, tm), tm)
    tm = B.Timer()
    flags, timing = B.anomaly_methods(c, tm)
    for name, f in flags.items():
        recs = [dict(kind="anomaly", row_id=int(i), is_anomaly=True) for i in np.where(f)[0]] or [dict(kind="anomaly_none")]
        record("anomaly_" + name, "anomaly detector " + name, recs, B.Timer(), extra_time=timing[name])
    tm = B.Timer()
    syn, timing, ncand = B.synergy_methods(c, tm)
    for name, recs in syn.items():
        record("synergy_" + name, "synergy ranking " + name, recs, B.Timer(), extra_time=timing[name])
    failed = np.where(~c["y"])[0]
    msgs = c["E"]["error_message"].to_numpy()
    for name, fn in (("simple_normalizer", B.normalize_simple), ("simple_plus_quoted_normalizer", B.normalize_quoted)):
        tm = B.Timer()
        with tm("fit"):
            recs = [dict(kind="error_group", row_id=int(i), signature=fn(msgs[i])) for i in failed]
        record("errors_" + name, "normalised-signature grouping", recs, tm)
    info = dict(data=args.data, subset="baselines.py without hgb, hgb_plus_load_team, random_forest, schedules, resources",
                total_runtime_s=round(time.perf_counter() - t0, 1), loadavg_after=[round(x, 2) for x in os.getloadavg()],
                methods=results)
    with open(args.out, "w") as f:
        json.dump(info, f, indent=1)
    print("wrote %s (%.1fs)" % (args.out, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
