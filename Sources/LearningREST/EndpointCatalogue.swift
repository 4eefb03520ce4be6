// Every REST endpoint in one table: the router, the OpenAPI document and the docs page are all
// derived from it, so they cannot drift apart.

public import LearningAPI
import LearningService

/// One query parameter of an endpoint.
public struct QueryParameterSpec: Sendable {
    /// The parameter's name.
    public var name: String
    /// `integer`, `number`, `string` or `boolean` (OpenAPI schema types).
    public var type: String
    /// What it does.
    public var description: String
}

/// One REST endpoint: method, path, the RPC it mirrors, and example request and response bodies.
public struct Endpoint: Sendable {
    /// The operation.
    public var id: RouteID
    /// `GET` or `POST`.
    public var method: String
    /// The path with `{parameters}`, e.g. `/agents/{name}/status`.
    public var path: String
    /// A one-line summary.
    public var summary: String
    /// The gRPC method of `learning.v1.LearningSystem` that does the same, if any.
    public var rpc: String?
    /// The OpenAPI tag (section of the docs page).
    public var tag: String
    /// Query parameters.
    public var query: [QueryParameterSpec] = []
    /// An example request body (POST endpoints).
    public var requestExample: JSONValue?
    /// An example successful response body (JSON endpoints).
    public var responseExample: JSONValue?
    /// The response media type of a success.
    public var responseType: String = "application/json"
    /// Whether an API key is needed when keys are configured (writes and admin operations).
    public var requiresKey: Bool = false
    /// The error statuses this endpoint can answer with, besides the ones every endpoint may give.
    public var errors: [Int] = []
    /// The request body's fields its decoder requires (a 422 without them).
    public var requestRequired: [String] = []
    /// The statuses of a success: 201 when something new was stored, 200 otherwise.
    public var successStatuses: [Int] = [200]
    /// Statuses that answer with the success body, not an error (`/health`'s 503 while unhealthy).
    public var sameBodyStatuses: [Int] = []
    /// Where the request body's schema comes from (POST endpoints): by default the RPC's request
    /// message, without the fields the path carries.
    public var requestSchema: BodySchema = .rpc
    /// Where the success body's schema comes from (JSON endpoints): by default the RPC's
    /// response message.
    public var responseSchema: BodySchema = .rpc
}

/// The schema of a JSON body: a message of Protos/ (the one description of every field and its
/// type), or, where the REST shape is the guide's and not the message's, a schema written beside
/// the code that makes that shape.
public enum BodySchema: Sendable {
    /// The RPC's request or response message.
    case rpc
    /// A message by full name (`learning.v1.Execution`), without the fields in `omitting`;
    /// when `inlining` names a message field, that field's own fields stand in its place (a
    /// flatter body); `overriding` gives fields the REST shape shows differently their schema.
    case message(String, omitting: [String] = [], inlining: String? = nil, overriding: [String: JSONValue] = [:])
    /// A schema written by hand (a guide-shaped body).
    case custom(JSONValue)
    /// No JSON body.
    case none
}

extension Endpoint {
    /// Every error status this endpoint can answer with: its own list, 405 for a wrong method,
    /// and 401 when it needs a key.
    public var errorStatuses: [Int] {
        var codes = Set(errors).subtracting(sameBodyStatuses)
        codes.insert(405)
        if requiresKey { codes.insert(401) }
        return codes.sorted()
    }
}

/// The catalogue of endpoints.
public enum EndpointCatalogue {
    private static func obj(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(members.map { ($0.key, $0.value) })
    }

    private static let agentExample = obj([
        "name": .string("director"), "description": .string("Strategic planning and delegation"),
        "tools": .array([.string("Read"), .string("Task")]), "model": .string("opus"),
        "status": .string("healthy"), "last_seen": .string("2025-01-25T10:29:41Z"),
        "registered_at": .string("2025-01-20T08:00:00Z"), "source": .string("api"),
        "metadata": obj([:]),
    ])

    private static let taskTypeExample = obj([
        "task_type": .string("strategic_planning"), "executions": .int(412), "success_rate": .double(0.962),
        "avg_execution_time": .double(41.7), "median_execution_time": .double(35.2), "p90_execution_time": .double(77.9),
        "avg_cpu": .double(38.5), "avg_memory_mb": .double(1210.4), "avg_tokens": .double(8120),
    ])

    private static let collaborationExample = obj([
        "agents": .array([.string("architect"), .string("director")]), "shared_tasks": .int(87),
        "success_rate_together": .double(0.977), "expected_success_rate": .double(0.91), "lift": .double(0.067),
        "z_score": .double(2.4), "effect": .string("synergy"),
    ])

    private static let handoffExample = obj([
        "from_agent": .string("director"), "to_agent": .string("architect"), "count": .int(64),
        "success_rate": .double(0.95), "median_gap_seconds": .double(12.5),
    ])

    private static let insightExample = obj([
        "id": .string("anomaly-latency_spike-director-901"), "kind": .string("anomaly"), "severity": .string("warning"),
        "title": .string("director is slow on strategic_planning"),
        "detail": .string("execution 901 took 412.0 s against an expected 35.2 s"),
        "agents": .array([.string("director")]), "task_type": .string("strategic_planning"),
        "created_at": .string("2025-01-25T10:30:00Z"), "score": .double(6.1),
    ])

    private static let anomalyExample = obj([
        "id": .string("latency_spike-901"), "kind": .string("latency_spike"), "agent_name": .string("director"),
        "task_type": .string("strategic_planning"), "score": .double(6.1), "threshold": .double(2.0),
        "observed": .double(412.0), "expected": .double(35.2), "execution_id": .int(901),
        "detected_at": .string("2025-01-25T10:30:00Z"), "detail": .string("execution time far above the usual"),
        "execution_ids": .array([.int(901)]),
    ])

    private static let patternsExample = obj([
        "collaboration": .array([collaborationExample]),
        "performance": .array([obj([
            "task_type": .string("strategic_planning"), "best_hour": .int(9), "worst_hour": .int(23),
            "best_hour_median_time": .double(30.1), "worst_hour_failure_rate": .double(0.12),
        ])]),
        "resources": .array([obj([
            "cluster": .int(0), "agents": .array([.string("director"), .string("architect")]), "avg_cpu": .double(38.5),
            "avg_memory_mb": .double(1210.4), "avg_tokens": .double(8120), "label": .string("token_heavy"),
        ])]),
        "failures": .array([obj([
            "signature": .string("timeout after <n>s"), "count": .int(31), "agents": .array([.string("monitor")]),
            "task_types": .array([.string("log_analysis")]), "example": .string("timeout after 300s"),
            "last_seen": .string("2025-01-25T09:12:44Z"),
        ])]),
    ])

    private static let predictionExample = obj([
        "agent_name": .string("director"), "task_type": .string("strategic_planning"), "execution_time": .double(41.7),
        "median_execution_time": .double(35.2), "success_rate": .double(0.962), "confidence": .double(0.88),
        "interval_low": .double(18.0), "interval_high": .double(77.9),
        "resources": obj(["cpu": .double(38.5), "memory_mb": .double(1210.4), "tokens": .double(8120)]),
        "low_confidence": .bool(false), "based_on_executions": .int(412), "basis": .string("pair"),
    ])

    private static let executionExample = obj([
        "agent_name": .string("director"), "task_id": .string("120f4156-2bf0-4841-9994-cd8c5d83e6cf"),
        "task_type": .string("strategic_planning"), "execution_time": .double(42.5), "success": .bool(true),
        "resource_usage": obj(["cpu": .double(35.2), "memory_mb": .double(1024), "tokens": .int(8000)]),
        "timestamp": .string("2025-01-25T10:30:00Z"),
    ])

    private static let modelsExample = obj([
        "pattern_recognition": .string("active"), "performance_prediction": .string("active"),
        "anomaly_detection": .string("active"),
    ])

    /// The guide's `/health` example plus `ml_models`, which its health monitor reads.
    public static let healthExample = obj([
        "status": .string("healthy"), "service": .string("learning-system"), "database": .string("connected"),
        "agents_registered": .int(71), "timestamp": .string("2025-01-25T10:30:00Z"), "ml_models": modelsExample,
    ])

    /// The guide's `/status` example.
    public static let statusExample = obj([
        "learning_system": .string("operational"), "database": .string("connected"), "agents_registered": .int(71),
        "performance": obj(["queries_per_sec": .int(2150), "avg_latency_ms": .double(18.2), "success_rate": .double(98.7)]),
        "ml_models": modelsExample,
    ])

    /// The `/metrics` JSON example (the keys the guide's performance monitor reads, and more).
    public static let metricsExample = obj([
        "queries_per_sec": .double(2150.4), "prediction_accuracy": .double(0.87), "training_time": .double(2.41),
        "agent_response_time": .double(38.9), "memory_usage_mb": .double(182.5), "cpu_usage_percent": .double(23.4),
        "executions_ingested": .int(200_000),
        "methods": .array([obj([
            "method": .string("GET /analytics/performance"), "requests": .int(1200), "errors": .int(0),
            "avg_latency_ms": .double(4.2), "p99_latency_ms": .double(19.8),
        ])]),
    ])

    /// Every endpoint, in the order the docs list them.
    public static let all: [Endpoint] = [
        Endpoint(id: .health, method: "GET", path: "/health",
                 summary: "Liveness and readiness: service, database and model states (answered from memory). "
                    + "503 with the same body while the service is unhealthy (database down, draining).",
                 rpc: "GetHealth", tag: "System", responseExample: healthExample, sameBodyStatuses: [503],
                 responseSchema: .message("learning.v1.GetHealthResponse", omitting: ["version", "uptime_seconds", "total_executions"],
                                          overriding: ["ml_models": RESTEncoding.modelStatesSchema])),
        Endpoint(id: .status, method: "GET", path: "/status",
                 summary: "System status with request rate, latency and agent success rate over the recent window.",
                 rpc: "GetStatus", tag: "System", responseExample: statusExample,
                 responseSchema: .message("learning.v1.GetStatusResponse", omitting: ["features"],
                                          overriding: ["ml_models": RESTEncoding.modelStatesSchema,
                                                       "performance": RESTEncoding.statusPerformanceSchema])),
        Endpoint(id: .metrics, method: "GET", path: "/metrics",
                 summary: "Service metrics as JSON; Prometheus text with Accept: text/plain or ?format=prometheus.",
                 rpc: "GetMetrics", tag: "System",
                 query: [QueryParameterSpec(name: "format", type: "string", description: "json (default) or prometheus")],
                 responseExample: metricsExample, errors: [400, 422, 503]),
        Endpoint(id: .metricsPrometheus, method: "GET", path: "/metrics/prometheus",
                 summary: "The same metrics in the Prometheus text exposition format 0.0.4.",
                 rpc: "GetMetrics", tag: "System", responseType: "text/plain; version=0.0.4; charset=utf-8", errors: [503],
                 responseSchema: .none),

        Endpoint(id: .listAgents, method: "GET", path: "/agents/list",
                 summary: "Every registered agent with its health status.", rpc: "ListAgents", tag: "Agents",
                 query: [QueryParameterSpec(name: "status", type: "string", description: "only agents in this status: healthy, degraded, unhealthy or unknown")],
                 responseExample: obj(["agents": .array([agentExample]), "total": .int(1)]), errors: [422, 503]),
        Endpoint(id: .registerAgent, method: "POST", path: "/agents/register",
                 summary: "Registers an agent or updates it (idempotent upsert).", rpc: "RegisterAgent", tag: "Agents",
                 requestExample: obj([
                    "name": .string("director"), "description": .string("Strategic planning and delegation"),
                    "tools": .array([.string("Read"), .string("Task")]), "model": .string("opus"), "metadata": obj(["team": .string("core")]),
                 ]),
                 responseExample: obj(["agent": agentExample, "created": .bool(true)]),
                 requiresKey: true, errors: [400, 401, 409, 413, 415, 422, 503], requestRequired: ["name"],
                 successStatuses: [201, 200]),
        Endpoint(id: .agentStatus, method: "GET", path: "/agents/{name}/status",
                 summary: "One agent's health: last seen versus the health-check interval and its recent success rate.",
                 rpc: "GetAgentStatus", tag: "Agents",
                 responseExample: obj([
                    "agent": agentExample, "status": .string("healthy"), "executions_total": .int(412),
                    "recent_success_rate": .double(0.962), "seconds_since_seen": .double(19.2),
                    "health_check_interval_seconds": .int(30), "reason": .string("seen 19 s ago; 96% of recent executions succeeded"),
                 ]), errors: [404, 422, 503]),
        Endpoint(id: .agentPerformance, method: "GET", path: "/agents/{name}/performance",
                 summary: "One agent's performance, overall and per task type.", rpc: "GetAgentPerformance", tag: "Agents",
                 responseExample: obj([
                    "agent_name": .string("director"), "executions": .int(412), "success_rate": .double(0.962),
                    "avg_execution_time": .double(41.7), "median_execution_time": .double(35.2),
                    "task_types": .array([taskTypeExample]), "last_execution": .string("2025-01-25T10:29:41Z"),
                    "coordination_score": .double(0.93),
                 ]), errors: [404, 422, 503]),
        Endpoint(id: .heartbeat, method: "POST", path: "/agents/{name}/heartbeat",
                 summary: "Marks the agent as seen now (body optional). `status`, the agent's own view (healthy, degraded or unhealthy), is kept and, while this heartbeat is fresh (2 health-check intervals), the worse of it and the health rule's is the agent's status.",
                 rpc: "Heartbeat", tag: "Agents",
                 requestExample: obj(["status": .string("healthy")]),
                 responseExample: obj(["agent": agentExample]), requiresKey: true, errors: [400, 401, 404, 415, 422, 503],
                 requestSchema: .message("learning.v1.HeartbeatRequest", omitting: ["agent_name"], overriding: [
                     "status": obj(["type": .string("string"),
                                    "enum": .array((AgentHealthRule.reportableStatuses + [""]).map { .string($0) })]),
                 ])),
        Endpoint(id: .submitMetrics, method: "POST", path: "/agents/{name}/metrics",
                 summary: "Submits measured metrics of an agent (the guide's PerformanceCollector).", rpc: "SubmitMetrics",
                 tag: "Agents",
                 requestExample: obj([
                    "task_type": .string("strategic_planning"), "response_time": .double(1.25), "throughput": .double(3.5),
                    "resource_usage": obj(["cpu": .double(35.2), "memory_mb": .double(1024)]), "success_rate": .double(0.97),
                    "coordination_effectiveness": .double(0.9),
                 ]),
                 responseExample: obj(["id": .int(1234)]), requiresKey: true, errors: [400, 401, 404, 413, 415, 422, 503],
                 successStatuses: [201],
                 requestSchema: .message("learning.v1.SubmitMetricsRequest", omitting: ["agent_name"], inlining: "metrics")),
        Endpoint(id: .similarAgents, method: "GET", path: "/agents/{name}/similar",
                 summary: "Agents whose behaviour vectors are most similar (cosine).", rpc: "FindSimilarAgents", tag: "Agents",
                 query: [QueryParameterSpec(name: "limit", type: "integer", description: "how many (default 5, at most 100)"),
                         QueryParameterSpec(name: "threshold", type: "number", description: "minimum cosine similarity, -1..1 (default ml.similarity_threshold)")],
                 responseExample: obj([
                    "agent_name": .string("director"),
                    "similar": .array([obj(["agent_name": .string("architect"), "similarity": .double(0.93)])]),
                 ]), errors: [400, 404, 422, 503]),

        Endpoint(id: .logExecution, method: "POST", path: "/executions",
                 summary: "Logs one execution (the guide's performance_data); retries with the same event_id are stored once.",
                 rpc: "LogExecution", tag: "Ingest",
                 requestExample: executionExample,
                 responseExample: obj(["id": .int(200_001), "duplicate": .bool(false)]),
                 requiresKey: true, errors: [400, 401, 413, 415, 422, 429, 503], requestRequired: ["agent_name", "success"],
                 successStatuses: [201, 200], requestSchema: .message("learning.v1.Execution")),
        Endpoint(id: .logExecutions, method: "POST", path: "/executions/batch",
                 summary: "Logs many executions in one transaction.", rpc: "LogExecutions", tag: "Ingest",
                 requestExample: obj(["executions": .array([executionExample])]),
                 responseExample: obj(["accepted": .int(1), "duplicates": .int(0)]),
                 requiresKey: true, errors: [400, 401, 413, 415, 422, 429, 503], requestRequired: ["executions"]),
        Endpoint(id: .otlpTraces, method: "POST", path: "/v1/traces",
                 summary: "OTLP/HTTP trace export (protobuf or JSON, gzip allowed): spans of agent work become executions; twin of opentelemetry.proto.collector.trace.v1.TraceService/Export.",
                 rpc: nil, tag: "Ingest",
                 requestExample: obj(["resourceSpans": .array([obj([
                    "resource": obj(["attributes": .array([obj(["key": .string("service.name"), "value": obj(["stringValue": .string("crew")])])])]),
                    "scopeSpans": .array([obj(["spans": .array([obj([
                        "traceId": .string("5b8efff798038103d269b633813fc60c"), "spanId": .string("eee19b7ec3c1b174"),
                        "name": .string("invoke_agent director"), "kind": .int(1),
                        "startTimeUnixNano": .string("1737800958000000000"), "endTimeUnixNano": .string("1737801000500000000"),
                        "attributes": .array([
                            obj(["key": .string("gen_ai.operation.name"), "value": obj(["stringValue": .string("invoke_agent")])]),
                            obj(["key": .string("gen_ai.agent.name"), "value": obj(["stringValue": .string("director")])]),
                            obj(["key": .string("task.type"), "value": obj(["stringValue": .string("strategic_planning")])]),
                            obj(["key": .string("gen_ai.usage.input_tokens"), "value": obj(["intValue": .string("6000")])]),
                            obj(["key": .string("gen_ai.usage.output_tokens"), "value": obj(["intValue": .string("2000")])]),
                        ]),
                        "status": obj(["code": .int(1)]),
                    ]), obj([
                        "traceId": .string("5b8efff798038103d269b633813fc60c"), "spanId": .string("eee19b7ec3c1b175"),
                        "parentSpanId": .string("eee19b7ec3c1b174"), "name": .string("chat gpt-4o"), "kind": .int(3),
                        "startTimeUnixNano": .string("1737800960000000000"), "endTimeUnixNano": .string("1737800990000000000"),
                        "attributes": .array([
                            obj(["key": .string("gen_ai.operation.name"), "value": obj(["stringValue": .string("chat")])]),
                        ]),
                    ])])])]),
                 ])])]),
                 responseExample: obj(["partialSuccess": obj([
                    "rejectedSpans": .string("0"),
                    "errorMessage": .string("1 span(s) skipped: not agent work (no invoke_agent operation or gen_ai.agent.name)"),
                 ])]),
                 requiresKey: true, errors: [400, 401, 413, 415, 429, 503]),

        Endpoint(id: .performanceAnalytics, method: "GET", path: "/analytics/performance",
                 summary: "Overall performance: totals, per agent and per task type.", rpc: "GetPerformanceAnalytics",
                 tag: "Analytics",
                 query: [QueryParameterSpec(name: "window_hours", type: "integer", description: "only the last N hours (default: all retained data)")],
                 responseExample: obj([
                    "total_executions": .int(200_000), "success_rate": .double(0.93), "avg_execution_time": .double(38.9),
                    "median_execution_time": .double(12.4), "p90_execution_time": .double(96.1),
                    "agents": .array([obj([
                        "agent_name": .string("director"), "executions": .int(412), "success_rate": .double(0.962),
                        "avg_execution_time": .double(41.7), "median_execution_time": .double(35.2),
                    ])]),
                    "task_types": .array([taskTypeExample]), "generated_at": .string("2025-01-25T10:30:00Z"),
                 ]), errors: [400, 422, 503]),
        Endpoint(id: .coordination, method: "GET", path: "/analytics/coordination",
                 summary: "Which agents work well together, and the hand-offs between them.", rpc: "GetCoordinationPatterns",
                 tag: "Analytics",
                 query: [QueryParameterSpec(name: "limit", type: "integer", description: "at most this many pairs and hand-offs (default 20)")],
                 responseExample: obj([
                    "pairs": .array([collaborationExample]), "handoffs": .array([handoffExample]),
                    "coordination_score": .double(0.91), "multi_agent_tasks": .int(5230),
                 ]), errors: [400, 422, 503]),
        Endpoint(id: .insights, method: "GET", path: "/analytics/insights",
                 summary: "Learning insights: anomalies, synergies, conflicts, drift, schedules, failure patterns.",
                 rpc: "GetInsights", tag: "Analytics",
                 query: [QueryParameterSpec(name: "limit", type: "integer", description: "at most this many (default 20)"),
                         QueryParameterSpec(name: "kind", type: "string", description: "only this kind")],
                 responseExample: obj(["insights": .array([insightExample])]), errors: [400, 422, 503]),
        Endpoint(id: .anomalies, method: "GET", path: "/analytics/anomalies",
                 summary: "Recent anomalous executions (latency and resource spikes, failure bursts).", rpc: "GetAnomalies",
                 tag: "Analytics",
                 query: [QueryParameterSpec(name: "limit", type: "integer", description: "at most this many (default 20)"),
                         QueryParameterSpec(name: "agent_name", type: "string", description: "only this agent"),
                         QueryParameterSpec(name: "since", type: "string", description: "only after this ISO 8601 time")],
                 responseExample: obj(["anomalies": .array([anomalyExample])]), errors: [400, 422, 503]),

        Endpoint(id: .patterns, method: "GET", path: "/patterns",
                 summary: "Learned patterns: collaboration, performance (scheduling), resources, failures.", rpc: "GetPatterns",
                 tag: "Machine learning",
                 query: [QueryParameterSpec(name: "kinds", type: "string", description: "comma-separated subset of collaboration,performance,resources,failures")],
                 responseExample: patternsExample, errors: [400, 409, 422, 503],
                 responseSchema: .message("learning.v1.GetPatternsResponse", omitting: ["handoffs"])),
        Endpoint(id: .predict, method: "POST", path: "/predict",
                 summary: "Predicts an agent's execution time, success rate and resources for a task type.",
                 rpc: "PredictPerformance", tag: "Machine learning",
                 requestExample: obj(["agent_name": .string("director"), "task_type": .string("strategic_planning")]),
                 responseExample: predictionExample, errors: [400, 404, 409, 413, 415, 422, 503],
                 requestRequired: ["agent_name", "task_type"]),
        Endpoint(id: .recommendations, method: "GET", path: "/recommendations",
                 summary: "The agents best suited to a task type, ranked.", rpc: "GetRecommendations", tag: "Machine learning",
                 query: [QueryParameterSpec(name: "task_type", type: "string", description: "the task type (required)"),
                         QueryParameterSpec(name: "limit", type: "integer", description: "how many (default 5, at most 100)"),
                         QueryParameterSpec(name: "speed_weight", type: "number", description: "0: rank by success only; 1: weigh speed as much as success")],
                 responseExample: obj([
                    "task_type": .string("strategic_planning"),
                    "recommendations": .array([obj([
                        "agent_name": .string("director"), "expected_success_rate": .double(0.962),
                        "predicted_execution_time": .double(41.7), "confidence": .double(0.88), "score": .double(0.95),
                        "reason": .string("highest success rate on strategic_planning over 412 executions"), "rank": .int(1),
                    ])]),
                 ]), errors: [400, 422, 503]),
        Endpoint(id: .retrain, method: "POST", path: "/ml/retrain",
                 summary: "Retrains every model now (admin); optional body `{\"as_of\": timestamp}` trains as if now were that time (backtests).",
                 rpc: "Retrain", tag: "Machine learning",
                 requestExample: obj(["as_of": .string("2025-01-30T00:00:00Z")]),
                 responseExample: obj([
                    "ml_models": modelsExample, "training_time": .double(2.41), "trained_on_executions": .int(200_000),
                 ]), requiresKey: true, errors: [400, 401, 409, 422, 503],
                 responseSchema: .message("learning.v1.RetrainResponse", overriding: ["ml_models": RESTEncoding.modelStatesSchema])),
        Endpoint(id: .testPatterns, method: "GET", path: "/ml/test/patterns",
                 summary: "The guide's pattern-recognition smoke test: the learned patterns.", rpc: "GetPatterns",
                 tag: "Machine learning", responseExample: patternsExample, errors: [409, 503],
                 responseSchema: .message("learning.v1.GetPatternsResponse", omitting: ["handoffs"])),
        Endpoint(id: .testPrediction, method: "POST", path: "/ml/test/prediction",
                 summary: "The guide's prediction smoke test, with {\"agent\", \"task\"}.", rpc: "PredictPerformance",
                 tag: "Machine learning",
                 requestExample: obj(["agent": .string("director"), "task": .string("strategic_planning")]),
                 responseExample: predictionExample, errors: [400, 404, 409, 413, 415, 422, 503],
                 requestSchema: .custom(RESTDecoding.testPredictionSchema)),

        Endpoint(id: .docs, method: "GET", path: "/api/docs",
                 summary: "This documentation page (self-contained HTML).", rpc: nil, tag: "Documentation",
                 responseType: "text/html; charset=utf-8", responseSchema: .none),
        Endpoint(id: .openAPI, method: "GET", path: "/api/openapi.json",
                 summary: "The OpenAPI 3 document of this API.", rpc: nil, tag: "Documentation"),
    ]

    /// The endpoint of a route.
    public static func endpoint(_ id: RouteID) -> Endpoint {
        guard let endpoint = all.first(where: { $0.id == id }) else {
            preconditionFailure("route \(id) has no catalogue entry")
        }
        return endpoint
    }
}
