import Foundation
import LearningTestSupport
import Testing
import H2Transport
import LearningService
@testable import LearningREST


/// The keys the guide's clients read from `/metrics`.
let guideMetricsKeys: Set = ["queries_per_sec", "prediction_accuracy", "training_time", "agent_response_time",
                             "memory_usage_mb", "cpu_usage_percent"]

func registered(_ names: String...) async -> (InMemoryService, RESTShim) {
    let service = InMemoryService()
    let shim = RESTShim(service: service)
    for name in names {
        _ = try? await service.registerAgent(RegisterAgentRequest(name: name, description: "d", tools: ["Read"], model: "opus"))
    }
    return (service, shim)
}

@Test func healthHasTheGuidesKeysPlusMLModelsAndIsInline() async throws {
    let (_, shim) = await registered("director")
    let reply = await send(shim, "GET", "/health")
    #expect(reply.status == 200)
    #expect(reply.wasInline)
    #expect(reply.header("content-type") == "application/json")
    let json = try #require(reply.json)
    let guide = try JSONValue.parse(guideHealth)
    #expect(Set(json.keys) == Set(guide.keys + ["ml_models"]))
    #expect(Shape(json).matches(Shape(.object([("ml_models", json["ml_models"]!)] + (guide.keys.map { ($0, guide[$0]!) })))))
    #expect(json["timestamp"] == .string("2025-01-25T10:30:00Z"))
    #expect(json["agents_registered"] == .number("1"))
    #expect(json["ml_models"]?["anomaly_detection"] == .string("insufficient_data"))
}

@Test func statusMatchesTheGuidesExampleFieldByField() async throws {
    let (_, shim) = await registered()
    let reply = await send(shim, "GET", "/status")
    #expect(reply.status == 200)
    #expect(reply.wasInline)
    let json = try #require(reply.json)
    let guide = try JSONValue.parse(guideStatus)
    #expect(Shape(json).matches(Shape(guide)), "\(Shape(json)) vs \(Shape(guide))")
    #expect(json.keys == guide.keys)
    #expect(json["performance"]?.keys == guide["performance"]?.keys)
    #expect(json["performance"]?["queries_per_sec"] == .number("2150"))
    #expect(json["performance"]?["avg_latency_ms"] == .number("18.23"))
}

@Test func metricsJSONHasEveryFigureTheGuideReads() async throws {
    let (_, shim) = await registered()
    let reply = await send(shim, "GET", "/metrics")
    #expect(reply.status == 200)
    #expect(reply.wasInline)
    let json = try #require(reply.json)
    #expect(guideMetricsKeys.isSubset(of: Set(json.keys)))
    #expect(Shape(json).matches(Shape(EndpointCatalogue.metricsExample)))
}

@Test func metricsInPrometheusFormatBoundsAgentLabels() async throws {
    let (service, shim) = await registered()
    for index in 0..<(PrometheusExposition.maxAgentSeries + 7) {
        for _ in 0...index {
            _ = try await service.logExecution(ExecutionInput(agentName: "agent-\(index)", executionTime: 1, success: true))
        }
    }
    for (query, headers, path) in [("format=prometheus", [Metadata](), "/metrics"),
                                   ("", [Metadata("accept", "text/plain;version=0.0.4")], "/metrics"),
                                   ("", [], "/metrics/prometheus")] {
        let reply = await send(shim, "GET", path, query: query, headers: headers)
        #expect(reply.status == 200)
        #expect(reply.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        let lines = reply.text.split(separator: "\n")
        let agentSeries = lines.filter { $0.hasPrefix("learning_agent_executions{") }
        #expect(agentSeries.count == PrometheusExposition.maxAgentSeries + 1)
        #expect(agentSeries.contains("learning_agent_executions{agent=\"other\"} 28.0"))
        #expect(agentSeries.contains("learning_agent_executions{agent=\"agent-26\"} 27.0"))
        #expect(lines.contains("learning_queries_per_second 10.0"))
        #expect(lines.contains("learning_executions_ingested_total \((PrometheusExposition.maxAgentSeries + 7) * (PrometheusExposition.maxAgentSeries + 8) / 2)"))
        #expect(lines.contains("# TYPE learning_cpu_usage_percent gauge"))
    }
    #expect(await send(shim, "GET", "/metrics", query: "format=xml").status == 422)
}

/// Drives every endpoint once with valid input and checks the response has the catalogue
/// example's shape (the docs and OpenAPI examples are the contract).
@Test func everyEndpointAnswersWithItsDocumentedShape() async throws {
    let (_, shim) = await registered("director", "architect")
    let bodies: [RouteID: String] = [
        .registerAgent: #"{"name": "coder", "description": "writes code", "tools": ["Edit"], "model": "sonnet", "metadata": {"team": "a"}}"#,
        .heartbeat: #"{"status": "healthy"}"#,
        .submitMetrics: #"{"task_type": "t", "response_time": 1.2, "throughput": 3, "resource_usage": {"cpu": 3}, "success_rate": 0.9, "coordination_effectiveness": 0.5}"#,
        .logExecution: #"{"agent_name": "director", "task_id": "120f4156-2bf0-4841-9994-cd8c5d83e6cf", "task_type": "planning", "execution_time": 2.5, "success": true, "resource_usage": {"cpu": 10, "memory_mb": 100, "tokens": 5}, "timestamp": "2025-01-25T10:30:00Z"}"#,
        .logExecutions: #"{"executions": [{"agent_name": "director", "success": false, "error_message": "boom"}]}"#,
        .predict: #"{"agent_name": "director", "task_type": "planning"}"#,
        .testPrediction: #"{"agent": "director", "task": "strategic_planning"}"#,
    ]
    let queries: [RouteID: String] = [.recommendations: "task_type=planning"]
    let validator = SchemaValidator(document: APIDocumentation.openAPIDocument())
    for endpoint in EndpointCatalogue.all {
        let path = endpoint.path.replacingOccurrences(of: "{name}", with: "director")
        // The OTLP export's documented request (an agent span and a model call it skips).
        let body = endpoint.id == .otlpTraces
            ? endpoint.requestExample.map { String(decoding: $0.encoded(), as: UTF8.self) } : bodies[endpoint.id]
        let reply = await send(shim, endpoint.method, path, query: queries[endpoint.id] ?? "", body: body)
        #expect((200...201).contains(reply.status), "\(endpoint.method) \(endpoint.path): \(reply.status) \(reply.text)")
        if let example = endpoint.responseExample {
            let json = try #require(reply.json, "\(endpoint.path)")
            #expect(Shape(json).matches(Shape(example)), "\(endpoint.path): \(Shape(json)) vs \(Shape(example))")
            // Keys come in the documented order.
            #expect(json.keys == example.keys, "\(endpoint.path)")
            // The OpenAPI document's schema (from Protos/) holds for the real answer and its status.
            let problems = validator.problems(responseOf: endpoint.method, endpoint.path, status: reply.status, body: json)
            #expect(problems.isEmpty, "\(endpoint.method) \(endpoint.path): \(problems)")
        }
        if let body, endpoint.id != .otlpTraces {
            let problems = validator.problems(requestOf: endpoint.method, endpoint.path, body: try JSONValue.parse(body))
            #expect(problems.isEmpty, "\(endpoint.method) \(endpoint.path) request: \(problems)")
        }
        // The examples the docs (docs/API.md, /api/docs) show conform to the document too.
        if let example = endpoint.responseExample {
            let problems = validator.problems(responseOf: endpoint.method, endpoint.path,
                                              status: endpoint.successStatuses[0], body: example)
            #expect(problems.isEmpty, "\(endpoint.method) \(endpoint.path) example: \(problems)")
        }
        if let example = endpoint.requestExample {
            let problems = validator.problems(requestOf: endpoint.method, endpoint.path, body: example)
            #expect(problems.isEmpty, "\(endpoint.method) \(endpoint.path) request example: \(problems)")
        }
    }
}

/// The request fields the OpenAPI document lists as required are exactly the ones the decoder
/// refuses to do without: each body of the shape test, with one top-level field left out.
@Test func documentedRequiredRequestFieldsAreTheOnesTheDecoderRequires() async throws {
    let (_, shim) = await registered("director")
    let bodies: [RouteID: JSONValue] = [
        .registerAgent: try JSONValue.parse(#"{"name": "coder", "description": "writes code", "tools": ["Edit"], "model": "sonnet"}"#),
        .logExecution: try JSONValue.parse(#"{"agent_name": "director", "task_type": "planning", "execution_time": 2.5, "success": true}"#),
        .logExecutions: try JSONValue.parse(#"{"executions": [{"agent_name": "director", "success": false}]}"#),
        .predict: try JSONValue.parse(#"{"agent_name": "director", "task_type": "planning", "hour": 3}"#),
        .submitMetrics: try JSONValue.parse(#"{"task_type": "t", "response_time": 1.2, "success_rate": 0.9}"#),
    ]
    for (route, body) in bodies {
        let endpoint = EndpointCatalogue.endpoint(route)
        guard case .object(let members) = body else { continue }
        for (index, member) in members.enumerated() {
            var without = members
            without.remove(at: index)
            let reply = await send(shim, endpoint.method, endpoint.path.replacingOccurrences(of: "{name}", with: "director"),
                                   body: String(decoding: JSONValue.object(without).encoded(), as: UTF8.self))
            if endpoint.requestRequired.contains(member.0) {
                #expect(reply.status == 422, "\(endpoint.path) without \(member.0): \(reply.status) \(reply.text)")
            } else {
                #expect((200...201).contains(reply.status), "\(endpoint.path) without \(member.0): \(reply.status) \(reply.text)")
            }
        }
    }
}

@Test func responseKeysFollowTheDocumentedOrderAtEveryLevel() async throws {
    let (service, shim) = await registered("director")
    _ = try await service.logExecution(ExecutionInput(agentName: "director", executionTime: 1, success: true))
    let reply = await send(shim, "GET", "/analytics/performance")
    let example = try #require(EndpointCatalogue.endpoint(.performanceAnalytics).responseExample)
    guard case let .array(agents)? = reply.json?["agents"], let first = agents.first,
          case let .array(documented)? = example["agents"], let documentedFirst = documented.first else {
        Issue.record("no agents in \(reply.text)")
        return
    }
    #expect(first.keys == documentedFirst.keys)
    #expect(first.keys.first == "agent_name")
}

@Test func requestFieldsReachTheServiceUnchanged() async throws {
    let (service, shim) = await registered("director")
    _ = await send(shim, "POST", "/ml/test/prediction", body: #"{"agent": "director", "task": "strategic_planning"}"#)
    #expect(service.state.withLock { $0.lastPrediction } == PredictionRequest(agentName: "director", taskType: "strategic_planning"))
    _ = await send(shim, "POST", "/predict", body: #"{"agent_name": "director", "task_type": "x", "hour": 5, "collaborators": ["a"]}"#)
    #expect(service.state.withLock { $0.lastPrediction } == PredictionRequest(agentName: "director", taskType: "x", hour: 5, collaborators: ["a"]))
    _ = await send(shim, "GET", "/recommendations", query: "task_type=code_review&limit=3&speed_weight=0.25")
    #expect(service.state.withLock { $0.lastRecommendations } == RecommendationsRequest(taskType: "code_review", limit: 3, speedWeight: 0.25))
    _ = await send(shim, "GET", "/patterns", query: "kinds=failures,collaboration")
    #expect(service.state.withLock { $0.lastPatternKinds } == [.failures, .collaboration])
    _ = await send(shim, "GET", "/analytics/anomalies", query: "limit=7&agent_name=director&since=2025-01-01T00:00:00Z")
    #expect(service.state.withLock { $0.lastAnomalies }?.limit == 7)
    #expect(service.state.withLock { $0.lastAnomalies }?.agentName == "director")
    _ = await send(shim, "GET", "/agents/director/similar", query: "limit=3&threshold=0.5")
    #expect(service.state.withLock { $0.lastSimilar } == SimilarAgentsRequest(agentName: "director", limit: 3, threshold: 0.5))
    _ = await send(shim, "POST", "/agents/director/metrics", body: #"{"response_time": 1.5, "resource_usage": {"cpu": 2, "gpu": 1}}"#)
    let metrics = try #require(service.state.withLock { $0.lastMetrics })
    #expect(metrics.metrics.responseTime == 1.5)
    #expect(metrics.metrics.resourceUsage.cpu == 2)
    #expect(metrics.metrics.resourceUsage.other == ["gpu": 1])
    _ = await send(shim, "GET", "/analytics/performance", query: "window_hours=24")
    #expect(service.state.withLock { $0.lastWindowHours } == 24)
    let logged = await send(shim, "POST", "/executions", body: #"{"agent_name": "director", "success": true, "event_id": "e-1", "timestamp": 1737801000}"#)
    #expect(logged.status == 201)
    let again = await send(shim, "POST", "/executions", body: #"{"agent_name": "director", "success": true, "event_id": "e-1"}"#)
    #expect(again.status == 200)
    #expect(again.json?["duplicate"] == .bool(true))
    let record = try #require(service.state.withLock { $0.executions.first })
    #expect(record.timestamp == InMemoryService.epoch)
}

@Test func registerIsIdempotent() async throws {
    let (_, shim) = await registered()
    let first = await send(shim, "POST", "/agents/register", body: #"{"name": "director"}"#)
    let second = await send(shim, "POST", "/agents/register", body: #"{"name": "director", "model": "opus"}"#)
    #expect(first.status == 201)
    #expect(first.json?["created"] == .bool(true))
    #expect(second.status == 200)
    #expect(second.json?["created"] == .bool(false))
    #expect(second.json?["agent"]?["model"] == .string("opus"))
    let list = await send(shim, "GET", "/agents/list")
    #expect(list.json?["total"] == .number("1"))
}

// MARK: - Errors: every class has its status and a JSON {"error", "detail"} body.

func expectError(_ reply: Reply, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
    #expect(reply.errorCode == code, "\(reply.text)", sourceLocation: sourceLocation)
    #expect(reply.json?.keys == ["error", "detail"], sourceLocation: sourceLocation)
    #expect(reply.header("content-type") == "application/json", sourceLocation: sourceLocation)
}

@Test func malformedInputIs400() async {
    let (_, shim) = await registered("director")
    expectError(await send(shim, "POST", "/executions", body: "{\"agent_name\": "), 400, "bad_request")
    expectError(await send(shim, "POST", "/executions", body: ""), 400, "bad_request")
    expectError(await send(shim, "GET", "/recommendations", query: "task_type=x&limit=ten"), 400, "bad_request")
    expectError(await send(shim, "GET", "/analytics/insights", query: "limit=%G1"), 400, "bad_request")
    expectError(await send(shim, "GET", "/agents/%E0%A4/status"), 400, "bad_request")
}

@Test func missingOrWrongKeyIs401WhenKeysAreConfigured() async {
    let service = InMemoryService(apiKey: "s3cret")
    let shim = RESTShim(service: service)
    let body = #"{"name": "director"}"#
    let missing = await send(shim, "POST", "/agents/register", body: body)
    expectError(missing, 401, "unauthenticated")
    #expect(missing.header("www-authenticate") != nil)
    expectError(await send(shim, "POST", "/agents/register", body: body, headers: [Metadata("authorization", "Bearer nope")]), 401, "unauthenticated")
    expectError(await send(shim, "POST", "/ml/retrain"), 401, "unauthenticated")
    #expect(await send(shim, "POST", "/agents/register", body: body, headers: [Metadata("authorization", "Bearer s3cret")]).status == 201)
    // Reads stay open.
    #expect(await send(shim, "GET", "/agents/list").status == 200)
    // Auth is checked before the body: no key and a bad body is still a 401.
    expectError(await send(shim, "POST", "/executions", body: "garbage", contentType: "text/plain"), 401, "unauthenticated")
}

@Test func retrainTakesAnOptionalAsOfForBacktests() async {
    let service = InMemoryService()
    let shim = RESTShim(service: service)
    #expect(await send(shim, "POST", "/ml/retrain").status == 200)
    #expect(service.state.withLock { $0.lastRetrainAsOf } == .some(nil))
    #expect(await send(shim, "POST", "/ml/retrain", body: #"{"as_of": "2025-01-30T00:00:00Z"}"#).status == 200)
    #expect(service.state.withLock { $0.lastRetrainAsOf } == .some(Date(timeIntervalSince1970: 1_738_195_200)))
    expectError(await send(shim, "POST", "/ml/retrain", body: #"{"as_of": "yesterday"}"#), 422, "invalid_argument")
    expectError(await send(shim, "POST", "/ml/retrain", body: #"{"as_of": "2999-01-01T00:00:00Z"}"#), 422, "invalid_argument")
}

@Test func unknownRouteOrAgentIs404() async {
    let (_, shim) = await registered("director")
    expectError(await send(shim, "GET", "/agents/ghost/status"), 404, "not_found")
    expectError(await send(shim, "GET", "/agents/ghost/performance"), 404, "not_found")
    expectError(await send(shim, "POST", "/agents/ghost/heartbeat"), 404, "not_found")
    expectError(await send(shim, "GET", "/no/such/thing"), 404, "not_found")
}

@Test func wrongMethodIs405WithAllow() async {
    let (_, shim) = await registered()
    let reply = await send(shim, "GET", "/agents/register")
    expectError(reply, 405, "method_not_allowed")
    #expect(reply.header("allow") == "POST")
    expectError(await send(shim, "PUT", "/health"), 405, "method_not_allowed")
}

@Test func conflictsAre409() async {
    let (service, shim) = await registered()
    service.failNext(.failedPrecondition("pattern recognition is disabled by configuration"))
    expectError(await send(shim, "GET", "/patterns"), 409, "failed_precondition")
    service.failNext(.alreadyExists("exists"))
    expectError(await send(shim, "POST", "/agents/register", body: #"{"name": "x"}"#), 409, "already_exists")
}

@Test func oversizedBodyIs413() async {
    let shim = RESTShim(service: InMemoryService(), maxBodyBytes: 64)
    expectError(await send(shim, "POST", "/executions", body: String(repeating: " ", count: 65)), 413, "payload_too_large")
}

@Test func bodyWithoutJSONContentTypeIs415() async {
    let (_, shim) = await registered("director")
    expectError(await send(shim, "POST", "/executions", body: #"{"agent_name": "director", "success": true}"#, contentType: "text/plain"), 415, "unsupported_media_type")
    expectError(await send(shim, "POST", "/predict", body: #"{}"#, contentType: nil), 415, "unsupported_media_type")
}

@Test func wellFormedButInvalidValuesAre422() async {
    let (_, shim) = await registered("director")
    let cases = [
        #"{"agent_name": "director", "success": "yes"}"#,                          // wrong type
        #"{"agent_name": 12, "success": true}"#,                                   // wrong type
        #"{"agent_name": "director", "success": true, "execution_time": -1}"#,    // negative
        #"{"agent_name": "director", "success": true, "execution_time": "5"}"#,   // string for number
        #"{"agent_name": "director", "success": true, "execution_time": 1e999}"#, // not finite
        #"{"agent_name": "director", "success": true, "task_id": "not\ta-uuid"}"#, // neither a UUID nor a plain id
        #"{"agent_name": "bad name!", "success": true}"#,                          // bad name
        #"{"agent_name": "director", "success": true, "resource_usage": {"cpu": "hot"}}"#,
        #"{"agent_name": "director", "success": true, "resource_usage": [1]}"#,
        #"{"agent_name": "director", "success": true, "timestamp": "yesterday"}"#,
        #"{"agent_name": "director", "success": true, "timestamp": "2999-01-01T00:00:00Z"}"#,
        #"{"agent_name": "director"}"#,                                            // missing success
        #"[1, 2, 3]"#,                                                             // not an object
    ]
    for body in cases {
        expectError(await send(shim, "POST", "/executions", body: body), 422, "invalid_argument")
    }
    expectError(await send(shim, "POST", "/executions/batch", body: #"{"executions": [{"agent_name": "a", "success": true}, {"agent_name": "", "success": true}]}"#), 422, "invalid_argument")
    let batch = await send(shim, "POST", "/executions/batch", body: #"{"executions": [{"agent_name": "a", "success": true}, {"agent_name": "a", "success": 1}]}"#)
    #expect(batch.text.contains("executions[1].success"))
    expectError(await send(shim, "POST", "/executions/batch", body: #"{"executions": {}}"#), 422, "invalid_argument")
}

/// The batch is decoded as its elements are parsed (bench/decode-cost.sh); its answers are those of
/// decoding the whole tree first.
@Test func batchAnswersComeInTheOrderOfTheBodysChecks() async {
    let (service, shim) = await registered("director")
    let good = #"{"agent_name": "a", "success": true}"#
    let bad = #"{"agent_name": "a", "success": 1}"#
    // A syntax error after an invalid element: the body is malformed (400), whatever came before.
    expectError(await send(shim, "POST", "/executions/batch", body: #"{"executions": ["# + bad + "," + good + "]"), 400, "bad_request")
    expectError(await send(shim, "POST", "/executions/batch", body: #"{"executions": ["# + good + #"], "executions": []}"#), 400, "bad_request")
    // The first invalid element is named, not a later one.
    let second = await send(shim, "POST", "/executions/batch", body: #"{"executions": ["# + [good, bad, #"{"success": true}"#].joined(separator: ",") + "]}")
    #expect(second.status == 422 && second.text.contains("executions[1].success"), "\(second.text)")
    // The whole body's checks, in order.
    let cases: [(String, String)] = [
        ("[]", "body must be a JSON object, not array"),
        (#"{"executions": null}"#, "executions is required"),
        (#"{"other": []}"#, "executions is required"),
        (#"{"executions": "x"}"#, "executions must be an array, not string"),
        (#"{"executions": []}"#, "executions is empty"),
        (#"{"executions": ["# + Array(repeating: bad, count: 10_001).joined(separator: ",") + "]}",
         "executions has 10001 records; at most 10000 per batch"),
    ]
    for (body, detail) in cases {
        let reply = await send(shim, "POST", "/executions/batch", body: body)
        #expect(reply.status == 422, "\(body.prefix(60))")
        #expect(reply.json?["detail"] == .string(detail), "\(reply.text)")
    }
    #expect(service.state.withLock { $0.executions.isEmpty }, "nothing of a refused batch is stored")
    // Accepted: every element, in order, members besides executions ignored as before.
    let accepted = await send(shim, "POST", "/executions/batch",
                              body: #"{"note": {"executions": 1}, "executions": [{"agent_name": "a", "success": true}, {"agent_name": "b", "success": false}], "x": [1]}"#)
    #expect(accepted.status == 200, "\(accepted.text)")
    #expect(service.state.withLock { $0.executions.map(\.agentName) } == ["a", "b"])
    expectError(await send(shim, "POST", "/agents/register", body: #"{"name": "director", "tools": "Read"}"#), 422, "invalid_argument")
    expectError(await send(shim, "POST", "/agents/director/metrics", body: #"{"success_rate": 1.5}"#), 422, "invalid_argument")
    expectError(await send(shim, "POST", "/predict", body: #"{"agent_name": "director", "task_type": "x", "hour": 24}"#), 422, "invalid_argument")
    expectError(await send(shim, "GET", "/recommendations", query: "task_type=x&speed_weight=2"), 422, "invalid_argument")
    expectError(await send(shim, "GET", "/recommendations", query: "task_type=x&limit=-1"), 422, "invalid_argument")
    expectError(await send(shim, "GET", "/recommendations"), 422, "invalid_argument")
    expectError(await send(shim, "GET", "/patterns", query: "kinds=astrology"), 422, "invalid_argument")
    expectError(await send(shim, "GET", "/agents/bad%20name/status"), 422, "invalid_argument")
}

@Test func overloadIs429WithRetryAfterAndDatabaseDownIs503() async {
    let (service, shim) = await registered("director")
    service.failNext(.overloaded(retryAfter: 2.5, detail: "the ingest queue is full"))
    let busy = await send(shim, "POST", "/executions", body: #"{"agent_name": "director", "success": true}"#)
    expectError(busy, 429, "overloaded")
    #expect(busy.header("retry-after") == "3")
    service.failNext(.unavailable("the database is unavailable"))
    let down = await send(shim, "GET", "/analytics/performance")
    expectError(down, 503, "unavailable")
    #expect(down.header("retry-after") != nil)
}

@Test func unexpectedErrorsAre500WithoutLeakingInternals() async {
    let (service, shim) = await registered()
    service.failNext(.internal("internal error"))
    expectError(await send(shim, "GET", "/analytics/insights"), 500, "internal")
}

@Test func healthBodyFollowsChangesInTheReport() async throws {
    let (service, shim) = await registered("director")
    let first = await send(shim, "GET", "/health")
    #expect(first.json?["agents_registered"] == .number("1"))
    _ = try await service.registerAgent(RegisterAgentRequest(name: "architect"))
    let second = await send(shim, "GET", "/health")
    #expect(second.json?["agents_registered"] == .number("2"))
}

/// The validator the shape tests rely on finds what is wrong (so their passing means something).
@Test func theSchemaValidatorCatchesWrongTypesMissingAndExtraKeys() throws {
    let validator = SchemaValidator(document: APIDocumentation.openAPIDocument())
    let good = try JSONValue.parse(#"{"id": 7, "duplicate": false}"#)
    #expect(validator.problems(responseOf: "POST", "/executions", status: 201, body: good).isEmpty)
    let fractional = try JSONValue.parse(#"{"id": 7.5, "duplicate": false}"#)
    #expect(validator.problems(responseOf: "POST", "/executions", status: 201, body: fractional) == ["$.id: 7.5 is not an integer"])
    let missing = try JSONValue.parse(#"{"id": 7}"#)
    #expect(validator.problems(responseOf: "POST", "/executions", status: 201, body: missing) == [#"$: required "duplicate" is missing"#])
    let extra = try JSONValue.parse(#"{"id": 7, "duplicate": false, "rows": 1}"#)
    #expect(validator.problems(responseOf: "POST", "/executions", status: 201, body: extra) == [#"$: "rows" is not in the schema"#])
    #expect(validator.problems(responseOf: "POST", "/executions", status: 204, body: good) == ["status 204 is not documented"])
    let nullName = try JSONValue.parse(#"{"agent_name": null, "success": true}"#)
    #expect(validator.problems(requestOf: "POST", "/executions", body: nullName) == ["$.agent_name: null where the schema is not nullable"])
    let badTime = try JSONValue.parse(#"{"agent_name": "a", "success": true, "timestamp": "yesterday"}"#)
    #expect(validator.problems(requestOf: "POST", "/executions", body: badTime) == [#"$.timestamp: "yesterday" is not an RFC 3339 date-time"#])
}

@Test func healthAnswers503WithTheSameBodyOnlyWhenUnhealthy() {
    func report(_ status: String) -> HealthReport {
        HealthReport(status: status, service: "learning-system", database: status == "unhealthy" ? "disconnected" : "connected",
                     agentsRegistered: 0, timestamp: Date(timeIntervalSince1970: 0), mlModels: [], version: "t",
                     uptimeSeconds: 1, totalExecutions: 0)
    }
    // Probes read the status code (the image's HEALTHCHECK runs `curl -f`, load balancers too).
    #expect(RESTShim.healthStatus(report("unhealthy")) == 503)
    for status in ["healthy", "degraded", "starting"] { #expect(RESTShim.healthStatus(report(status)) == 200) }
}

@Test func writesWithoutAValidKeyAreRefusedFromTheirHead() {
    let shim = RESTShim(service: InMemoryService(apiKey: "secret-key"))
    func head(_ method: String, _ path: String, key: String? = nil) -> HTTPRequest {
        HTTPRequest(method: method, path: path, query: "",
                    headers: key.map { [Metadata("authorization", "Bearer \($0)")] } ?? [], body: [], peer: "t")
    }
    #expect(shim.checkHead(head("POST", "/executions/batch"))?.status == 401)
    #expect(shim.checkHead(head("POST", "/v1/traces"))?.status == 401)
    #expect(shim.checkHead(head("POST", "/agents/register", key: "wrong"))?.status == 401)
    #expect(shim.checkHead(head("POST", "/executions/batch", key: "secret-key")) == nil)
    #expect(shim.checkHead(head("POST", "/ml/predict")) == nil) // reads stay open
    #expect(shim.checkHead(head("POST", "/no/such/route")) == nil) // the handler answers 404
    #expect(RESTShim(service: InMemoryService()).checkHead(head("POST", "/executions/batch")) == nil) // no keys
}
