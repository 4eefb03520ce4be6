"""Derives a robustness variant of an ml-eval data directory: drops a random fraction of the agents
with all their rows, renumbers the rows, and filters the truth the same way (pairs, rankings,
synergy pairs, anomaly and error rows). The scorer then runs unchanged on the variant, so the
evaluation shows whether the scores hold on a workload the defaults were not tuned on.

  python bench/ml_eval_variant.py --data ../shared/ml-eval/dev --out DIR [--drop 0.3] [--seed 7]

Copies score.py beside the variant (bench/ml-eval.sh runs $(dirname DATA)/score.py). Only this
script and the scorer read truth files; the Swift code and the service never do.
"""
import argparse
import csv
import json
import os
import random
import shutil


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="directory to create; the variant goes to OUT/data")
    ap.add_argument("--drop", type=float, default=0.3, help="fraction of agents removed")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    src, dst = args.data, os.path.join(args.out, "data")
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(src)), "score.py"), os.path.join(args.out, "score.py"))
    meta = json.load(open(os.path.join(src, "meta.json")))
    truth = json.load(open(os.path.join(src, "truth.json")))
    agents = sorted(a["agent_name"] for a in truth["agents"])
    rng = random.Random(args.seed)
    dropped = set(rng.sample(agents, int(round(len(agents) * args.drop))))
    keep = lambda name: name not in dropped

    # executions.csv and truth_rows.csv: keep the rows of kept agents, renumber.
    new_id = {}
    with open(os.path.join(src, "executions.csv"), newline="") as f, \
            open(os.path.join(dst, "executions.csv"), "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
        header = next(r)
        w.writerow(header)
        ai = header.index("agent_name")
        for old, row in enumerate(r):
            if keep(row[ai]):
                new_id[old] = len(new_id)
                w.writerow(row)
    # Files keyed by row_id keep the rows that survived, renumbered.
    for name in ("truth_rows.csv", "test_queries.csv"):
        with open(os.path.join(src, name), newline="") as f, open(os.path.join(dst, name), "w", newline="") as g:
            r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
            header = next(r)
            w.writerow(header)
            ri = header.index("row_id")
            for row in r:
                old = int(row[ri])
                if old in new_id:
                    row[ri] = str(new_id[old])
                    w.writerow(row)
    n_train = sum(1 for old in new_id if old < meta["n_train"])
    meta["n_train"], meta["n_test"] = n_train, len(new_id) - n_train
    meta["rows"] = len(new_id)
    meta["variant"] = {"derived_from": meta.get("profile"), "dropped_agents": sorted(dropped), "seed": args.seed}
    json.dump(meta, open(os.path.join(dst, "meta.json"), "w"), indent=1)

    # truth.json: the same filter.
    truth["agents"] = [a for a in truth["agents"] if keep(a["agent_name"])]
    truth["pairs"] = [p for p in truth["pairs"] if keep(p["agent_name"])]
    best = {}
    for tt, info in truth["best_agents"].items():
        ranked = [(a, p) for a, p in zip(info["ranking"], info.get("ranking_success_prob", [None] * len(info["ranking"])))
                  if keep(a)]
        if not ranked:
            continue
        info["ranking"] = [a for a, _ in ranked]
        if "ranking_success_prob" in info:
            info["ranking_success_prob"] = [p for _, p in ranked]
        info["best_agent"] = ranked[0][0]
        for k in ("ranking_all_eligible", "ranking_by_mean_time"):
            if k in info:
                info[k] = [a for a in info[k] if keep(a)]
        best[tt] = info
    truth["best_agents"] = best
    for k in ("positive", "negative", "decoy"):
        truth["synergy"][k] = [s for s in truth["synergy"][k] if all(keep(a) for a in s["agents"])]
    rows = truth.get("anomalies", {}).get("rows")
    if isinstance(rows, dict):
        truth["anomalies"]["rows"] = {k: [new_id[i] for i in v if i in new_id] for k, v in rows.items()}
    json.dump(truth, open(os.path.join(dst, "truth.json"), "w"))
    print(f"variant in {dst}: dropped {len(dropped)} of {len(agents)} agents; {len(new_id)} rows "
          f"({n_train} train); {len(best)} ranked task types; synergy pairs "
          f"{len(truth['synergy']['positive'])} good, {len(truth['synergy']['negative'])} bad")


if __name__ == "__main__":
    main()
