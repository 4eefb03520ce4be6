import Foundation
import LearningAPI
import LearningTestSupport
import LearningREST
import LearningStore
import Testing

// The REST shim over the real stack: H2Server, the real LearningService on a real PostgreSQL,
// driven with curl over real sockets (HTTP/1.1 and HTTP/2) and the `learning` executable.


/// The first `rows` executions of the shared dev data set, as a CSV file.
func devCSV(rows: Int) throws -> String {
    // ../shared/ml-eval/dev next to the repository, as bench/ml-eval.sh finds it.
    let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let source = repository.deletingLastPathComponent().appendingPathComponent("shared/ml-eval/dev/executions.csv").path
    guard let data = FileManager.default.contents(atPath: source) ?? FileManager.default.contents(atPath: "/work/shared/ml-eval/dev/executions.csv") else {
        throw FixtureError(description: "cannot read \(source)")
    }
    var lines = 0
    var end = data.startIndex
    for index in data.indices where data[index] == 0x0A {
        lines += 1
        if lines == rows + 1 { end = index + 1; break }
    }
    let path = NSTemporaryDirectory() + "rest-import-\(UUID().uuidString).csv"
    try data[data.startIndex..<end].write(to: URL(fileURLWithPath: path))
    return path
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(5)))
func theGuidesQuickIntegrationCommandsWork() async throws {
    try await ServerFixture.with() { fixture in
        let base = fixture.base

        // 1. Verify the learning system is running.
        let health = try await curl("GET", "\(base)/health")
        #expect(health.status == 200)
        #expect(health.headers["content-type"] == "application/json")
        let healthJSON = try #require(health.json)
        let guideHealthJSON = try JSONValue.parse(guideHealth)
        #expect(Set(healthJSON.keys) == Set(guideHealthJSON.keys + ["ml_models"]))
        #expect(healthJSON["service"] == .string("learning-system"))
        #expect(healthJSON["database"] == .string("connected"))
        if case let .string(timestamp)? = healthJSON["timestamp"] {
            #expect(parseISO8601(timestamp) != nil && timestamp.hasSuffix("Z") && timestamp.count == 20, "\(timestamp)")
        } else {
            Issue.record("timestamp is not a string")
        }
        #expect(Set(healthJSON["ml_models"]?.keys ?? []) == ["pattern_recognition", "performance_prediction", "anomaly_detection"])

        // 2. Basic integration test.
        let status = try await curl("GET", "\(base)/status")
        #expect(status.status == 200)
        let statusJSON = try #require(status.json)
        let guideStatusJSON = try JSONValue.parse(guideStatus)
        #expect(statusJSON.keys == guideStatusJSON.keys)
        #expect(Shape(statusJSON).matches(Shape(guideStatusJSON)), "\(Shape(statusJSON))")
        let docs = try await curl("GET", "\(base)/api/docs")
        #expect(docs.status == 200)
        #expect(docs.headers["content-type"] == "text/html; charset=utf-8")
        for endpoint in EndpointCatalogue.all { #expect(docs.body.contains("<code>\(endpoint.path)</code>"), "\(endpoint.path)") }
        #expect(!docs.body.contains("<script") && !docs.body.contains("https://"))
        let openAPI = try await curl("GET", "\(base)/api/openapi.json")
        #expect(openAPI.json?["openapi"] == .string("3.0.3"))

        // 3. Agent registration check.
        let register = try await curl("POST", "\(base)/agents/register",
                                body: #"{"name": "director", "description": "Strategic planning", "tools": ["Read", "Task"], "model": "opus"}"#)
        #expect(register.status == 201, "\(register.body)")
        let list = try await curl("GET", "\(base)/agents/list")
        #expect(list.status == 200)
        #expect(list.json?["total"] == .number("1"))
        let agentStatus = try await curl("GET", "\(base)/agents/director/status")
        #expect(agentStatus.status == 200, "\(agentStatus.body)")
        #expect(agentStatus.json?["agent"]?["name"] == .string("director"))
        #expect(try await curl("GET", "\(base)/health").json?["agents_registered"] == .number("1"))

        // Troubleshooting: the ML model tests, once there is something to learn from.
        var executions: [String] = []
        for index in 0..<40 {
            let agent = index % 2 == 0 ? "director" : "architect"
            executions.append(#"{"agent_name": "\#(agent)", "task_type": "strategic_planning", "execution_time": \#(20 + index % 9), "success": \#(index % 7 != 0), "task_id": "\#(UUID().uuidString)"}"#)
        }
        let logged = try await curl("POST", "\(base)/executions/batch", body: #"{"executions": [\#(executions.joined(separator: ","))]}"#)
        #expect(logged.status == 200, "\(logged.body)")
        let patterns = try await curl("GET", "\(base)/ml/test/patterns")
        #expect(patterns.status == 200, "\(patterns.body)")
        #expect(Set(patterns.json?.keys ?? []) == ["collaboration", "performance", "resources", "failures"])
        // Right after start-up the model may still be training: the server says 503 with Retry-After.
        let prediction = try await curlRetrying("POST", "\(base)/ml/test/prediction", body: #"{"agent": "director", "task": "strategic_planning"}"#)
        #expect(prediction.status == 200, "\(prediction.body)")
        let predictionJSON = try #require(prediction.json)
        #expect(predictionJSON["agent_name"] == .string("director"))
        for key in ["execution_time", "success_rate", "confidence", "resources"] { #expect(predictionJSON[key] != nil, "\(key)") }
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(10)))
func cliImportedRowsShowInAnalyticsAndEveryEndpointHasItsDocumentedShape() async throws {
    try await ServerFixture.with() { fixture in
        let base = fixture.base
        let csv = try devCSV(rows: 2_000)
        defer { try? FileManager.default.removeItem(atPath: csv) }

        // Import with the CLI over gRPC.
        let binary = try learningBinary()
        let imported = try await run(binary, ["import", csv, "--server", "127.0.0.1:\(fixture.port)"])
        #expect(imported.status == 0, "\(imported.output) \(imported.error)")
        #expect(imported.output.contains("read:       2000"), "\(imported.output)")
        #expect(imported.output.contains("accepted:   2000"), "\(imported.output)")
        #expect(imported.output.contains("rejected:   0"), "\(imported.output)")
        #expect(imported.error.contains("progress:") && imported.error.contains("rows/s") && imported.error.contains("ETA"),
                "stderr is not a TTY here, so progress comes as plain lines: \(imported.error)")

        // The rows show in /analytics/performance (the analytics follow the store's change feed).
        let analytics = try await curlUntil("\(base)/analytics/performance") { $0.json?["total_executions"] == .number("2000") }
        #expect(analytics.status == 200, "\(analytics.body)")
        #expect(analytics.json?["total_executions"] == .number("2000"), "\(analytics.body.prefix(300))")
        let csvAgents = Set(try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n").dropFirst()
            .map { String($0.prefix(while: { $0 != "," })) })
        let reportedAgents: Set<String> = Set((analytics.json?["agents"]).map { value -> [String] in
            guard case let .array(items) = value else { return [] }
            return items.compactMap { if case let .string(name)? = $0["agent_name"] { return name } else { return nil } }
        } ?? [])
        #expect(reportedAgents == csvAgents)

        // Importing the same file again stores nothing twice.
        let again = try await run(binary, ["import", csv, "--server", "127.0.0.1:\(fixture.port)", "--json", "--no-progress"])
        #expect(again.status == 0, "\(again.error)")
        let summary = try JSONValue.parse(again.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(summary["read"] == .number("2000"))
        #expect(summary["accepted"] == .number("0"))
        #expect(summary["duplicates"] == .number("2000"))
        #expect(try await curl("GET", "\(base)/analytics/performance").json?["total_executions"] == .number("2000"))

        // Models (and the embeddings behind /agents/{name}/similar) train in the background after
        // the replay; until then such endpoints answer 503 "retry shortly", as a client would see.
        // Wait for the first training to finish, as a client retrying would.
        let trained = try await curlUntil("\(base)/health") { reply in
            guard case let .object(models)? = reply.json?["ml_models"] else { return false }
            return !models.isEmpty && !models.contains { $0.1 == .string("training") }
        }
        #expect(trained.status == 200, "\(trained.body.prefix(300))")

        // Every endpoint of the catalogue, with valid input, over HTTP/1.1 and HTTP/2.
        let agent = try #require(csvAgents.sorted().first)
        let taskType = "backup_verify"
        _ = try await curl("POST", "\(base)/agents/register", body: #"{"name": "\#(agent)", "model": "sonnet"}"#)
        let bodies: [RouteID: String] = [
            .registerAgent: #"{"name": "coder", "description": "writes code", "tools": ["Edit"], "model": "sonnet", "metadata": {"team": "a"}}"#,
            .heartbeat: #"{"status": "healthy"}"#,
            .submitMetrics: #"{"task_type": "\#(taskType)", "response_time": 1.2, "throughput": 3, "resource_usage": {"cpu": 3, "memory_mb": 100}, "success_rate": 0.9, "coordination_effectiveness": 0.5}"#,
            .logExecution: #"{"agent_name": "\#(agent)", "task_id": "120f4156-2bf0-4841-9994-cd8c5d83e6cf", "task_type": "\#(taskType)", "execution_time": 2.5, "success": true, "resource_usage": {"cpu": 10, "memory_mb": 100, "tokens": 5}}"#,
            .logExecutions: #"{"executions": [{"agent_name": "\#(agent)", "task_type": "\#(taskType)", "execution_time": 3.5, "success": false, "error_message": "timeout after 30s"}]}"#,
            .predict: #"{"agent_name": "\#(agent)", "task_type": "\#(taskType)"}"#,
            .testPrediction: #"{"agent": "\#(agent)", "task": "\#(taskType)"}"#,
        ]
        let queries: [RouteID: String] = [.recommendations: "?task_type=\(taskType)"]
        let validator = SchemaValidator(document: APIDocumentation.openAPIDocument())
        for (index, endpoint) in EndpointCatalogue.all.enumerated() {
            let path = endpoint.path.replacingOccurrences(of: "{name}", with: agent)
            // The OTLP export's documented request (an agent span and a model call it skips).
            let body = endpoint.id == .otlpTraces
                ? endpoint.requestExample.map { String(decoding: $0.encoded(), as: UTF8.self) } : bodies[endpoint.id]
            let reply = try await curl(endpoint.method, "\(base)\(path)\(queries[endpoint.id] ?? "")", body: body,
                                 http2: index % 2 == 1)
            #expect((200...201).contains(reply.status), "\(endpoint.method) \(endpoint.path): \(reply.status) \(reply.body.prefix(300))")
            #expect(reply.headers["content-type"] == endpoint.responseType, "\(endpoint.path)")
            if let example = endpoint.responseExample {
                let json = try #require(reply.json, "\(endpoint.path): \(reply.body.prefix(200))")
                #expect(Shape(json).matches(Shape(example)), "\(endpoint.path): \(Shape(json)) vs \(Shape(example))")
                // The OpenAPI document's schema (from Protos/) holds for the real answer and its status.
                let problems = validator.problems(responseOf: endpoint.method, endpoint.path, status: reply.status, body: json)
                #expect(problems.isEmpty, "\(endpoint.method) \(endpoint.path): \(problems)")
            }
        }
        let prometheus = try await curl("GET", "\(base)/metrics", headers: ["Accept: text/plain"])
        #expect(prometheus.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let agentSeries = prometheus.body.split(separator: "\n").filter { $0.hasPrefix("learning_agent_executions{") }
        #expect(agentSeries.count == min(csvAgents.count + 1, PrometheusExposition.maxAgentSeries + 1), "\(agentSeries.count)")
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(5)))
func everyErrorClassComesBackOverTheWireAsJSON() async throws {
    try await ServerFixture.with(apiKeys: ["k-123"], maxBodyBytes: 64 * 1024, configure: { config in
        config.agents.patternRecognition = false
    }) { fixture in
        let base = fixture.base
        let key = "Authorization: Bearer k-123"
        func expectError(_ reply: CurlReply, _ status: Int, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(reply.status == status, "\(reply.body)", sourceLocation: sourceLocation)
            #expect(reply.errorCode == code, "\(reply.body)", sourceLocation: sourceLocation)
            #expect(reply.json?.keys == ["error", "detail"], "\(reply.body)", sourceLocation: sourceLocation)
        }
        #expect(try await curl("POST", "\(base)/agents/register", body: #"{"name": "director"}"#, headers: [key]).status == 201)

        for http2 in [false, true] {
            // 400: malformed JSON and query.
            expectError(try await curl("POST", "\(base)/executions", body: #"{"agent_name": "#, headers: [key], http2: http2), 400, "bad_request")
            expectError(try await curl("GET", "\(base)/recommendations?task_type=x&limit=ten", http2: http2), 400, "bad_request")
            // 401: no key, wrong key.
            let missing = try await curl("POST", "\(base)/executions", body: #"{"agent_name": "director", "success": true}"#, http2: http2)
            expectError(missing, 401, "unauthenticated")
            expectError(try await curl("POST", "\(base)/ml/retrain", headers: ["Authorization: Bearer nope"], http2: http2), 401, "unauthenticated")
            // 404: unknown route and unknown agent.
            expectError(try await curl("GET", "\(base)/no/such/route", http2: http2), 404, "not_found")
            expectError(try await curl("GET", "\(base)/agents/ghost/status", http2: http2), 404, "not_found")
            expectError(try await curl("GET", "\(base)/agents/ghost/performance", http2: http2), 404, "not_found")
            // 405 with Allow.
            let wrongMethod = try await curl("DELETE", "\(base)/agents/register", http2: http2)
            expectError(wrongMethod, 405, "method_not_allowed")
            #expect(wrongMethod.headers["allow"] == "POST")
            // 409: pattern recognition switched off by configuration.
            expectError(try await curl("GET", "\(base)/patterns", http2: http2), 409, "failed_precondition")
            // 413: the transport's body limit.
            let huge = "{\"executions\": [" + String(repeating: #"{"agent_name": "director", "success": true},"#, count: 3_000) + "{}]}"
            let tooLarge = try await curl("POST", "\(base)/executions/batch", body: huge, headers: [key], http2: http2)
            #expect(tooLarge.status == 413, "\(tooLarge.body.prefix(200))")
            // 415: not JSON.
            expectError(try await curl("POST", "\(base)/executions", body: "agent_name=director", headers: [key], http2: http2,
                                 contentType: "application/x-www-form-urlencoded"), 415, "unsupported_media_type")
            // 422: wrong types, negative and non-finite numbers, bad UUID, bad name, nested junk.
            for body in [#"{"agent_name": "director", "success": "yes"}"#,
                         #"{"agent_name": "director", "success": true, "execution_time": -1}"#,
                         #"{"agent_name": "director", "success": true, "execution_time": "12"}"#,
                         #"{"agent_name": "director", "success": true, "execution_time": 1e999}"#,
                         #"{"agent_name": "director", "success": true, "task_id": "\#(String(repeating: "x", count: 129))"}"#,
                         #"{"agent_name": "../etc/passwd", "success": true}"#,
                         #"{"agent_name": "director", "success": true, "resource_usage": {"cpu": {"a": [1, {"b": null}]}}}"#] {
                expectError(try await curl("POST", "\(base)/executions", body: body, headers: [key], http2: http2), 422, "invalid_argument")
            }
            expectError(try await curl("GET", "\(base)/recommendations?task_type=x&limit=-3", http2: http2), 422, "invalid_argument")
        }
        // The valid request still works with the key.
        let ok = try await curl("POST", "\(base)/executions", body: #"{"agent_name": "director", "success": true, "execution_time": 1.5}"#, headers: [key])
        #expect(ok.status == 201, "\(ok.body)")
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(5)))
func statusAndMetricsFiguresMoveUnderLoad() async throws {
    try await ServerFixture.with() { fixture in
        let base = fixture.base
        let before = try #require(try await curl("GET", "\(base)/metrics").json)
        // Load: one curl process, many requests on one keep-alive connection, plus ingest.
        let urls = Array(repeating: "\(base)/agents/list", count: 400)
        let load = try await run("/usr/bin/curl", ["-s", "-o", "/dev/null", "--http1.1"] + urls)
        #expect(load.status == 0)
        var executions: [String] = []
        for index in 0..<50 {
            executions.append(#"{"agent_name": "loader", "task_type": "t", "execution_time": \#(Double(index) + 0.5), "success": \#(index % 5 != 0)}"#)
        }
        let batch = try await curl("POST", "\(base)/executions/batch", body: #"{"executions": [\#(executions.joined(separator: ","))]}"#)
        #expect(batch.status == 200, "\(batch.body)")
        #expect(batch.json?["accepted"] == .number("50"))
        try await Task.sleep(for: .seconds(2))
        let after = try #require(try await curl("GET", "\(base)/metrics").json)
        func number(_ value: JSONValue?, _ key: String) -> Double {
            if case let .number(text)? = value?[key] { return Double(text) ?? -1 }
            return -1
        }
        #expect(number(after, "queries_per_sec") > number(before, "queries_per_sec"), "\(before.text) -> \(after.text)")
        #expect(number(after, "executions_ingested") >= number(before, "executions_ingested") + 50)
        #expect(number(after, "memory_usage_mb") > 0)
        let status = try #require(try await curl("GET", "\(base)/status").json)
        #expect(number(status["performance"], "queries_per_sec") > 0, "\(status.text)")
        #expect(number(status["performance"], "success_rate") > 0, "\(status.text)")
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(3)))
func databaseGoneIs503WithRetryAfter() async throws {
    try await ServerFixture.with { fixture in
        let base = fixture.base
        #expect(try await curl("GET", "\(base)/agents/list").status == 200)
        // Take the database away under the running server.
        guard let components = URLComponents(string: fixture.databaseURL), let host = components.host else {
            throw FixtureError(description: "bad database URL")
        }
        let name = String(components.path.dropFirst())
        let dropped = try await run("/usr/bin/env", ["dropdb", "--force", "-h", host, "-p", String(components.port ?? 5432),
                                                     "-U", components.user ?? "postgres", name])
        #expect(dropped.status == 0, "\(dropped.error)")
        let reply = try await curlUntil("\(base)/agents/list", seconds: 30) { $0.status == 503 }
        #expect(reply.status == 503, "\(reply.status) \(reply.body)")
        #expect(reply.errorCode == "unavailable", "\(reply.body)")
        #expect(reply.json?.keys == ["error", "detail"])
        #expect(reply.headers["retry-after"] != nil)
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(3)))
func aFullIngestQueueIs429WithRetryAfter() async throws {
    var ingest = IngestSettings()
    ingest.queueCapacity = 4
    try await ServerFixture.with(ingest: ingest) { fixture in
        // Many clients at once, each with a batch as large as the whole queue.
        var executions: [String] = []
        for index in 0..<4 {
            executions.append(#"{"agent_name": "loader", "task_type": "t", "execution_time": \#(index), "success": true}"#)
        }
        let body = #"{"executions": [\#(executions.joined(separator: ","))]}"#
        let urls = Array(repeating: "\(fixture.base)/executions/batch", count: 200)
        let result = try await run("/usr/bin/curl", ["-s", "-Z", "--parallel-max", "64", "--http1.1", "-X", "POST",
                                                     "-H", "Content-Type: application/json", "--data-binary", "@-",
                                                     "-w", "\\nSTATUS %{http_code} retry-after=%header{retry-after}\\n"] + urls,
                                   input: Array(body.utf8))
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("STATUS ") }
        #expect(lines.count == 200, "\(result.error)")
        #expect(Set(lines.map { $0.dropFirst(7).prefix(3) }).isSubset(of: ["200", "429"]), "\(Set(lines))")
        let busy = lines.filter { $0.hasPrefix("STATUS 429") }
        #expect(!busy.isEmpty, "no request was refused: \(Set(lines))")
        #expect(result.output.contains(#"{"error":"overloaded","detail":"the ingest queue is full"#), "\(result.output.prefix(300))")
        #expect(busy.allSatisfy { Int($0.split(separator: "=").last ?? "") ?? 0 >= 1 }, "\(Set(busy))")
    }
}
}

extension IntegrationSuite {
/// Request metrics over real sockets: client errors count as errors, labels are route templates
/// (made-up paths and gRPC methods share one label each), and latency is a Prometheus histogram.
@Test(.timeLimit(.minutes(3)))
func requestMetricsCountClientErrorsUnderRouteTemplates() async throws {
    try await ServerFixture.with { fixture in
        let base = fixture.base
        for agent in ["ghost-1", "ghost-2"] {
            #expect(try await curl("GET", "\(base)/agents/\(agent)/status").status == 404)
        }
        #expect(try await curl("POST", "\(base)/executions", body: #"{"agent_name": "a", "execution_time": -1}"#).status == 422)
        #expect(try await curl("GET", "\(base)/HEALTH").status == 404)
        #expect(try await curl("GET", "\(base)/health", http2: true).status == 200)
        let unknown = try await curl("POST", "\(base)/learning.v1.LearningSystem/NoSuchMethod", body: "\0\0\0\0\0",
                                     headers: ["TE: trailers"], http2: true, contentType: "application/grpc")
        #expect(unknown.status == 200)

        let text = try await curl("GET", "\(base)/metrics?format=prometheus").body
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"learning_requests_total{method="GET /agents/{name}/status"} 2"#), "\(text)")
        #expect(lines.contains(#"learning_request_errors_total{method="GET /agents/{name}/status"} 2"#))
        #expect(lines.contains(#"learning_request_errors_total{method="POST /executions"} 1"#))
        #expect(lines.contains(#"learning_request_errors_total{method="unmatched"} 1"#))
        #expect(lines.contains(#"learning_request_errors_total{method="unimplemented"} 1"#))
        #expect(lines.contains(#"learning_request_errors_total{method="GET /health"} 0"#))
        // Each request with its status class (REST) or status name (gRPC).
        #expect(lines.contains(#"learning_responses_total{method="GET /agents/{name}/status",status="4xx"} 2"#), "\(text)")
        #expect(lines.contains(#"learning_responses_total{method="GET /health",status="2xx"} 1"#))
        #expect(lines.contains(#"learning_responses_total{method="unimplemented",status="UNIMPLEMENTED"} 1"#))
        #expect(lines.contains(#"learning_request_duration_seconds_count{method="GET /health"} 1"#))
        #expect(lines.contains(#"learning_request_duration_seconds_bucket{method="GET /health",le="+Inf"} 1"#))
        #expect(lines.contains("# TYPE learning_request_duration_seconds histogram"))
        #expect(!text.contains("ghost") && !text.contains("HEALTH") && !text.contains("NoSuchMethod"))

        let json = try #require(try await curl("GET", "\(base)/metrics").json)
        guard case .array(let methods)? = json["methods"] else { Issue.record("no methods in \(json)"); return }
        let status = methods.first { $0["method"] == .string("GET /agents/{name}/status") }
        #expect(status?["requests"] == .number("2") && status?["errors"] == .number("2"), "\(methods)")
    }
}
}

extension IntegrationSuite {
/// HEAD answers like GET without the body, over HTTP/1.1 and HTTP/2 (load balancers and uptime
/// checkers send it); a route with no GET still says which methods it allows.
@Test(.timeLimit(.minutes(2)))
func headAnswersLikeGetWithoutABody() async throws {
    try await ServerFixture.with { fixture in
        for http2 in [false, true] {
            let health = try await curl("HEAD", "\(fixture.base)/health", http2: http2)
            #expect(health.status == 200 && health.body.isEmpty, "\(health)")
            #expect(health.headers["content-type"] == "application/json")
            #expect((Int(health.headers["content-length"] ?? "") ?? 0) > 0, "the GET body's length: \(health.headers)")
            #expect(try await curl("HEAD", "\(fixture.base)/agents/list", http2: http2).status == 200)
        }
        let wrong = try await curl("DELETE", "\(fixture.base)/health")
        #expect(wrong.status == 405 && wrong.headers["allow"] == "GET, HEAD", "\(wrong.headers)")
    }
}
}
