"""One validation for both doors: the same bad input sent over REST and over gRPC is refused
with the same detail (the same field path and words), as 4xx and as the matching gRPC status.

usage: doors_suite.py HOST:PORT"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import grpc

if os.environ.get("LEARNING_TEST_PYGEN"):
    sys.path.insert(0, os.environ["LEARNING_TEST_PYGEN"])
from google.protobuf.timestamp_pb2 import Timestamp  # noqa: E402
from learning.v1 import learning_pb2 as pb  # noqa: E402
from learning.v1 import learning_pb2_grpc as rpc  # noqa: E402

ADDRESS = sys.argv[1]
BASE = f"http://{ADDRESS}"
STUB = rpc.LearningSystemStub(grpc.insecure_channel(ADDRESS))
FAILURES = []
GRPC_FOR_HTTP = {400: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "FAILED_PRECONDITION"}


def rest(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def call(method, message):
    try:
        getattr(STUB, method)(message, timeout=30)
        return "OK", ""
    except grpc.RpcError as error:
        return error.code().name, error.details()


def same(name, rest_request, grpc_request):
    status, body = rest(*rest_request)
    code, details = call(*grpc_request)
    detail = body.get("detail", "")
    ok = status in GRPC_FOR_HTTP and code == GRPC_FOR_HTTP[status] and detail == details and detail
    print(f"{'ok  ' if ok else 'FAIL'} {name}: REST {status} {detail!r} | gRPC {code} {details!r}")
    if not ok:
        FAILURES.append(name)


def q(**params):
    return "?" + urllib.parse.urlencode(params)


def main():
    status, _ = rest("POST", "/agents/register", {"name": "door-agent"})
    assert status in (200, 201), status
    E = pb.Execution
    executions = {
        "negative time": ({"agent_name": "a", "execution_time": -1, "success": True}, E(agent_name="a", execution_time=-1, success=True)),
        "bad agent name": ({"agent_name": "bad name", "success": True}, E(agent_name="bad name", success=True)),
        "missing agent name": ({"execution_time": 1, "success": True}, E(execution_time=1, success=True)),
        "bad task type": ({"agent_name": "a", "task_type": "x y", "success": True}, E(agent_name="a", task_type="x y", success=True)),
        "negative cpu": ({"agent_name": "a", "success": True, "resource_usage": {"cpu": -3}},
                         E(agent_name="a", success=True, resource_usage=pb.ResourceUsage(cpu=-3))),
        "long event id": ({"agent_name": "a", "success": True, "event_id": "x" * 200}, E(agent_name="a", success=True, event_id="x" * 200)),
        "NUL in error": ({"agent_name": "a", "success": True, "error_message": "a\u0000b"},
                         E(agent_name="a", success=True, error_message="a\u0000b")),
        "bad task id": ({"agent_name": "a", "success": True, "task_id": "x" * 200}, E(agent_name="a", success=True, task_id="x" * 200)),
        "future time": ({"agent_name": "a", "success": True, "timestamp": "2100-01-01T00:00:00Z"},
                        E(agent_name="a", success=True, timestamp=Timestamp(seconds=4102444800))),
    }
    for name, (body, message) in executions.items():
        same(f"batch: {name}", ("POST", "/executions/batch", {"executions": [body]}),
             ("LogExecutions", pb.LogExecutionsRequest(executions=[message])))
    same("register: bad name", ("POST", "/agents/register", {"name": "-x"}), ("RegisterAgent", pb.RegisterAgentRequest(name="-x")))
    same("register: empty tool", ("POST", "/agents/register", {"name": "door-b", "tools": [""]}),
         ("RegisterAgent", pb.RegisterAgentRequest(name="door-b", tools=[""])))
    same("heartbeat: unknown status", ("POST", "/agents/door-agent/heartbeat", {"status": "zombie"}),
         ("Heartbeat", pb.HeartbeatRequest(agent_name="door-agent", status="zombie")))
    same("heartbeat: unknown agent", ("POST", "/agents/nobody-here/heartbeat", {}),
         ("Heartbeat", pb.HeartbeatRequest(agent_name="nobody-here")))
    same("metrics: success rate above 1", ("POST", "/agents/door-agent/metrics", {"success_rate": 2}),
         ("SubmitMetrics", pb.SubmitMetricsRequest(agent_name="door-agent", metrics=pb.MetricsSample(success_rate=2))))
    same("predict: bad agent name", ("POST", "/predict", {"agent_name": "bad name", "task_type": "t"}),
         ("PredictPerformance", pb.PredictPerformanceRequest(agent_name="bad name", task_type="t")))
    same("predict: hour 25", ("POST", "/predict", {"agent_name": "door-agent", "task_type": "t", "hour": 25}),
         ("PredictPerformance", pb.PredictPerformanceRequest(agent_name="door-agent", task_type="t", hour=25)))
    same("recommendations: bad task type", ("GET", "/recommendations" + q(task_type="x y")),
         ("GetRecommendations", pb.GetRecommendationsRequest(task_type="x y")))
    same("recommendations: negative limit", ("GET", "/recommendations" + q(task_type="t", limit=-1)),
         ("GetRecommendations", pb.GetRecommendationsRequest(task_type="t", limit=-1)))
    same("similar: limit too large", ("GET", "/agents/door-agent/similar" + q(limit=100000)),
         ("FindSimilarAgents", pb.FindSimilarAgentsRequest(agent_name="door-agent", limit=100000)))
    same("similar: threshold 2", ("GET", "/agents/door-agent/similar" + q(threshold=2)),
         ("FindSimilarAgents", pb.FindSimilarAgentsRequest(agent_name="door-agent", threshold=2)))
    same("recommendations: speed weight 2", ("GET", "/recommendations" + q(task_type="t", speed_weight=2)),
         ("GetRecommendations", pb.GetRecommendationsRequest(task_type="t", speed_weight=2)))
    same("analytics: window past retention", ("GET", "/analytics/performance" + q(window_hours=100000)),
         ("GetPerformanceAnalytics", pb.GetPerformanceAnalyticsRequest(window_hours=100000)))
    same("anomalies: negative limit", ("GET", "/analytics/anomalies" + q(limit=-5)),
         ("GetAnomalies", pb.GetAnomaliesRequest(limit=-5)))
    same("agent status: unknown", ("GET", "/agents/nobody-here/status"),
         ("GetAgentStatus", pb.GetAgentStatusRequest(agent_name="nobody-here")))
    if FAILURES:
        print(f"{len(FAILURES)} case(s) differ between the doors")
        sys.exit(1)
    print("ALL CHECKS PASSED")


main()
