"""Retries, idempotency, deadlines, auth, errors and the batching loggers, against real servers:
stopped and restarted, overloaded, keyed, unreachable."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid

import grpc
import pytest

from learning_system_client import (
    BufferFullError,
    DeadlineExceeded,
    InvalidArgument,
    LearningSystemClient,
    NotFound,
    ResourceExhausted,
    RetryPolicy,
    SyncLearningSystemClient,
    Unauthenticated,
    Unavailable,
    UnsentExecutionsError,
)

from conftest import Server, free_port, name


def execution(agent, seconds=1.0, **extra):
    data = {"agent_name": agent, "task_id": str(uuid.uuid4()), "task_type": "unit", "execution_time": seconds, "success": True}
    data.update(extra)
    return data


def stored(server, agent):
    return int(server.sql(f"SELECT count(*) FROM agents.execution_log WHERE agent_name = '{agent}'"))


def test_event_ids_make_every_resend_a_duplicate(server):
    agent = name("idem")
    with SyncLearningSystemClient(server.address) as client:
        first = client.log_performance(execution(agent, event_id="evt-1"))
        again = client.log_performance(execution(agent, event_id="evt-1"))
        assert first["duplicate"] is False and again == {"id": first["id"], "duplicate": True}
        # The client adds an event id when there is none; a batch sent twice is stored once.
        batch = [execution(agent, 2.0 + i, event_id=f"b-{i}") for i in range(20)]
        assert client.log_performances(batch) == {"accepted": 20, "duplicates": 0}
        assert client.log_performances(batch) == {"accepted": 0, "duplicates": 20}
        assert client.log_performance(execution(agent))["duplicate"] is False
    assert stored(server, agent) == 22
    ids = server.sql(f"SELECT count(DISTINCT event_id) FROM agents.execution_log WHERE agent_name = '{agent}' AND event_id IS NOT NULL")
    assert ids == "22"


def test_errors_carry_status_and_detail(server):
    agent = name("errors")
    with SyncLearningSystemClient(server.address) as client:
        with pytest.raises(InvalidArgument) as bad:
            client.log_performances([execution(agent), execution(agent, -3.0)])
        assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "executions[1].execution_time" in bad.value.details and bad.value.method == "LogExecutions"
        with pytest.raises(NotFound) as missing:
            client.get_agent_status(name("nobody"))
        assert missing.value.status == "NOT_FOUND" and missing.value.details
        with pytest.raises(InvalidArgument):
            client.get_patterns(["gossip"])
        with pytest.raises(ValueError, match="unknown key"):
            client.log_performance({**execution(agent), "sucess": True})
        with pytest.raises(ValueError, match="success must be a boolean"):
            client.log_performance({**execution(agent), "success": "yes"})
        with pytest.raises(DeadlineExceeded):
            client.retrain(timeout=0.001)
    assert stored(server, agent) == 0  # the refused batch stored nothing


def test_bearer_token(make_server):
    keyed = make_server(env={"LEARNING_API_KEYS": "s3cret-key-for-tests"}).start()
    agent = name("auth")

    async def scenario():
        async with LearningSystemClient(keyed.address) as anonymous:
            with pytest.raises(Unauthenticated) as refused:
                await anonymous.log_performance(execution(agent))
            assert refused.value.attempts == 1  # not a status worth retrying
            assert (await anonymous.get_health())["status"] == "healthy"  # reads are open
        async with LearningSystemClient(keyed.address, api_key="s3cret-key-for-tests") as client:
            return await client.log_performance(execution(agent))

    assert asyncio.run(scenario())["duplicate"] is False
    assert stored(keyed, agent) == 1


def test_api_key_and_target_from_the_environment(make_server, monkeypatch):
    keyed = make_server(env={"LEARNING_API_KEYS": "env-key-000000001"}).start()
    monkeypatch.setenv("LEARNING_SERVER", f"http://{keyed.address}")
    monkeypatch.setenv("LEARNING_API_KEY", "env-key-000000001")
    agent = name("env")
    with SyncLearningSystemClient() as client:
        assert client.target == keyed.address
        client.register_agent({"name": agent})
    assert stored(keyed, agent) == 0 and agent in keyed.sql("SELECT string_agg(name, ',') FROM agents.agent_registry")


def test_unavailable_is_retried_until_the_server_is_back(make_server):
    port = free_port()
    first = make_server(port=port).start()
    agent = name("restart")
    client = SyncLearningSystemClient(first.address, retry=RetryPolicy(max_attempts=60, max_backoff=0.5), timeout=60)
    assert client.log_performance(execution(agent))["duplicate"] is False
    first.stop()
    again = Server(database_url=first.database_url, port=port)
    restarter = threading.Timer(1.5, again.start)
    restarter.start()
    try:
        started = time.monotonic()
        result = client.log_performance(execution(agent, event_id="after-restart"))
        assert result["duplicate"] is False
        assert time.monotonic() - started >= 1.0 and client.stats.retries >= 1
    finally:
        restarter.join()
        client.close()
        again.stop()
    with pytest.raises(Unavailable) as down:
        SyncLearningSystemClient(first.address, retry=RetryPolicy(max_attempts=3)).get_health()
    assert down.value.attempts == 3


def test_batch_logger_survives_a_server_restart_and_stores_each_execution_once(make_server):
    port = free_port()
    first = make_server(port=port).start()
    agent = name("batched")

    async def scenario():
        client = LearningSystemClient(first.address, retry=RetryPolicy(max_attempts=2), timeout=5)
        logger = client.batch_logger(max_batch=50, flush_interval=0.2, max_buffer=5000)
        for i in range(300):
            await logger.log(execution(agent, 1.0 + i % 10))
        await logger.flush()
        await asyncio.get_running_loop().run_in_executor(None, first.stop)
        for i in range(300):  # buffered while the server is down
            await logger.log(execution(agent, 1.0 + i % 10))
        await asyncio.sleep(1.0)
        assert logger.stats.failures >= 1 and logger.last_error is not None
        assert logger.stats.pending == 300
        again = Server(database_url=first.database_url, port=port)
        await asyncio.get_running_loop().run_in_executor(None, again.start)
        try:
            await client.close()  # flushes the logger
        finally:
            again.stop()
        return logger.stats

    stats = asyncio.run(scenario())
    assert stats.logged == 600 and stats.sent + stats.duplicates == 600 and stats.pending == 0
    assert stats.dropped == 0 and stats.rejected == 0
    assert stored(first, agent) == 600


def test_batch_logger_full_buffer_raises_or_counts_drops_and_close_hands_back_the_unsent():
    unreachable = f"127.0.0.1:{free_port()}"  # nothing listens there
    agent = name("full")

    async def scenario():
        client = LearningSystemClient(unreachable, retry=RetryPolicy.none(), timeout=1)
        strict = client.batch_logger(max_batch=5, flush_interval=0.05, max_buffer=10)
        for i in range(10):
            assert await strict.log(execution(agent)) is not None
        with pytest.raises(BufferFullError, match="max_buffer=10"):
            await strict.log(execution(agent))
        dropping = client.batch_logger(max_batch=5, flush_interval=0.05, max_buffer=10, on_full="drop")
        results = [await dropping.log(execution(agent)) for _ in range(13)]
        assert results.count(None) == 3 and dropping.stats.dropped == 3
        with pytest.raises(UnsentExecutionsError) as unsent:
            await strict.close(timeout=0.5)
        assert len(unsent.value.executions) == 10 and all(e["event_id"] for e in unsent.value.executions)
        assert isinstance(unsent.value.__cause__, Unavailable)
        with pytest.raises(UnsentExecutionsError):
            await dropping.close(timeout=0.2)
        await client.close()

    asyncio.run(scenario())


def test_sync_batch_logger_blocks_for_room_and_isolates_invalid_executions(server):
    agent = name("sync-batch")
    rejected = []
    with SyncLearningSystemClient(server.address) as client:
        logger = client.batch_logger(max_batch=20, flush_interval=0.1, max_buffer=40, on_full="block",
                                     on_rejected=lambda e, err: rejected.append((e, err)))
        future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).isoformat()
        for i in range(200):
            extra = {"timestamp": future} if i in (7, 150) else {}
            logger.log(execution(agent, 1.0 + i % 3, **extra))
        logger.close()
        stats = logger.stats
    assert stats.logged == 200 and stats.rejected == 2 and stats.sent == 198 and stats.pending == 0
    assert [type(err) for _, err in rejected] == [InvalidArgument, InvalidArgument]
    assert "timestamp" in rejected[0][1].details
    assert stored(server, agent) == 198


def test_resource_exhausted_honours_the_servers_retry_delay(fresh_server):
    """Enough concurrent batches to fill the server's ingest queue (50,000 rows): the refused ones
    come back with RESOURCE_EXHAUSTED and grpc-retry-pushback-ms, wait that long, and every row
    is stored once."""
    agent = name("flood")
    batches = [[execution(agent, 1.0, event_id=f"{b}-{i}") for i in range(9_000)] for b in range(12)]

    async def scenario():
        async with LearningSystemClient(fresh_server.address, retry=RetryPolicy(max_attempts=100), timeout=300) as client:
            results = await asyncio.gather(*(client.log_performances(batch) for batch in batches))
            return results, client.stats.retries

    results, retries = asyncio.run(scenario())
    assert sum(r["accepted"] for r in results) == 108_000 and sum(r["duplicates"] for r in results) == 0
    assert retries >= 1, "the queue never filled: no RESOURCE_EXHAUSTED to retry"
    assert stored(fresh_server, agent) == 108_000

    # The refusal itself, without retries: the status, the detail and the delay as sent.
    async def refused():
        async with LearningSystemClient(fresh_server.address, retry=RetryPolicy.none(), timeout=300) as client:
            outcomes = await asyncio.gather(*(client.log_performances(
                [execution(agent, 1.0) for _ in range(9_000)]) for _ in range(12)), return_exceptions=True)
            return [o for o in outcomes if isinstance(o, Exception)]

    errors = asyncio.run(refused())
    assert errors, "no call was refused"
    assert all(e.code == grpc.StatusCode.RESOURCE_EXHAUSTED for e in errors), errors
    assert all(e.retry_after is not None and e.retry_after > 0 for e in errors)


def test_retry_waits_the_pushback_the_server_sends():
    """The wait itself, measured: a gRPC server (grpcio) that refuses twice with
    RESOURCE_EXHAUSTED and `grpc-retry-pushback-ms: 400`, as learning-server's overload does, then
    answers. The real server's trailer is checked in test_resource_exhausted_honours_the_servers_retry_delay."""
    from concurrent import futures

    from learning_system_client._proto import learning_pb2 as pb

    calls = []

    def log_executions(request, context):
        calls.append(time.monotonic())
        if len(calls) <= 2:
            context.set_trailing_metadata((("grpc-retry-pushback-ms", "400"),))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "the ingest queue is full (retry after 0.4 s)")
        return pb.LogExecutionsResponse(accepted=len(request.executions))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    handler = grpc.method_handlers_generic_handler("learning.v1.LearningSystem", {
        "LogExecutions": grpc.unary_unary_rpc_method_handler(
            log_executions, request_deserializer=pb.LogExecutionsRequest.FromString,
            response_serializer=pb.LogExecutionsResponse.SerializeToString)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with SyncLearningSystemClient(f"127.0.0.1:{port}", retry=RetryPolicy(initial_backoff=0.01)) as client:
            assert client.log_performances([execution("pushback")]) == {"accepted": 1, "duplicates": 0}
            assert client.stats.retries == 2
        gaps = [b - a for a, b in zip(calls, calls[1:])]
        assert len(calls) == 3 and all(gap >= 0.39 for gap in gaps), gaps

        async def refused_once_more():
            calls.clear()
            async with LearningSystemClient(f"127.0.0.1:{port}", retry=RetryPolicy(max_attempts=2)) as client:
                with pytest.raises(ResourceExhausted) as failure:
                    await client.log_performances([execution("pushback")])
                return failure.value

        error = asyncio.run(refused_once_more())
        assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.retry_after == 0.4 and error.attempts == 2
        assert calls[1] - calls[0] >= 0.39
    finally:
        server.stop(None)
