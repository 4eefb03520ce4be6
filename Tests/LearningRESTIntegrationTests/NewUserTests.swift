import Foundation
import LearningREST
import Testing

// As a new user would: start the learning-server executable, run the guide's Quick Integration
// curl commands, then import a CSV of executions with the learning CLI.

/// An executable built beside the test bundle.
func builtBinary(_ name: String) throws -> String {
    var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw FixtureError(description: "\(name) is not built next to the tests (run swift build --build-tests)")
}

extension IntegrationSuite {
@Test(.timeLimit(.minutes(5)))
func aNewUserStartsTheServerRunsTheGuidesCurlCommandsAndImportsACSV() async throws {
    let database = try ServerFixture.freshDatabase()
    // An agent definition file, the way Claude Code describes subagents.
    let agents = NSTemporaryDirectory() + "rest-agents-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: agents, withIntermediateDirectories: true)
    try """
    ---
    name: director
    description: Strategic planning and delegation
    tools: Read, Task
    model: opus
    ---
    Plans the work and hands it out.
    """.write(toFile: agents + "/director.md", atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: agents) }

    let server = Process()
    server.executableURL = URL(fileURLWithPath: try builtBinary("learning-server"))
    server.arguments = ["--port", "0"]
    var environment = ProcessInfo.processInfo.environment
    environment["LEARNING_DATABASE_URL"] = database
    environment["LEARNING_AGENTS_DIR"] = agents
    server.environment = environment
    let log = Pipe()
    let lines = LineCollector()
    log.fileHandleForReading.readabilityHandler = { handle in lines.append(handle.availableData) }
    server.standardError = log
    server.standardOutput = Pipe()
    try server.run()
    defer {
        if server.isRunning { server.terminate() }
        log.fileHandleForReading.readabilityHandler = nil
    }

    // The port it chose, from its "listening on 127.0.0.1:PORT" line.
    var port: Int?
    let deadline = Date().addingTimeInterval(60)
    while port == nil, Date() < deadline, server.isRunning {
        if let range = lines.text.range(of: "listening on 127.0.0.1:") {
            port = Int(lines.text[range.upperBound...].prefix(while: \.isNumber))
        } else {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    let chosen = try #require(port, "learning-server did not start: \(lines.text)")
    // Until its figures cover the stored executions, /health says `starting` (with progress).
    while !lines.text.contains("start-up complete"), Date() < deadline, server.isRunning {
        try await Task.sleep(for: .milliseconds(50))
    }
    let base = "http://localhost:\(chosen)"

    // Quick Integration 1-3, the guide's commands.
    let health = try await curl("GET", "\(base)/health")
    #expect(health.status == 200)
    #expect(health.json?["status"] == .string("healthy"), "\(health.body)")
    #expect(health.json?["database"] == .string("connected"))
    #expect(try await curl("GET", "\(base)/status").json?["learning_system"] != nil)
    #expect(try await curl("GET", "\(base)/api/docs").status == 200)
    let list = try await curlUntil("\(base)/agents/list") { $0.json?["total"] == .number("1") }
    #expect(list.body.contains("\"director\""), "\(list.body)")
    let director = try await curl("GET", "\(base)/agents/director/status")
    #expect(director.status == 200, "\(director.body)")
    #expect(director.json?["agent"]?["source"] == .string("definition_file"))

    // Then the CLI imports a CSV of executions, and the rows show in the analytics.
    let csv = try devCSV(rows: 500)
    defer { try? FileManager.default.removeItem(atPath: csv) }
    let imported = try await run(try learningBinary(), ["import", csv], environment: ["LEARNING_SERVER": "127.0.0.1:\(chosen)"])
    #expect(imported.status == 0, "\(imported.error)")
    #expect(imported.output.contains("accepted:   500"), "\(imported.output)")
    let analytics = try await curlUntil("\(base)/analytics/performance") { $0.json?["total_executions"] == .number("500") }
    #expect(analytics.json?["total_executions"] == .number("500"))

    // SIGTERM: a graceful stop, exit code 0.
    server.terminate()
    server.waitUntilExit()
    #expect(server.terminationStatus == 0, "\(lines.text.suffix(500))")
}
}
