"""OpenTelemetry ingest, driven by the real OpenTelemetry Python SDK and its OTLP exporters.

Usage: otlp_suite.py ADDRESS DATABASE_URL API_KEY PROTOS_DIR
A small multi-agent run (planner -> researcher -> writer per trace, with LLM and tool spans that
are not agent work) is exported half over OTLP/gRPC and half over OTLP/HTTP (protobuf, gzip); the
agents then show in /agents/{name}/performance, in the coordination patterns and in predictions.
Also: the Protos/ subset is wire compatible with opentelemetry-proto, partial success, OTLP JSON,
retries stored once, errors, back-pressure. Prints one line per check; exits 1 on the first failure.
"""
import asyncio
import base64
import gzip
import json
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GRPCExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HTTPExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

address, database_url, api_key, protos_dir = sys.argv[1:5]
host, port = address.rsplit(":", 1)
auth = (("authorization", f"Bearer {api_key}"),)
base = f"http://{address}"


def check(condition, what):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.loads(response.read())


def post(path, body, headers):
    request = urllib.request.Request(base + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def sql(query, *args):
    async def run():
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()
    return asyncio.run(run())


# --- the Protos/ subset is wire compatible with the OTLP specification's messages ------------
with tempfile.NamedTemporaryFile(suffix=".pb") as out:
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", protos_dir, "--include_imports",
                    f"--descriptor_set_out={out.name}", "opentelemetry/proto/collector/trace/v1/trace_service.proto",
                    "google/rpc/error_details.proto"], check=True)
    ours = descriptor_pb2.FileDescriptorSet.FromString(open(out.name, "rb").read())
official_pool = descriptor_pool.Default()
compared = mismatches = 0


def compare(message, full_name):
    global compared, mismatches
    official = official_pool.FindMessageTypeByName(full_name)
    for field in message.field:
        compared += 1
        theirs = official.fields_by_name.get(field.name)
        if theirs is None or theirs.number != field.number or theirs.type != field.type:
            print(f"     {full_name}.{field.name}: ours {field.number}/{field.type}, spec {theirs and (theirs.number, theirs.type)}")
            mismatches += 1
    for nested in message.nested_type:
        compare(nested, f"{full_name}.{nested.name}")


for file in ours.file:
    if file.package.startswith("opentelemetry") or file.package == "google.rpc":
        for message in file.message_type:
            compare(message, f"{file.package}.{message.name}")
check(compared > 40 and mismatches == 0,
      f"Protos/ OTLP messages match opentelemetry-proto and googleapis field for field ({compared} fields)")

# --- a small multi-agent run, traced with the SDK ---------------------------------------------
RUNS = 24
resource = Resource.create({"service.name": "trip-crew", "service.version": "1.0"})
memory = InMemorySpanExporter()
grpc_exporter = GRPCExporter(endpoint=f"http://{address}", insecure=True, headers=auth, timeout=30)
http_exporter = HTTPExporter(endpoint=f"{base}/v1/traces", headers=dict(auth), compression=Compression.Gzip, timeout=30)
providers = []
for exporter in (grpc_exporter, http_exporter):
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    providers.append(provider)

SECOND = 1_000_000_000
start_of_run = time.time_ns() - 3600 * SECOND  # an hour ago: every span ends in the past


def agent_span(tracer, parent, agent, start, seconds, tokens=(0, 0), fail=None):
    span = tracer.start_span(f"invoke_agent {agent}", context=trace.set_span_in_context(parent), start_time=start,
                             kind=trace.SpanKind.INTERNAL,
                             attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                                         "gen_ai.agent.id": f"agent-{agent}", "task.type": "trip_planning",
                                         "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]})
    ctx = trace.set_span_in_context(span)
    # The model call and a tool call inside the agent: spans that are not agent work.
    llm = tracer.start_span("chat gpt-4o", context=ctx, start_time=start + SECOND // 10,
                            attributes={"gen_ai.operation.name": "chat", "gen_ai.agent.name": agent,
                                        "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": tokens[0]})
    llm.end(end_time=start + SECOND // 2)
    tool = tracer.start_span("execute_tool search", context=ctx, start_time=start + SECOND // 2,
                             attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"})
    tool.end(end_time=start + SECOND)
    if fail:
        span.record_exception(ValueError(fail), timestamp=start + int(seconds * SECOND))
        span.set_status(Status(StatusCode.ERROR, "the draft was refused"))
    else:
        span.set_status(Status(StatusCode.OK))
    span.end(end_time=start + int(seconds * SECOND))


for run in range(RUNS):
    provider = providers[run % 2]
    tracer = provider.get_tracer("trip-crew.workflow")
    t0 = start_of_run + run * 60 * SECOND
    root = tracer.start_span("crew kickoff", start_time=t0)  # the workflow: not agent work
    agent_span(tracer, root, "planner", t0, 2.0 + (run % 3) * 0.1, tokens=(600, 200))
    agent_span(tracer, root, "researcher", t0 + 3 * SECOND, 5.0 + (run % 2) * 0.2, tokens=(3000, 500))
    fail = "draft too long: 5120 words" if run % 4 == 0 else None
    agent_span(tracer, root, "Trip Writer", t0 + 9 * SECOND, 3.0, tokens=(1500, 1200), fail=fail)
    root.end(end_time=t0 + 13 * SECOND)
for provider in providers:
    provider.force_flush()
exported = memory.get_finished_spans()
check(len(exported) == RUNS * 10, f"the SDK exported {len(exported)} spans over OTLP/gRPC and OTLP/HTTP")

rows = sql("SELECT agent_name, count(*) AS n, count(DISTINCT task_id) AS tasks, min(task_type) AS task_type, "
           "avg(execution_time) AS t, sum(CASE WHEN success THEN 1 ELSE 0 END) AS ok, "
           "avg((resource_usage->>'tokens')::float) AS tokens "
           "FROM agents.execution_log GROUP BY agent_name ORDER BY agent_name")
stored = {r["agent_name"]: r for r in rows}
check(set(stored) == {"planner", "researcher", "Trip-Writer"},
      f"only agent spans became executions (LLM, tool and workflow spans skipped): {sorted(stored)}")
check(all(stored[a]["n"] == RUNS and stored[a]["task_type"] == "trip_planning" for a in stored),
      "one execution per agent span, task type from task.type")
check(abs(stored["planner"]["t"] - 2.1) < 0.01 and abs(stored["researcher"]["t"] - 5.1) < 0.01,
      f"durations as execution_time: planner {stored['planner']['t']:.3f}, researcher {stored['researcher']['t']:.3f}")
check(stored["Trip-Writer"]["ok"] == RUNS - RUNS // 4 and stored["planner"]["ok"] == RUNS, "span status as success")
check(stored["planner"]["tokens"] == 800 and stored["Trip-Writer"]["tokens"] == 2700, "input + output tokens as tokens")
trace_ids = {format(s.context.trace_id, "032x") for s in exported}
task_ids = {str(r["task_id"]).replace("-", "") for r in sql("SELECT DISTINCT task_id FROM agents.execution_log")}
check(task_ids == trace_ids and len(task_ids) == RUNS, "the trace id is the task id: the agents of one trace collaborate")
errors = sql("SELECT DISTINCT error_message FROM agents.execution_log WHERE NOT success")
check([r["error_message"] for r in errors] == ["ValueError: draft too long: 5120 words"],
      f"the exception event as error_message: {[r['error_message'] for r in errors]}")
events = {r["event_id"] for r in sql("SELECT event_id FROM agents.execution_log")}
span_events = {f"otel-{s.context.trace_id:032x}-{s.context.span_id:016x}" for s in exported if s.name.startswith("invoke_agent")}
check(events == span_events, "the span id is the event id")

# --- the figures: performance, coordination, predictions --------------------------------------
performance = get("/agents/planner/performance")
check(performance["executions"] == RUNS and abs(performance["avg_execution_time"] - 2.1) < 0.01
      and performance["task_types"][0]["task_type"] == "trip_planning",
      f"/agents/planner/performance: {performance['executions']} executions, {performance['avg_execution_time']:.2f} s")
writer = get("/agents/Trip-Writer/performance")
check(abs(writer["success_rate"] - 0.75) < 1e-9, f"/agents/Trip-Writer/performance success rate {writer['success_rate']}")
retrain = urllib.request.Request(base + "/ml/retrain", data=b"", method="POST", headers=dict(auth))
urllib.request.urlopen(retrain, timeout=120).read()
coordination = get("/analytics/coordination?limit=20")
pairs = {tuple(p["agents"]): p for p in coordination["pairs"]}
check(pairs.get(("planner", "researcher"), {}).get("shared_tasks") == RUNS
      and pairs.get(("Trip-Writer", "planner"), {}).get("shared_tasks") == RUNS,
      f"coordination pairs from shared traces: {sorted(pairs)}")
handoffs = {(h["from_agent"], h["to_agent"]): h for h in coordination["handoffs"]}
check(("planner", "researcher") in handoffs and ("researcher", "Trip-Writer") in handoffs,
      f"hand-offs in span order: {sorted(handoffs)}")
check(coordination["multi_agent_tasks"] == RUNS, f"multi-agent tasks {coordination['multi_agent_tasks']}")
patterns = get("/patterns")
check(any(set(p["agents"]) == {"planner", "researcher"} for p in patterns["collaboration"]), "/patterns collaboration")
prediction = json.loads(post("/predict", json.dumps({"agent_name": "researcher", "task_type": "trip_planning"}).encode(),
                             {"Content-Type": "application/json"})[2])
check(prediction["based_on_executions"] >= RUNS and 4.5 < prediction["execution_time"] < 5.7,
      f"/predict for researcher: {prediction['execution_time']:.2f} s over {prediction['based_on_executions']}")

# --- gzip over OTLP/gRPC: the exporter's compression setting -----------------------------------
gzip_provider = TracerProvider(resource=resource)
gzip_provider.add_span_processor(SimpleSpanProcessor(
    GRPCExporter(endpoint=f"http://{address}", insecure=True, headers=auth, compression=grpc.Compression.Gzip, timeout=30)))
gzip_tracer = gzip_provider.get_tracer("gzip")
t0 = start_of_run - 600 * SECOND
root = gzip_tracer.start_span("crew kickoff", start_time=t0)
agent_span(gzip_tracer, root, "compressor", t0, 1.25)
root.end(end_time=t0 + 2 * SECOND)
gzip_provider.force_flush()
compressed = sql("SELECT execution_time FROM agents.execution_log WHERE agent_name = 'compressor'")
check([r["execution_time"] for r in compressed] == [1.25], "a gzip-compressed OTLP/gRPC export is stored")

# --- an exporter's retry is stored once ------------------------------------------------------
agent_spans = [s for s in exported if s.name.startswith("invoke_agent")]
check(grpc_exporter.export(agent_spans[:9]) == SpanExportResult.SUCCESS
      and http_exporter.export(agent_spans[9:18]) == SpanExportResult.SUCCESS, "re-export of stored spans succeeds")
check(sql("SELECT count(*) AS n FROM agents.execution_log")[0]["n"] == 3 * RUNS + 1, "a re-exported span is stored once")

# --- partial success over gRPC: skipped spans as a warning, rejected spans counted -------------
channel = grpc.insecure_channel(address)
stub = trace_service_pb2_grpc.TraceServiceStub(channel)


def kv(key, value):
    any_value = common_pb2.AnyValue(int_value=value) if isinstance(value, int) else common_pb2.AnyValue(string_value=value)
    return common_pb2.KeyValue(key=key, value=any_value)


def raw_span(span_id, name, attributes, start=None, seconds=1.0, trace_id=b"\x01" * 16):
    start = start or time.time_ns() - 600 * SECOND
    return trace_pb2.Span(trace_id=trace_id, span_id=span_id.to_bytes(8, "big"), name=name, start_time_unix_nano=start,
                          end_time_unix_nano=start + int(seconds * SECOND), attributes=attributes)


def request(spans):
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])


mixed = request([
    raw_span(1, "invoke_agent auditor", [kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.tool.name", "audit")]),
    raw_span(2, "chat", [kv("gen_ai.operation.name", "chat")]),
    raw_span(3, "GET /", [kv("http.method", "GET")]),
    raw_span(4, "invoke_agent", [kv("gen_ai.operation.name", "invoke_agent")]),               # no agent name
    raw_span(5, "invoke_agent auditor", [kv("gen_ai.operation.name", "invoke_agent")], seconds=-1.0),  # ends first
])
answer = stub.Export(mixed, metadata=auth, timeout=30)
check(answer.partial_success.rejected_spans == 2 and "2 span(s) skipped" in answer.partial_success.error_message
      and "no agent name" in answer.partial_success.error_message,
      f"Export answers partial success: {answer.partial_success.rejected_spans} rejected, "
      f"{answer.partial_success.error_message!r}")
auditor = sql("SELECT task_type, execution_time FROM agents.execution_log WHERE agent_name = 'auditor'")
check(len(auditor) == 1 and auditor[0]["task_type"] == "audit", "task type falls back to gen_ai.tool.name")
clean = stub.Export(request([raw_span(6, "invoke_agent auditor", [kv("gen_ai.operation.name", "invoke_agent")])]),
                    metadata=auth, timeout=30)
check(not clean.HasField("partial_success"), "a fully stored export has no partial_success")
try:
    stub.Export(mixed, timeout=30)
    check(False, "Export without a key is refused")
except grpc.RpcError as error:
    check(error.code() == grpc.StatusCode.UNAUTHENTICATED, f"Export without a key: {error.code()}")
raw = channel.unary_unary(f"/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                          request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    raw(b"\x0a\x64garbage", metadata=auth, timeout=30)
    check(False, "an undecodable export is refused")
except grpc.RpcError as error:
    check(error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details(), f"undecodable export: {error.details()!r}")

# --- OTLP/HTTP with JSON bodies (hex ids, camelCase, int64 as strings), plain and gzip --------
now_ns = time.time_ns() - 300 * SECOND
json_body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-crew"}}]},
                                "scopeSpans": [{"scope": {"name": "manual"}, "spans": [
    {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "invoke_agent reviewer",
     "kind": 1, "startTimeUnixNano": str(now_ns), "endTimeUnixNano": str(now_ns + 4 * SECOND),
     "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                    {"key": "gen_ai.agent.name", "value": {"stringValue": "reviewer"}},
                    {"key": "task.type", "value": {"stringValue": "code_review"}},
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "100"}},
                    {"key": "error.type", "value": {"stringValue": "TimeoutError"}}],
     "status": {"code": 2}},
    {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b175", "name": "chat",
     "startTimeUnixNano": str(now_ns), "endTimeUnixNano": str(now_ns + SECOND),
     "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}}]}]}]}]}
status, headers, body = post("/v1/traces", json.dumps(json_body).encode(),
                             {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
answer = json.loads(body)
check(status == 200 and headers.get("content-type", headers.get("Content-Type")) == "application/json"
      and answer["partialSuccess"]["rejectedSpans"] == "0" and "1 span(s) skipped" in answer["partialSuccess"]["errorMessage"],
      f"POST /v1/traces JSON: {status} {answer}")
reviewer = sql("SELECT success, error_message, execution_time, task_id::text AS task FROM agents.execution_log "
               "WHERE agent_name = 'reviewer'")
check(len(reviewer) == 1 and not reviewer[0]["success"] and reviewer[0]["error_message"] == "TimeoutError"
      and reviewer[0]["execution_time"] == 4.0 and reviewer[0]["task"] == "5b8efff7-9803-8103-d269-b633813fc60c",
      f"error.type as error_message, hex trace id as task id: {[dict(r) for r in reviewer]}")
status, _, body = post("/v1/traces", gzip.compress(json.dumps(json_body).encode()),
                       {"Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": f"Bearer {api_key}"})
check(status == 200 and sql("SELECT count(*) AS n FROM agents.execution_log WHERE agent_name = 'reviewer'")[0]["n"] == 1,
      "a gzip JSON re-export is read and stored once")
for what, payload, headers, code in [
    ("garbage protobuf", b"\x0a\x64garbage", {"Content-Type": "application/x-protobuf"}, 400),
    ("text/plain", b"hello", {"Content-Type": "text/plain"}, 415),
    ("bad gzip", b"\x1f\x8b\x08garbage", {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, 400),
    ("brotli", b"x", {"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, 415),
    ("a bad trace id", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}).encode(),
     {"Content-Type": "application/json"}, 400),
]:
    status, _, body = post("/v1/traces", payload, {**headers, "Authorization": f"Bearer {api_key}"})
    check(status == code and json.loads(body)["detail"], f"POST /v1/traces with {what}: {status} {json.loads(body)['detail']!r}")
status, _, _ = post("/v1/traces", gzip.compress(json.dumps(json_body).encode()), {"Content-Type": "application/json"})
check(status == 401, "POST /v1/traces without a key: 401")

# --- back-pressure: concurrent exports past the ingest queue get a retryable status + delay ----
def big_export(index):
    spans = [raw_span(1 + i, "invoke_agent flood", [kv("gen_ai.operation.name", "invoke_agent")],
                      trace_id=index.to_bytes(16, "big")) for i in range(9000)]
    try:
        stub.Export(request(spans), metadata=auth, timeout=120)
        return None
    except grpc.RpcError as error:
        return error


with ThreadPoolExecutor(max_workers=12) as pool:
    outcomes = list(pool.map(big_export, range(1, 13)))
refused = [e for e in outcomes if e is not None]
check(refused, f"{len(refused)} of 12 concurrent exports of 9,000 spans were refused under back-pressure")
for error in refused:
    trailers = dict(error.trailing_metadata() or ())
    info = RetryInfo.FromString(trailers.get("google.rpc.retryinfo-bin", b""))
    delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    check(error.code() == grpc.StatusCode.UNAVAILABLE and delay > 0 and int(trailers.get("grpc-retry-pushback-ms", "0")) > 0,
          f"refused export: {error.code()} with RetryInfo {delay:.3f} s ({error.details()!r})")
    break
accepted = sum(1 for e in outcomes if e is None)
flood = sql("SELECT count(*) AS n FROM agents.execution_log WHERE agent_name = 'flood'")[0]["n"]
check(flood == accepted * 9000, f"the accepted exports are stored whole ({flood} rows), the refused not at all")

# OTLP/HTTP under the same pressure: 429 with Retry-After (retryable for OTLP/HTTP exporters).
def big_post(index):
    spans = [raw_span(1 + i, "invoke_agent flood", [kv("gen_ai.operation.name", "invoke_agent")],
                      trace_id=(1000 + index).to_bytes(16, "big")) for i in range(9000)]
    return post("/v1/traces", request(spans).SerializeToString(),
                {"Content-Type": "application/x-protobuf", "Authorization": f"Bearer {api_key}"})


with ThreadPoolExecutor(max_workers=12) as pool:
    replies = list(pool.map(big_post, range(1, 13)))
busy = [(code, headers) for code, headers, _ in replies if code != 200]
check(busy and all(code == 429 and int(headers.get("Retry-After", headers.get("retry-after", "0"))) >= 1 for code, headers in busy),
      f"OTLP/HTTP under back-pressure: {len(busy)} of 12 answered 429 with Retry-After")
ok_posts = sum(1 for code, _, _ in replies if code == 200)
flood_http = sql("SELECT count(*) AS n FROM agents.execution_log WHERE agent_name = 'flood'")[0]["n"] - flood
check(flood_http == ok_posts * 9000, f"the exports answered 200 are stored whole ({flood_http} rows)")

print("ALL CHECKS PASSED", flush=True)
