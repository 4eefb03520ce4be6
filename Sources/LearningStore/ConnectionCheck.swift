// `learning-server db-check` (and `learning db-check`, which runs it): one libpq connection to the
// service's database, as the guide's troubleshooting one-liner does with psycopg2 inside the
// container (`docker-compose exec learning-system python3 -c "import psycopg2 ..."`), and what it found.
import CLibPQ
import Foundation

/// What one connection attempt to the database found.
public struct ConnectionCheck: Sendable, Equatable {
    /// Whether libpq connected and the server answered a query.
    public var connected: Bool
    /// `user@host:port/database` as libpq connected (or tried to), without the password.
    public var target: String
    /// The server's version (`PostgreSQL 15.18 ...`), when connected.
    public var serverVersion: String = ""
    /// Whether the service's tables are there (it creates them at its first start).
    public var executionLogPresent = false
    /// libpq's or the query's error, when not connected.
    public var error: String = ""

    /// Creates a report.
    public init(connected: Bool, target: String, serverVersion: String = "", executionLogPresent: Bool = false,
                error: String = "") {
        self.connected = connected
        self.target = target
        self.serverVersion = serverVersion
        self.executionLogPresent = executionLogPresent
        self.error = error
    }

    /// Connects to `url` (blocking, at most `timeoutSeconds`), asks the server for its version and
    /// whether agents.execution_log exists, and disconnects. Never throws: a failure is a report.
    public static func run(url: String, timeoutSeconds: Int = 5) -> ConnectionCheck {
        let keys = ["dbname", "application_name", "connect_timeout"]
        let values = [url, "learning db-check", String(timeoutSeconds)]
        let connection: OpaquePointer? = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let connection else { return ConnectionCheck(connected: false, target: "", error: "out of memory") }
        defer { PQfinish(connection) }
        func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        let target = "\(text(PQuser(connection)))@\(text(PQhost(connection))):\(text(PQport(connection)))/\(text(PQdb(connection)))"
        guard PQstatus(connection) == CONNECTION_OK else {
            return ConnectionCheck(connected: false, target: target,
                                   error: text(PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard let result = PQexec(connection, "SELECT version(), to_regclass('agents.execution_log') IS NOT NULL") else {
            return ConnectionCheck(connected: false, target: target, error: text(PQerrorMessage(connection)))
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK, PQntuples(result) == 1 else {
            return ConnectionCheck(connected: false, target: target,
                                   error: text(PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return ConnectionCheck(connected: true, target: target, serverVersion: text(PQgetvalue(result, 0, 0)),
                               executionLogPresent: text(PQgetvalue(result, 0, 1)) == "t")
    }

    /// The line printed for the report, in the guide's words.
    public var summary: String {
        guard connected else {
            return "Database connection failed: \(error)" + (target.isEmpty ? "" : " (\(target))")
        }
        let version = serverVersion.split(separator: " ").prefix(2).joined(separator: " ")
        return "Database connection successful: \(target), \(version); agents.execution_log "
            + (executionLogPresent ? "present" : "absent (the service creates it at its first start)")
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
