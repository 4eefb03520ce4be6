import Foundation
import LearningCore

/// Errors reading the evaluation workload.
enum EvalDataError: Error, CustomStringConvertible {
    case unreadable(String)
    case badHeader(String)
    case badRow(line: Int, reason: String)

    var description: String {
        switch self {
        case .unreadable(let p): "cannot read \(p)"
        case .badHeader(let h): "unexpected CSV header: \(h)"
        case .badRow(let line, let reason): "line \(line): \(reason)"
        }
    }
}

/// The workload's `meta.json`: the split and forecast times.
struct EvalMeta {
    var splitTimestamp: Date
    var end: Date
    var nTrain: Int

    init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let split = (obj["split_timestamp"] as? String).flatMap(parseTimestamp),
              let end = (obj["end"] as? String).flatMap(parseTimestamp),
              let n = obj["n_train"] as? Int else { throw EvalDataError.unreadable(path) }
        splitTimestamp = split
        self.end = end
        nTrain = n
    }
}

/// A test query: a row's inputs without its outcome.
struct TestQuery {
    var rowID: Int
    var agentName: String
    var taskType: String
    var timestamp: Date
}

/// Splits one CSV line into fields (RFC 4180 quoting with doubled quotes).
func csvFields(_ line: Substring) -> [String] {
    var fields: [String] = []
    var cur: [UInt8] = []
    var inQuotes = false
    let u = Array(line.utf8)
    var i = 0
    while i < u.count {
        let c = u[i]
        if inQuotes {
            if c == 34 {
                if i + 1 < u.count && u[i + 1] == 34 { cur.append(34); i += 1 } else { inQuotes = false }
            } else { cur.append(c) }
        } else if c == 34 {
            inQuotes = true
        } else if c == 44 {
            fields.append(String(decoding: cur, as: UTF8.self)); cur.removeAll(keepingCapacity: true)
        } else {
            cur.append(c)
        }
        i += 1
    }
    fields.append(String(decoding: cur, as: UTF8.self))
    return fields
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (UTC) without a date formatter.
func parseTimestamp(_ s: String) -> Date? {
    let u = Array(s.utf8)
    guard u.count >= 19 else { return nil }
    func num(_ a: Int, _ b: Int) -> Int? {
        var v = 0
        for i in a..<b { guard u[i] >= 48 && u[i] <= 57 else { return nil }; v = v * 10 + Int(u[i] - 48) }
        return v
    }
    guard let y = num(0, 4), let mo = num(5, 7), let d = num(8, 10), let h = num(11, 13),
          let mi = num(14, 16), let se = num(17, 19) else { return nil }
    var frac = 0.0
    if u.count > 20, u[19] == UInt8(ascii: ".") {
        var scale = 0.1
        var i = 20
        while i < u.count, u[i] >= 48, u[i] <= 57 { frac += Double(u[i] - 48) * scale; scale /= 10; i += 1 }
    }
    // Days from civil (Howard Hinnant's algorithm).
    let yy = mo <= 2 ? y - 1 : y
    let era = (yy >= 0 ? yy : yy - 399) / 400
    let yoe = yy - era * 400
    let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let daysSinceEpoch = era * 146_097 + doe - 719_468
    let secs = Double(daysSinceEpoch * 86_400 + h * 3600 + mi * 60 + se) + frac
    return Date(timeIntervalSince1970: secs)
}

/// Reads a flat JSON object of numbers such as `{"cpu": x, "memory_mb": y, "tokens": z}`
/// (any key order; unknown numeric keys kept in `other`; anything else ignored).
func parseResourceUsage(_ s: String) -> ResourceUsage {
    var r = ResourceUsage()
    let u = Array(s.utf8)
    var i = 0
    while i < u.count {
        guard u[i] == 34 else { i += 1; continue }
        var j = i + 1
        while j < u.count && u[j] != 34 { j += 1 }
        let key = String(decoding: u[(i + 1)..<min(j, u.count)], as: UTF8.self)
        j += 1
        while j < u.count && (u[j] == 58 || u[j] == 32) { j += 1 }
        var k = j
        while k < u.count && u[k] != 44 && u[k] != 125 && u[k] != 32 { k += 1 }
        if let x = Double(String(decoding: u[j..<k], as: UTF8.self)) {
            switch key {
            case "cpu": r.cpu = x
            case "memory_mb": r.memoryMB = x
            case "tokens": r.tokens = x
            default: r.other[key] = x
            }
        }
        i = k
    }
    return r
}

/// Reads `executions.csv` (the columns of `agents.execution_log`) into execution records whose
/// `id` is the 0-based row index. This is the only place the evaluation reads rows; the service
/// path replaces it with ingestion through the API.
func readExecutions(_ path: String) throws -> [ExecutionRecord] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw EvalDataError.unreadable(path)
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    guard !lines.isEmpty else { throw EvalDataError.badHeader("") }
    let header = csvFields(lines.removeFirst()).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    func col(_ name: String) throws -> Int {
        guard let i = header.firstIndex(of: name) else { throw EvalDataError.badHeader(header.joined(separator: ",")) }
        return i
    }
    let cA = try col("agent_name"), cID = try col("task_id"), cT = try col("task_type"), cX = try col("execution_time")
    let cS = try col("success"), cE = try col("error_message"), cR = try col("resource_usage"), cTs = try col("timestamp")
    var out: [ExecutionRecord] = []
    out.reserveCapacity(lines.count)
    for (i, line) in lines.enumerated() {
        let f = csvFields(line.hasSuffix("\r") ? line.dropLast() : line)
        guard f.count == header.count else { throw EvalDataError.badRow(line: i + 2, reason: "expected \(header.count) fields, got \(f.count)") }
        guard let ts = parseTimestamp(f[cTs]) else { throw EvalDataError.badRow(line: i + 2, reason: "bad timestamp \(f[cTs])") }
        out.append(ExecutionRecord(id: Int64(i), agentName: f[cA], taskID: f[cID].isEmpty ? nil : f[cID],
                                   taskType: f[cT].isEmpty ? nil : f[cT], executionTime: Double(f[cX]),
                                   success: f[cS].lowercased() == "true", errorMessage: f[cE].isEmpty ? nil : f[cE],
                                   resourceUsage: parseResourceUsage(f[cR]), timestamp: ts))
    }
    return out
}

/// Reads `test_queries.csv`.
func readTestQueries(_ path: String) throws -> [TestQuery] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw EvalDataError.unreadable(path)
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
    let header = csvFields(lines.removeFirst())
    guard let cR = header.firstIndex(of: "row_id"), let cA = header.firstIndex(of: "agent_name"),
          let cT = header.firstIndex(of: "task_type"), let cTs = header.firstIndex(where: { $0.hasPrefix("timestamp") })
    else { throw EvalDataError.badHeader(header.joined(separator: ",")) }
    return try lines.enumerated().map { i, line in
        let f = csvFields(line)
        guard f.count == header.count, let r = Int(f[cR]), let ts = parseTimestamp(f[cTs]) else {
            throw EvalDataError.badRow(line: i + 2, reason: "bad test query")
        }
        return TestQuery(rowID: r, agentName: f[cA], taskType: f[cT], timestamp: ts)
    }
}
