// `learning-server db-check`: the guide's in-container database check, with the server's own
// database settings (LEARNING_DATABASE_URL, DATABASE_URL, LEARNING_DATABASE_*, the config file).
// It lives in the server, which links libpq anyway (the service module does not: it sees storage
// only through LearningRepository); `learning db-check` runs it, so the CLI links no database driver.
import Foundation
public import LearningService
import LearningStore

/// The database check of `learning-server db-check`.
public enum DatabaseCheck {
    /// What to print and the exit code: 0 connected, 1 not, 2 a usage or configuration error.
    public struct Outcome: Sendable, Equatable {
        /// The exit code.
        public var code: Int32
        /// Standard output (the report when connected, or JSON), empty for none.
        public var out: String
        /// Standard error (the failure), empty for none.
        public var err: String
    }

    /// The URL `learning-server` would connect to with these arguments and environment:
    /// `--database-url` when given, else the configured database.
    public static func databaseURL(arguments: ServerArguments, environment: [String: String]) throws -> String {
        if let url = arguments.databaseURL { return url }
        // Only the database settings matter here: bind to loopback so the server's listening rules
        // (a non-loopback host needs API keys) do not refuse a configuration that only has to reach
        // the database.
        var serverArguments = arguments
        serverArguments.host = "127.0.0.1"
        let config = try ConfigurationLoader.load(arguments: serverArguments, environment: environment)
        return LearningStore.connectionURL(for: config.database)
    }

    /// Resolves the database, connects once and says what it found.
    public static func run(arguments: ServerArguments, environment: [String: String]) -> Outcome {
        let url: String
        do {
            url = try databaseURL(arguments: arguments, environment: environment)
        } catch {
            return Outcome(code: 2, out: "", err: "learning-server db-check: \(error)")
        }
        let report = ConnectionCheck.run(url: url)
        let code: Int32 = report.connected ? 0 : 1
        if arguments.json {
            let object: [String: Any] = ["connected": report.connected, "target": report.target,
                                         "server_version": report.serverVersion,
                                         "execution_log_present": report.executionLogPresent, "error": report.error]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return Outcome(code: code, out: String(decoding: data, as: UTF8.self), err: "")
        }
        return report.connected ? Outcome(code: code, out: report.summary, err: "") : Outcome(code: code, out: "", err: report.summary)
    }
}
