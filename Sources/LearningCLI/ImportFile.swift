import Foundation
import LearningAPI
import LearningCore

// Reading execution logs for `learning import`: CSV with the columns of agents.execution_log
// (agent_name, task_id, task_type, execution_time, success, error_message, resource_usage,
// timestamp; event_id optional) or JSON Lines with the same fields as POST /executions.

/// One record read from the file: its 1-based line (or row) number and the parsed execution, or why not.
struct ImportRecord {
    var line: Int
    var result: Result<ExecutionInput, ImportRejection>
}

/// Why a record was rejected before it was sent.
struct ImportRejection: Error, Equatable {
    var reason: String
}

/// RFC 4180 CSV: quoted fields with doubled quotes, commas and newlines inside quotes, CRLF or LF.
struct CSVReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    /// The physical line the next record starts on (1-based).
    private(set) var line = 1

    init(bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { offset = 3 }
    }

    /// The next record's fields, `nil` at the end; throws on an unterminated quote.
    mutating func next() throws(ImportRejection) -> [String]? {
        // Skip blank lines.
        while offset < bytes.count, bytes[offset] == 0x0A || bytes[offset] == 0x0D {
            if bytes[offset] == 0x0A { line += 1 }
            offset += 1
        }
        guard offset < bytes.count else { return nil }
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var wasQuoted = false
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") {
                        field.append(byte)
                        offset += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                if field.isEmpty && !wasQuoted { inQuotes = true; wasQuoted = true } else { field.append(byte) }
            case UInt8(ascii: ","):
                fields.append(String(decoding: field, as: UTF8.self))
                field = []
                wasQuoted = false
            case 0x0D:
                continue
            case 0x0A:
                line += 1
                fields.append(String(decoding: field, as: UTF8.self))
                return fields
            default:
                field.append(byte)
            }
        }
        if inQuotes { throw ImportRejection(reason: "unterminated quoted field") }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }
}

/// Turns file rows into executions.
enum ExecutionRows {
    /// The columns a CSV must have (`event_id` is optional).
    static let requiredColumns = ["agent_name", "success"]
    static let knownColumns: Set = ["id", "agent_name", "task_id", "task_type", "execution_time", "success", "error_message",
                                    "resource_usage", "timestamp", "event_id"]

    /// A CSV row by header name into an execution (strictly typed: bad values reject the row).
    static func execution(_ row: [String: String]) throws(ImportRejection) -> ExecutionInput {
        func text(_ name: String) -> String? {
            guard let value = row[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        guard let agent = text("agent_name") else { throw ImportRejection(reason: "agent_name is empty") }
        guard let successText = text("success")?.lowercased() else { throw ImportRejection(reason: "success is empty") }
        let success: Bool
        switch successText {
        case "true", "t", "1", "yes": success = true
        case "false", "f", "0", "no": success = false
        default: throw ImportRejection(reason: "success must be true or false, got \"\(successText.prefix(20))\"")
        }
        var executionTime: Double?
        if let value = text("execution_time") {
            guard let number = Double(value), number.isFinite else {
                throw ImportRejection(reason: "execution_time must be a number, got \"\(value.prefix(20))\"")
            }
            executionTime = number
        }
        var usage = ResourceUsage()
        if let value = text("resource_usage") {
            do {
                let json = try JSONValue.parse(value)
                usage = try ResourceUsage(json: try JSONObjectReader(json, path: "resource_usage"))
            } catch let error as ServiceError {
                throw ImportRejection(reason: error.detail)
            } catch {
                throw ImportRejection(reason: "resource_usage is not JSON: \(error)")
            }
        }
        var timestamp: Date?
        if let value = text("timestamp") {
            guard let date = parseISO8601(value) else {
                throw ImportRejection(reason: "timestamp must be ISO 8601, got \"\(value.prefix(40))\"")
            }
            timestamp = date
        }
        return ExecutionInput(agentName: agent, taskID: text("task_id"), taskType: text("task_type"),
                              executionTime: executionTime, success: success, errorMessage: text("error_message"),
                              resourceUsage: usage, timestamp: timestamp, eventID: text("event_id"))
    }

    /// A JSON Lines record (the body of `POST /executions`).
    static func execution(jsonLine: String) throws(ImportRejection) -> ExecutionInput {
        do {
            return try ExecutionInput(json: try JSONValue.parse(jsonLine))
        } catch let error as ServiceError {
            throw ImportRejection(reason: error.detail)
        } catch {
            throw ImportRejection(reason: "not valid JSON: \(error)")
        }
    }

    /// A stable idempotency key for a record without one, so importing the same file twice stores
    /// each row once: a 128-bit FNV-1a hash of the record's fields.
    static func eventID(for input: ExecutionInput) -> String {
        var text = "\(input.agentName)\u{1}\(input.taskID ?? "")\u{1}\(input.taskType ?? "")\u{1}"
        text += "\(input.executionTime.map { String($0) } ?? "")\u{1}\(input.success)\u{1}\(input.errorMessage ?? "")\u{1}"
        text += "\(input.timestamp.map { String($0.timeIntervalSince1970) } ?? "")\u{1}"
        text += "\(input.resourceUsage.cpu ?? -1),\(input.resourceUsage.memoryMB ?? -1),\(input.resourceUsage.tokens ?? -1)"
        text += input.resourceUsage.other.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            return hash
        }
        let high = fnv(0xcbf2_9ce4_8422_2325)
        let low = fnv(0x84222325cbf29ce4 ^ 0x9E37_79B9_7F4A_7C15)
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        return "import-\(hex(high))\(hex(low))"
    }

    /// The execution as the JSON form of the proto's `Execution` message.
    static func protoJSON(_ input: ExecutionInput) -> JSONValue {
        var members: [(String, JSONValue)] = [("agent_name", .string(input.agentName)), ("success", .bool(input.success))]
        if let value = input.taskID { members.append(("task_id", .string(value))) }
        if let value = input.taskType { members.append(("task_type", .string(value))) }
        if let value = input.executionTime { members.append(("execution_time", .double(value))) }
        if let value = input.errorMessage { members.append(("error_message", .string(value))) }
        if !input.resourceUsage.isEmpty {
            var usage: [(String, JSONValue)] = []
            if let value = input.resourceUsage.cpu { usage.append(("cpu", .double(value))) }
            if let value = input.resourceUsage.memoryMB { usage.append(("memory_mb", .double(value))) }
            if let value = input.resourceUsage.tokens { usage.append(("tokens", .double(value))) }
            if !input.resourceUsage.other.isEmpty {
                usage.append(("other", .object(input.resourceUsage.other.sorted { $0.key < $1.key }.map { ($0.key, .double($0.value)) })))
            }
            members.append(("resource_usage", .object(usage)))
        }
        if let value = input.timestamp {
            // Keep sub-second precision: the proto timestamp carries nanoseconds.
            members.append(("timestamp", .string(isoWithFraction(value))))
        }
        if let value = input.eventID { members.append(("event_id", .string(value))) }
        return .object(members)
    }

    /// `2025-01-06T00:00:02.933Z`.
    static func isoWithFraction(_ date: Date) -> String {
        let whole = formatISO8601(date)
        let fraction = date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)
        let millis = Int((fraction * 1000).rounded())
        if millis == 0 || millis >= 1000 { return whole }
        let digits = String(millis)
        return String(whole.dropLast()) + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

/// Reads a CSV or JSONL file record by record.
struct ExecutionFileReader {
    enum Format { case csv, jsonl }

    let format: Format
    let bytes: [UInt8]
    private var csv: CSVReader
    private var header: [String] = []
    private var jsonOffset = 0
    private var jsonLine = 0

    /// Opens `path`; the format follows the extension (`.csv`, `.jsonl`/`.ndjson`/`.json`).
    init(path: String) throws {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") {
            format = .csv
        } else if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") || lower.hasSuffix(".json") {
            format = .jsonl
        } else {
            throw UsageError(description: "\(path): use a .csv or .jsonl file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError(description: "cannot read \(path)")
        }
        bytes = [UInt8](data)
        csv = CSVReader(bytes: bytes)
        if format == .csv {
            guard let names = try? csv.next() else { throw UsageError(description: "\(path): no CSV header") }
            header = names.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            for column in ExecutionRows.requiredColumns where !header.contains(column) {
                throw UsageError(description: "\(path): the CSV header has no \(column) column")
            }
            if let unknown = header.first(where: { !ExecutionRows.knownColumns.contains($0) }) {
                throw UsageError(description: "\(path): unknown CSV column \(unknown)")
            }
        }
    }

    /// Bytes consumed so far (for the progress bar).
    var position: Int { format == .csv ? csv.offset : jsonOffset }

    /// The next record, `nil` at the end of the file.
    mutating func next() -> ImportRecord? {
        switch format {
        case .csv:
            let line = csv.line
            let fields: [String]
            do {
                guard let next = try csv.next() else { return nil }
                fields = next
            } catch {
                return ImportRecord(line: line, result: .failure(error))
            }
            guard fields.count == header.count else {
                return ImportRecord(line: line, result: .failure(ImportRejection(
                    reason: "has \(fields.count) fields; the header has \(header.count)")))
            }
            let row = Dictionary(zip(header, fields), uniquingKeysWith: { first, _ in first })
            do {
                return ImportRecord(line: line, result: .success(try ExecutionRows.execution(row)))
            } catch {
                return ImportRecord(line: line, result: .failure(error))
            }
        case .jsonl:
            while jsonOffset < bytes.count {
                let start = jsonOffset
                var end = start
                while end < bytes.count, bytes[end] != 0x0A { end += 1 }
                jsonOffset = min(bytes.count, end + 1)
                jsonLine += 1
                let text = String(decoding: bytes[start..<end], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                do {
                    return ImportRecord(line: jsonLine, result: .success(try ExecutionRows.execution(jsonLine: text)))
                } catch {
                    return ImportRecord(line: jsonLine, result: .failure(error))
                }
            }
            return nil
        }
    }
}

/// The progress line on stderr: a bar with percent, rows/s and ETA when stderr is a terminal,
/// plain lines (at most one a second) when it is not.
struct ProgressReporter {
    let totalBytes: Int
    let isTerminal: Bool
    let enabled: Bool
    let started = Date()
    private var lastPrint = Date.distantPast

    init(totalBytes: Int, enabled: Bool) {
        self.totalBytes = max(1, totalBytes)
        self.isTerminal = isatty(2) == 1
        self.enabled = enabled
    }

    /// The progress text for `bytes` consumed and `rows` read after `elapsed` seconds.
    static func line(bytes: Int, totalBytes: Int, rows: Int, elapsed: Double, width: Int? = 30) -> String {
        let fraction = min(1, Double(bytes) / Double(max(1, totalBytes)))
        let rate = elapsed > 0 ? Double(rows) / elapsed : 0
        let eta: String
        if fraction > 0, fraction < 1, elapsed > 0 {
            let seconds = Int((elapsed / fraction - elapsed).rounded())
            eta = seconds >= 60 ? "\(seconds / 60)m\(seconds % 60)s" : "\(seconds)s"
        } else {
            eta = fraction >= 1 ? "0s" : "?"
        }
        let percent = String(format: "%5.1f%%", fraction * 100)
        var text = ""
        if let width {
            let filled = Int((fraction * Double(width)).rounded(.down))
            text = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        return text + "\(percent) \(rows) rows \(Int(rate.rounded())) rows/s ETA \(eta)"
    }

    mutating func update(bytes: Int, rows: Int, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        let interval = isTerminal ? 0.1 : 1.0
        guard force || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let elapsed = now.timeIntervalSince(started)
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.line(bytes: bytes, totalBytes: totalBytes, rows: rows, elapsed: elapsed)).utf8))
        } else {
            FileHandle.standardError.write(Data(("progress: " + Self.line(bytes: bytes, totalBytes: totalBytes, rows: rows, elapsed: elapsed, width: nil) + "\n").utf8))
        }
    }

    mutating func finish(bytes: Int, rows: Int) {
        update(bytes: bytes, rows: rows, force: true)
        if enabled, isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
