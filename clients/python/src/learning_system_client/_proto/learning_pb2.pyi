import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ModelState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_STATE_UNSPECIFIED: _ClassVar[ModelState]
    MODEL_STATE_ACTIVE: _ClassVar[ModelState]
    MODEL_STATE_TRAINING: _ClassVar[ModelState]
    MODEL_STATE_INSUFFICIENT_DATA: _ClassVar[ModelState]
    MODEL_STATE_DISABLED: _ClassVar[ModelState]
    MODEL_STATE_FAILED: _ClassVar[ModelState]
MODEL_STATE_UNSPECIFIED: ModelState
MODEL_STATE_ACTIVE: ModelState
MODEL_STATE_TRAINING: ModelState
MODEL_STATE_INSUFFICIENT_DATA: ModelState
MODEL_STATE_DISABLED: ModelState
MODEL_STATE_FAILED: ModelState

class ResourceUsage(_message.Message):
    __slots__ = ("cpu", "memory_mb", "tokens", "other")
    class OtherEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    OTHER_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory_mb: float
    tokens: float
    other: _containers.ScalarMap[str, float]
    def __init__(self, cpu: _Optional[float] = ..., memory_mb: _Optional[float] = ..., tokens: _Optional[float] = ..., other: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("agent_name", "task_id", "task_type", "execution_time", "success", "error_message", "resource_usage", "timestamp", "event_id")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    task_id: str
    task_type: str
    execution_time: float
    success: bool
    error_message: str
    resource_usage: ResourceUsage
    timestamp: _timestamp_pb2.Timestamp
    event_id: str
    def __init__(self, agent_name: _Optional[str] = ..., task_id: _Optional[str] = ..., task_type: _Optional[str] = ..., execution_time: _Optional[float] = ..., success: _Optional[bool] = ..., error_message: _Optional[str] = ..., resource_usage: _Optional[_Union[ResourceUsage, _Mapping]] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class ModelStatus(_message.Message):
    __slots__ = ("name", "state", "state_name", "accuracy", "trained_on", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_NAME_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    TRAINED_ON_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: ModelState
    state_name: str
    accuracy: float
    trained_on: _timestamp_pb2.Timestamp
    version: str
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[ModelState, str]] = ..., state_name: _Optional[str] = ..., accuracy: _Optional[float] = ..., trained_on: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ...) -> None: ...

class GetHealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetHealthResponse(_message.Message):
    __slots__ = ("status", "service", "database", "agents_registered", "timestamp", "ml_models", "version", "uptime_seconds", "total_executions", "startup")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ML_MODELS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    STARTUP_FIELD_NUMBER: _ClassVar[int]
    status: str
    service: str
    database: str
    agents_registered: int
    timestamp: _timestamp_pb2.Timestamp
    ml_models: _containers.RepeatedCompositeFieldContainer[ModelStatus]
    version: str
    uptime_seconds: int
    total_executions: int
    startup: StartupProgress
    def __init__(self, status: _Optional[str] = ..., service: _Optional[str] = ..., database: _Optional[str] = ..., agents_registered: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ml_models: _Optional[_Iterable[_Union[ModelStatus, _Mapping]]] = ..., version: _Optional[str] = ..., uptime_seconds: _Optional[int] = ..., total_executions: _Optional[int] = ..., startup: _Optional[_Union[StartupProgress, _Mapping]] = ...) -> None: ...

class StartupProgress(_message.Message):
    __slots__ = ("phase", "rows_done", "rows_total", "percent", "elapsed_seconds")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ROWS_DONE_FIELD_NUMBER: _ClassVar[int]
    ROWS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    phase: str
    rows_done: int
    rows_total: int
    percent: float
    elapsed_seconds: float
    def __init__(self, phase: _Optional[str] = ..., rows_done: _Optional[int] = ..., rows_total: _Optional[int] = ..., percent: _Optional[float] = ..., elapsed_seconds: _Optional[float] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServicePerformance(_message.Message):
    __slots__ = ("queries_per_sec", "avg_latency_ms", "success_rate", "window_seconds")
    QUERIES_PER_SEC_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    queries_per_sec: float
    avg_latency_ms: float
    success_rate: float
    window_seconds: int
    def __init__(self, queries_per_sec: _Optional[float] = ..., avg_latency_ms: _Optional[float] = ..., success_rate: _Optional[float] = ..., window_seconds: _Optional[int] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("learning_system", "database", "agents_registered", "performance", "ml_models", "features", "startup")
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bool
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bool] = ...) -> None: ...
    LEARNING_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_FIELD_NUMBER: _ClassVar[int]
    ML_MODELS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    STARTUP_FIELD_NUMBER: _ClassVar[int]
    learning_system: str
    database: str
    agents_registered: int
    performance: ServicePerformance
    ml_models: _containers.RepeatedCompositeFieldContainer[ModelStatus]
    features: _containers.ScalarMap[str, bool]
    startup: StartupProgress
    def __init__(self, learning_system: _Optional[str] = ..., database: _Optional[str] = ..., agents_registered: _Optional[int] = ..., performance: _Optional[_Union[ServicePerformance, _Mapping]] = ..., ml_models: _Optional[_Iterable[_Union[ModelStatus, _Mapping]]] = ..., features: _Optional[_Mapping[str, bool]] = ..., startup: _Optional[_Union[StartupProgress, _Mapping]] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("name", "description", "tools", "model", "status", "last_seen", "registered_at", "source", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    model: str
    status: str
    last_seen: _timestamp_pb2.Timestamp
    registered_at: _timestamp_pb2.Timestamp
    source: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., status: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: str
    def __init__(self, status: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "total")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    total: int
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class GetAgentStatusRequest(_message.Message):
    __slots__ = ("agent_name",)
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    def __init__(self, agent_name: _Optional[str] = ...) -> None: ...

class AgentStatus(_message.Message):
    __slots__ = ("agent", "status", "executions_total", "recent_success_rate", "seconds_since_seen", "health_check_interval_seconds", "reason")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECENT_SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_SINCE_SEEN_FIELD_NUMBER: _ClassVar[int]
    HEALTH_CHECK_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    status: str
    executions_total: int
    recent_success_rate: float
    seconds_since_seen: float
    health_check_interval_seconds: int
    reason: str
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., status: _Optional[str] = ..., executions_total: _Optional[int] = ..., recent_success_rate: _Optional[float] = ..., seconds_since_seen: _Optional[float] = ..., health_check_interval_seconds: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RegisterAgentRequest(_message.Message):
    __slots__ = ("name", "description", "tools", "model", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    model: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterAgentResponse(_message.Message):
    __slots__ = ("agent", "created")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    created: bool
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("agent_name", "status")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    status: str
    def __init__(self, agent_name: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: Agent
    def __init__(self, agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class TaskTypePerformance(_message.Message):
    __slots__ = ("task_type", "executions", "success_rate", "avg_execution_time", "median_execution_time", "p90_execution_time", "avg_cpu", "avg_memory_mb", "avg_tokens")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    P90_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    AVG_CPU_FIELD_NUMBER: _ClassVar[int]
    AVG_MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    AVG_TOKENS_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    p90_execution_time: float
    avg_cpu: float
    avg_memory_mb: float
    avg_tokens: float
    def __init__(self, task_type: _Optional[str] = ..., executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., median_execution_time: _Optional[float] = ..., p90_execution_time: _Optional[float] = ..., avg_cpu: _Optional[float] = ..., avg_memory_mb: _Optional[float] = ..., avg_tokens: _Optional[float] = ...) -> None: ...

class GetAgentPerformanceRequest(_message.Message):
    __slots__ = ("agent_name",)
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    def __init__(self, agent_name: _Optional[str] = ...) -> None: ...

class AgentPerformance(_message.Message):
    __slots__ = ("agent_name", "executions", "success_rate", "avg_execution_time", "median_execution_time", "task_types", "last_execution", "coordination_score")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    LAST_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    task_types: _containers.RepeatedCompositeFieldContainer[TaskTypePerformance]
    last_execution: _timestamp_pb2.Timestamp
    coordination_score: float
    def __init__(self, agent_name: _Optional[str] = ..., executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., median_execution_time: _Optional[float] = ..., task_types: _Optional[_Iterable[_Union[TaskTypePerformance, _Mapping]]] = ..., last_execution: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., coordination_score: _Optional[float] = ...) -> None: ...

class LogExecutionRequest(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class LogExecutionResponse(_message.Message):
    __slots__ = ("id", "duplicate")
    ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    id: int
    duplicate: bool
    def __init__(self, id: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class LogExecutionsRequest(_message.Message):
    __slots__ = ("executions",)
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[Execution]
    def __init__(self, executions: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ...) -> None: ...

class LogExecutionsResponse(_message.Message):
    __slots__ = ("accepted", "duplicates")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    duplicates: int
    def __init__(self, accepted: _Optional[int] = ..., duplicates: _Optional[int] = ...) -> None: ...

class ExecutionAck(_message.Message):
    __slots__ = ("sequence", "id", "duplicate")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    id: int
    duplicate: bool
    def __init__(self, sequence: _Optional[int] = ..., id: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class MetricsSample(_message.Message):
    __slots__ = ("response_time", "throughput", "resource_usage", "success_rate", "coordination_effectiveness")
    RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    THROUGHPUT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_USAGE_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_EFFECTIVENESS_FIELD_NUMBER: _ClassVar[int]
    response_time: float
    throughput: float
    resource_usage: ResourceUsage
    success_rate: float
    coordination_effectiveness: float
    def __init__(self, response_time: _Optional[float] = ..., throughput: _Optional[float] = ..., resource_usage: _Optional[_Union[ResourceUsage, _Mapping]] = ..., success_rate: _Optional[float] = ..., coordination_effectiveness: _Optional[float] = ...) -> None: ...

class SubmitMetricsRequest(_message.Message):
    __slots__ = ("agent_name", "task_type", "metrics")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    task_type: str
    metrics: MetricsSample
    def __init__(self, agent_name: _Optional[str] = ..., task_type: _Optional[str] = ..., metrics: _Optional[_Union[MetricsSample, _Mapping]] = ...) -> None: ...

class SubmitMetricsResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class GetPerformanceAnalyticsRequest(_message.Message):
    __slots__ = ("window_hours",)
    WINDOW_HOURS_FIELD_NUMBER: _ClassVar[int]
    window_hours: int
    def __init__(self, window_hours: _Optional[int] = ...) -> None: ...

class AgentSummary(_message.Message):
    __slots__ = ("agent_name", "executions", "success_rate", "avg_execution_time", "median_execution_time")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    def __init__(self, agent_name: _Optional[str] = ..., executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., median_execution_time: _Optional[float] = ...) -> None: ...

class PerformanceAnalytics(_message.Message):
    __slots__ = ("total_executions", "success_rate", "avg_execution_time", "median_execution_time", "p90_execution_time", "agents", "task_types", "generated_at")
    TOTAL_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    P90_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_FIELD_NUMBER: _ClassVar[int]
    total_executions: int
    success_rate: float
    avg_execution_time: float
    median_execution_time: float
    p90_execution_time: float
    agents: _containers.RepeatedCompositeFieldContainer[AgentSummary]
    task_types: _containers.RepeatedCompositeFieldContainer[TaskTypePerformance]
    generated_at: _timestamp_pb2.Timestamp
    def __init__(self, total_executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., avg_execution_time: _Optional[float] = ..., median_execution_time: _Optional[float] = ..., p90_execution_time: _Optional[float] = ..., agents: _Optional[_Iterable[_Union[AgentSummary, _Mapping]]] = ..., task_types: _Optional[_Iterable[_Union[TaskTypePerformance, _Mapping]]] = ..., generated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCoordinationPatternsRequest(_message.Message):
    __slots__ = ("limit",)
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    limit: int
    def __init__(self, limit: _Optional[int] = ...) -> None: ...

class CollaborationPattern(_message.Message):
    __slots__ = ("agents", "shared_tasks", "success_rate_together", "expected_success_rate", "lift", "z_score", "effect")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    SHARED_TASKS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_TOGETHER_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    LIFT_FIELD_NUMBER: _ClassVar[int]
    Z_SCORE_FIELD_NUMBER: _ClassVar[int]
    EFFECT_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedScalarFieldContainer[str]
    shared_tasks: int
    success_rate_together: float
    expected_success_rate: float
    lift: float
    z_score: float
    effect: str
    def __init__(self, agents: _Optional[_Iterable[str]] = ..., shared_tasks: _Optional[int] = ..., success_rate_together: _Optional[float] = ..., expected_success_rate: _Optional[float] = ..., lift: _Optional[float] = ..., z_score: _Optional[float] = ..., effect: _Optional[str] = ...) -> None: ...

class HandoffPattern(_message.Message):
    __slots__ = ("from_agent", "to_agent", "count", "success_rate", "median_gap_seconds")
    FROM_AGENT_FIELD_NUMBER: _ClassVar[int]
    TO_AGENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_GAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    from_agent: str
    to_agent: str
    count: int
    success_rate: float
    median_gap_seconds: float
    def __init__(self, from_agent: _Optional[str] = ..., to_agent: _Optional[str] = ..., count: _Optional[int] = ..., success_rate: _Optional[float] = ..., median_gap_seconds: _Optional[float] = ...) -> None: ...

class CoordinationPatterns(_message.Message):
    __slots__ = ("pairs", "handoffs", "coordination_score", "multi_agent_tasks")
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_FIELD_NUMBER: _ClassVar[int]
    COORDINATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    MULTI_AGENT_TASKS_FIELD_NUMBER: _ClassVar[int]
    pairs: _containers.RepeatedCompositeFieldContainer[CollaborationPattern]
    handoffs: _containers.RepeatedCompositeFieldContainer[HandoffPattern]
    coordination_score: float
    multi_agent_tasks: int
    def __init__(self, pairs: _Optional[_Iterable[_Union[CollaborationPattern, _Mapping]]] = ..., handoffs: _Optional[_Iterable[_Union[HandoffPattern, _Mapping]]] = ..., coordination_score: _Optional[float] = ..., multi_agent_tasks: _Optional[int] = ...) -> None: ...

class Insight(_message.Message):
    __slots__ = ("id", "kind", "severity", "title", "detail", "agents", "task_type", "created_at", "score")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    severity: str
    title: str
    detail: str
    agents: _containers.RepeatedScalarFieldContainer[str]
    task_type: str
    created_at: _timestamp_pb2.Timestamp
    score: float
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., severity: _Optional[str] = ..., title: _Optional[str] = ..., detail: _Optional[str] = ..., agents: _Optional[_Iterable[str]] = ..., task_type: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., score: _Optional[float] = ...) -> None: ...

class GetInsightsRequest(_message.Message):
    __slots__ = ("limit", "kind")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    limit: int
    kind: str
    def __init__(self, limit: _Optional[int] = ..., kind: _Optional[str] = ...) -> None: ...

class GetInsightsResponse(_message.Message):
    __slots__ = ("insights",)
    INSIGHTS_FIELD_NUMBER: _ClassVar[int]
    insights: _containers.RepeatedCompositeFieldContainer[Insight]
    def __init__(self, insights: _Optional[_Iterable[_Union[Insight, _Mapping]]] = ...) -> None: ...

class GetPatternsRequest(_message.Message):
    __slots__ = ("kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class SchedulePattern(_message.Message):
    __slots__ = ("task_type", "best_hour", "worst_hour", "best_hour_median_time", "worst_hour_failure_rate")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    BEST_HOUR_FIELD_NUMBER: _ClassVar[int]
    WORST_HOUR_FIELD_NUMBER: _ClassVar[int]
    BEST_HOUR_MEDIAN_TIME_FIELD_NUMBER: _ClassVar[int]
    WORST_HOUR_FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    best_hour: int
    worst_hour: int
    best_hour_median_time: float
    worst_hour_failure_rate: float
    def __init__(self, task_type: _Optional[str] = ..., best_hour: _Optional[int] = ..., worst_hour: _Optional[int] = ..., best_hour_median_time: _Optional[float] = ..., worst_hour_failure_rate: _Optional[float] = ...) -> None: ...

class ResourceProfile(_message.Message):
    __slots__ = ("cluster", "agents", "avg_cpu", "avg_memory_mb", "avg_tokens", "label")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    AVG_CPU_FIELD_NUMBER: _ClassVar[int]
    AVG_MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    AVG_TOKENS_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    cluster: int
    agents: _containers.RepeatedScalarFieldContainer[str]
    avg_cpu: float
    avg_memory_mb: float
    avg_tokens: float
    label: str
    def __init__(self, cluster: _Optional[int] = ..., agents: _Optional[_Iterable[str]] = ..., avg_cpu: _Optional[float] = ..., avg_memory_mb: _Optional[float] = ..., avg_tokens: _Optional[float] = ..., label: _Optional[str] = ...) -> None: ...

class FailurePattern(_message.Message):
    __slots__ = ("signature", "count", "agents", "task_types", "example", "last_seen")
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    signature: str
    count: int
    agents: _containers.RepeatedScalarFieldContainer[str]
    task_types: _containers.RepeatedScalarFieldContainer[str]
    example: str
    last_seen: _timestamp_pb2.Timestamp
    def __init__(self, signature: _Optional[str] = ..., count: _Optional[int] = ..., agents: _Optional[_Iterable[str]] = ..., task_types: _Optional[_Iterable[str]] = ..., example: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPatternsResponse(_message.Message):
    __slots__ = ("collaboration", "performance", "resources", "failures", "handoffs")
    COLLABORATION_FIELD_NUMBER: _ClassVar[int]
    PERFORMANCE_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_FIELD_NUMBER: _ClassVar[int]
    collaboration: _containers.RepeatedCompositeFieldContainer[CollaborationPattern]
    performance: _containers.RepeatedCompositeFieldContainer[SchedulePattern]
    resources: _containers.RepeatedCompositeFieldContainer[ResourceProfile]
    failures: _containers.RepeatedCompositeFieldContainer[FailurePattern]
    handoffs: _containers.RepeatedCompositeFieldContainer[HandoffPattern]
    def __init__(self, collaboration: _Optional[_Iterable[_Union[CollaborationPattern, _Mapping]]] = ..., performance: _Optional[_Iterable[_Union[SchedulePattern, _Mapping]]] = ..., resources: _Optional[_Iterable[_Union[ResourceProfile, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[FailurePattern, _Mapping]]] = ..., handoffs: _Optional[_Iterable[_Union[HandoffPattern, _Mapping]]] = ...) -> None: ...

class PredictPerformanceRequest(_message.Message):
    __slots__ = ("agent_name", "task_type", "at", "hour", "collaborators")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    COLLABORATORS_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    task_type: str
    at: _timestamp_pb2.Timestamp
    hour: int
    collaborators: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_name: _Optional[str] = ..., task_type: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hour: _Optional[int] = ..., collaborators: _Optional[_Iterable[str]] = ...) -> None: ...

class RecommendedResources(_message.Message):
    __slots__ = ("cpu", "memory_mb", "tokens")
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MB_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    memory_mb: float
    tokens: float
    def __init__(self, cpu: _Optional[float] = ..., memory_mb: _Optional[float] = ..., tokens: _Optional[float] = ...) -> None: ...

class PerformancePrediction(_message.Message):
    __slots__ = ("agent_name", "task_type", "execution_time", "median_execution_time", "success_rate", "confidence", "interval_low", "interval_high", "resources", "low_confidence", "based_on_executions", "basis")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_LOW_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_HIGH_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    LOW_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    BASED_ON_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
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
    def __init__(self, agent_name: _Optional[str] = ..., task_type: _Optional[str] = ..., execution_time: _Optional[float] = ..., median_execution_time: _Optional[float] = ..., success_rate: _Optional[float] = ..., confidence: _Optional[float] = ..., interval_low: _Optional[float] = ..., interval_high: _Optional[float] = ..., resources: _Optional[_Union[RecommendedResources, _Mapping]] = ..., low_confidence: _Optional[bool] = ..., based_on_executions: _Optional[int] = ..., basis: _Optional[str] = ...) -> None: ...

class GetRecommendationsRequest(_message.Message):
    __slots__ = ("task_type", "limit", "speed_weight", "at")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SPEED_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    limit: int
    speed_weight: float
    at: _timestamp_pb2.Timestamp
    def __init__(self, task_type: _Optional[str] = ..., limit: _Optional[int] = ..., speed_weight: _Optional[float] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Recommendation(_message.Message):
    __slots__ = ("agent_name", "expected_success_rate", "predicted_execution_time", "confidence", "score", "reason", "rank")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    expected_success_rate: float
    predicted_execution_time: float
    confidence: float
    score: float
    reason: str
    rank: int
    def __init__(self, agent_name: _Optional[str] = ..., expected_success_rate: _Optional[float] = ..., predicted_execution_time: _Optional[float] = ..., confidence: _Optional[float] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ..., rank: _Optional[int] = ...) -> None: ...

class GetRecommendationsResponse(_message.Message):
    __slots__ = ("task_type", "recommendations")
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATIONS_FIELD_NUMBER: _ClassVar[int]
    task_type: str
    recommendations: _containers.RepeatedCompositeFieldContainer[Recommendation]
    def __init__(self, task_type: _Optional[str] = ..., recommendations: _Optional[_Iterable[_Union[Recommendation, _Mapping]]] = ...) -> None: ...

class FindSimilarAgentsRequest(_message.Message):
    __slots__ = ("agent_name", "limit", "threshold")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    limit: int
    threshold: float
    def __init__(self, agent_name: _Optional[str] = ..., limit: _Optional[int] = ..., threshold: _Optional[float] = ...) -> None: ...

class SimilarAgent(_message.Message):
    __slots__ = ("agent_name", "similarity")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    similarity: float
    def __init__(self, agent_name: _Optional[str] = ..., similarity: _Optional[float] = ...) -> None: ...

class FindSimilarAgentsResponse(_message.Message):
    __slots__ = ("agent_name", "similar")
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SIMILAR_FIELD_NUMBER: _ClassVar[int]
    agent_name: str
    similar: _containers.RepeatedCompositeFieldContainer[SimilarAgent]
    def __init__(self, agent_name: _Optional[str] = ..., similar: _Optional[_Iterable[_Union[SimilarAgent, _Mapping]]] = ...) -> None: ...

class GetAnomaliesRequest(_message.Message):
    __slots__ = ("limit", "agent_name", "since")
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    limit: int
    agent_name: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, limit: _Optional[int] = ..., agent_name: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Anomaly(_message.Message):
    __slots__ = ("id", "kind", "agent_name", "task_type", "score", "threshold", "observed", "expected", "execution_id", "detected_at", "detail", "execution_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    agent_name: str
    task_type: str
    score: float
    threshold: float
    observed: float
    expected: float
    execution_id: int
    detected_at: _timestamp_pb2.Timestamp
    detail: str
    execution_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., agent_name: _Optional[str] = ..., task_type: _Optional[str] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., observed: _Optional[float] = ..., expected: _Optional[float] = ..., execution_id: _Optional[int] = ..., detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ..., execution_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetAnomaliesResponse(_message.Message):
    __slots__ = ("anomalies",)
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    def __init__(self, anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MethodMetrics(_message.Message):
    __slots__ = ("method", "requests", "errors", "avg_latency_ms", "p99_latency_ms")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    AVG_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    P99_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    method: str
    requests: int
    errors: int
    avg_latency_ms: float
    p99_latency_ms: float
    def __init__(self, method: _Optional[str] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., avg_latency_ms: _Optional[float] = ..., p99_latency_ms: _Optional[float] = ...) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("queries_per_sec", "prediction_accuracy", "training_time", "agent_response_time", "memory_usage_mb", "cpu_usage_percent", "methods", "executions_ingested")
    QUERIES_PER_SEC_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TIME_FIELD_NUMBER: _ClassVar[int]
    AGENT_RESPONSE_TIME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_MB_FIELD_NUMBER: _ClassVar[int]
    CPU_USAGE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_INGESTED_FIELD_NUMBER: _ClassVar[int]
    queries_per_sec: float
    prediction_accuracy: float
    training_time: float
    agent_response_time: float
    memory_usage_mb: float
    cpu_usage_percent: float
    methods: _containers.RepeatedCompositeFieldContainer[MethodMetrics]
    executions_ingested: int
    def __init__(self, queries_per_sec: _Optional[float] = ..., prediction_accuracy: _Optional[float] = ..., training_time: _Optional[float] = ..., agent_response_time: _Optional[float] = ..., memory_usage_mb: _Optional[float] = ..., cpu_usage_percent: _Optional[float] = ..., methods: _Optional[_Iterable[_Union[MethodMetrics, _Mapping]]] = ..., executions_ingested: _Optional[int] = ...) -> None: ...

class WatchInsightsRequest(_message.Message):
    __slots__ = ("kinds", "agent_name")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    agent_name: str
    def __init__(self, kinds: _Optional[_Iterable[str]] = ..., agent_name: _Optional[str] = ...) -> None: ...

class InsightEvent(_message.Message):
    __slots__ = ("insight", "anomaly")
    INSIGHT_FIELD_NUMBER: _ClassVar[int]
    ANOMALY_FIELD_NUMBER: _ClassVar[int]
    insight: Insight
    anomaly: Anomaly
    def __init__(self, insight: _Optional[_Union[Insight, _Mapping]] = ..., anomaly: _Optional[_Union[Anomaly, _Mapping]] = ...) -> None: ...

class RetrainRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetErrorSignaturesRequest(_message.Message):
    __slots__ = ("error_messages",)
    ERROR_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    error_messages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, error_messages: _Optional[_Iterable[str]] = ...) -> None: ...

class GetErrorSignaturesResponse(_message.Message):
    __slots__ = ("signatures",)
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    signatures: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, signatures: _Optional[_Iterable[str]] = ...) -> None: ...

class RetrainResponse(_message.Message):
    __slots__ = ("ml_models", "training_time", "trained_on_executions")
    ML_MODELS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_TIME_FIELD_NUMBER: _ClassVar[int]
    TRAINED_ON_EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    ml_models: _containers.RepeatedCompositeFieldContainer[ModelStatus]
    training_time: float
    trained_on_executions: int
    def __init__(self, ml_models: _Optional[_Iterable[_Union[ModelStatus, _Mapping]]] = ..., training_time: _Optional[float] = ..., trained_on_executions: _Optional[int] = ...) -> None: ...
