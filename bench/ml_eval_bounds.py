#!/usr/bin/env python3
"""How far issue 16's targets are from what the data of a family member allow.

Two reference estimators that are told part of the truth (they read truth.json, as only score.py
and the baselines' oracle row do), so no method that has to find it out can be expected to beat
them by much:

- drifting pairs: for every pair whose agent drifts, the oracle knows THAT it drifts, the day the
  drift starts and its shape (ramp or step); it estimates only the level and the size of the
  change from the pair's training rows (binomial logistic fit, plain and with a ridge of 1 on the
  change). Its success MAE at the end against the target (<= 0.85 x the best baseline).
- recommendations: every pair's training rows are redrawn as if its success probability had
  always been the true one at the end (no drift, no hour, load or team effects: only the
  sampling noise of the pair's own count); agents are ranked by those rates (Jeffreys). Its
  top-1 and NDCG@3 (mean of 40 draws) against the targets (best baseline + 0.10 / + 0.08).
  Pooling across agents and task types can do somewhat better than these unpooled rates; what
  it shows is how much of the ranking is decided by the noise of a few dozen runs per pair.

usage: bench/ml_eval_bounds.py --dir DIR [--kit ../shared/ml-eval] N [N ...]
DIR holds famN/ (gen.py --family N) and famN-baselines.json (baselines.py), as
bench/ml-eval-family.sh leaves them.
"""
import argparse
import importlib.util
import json
import os

import numpy as np
import pandas as pd
from scipy.special import expit


def fit_logit(X, s, n, ridge):
    """Binomial logistic regression on binned counts (Newton), ridge on all but the intercept."""
    k = X.shape[1]
    b = np.zeros(k)
    b[0] = np.log((s.sum() + 0.5) / (n.sum() - s.sum() + 0.5))
    R = ridge * np.diag(np.r_[0.0, np.ones(k - 1)])
    for _ in range(50):
        p = expit(X @ b)
        g = X.T @ (s - n * p) - R @ b
        H = (X * (n * p * (1 - p))[:, None]).T @ X + R + 1e-9 * np.eye(k)
        step = np.linalg.solve(H, g)
        b += step
        if np.abs(step).max() < 1e-8:
            break
    return b


def best_baseline(methods, section, key, higher):
    vals = [m["scores"][section][key] for name, m in methods.items()
            if not name.startswith("oracle") and (m.get("scores") or {}).get(section)
            and m["scores"][section].get(key) is not None]
    return (max if higher else min)(vals)


def drifting_oracle(d, truth, meta):
    E = pd.read_csv(os.path.join(d, "executions.csv"), usecols=["agent_name", "task_type", "success", "timestamp"])
    E = E.iloc[: meta["n_train"]]
    t = pd.to_datetime(E.timestamp).astype("datetime64[ns, UTC]").astype("int64") / 86400e9
    day = (t - np.floor(t.min())).to_numpy()
    y = E.success.astype(str).str.lower().eq("true").to_numpy().astype(float)
    key = (E.agent_name + "|" + E.task_type).to_numpy()
    rows = pd.Series(np.arange(len(E))).groupby(key).apply(np.array)
    nb = int(np.ceil(day.max())) + 1
    errs = {"ml": [], "ridge": []}
    for p in truth["pairs"]:
        drift = p["drift"]
        if not drift or p["n_train"] < 1:
            continue
        idx = rows.get(p["agent_name"] + "|" + p["task_type"])
        b = day[idx].astype(int)
        n = np.bincount(b, minlength=nb).astype(float)
        s = np.bincount(b, weights=y[idx], minlength=nb)
        m = n > 0
        x, n, s = np.arange(nb)[m] + 0.5, n[m], s[m]
        t0 = drift["start_day"]
        f = np.clip((x - t0) / (meta["days"] - t0), 0, 1) if drift["shape"] == "ramp" else (x >= t0).astype(float)
        for name, ridge in (("ml", 1e-3), ("ridge", 1.0)):
            c = fit_logit(np.c_[np.ones_like(x), f], s, n, ridge)
            errs[name].append(abs(expit(c[0] + c[1]) - p["success_prob_end"]))   # full change at the end
    return {k: float(np.mean(v)) for k, v in errs.items()}


def ranking_oracle(S, d, draws=40):
    D = S.Dataset(d)
    P = pd.DataFrame(D.truth["pairs"]).set_index(["agent_name", "task_type"])
    rng = np.random.default_rng(1)
    top1, ndcg = [], []
    for _ in range(draws):
        recs = []
        for tt, info in D.truth["best_agents"].items():
            cands = info["ranking"]
            rates = []
            for a in cands:
                q = P.loc[(a, tt)]
                n = int(q.n_train)
                rates.append((rng.binomial(n, q.success_prob_end) + 0.5) / (n + 1))
            recs.append(dict(kind="recommendation", task_type=tt, ranking=[cands[i] for i in np.argsort(-np.array(rates))]))
        r = S.score_recommendations(D, recs)
        top1.append(r["top1_accuracy"])
        ndcg.append(r["ndcg_at_3"])
    return float(np.mean(top1)), float(np.mean(ndcg))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--kit", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "ml-eval"))
    ap.add_argument("members", nargs="+")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("score", os.path.join(args.kit, "score.py"))
    S = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(S)
    print("| member | drifting MAE: best baseline / target | oracle (ML / ridge) | top-1: best / target | "
          "stationary oracle | NDCG@3: best / target | stationary oracle |")
    print("|---|---|---|---|---|---|---|")
    for m in args.members:
        d = os.path.join(args.dir, "fam%s" % m)
        meta = json.load(open(os.path.join(d, "meta.json")))
        truth = json.load(open(os.path.join(d, "truth.json")))
        methods = json.load(open(d + "-baselines.json"))["methods"]
        bd = best_baseline(methods, "pairs_vs_truth", "success_mae_drifting", False)
        bt = best_baseline(methods, "recommendation", "top1_accuracy", True)
        bn = best_baseline(methods, "recommendation", "ndcg_at_3", True)
        od = drifting_oracle(d, truth, meta)
        ot, on = ranking_oracle(S, d)
        mark = lambda ok: "" if ok else " ✗"
        print("| fam%s | %.4f / %.4f | %.4f%s / %.4f%s | %.3f / %.3f | %.3f%s | %.3f / %.3f | %.3f%s |" % (
            m, bd, 0.85 * bd, od["ml"], mark(od["ml"] <= 0.85 * bd), od["ridge"], mark(od["ridge"] <= 0.85 * bd),
            bt, bt + 0.10, ot, mark(ot >= bt + 0.10), bn, bn + 0.08, on, mark(on >= bn + 0.08)))


if __name__ == "__main__":
    main()
