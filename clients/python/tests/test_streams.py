"""Streaming RPCs through the client: client-streaming and bidirectional ingest, and the live
insight stream as an async iterator."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid

import pytest

from learning_system_client import InvalidArgument, LearningSystemClient, SyncLearningSystemClient

from conftest import name


def execution(agent, seconds, task_type="stream", **extra):
    data = {"agent_name": agent, "task_id": str(uuid.uuid4()), "task_type": task_type, "execution_time": seconds,
            "success": True, "resource_usage": {"cpu": 10.0, "memory_mb": 100.0, "tokens": 50.0}}
    data.update(extra)
    return data


def test_stream_and_ingest_executions(server):
    agent = name("streamer")

    async def produce(n):
        for i in range(n):
            yield execution(agent, 1.0 + i % 4, event_id=f"s-{i}")

    async def scenario():
        async with LearningSystemClient(server.address) as client:
            streamed = await client.stream_executions(produce(2500))
            again = await client.stream_executions([execution(agent, 1.0, event_id=f"s-{i}") for i in range(10)])
            acks = [ack async for ack in client.ingest_executions(execution(agent, 2.0) for _ in range(300))]
            with pytest.raises(ValueError, match=r"executions\[1\]") as refused:
                await client.stream_executions([execution(agent, 1.0), {"agent_name": agent, "bogus": 1}])
            # The refusal ends the stream cleanly: what came before it is committed, and said so.
            assert "stored before it: {'accepted': 1, 'duplicates': 0}" in "".join(getattr(refused.value, "__notes__", []))
            before_refusal = []
            with pytest.raises(ValueError, match=r"executions\[2\]"):
                async for ack in client.ingest_executions([execution(agent, 1.0), execution(agent, 1.0), {"bogus": 1}]):
                    before_refusal.append(ack)
            assert [a["sequence"] for a in before_refusal] == [0, 1]
            return streamed, again, acks

    streamed, again, acks = asyncio.run(scenario())
    assert streamed == {"accepted": 2500, "duplicates": 0} and again == {"accepted": 0, "duplicates": 10}
    assert [a["sequence"] for a in acks] == list(range(300)) and all(a["id"] > 0 and not a["duplicate"] for a in acks)
    with SyncLearningSystemClient(server.address) as client:
        assert client.stream_executions(execution(agent, 3.0) for _ in range(5)) == {"accepted": 5, "duplicates": 0}
        sync_acks = list(client.ingest_executions([execution(agent, 3.0, event_id="s-0"), execution(agent, 3.0)]))
        assert [a["duplicate"] for a in sync_acks] == [True, False]
        with pytest.raises(InvalidArgument):
            client.stream_executions([execution(agent, -1.0)])
        with pytest.raises(ValueError, match=r"executions\[1\]"):
            client.stream_executions([execution(agent, 3.0), {"agent_name": agent, "bogus": 1}])
    # 2500 + 300 + 5 + 1 new of the sync ingest, + the valid executions[0] of the refused client
    # stream, the two before the refusal in the bidirectional one and the blocking client's one (a refused execution ends the
    # stream cleanly, so exactly those before it are stored, never a timing-dependent subset).
    assert int(server.sql(f"SELECT count(*) FROM agents.execution_log WHERE agent_name = '{agent}'")) == 2810


def test_watch_insights_yields_a_latency_spike_as_it_is_found(server):
    agent, other = name("watched"), name("watched-sync")
    task_type = name("watch-task")

    async def scenario():
        async with LearningSystemClient(server.address) as client:
            for who in (agent, other):
                await client.log_performances([execution(who, 10.0 + (i % 5) * 0.5, task_type) for i in range(120)])
            await client.retrain()
            events = client.watch_insights(kinds=["anomaly"], agent_name=agent)
            first = asyncio.ensure_future(events.__anext__())
            await asyncio.sleep(0.5)
            spike = await client.log_performance(execution(agent, 400.0, task_type))
            event = await asyncio.wait_for(first, timeout=20)
            await events.aclose()
            anomalies = await client.get_anomalies(agent_name=agent)
            return spike, event, anomalies

    spike, event, anomalies = asyncio.run(scenario())
    assert set(event) == {"anomaly"}
    anomaly = event["anomaly"]
    assert anomaly["kind"] == "latency_spike" and anomaly["agent_name"] == agent
    assert anomaly["execution_id"] == spike["id"] and anomaly["observed"] == 400.0
    assert any(a["execution_id"] == spike["id"] for a in anomalies["anomalies"])

    # The blocking client's generator (another agent: spikes of one pair within 10 s are merged).
    events: "queue.Queue[dict]" = queue.Queue()
    with SyncLearningSystemClient(server.address) as client:
        stream = client.watch_insights(kinds=["anomaly"], agent_name=other)
        reader = threading.Thread(target=lambda: events.put(next(stream)), daemon=True)
        reader.start()
        import time
        time.sleep(0.5)
        client.log_performance(execution(other, 900.0, task_type))
        got = events.get(timeout=20)
        stream.close()
        assert got["anomaly"]["agent_name"] == other and got["anomaly"]["observed"] == 900.0
