"""Drives every RPC of learning.v1.LearningSystem on a running learning-server with grpcio stubs.

Usage: rpc_suite.py ADDRESS DATABASE_URL API_KEY
Prints one line per check; exits 1 on the first failed check (with the reason).
"""
import asyncio
import math
import queue
import sys
import threading
import time
import uuid

import asyncpg
import grpc
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from learning.v1 import learning_pb2 as pb
from learning.v1 import learning_pb2_grpc as rpc

address, database_url, api_key = sys.argv[1], sys.argv[2], sys.argv[3]
channel = grpc.insecure_channel(address)
stub = rpc.LearningSystemStub(channel)
auth = (("authorization", f"Bearer {api_key}"),)


def check(condition, what):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def expect_code(code, call, what):
    try:
        call()
    except grpc.RpcError as error:
        check(error.code() == code, f"{what}: {error.code()} {error.details()!r}")
        check(bool(error.details()), f"{what}: the status carries a message")
        return
    check(False, f"{what}: expected {code}, the call succeeded")


def eventually(condition, what, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            check(True, what)
            return
        time.sleep(0.2)
    check(False, f"{what} (timed out)")


def execution(agent, task_type, seconds, success=True, task_id=None, event_id="", error="", at=None, memory=256.0):
    e = pb.Execution(agent_name=agent, task_id=task_id or str(uuid.uuid4()), task_type=task_type,
                     execution_time=seconds, success=success, error_message=error, event_id=event_id,
                     resource_usage=pb.ResourceUsage(cpu=25.0, memory_mb=memory, tokens=1200.0))
    if at is not None:
        ts = timestamp_pb2.Timestamp()
        ts.FromSeconds(int(at))
        e.timestamp.CopyFrom(ts)
    return e


# --- health and status --------------------------------------------------------------------
health = stub.GetHealth(pb.GetHealthRequest())
check(health.status == "healthy" and health.service == "learning-system", "GetHealth status and service")
check(health.database == "connected", "GetHealth database connected")
check(sorted(m.name for m in health.ml_models) == ["anomaly_detection", "pattern_recognition", "performance_prediction"],
      "GetHealth reports the three models")
check(health.timestamp.seconds > 0 and health.version, "GetHealth timestamp and version")
status = stub.GetStatus(pb.GetStatusRequest())
check(status.learning_system in ("operational", "starting"), f"GetStatus learning_system {status.learning_system}")
check(set(status.features.keys()) == {"performance_tracking", "anomaly_detection", "pattern_recognition", "predictive_analytics"},
      "GetStatus features")
check(status.performance.window_seconds > 0, "GetStatus performance window")

# --- standard services ----------------------------------------------------------------------
hc = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
check(hc.status == health_pb2.HealthCheckResponse.SERVING, "grpc.health.v1 Check SERVING")
hc = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="learning.v1.LearningSystem"))
check(hc.status == health_pb2.HealthCheckResponse.SERVING, "grpc.health.v1 Check of learning.v1.LearningSystem")
reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
answers = list(reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
services = {s.name for s in answers[0].list_services_response.service}
check("learning.v1.LearningSystem" in services, f"reflection lists the service: {sorted(services)}")

# --- registry and API keys ------------------------------------------------------------------
expect_code(grpc.StatusCode.UNAUTHENTICATED, lambda: stub.RegisterAgent(pb.RegisterAgentRequest(name="director")),
            "RegisterAgent without a key")
expect_code(grpc.StatusCode.UNAUTHENTICATED,
            lambda: stub.RegisterAgent(pb.RegisterAgentRequest(name="director"), metadata=(("authorization", "Bearer wrong-key-0000000"),)),
            "RegisterAgent with a wrong key")
registered = stub.RegisterAgent(pb.RegisterAgentRequest(name="director", description="Plans", tools=["Read", "Task"], model="opus",
                                                        metadata={"team": "core"}), metadata=auth)
check(registered.created and registered.agent.name == "director" and registered.agent.source == "api", "RegisterAgent creates")
check(list(registered.agent.tools) == ["Read", "Task"] and registered.agent.metadata["team"] == "core", "RegisterAgent shape")
again = stub.RegisterAgent(pb.RegisterAgentRequest(name="director", description="Plans well"), metadata=auth)
check(not again.created and again.agent.description == "Plans well", "RegisterAgent is an idempotent upsert")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.RegisterAgent(pb.RegisterAgentRequest(name="bad name!"), metadata=auth),
            "RegisterAgent with a bad name")
listed = stub.ListAgents(pb.ListAgentsRequest())
check(listed.total == 1 and listed.agents[0].name == "director" and listed.agents[0].status == "unknown", "ListAgents")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.ListAgents(pb.ListAgentsRequest(status="asleep")), "ListAgents bad filter")
beat = stub.Heartbeat(pb.HeartbeatRequest(agent_name="director"), metadata=auth)
check(beat.agent.status == "healthy" and beat.agent.HasField("last_seen"), "Heartbeat marks the agent healthy")
expect_code(grpc.StatusCode.NOT_FOUND, lambda: stub.Heartbeat(pb.HeartbeatRequest(agent_name="ghost"), metadata=auth), "Heartbeat unknown agent")
st = stub.GetAgentStatus(pb.GetAgentStatusRequest(agent_name="director"))
check(st.status == "healthy" and st.HasField("seconds_since_seen") and st.health_check_interval_seconds == 30 and st.reason,
      "GetAgentStatus shape")
expect_code(grpc.StatusCode.NOT_FOUND, lambda: stub.GetAgentStatus(pb.GetAgentStatusRequest(agent_name="nobody")), "GetAgentStatus unknown")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetAgentStatus(pb.GetAgentStatusRequest(agent_name="")), "GetAgentStatus empty name")

# --- undecodable requests -------------------------------------------------------------------
raw = channel.unary_unary("/learning.v1.LearningSystem/GetAgentStatus", request_serializer=lambda b: b,
                          response_deserializer=lambda b: b)
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: raw(b"\x0a\x64AB"), "an undecodable request")

# --- ingest ---------------------------------------------------------------------------------
expect_code(grpc.StatusCode.UNAUTHENTICATED, lambda: stub.LogExecution(pb.LogExecutionRequest(execution=execution("coder", "t", 1.0))),
            "LogExecution without a key")
logged = stub.LogExecution(pb.LogExecutionRequest(execution=execution("coder", "code_review", 2.0, event_id="evt-1")), metadata=auth)
check(logged.id > 0 and not logged.duplicate, "LogExecution stores")
retried = stub.LogExecution(pb.LogExecutionRequest(execution=execution("coder", "code_review", 2.0, event_id="evt-1")), metadata=auth)
check(retried.duplicate and retried.id == logged.id, "LogExecution retry with the same event_id is stored once")
bad_inputs = {
    "negative execution_time": execution("coder", "t", -1.0),
    "NaN execution_time": execution("coder", "t", math.nan),
    "infinite execution_time": execution("coder", "t", math.inf),
    "a task_id too long to be an id (mapped ids are at most 128 bytes)": execution("coder", "t", 1.0, task_id="x" * 129),
    "a timestamp in the future": execution("coder", "t", 1.0, at=time.time() + 86400),
    "a bad agent name": execution("coder one", "t", 1.0),
    "an empty agent name": execution("", "t", 1.0),
    "a bad task type": execution("coder", "t;drop", 1.0),
    "negative memory": execution("coder", "t", 1.0, memory=-5.0),
}
for what, bad in bad_inputs.items():
    expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda bad=bad: stub.LogExecution(pb.LogExecutionRequest(execution=bad), metadata=auth),
                f"LogExecution with {what}")
bad_ts = execution("coder", "t", 1.0)
bad_ts.timestamp.seconds = 10
bad_ts.timestamp.nanos = -5
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.LogExecution(pb.LogExecutionRequest(execution=bad_ts), metadata=auth),
            "LogExecution with an invalid timestamp")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.LogExecution(pb.LogExecutionRequest(), metadata=auth),
            "LogExecution without an execution")
# Strings with a NUL inside (protobuf-c would cut them at the NUL: "nulkey\0first" and
# "nulkey\0second" stored once, as "nulkey") and bytes that are not UTF-8 are refused on the wire,
# with the field's path, as REST refuses them; nothing is stored.
for field, bad in {"execution.event_id": execution("coder", "t", 1.0, event_id="nulkey\0first"),
                   "execution.agent_name": execution("a\0b", "t", 1.0),
                   "execution.error_message": execution("coder", "t", 1.0, success=False, error="boom\0tail")}.items():
    try:
        stub.LogExecution(pb.LogExecutionRequest(execution=bad), metadata=auth)
        check(False, f"LogExecution with a NUL in {field} should fail")
    except grpc.RpcError as error:
        check(error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == f"{field} must not contain NUL characters",
              f"LogExecution with a NUL in {field}: {error.details()!r}")
nul_batch = pb.LogExecutionsRequest(executions=[execution("coder", "t", 1.0, event_id=f"nulbatch\0{i}") for i in range(5)])
try:
    stub.LogExecutions(nul_batch, metadata=auth)
    check(False, "LogExecutions with NUL event ids should fail")
except grpc.RpcError as error:
    check(error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith("executions[0].event_id"),
          f"LogExecutions with NUL event ids: {error.details()!r}")
def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])
# An Execution whose (second, winning) task_type field holds an overlong encoding of NUL.
not_utf8 = execution("coder", "t", 1.0).SerializeToString() + b"\x1a\x02\xc0\x80"
raw_log = channel.unary_unary("/learning.v1.LearningSystem/LogExecution", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
try:
    raw_log(b"\x0a" + varint(len(not_utf8)) + not_utf8, metadata=auth)
    check(False, "LogExecution with a task_type that is not UTF-8 should fail")
except grpc.RpcError as error:
    check(error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "execution.task_type is not valid UTF-8",
          f"LogExecution with a task_type that is not UTF-8: {error.details()!r}")
async def nul_rows():
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM agents.execution_log WHERE agent_name = 'a' "
                                   "OR error_message LIKE 'boom%' OR event_id LIKE 'nul%'")
    finally:
        await conn.close()
check(asyncio.run(nul_rows()) == 0, "no row of the refused NUL strings was stored (truncated or not)")

start = time.time() - 4 * 86400
history = []
for i in range(300):
    at = start + i * 900
    task = str(uuid.uuid4())
    history.append(execution("fast-coder", "code_review", 1.0 + (i % 5) * 0.1, i % 10 != 0, task_id=task, at=at))
    history.append(execution("slow-coder", "code_review", 9.0 + (i % 5), i % 3 != 0, task_id=task, at=at + 60,
                             error=f"timeout after {30 + i % 7}s talking to 10.0.0.{i % 9}" if i % 3 == 0 else ""))
batch = stub.LogExecutions(pb.LogExecutionsRequest(executions=history[:400]), metadata=auth)
check(batch.accepted == 400 and batch.duplicates == 0, "LogExecutions stores a batch")
expect_code(grpc.StatusCode.INVALID_ARGUMENT,
            lambda: stub.LogExecutions(pb.LogExecutionsRequest(executions=[execution("ok", "t", 1.0), execution("no good", "t", 1.0)]),
                                       metadata=auth),
            "LogExecutions with one bad record")
streamed = stub.StreamExecutions(iter(history[400:]), metadata=auth)
check(streamed.accepted == 200 and streamed.duplicates == 0, "StreamExecutions (client streaming) stores every record")
expect_code(grpc.StatusCode.UNAUTHENTICATED, lambda: stub.StreamExecutions(iter(history[:2])), "StreamExecutions without a key")

ingest = [execution("ingester", "etl", 0.5, event_id=f"ingest-{i}") for i in range(60)]
ingest.append(execution("ingester", "etl", 0.5, event_id="ingest-0"))
acks = list(stub.IngestExecutions(iter(ingest), metadata=auth))
check([a.sequence for a in acks] == list(range(61)), "IngestExecutions acknowledges every message in order")
check(acks[60].duplicate and acks[60].id == acks[0].id and not acks[0].duplicate, "IngestExecutions reports the retried event id")
try:
    list(stub.IngestExecutions(iter([execution("ingester", "etl", 0.5), execution("ingester", "etl", -3.0)]), metadata=auth))
    check(False, "IngestExecutions with a bad record should fail")
except grpc.RpcError as error:
    # The records before the bad one were acknowledged-or-stored; the call ends at the bad one.
    check(error.code() == grpc.StatusCode.INVALID_ARGUMENT and "message 1" in error.details(),
          f"IngestExecutions names the bad message: {error.details()!r}")


# --- the guide's direct database integration (asyncpg) ---------------------------------------
async def outside_insert():
    conn = await asyncpg.connect(database_url)
    try:
        query = """
        INSERT INTO agents.execution_log (agent_name, task_id, execution_time, success, timestamp)
        VALUES ($1, $2, $3, $4, NOW())
        """
        for _ in range(3):
            await conn.execute(query, "outside-agent", uuid.uuid4(), 4.5, True)
    finally:
        await conn.close()


asyncio.run(outside_insert())


def outside_seen():
    analytics = stub.GetPerformanceAnalytics(pb.GetPerformanceAnalyticsRequest())
    return any(a.agent_name == "outside-agent" and a.executions == 3 for a in analytics.agents)


eventually(outside_seen, "the guide's asyncpg INSERT shows up in GetPerformanceAnalytics")
analytics = stub.GetPerformanceAnalytics(pb.GetPerformanceAnalyticsRequest(window_hours=1))
check(analytics.total_executions == 1 + 61 + 3, f"GetPerformanceAnalytics window_hours=1 counts recent rows: {analytics.total_executions}")
analytics = stub.GetPerformanceAnalytics(pb.GetPerformanceAnalyticsRequest())
check(analytics.total_executions == 1 + 600 + 61 + 3, f"GetPerformanceAnalytics counts every stored row: {analytics.total_executions}")
check(analytics.p90_execution_time >= analytics.median_execution_time > 0 and analytics.HasField("generated_at"),
      "GetPerformanceAnalytics figures")
check({t.task_type for t in analytics.task_types} >= {"code_review", "etl"}, "GetPerformanceAnalytics per task type")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetPerformanceAnalytics(pb.GetPerformanceAnalyticsRequest(window_hours=-2)),
            "GetPerformanceAnalytics negative window")
agents = {a.name: a for a in stub.ListAgents(pb.ListAgentsRequest()).agents}
check(agents["outside-agent"].source == "discovered", "an agent first seen in executions is registered as discovered")

perf = stub.GetAgentPerformance(pb.GetAgentPerformanceRequest(agent_name="fast-coder"))
check(perf.executions == 300 and perf.task_types[0].task_type == "code_review" and 0.85 < perf.success_rate < 0.95,
      "GetAgentPerformance shape")
check(perf.coordination_score > 0 and perf.HasField("last_execution"), "GetAgentPerformance coordination and last execution")
expect_code(grpc.StatusCode.NOT_FOUND, lambda: stub.GetAgentPerformance(pb.GetAgentPerformanceRequest(agent_name="nobody")),
            "GetAgentPerformance unknown agent")

metrics_sample = pb.MetricsSample(response_time=0.4, throughput=3.0, success_rate=0.98, coordination_effectiveness=0.7,
                                  resource_usage=pb.ResourceUsage(cpu=12.0, memory_mb=300.0))
submitted = stub.SubmitMetrics(pb.SubmitMetricsRequest(agent_name="director", task_type="planning", metrics=metrics_sample), metadata=auth)
check(submitted.id > 0, "SubmitMetrics stores a row")
expect_code(grpc.StatusCode.INVALID_ARGUMENT,
            lambda: stub.SubmitMetrics(pb.SubmitMetricsRequest(agent_name="director", metrics=pb.MetricsSample(success_rate=3.0)), metadata=auth),
            "SubmitMetrics with success_rate 3")
expect_code(grpc.StatusCode.NOT_FOUND,
            lambda: stub.SubmitMetrics(pb.SubmitMetricsRequest(agent_name="ghost", metrics=metrics_sample), metadata=auth),
            "SubmitMetrics for an unknown agent")

# --- learning ------------------------------------------------------------------------------
expect_code(grpc.StatusCode.UNAUTHENTICATED, lambda: stub.Retrain(pb.RetrainRequest()), "Retrain without a key")
retrained = stub.Retrain(pb.RetrainRequest(), metadata=auth)
check(retrained.trained_on_executions == 665 and retrained.training_time > 0, f"Retrain trains on the history: {retrained.trained_on_executions}")
states = {m.name: m for m in retrained.ml_models}
check(states["performance_prediction"].state_name == "active" and states["performance_prediction"].HasField("accuracy"),
      "Retrain reports an active model with its accuracy")
fast = stub.PredictPerformance(pb.PredictPerformanceRequest(agent_name="fast-coder", task_type="code_review"))
slow = stub.PredictPerformance(pb.PredictPerformanceRequest(agent_name="slow-coder", task_type="code_review", hour=14))
check(fast.execution_time < slow.execution_time and fast.success_rate > slow.success_rate, "PredictPerformance ranks the pair")
check(fast.interval_low <= fast.median_execution_time <= fast.interval_high and 0 <= fast.confidence <= 1, "PredictPerformance interval")
check(fast.basis == "pair" and fast.based_on_executions == 300 and fast.resources.memory_mb > 0, "PredictPerformance basis and resources")
expect_code(grpc.StatusCode.NOT_FOUND, lambda: stub.PredictPerformance(pb.PredictPerformanceRequest(agent_name="nobody", task_type="x")),
            "PredictPerformance unknown agent")
expect_code(grpc.StatusCode.INVALID_ARGUMENT,
            lambda: stub.PredictPerformance(pb.PredictPerformanceRequest(agent_name="fast-coder", task_type="code_review", hour=25)),
            "PredictPerformance hour 25")
recs = stub.GetRecommendations(pb.GetRecommendationsRequest(task_type="code_review", limit=5))
names = [r.agent_name for r in recs.recommendations]
check(names[0] == "fast-coder" and set(names) == {"fast-coder", "slow-coder", "coder"} and names.index("slow-coder") > 0
      and [r.rank for r in recs.recommendations] == [1, 2, 3],
      f"GetRecommendations ranks agents: {[(r.agent_name, r.score) for r in recs.recommendations]}")
check(recs.recommendations[0].reason != "", "GetRecommendations says why")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetRecommendations(pb.GetRecommendationsRequest(task_type="")),
            "GetRecommendations without a task type")
similar = stub.FindSimilarAgents(pb.FindSimilarAgentsRequest(agent_name="fast-coder", limit=3, threshold=-1.0))
check(similar.agent_name == "fast-coder" and len(similar.similar) >= 1 and all(-1 <= s.similarity <= 1 for s in similar.similar),
      "FindSimilarAgents shape")
expect_code(grpc.StatusCode.NOT_FOUND, lambda: stub.FindSimilarAgents(pb.FindSimilarAgentsRequest(agent_name="nobody")),
            "FindSimilarAgents unknown agent")
patterns = stub.GetPatterns(pb.GetPatternsRequest())
check(len(patterns.failures) >= 1 and "slow-coder" in patterns.failures[0].agents, "GetPatterns failure signatures")
check(len(patterns.resources) >= 1 and len(patterns.performance) >= 1 and len(patterns.handoffs) >= 1, "GetPatterns families")
only = stub.GetPatterns(pb.GetPatternsRequest(kinds=["failures"]))
check(len(only.failures) >= 1 and len(only.resources) == 0, "GetPatterns honours kinds")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetPatterns(pb.GetPatternsRequest(kinds=["astrology"])), "GetPatterns bad kind")
example = patterns.failures[0].example
signatures = stub.GetErrorSignatures(pb.GetErrorSignaturesRequest(error_messages=[example, example, ""]))
check(len(signatures.signatures) == 3 and signatures.signatures[0] == signatures.signatures[1] == patterns.failures[0].signature,
      f"GetErrorSignatures matches the failure patterns: {list(signatures.signatures)}")
expect_code(grpc.StatusCode.INVALID_ARGUMENT,
            lambda: stub.GetErrorSignatures(pb.GetErrorSignaturesRequest(error_messages=["x"] * 10_001)),
            "GetErrorSignatures with too many messages")
expect_code(grpc.StatusCode.INVALID_ARGUMENT,
            lambda: stub.Retrain(pb.RetrainRequest(as_of=timestamp_pb2.Timestamp(seconds=int(time.time()) + 30 * 86_400)), metadata=auth),
            "Retrain as of a future time")
coordination = stub.GetCoordinationPatterns(pb.GetCoordinationPatternsRequest(limit=5))
check(coordination.multi_agent_tasks == 300 and 0 < coordination.coordination_score <= 1, "GetCoordinationPatterns figures")
check(any(h.from_agent == "fast-coder" and h.to_agent == "slow-coder" for h in coordination.handoffs), "GetCoordinationPatterns hand-offs")


async def database_rows():
    conn = await asyncpg.connect(database_url)
    try:
        # The guide's DatabaseIntegration.get_agent_performance query, unchanged.
        performance = await conn.fetch("""
        SELECT agent_name, avg_execution_time, success_rate, last_updated
        FROM agents.performance_metrics 
        WHERE agent_name = $1
        ORDER BY last_updated DESC
        LIMIT 10
        """, "fast-coder")
        embeddings = await conn.fetchval("SELECT count(*) FROM agents.agent_embeddings")
        models = await conn.fetch("SELECT model_name, accuracy, trained_on FROM agents.ml_models")
        return performance, embeddings, models
    finally:
        await conn.close()


eventually(lambda: len(asyncio.run(database_rows())[0]) >= 1, "the periodic roll-up writes fast-coder's row")
performance_rows, embedding_count, model_rows = asyncio.run(database_rows())
check(len(performance_rows) >= 1 and performance_rows[0]["avg_execution_time"] > 0,
      f"roll-ups fill agents.performance_metrics for the guide's query: {len(performance_rows)} rows")
check(embedding_count >= 4, f"agent embeddings stored in agents.agent_embeddings: {embedding_count}")
check(any(m["model_name"] == "learning_engine" and m["accuracy"] is not None for m in model_rows),
      f"the trained model is saved in agents.ml_models with its accuracy: {[dict(m) for m in model_rows]}")
insights = stub.GetInsights(pb.GetInsightsRequest(limit=10))
check(any(i.kind == "model" for i in insights.insights), "GetInsights lists the retrain")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetInsights(pb.GetInsightsRequest(kind="rumour")), "GetInsights bad kind")

# --- live insights: a latency spike is pushed, stored and queryable --------------------------
events = queue.Queue()
watch = stub.WatchInsights(pb.WatchInsightsRequest(kinds=["anomaly"], agent_name="fast-coder"))


def read_watch():
    try:
        for event in watch:
            events.put(event)
    except grpc.RpcError:
        pass


reader = threading.Thread(target=read_watch, daemon=True)
reader.start()
time.sleep(0.5)
spike = stub.LogExecution(pb.LogExecutionRequest(execution=execution("fast-coder", "code_review", 400.0)), metadata=auth)
try:
    event = events.get(timeout=15)
except queue.Empty:
    event = None
check(event is not None and event.WhichOneof("event") == "anomaly", "WatchInsights pushes the anomaly")
check(event.anomaly.kind == "latency_spike" and event.anomaly.execution_id == spike.id and event.anomaly.observed == 400.0,
      "WatchInsights anomaly shape")
watch.cancel()
anomalies = stub.GetAnomalies(pb.GetAnomaliesRequest(agent_name="fast-coder"))
check(any(a.execution_id == spike.id for a in anomalies.anomalies), "GetAnomalies returns the stored anomaly")
check(any(list(a.execution_ids) == [spike.id] for a in anomalies.anomalies), "GetAnomalies lists the executions covered")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.GetAnomalies(pb.GetAnomaliesRequest(limit=-1)), "GetAnomalies negative limit")
expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: next(stub.WatchInsights(pb.WatchInsightsRequest(kinds=["gossip"]))),
            "WatchInsights bad kind")

# --- metrics and status move under load ------------------------------------------------------
before = stub.GetMetrics(pb.GetMetricsRequest())
status_before = stub.GetStatus(pb.GetStatusRequest())
for _ in range(400):
    stub.GetHealth(pb.GetHealthRequest())
stub.LogExecutions(pb.LogExecutionsRequest(executions=[execution("loader", "load", 7.0, i % 2 == 0) for i in range(200)]), metadata=auth)
time.sleep(1.0)
after = stub.GetMetrics(pb.GetMetricsRequest())
status_after = stub.GetStatus(pb.GetStatusRequest())
check(after.queries_per_sec > before.queries_per_sec, f"GetMetrics queries_per_sec moves: {before.queries_per_sec} -> {after.queries_per_sec}")
check(status_after.performance.queries_per_sec > status_before.performance.queries_per_sec, "GetStatus queries_per_sec moves")
check(status_after.performance.avg_latency_ms > 0, "GetStatus avg_latency_ms is measured")
check(after.executions_ingested >= before.executions_ingested + 200, "GetMetrics executions_ingested moves")
check(after.agent_response_time != before.agent_response_time, "GetMetrics agent_response_time moves")
check(after.memory_usage_mb > 1 and after.cpu_usage_percent >= 0 and after.prediction_accuracy > 0 and after.training_time > 0,
      "GetMetrics measured figures")
check(any(m.method == "/learning.v1.LearningSystem/GetHealth" and m.requests >= 400 for m in after.methods), "GetMetrics per method")
print("ALL CHECKS PASSED", flush=True)
