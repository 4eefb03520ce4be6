"""A real agent framework's own OpenTelemetry instrumentation reaches the service unchanged.

Usage: otlp_instrumented.py ADDRESS DATABASE_URL API_KEY
Pydantic AI agents (its offline TestModel, a tool) run with Pydantic AI's built-in GenAI
instrumentation; the only thing pointed at learning-system is the OTLP exporter, configured the
way an instrumented agent would be: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT and
OTEL_EXPORTER_OTLP_TRACES_HEADERS. Prints one line per check; exits 1 on the first failure.
"""
import asyncio
import json
import os
import sys
import urllib.request

address, database_url, api_key = sys.argv[1:4]
# The two environment variables of README "From OpenTelemetry", set before the exporter is made.
os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"http://{address}/v1/traces"
os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = f"authorization=Bearer {api_key}"

import asyncpg  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402
from pydantic_ai import Agent, InstrumentationSettings  # noqa: E402
from pydantic_ai.models.test import TestModel  # noqa: E402


def check(condition, what):
    if not condition:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


provider = TracerProvider(resource=Resource.create({"service.name": "pydantic-crew"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint and headers from the environment
Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))

researcher = Agent(TestModel(), name="researcher")
writer = Agent(TestModel(custom_output_text="a three-day plan"), name="writer")


@researcher.tool_plain
def weather(city: str) -> str:
    return f"{city}: sunny, 24 C"


RUNS = 6
workflow = provider.get_tracer("crew")
for run in range(RUNS):
    # One trace per request: the researcher, then the writer.
    with workflow.start_as_current_span("handle request"):
        researcher.run_sync(f"what is the weather in city {run}?")
        writer.run_sync("write the plan")
provider.force_flush()
provider.shutdown()


async def rows():
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT agent_name, task_id, task_type, success, execution_time, "
                                "(resource_usage->>'tokens')::float AS tokens FROM agents.execution_log")
    finally:
        await conn.close()


stored = asyncio.run(rows())
agents = sorted({r["agent_name"] for r in stored})
check(agents == ["researcher", "writer"], f"Pydantic AI's invoke_agent spans became executions: {agents}")
check(len(stored) == 2 * RUNS, f"one execution per agent run ({len(stored)}); its chat and execute_tool spans skipped")
check(all(r["success"] and r["execution_time"] >= 0 and r["task_type"] == "invoke_agent" for r in stored),
      "status, duration and the task type (gen_ai.operation.name by default)")
check(all(r["tokens"] and r["tokens"] > 0 for r in stored), "tokens from Pydantic AI's aggregated usage")
by_task = {}
for r in stored:
    by_task.setdefault(r["task_id"], set()).add(r["agent_name"])
check(len(by_task) == RUNS and all(v == {"researcher", "writer"} for v in by_task.values()),
      "the agents of one trace share a task id")
with urllib.request.urlopen(f"http://{address}/analytics/coordination", timeout=30) as response:
    coordination = json.loads(response.read())
check(any(p["agents"] == ["researcher", "writer"] and p["shared_tasks"] == RUNS for p in coordination["pairs"]),
      f"they are collaborators in the coordination patterns: {coordination['pairs']}")
print("ALL CHECKS PASSED", flush=True)
