"""ML evaluation through the service's own gRPC API (a third-party client: grpcio + generated stubs).

Runs the protocol of ../shared/ml-eval/README.md against a running learning-server and writes the
scorer's JSONL. It reads executions.csv, test_queries.csv and meta.json only (never the truth).

  python bench/ml_eval_service.py --target 127.0.0.1:PORT --data DIR --out predictions.jsonl

Phase 1: IngestExecutions (bidirectional, event_id = row_id, the acks give each row's stored id) for
rows 0..n_train-1; wait until GetPerformanceAnalytics counts them; Retrain(as_of = split_timestamp);
PredictPerformance (at = end) per seen pair -> pair + resource records; per test row (at = its
timestamp, hour) -> row records; GetRecommendations (at = end, limit = all) -> recommendation
records; GetPatterns -> synergy (z-score) and schedule records.
Phase 2: ingest the remaining rows the same way, wait until the service holds all rows and the
anomaly list is stable, GetAnomalies per agent -> anomaly records (every id of execution_ids -> row_id
via the acks); GetErrorSignatures for the error message of every failed row -> error_group records.
Timings go to stderr and, with --timings FILE, to a JSON file.
"""
import argparse
import csv
import json
import sys
import time
from datetime import datetime, timezone

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from learning.v1 import learning_pb2 as pb
from learning.v1 import learning_pb2_grpc as rpc


def parse_ts(s):
    return datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z" if "." in s else "%Y-%m-%dT%H:%M:%S%z")


def ts(dt):
    t = Timestamp()
    t.FromDatetime(dt.astimezone(timezone.utc).replace(tzinfo=None))
    return t


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_rows(path):
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(r)
    return rows


def execution(row_id, r):
    e = pb.Execution(agent_name=r["agent_name"], task_id=r["task_id"], task_type=r["task_type"],
                     success=r["success"] == "true", error_message=r["error_message"], event_id=str(row_id))
    if r["execution_time"] != "":
        e.execution_time = float(r["execution_time"])
    if r["resource_usage"]:
        u = json.loads(r["resource_usage"])
        for k in ("cpu", "memory_mb", "tokens"):
            if u.get(k) is not None:
                setattr(e.resource_usage, k, float(u[k]))
    e.timestamp.CopyFrom(ts(parse_ts(r["timestamp"])))
    return e


def ingest(stub, rows, first, last, ids):
    """Streams rows first..last-1 through IngestExecutions; records stored id -> row id."""
    def requests():
        for i in range(first, last):
            yield execution(i, rows[i])
    t0 = time.monotonic()
    n = 0
    for ack in stub.IngestExecutions(requests()):
        ids[ack.id] = first + ack.sequence
        n += 1
    dt = time.monotonic() - t0
    if n != last - first:
        raise SystemExit(f"ingest: {n} acks for {last - first} rows")
    return dt


def wait_for(stub, total, what, timeout=600):
    t0 = time.monotonic()
    while True:
        held = stub.GetPerformanceAnalytics(pb.GetPerformanceAnalyticsRequest(window_hours=0)).total_executions
        if held >= total:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"{what}: the service holds {held} of {total} executions after {timeout} s")
        time.sleep(0.2)


def all_anomalies(stub, agents):
    out = []
    for a in sorted(agents):
        got = stub.GetAnomalies(pb.GetAnomaliesRequest(agent_name=a, limit=1000)).anomalies
        if len(got) >= 1000:
            log(f"warning: agent {a} has 1000+ anomalies; only the newest 1000 are read")
        out.extend(got)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timings")
    ap.add_argument("--retrain-every-hours", type=float, default=24.0,
                    help="emulated scheduled retrains during phase 1, in hours of data (0: none)")
    args = ap.parse_args()

    meta = json.load(open(f"{args.data}/meta.json"))
    split, end = parse_ts(meta["split_timestamp"]), parse_ts(meta["end"])
    rows = read_rows(f"{args.data}/executions.csv")
    queries = read_rows(f"{args.data}/test_queries.csv")
    n_train = min(meta["n_train"], len(rows))
    timings = {"rows": len(rows), "n_train": n_train}

    channel = grpc.insecure_channel(args.target, options=[("grpc.max_receive_message_length", 64 << 20)])
    grpc.channel_ready_future(channel).result(timeout=60)
    stub = rpc.LearningSystemStub(channel)
    ids = {}  # stored execution id -> row id
    out = []

    # Phase 1: learn and predict. The running service retrains every ml.model_update_frequency
    # seconds; on a replayed log the clock is the data's, so the scheduled retrains are emulated:
    # after each --retrain-every-hours of data, Retrain(as_of = the end of that slice). The online
    # anomaly detector then works from trained baselines, as it would in production.
    slices = []
    step = args.retrain_every_hours * 3600
    first = 0
    start = parse_ts(rows[0]["timestamp"]).timestamp()
    boundary = start + step
    for i in range(n_train if step > 0 else 0):
        if parse_ts(rows[i]["timestamp"]).timestamp() >= boundary:
            slices.append((first, i, boundary))
            first = i
            while parse_ts(rows[i]["timestamp"]).timestamp() >= boundary:
                boundary += step
    slices.append((first, n_train, None))
    timings["ingest_phase1_s"] = 0.0
    timings["scheduled_retrains"] = 0
    timings["scheduled_retrain_s"] = 0.0
    for lo, hi, until in slices:
        timings["ingest_phase1_s"] += ingest(stub, rows, lo, hi, ids)
        if until is not None and step > 0:
            wait_for(stub, hi, "phase 1 slice")
            t0 = time.monotonic()
            stub.Retrain(pb.RetrainRequest(as_of=ts(datetime.fromtimestamp(until, timezone.utc))))
            timings["scheduled_retrain_s"] += time.monotonic() - t0
            timings["scheduled_retrains"] += 1
    timings["wait_phase1_s"] = wait_for(stub, n_train, "phase 1")
    t0 = time.monotonic()
    retrained = stub.Retrain(pb.RetrainRequest(as_of=ts(split)))
    timings["retrain_call_s"] = time.monotonic() - t0
    timings["retrain_training_time_s"] = retrained.training_time
    timings["retrain_trained_on"] = retrained.trained_on_executions
    log(f"phase 1: {timings['scheduled_retrains']} scheduled retrains ({timings['scheduled_retrain_s']:.1f} s); "
        f"ingested {n_train} rows in {timings['ingest_phase1_s']:.1f} s "
        f"({n_train / timings['ingest_phase1_s']:.0f} rows/s); retrain as of {meta['split_timestamp']} on "
        f"{retrained.trained_on_executions} executions: {retrained.training_time:.3f} s training, "
        f"{timings['retrain_call_s']:.3f} s call")

    t0 = time.monotonic()
    pairs, task_types, agents = [], [], set()
    seen = set()
    for r in rows[:n_train]:
        agents.add(r["agent_name"])
        key = (r["agent_name"], r["task_type"])
        if key not in seen:
            seen.add(key)
            pairs.append(key)
            if r["task_type"] not in task_types:
                task_types.append(r["task_type"])
    at_end = ts(end)
    futures = [stub.PredictPerformance.future(pb.PredictPerformanceRequest(agent_name=a, task_type=t, at=at_end))
               for a, t in pairs]
    for (a, t), f in zip(pairs, futures):
        p = f.result()
        out.append({"kind": "pair", "agent_name": a, "task_type": t, "predicted_execution_time": p.execution_time,
                    "predicted_median_execution_time": p.median_execution_time,
                    "predicted_success_rate": p.success_rate, "confidence": p.confidence})
        if p.HasField("resources"):
            out.append({"kind": "resource", "agent_name": a, "task_type": t, "memory_mb": p.resources.memory_mb,
                        "cpu": p.resources.cpu, "tokens": p.resources.tokens})
    chunk = 256
    for s in range(0, len(queries), chunk):
        batch = queries[s:s + chunk]
        fs = []
        for q in batch:
            when = parse_ts(q["timestamp"])
            fs.append(stub.PredictPerformance.future(pb.PredictPerformanceRequest(
                agent_name=q["agent_name"], task_type=q["task_type"], at=ts(when), hour=when.hour)))
        for q, f in zip(batch, fs):
            p = f.result()
            out.append({"kind": "row", "row_id": int(q["row_id"]), "predicted_execution_time": p.median_execution_time,
                        "predicted_success_rate": p.success_rate, "interval_low": p.interval_low,
                        "interval_high": p.interval_high})
    for t in task_types:
        rec = stub.GetRecommendations(pb.GetRecommendationsRequest(task_type=t, limit=100, at=at_end))
        out.append({"kind": "recommendation", "task_type": t,
                    "ranking": [r.agent_name for r in rec.recommendations]})
    patterns = stub.GetPatterns(pb.GetPatternsRequest(kinds=["collaboration", "performance"]))
    for c in patterns.collaboration:
        out.append({"kind": "synergy", "agents": list(c.agents), "score": c.z_score})
    for s in patterns.performance:
        out.append({"kind": "schedule", "task_type": s.task_type, "best_hour": s.best_hour})
    timings["queries_phase1_s"] = time.monotonic() - t0
    log(f"phase 1 queries: {len(pairs)} pairs, {len(queries)} rows, {len(task_types)} rankings, "
        f"{len(patterns.collaboration)} collaboration patterns in {timings['queries_phase1_s']:.1f} s")

    # Phase 2: detect.
    timings["ingest_phase2_s"] = ingest(stub, rows, n_train, len(rows), ids)
    timings["wait_phase2_s"] = wait_for(stub, len(rows), "phase 2")
    for r in rows[n_train:]:
        agents.add(r["agent_name"])
    t0 = time.monotonic()
    previous = -1
    while True:  # anomalies are stored asynchronously after the write: wait until the list is stable
        anomalies = all_anomalies(stub, agents)
        if len(anomalies) == previous:
            break
        previous = len(anomalies)
        time.sleep(1.0)
    flagged = set()
    unmapped = 0
    kinds = {}
    for a in anomalies:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
        # Every execution the anomaly covers (a failure burst spans several failed runs).
        for eid in (list(a.execution_ids) or [a.execution_id]):
            row = ids.get(eid)
            if row is None:
                unmapped += 1
            else:
                flagged.add(row)
    for row in sorted(flagged):
        out.append({"kind": "anomaly", "row_id": row, "is_anomaly": True})
    if not flagged:
        out.append({"kind": "anomaly_none"})
    failed = [i for i, r in enumerate(rows) if r["success"] != "true"]
    messages = sorted({rows[i]["error_message"] for i in failed})
    signature = {}
    for s in range(0, len(messages), 10_000):
        batch = messages[s:s + 10_000]
        got = stub.GetErrorSignatures(pb.GetErrorSignaturesRequest(error_messages=batch)).signatures
        signature.update(zip(batch, got))
    for i in failed:
        out.append({"kind": "error_group", "row_id": i, "signature": signature[rows[i]["error_message"]]})
    timings["queries_phase2_s"] = time.monotonic() - t0
    log(f"phase 2: ingested {len(rows) - n_train} rows in {timings['ingest_phase2_s']:.1f} s; "
        f"{len(anomalies)} anomalies {sorted(kinds.items())} ({unmapped} not mapped to a row), "
        f"{len(flagged)} rows flagged; {len(messages)} distinct error messages of {len(failed)} failed rows")

    with open(args.out, "w") as f:
        for r in out:
            f.write(json.dumps(r) + "\n")
    log(f"wrote {len(out)} records to {args.out}")
    if args.timings:
        json.dump(timings, open(args.timings, "w"), indent=1)


if __name__ == "__main__":
    main()
