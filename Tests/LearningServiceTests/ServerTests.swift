import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `learning-server` binary, driven by real clients: Python grpcio stubs generated from
/// Protos/, the guide's asyncpg INSERT, and HTTP.
@Suite("learning-server end to end", .serialized)
struct ServerTests {
    static let apiKey = "test-key-0123456789abcdef"

    @Test func everyRPCAnswersWithTheDocumentedShapesAndStatuses() async throws {
        try await onOwnThread {
            let configPath = NSTemporaryDirectory() + "learning-\(UUID().uuidString).json"
            try #"{"performance": {"performance_tracking_interval": 1}, "agents": {"health_check_interval": 30}}"#
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: configPath) }
            let server = try ServerProcess.start(environment: ["LEARNING_API_KEYS": Self.apiKey, "LEARNING_CONFIG_FILE": configPath])
            defer { server.stop() }
            let output = try server.runPython("rpc_suite.py", ["127.0.0.1:\(server.port)", server.databaseURL, Self.apiKey])
            #expect(output.contains("ALL CHECKS PASSED"))
        }
    }

    /// One validation for both doors (#14 point 5): the same bad input over REST and over gRPC
    /// (grpcio) is refused with the same detail and the matching status (doors_suite.py).
    @Test func bothDoorsRefuseTheSameInputWithTheSameWords() async throws {
        try await onOwnThread {
            let server = try ServerProcess.start()
            defer { server.stop() }
            let output = try server.runPython("doors_suite.py", ["127.0.0.1:\(server.port)"])
            #expect(output.contains("ALL CHECKS PASSED"), "\(output)")
        }
    }

    @Test func startsAnswersHealthOverHTTPAndStopsCleanlyOnSIGTERM() async throws {
        try await onOwnThread {
            // A guide key with no meaning here is accepted, and the log says it has no effect.
            let server = try ServerProcess.start(environment: ["ML_BATCH_SIZE": "64"])
            #expect(server.log.contains("ml.batch_size (ML_BATCH_SIZE) = 64 has no effect"), "\(server.log.prefix(3000))")
            #expect(server.log.contains("agents.total_agents expects 71"))
            let (data, status) = try httpGet(port: server.port, path: "/health")
            #expect(status == 200)
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(json?["status"] as? String == "healthy")
            #expect(json?["service"] as? String == "learning-system")
            #expect(json?["database"] as? String == "connected")
            #expect(server.stop() == 0)
            #expect(server.log.contains("stopped"))
        }
    }

    @Test func invalidConfigurationStopsStartUpNamingTheKey() async throws {
        try await onOwnThread {
            let error = #expect(throws: TestEnvironment.Missing.self) {
                try ServerProcess.start(environment: ["ML_VECTOR_SIZE": "lots"], databaseURL: "postgresql://unused@127.0.0.1:1/none")
            }
            #expect(error?.description.contains("ML_VECTOR_SIZE") == true)
            let remote = #expect(throws: TestEnvironment.Missing.self) {
                try ServerProcess.start(environment: ["LEARNING_API_HOST": "0.0.0.0"], databaseURL: "postgresql://unused@127.0.0.1:1/none")
            }
            #expect(remote?.description.contains("LEARNING_API_KEYS") == true)
        }
    }

    /// Runs `body` (which waits for subprocesses: the server, Python clients, curl) on a thread of
    /// its own. Run directly, a synchronous test holds one of Swift concurrency's cooperative threads
    /// (two on a 2-core machine) for its whole length, starving the async work of every other test
    /// running in parallel in this process (in-process servers, feeds) until they time out.
    func onOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// A GET with curl (the guide's own client); returns the body and the status.
    func httpGet(port: Int, path: String) throws -> (Data, Int) {
        let text = try TestEnvironment.run("/usr/bin/env", ["curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        return (Data(lines.dropLast().joined(separator: "\n").utf8), status)
    }
}
