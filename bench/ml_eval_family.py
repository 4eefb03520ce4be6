"""The table of bench/ml-eval-family.sh: every score of the service on each family member with the
best scikit-learn baseline of that member beside it, the mean over the members and the worst
member, judged against issue 16's targets.

  python bench/ml_eval_family.py --dir DIR [--json OUT] N [N ...]

Reads DIR/famN-service/scores.json (score.py's output for the service's predictions) and
DIR/famN-baselines.json (baselines.py's results). The best baseline of a score is the best over
every method of baselines.py except the oracle (the truth itself); its name is shown.
"""
import argparse
import json
import os


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


# name, path in score.py's output, higher is better, target (kind, value):
#   ("abs", m): at least the best baseline + m (higher) | ("ratio", r): at most r x the best baseline
#   ("range", (lo, hi)): within [lo, hi] (the baseline is shown but not the bar)
#   ("floor", x): at least x and at least the best baseline
SCORES = [
    ("recommendation top-1", "recommendation.top1_accuracy", True, ("abs", 0.10)),
    ("recommendation NDCG@3", "recommendation.ndcg_at_3", True, ("abs", 0.08)),
    ("success MAE, drifting pairs", "pairs_vs_truth.success_mae_drifting", False, ("ratio", 0.85)),
    ("success MAE per pair", "pairs_vs_truth.success_mae_end", False, ("ratio", 0.90)),
    ("median time, log-MAE per pair", "pairs_vs_truth.time_median_log_mae_end", False, ("ratio", 1.0)),
    ("mean time, MAPE per pair", "pairs_vs_truth.time_mean_mape_end", False, ("ratio", 1.0)),
    ("test rows, Brier", "test_rows.success_brier", False, ("ratio", 1.0)),
    ("test rows, log-MAE of time", "test_rows.time_mae_log", False, ("ratio", 1.0)),
    ("80% interval coverage", "test_rows.interval80_coverage", True, ("range", (0.78, 0.82))),
    ("anomaly F1", "anomaly.f1", True, ("floor", 0.75)),
    # Recall alone would crown a detector that flags everything: beside it, the recall of the
    # baseline with the best anomaly F1, and the target is the absolute one.
    ("latency-spike recall", "anomaly.recall_by_kind.latency_spike", True, ("at_least", 0.60)),
    ("synergy AP", "synergy.positive.average_precision", True, ("abs", 0.0)),
    ("error grouping, ARI", "error_groups.adjusted_rand", True, ("abs", 0.0)),
]


def best_baseline(results, path, higher):
    if path == "anomaly.recall_by_kind.latency_spike":
        f1 = best_baseline(results, "anomaly.f1", True)
        return (get(results[f1[1]]["scores"], path), f1[1]) if f1 else None
    best = None
    for name, r in results.items():
        if name.startswith("oracle"):
            continue
        v = get(r.get("scores", {}), path)
        if v is None:
            continue
        if best is None or (v > best[0] if higher else v < best[0]):
            best = (v, name)
    return best


def meets(kind, bar, higher, value, base):
    if value is None:
        return False
    if kind == "range":
        return bar[0] <= value <= bar[1]
    if kind == "at_least":
        return value >= bar
    if base is None:
        return False
    if kind == "abs":
        return value >= base + bar
    if kind == "ratio":
        return value <= base * bar
    if kind == "floor":
        return value >= bar and (value >= base if higher else value <= base)
    raise ValueError(kind)


def margin(kind, bar, higher, value, base):
    """How far past its target a score is (positive = met), to find the worst member."""
    if value is None:
        return float("-inf")
    if kind == "range":
        return min(value - bar[0], bar[1] - value)
    if kind == "at_least":
        return value - bar
    if kind == "abs":
        return value - (base + bar) if base is not None else 0.0
    if kind == "ratio":
        return (base * bar - value) / max(base, 1e-12) if base is not None else 0.0
    if kind == "floor":
        own = value - bar
        vs = (value - base if higher else base - value) if base is not None else own
        return min(own, vs)
    raise ValueError(kind)


def target_text(kind, bar):
    return {"abs": lambda: ">= best + %.2f" % bar if bar else ">= best",
            "ratio": lambda: "<= %.2f x best" % bar if bar != 1.0 else "<= best",
            "range": lambda: "%.2f-%.2f" % bar,
            "at_least": lambda: ">= %.2f; beside it the best-F1 baseline's" % bar,
            "floor": lambda: ">= %.2f and >= best" % bar}[kind]()


def fmt(v):
    return "—" if v is None else ("%.4f" % v if abs(v) < 10 else "%.1f" % v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--json")
    ap.add_argument("members", nargs="+")
    args = ap.parse_args()
    rows, sources = {}, {}
    for n in args.members:
        svc = json.load(open(os.path.join(args.dir, "fam%s-service" % n, "scores.json")))
        # baselines.py's results, or else bench/ml_eval_fast_baselines.py's (all but the gradient-
        # boosting and random-forest methods); a member with neither shows "—".
        full = os.path.join(args.dir, "fam%s-baselines.json" % n)
        fast = os.path.join(args.dir, "fam%s-baselines-fast.json" % n)
        path = full if os.path.exists(full) else fast if os.path.exists(fast) else None
        base = json.load(open(path)) if path else {}
        base = base.get("methods", base.get("results", base))
        sources[n] = "full" if path == full else "fast" if path else "none"
        rows[n] = (svc, base)
    out = {"members": args.members, "scores": {}}
    out["baselines"] = sources
    lines = ["| score (target) | " + " | ".join("fam%s%s" % (n, "" if sources[n] == "full" else "*" if sources[n] == "fast" else "†")
                                                for n in args.members) + " | mean | worst member |",
             "|---|" + "---|" * (len(args.members) + 2)]
    met_all = 0
    for name, path, higher, (kind, bar) in SCORES:
        cells, vals, bases, margins = [], [], [], []
        entry = {}
        for n in args.members:
            svc, base = rows[n]
            v = get(svc, path)
            b = best_baseline(base, path, higher)
            bv = b[0] if b else None
            ok = meets(kind, bar, higher, v, bv)
            entry[n] = dict(service=v, best_baseline=bv, best_method=b[1] if b else None, met=ok)
            # Without a baseline only an absolute target can be judged (a floor's own bar, a range).
            judged = bv is not None or kind in ("range", "at_least") or (kind == "floor" and v is not None and v < bar)
            entry[n]["judged"] = judged
            cells.append("%s%s / %s" % ("**✗** " if judged and not ok else "", fmt(v), fmt(bv)))
            # The mean compares like with like: over the members with a baseline, when any has one.
            if v is not None:
                vals.append((v, bv is not None))
            if bv is not None:
                bases.append(bv)
            margins.append((margin(kind, bar, higher, v, bv), n))
        paired = [x for x, has in vals if has] if bases else [x for x, _ in vals]
        mv = sum(paired) / len(paired) if paired else None
        mb = sum(bases) / len(bases) if bases else None
        mean_ok = meets(kind, bar, higher, mv, mb)
        worst = min(margins)
        entry["mean"] = dict(service=mv, best_baseline=mb, met=mean_ok)
        entry["worst_member"] = worst[1]
        out["scores"][name] = entry
        met_all += sum(1 for n in args.members if entry[n]["met"])
        mean_judged = mb is not None or kind in ("range", "at_least") or (kind == "floor" and mv is not None and mv < bar)
        lines.append("| %s (%s) | %s | %s%s / %s | fam%s |" % (
            name, target_text(kind, bar), " | ".join(cells), "**✗** " if mean_judged and not mean_ok else "",
            fmt(mv), fmt(mb), worst[1]))
    lines.append("")
    judged = sum(1 for name in out["scores"] for n in args.members if out["scores"][name][n]["judged"])
    lines.append("Each cell: the service / the best scikit-learn baseline of that member (**✗**: the issue's "
                 "target not met; — : not measured; the mean is over the members with a baseline when any has one). %d of %d member scores with a baseline (or an absolute target) "
                 "meet their target." % (met_all, judged))
    if any(v == "fast" for v in sources.values()):
        lines.append("* baselines of bench/ml_eval_fast_baselines.py: every method of baselines.py but gradient boosting "
                     "and random forest.")
    if any(v == "none" for v in sources.values()):
        lines.append("† no baselines run for this member.")
    print("\n".join(lines))
    if args.json:
        json.dump(out, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
