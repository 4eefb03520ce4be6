// `learning db-check`: connects to the service's database directly with libpq, as the guide's
// troubleshooting one-liner does with psycopg2 inside the container
// (`docker-compose exec learning-system python3 -c "import psycopg2 ..."`), and says whether it
// could. The database is the one `learning-server` would use with the same environment and config
// file (LEARNING_DATABASE_URL, DATABASE_URL, LEARNING_DATABASE_*, LEARNING_CONFIG_FILE), unless
// `--database-url` names another.
import CLibPQ
import Foundation
import LearningService
import LearningStore

enum DatabaseCheck {
    /// What one connection attempt found.
    struct Report: Equatable {
        var connected: Bool
        /// `user@host:port/database` as libpq connected (or tried to), without the password.
        var target: String
        /// The server's version (`PostgreSQL 15.18 ...`), when connected.
        var serverVersion: String = ""
        /// Whether the service's tables are there (it creates them at its first start).
        var executionLogPresent = false
        /// libpq's or the query's error, when not connected.
        var error: String = ""
    }

    /// The URL `learning-server` would connect to with this environment (and its config file).
    static func databaseURL(arguments: ParsedArguments, environment: [String: String]) throws -> String {
        if let url = arguments.options["database-url"] { return url }
        // Only the database settings matter here: bind to loopback so the server's listening rules
        // (a non-loopback host needs API keys) do not refuse a configuration that only has to reach
        // the database.
        var serverArguments = ServerArguments()
        serverArguments.host = "127.0.0.1"
        let config = try ConfigurationLoader.load(arguments: serverArguments, environment: environment)
        return LearningStore.connectionURL(for: config.database)
    }

    /// Connects (blocking, at most `timeoutSeconds`), asks the server for its version and whether
    /// agents.execution_log exists, and disconnects.
    static func run(url: String, timeoutSeconds: Int = 5) -> Report {
        let keys = ["dbname", "application_name", "connect_timeout"]
        let values = [url, "learning db-check", String(timeoutSeconds)]
        let connection: OpaquePointer? = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let connection else { return Report(connected: false, target: "", error: "out of memory") }
        defer { PQfinish(connection) }
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        let target = "\(text(PQuser(connection)))@\(text(PQhost(connection))):\(text(PQport(connection)))/\(text(PQdb(connection)))"
        guard PQstatus(connection) == CONNECTION_OK else {
            return Report(connected: false, target: target,
                          error: text(PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let result = PQexec(connection, "SELECT version(), to_regclass('agents.execution_log') IS NOT NULL") else {
            return Report(connected: false, target: target, error: text(PQerrorMessage(connection)))
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1 else {
            return Report(connected: false, target: target,
                          error: text(PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return Report(connected: true, target: target, serverVersion: text(PQgetvalue(result, 0, 0)),
                      executionLogPresent: text(PQgetvalue(result, 0, 1)) == "t")
    }

    /// The lines printed for a report, in the guide's words.
    static func describe(_ report: Report) -> String {
        guard report.connected else {
            return "Database connection failed: \(report.error)" + (report.target.isEmpty ? "" : " (\(report.target))")
        }
        let version = report.serverVersion.split(separator: " ").prefix(2).joined(separator: " ")
        return "Database connection successful: \(report.target), \(version); agents.execution_log "
            + (report.executionLogPresent ? "present" : "absent (the service creates it at its first start)")
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
