"""Conversions between the guide's dictionaries (the REST JSON shapes) and the protobuf messages.

Responses become exactly the JSON bodies the REST endpoints answer (docs/API.md): ``snake_case``
keys, every key present, unknown optional values ``None``, times as ISO 8601 UTC strings to the
second, ``ml_models`` as ``{name: state}``. Requests accept the dictionaries the guide builds
(``performance_data``, ``metrics``, ``agent_data``); a key the service does not know is refused
with ``ValueError`` rather than dropped.
"""

from __future__ import annotations

import datetime as _dt
import math
import uuid
from typing import Any, Dict, Iterable, List, Mapping, Optional

from google.protobuf import timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor

from ._proto import learning_pb2 as pb

_UTC = _dt.timezone.utc

EXECUTION_KEYS = frozenset(
    {
        "agent_name",
        "task_id",
        "task_type",
        "execution_time",
        "success",
        "error_message",
        "resource_usage",
        "timestamp",
        "event_id",
    }
)
METRICS_KEYS = frozenset(
    {"task_type", "response_time", "throughput", "resource_usage", "success_rate", "coordination_effectiveness"}
)
AGENT_KEYS = frozenset({"name", "description", "tools", "model", "metadata"})


# ---------------------------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------------------------


def iso(ts: timestamp_pb2.Timestamp) -> str:
    """A Timestamp as the REST shim prints it: UTC, whole seconds, ``Z``."""
    return _dt.datetime.fromtimestamp(ts.seconds, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_datetime(value: Any, field: str) -> _dt.datetime:
    """A time given as a datetime (naive is UTC), an RFC 3339 / ISO 8601 string or Unix seconds."""
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a time, not a boolean")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{field} must be a finite number of seconds")
        return _dt.datetime.fromtimestamp(value, _UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{field} is not an ISO 8601 time: {value!r}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)
    raise ValueError(f"{field} must be a datetime, an ISO 8601 string or Unix seconds, not {type(value).__name__}")


def set_time(target: timestamp_pb2.Timestamp, value: Any, field: str) -> None:
    """Fills a Timestamp from any accepted time form."""
    moment = to_datetime(value, field)
    target.FromDatetime(moment.astimezone(_UTC).replace(tzinfo=None))


# ---------------------------------------------------------------------------------------------
# Messages to dictionaries
# ---------------------------------------------------------------------------------------------


def _is_repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return field.label == FieldDescriptor.LABEL_REPEATED


def _is_map(field: FieldDescriptor) -> bool:
    return (
        field.type == FieldDescriptor.TYPE_MESSAGE
        and field.message_type is not None
        and field.message_type.GetOptions().map_entry
    )


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return iso(value)
        return message_to_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number else value
    return value


def message_to_dict(message: Any) -> Dict[str, Any]:
    """Any response message as its REST JSON object: every field, proto names, presence fields
    (``oneof has_x``) and unset times as ``None``."""
    out: Dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        name = field.name
        oneof = field.containing_oneof
        if oneof is not None and oneof.name.startswith("has_") and len(oneof.fields) == 1:
            out[name] = getattr(message, name) if message.HasField(name) else None
            continue
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[name] = {key: _value(value_field, item) for key, item in getattr(message, name).items()}
        elif _is_repeated(field):
            out[name] = [_value(field, item) for item in getattr(message, name)]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if field.message_type.full_name == "google.protobuf.Timestamp":
                out[name] = iso(getattr(message, name)) if message.HasField(name) else None
            else:
                out[name] = message_to_dict(getattr(message, name))
        else:
            out[name] = _value(field, getattr(message, name))
    return out


def model_states(models: Iterable[Any]) -> Dict[str, str]:
    """``ml_models`` as the guide shows it: ``{"pattern_recognition": "active", ...}``."""
    return {model.name: model.state_name for model in models}


def _startup(message: Any, out: Dict[str, Any]) -> Dict[str, Any]:
    if message.HasField("startup"):
        s = message.startup
        out["startup"] = {
            "phase": s.phase,
            "rows_done": s.rows_done,
            "rows_total": s.rows_total,
            "percent": round(s.percent, 1),
            "elapsed_seconds": round(s.elapsed_seconds, 1),
        }
    return out


def health(message: pb.GetHealthResponse) -> Dict[str, Any]:
    """``GET /health``."""
    return _startup(
        message,
        {
            "status": message.status,
            "service": message.service,
            "database": message.database,
            "agents_registered": message.agents_registered,
            "timestamp": iso(message.timestamp) if message.HasField("timestamp") else None,
            "ml_models": model_states(message.ml_models),
        },
    )


def status(message: pb.GetStatusResponse) -> Dict[str, Any]:
    """``GET /status``, rounded as the guide prints it (``success_rate`` in percent)."""
    p = message.performance
    return _startup(
        message,
        {
            "learning_system": message.learning_system,
            "database": message.database,
            "agents_registered": message.agents_registered,
            "performance": {
                "queries_per_sec": round(p.queries_per_sec, 1),
                "avg_latency_ms": round(p.avg_latency_ms, 2),
                "success_rate": round(p.success_rate, 2),
            },
            "ml_models": model_states(message.ml_models),
        },
    )


def patterns(message: pb.GetPatternsResponse) -> Dict[str, Any]:
    """``GET /patterns``: the guide's four families."""
    full = message_to_dict(message)
    return {key: full[key] for key in ("collaboration", "performance", "resources", "failures")}


def retrained(message: pb.RetrainResponse) -> Dict[str, Any]:
    """``POST /ml/retrain``."""
    return {
        "ml_models": model_states(message.ml_models),
        "training_time": message.training_time,
        "trained_on_executions": message.trained_on_executions,
    }


def insight_event(message: pb.InsightEvent) -> Dict[str, Any]:
    """One event of the live stream: ``{"insight": {...}}`` or ``{"anomaly": {...}}``."""
    which = message.WhichOneof("event")
    if which is None:
        return {}
    return {which: message_to_dict(getattr(message, which))}


# ---------------------------------------------------------------------------------------------
# Dictionaries to messages
# ---------------------------------------------------------------------------------------------


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field} must be a number, not {type(value).__name__}")
    return float(value)


def _unknown(data: Mapping[str, Any], allowed: frozenset, what: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ValueError(f"{what}: unknown key(s) {', '.join(map(repr, extra))} (known: {', '.join(sorted(allowed))})")


def fill_resource_usage(target: pb.ResourceUsage, usage: Optional[Mapping[str, Any]], field: str) -> None:
    """``resource_usage``: ``cpu``, ``memory_mb``, ``tokens`` and any other numeric resource by name."""
    if usage is None:
        return
    if not isinstance(usage, Mapping):
        raise ValueError(f"{field} must be a mapping, not {type(usage).__name__}")
    for key, value in usage.items():
        if value is None:
            continue
        number = _number(value, f"{field}.{key}")
        if key == "cpu":
            target.cpu = number
        elif key == "memory_mb":
            target.memory_mb = number
        elif key == "tokens":
            target.tokens = number
        else:
            target.other[str(key)] = number


def new_event_id() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def execution(data: Any, field: str = "execution") -> pb.Execution:
    """The guide's ``performance_data`` (a mapping, or an :class:`~learning_system_client.types.Execution`)
    as an ``Execution``. ``None`` values are left unset; ``event_id`` must already be there
    (see :func:`with_event_id`)."""
    if hasattr(data, "to_dict") and not isinstance(data, Mapping):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        raise ValueError(f"{field} must be a mapping, not {type(data).__name__}")
    _unknown(data, EXECUTION_KEYS, field)
    message = pb.Execution()
    for key in ("agent_name", "task_id", "task_type", "error_message", "event_id"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            if key == "task_id" and (isinstance(value, uuid.UUID) or (isinstance(value, int) and not isinstance(value, bool))):
                # A task's own id, as the guide's tracker passes it (task_data.get("id")): the
                # server stores an id that is not a UUID as its name-based UUID, keeping the id.
                value = str(value)
            else:
                raise ValueError(f"{field}.{key} must be a string, not {type(value).__name__}")
        setattr(message, key, value)
    if data.get("execution_time") is not None:
        message.execution_time = _number(data["execution_time"], f"{field}.execution_time")
    success = data.get("success")
    if success is not None:
        if not isinstance(success, bool):
            raise ValueError(f"{field}.success must be a boolean, not {type(success).__name__}")
        message.success = success
    fill_resource_usage(message.resource_usage, data.get("resource_usage"), f"{field}.resource_usage")
    if data.get("timestamp") is not None:
        set_time(message.timestamp, data["timestamp"], f"{field}.timestamp")
    return message


def with_event_id(data: Any) -> Dict[str, Any]:
    """A copy of an execution with an ``event_id`` (a new UUID when it had none), made once before
    the first attempt so that every retry carries the same key and is stored once."""
    if hasattr(data, "to_dict") and not isinstance(data, Mapping):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        raise ValueError(f"execution must be a mapping, not {type(data).__name__}")
    copy = dict(data)
    if not copy.get("event_id"):
        copy["event_id"] = new_event_id()
    return copy


def metrics_request(agent_name: str, metrics: Mapping[str, Any], task_type: Optional[str]) -> pb.SubmitMetricsRequest:
    """``submit_metrics(agent_name, metrics)``: the guide's PerformanceCollector dictionary."""
    if not isinstance(metrics, Mapping):
        raise ValueError(f"metrics must be a mapping, not {type(metrics).__name__}")
    _unknown(metrics, METRICS_KEYS, "metrics")
    request = pb.SubmitMetricsRequest(agent_name=agent_name)
    chosen = task_type if task_type is not None else metrics.get("task_type")
    if chosen is not None:
        request.task_type = chosen
    sample = request.metrics
    for key in ("response_time", "throughput", "success_rate", "coordination_effectiveness"):
        if metrics.get(key) is not None:
            setattr(sample, key, _number(metrics[key], f"metrics.{key}"))
    fill_resource_usage(sample.resource_usage, metrics.get("resource_usage"), "metrics.resource_usage")
    return request


def register_request(agent_data: Mapping[str, Any]) -> pb.RegisterAgentRequest:
    """``register_agent(agent_data)``: ``name``, ``description``, ``tools``, ``model``, ``metadata``."""
    if not isinstance(agent_data, Mapping):
        raise ValueError(f"agent_data must be a mapping, not {type(agent_data).__name__}")
    _unknown(agent_data, AGENT_KEYS, "agent_data")
    request = pb.RegisterAgentRequest()
    for key in ("name", "description", "model"):
        if agent_data.get(key) is not None:
            setattr(request, key, str(agent_data[key]))
    tools = agent_data.get("tools")
    if tools is not None:
        if isinstance(tools, str):
            raise ValueError("agent_data.tools must be a list of strings, not a string")
        request.tools.extend(str(tool) for tool in tools)
    for key, value in (agent_data.get("metadata") or {}).items():
        request.metadata[str(key)] = str(value)
    return request


def names(values: Optional[Iterable[str]], field: str) -> List[str]:
    """A list of strings (``kinds``, ``collaborators``); one string is read as a comma-separated
    list, like the REST query ``?kinds=collaboration,failures``."""
    if values is None:
        return []
    if isinstance(values, str):
        return [part for part in values.split(",") if part]
    return [str(v) for v in values]
