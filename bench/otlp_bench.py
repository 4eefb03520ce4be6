"""OTLP/gRPC span ingest against LogExecutions row ingest on one learning-server, same run.

Usage: otlp_bench.py ADDRESS SECONDS CONCURRENCY BATCH ROUNDS
Requests are serialized before each timed phase (the client's Python work stays out of the
figure); phases alternate (otlp, batch, otlp, batch, ...) so both see the same database state.
Every OTLP span is an invoke_agent span (stored as one execution); every batch row one execution.
Prints one TSV line per phase: kind, round, requests, items, seconds, items_per_second.
"""
import sys
import threading
import time
import uuid

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

sys.path.insert(0, ".venv/gen")
from learning.v1 import learning_pb2 as pb  # noqa: E402

address, seconds, concurrency, batch, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
channel = grpc.insecure_channel(address, options=[("grpc.max_send_message_length", 64 << 20)])
export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                             request_serializer=lambda b: b, response_deserializer=trace_service_pb2.ExportTraceServiceResponse.FromString)
log_batch = channel.unary_unary("/learning.v1.LearningSystem/LogExecutions",
                                request_serializer=lambda b: b, response_deserializer=pb.LogExecutionsResponse.FromString)
SECOND = 1_000_000_000


def kv(key, value):
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


def otlp_request(n):
    now = time.time_ns() - 60 * SECOND
    trace_id = uuid.uuid4().bytes
    spans = []
    for i in range(n):
        agent = f"agent-{i % 20}"
        spans.append(trace_pb2.Span(
            trace_id=trace_id if i % 4 else uuid.uuid4().bytes, span_id=uuid.uuid4().bytes[:8], name=f"invoke_agent {agent}",
            start_time_unix_nano=now, end_time_unix_nano=now + (1 + i % 7) * SECOND // 2, kind=1,
            attributes=[kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.agent.name", agent),
                        kv("task.type", f"task-{i % 5}"), kv("gen_ai.usage.input_tokens", 300), kv("gen_ai.usage.output_tokens", 90)],
            status=trace_pb2.Status(code=1)))
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]).SerializeToString()


def batch_request(n):
    rows = []
    for i in range(n):
        rows.append(pb.Execution(agent_name=f"agent-{i % 20}", task_id=str(uuid.uuid4()), task_type=f"task-{i % 5}",
                                 execution_time=(1 + i % 7) / 2, success=True, event_id=str(uuid.uuid4()),
                                 resource_usage=pb.ResourceUsage(tokens=390)))
    return pb.LogExecutionsRequest(executions=rows).SerializeToString()


def phase(kind, round_number):
    # Enough distinct requests for the phase (each span/row is new: no duplicates are measured).
    make, call = (otlp_request, export) if kind == "otlp" else (batch_request, log_batch)
    # Requests for the phase at the most the service was seen to take (a phase that runs out
    # stops early; its rate is still items over the time it ran).
    estimate = int(seconds * (60 if kind == "otlp" else 160) * 500 / batch) + concurrency * 2
    requests = [make(batch) for _ in range(estimate)]
    lock = threading.Lock()
    done = [0, 0]
    next_index = [0]
    deadline = time.monotonic() + seconds

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if next_index[0] >= len(requests):
                    return
                body = requests[next_index[0]]
                next_index[0] += 1
            call(body, timeout=60)
            with lock:
                done[0] += 1
                done[1] += batch

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    exhausted = " (ran out of prepared requests)" if next_index[0] >= len(requests) else ""
    print(f"{kind}\t{round_number}\t{done[0]}\t{done[1]}\t{elapsed:.2f}\t{done[1] / elapsed:.0f}{exhausted}", flush=True)


print("kind\tround\trequests\titems\tseconds\titems_per_second", flush=True)
for r in range(rounds):
    phase("otlp", r)
    phase("batch", r)
