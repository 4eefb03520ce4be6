"""The asyncio client, on grpc.aio."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterable, AsyncIterator, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
import grpc.aio

from . import _calls
from . import _convert as C
from ._common import ClientStats, DEFAULT_TIMEOUT, auth_metadata, channel_options, credentials_for, resolve_target
from ._proto import learning_pb2 as pb
from .errors import ClientClosedError, LearningSystemError, error_for
from .retry import RetryPolicy, pushback_seconds

__all__ = ["LearningSystemClient"]

Executions = Union[Iterable[Any], AsyncIterable[Any]]


class LearningSystemClient:
    """The learning-system API for asyncio code, over gRPC.

    ``LearningSystemClient()`` connects to ``LEARNING_SERVER`` or ``localhost:8080`` and sends
    ``LEARNING_API_KEY`` as a bearer token when it is set. Every method answers the guide's
    dictionary (the JSON body of the method's REST endpoint, docs/API.md) and raises a
    :class:`~learning_system_client.errors.LearningSystemError` subclass carrying the gRPC status
    and the server's detail when the call fails.

    Args:
        target: ``host:port`` (or ``http://host:port``, ``https://host``).
        api_key: bearer token for writes when the server has API keys.
        timeout: default deadline of a call in seconds, retries included (``None``: no deadline).
        retry: when to retry; :meth:`RetryPolicy.none` turns retries off.
        credentials: TLS channel credentials.
        options: extra gRPC channel options.

    The channel is opened on the first call, so the client may be made outside a running loop,
    and is closed by :meth:`close` (or ``async with``).
    """

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
        self._credentials = credentials_for(secure, credentials)
        self._metadata = auth_metadata(api_key)
        self._options = channel_options(options)
        self.timeout = timeout
        self.retry = retry if retry is not None else RetryPolicy()
        self.stats = ClientStats()
        self._channel: Optional[grpc.aio.Channel] = None
        self._stubs: Dict[str, Any] = {}
        self._loggers: List[Any] = []
        self._closed = False

    # -- plumbing -------------------------------------------------------------------------------

    def _ensure_channel(self) -> grpc.aio.Channel:
        if self._closed:
            raise ClientClosedError("the client is closed")
        if self._channel is None:
            if self._credentials is not None:
                self._channel = grpc.aio.secure_channel(self.target, self._credentials, options=self._options)
            else:
                self._channel = grpc.aio.insecure_channel(self.target, options=self._options)
        return self._channel

    def _stub(self, method: str, kind: str = "unary_unary") -> Any:
        key = f"{kind}:{method}"
        stub = self._stubs.get(key)
        if stub is None:
            factory = getattr(self._ensure_channel(), kind)
            stub = factory(
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

    async def _unary(self, call: _calls.Call, timeout: Optional[float]) -> Any:
        stub = self._stub(call.method)
        loop = asyncio.get_running_loop()
        budget = self.timeout if timeout is None else timeout
        deadline = None if budget is None else loop.time() + budget
        attempt = 0
        while True:
            attempt += 1
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                self.stats.add("failures")
                raise error_for(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded", method=call.method, attempts=attempt)
            try:
                response = await stub(call.request, timeout=remaining, metadata=self._metadata)
            except grpc.aio.AioRpcError as error:
                code, details = error.code(), error.details() or ""
                pushback = pushback_seconds(error.trailing_metadata(), details)
                if self._may_retry(call, code, attempt):
                    delay = self.retry.delay(attempt, pushback)
                    if deadline is None or loop.time() + delay < deadline:
                        self.stats.add("retries")
                        await asyncio.sleep(delay)
                        continue
                self.stats.add("failures")
                raise error_for(code, details, method=call.method, retry_after=pushback, attempts=attempt) from None
            self.stats.add("calls")
            return call.convert(response)

    def _error(self, method: str, error: grpc.aio.AioRpcError) -> LearningSystemError:
        details = error.details() or ""
        self.stats.add("failures")
        return error_for(error.code(), details, method=method, retry_after=pushback_seconds(error.trailing_metadata(), details))

    # -- lifecycle ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Flushes and closes the batching loggers made by this client, then the channel."""
        loggers, self._loggers = self._loggers, []
        first_error: Optional[BaseException] = None
        for logger in loggers:
            try:
                await logger.close()
            except Exception as error:  # every logger is closed; the first failure is raised
                first_error = first_error or error
        self._closed = True
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
        if first_error is not None:
            raise first_error

    async def __aenter__(self) -> "LearningSystemClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # -- health and status ----------------------------------------------------------------------

    async def get_health(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /health``: ``status``, ``service``, ``database``, ``agents_registered``,
        ``timestamp``, ``ml_models`` (and ``startup`` while the service starts)."""
        return await self._unary(_calls.get_health(), timeout)

    async def get_status(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /status``: ``learning_system``, ``database``, ``agents_registered``,
        ``performance`` (``queries_per_sec``, ``avg_latency_ms``, ``success_rate`` in percent), ``ml_models``."""
        return await self._unary(_calls.get_status(), timeout)

    get_system_status = get_status

    async def get_metrics(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /metrics``: ``queries_per_sec``, ``prediction_accuracy``, ``training_time``,
        ``agent_response_time``, ``memory_usage_mb``, ``cpu_usage_percent``, ``executions_ingested``, ``methods``."""
        return await self._unary(_calls.get_metrics(), timeout)

    # -- agents ---------------------------------------------------------------------------------

    async def list_agents(self, status: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/list``: ``{"agents": [...], "total": n}``, optionally only those in ``status``."""
        return await self._unary(_calls.list_agents(status), timeout)

    async def get_agent_status(self, agent_name: str, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/{name}/status``."""
        return await self._unary(_calls.get_agent_status(agent_name), timeout)

    async def get_agent_performance(self, agent_name: str, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /agents/{name}/performance``: overall figures and ``task_types``."""
        return await self._unary(_calls.get_agent_performance(agent_name), timeout)

    async def register_agent(
        self, agent_data: Optional[Mapping[str, Any]] = None, *, timeout: Optional[float] = None, **fields: Any
    ) -> Dict[str, Any]:
        """``POST /agents/register`` (an idempotent upsert): ``agent_data`` has ``name`` and
        optionally ``description``, ``tools``, ``model``, ``metadata`` (or pass them as keywords).
        Answers ``{"agent": {...}, "created": bool}``."""
        return await self._unary(_calls.register_agent(agent_data, fields), timeout)

    async def heartbeat(self, agent_name: str, status: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /agents/{name}/heartbeat``: marks the agent as seen now."""
        return await self._unary(_calls.heartbeat(agent_name, status), timeout)

    async def find_similar_agents(
        self, agent_name: str, limit: Optional[int] = None, threshold: Optional[float] = None, *, timeout: Optional[float] = None
    ) -> Dict[str, Any]:
        """``GET /agents/{name}/similar``: ``{"agent_name", "similar": [{"agent_name", "similarity"}]}``."""
        return await self._unary(_calls.find_similar_agents(agent_name, limit, threshold), timeout)

    # -- ingest ---------------------------------------------------------------------------------

    async def log_performance(self, performance_data: Any, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /executions``: logs the guide's ``performance_data`` (``agent_name``, ``task_id``,
        ``task_type``, ``execution_time``, ``success``, ``error_message``, ``resource_usage``,
        ``timestamp``, ``event_id``; ``None`` values are left out). An ``event_id`` is added when
        there is none, so a retry is stored once. Answers ``{"id": n, "duplicate": bool}``."""
        return await self._unary(_calls.log_performance(performance_data), timeout)

    async def log_performances(self, executions: Iterable[Any], *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /executions/batch``: many executions in one transaction (each given an
        ``event_id`` when it has none). Answers ``{"accepted": n, "duplicates": n}``."""
        return await self._unary(_calls.log_performances(executions), timeout)

    async def stream_executions(self, executions: Executions, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Client-streaming ingest (``StreamExecutions``) of an iterable or async iterable of
        executions: answers ``{"accepted", "duplicates"}`` once every record is committed. Not
        retried (the records may come from a one-shot iterator). The server stores what arrived
        before a failure; give the executions ``event_id`` values of your own when you may send
        them again, so that nothing is stored twice. An execution the client refuses ends the
        stream there: the executions before it are committed, then ``ValueError`` (naming its index
        and what was stored) is raised."""
        stub = self._stub("StreamExecutions", "stream_unary")
        source = _ExecutionStream(executions)
        try:
            response = await stub(source.messages(), timeout=timeout if timeout is not None else self.timeout,
                                  metadata=self._metadata)
        except grpc.aio.AioRpcError as error:
            source.raise_if_failed()
            raise self._error("StreamExecutions", error) from None
        except asyncio.CancelledError:
            source.raise_if_failed()  # grpc.aio cancels the call when the request iterator raises
            raise
        self.stats.add("calls")
        result = C.message_to_dict(response)
        source.raise_if_failed(stored=result)
        return result

    async def ingest_executions(self, executions: Executions) -> AsyncIterator[Dict[str, Any]]:
        """Bidirectional ingest (``IngestExecutions``): yields ``{"sequence", "id", "duplicate"}``
        for each execution, in order, once it is committed. An execution the client refuses ends
        the stream there: the acknowledgements of those before it are yielded, then ``ValueError``
        is raised."""
        stub = self._stub("IngestExecutions", "stream_stream")
        source = _ExecutionStream(executions)
        call = stub(source.messages(), metadata=self._metadata)
        try:
            async for ack in call:
                yield C.message_to_dict(ack)
            source.raise_if_failed()
        except grpc.aio.AioRpcError as error:
            source.raise_if_failed()
            raise self._error("IngestExecutions", error) from None
        except asyncio.CancelledError:
            source.raise_if_failed()
            raise
        finally:
            call.cancel()

    async def submit_metrics(
        self, agent_name: str, metrics: Mapping[str, Any], task_type: Optional[str] = None, *, timeout: Optional[float] = None
    ) -> Dict[str, Any]:
        """``POST /agents/{name}/metrics``: the guide's PerformanceCollector dictionary
        (``response_time``, ``throughput``, ``resource_usage``, ``success_rate``,
        ``coordination_effectiveness``, optionally ``task_type``). Answers ``{"id": n}``."""
        return await self._unary(_calls.submit_metrics(agent_name, metrics, task_type), timeout)

    def batch_logger(self, **settings: Any) -> "AsyncBatchLogger":
        """A batching logger bound to this client (see :class:`AsyncBatchLogger` for the settings);
        :meth:`close` flushes it."""
        from .batching import AsyncBatchLogger

        logger = AsyncBatchLogger(self, **settings)
        self._loggers.append(logger)
        return logger

    # -- analytics ------------------------------------------------------------------------------

    async def get_performance_analytics(self, window_hours: Optional[int] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/performance``: totals, ``agents`` and ``task_types``."""
        return await self._unary(_calls.get_performance_analytics(window_hours), timeout)

    get_performance_metrics = get_performance_analytics

    async def get_coordination_patterns(self, limit: Optional[int] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/coordination``: ``pairs``, ``handoffs``, ``coordination_score``, ``multi_agent_tasks``."""
        return await self._unary(_calls.get_coordination_patterns(limit), timeout)

    async def get_insights(self, limit: Optional[int] = None, kind: Optional[str] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /analytics/insights``: ``{"insights": [...]}``."""
        return await self._unary(_calls.get_insights(limit, kind), timeout)

    get_learning_insights = get_insights

    async def get_anomalies(
        self, limit: Optional[int] = None, agent_name: Optional[str] = None, since: Any = None, *, timeout: Optional[float] = None
    ) -> Dict[str, Any]:
        """``GET /analytics/anomalies``: ``{"anomalies": [...]}``."""
        return await self._unary(_calls.get_anomalies(limit, agent_name, since), timeout)

    async def watch_insights(self, kinds: Optional[Iterable[str]] = None, agent_name: Optional[str] = None) -> AsyncIterator[Dict[str, Any]]:
        """New insights and anomalies as the server finds them, each as ``{"insight": {...}}`` or
        ``{"anomaly": {...}}``, until the caller stops iterating (or the server ends the stream)."""
        stub = self._stub("WatchInsights", "unary_stream")
        call = stub(_calls.watch_request(kinds, agent_name), metadata=self._metadata)
        try:
            async for event in call:
                yield C.insight_event(event)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.CANCELLED:
                raise self._error("WatchInsights", error) from None
        finally:
            call.cancel()

    # -- machine learning -----------------------------------------------------------------------

    async def get_patterns(self, kinds: Optional[Iterable[str]] = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``GET /patterns``: ``collaboration``, ``performance``, ``resources``, ``failures``."""
        return await self._unary(_calls.get_patterns(kinds), timeout)

    async def predict_performance(
        self,
        agent_name: str,
        task_type: str,
        *,
        at: Any = None,
        hour: Optional[int] = None,
        collaborators: Optional[Iterable[str]] = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        """``POST /predict``: ``execution_time``, ``success_rate``, ``confidence``, ``resources``, ..."""
        return await self._unary(_calls.predict_performance(agent_name, task_type, at, hour, collaborators), timeout)

    async def get_recommendations(
        self,
        task_type: str,
        limit: Optional[int] = None,
        *,
        speed_weight: Optional[float] = None,
        at: Any = None,
        timeout: Optional[float] = None,
    ) -> Dict[str, Any]:
        """``GET /recommendations?task_type=``: ``{"task_type", "recommendations": [...]}`` ranked."""
        return await self._unary(_calls.get_recommendations(task_type, limit, speed_weight, at), timeout)

    async def retrain(self, as_of: Any = None, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /ml/retrain`` (admin): ``ml_models``, ``training_time``, ``trained_on_executions``."""
        return await self._unary(_calls.retrain(as_of), timeout)

    async def get_error_signatures(self, error_messages: Iterable[str], *, timeout: Optional[float] = None) -> List[str]:
        """The failure-pattern signature of each error message, in order."""
        return await self._unary(_calls.get_error_signatures(error_messages), timeout)


class _ExecutionStream:
    """The executions of a streaming call as messages. An execution the client refuses (a
    ``ValueError``) ends the request stream cleanly (a half-close, not a cancel), so the server
    commits exactly the executions before it; the call's owner raises the refusal once the
    server has answered (:meth:`raise_if_failed`). Cancelling instead would race the last
    messages sent against the reset, and what was stored would depend on timing."""

    def __init__(self, executions: Executions) -> None:
        self._executions = executions
        self._failure: Optional[BaseException] = None

    async def messages(self) -> AsyncIterator[pb.Execution]:
        index = 0
        try:
            if hasattr(self._executions, "__aiter__"):
                async for item in self._executions:  # type: ignore[union-attr]
                    yield C.execution(C.with_event_id(item), f"executions[{index}]")
                    index += 1
            else:
                for item in self._executions:  # type: ignore[union-attr]
                    yield C.execution(C.with_event_id(item), f"executions[{index}]")
                    index += 1
        except Exception as error:  # noqa: BLE001  (raised by the owner once the server answered)
            self._failure = error

    def raise_if_failed(self, stored: Optional[Dict[str, Any]] = None) -> None:
        if self._failure is None:
            return
        if stored is None:
            raise self._failure
        note = getattr(self._failure, "add_note", None)  # Python 3.11+
        if note is not None:
            note(f"the stream ended there; stored before it: {stored}")
        raise self._failure


from .batching import AsyncBatchLogger  # noqa: E402  (the logger needs the client's type)
