// The thin libpq wrapper: the only unsafe code of LearningStore. A PGConnection is owned by one
// thread at a time (libpq connections are not thread-safe); every PGresult is copied into Swift
// values and cleared in a `defer` before the call returns.
import CLibPQ
import Foundation
import LearningRepository

/// One bound statement parameter ($n). Text parameters use PostgreSQL's text input format.
enum PGParam: Sendable {
    case null
    case text(String)
    /// Sent in binary format (for BYTEA).
    case bytes([UInt8])

    static func int(_ v: Int64) -> PGParam { .text(String(v)) }
    static func int(_ v: Int) -> PGParam { .text(String(v)) }
    static func double(_ v: Double) -> PGParam { .text(PGText.double(v)) }
    static func optional(_ v: String?) -> PGParam { v.map(PGParam.text) ?? .null }
    static func optional(_ v: Double?) -> PGParam { v.map(PGParam.double) ?? .null }
    static func bool(_ v: Bool) -> PGParam { .text(v ? "t" : "f") }
}

/// The rows of one result, copied out of the PGresult.
struct PGRows: Sendable {
    var columns: [String]
    var rows: [[String?]]
    /// PQcmdTuples: rows inserted/updated/deleted.
    var affected: Int

    var count: Int { rows.count }

    /// The value at row `r`, column `c`; nil for SQL NULL.
    subscript(_ r: Int, _ c: Int) -> String? { rows[r][c] }

    func int64(_ r: Int, _ c: Int) -> Int64? { rows[r][c].flatMap { Int64($0) } }
    func double(_ r: Int, _ c: Int) -> Double? { rows[r][c].flatMap { Double($0) } }
    func bool(_ r: Int, _ c: Int) -> Bool? { rows[r][c].map { $0 == "t" } }
}

/// A libpq connection. Not thread-safe: one owner thread.
final class PGConnection {
    private let conn: OpaquePointer
    private var prepared: Set<String> = []

    /// Connects (blocking). `url` is a libpq URL or key=value string; the session runs in UTC.
    init(url: String, applicationName: String = "learning-system", connectTimeout: Int = 3) throws {
        let keys = ["dbname", "application_name", "connect_timeout", "options"]
        let values = [url, applicationName, String(connectTimeout), "-c TimeZone=UTC -c statement_timeout=0"]
        let c: OpaquePointer? = withCStringArray(keys) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let c else { throw StoreError.unavailable("out of memory creating a connection") }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(c)
            throw StoreError.unavailable(message)
        }
        conn = c
        // Server notices and warnings are not printed on our stderr.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
    }

    deinit { PQfinish(conn) }

    /// True while the server connection is usable.
    var isHealthy: Bool { PQstatus(conn) == CONNECTION_OK }

    /// Reads whatever the server sent meanwhile (without blocking) and says whether the connection
    /// is still usable: a pooled connection whose server went away is noticed before it is used.
    func probe() -> Bool {
        // A terminated backend sends its FATAL message, then closes: the first read may return
        // the message and only the next one the end of the stream.
        for _ in 0..<3 {
            if PQconsumeInput(conn) != 1 || PQstatus(conn) != CONNECTION_OK { return false }
        }
        return true
    }

    /// The server's version number, e.g. 150018.
    var serverVersion: Int { Int(PQserverVersion(conn)) }

    /// Runs one statement with bound parameters; the text of `sql` never contains data.
    @discardableResult
    func query(_ sql: String, _ params: [PGParam] = []) throws -> PGRows {
        try withParams(params) { n, values, lengths, formats in
            PQexecParams(conn, sql, n, nil, values, lengths, formats, 0)
        }
    }

    /// Runs a statement prepared once per connection under `name` (prepared on first use).
    @discardableResult
    func queryPrepared(_ name: String, _ sql: String, _ params: [PGParam]) throws -> PGRows {
        if !prepared.contains(name) {
            _ = try consume(PQprepare(conn, name, sql, Int32(params.count), nil))
            prepared.insert(name)
        }
        return try withParams(params) { n, values, lengths, formats in
            PQexecPrepared(conn, name, n, values, lengths, formats, 0)
        }
    }

    /// Runs a parameterless statement (BEGIN, COMMIT, ROLLBACK, ...).
    func execute(_ sql: String) throws {
        _ = try consume(PQexec(conn, sql))
    }

    /// Runs `body` inside BEGIN/COMMIT; rolls back when it throws.
    func transaction<T>(_ begin: String = "BEGIN", _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs `COPY ... FROM STDIN` (text format) with `data` as the whole input; returns the rows copied.
    @discardableResult
    func copyIn(_ sql: String, data: [UInt8]) throws -> Int {
        guard let start = PQexec(conn, sql) else { throw StoreError.unavailable(lastError(default: "no result (connection lost)")) }
        if PQresultStatus(start) != PGRES_COPY_IN {
            _ = try consume(start) // throws the server's error
            throw StoreError.database(sqlState: "", message: "COPY did not start")
        }
        PQclear(start)
        var ok = true
        data.withUnsafeBufferPointer { raw in
            raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) { base in
                var offset = 0
                while offset < raw.count, ok {
                    let n = min(1 << 20, raw.count - offset)
                    ok = PQputCopyData(conn, base + offset, Int32(n)) == 1
                    offset += n
                }
            }
        }
        let ended = PQputCopyEnd(conn, ok ? nil : "client failed to send the data") == 1
        // Drain every result; the first failure wins.
        var failure: (any Error)?
        var copied = 0
        while let r = PQgetResult(conn) {
            do { copied = try consume(r).affected } catch { if failure == nil { failure = error } }
        }
        if let failure { throw failure }
        if !ok || !ended { throw StoreError.unavailable(lastError(default: "COPY data could not be sent")) }
        return copied
    }

    // MARK: - Internals

    private func withParams(
        _ params: [PGParam],
        _ call: (Int32, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> OpaquePointer?
    ) throws -> PGRows {
        // One contiguous buffer holds every parameter, NUL-terminated; pointers are taken inside it.
        var buffer: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        for p in params {
            switch p {
            case .null:
                offsets.append(nil); lengths.append(0); formats.append(0)
            case .text(let s):
                offsets.append(buffer.count)
                let before = buffer.count
                buffer.append(contentsOf: s.utf8)
                if buffer[before...].contains(0) { throw StoreError.invalidInput("text contains a NUL byte") }
                lengths.append(Int32(buffer.count - before)); formats.append(0)
                buffer.append(0)
            case .bytes(let b):
                offsets.append(buffer.count)
                buffer.append(contentsOf: b)
                lengths.append(Int32(b.count)); formats.append(1)
                buffer.append(0)
            }
        }
        let result: OpaquePointer? = buffer.withUnsafeBufferPointer { raw in
            raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(raw.count, 1)) { base in
                let pointers: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
                return pointers.withUnsafeBufferPointer { values in
                    lengths.withUnsafeBufferPointer { lens in
                        formats.withUnsafeBufferPointer { fmts in
                            call(Int32(params.count), values.baseAddress, lens.baseAddress, fmts.baseAddress)
                        }
                    }
                }
            }
        }
        return try consume(result)
    }

    /// Copies a result into Swift values, clears it, and maps a failure to a StoreError.
    private func consume(_ result: OpaquePointer?) throws -> PGRows {
        guard let result else {
            throw StoreError.unavailable(lastError(default: "no result (connection lost)"))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PGRows(columns: [], rows: [], affected: affectedRows(result))
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let nrows = Int(PQntuples(result)), ncols = Int(PQnfields(result))
            var columns: [String] = []
            columns.reserveCapacity(ncols)
            for c in 0..<ncols { columns.append(String(cString: PQfname(result, Int32(c)))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(nrows)
            for r in 0..<nrows {
                var row: [String?] = []
                row.reserveCapacity(ncols)
                for c in 0..<ncols {
                    if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                        row.append(nil)
                    } else {
                        row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                    }
                }
                rows.append(row)
            }
            return PGRows(columns: columns, rows: rows, affected: affectedRows(result))
        default:
            let message: String
            if let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) {
                message = String(cString: primary)
            } else {
                message = lastError(default: String(cString: PQresStatus(PQresultStatus(result))))
            }
            if let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) {
                let error = StoreError(sqlState: String(cString: state), message: message)
                if !isHealthy, case .database = error { throw StoreError.unavailable(message) }
                throw error
            }
            // No SQLSTATE: libpq's own failure, almost always a lost connection.
            throw isHealthy ? StoreError.database(sqlState: "", message: message) : StoreError.unavailable(message)
        }
    }

    private func affectedRows(_ result: OpaquePointer) -> Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    private func lastError(default fallback: String) -> String {
        let m = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        return m.isEmpty ? fallback : m
    }
}

/// Calls `body` with a NULL-terminated array of C strings that live for the duration of the call.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
