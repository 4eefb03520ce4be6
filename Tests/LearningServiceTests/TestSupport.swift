import Foundation
import LearningTestDatabase
import LearningCore
import LearningService
import LearningServiceScenarios
import LearningStore
import Synchronization
import Logging
import Testing

/// Where the integration tests find their peers.
enum TestEnvironment {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The PostgreSQL server the tests use (`LEARNING_TEST_DATABASE_URL`, set by scripts/test.sh).
    static func serverURL() throws -> String { try TestDatabase.serverURL() }

    /// The server's host and port, from the URL.
    static func hostAndPort() throws -> (host: String, port: Int, user: String) { try TestDatabase.hostAndPort() }

    /// A new empty database on the test server, so tests do not see each other's rows.
    static func freshDatabase() throws -> String { try TestDatabase.create(prefix: "api_test") }

    /// Runs psql with one command against a database URL.
    static func psql(_ url: String, _ command: String) throws { try TestDatabase.psql(url, command) }

    /// The Python interpreter of the test peers (`LEARNING_TEST_PYTHON`).
    static func python() throws -> (python: String, generated: String) {
        let environment = ProcessInfo.processInfo.environment
        guard let python = environment["LEARNING_TEST_PYTHON"], !python.isEmpty,
              let generated = environment["LEARNING_TEST_PYGEN"], !generated.isEmpty else {
            throw Missing(description: "LEARNING_TEST_PYTHON / LEARNING_TEST_PYGEN are not set: run the tests with scripts/test.sh")
        }
        return (python, generated)
    }

    /// The folder of the Python test scripts.
    static var scriptsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python").path
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    timeout: Double = 120) throws -> String {
        let (status, text) = try TestProcess.run(executable, arguments, environment: environment)
        guard status == 0 else {
            throw Missing(description: "\(arguments.prefix(2).joined(separator: " ")) failed (\(status)): \(text)")
        }
        return text
    }
}

/// A running service over a fresh database.
struct ServiceFixture {
    let service: LearningService
    /// The service's repository, as the PostgreSQL store it is (for what only the store answers).
    let store: LearningStore
    let config: LearningConfig
    let databaseURL: String

    static func start(databaseURL: String? = nil, log: LogCapture? = nil,
                      _ configure: (inout LearningConfig) -> Void = { _ in }) async throws -> ServiceFixture {
        let url = try databaseURL ?? TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        config.database.maxConnections = 6
        configure(&config)
        let store = try await LearningStore.open(config: config)
        let service = LearningService(config: config, store: store, logger: log?.logger ?? Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        await service.start()
        _ = await service.waitUntilStarted()
        return ServiceFixture(service: service, store: store, config: config, databaseURL: url)
    }

    func stop() async {
        await service.shutdown()
    }
}
