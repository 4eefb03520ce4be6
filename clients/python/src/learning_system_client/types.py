"""Typed views of the guide's dictionaries, for callers who prefer attributes to keys.

Inputs (:class:`Execution`, :class:`MetricsSample`) are accepted wherever a dictionary is;
answers become dataclasses with ``Prediction.from_dict(await client.predict_performance(...))``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Type, TypeVar

__all__ = [
    "Execution",
    "MetricsSample",
    "Health",
    "Prediction",
    "RecommendedResources",
    "Recommendation",
    "TaskTypePerformance",
    "AgentPerformance",
]

T = TypeVar("T")


def _from(cls: Type[T], data: Mapping[str, Any]) -> T:
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Execution:
    """One agent execution to log (the guide's ``performance_data``)."""

    agent_name: str
    task_type: Optional[str] = None
    execution_time: Optional[float] = None
    success: bool = False
    task_id: Optional[str] = None
    error_message: Optional[str] = None
    resource_usage: Dict[str, float] = field(default_factory=dict)
    timestamp: Optional[_dt.datetime] = None
    event_id: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The dictionary form the client sends."""
        return dataclasses.asdict(self)


@dataclass
class MetricsSample:
    """Measured metrics of an agent (the guide's PerformanceCollector)."""

    response_time: Optional[float] = None
    throughput: Optional[float] = None
    resource_usage: Dict[str, float] = field(default_factory=dict)
    success_rate: Optional[float] = None
    coordination_effectiveness: Optional[float] = None
    task_type: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The dictionary form ``submit_metrics`` takes."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class Health:
    """``get_health()``."""

    status: str
    service: str
    database: str
    agents_registered: int
    timestamp: Optional[str]
    ml_models: Dict[str, str]
    startup: Optional[Dict[str, Any]] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Health":
        return _from(cls, data)


@dataclass
class RecommendedResources:
    """``Prediction.resources``: what the agent is expected to use."""

    cpu: float
    memory_mb: float
    tokens: float


@dataclass
class Prediction:
    """``predict_performance()``."""

    agent_name: str
    task_type: str
    execution_time: float
    median_execution_time: float
    success_rate: float
    confidence: float
    interval_low: float
    interval_high: float
    resources: RecommendedResources
    low_confidence: bool
    based_on_executions: int
    basis: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Prediction":
        values = dict(data)
        values["resources"] = _from(RecommendedResources, data.get("resources") or {})
        return _from(cls, values)


@dataclass
class Recommendation:
    """One entry of ``get_recommendations()["recommendations"]``."""

    agent_name: str
    expected_success_rate: float
    predicted_execution_time: float
    confidence: float
    score: float
    reason: str
    rank: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Recommendation":
        return _from(cls, data)

    @classmethod
    def list_from(cls, answer: Mapping[str, Any]) -> List["Recommendation"]:
        """Every recommendation of a ``get_recommendations()`` answer."""
        return [cls.from_dict(item) for item in answer.get("recommendations", [])]


@dataclass
class TaskTypePerformance:
    """One entry of ``AgentPerformance.task_types``."""

    task_type: str
    executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    p90_execution_time: float
    avg_cpu: float
    avg_memory_mb: float
    avg_tokens: float


@dataclass
class AgentPerformance:
    """``get_agent_performance()``."""

    agent_name: str
    executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    task_types: List[TaskTypePerformance]
    last_execution: Optional[str]
    coordination_score: float

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AgentPerformance":
        values = dict(data)
        values["task_types"] = [_from(TaskTypePerformance, t) for t in data.get("task_types", [])]
        return _from(cls, values)
