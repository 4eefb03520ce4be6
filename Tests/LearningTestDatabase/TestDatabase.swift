// Databases of their own for the integration tests, on the PostgreSQL server named by
// LEARNING_TEST_DATABASE_URL (scripts/test.sh starts a throwaway cluster and sets it), so tests
// that TRUNCATE or count rows cannot disturb each other. One fixture for every test target.
import Foundation

/// Fresh databases on the test server.
public enum TestDatabase {
    /// The test server is not configured, or a client program failed.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The server's URL (`LEARNING_TEST_DATABASE_URL`); missing is a failure, not a skip.
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["LEARNING_TEST_DATABASE_URL"], !url.isEmpty else {
            throw Failure(description: "LEARNING_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh (make test)")
        }
        return url
    }

    /// The server's host, port and user, from its URL.
    public static func hostAndPort(_ url: String? = nil) throws -> (host: String, port: Int, user: String) {
        let url = try url ?? serverURL()
        guard let components = URLComponents(string: url), let host = components.host else {
            throw Failure(description: "cannot parse LEARNING_TEST_DATABASE_URL \(url)")
        }
        return (host, components.port ?? 5432, components.user ?? "postgres")
    }

    /// `url` with its database replaced by `database`.
    public static func url(_ url: String, database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + database
        return components.string!
    }

    /// Creates an empty database named `<prefix>_<16 hex>` on the server (or on `server`) and
    /// returns its URL.
    public static func create(prefix: String = "test", server: String? = nil) throws -> String {
        let server = try server ?? serverURL()
        let (host, port, user) = try hostAndPort(server)
        let name = "\(prefix)_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))"
        try run("createdb", ["-h", host, "-p", String(port), "-U", user, name])
        return url(server, database: name)
    }

    /// Drops a database made by `create`, closing its other sessions first; errors are ignored
    /// (the cluster is thrown away after the run).
    public static func drop(_ database: String) {
        guard let (host, port, user) = try? hostAndPort(database),
              let name = URLComponents(string: database)?.path.dropFirst(), !name.isEmpty else { return }
        _ = try? run("dropdb", ["-h", host, "-p", String(port), "-U", user, "--force", "--if-exists", String(name)])
    }

    /// Runs one SQL command with psql against `database`, stopping at the first error.
    public static func psql(_ database: String, _ command: String) throws {
        try run("psql", [database, "-X", "-v", "ON_ERROR_STOP=1", "-q", "-c", command])
    }

    /// Runs a PostgreSQL client program to completion; its output on failure.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        let (status, text) = try TestProcess.run("/usr/bin/env", [program] + arguments)
        guard status == 0 else {
            throw Failure(description: "\(program) \(arguments.last ?? "") failed (\(status)): \(text)")
        }
        return text
    }
}

/// Runs programs the tests drive.
public enum TestProcess {
    /// Runs `executable` to completion with `environment` added to this process's; returns its
    /// exit status and what it wrote to stdout and stderr together.
    public static func run(_ executable: String, _ arguments: [String],
                           environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
