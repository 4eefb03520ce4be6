"""grpcio helper for the service benchmarks (bench/service-*.sh): request body files for h2load,
seeding and retraining, an overload run and the fault drill's writer. Run with the project's .venv
python; the stubs come from .venv/gen (scripts/python-env.sh).

  body FILE KIND [--records N]            a gRPC-framed request body for h2load (KIND: health,
                                          log-one, log-batch, predict)
  seed TARGET --rows N                    LogExecutions for 3 agents x 2 task types, then Retrain
  overload TARGET --streams S --batch B --seconds T
                                          S concurrent LogExecutions callers that never back off;
                                          counts OK / RESOURCE_EXHAUSTED / other
  fault TARGET --total N --streams S --batch B --acked FILE [--unary]
                                          writes N records with event ids, retrying UNAVAILABLE and
                                          RESOURCE_EXHAUSTED with backoff; acknowledged ids go to FILE
                                          (--unary: one LogExecution per record, B ignored)
"""
import argparse
import os
import random
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv", "gen"))
import grpc  # noqa: E402
from learning.v1 import learning_pb2 as pb  # noqa: E402
from learning.v1 import learning_pb2_grpc as pbg  # noqa: E402

AGENTS = ["bench-coder", "bench-reviewer", "bench-tester"]
TASKS = ["code_review", "refactor"]


def execution(i, event_id=""):
    agent = AGENTS[i % len(AGENTS)]
    task = TASKS[(i // len(AGENTS)) % len(TASKS)]
    e = pb.Execution(agent_name=agent, task_id=str(uuid.UUID(int=i + 1)), task_type=task,
                     execution_time=10.0 + (i % 17) * 0.5 + AGENTS.index(agent),
                     success=(i % 10) != 0, event_id=event_id)
    if (i % 10) == 0:
        e.error_message = "timeout after %d s" % (30 + i % 5)
    e.resource_usage.cpu = 20.0 + i % 30
    e.resource_usage.memory_mb = 256.0 + i % 64
    e.resource_usage.tokens = 1000.0 + i % 500
    return e


def frame(message):
    data = message.SerializeToString()
    return struct.pack(">BI", 0, len(data)) + data


def cmd_body(a):
    if a.kind == "health":
        msg = pb.GetHealthRequest()
    elif a.kind == "log-one":
        msg = pb.LogExecutionRequest(execution=execution(7))
    elif a.kind == "log-batch":
        msg = pb.LogExecutionsRequest(executions=[execution(i) for i in range(a.records)])
    elif a.kind == "predict":
        msg = pb.PredictPerformanceRequest(agent_name=AGENTS[0], task_type=TASKS[0])
    else:
        sys.exit("unknown body kind " + a.kind)
    with open(a.file, "wb") as f:
        f.write(frame(msg))
    print("%s: %d bytes" % (a.file, os.path.getsize(a.file)), file=sys.stderr)


def stub(target):
    channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)])
    return pbg.LearningSystemStub(channel)


def cmd_seed(a):
    s = stub(a.target)
    done = 0
    while done < a.rows:
        n = min(1000, a.rows - done)
        s.LogExecutions(pb.LogExecutionsRequest(executions=[execution(done + i) for i in range(n)]), timeout=60)
        done += n
    r = s.Retrain(pb.RetrainRequest(), timeout=300)
    p = s.PredictPerformance(pb.PredictPerformanceRequest(agent_name=AGENTS[0], task_type=TASKS[0]), timeout=30)
    print("seeded %d rows; retrain on %d executions in %.2fs; predict %s/%s -> %s" % (
        done, r.trained_on_executions, r.training_time, AGENTS[0], TASKS[0],
        str(p).replace("\n", " ")[:300]))


def cmd_overload(a):
    s = stub(a.target)
    req = pb.LogExecutionsRequest(executions=[execution(i) for i in range(a.batch)])
    counts = {}
    lock = threading.Lock()
    stop = time.time() + a.seconds

    def worker():
        while time.time() < stop:
            try:
                s.LogExecutions(req, timeout=60)
                code = "OK"
            except grpc.RpcError as e:
                code = e.code().name
            with lock:
                counts[code] = counts.get(code, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(a.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("overload: streams=%d batch=%d seconds=%d calls=%s acknowledged_rows=%d" % (
        a.streams, a.batch, a.seconds, " ".join("%s=%d" % kv for kv in sorted(counts.items())),
        counts.get("OK", 0) * a.batch))


def cmd_fault(a):
    s = stub(a.target)
    retry = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
    lock = threading.Lock()
    stats = {"acked": 0, "retries": {}, "other": 0}
    next_batch = [0]
    acked = open(a.acked, "w")

    def worker():
        rnd = random.Random()
        while True:
            with lock:
                start = next_batch[0]
                if start >= a.total:
                    return
                next_batch[0] = start + a.batch
            ids = ["fault-%d" % i for i in range(start, min(start + a.batch, a.total))]
            if a.unary:
                req = pb.LogExecutionRequest(execution=execution(start, ids[0]))
                call = s.LogExecution
            else:
                req = pb.LogExecutionsRequest(executions=[execution(start + k, ev) for k, ev in enumerate(ids)])
                call = s.LogExecutions
            delay = 0.05
            while True:
                try:
                    call(req, timeout=30)
                    break
                except grpc.RpcError as e:
                    with lock:
                        name = e.code().name
                        stats["retries"][name] = stats["retries"].get(name, 0) + 1
                        if e.code() not in retry:
                            stats["other"] += 1
                    time.sleep(delay * (0.5 + rnd.random()))
                    delay = min(delay * 2, 1.0)
            with lock:
                stats["acked"] += len(ids)
                acked.write("\n".join(ids) + "\n")

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(a.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acked.close()
    print("client: writes=%d acknowledged=%d seconds=%.1f retried=%s non_retryable_errors=%d" % (
        a.total, stats["acked"], time.time() - started,
        ",".join("%s:%d" % kv for kv in sorted(stats["retries"].items())) or "none", stats["other"]))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("body"); b.add_argument("file"); b.add_argument("kind"); b.add_argument("--records", type=int, default=1000)
    s = sub.add_parser("seed"); s.add_argument("target"); s.add_argument("--rows", type=int, default=3000)
    o = sub.add_parser("overload"); o.add_argument("target"); o.add_argument("--streams", type=int, default=128)
    o.add_argument("--batch", type=int, default=1000); o.add_argument("--seconds", type=int, default=15)
    f = sub.add_parser("fault"); f.add_argument("target"); f.add_argument("--total", type=int, default=100000)
    f.add_argument("--streams", type=int, default=8); f.add_argument("--batch", type=int, default=250)
    f.add_argument("--acked", required=True)
    f.add_argument("--unary", action="store_true")
    a = p.parse_args()
    if a.cmd == "fault" and a.unary:
        a.batch = 1
    {"body": cmd_body, "seed": cmd_seed, "overload": cmd_overload, "fault": cmd_fault}[a.cmd](a)


if __name__ == "__main__":
    main()
