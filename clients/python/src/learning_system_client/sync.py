"""The synchronous client, on grpcio's blocking channel: the same methods and answers as
:class:`~learning_system_client.LearningSystemClient`, for code that does not run an event loop."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import grpc

from . import _calls
from . import _convert as C
from ._common import ClientStats, DEFAULT_TIMEOUT, auth_metadata, channel_options, credentials_for, resolve_target
from ._proto import learning_pb2 as pb
from .batching import BatchLogger
from .errors import ClientClosedError, LearningSystemError, error_for
from .retry import RetryPolicy, pushback_seconds

__all__ = ["SyncLearningSystemClient"]


class SyncLearningSystemClient:
    """The learning-system API for blocking code; see :class:`LearningSystemClient` for the
    arguments, the answers and the errors. Safe to share between threads."""

    def __init__(
        self,
        target: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        retry: Optional[RetryPolicy] = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Optional[Sequence[Tuple[str, Any]]] = None,
    ) -> None:
        self.target, secure = resolve_target(target)
        creds = credentials_for(secure, credentials)
        opts = channel_options(options)
        self._channel = grpc.secure_channel(self.target, creds, options=opts) if creds else grpc.insecure_channel(self.target, options=opts)
        self._metadata = auth_metadata(api_key)
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.stats = ClientStats()
        self._stubs: Dict[str, Any] = {}
        self._stub_lock = threading.Lock()
        self._loggers: List[BatchLogger] = []
        self._closed = False

    def _stub(self, method: str, kind: str = "unary_unary") -> Any:
        if self._closed:
            raise ClientClosedError("the client is closed")
        key = f"{kind}:{method}"
        with self._stub_lock:
            stub = self._stubs.get(key)
            if stub is None:
                stub = getattr(self._channel, kind)(
                    _calls.path(method),
                    request_serializer=lambda message: message.SerializeToString(),
                    response_deserializer=_calls.RESPONSES[method].FromString,
                )
                self._stubs[key] = stub
        return stub

    def _may_retry(self, call: _calls.Call, code: grpc.StatusCode, attempt: int) -> bool:
        if attempt >= self.retry.max_attempts or code not in self.retry.retry_codes:
            return False
        return call.retry == _calls.RETRY_ALL or code == grpc.StatusCode.RESOURCE_EXHAUSTED

    def _unary(self, call: _calls.Call, timeout: Optional[float]) -> Any:
        stub = self._stub(call.method)
        budget = self.timeout if timeout is None else timeout
        deadline = None if budget is None else time.monotonic() + budget
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self.stats.add("failures")
                raise error_for(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", method=call.method, attempts=attempt)
            try:
                response = stub(call.request, timeout=remaining, metadata=self._metadata)
            except grpc.RpcError as error:
                code, details = error.code(), error.details() or ""
                pushback = pushback_seconds(error.trailing_metadata(), details)
                if self._may_retry(call, code, attempt):
                    delay = self.retry.delay(attempt, pushback)
                    if deadline is None or time.monotonic() + delay < deadline:
                        self.stats.add("retries")
                        time.sleep(delay)
                        continue
                self.stats.add("failures")
                raise error_for(code, details, method=call.method, retry_after=pushback, attempts=attempt) from None
            self.stats.add("calls")
            return call.convert(response)

    def _error(self, method: str, error: grpc.RpcError) -> LearningSystemError:
        details = error.details() or ""
        self.stats.add("failures")
        return error_for(error.code(), details, method=method, retry_after=pushback_seconds(error.trailing_metadata(), details))

    def close(self) -> None:
        """Flushes and closes the batching loggers made by this client, then the channel."""
        loggers, self._loggers = self._loggers, []
        first_error: Optional[BaseException] = None
        for logger in loggers:
            try:
                logger.close()
            except Exception as error:
                first_error = first_error or error
        self._closed = True
        self._channel.close()
        if first_error is not None:
            raise first_error

    def __enter__(self) -> "SyncLearningSystemClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the API (see LearningSystemClient for each method's answer) -----------------------------

    def get_health(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /health``."""
        return self._unary(_calls.get_health(), timeout)

    def get_status(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /status``."""
        return self._unary(_calls.get_status(), timeout)

    get_system_status = get_status

    def get_metrics(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /metrics``."""
        return self._unary(_calls.get_metrics(), timeout)

    def list_agents(self, status: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/list``."""
        return self._unary(_calls.list_agents(status), timeout)

    def get_agent_status(self, agent_name: str, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/{name}/status``."""
        return self._unary(_calls.get_agent_status(agent_name), timeout)

    def get_agent_performance(self, agent_name: str, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/{name}/performance``."""
        return self._unary(_calls.get_agent_performance(agent_name), timeout)

    def register_agent(self, agent_data: Optional[Mapping[str, Any]] = None, *, timeout: Optional[float] = None,
                       **fields: Any) -> Dict[str, Any]:
        """``POST /agents/register`` (idempotent upsert)."""
        return self._unary(_calls.register_agent(agent_data, fields), timeout)

    def heartbeat(self, agent_name: str, status: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /agents/{name}/heartbeat``."""
        return self._unary(_calls.heartbeat(agent_name, status), timeout)

    def find_similar_agents(self, agent_name: str, limit: Optional[int] = None, threshold: Optional[float] = None, *,
                            timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/{name}/similar``."""
        return self._unary(_calls.find_similar_agents(agent_name, limit, threshold), timeout)

    def log_performance(self, performance_data: Any, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /executions`` (an ``event_id`` is added when there is none)."""
        return self._unary(_calls.log_performance(performance_data), timeout)

    def log_performances(self, executions: Iterable[Any], *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /executions/batch``."""
        return self._unary(_calls.log_performances(executions), timeout)

    def stream_executions(self, executions: Iterable[Any], *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Client-streaming ingest; answers ``{"accepted", "duplicates"}`` (not retried)."""
        stub = self._stub("StreamExecutions", "stream_unary")
        stream = _ExecutionStream(executions)
        try:
            response = stub(stream.messages(), timeout=timeout if timeout is not None else self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            stream.raise_if_failed()
            raise self._error("StreamExecutions", error) from None
        self.stats.add("calls")
        result = C.message_to_dict(response)
        stream.raise_if_failed(stored=result)
        return result

    def ingest_executions(self, executions: Iterable[Any]) -> Iterator[Dict[str, Any]]:
        """Bidirectional ingest: yields ``{"sequence", "id", "duplicate"}`` per execution, in order,
        once it is committed."""
        stream = _ExecutionStream(executions)
        call = self._stub("IngestExecutions", "stream_stream")(stream.messages(), metadata=self._metadata)
        try:
            for ack in call:
                yield C.message_to_dict(ack)
            stream.raise_if_failed()
        except grpc.RpcError as error:
            stream.raise_if_failed()
            raise self._error("IngestExecutions", error) from None
        finally:
            call.cancel()

    def submit_metrics(self, agent_name: str, metrics: Mapping[str, Any], task_type: Optional[str] = None, *,
                       timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /agents/{name}/metrics``."""
        return self._unary(_calls.submit_metrics(agent_name, metrics, task_type), timeout)

    def batch_logger(self, **settings: Any) -> BatchLogger:
        """A batching logger bound to this client (see :class:`BatchLogger`); :meth:`close` flushes it."""
        logger = BatchLogger(self, **settings)
        self._loggers.append(logger)
        return logger

    def get_performance_analytics(self, window_hours: Optional[int] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/performance``."""
        return self._unary(_calls.get_performance_analytics(window_hours), timeout)

    get_performance_metrics = get_performance_analytics

    def get_coordination_patterns(self, limit: Optional[int] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/coordination``."""
        return self._unary(_calls.get_coordination_patterns(limit), timeout)

    def get_insights(self, limit: Optional[int] = None, kind: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/insights``."""
        return self._unary(_calls.get_insights(limit, kind), timeout)

    get_learning_insights = get_insights

    def get_anomalies(self, limit: Optional[int] = None, agent_name: Optional[str] = None, since: Any = None, *,
                      timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/anomalies``."""
        return self._unary(_calls.get_anomalies(limit, agent_name, since), timeout)

    def watch_insights(self, kinds: Optional[Iterable[str]] = None, agent_name: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """New insights and anomalies as ``{"insight": {...}}`` / ``{"anomaly": {...}}``; stop by
        closing the generator."""
        call = self._stub("WatchInsights", "unary_stream")(_calls.watch_request(kinds, agent_name), metadata=self._metadata)
        try:
            for event in call:
                yield C.insight_event(event)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise self._error("WatchInsights", error) from None
        finally:
            call.cancel()

    def get_patterns(self, kinds: Optional[Iterable[str]] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /patterns``."""
        return self._unary(_calls.get_patterns(kinds), timeout)

    def predict_performance(self, agent_name: str, task_type: str, *, at: Any = None, hour: Optional[int] = None,
                            collaborators: Optional[Iterable[str]] = None, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /predict``."""
        return self._unary(_calls.predict_performance(agent_name, task_type, at, hour, collaborators), timeout)

    def get_recommendations(self, task_type: str, limit: Optional[int] = None, *, speed_weight: Optional[float] = None,
                            at: Any = None, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /recommendations?task_type=``."""
        return self._unary(_calls.get_recommendations(task_type, limit, speed_weight, at), timeout)

    def retrain(self, as_of: Any = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /ml/retrain`` (admin)."""
        return self._unary(_calls.retrain(as_of), timeout)

    def get_error_signatures(self, error_messages: Iterable[str], *, timeout: Optional[float] = None) -> List[str]:
        """The failure-pattern signature of each error message, in order."""
        return self._unary(_calls.get_error_signatures(error_messages), timeout)


class _ExecutionStream:
    """The executions of a streaming call as messages (the blocking twin of the asyncio
    client's): an execution the client refuses (a ``ValueError``) ends the request stream
    cleanly, so the server commits exactly those before it, and is raised once it answered."""

    def __init__(self, executions: Iterable[Any]) -> None:
        self._executions = executions
        self._failure: Optional[BaseException] = None

    def messages(self) -> Iterator[pb.Execution]:
        try:
            for index, item in enumerate(self._executions):
                yield C.execution(C.with_event_id(item), f"executions[{index}]")
        except Exception as error:  # noqa: BLE001  (raised by the owner once the server answered)
            self._failure = error

    def raise_if_failed(self, stored: Optional[Dict[str, Any]] = None) -> None:
        if self._failure is None:
            return
        if stored is None:
            raise self._failure from None
        note = getattr(self._failure, "add_note", None)  # Python 3.11+
        if note is not None:
            note(f"the stream ended there; stored before it: {stored}")
        raise self._failure
