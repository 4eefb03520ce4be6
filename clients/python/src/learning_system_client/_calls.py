"""One description per RPC, shared by the asyncio and the synchronous client: the request built
from the guide's arguments, the response type, how the answer becomes the guide's dictionary and
whether a retry is safe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

from . import _convert as C
from ._proto import learning_pb2 as pb

SERVICE = "learning.v1.LearningSystem"

# Retry modes: every retryable status, only RESOURCE_EXHAUSTED (refused before anything was
# stored), or none.
RETRY_ALL = "all"
RETRY_REFUSED = "refused"

RESPONSES = {
    "GetHealth": pb.GetHealthResponse,
    "GetStatus": pb.GetStatusResponse,
    "ListAgents": pb.ListAgentsResponse,
    "GetAgentStatus": pb.AgentStatus,
    "GetAgentPerformance": pb.AgentPerformance,
    "RegisterAgent": pb.RegisterAgentResponse,
    "Heartbeat": pb.HeartbeatResponse,
    "LogExecution": pb.LogExecutionResponse,
    "LogExecutions": pb.LogExecutionsResponse,
    "StreamExecutions": pb.LogExecutionsResponse,
    "IngestExecutions": pb.ExecutionAck,
    "SubmitMetrics": pb.SubmitMetricsResponse,
    "GetPerformanceAnalytics": pb.PerformanceAnalytics,
    "GetCoordinationPatterns": pb.CoordinationPatterns,
    "GetInsights": pb.GetInsightsResponse,
    "GetPatterns": pb.GetPatternsResponse,
    "PredictPerformance": pb.PerformancePrediction,
    "GetRecommendations": pb.GetRecommendationsResponse,
    "GetMetrics": pb.GetMetricsResponse,
    "FindSimilarAgents": pb.FindSimilarAgentsResponse,
    "GetAnomalies": pb.GetAnomaliesResponse,
    "WatchInsights": pb.InsightEvent,
    "Retrain": pb.RetrainResponse,
    "GetErrorSignatures": pb.GetErrorSignaturesResponse,
}


def path(method: str) -> str:
    """The RPC's HTTP/2 path."""
    return f"/{SERVICE}/{method}"


@dataclass
class Call:
    """One unary call to make."""

    method: str
    request: Any
    convert: Callable[[Any], Any]
    retry: str = RETRY_ALL


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string")
    return value


def _count(value: Optional[int], field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{field} must be a non-negative integer")
    return value


def get_health() -> Call:
    return Call("GetHealth", pb.GetHealthRequest(), C.health)


def get_status() -> Call:
    return Call("GetStatus", pb.GetStatusRequest(), C.status)


def list_agents(status: Optional[str]) -> Call:
    return Call("ListAgents", pb.ListAgentsRequest(status=status or ""), C.message_to_dict)


def get_agent_status(agent_name: str) -> Call:
    return Call("GetAgentStatus", pb.GetAgentStatusRequest(agent_name=_name(agent_name, "agent_name")), C.message_to_dict)


def get_agent_performance(agent_name: str) -> Call:
    request = pb.GetAgentPerformanceRequest(agent_name=_name(agent_name, "agent_name"))
    return Call("GetAgentPerformance", request, C.message_to_dict)


def register_agent(agent_data: Optional[Mapping[str, Any]], fields: Mapping[str, Any]) -> Call:
    merged = dict(agent_data or {})
    merged.update({k: v for k, v in fields.items() if v is not None})
    _name(merged.get("name"), "agent_data.name")
    return Call("RegisterAgent", C.register_request(merged), C.message_to_dict)


def heartbeat(agent_name: str, status: Optional[str]) -> Call:
    request = pb.HeartbeatRequest(agent_name=_name(agent_name, "agent_name"), status=status or "")
    return Call("Heartbeat", request, C.message_to_dict)


def log_performance(performance_data: Any) -> Call:
    data = C.with_event_id(performance_data)
    request = pb.LogExecutionRequest(execution=C.execution(data))
    return Call("LogExecution", request, C.message_to_dict)


def log_performances(executions: Iterable[Any]) -> Call:
    if isinstance(executions, Mapping):
        raise ValueError("log_performances takes a list of executions; use log_performance for one")
    request = pb.LogExecutionsRequest()
    for index, item in enumerate(executions):
        request.executions.append(C.execution(C.with_event_id(item), f"executions[{index}]"))
    return Call("LogExecutions", request, C.message_to_dict)


def submit_metrics(agent_name: str, metrics: Mapping[str, Any], task_type: Optional[str]) -> Call:
    request = C.metrics_request(_name(agent_name, "agent_name"), metrics, task_type)
    return Call("SubmitMetrics", request, C.message_to_dict, RETRY_REFUSED)


def get_performance_analytics(window_hours: Optional[int]) -> Call:
    request = pb.GetPerformanceAnalyticsRequest(window_hours=_count(window_hours, "window_hours"))
    return Call("GetPerformanceAnalytics", request, C.message_to_dict)


def get_coordination_patterns(limit: Optional[int]) -> Call:
    request = pb.GetCoordinationPatternsRequest(limit=_count(limit, "limit"))
    return Call("GetCoordinationPatterns", request, C.message_to_dict)


def get_insights(limit: Optional[int], kind: Optional[str]) -> Call:
    request = pb.GetInsightsRequest(limit=_count(limit, "limit"), kind=kind or "")
    return Call("GetInsights", request, C.message_to_dict)


def get_patterns(kinds: Optional[Iterable[str]]) -> Call:
    return Call("GetPatterns", pb.GetPatternsRequest(kinds=C.names(kinds, "kinds")), C.patterns)


def predict_performance(agent_name: str, task_type: str, at: Any, hour: Optional[int],
                        collaborators: Optional[Iterable[str]]) -> Call:
    request = pb.PredictPerformanceRequest(
        agent_name=_name(agent_name, "agent_name"),
        task_type=_name(task_type, "task_type"),
        collaborators=C.names(collaborators, "collaborators"),
    )
    if at is not None:
        C.set_time(request.at, at, "at")
    if hour is not None:
        if isinstance(hour, bool) or not isinstance(hour, int):
            raise ValueError("hour must be an integer 0..23")
        request.hour = hour
    return Call("PredictPerformance", request, C.message_to_dict)


def get_recommendations(task_type: str, limit: Optional[int], speed_weight: Optional[float], at: Any) -> Call:
    request = pb.GetRecommendationsRequest(task_type=_name(task_type, "task_type"), limit=_count(limit, "limit"))
    if speed_weight is not None:
        request.speed_weight = float(speed_weight)
    if at is not None:
        C.set_time(request.at, at, "at")
    return Call("GetRecommendations", request, C.message_to_dict)


def get_metrics() -> Call:
    return Call("GetMetrics", pb.GetMetricsRequest(), C.message_to_dict)


def find_similar_agents(agent_name: str, limit: Optional[int], threshold: Optional[float]) -> Call:
    request = pb.FindSimilarAgentsRequest(agent_name=_name(agent_name, "agent_name"), limit=_count(limit, "limit"))
    if threshold is not None:
        request.threshold = float(threshold)
    return Call("FindSimilarAgents", request, C.message_to_dict)


def get_anomalies(limit: Optional[int], agent_name: Optional[str], since: Any) -> Call:
    request = pb.GetAnomaliesRequest(limit=_count(limit, "limit"), agent_name=agent_name or "")
    if since is not None:
        C.set_time(request.since, since, "since")
    return Call("GetAnomalies", request, C.message_to_dict)


def retrain(as_of: Any) -> Call:
    request = pb.RetrainRequest()
    if as_of is not None:
        C.set_time(request.as_of, as_of, "as_of")
    return Call("Retrain", request, C.retrained)


def get_error_signatures(error_messages: Iterable[str]) -> Call:
    if isinstance(error_messages, str):
        raise ValueError("error_messages must be a list of strings")
    request = pb.GetErrorSignaturesRequest(error_messages=[str(m) for m in error_messages])
    return Call("GetErrorSignatures", request, lambda r: list(r.signatures))


def watch_request(kinds: Optional[Iterable[str]], agent_name: Optional[str]) -> pb.WatchInsightsRequest:
    return pb.WatchInsightsRequest(kinds=C.names(kinds, "kinds"), agent_name=agent_name or "")
