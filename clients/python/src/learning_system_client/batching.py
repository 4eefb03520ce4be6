"""Batching loggers: executions buffered in memory and sent with ``LogExecutions`` in the
background, by size and by time.

Nothing is lost silently. Every execution gets its ``event_id`` when it is logged, so a batch sent
again after a failure is stored once. A batch the server could not take (UNAVAILABLE,
RESOURCE_EXHAUSTED past the client's retries, or any other failure) goes back to the front of the
buffer and is tried again; a batch refused as invalid is sent record by record so that only the
invalid executions are set aside, counted in ``rejected`` and handed to ``on_rejected``. When the
buffer is full, ``on_full`` decides: ``"raise"`` (the default) raises
:class:`~learning_system_client.errors.BufferFullError`, ``"drop"`` drops the new execution and
counts it in ``dropped``, ``"block"`` waits for room. Closing flushes; what could not be sent by
then is raised as :class:`UnsentExecutionsError` with the executions.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional

from . import _convert as C
from .errors import BufferFullError, ClientClosedError, InvalidArgument, LearningSystemError

if TYPE_CHECKING:  # pragma: no cover
    from .client import LearningSystemClient
    from .sync import SyncLearningSystemClient

__all__ = ["AsyncBatchLogger", "BatchLogger", "BatchStats", "UnsentExecutionsError"]

log = logging.getLogger("learning_system_client")

_POLICIES = ("raise", "drop", "block")


class UnsentExecutionsError(Exception):
    """Closing (or flushing) ended with executions still unsent: ``executions`` holds them (with
    their event ids, so logging them again later stores each once) and ``__cause__`` the last error."""

    def __init__(self, executions: List[Dict[str, Any]], cause: Optional[BaseException]) -> None:
        self.executions = executions
        super().__init__(f"{len(executions)} execution(s) could not be sent: {cause}")


@dataclass
class BatchStats:
    """What a batching logger did: ``logged`` (accepted by :meth:`log`), ``sent`` (stored by the
    server now), ``duplicates`` (already stored: a resend), ``dropped`` (buffer full under
    ``on_full="drop"``), ``rejected`` (refused by the server as invalid), ``batches`` sent,
    ``failures`` (attempts that failed and were put back), ``pending`` (waiting to be sent)."""

    logged: int = 0
    sent: int = 0
    duplicates: int = 0
    dropped: int = 0
    rejected: int = 0
    batches: int = 0
    failures: int = 0
    pending: int = 0


def _check(max_batch: int, flush_interval: float, max_buffer: int, on_full: str) -> None:
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    if flush_interval <= 0:
        raise ValueError("flush_interval must be positive")
    if max_buffer < max_batch:
        raise ValueError("max_buffer must be at least max_batch")
    if on_full not in _POLICIES:
        raise ValueError(f"on_full must be one of {', '.join(_POLICIES)}")


class _Core:
    """The buffer and counters both loggers share; callers hold their own lock."""

    def __init__(self, max_batch: int, flush_interval: float, max_buffer: int, on_full: str,
                 on_rejected: Optional[Callable[[Dict[str, Any], LearningSystemError], Any]]) -> None:
        _check(max_batch, flush_interval, max_buffer, on_full)
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self.on_full = on_full
        self.on_rejected = on_rejected
        self.buffer: Deque[Dict[str, Any]] = collections.deque()
        self.inflight = 0
        self.stats = BatchStats()
        self.last_error: Optional[BaseException] = None
        self.rejected_executions: Deque[tuple] = collections.deque(maxlen=1000)

    @property
    def pending(self) -> int:
        return len(self.buffer) + self.inflight

    def prepare(self, execution: Any) -> Dict[str, Any]:
        data = C.with_event_id(execution)
        C.execution(data)  # a malformed execution is refused here, at the caller
        return data

    def full_error(self) -> BufferFullError:
        return BufferFullError(
            f"{self.pending} executions are waiting to be sent (max_buffer={self.max_buffer}); "
            f"the execution was not logged (last send error: {self.last_error})"
        )

    def take(self) -> List[Dict[str, Any]]:
        batch = [self.buffer.popleft() for _ in range(min(self.max_batch, len(self.buffer)))]
        self.inflight = len(batch)
        return batch

    def done(self, result: Dict[str, Any]) -> None:
        self.inflight = 0
        self.stats.batches += 1
        self.stats.sent += int(result.get("accepted", 0))
        self.stats.duplicates += int(result.get("duplicates", 0))
        self.last_error = None

    def put_back(self, batch: List[Dict[str, Any]], error: BaseException) -> None:
        self.inflight = 0
        self.buffer.extendleft(reversed(batch))
        self.stats.failures += 1
        self.last_error = error
        log.warning("learning-system: %d execution(s) kept for a later try: %s", len(batch), error)

    def reject(self, execution: Dict[str, Any], error: LearningSystemError) -> None:
        self.stats.rejected += 1
        self.rejected_executions.append((execution, error))
        log.error("learning-system: execution %s rejected: %s", execution.get("event_id"), error)
        if self.on_rejected is not None:
            try:
                self.on_rejected(execution, error)
            except Exception:  # the callback's own failure must not stop the logger
                log.exception("learning-system: on_rejected raised")

    def snapshot(self) -> BatchStats:
        stats = BatchStats(**vars(self.stats))
        stats.pending = self.pending
        return stats


class AsyncBatchLogger:
    """Buffers executions and sends them with ``log_performances`` from a background task: when
    ``max_batch`` are waiting or every ``flush_interval`` seconds. At most ``max_buffer`` wait;
    ``on_full`` says what happens beyond (``"raise"``, ``"drop"`` or ``"block"``).
    Use ``async with client.batch_logger() as logger`` or call :meth:`close`.
    """

    def __init__(
        self,
        client: "LearningSystemClient",
        *,
        max_batch: int = 500,
        flush_interval: float = 1.0,
        max_buffer: int = 10_000,
        on_full: str = "raise",
        on_rejected: Optional[Callable[[Dict[str, Any], LearningSystemError], Any]] = None,
    ) -> None:
        self._client = client
        self._core = _Core(max_batch, flush_interval, max_buffer, on_full, on_rejected)
        self._wake: Optional[asyncio.Event] = None
        self._room: Optional[asyncio.Event] = None
        self._send_lock: Optional[asyncio.Lock] = None
        self._task: Optional[asyncio.Task] = None
        self._closed = False

    @property
    def stats(self) -> BatchStats:
        """The counters now."""
        return self._core.snapshot()

    @property
    def last_error(self) -> Optional[BaseException]:
        """The error of the last failed send, ``None`` after a successful one."""
        return self._core.last_error

    @property
    def rejected_executions(self) -> List[tuple]:
        """The latest (at most 1,000) ``(execution, error)`` pairs the server refused as invalid."""
        return list(self._core.rejected_executions)

    def _start(self) -> None:
        if self._task is None:
            self._wake, self._room, self._send_lock = asyncio.Event(), asyncio.Event(), asyncio.Lock()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="learning-system batch logger")

    async def log(self, execution: Any) -> Optional[str]:
        """Queues one execution (the guide's ``performance_data``); returns its ``event_id``, or
        ``None`` when it was dropped (``on_full="drop"``, counted in ``stats.dropped``)."""
        if self._closed:
            raise ClientClosedError("the batching logger is closed")
        core = self._core
        data = core.prepare(execution)
        self._start()
        while core.pending >= core.max_buffer:
            if core.on_full == "raise":
                raise core.full_error()
            if core.on_full == "drop":
                core.stats.dropped += 1
                return None
            assert self._room is not None and self._wake is not None
            self._room.clear()
            self._wake.set()
            await self._room.wait()
            if self._closed:
                raise ClientClosedError("the batching logger closed while waiting for room")
        core.buffer.append(data)
        core.stats.logged += 1
        if len(core.buffer) >= core.max_batch:
            assert self._wake is not None
            self._wake.set()
        return data["event_id"]

    log_performance = log

    async def _send_one_batch(self) -> bool:
        """Sends the oldest batch; False when it failed and went back to the buffer."""
        assert self._send_lock is not None and self._room is not None
        async with self._send_lock:
            core = self._core
            batch = core.take()
            if not batch:
                return True
            try:
                result = await self._client.log_performances(batch)
            except InvalidArgument:
                core.inflight = 0
                await self._one_by_one(batch)
            except (LearningSystemError, ClientClosedError) as error:
                core.put_back(batch, error)
                self._room.set()
                return False
            except asyncio.CancelledError:
                core.put_back(batch, asyncio.CancelledError())
                raise
            else:
                core.done(result)
            self._room.set()
            return True

    async def _one_by_one(self, batch: List[Dict[str, Any]]) -> None:
        core = self._core
        for position, execution in enumerate(batch):
            try:
                result = await self._client.log_performance(execution)
            except InvalidArgument as error:
                core.reject(execution, error)
            except LearningSystemError as error:
                core.put_back(batch[position:], error)
                return
            else:
                core.stats.sent += 0 if result.get("duplicate") else 1
                core.stats.duplicates += 1 if result.get("duplicate") else 0

    async def _run(self) -> None:
        assert self._wake is not None
        core = self._core
        backoff = 0.0
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(core.flush_interval, backoff))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            while core.buffer:
                if not await self._send_one_batch():
                    backoff = min(max(backoff * 2, core.flush_interval), 30.0)
                    break
                backoff = 0.0
                if len(core.buffer) < core.max_batch and not self._closed:
                    break  # a partial batch waits for the next interval

    async def flush(self) -> None:
        """Sends everything buffered now; raises the send's error when a batch could not be sent
        (it stays buffered and is tried again later)."""
        if self._task is None:
            return
        while self._core.buffer:
            if not await self._send_one_batch():
                raise self._core.last_error or RuntimeError("send failed")

    async def close(self, timeout: Optional[float] = 30.0) -> None:
        """Stops taking executions, sends what is buffered (retrying until ``timeout`` seconds
        have passed) and stops the background task. Raises :class:`UnsentExecutionsError` with
        whatever could not be sent."""
        if self._closed:
            return
        self._closed = True
        if self._task is None:
            return
        assert self._room is not None
        self._room.set()  # writers blocked on a full buffer learn that it closed
        assert self._send_lock is not None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        # Stop the background task first, between two sends: cancelling it while a batch is on the
        # wire would put that batch back after the drain below had already seen an empty buffer.
        async with self._send_lock:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        delay = 0.05
        while self._core.buffer:
            if await self._send_one_batch():
                continue
            if deadline is not None and loop.time() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        if self._core.buffer:
            unsent = list(self._core.buffer)
            self._core.buffer.clear()
            raise UnsentExecutionsError(unsent, self._core.last_error) from self._core.last_error

    async def __aenter__(self) -> "AsyncBatchLogger":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class BatchLogger:
    """The synchronous twin of :class:`AsyncBatchLogger`, flushing from a background thread."""

    def __init__(
        self,
        client: "SyncLearningSystemClient",
        *,
        max_batch: int = 500,
        flush_interval: float = 1.0,
        max_buffer: int = 10_000,
        on_full: str = "raise",
        on_rejected: Optional[Callable[[Dict[str, Any], LearningSystemError], Any]] = None,
    ) -> None:
        self._client = client
        self._core = _Core(max_batch, flush_interval, max_buffer, on_full, on_rejected)
        self._lock = threading.Condition()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: Optional[threading.Thread] = None

    @property
    def stats(self) -> BatchStats:
        """The counters now."""
        with self._lock:
            return self._core.snapshot()

    @property
    def last_error(self) -> Optional[BaseException]:
        """The error of the last failed send, ``None`` after a successful one."""
        return self._core.last_error

    @property
    def rejected_executions(self) -> List[tuple]:
        """The latest (at most 1,000) ``(execution, error)`` pairs the server refused as invalid."""
        with self._lock:
            return list(self._core.rejected_executions)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="learning-system batch logger", daemon=True)
            self._thread.start()

    def log(self, execution: Any, timeout: Optional[float] = None) -> Optional[str]:
        """Queues one execution; returns its ``event_id``, or ``None`` when dropped. Under
        ``on_full="block"`` waits up to ``timeout`` seconds for room, then raises BufferFullError."""
        core = self._core
        data = core.prepare(execution)
        with self._lock:
            if self._closed:
                raise ClientClosedError("the batching logger is closed")
            self._start()
            end = None if timeout is None else time.monotonic() + timeout
            while core.pending >= core.max_buffer:
                if core.on_full == "raise":
                    raise core.full_error()
                if core.on_full == "drop":
                    core.stats.dropped += 1
                    return None
                self._wake.set()
                left = None if end is None else end - time.monotonic()
                if (left is not None and left <= 0) or not self._lock.wait(left):
                    if core.pending >= core.max_buffer:
                        raise core.full_error()
                if self._closed:
                    raise ClientClosedError("the batching logger closed while waiting for room")
            core.buffer.append(data)
            core.stats.logged += 1
            if len(core.buffer) >= core.max_batch:
                self._wake.set()
        return data["event_id"]

    log_performance = log

    def _send_one_batch(self) -> bool:
        with self._send_lock:
            core = self._core
            with self._lock:
                batch = core.take()
            if not batch:
                return True
            try:
                result = self._client.log_performances(batch)
            except InvalidArgument:
                with self._lock:
                    core.inflight = 0
                self._one_by_one(batch)
            except (LearningSystemError, ClientClosedError) as error:
                with self._lock:
                    core.put_back(batch, error)
                    self._lock.notify_all()
                return False
            else:
                with self._lock:
                    core.done(result)
            with self._lock:
                self._lock.notify_all()
            return True

    def _one_by_one(self, batch: List[Dict[str, Any]]) -> None:
        core = self._core
        for position, execution in enumerate(batch):
            try:
                result = self._client.log_performance(execution)
            except InvalidArgument as error:
                with self._lock:
                    core.reject(execution, error)
            except LearningSystemError as error:
                with self._lock:
                    core.put_back(batch[position:], error)
                return
            else:
                with self._lock:
                    core.stats.sent += 0 if result.get("duplicate") else 1
                    core.stats.duplicates += 1 if result.get("duplicate") else 0

    def _run(self) -> None:
        core = self._core
        backoff = 0.0
        while True:
            self._wake.wait(max(core.flush_interval, backoff))
            self._wake.clear()
            if self._closed:
                return
            while core.buffer:
                if not self._send_one_batch():
                    backoff = min(max(backoff * 2, core.flush_interval), 30.0)
                    break
                backoff = 0.0
                if len(core.buffer) < core.max_batch:
                    break
            if self._closed:
                return

    def flush(self) -> None:
        """Sends everything buffered now; raises the send's error when a batch could not be sent."""
        while self._core.buffer:
            if not self._send_one_batch():
                raise self._core.last_error or RuntimeError("send failed")

    def close(self, timeout: Optional[float] = 30.0) -> None:
        """Stops taking executions, sends what is buffered (retrying up to ``timeout`` seconds),
        stops the thread; raises :class:`UnsentExecutionsError` with what could not be sent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        end = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while self._core.buffer:
            if self._send_one_batch():
                continue
            if end is not None and time.monotonic() + delay >= end:
                break
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        if self._core.buffer:
            unsent = list(self._core.buffer)
            self._core.buffer.clear()
            raise UnsentExecutionsError(unsent, self._core.last_error) from self._core.last_error

    def __enter__(self) -> "BatchLogger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
