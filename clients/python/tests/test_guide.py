"""The guide's "Learning System Python Library" code, as written, against a real server; and every
answer of the client compared with the REST endpoint's JSON for the same data."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import grpc
import pytest

from learning_system_client import LearningSystemClient, SyncLearningSystemClient
from learning_system_client import _calls
from learning_system_client._proto import learning_pb2 as pb
from learning_system_client.types import AgentPerformance, Health, Prediction, Recommendation

from conftest import name


# --- the guide's classes, unchanged (Python Integration, Agent Performance Analytics) ---------


class AgentPerformanceTracker:
    def __init__(self):
        self.learning_client = LearningSystemClient()

    async def track_agent_performance(self, agent_name, task_data, result):
        """Track agent performance and send to learning system"""
        performance_data = {
            "agent_name": agent_name,
            "task_id": task_data.get("id"),
            "task_type": task_data.get("type"),
            "execution_time": result.get("execution_time"),
            "success": result.get("success", False),
            "resource_usage": result.get("resource_usage", {}),
            "timestamp": result.get("timestamp")
        }

        await self.learning_client.log_performance(performance_data)

    async def get_agent_recommendations(self, task_type):
        """Get ML-powered agent recommendations for task type"""
        return await self.learning_client.get_recommendations(task_type)


class PatternAnalyzer:
    def __init__(self, learning_client):
        self.learning_client = learning_client

    async def analyze_task_patterns(self):
        """Analyze patterns in agent task execution"""
        patterns = await self.learning_client.get_patterns()
        return {
            "collaboration_patterns": patterns.get("collaboration", []),
            "performance_patterns": patterns.get("performance", []),
            "resource_patterns": patterns.get("resources", []),
            "failure_patterns": patterns.get("failures", [])
        }


class PredictiveAnalytics:
    def __init__(self, learning_client):
        self.learning_client = learning_client

    async def predict_agent_performance(self, agent_name, task_type):
        """Predict agent performance for specific task type"""
        prediction = await self.learning_client.predict_performance(
            agent_name=agent_name,
            task_type=task_type
        )

        return {
            "predicted_execution_time": prediction.get("execution_time"),
            "predicted_success_rate": prediction.get("success_rate"),
            "confidence_score": prediction.get("confidence"),
            "recommended_resources": prediction.get("resources")
        }


def test_guide_library_examples_work_as_written(server, monkeypatch):
    monkeypatch.setenv("LEARNING_SERVER", server.address)
    fast, slow = name("guide-fast"), name("guide-slow")
    task_type = name("planning")

    async def scenario():
        tracker = AgentPerformanceTracker()
        for i in range(30):
            for agent, seconds, ok in ((fast, 10.0 + i % 3, True), (slow, 40.0 + i % 5, i % 3 != 0)):
                # Task ids as trackers have them: not UUIDs (the server maps them, keeping the id).
                await tracker.track_agent_performance(
                    agent, {"id": f"task-{agent}-{i}", "type": task_type},
                    {"execution_time": seconds, "success": ok,
                     "resource_usage": {"cpu": 20.0, "memory_mb": 512, "tokens": 900},
                     "timestamp": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=i)})
        # A result with no timestamp and no resource usage, as the guide's .get() defaults give.
        await tracker.track_agent_performance(fast, {"id": 4242, "type": task_type},
                                              {"execution_time": 11.0, "success": True})
        client = tracker.learning_client
        await client.retrain()
        recommendations = await tracker.get_agent_recommendations(task_type)
        patterns = await PatternAnalyzer(client).analyze_task_patterns()
        prediction = await PredictiveAnalytics(client).predict_agent_performance(fast, task_type)
        performance = await client.get_agent_performance(fast)
        await client.close()
        return recommendations, patterns, prediction, performance

    recommendations, patterns, prediction, performance = asyncio.run(scenario())
    assert recommendations["task_type"] == task_type
    ranked = [r["agent_name"] for r in recommendations["recommendations"]]
    assert ranked.index(fast) < ranked.index(slow), ranked
    assert set(patterns) == {"collaboration_patterns", "performance_patterns", "resource_patterns", "failure_patterns"}
    assert all(isinstance(v, list) for v in patterns.values())
    assert 9.0 < prediction["predicted_execution_time"] < 14.0, prediction
    assert prediction["predicted_success_rate"] > 0.8
    assert 0 < prediction["confidence_score"] <= 1
    assert set(prediction["recommended_resources"]) == {"cpu", "memory_mb", "tokens"}
    assert performance["executions"] == 31 and performance["success_rate"] == 1.0
    typed = AgentPerformance.from_dict(performance)
    assert typed.task_types[0].task_type == task_type and typed.task_types[0].avg_cpu == pytest.approx(20.0)


def test_submit_metrics_and_health_monitor(server):
    agent = name("collector")

    async def scenario():
        async with LearningSystemClient(server.address) as client:
            await client.register_agent({"name": agent, "description": "collects", "tools": ["Read"], "model": "opus"})
            # The guide's PerformanceCollector.collect_agent_metrics dictionary.
            metrics = {"response_time": 1.25, "throughput": 3.5, "resource_usage": {"cpu": 35.2, "memory_mb": 1024},
                       "success_rate": 0.97, "coordination_effectiveness": 0.9}
            stored = await client.submit_metrics(agent, metrics)
            # The guide's HealthMonitor reads these keys.
            health = await client.get_health()
            return stored, health

    stored, health = asyncio.run(scenario())
    assert isinstance(stored["id"], int) and stored["id"] > 0
    row = server.sql("SELECT avg_execution_time, throughput, success_rate, coordination_score, resource_cpu "
                     f"FROM agents.performance_metrics WHERE id = {stored['id']} AND agent_name = '{agent}'")
    assert row.split("|") == ["1.25", "3.5", "0.97", "0.9", "35.2"], row
    assert health["status"] == "healthy" and health["database"] == "connected"
    assert set(health["ml_models"]) == {"pattern_recognition", "performance_prediction", "anomaly_detection"}
    assert Health.from_dict(health).service == "learning-system"


def _normalise(value, volatile=()):
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in volatile else _normalise(v, volatile)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, volatile) for v in value]
    return value


def test_every_answer_has_the_rest_shape(server):
    """The client's dictionaries equal the REST shim's JSON bodies (docs/API.md) for the same data."""
    a, b, c = name("shape-a"), name("shape-b"), name("shape-c")
    task_type = name("review")
    client = SyncLearningSystemClient(server.address)
    for agent in (a, b, c):
        client.register_agent(name=agent, description=f"{agent} agent", tools=["Read", "Edit"], model="sonnet",
                              metadata={"team": "qa"})
    now = dt.datetime.now(dt.timezone.utc)
    batch = []
    for i in range(40):
        task = str(uuid.uuid4())
        for offset, agent in enumerate((a, b) if i % 2 else (a, c)):
            batch.append({"agent_name": agent, "task_id": task, "task_type": task_type,
                          "execution_time": 5.0 + offset * 3 + i % 4, "success": i % 7 != 0,
                          "error_message": None if i % 7 else f"timeout after {30 + i}s",
                          "resource_usage": {"cpu": 10.0 + offset, "memory_mb": 300.0, "tokens": 400.0 + i},
                          "timestamp": now - dt.timedelta(minutes=90 - i, seconds=offset * 20)})
    assert client.log_performances(batch) == {"accepted": 80, "duplicates": 0}
    client.heartbeat(a)
    client.retrain()

    pairs = [
        (client.list_agents(), server.rest("GET", "/agents/list"), ()),
        (client.get_agent_performance(a), server.rest("GET", f"/agents/{a}/performance"), ()),
        (client.get_agent_status(a), server.rest("GET", f"/agents/{a}/status"), ("seconds_since_seen", "reason")),
        (client.get_performance_analytics(), server.rest("GET", "/analytics/performance"), ("generated_at",)),
        (client.get_performance_analytics(2), server.rest("GET", "/analytics/performance?window_hours=2"), ("generated_at",)),
        (client.get_coordination_patterns(5), server.rest("GET", "/analytics/coordination?limit=5"), ()),
        (client.get_insights(50), server.rest("GET", "/analytics/insights?limit=50"), ()),
        (client.get_anomalies(), server.rest("GET", "/analytics/anomalies"), ()),
        (client.get_patterns(), server.rest("GET", "/patterns"), ()),
        (client.get_patterns(["failures", "collaboration"]), server.rest("GET", "/patterns?kinds=failures,collaboration"), ()),
        (client.predict_performance(a, task_type), server.rest("POST", "/predict", {"agent_name": a, "task_type": task_type}), ()),
        (client.get_recommendations(task_type, 3), server.rest("GET", f"/recommendations?task_type={task_type}&limit=3"), ()),
        (client.find_similar_agents(a, threshold=-1), server.rest("GET", f"/agents/{a}/similar?threshold=-1"), ()),
        (client.get_health(), server.rest("GET", "/health"), ("timestamp",)),
        (client.get_status(), server.rest("GET", "/status"), ("performance",)),
        (client.get_metrics(), server.rest("GET", "/metrics"),
         ("queries_per_sec", "memory_usage_mb", "cpu_usage_percent", "methods", "agent_response_time", "executions_ingested")),
    ]
    for mine, theirs, volatile in pairs:
        assert _normalise(mine, volatile) == _normalise(theirs, volatile)
    # The volatile members still have the REST types and keys.
    assert set(client.get_status()["performance"]) == {"queries_per_sec", "avg_latency_ms", "success_rate"}
    performance = client.get_agent_performance(a)
    assert performance["executions"] == 40 and performance["task_types"][0]["task_type"] == task_type
    assert client.get_agent_status(a)["seconds_since_seen"] is not None
    assert client.get_error_signatures(["timeout after 31s", "timeout after 99s"]) == \
        [client.get_patterns(["failures"])["failures"][0]["signature"]] * 2
    retrained = client.retrain()
    assert set(retrained) == {"ml_models", "training_time", "trained_on_executions"}
    assert retrained["trained_on_executions"] >= 80
    client.close()


def test_every_rpc_has_a_method_in_both_clients():
    service = pb.DESCRIPTOR.services_by_name["LearningSystem"]
    rpcs = {m.name for m in service.methods}
    assert rpcs == set(_calls.RESPONSES), "a new RPC needs a client method and a response type"
    snake = {"".join("_" + ch.lower() if ch.isupper() else ch for ch in rpc).lstrip("_") for rpc in rpcs}
    # The guide's names where it has one.
    renamed = {"log_execution": "log_performance", "log_executions": "log_performances",
               "get_performance_analytics": "get_performance_analytics", "predict_performance": "predict_performance"}
    for method in snake:
        wanted = renamed.get(method, method)
        assert callable(getattr(LearningSystemClient, wanted, None)), wanted
        assert callable(getattr(SyncLearningSystemClient, wanted, None)), wanted
    for guide_name in ("get_health", "get_status", "get_system_status", "list_agents", "register_agent", "log_performance",
                       "log_performances", "submit_metrics", "get_recommendations", "get_patterns", "predict_performance",
                       "get_insights", "get_learning_insights", "get_metrics", "get_performance_metrics",
                       "get_coordination_patterns", "get_agent_performance", "watch_insights"):
        assert callable(getattr(LearningSystemClient, guide_name)), guide_name
        assert callable(getattr(SyncLearningSystemClient, guide_name)), guide_name


def test_typed_views(server):
    agent, task_type = name("typed"), name("typed-task")
    with SyncLearningSystemClient(server.address) as client:
        from learning_system_client.types import Execution, MetricsSample

        for i in range(5):
            client.log_performance(Execution(agent_name=agent, task_type=task_type, execution_time=2.0 + i, success=True,
                                             resource_usage={"cpu": 5.0}))
        client.submit_metrics(agent, MetricsSample(response_time=0.5, task_type=task_type).to_dict())
        prediction = Prediction.from_dict(client.predict_performance(agent, task_type))
        ranked = Recommendation.list_from(client.get_recommendations(task_type))
    assert prediction.agent_name == agent and prediction.based_on_executions >= 5
    assert prediction.resources.cpu == pytest.approx(5.0)
    assert ranked[0].agent_name == agent and ranked[0].rank == 1
