// Each test gets a database of its own (LearningTestDatabase) and a store opened on it.
import Foundation
@testable import LearningStore
import LearningCore
import LearningTestDatabase

extension TestDatabase {
    /// The server's URL (`LEARNING_TEST_DATABASE_URL`).
    static func baseURL() throws -> String { try serverURL() }

    /// Creates a fresh empty database and returns its URL.
    static func create(base: String? = nil) throws -> String {
        try create(prefix: "store_test", server: base)
    }

    /// A configuration pointing at `url`.
    static func config(_ url: String, maxConnections: Int = 6) -> LearningConfig {
        var config = LearningConfig()
        config.database.url = url
        config.database.maxConnections = maxConnections
        return config
    }

    /// Opens a store on a fresh database, runs `body`, shuts down and drops the database.
    static func withStore<T>(ingest: IngestSettings = IngestSettings(), base: String? = nil,
                             _ body: (LearningStore, String) async throws -> T) async throws -> T {
        let url = try create(base: base)
        let store = try await LearningStore.open(config: config(url), ingest: ingest)
        do {
            let value = try await body(store, url)
            await store.shutdown()
            drop(url)
            return value
        } catch {
            await store.shutdown()
            drop(url)
            throw error
        }
    }
}

/// An execution record for tests.
func record(_ agent: String = "agent-a", event: String? = nil, task: String? = nil, type: String? = "analysis",
            time: Double? = 1.5, success: Bool = true, at date: Date = Date(), cpu: Double? = nil) -> ExecutionRecord {
    ExecutionRecord(agentName: agent, taskID: task, taskType: type, executionTime: time, success: success,
                    resourceUsage: ResourceUsage(cpu: cpu), timestamp: date, eventID: event)
}

/// How many times slower than a quiet machine a loaded 2-core CI machine may be
/// (LEARNING_TEST_TIME_SCALE, default 10): waits for things to happen are scaled by it.
let testTimeScale: Double = max(ProcessInfo.processInfo.environment["LEARNING_TEST_TIME_SCALE"].flatMap(Double.init) ?? 10, 1)

/// Polls `condition` until it holds or `seconds` (what a quiet machine needs) pass, scaled by
/// `testTimeScale` (but to no more than two minutes, so a real hang still fails in reasonable time).
func eventually(_ seconds: Double = 10, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: max(seconds, min(seconds * testTimeScale, 120)))
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// Runs `process` to its end and returns its exit status, without blocking a thread of the Swift
/// concurrency pool while it runs (`waitUntilExit` would, starving the feed and the store's tasks
/// of the few threads a 2-core machine has).
func runToExit(_ process: Process) async throws -> Int32 {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
}
