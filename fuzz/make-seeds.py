#!/usr/bin/env python3
"""Writes the seed corpora of the end-to-end harnesses: fuzz/corpus/rest (FuzzRESTBodies) and
fuzz/corpus/rpc (FuzzRPCMethods). Each seed's first byte picks the route or method the way the
harness does (its index in the sorted list); the rest is a valid request of it, or a near miss.

usage: PYTHONPATH=<generated learning_pb2 dir> python3 fuzz/make-seeds.py
(the Python venv of the tests has protobuf; LEARNING_TEST_PYGEN is the generated code's directory)
"""
import json
import os
import pathlib

from google.protobuf import json_format
from learning.v1 import learning_pb2

ROOT = pathlib.Path(__file__).resolve().parent


def write(corpus, name, data):
    directory = ROOT / "corpus" / corpus
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def near_misses(value):
    """Valid JSON with one thing wrong: a member dropped, a string where a number goes, and so on."""
    if not isinstance(value, dict) or not value:
        return []
    keys = list(value)
    first = keys[0]
    dropped = {k: v for k, v in value.items() if k != first}
    retyped = dict(value)
    retyped[first] = 12 if isinstance(value[first], str) else "x"
    nulled = dict(value)
    nulled[first] = None
    extra = dict(value)
    extra["unknown_member"] = True
    return [("dropped", dropped), ("retyped", retyped), ("null", nulled), ("extra", extra)]


def rest_seeds():
    """One seed per POST route from the request examples of docs/openapi.json, plus near misses."""
    document = json.loads((ROOT.parent / "docs" / "openapi.json").read_text())
    # The harness's order: EndpointCatalogue's POST routes sorted by path.
    paths = sorted(path for path, operations in document["paths"].items() if "post" in operations)
    for index, path in enumerate(paths):
        example = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        slug = path.strip("/").replace("/", "-").replace("{", "").replace("}", "")
        body = json.dumps(example).encode()
        write("rest", f"{index:02d}-{slug}", bytes([index]) + body)
        write("rest", f"{index:02d}-{slug}-truncated", bytes([index]) + body[: len(body) // 2])
        for kind, value in near_misses(example):
            write("rest", f"{index:02d}-{slug}-{kind}", bytes([index]) + json.dumps(value).encode())
        if path == "/executions/batch":
            execution = example["executions"][0]
            many = {"executions": [dict(execution, event_id=f"e{i}", task_id=execution["task_id"]) for i in range(20)]}
            write("rest", f"{index:02d}-{slug}-twenty", bytes([index]) + json.dumps(many).encode())
            write("rest", f"{index:02d}-{slug}-empty", bytes([index]) + b'{"executions": []}')
        if path == "/v1/traces":
            otlp = (ROOT / "corpus" / "otlp" / "protobuf").read_bytes()[2:]
            count = len(paths)
            write("rest", f"{index:02d}-{slug}-protobuf", bytes([index + count]) + otlp)
            gzip = (ROOT / "corpus" / "otlp" / "gzip").read_bytes()[2:]
            write("rest", f"{index:02d}-{slug}-protobuf-gzip", bytes([index + 3 * count]) + gzip)
    return paths


EXECUTION = {
    "agent_name": "director", "task_id": "120f4156-2bf0-4841-9994-cd8c5d83e6cf", "task_type": "strategic_planning",
    "execution_time": 42.5, "success": False, "error_message": "timeout after 30s",
    "resource_usage": {"cpu": 35.2, "memory_mb": 512, "tokens": 1200, "other": {"gpu": 1}},
    "timestamp": "2025-01-25T10:29:41Z", "event_id": "evt-1",
}

REQUESTS = {
    "FindSimilarAgents": {"agent_name": "director", "limit": 5, "threshold": 0.5},
    "GetAgentPerformance": {"agent_name": "director"},
    "GetAgentStatus": {"agent_name": "director"},
    "GetAnomalies": {"limit": 10, "agent_name": "director", "since": "2025-01-20T00:00:00Z"},
    "GetCoordinationPatterns": {"limit": 10},
    "GetErrorSignatures": {"error_messages": ["timeout after 30s", "KeyError: 'user_id' at line 42"]},
    "GetHealth": {},
    "GetInsights": {"limit": 5, "kind": "anomaly"},
    "GetMetrics": {},
    "GetPatterns": {"kinds": ["collaboration", "failures"]},
    "GetPerformanceAnalytics": {"window_hours": 24},
    "GetRecommendations": {"task_type": "strategic_planning", "limit": 3, "speed_weight": 0.5},
    "GetStatus": {},
    "Heartbeat": {"agent_name": "director", "status": "healthy"},
    "ListAgents": {"status": "healthy"},
    "LogExecution": {"execution": EXECUTION},
    "LogExecutions": {"executions": [EXECUTION, dict(EXECUTION, event_id="evt-2", success=True, error_message="")]},
    "PredictPerformance": {"agent_name": "director", "task_type": "strategic_planning", "hour": 10,
                           "collaborators": ["architect"], "at": "2025-01-25T10:00:00Z"},
    "RegisterAgent": {"name": "architect", "description": "designs", "tools": ["Read", "Task"], "model": "opus",
                      "metadata": {"team": "core"}},
    "Retrain": {"as_of": "2025-01-30T00:00:00Z"},
    "SubmitMetrics": {"agent_name": "director", "task_type": "strategic_planning",
                      "metrics": {"response_time": 1.25, "throughput": 3.5, "resource_usage": {"cpu": 35.2},
                                  "success_rate": 0.97, "coordination_effectiveness": 0.9}},
    "WatchInsights": {"kinds": ["anomaly"], "agent_name": "director"},
}
# Near misses: each valid, each with one value the service refuses.
NEAR = {
    "FindSimilarAgents": {"agent_name": "director", "limit": -1},
    "GetAgentStatus": {"agent_name": "no such agent/"},
    "GetPatterns": {"kinds": ["collaboration", "colaboration"]},
    "LogExecution": {"execution": dict(EXECUTION, execution_time=-1)},
    "LogExecutions": {"executions": [EXECUTION, dict(EXECUTION, agent_name="")]},
    "PredictPerformance": {"agent_name": "director", "task_type": "", "hour": 25},
    "RegisterAgent": {"name": "a" * 300},
    "Retrain": {"as_of": "1900-01-01T00:00:00Z"},
    "SubmitMetrics": {"agent_name": "director", "metrics": {"success_rate": 7}},
    "GetRecommendations": {"task_type": "strategic_planning", "limit": 100000},
}
STREAMED = {"IngestExecutions", "StreamExecutions"}


def framed(messages):
    """The harness's stream encoding: a length byte, then the message."""
    out = b""
    for message in messages:
        assert len(message) < 256
        out += bytes([len(message)]) + message
    return out


def rpc_seeds():
    service = learning_pb2.DESCRIPTOR.services_by_name["LearningSystem"]
    paths = sorted([f"/learning.v1.LearningSystem/{m.name}" for m in service.methods]
                   + ["/opentelemetry.proto.collector.trace.v1.TraceService/Export"])
    for index, path in enumerate(paths):
        name = path.rsplit("/", 1)[1]
        if name == "Export":
            write("rpc", f"{index:02d}-{name}", bytes([index]) + (ROOT / "corpus" / "otlp" / "protobuf").read_bytes()[2:])
            continue
        method = service.methods_by_name[name]
        if name in STREAMED:
            one = json_format.ParseDict(EXECUTION, learning_pb2.Execution()).SerializeToString()
            two = json_format.ParseDict(dict(EXECUTION, event_id="evt-9", success=True),
                                        learning_pb2.Execution()).SerializeToString()
            bad = json_format.ParseDict(dict(EXECUTION, task_type="", execution_time=-3),
                                        learning_pb2.Execution()).SerializeToString()
            write("rpc", f"{index:02d}-{name}", bytes([index]) + framed([one, two, one]))
            write("rpc", f"{index:02d}-{name}-bad-second", bytes([index]) + framed([one, bad]))
            continue
        request_class = getattr(learning_pb2, method.input_type.name)
        for suffix, value in (("", REQUESTS[name]), ("-near", NEAR.get(name))):
            if value is None:
                continue
            body = json_format.ParseDict(value, request_class()).SerializeToString()
            write("rpc", f"{index:02d}-{name}{suffix}", bytes([index]) + body)
            if body and not suffix:
                write("rpc", f"{index:02d}-{name}-truncated", bytes([index]) + body[:-1])
    return paths


if __name__ == "__main__":
    rest = rest_seeds()
    rpc = rpc_seeds()
    print(f"rest: {len(rest)} routes; rpc: {len(rpc)} methods; in {ROOT / 'corpus'}")
