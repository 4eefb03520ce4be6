import Foundation
import LearningAPI
import Testing

// The `learning` executable against the real server, as a user runs it.

extension IntegrationSuite {
@Test(.timeLimit(.minutes(5)))
func cliCommandsWorkAgainstTheRealServer() async throws {
    try await ServerFixture.with(apiKeys: ["cli-key"]) { fixture in
        let binary = try learningBinary()
        let server = ["--server", "127.0.0.1:\(fixture.port)"]
        let keyEnvironment = ["LEARNING_API_KEY": "cli-key"]
        func learning(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
            try await run(binary, arguments + server, environment: environment)
        }

        let health = try await learning(["health"])
        #expect(health.status == 0, "\(health.error)")
        #expect(health.output.contains("status:     healthy"), "\(health.output)")
        let healthJSON = try JSONValue.parse(try await learning(["health", "--json"]).output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(healthJSON["service"] == .string("learning-system"))

        // Writes need the key: without it the server refuses (exit 1), with it they work.
        let refused = try await learning(["agents", "register", "director", "--model", "opus"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("UNAUTHENTICATED"), "\(refused.error)")
        let registered = try await learning(["agents", "register", "director", "--model", "opus", "--tools", "Read,Task",
                                       "--description", "plans"], environment: keyEnvironment)
        #expect(registered.status == 0, "\(registered.error)")
        #expect(registered.output == "registered director\n")
        #expect(try await learning(["agents", "register", "director", "--api-key", "cli-key"]).output == "updated director\n")

        let list = try await learning(["agents", "list"])
        #expect(list.status == 0)
        #expect(list.output.contains("director"))
        let listJSON = try JSONValue.parse(try await learning(["agents", "list", "--json"]).output)
        #expect(listJSON["total"] == .number("1"))

        for index in 0..<30 {
            let logged = try await learning(["log", "--agent", "director", "--task-type", "strategic_planning", "--time", "\(10 + index % 7)",
                                       index % 6 == 0 ? "--failure" : "--success", "--error", "timeout", "--task-id", UUID().uuidString],
                                      environment: keyEnvironment)
            #expect(logged.status == 0, "\(logged.error)")
            #expect(logged.output.hasPrefix("logged execution "), "\(logged.output)")
        }
        let status = try await learning(["agents", "status", "director"])
        #expect(status.status == 0, "\(status.error)")
        #expect(status.output.contains("agent:        director"))
        let missing = try await learning(["agents", "status", "ghost"])
        #expect(missing.status == 1)
        #expect(missing.error.contains("NOT_FOUND"), "\(missing.error)")

        let predict = try await learning(["predict", "director", "strategic_planning", "--json"])
        #expect(predict.status == 0, "\(predict.error)")
        let prediction = try JSONValue.parse(predict.output)
        for key in ["execution_time", "success_rate", "confidence", "resources"] { #expect(prediction[key] != nil, "\(key)") }
        #expect(try await learning(["predict", "director", "strategic_planning"]).output.contains("execution time:"))

        let recommend = try await learning(["recommend", "strategic_planning", "--limit", "3"])
        #expect(recommend.status == 0, "\(recommend.error)")
        #expect(recommend.output.contains("task type: strategic_planning"))

        let patterns = try await learning(["patterns", "--json"])
        #expect(patterns.status == 0, "\(patterns.error)")
        #expect(Set(try JSONValue.parse(patterns.output).keys).isSuperset(of: ["collaboration", "performance", "resources", "failures"]))
        #expect(try await learning(["insights"]).status == 0)

        // Usage mistakes exit 2 without touching the server.
        #expect(try await learning(["log", "--agent", "director"]).status == 2)
        #expect(try await learning(["bogus"]).status == 2)
    }
}
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(3)))
func cliWatchPrintsAnomaliesLiveUntilInterrupted() async throws {
    try await ServerFixture.with { fixture in
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try learningBinary())
        process.arguments = ["watch", "--server", "127.0.0.1:\(fixture.port)", "--json"]
        let out = Pipe()
        let printed = LineCollector()
        out.fileHandleForReading.readabilityHandler = { handle in printed.append(handle.availableData) }
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        try await Task.sleep(for: .seconds(1))
        #expect(process.isRunning)

        // A steady baseline, then latency spikes far above it: the anomaly detector fires and the
        // live stream carries the anomaly to the watching CLI.
        var baseline: [String] = []
        for index in 0..<60 {
            baseline.append(#"{"agent_name": "monitor", "task_type": "log_analysis", "execution_time": \#(10 + Double(index % 5) * 0.5), "success": true}"#)
        }
        let logged = try await curl("POST", "\(fixture.base)/executions/batch", body: #"{"executions": [\#(baseline.joined(separator: ","))]}"#)
        #expect(logged.status == 200, "\(logged.body)")
        let deadline = Date().addingTimeInterval(60)
        var sawAnomaly = false
        while Date() < deadline, !sawAnomaly {
            _ = try await curl("POST", "\(fixture.base)/executions",
                               body: #"{"agent_name": "monitor", "task_type": "log_analysis", "execution_time": 5000, "success": true}"#)
            try await Task.sleep(for: .seconds(1))
            sawAnomaly = printed.text.contains("\"anomaly\"")
        }
        #expect(sawAnomaly, "watch printed: \(printed.text)")
        if let line = printed.text.split(separator: "\n").first(where: { $0.contains("\"anomaly\"") }) {
            let event = try JSONValue.parse(String(line))
            #expect(event["anomaly"]?["agent_name"] == .string("monitor"))
        }
        #expect(process.isRunning)
        process.interrupt()
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
    }
}
}

/// Collects a child's output as it arrives.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
