// PostgreSQL text formats for the values LearningStore binds and reads: numbers, arrays, JSON,
// BYTEA hex. Pure functions, no I/O.
import Foundation
import LearningCore

/// Text encodings of PostgreSQL values.
enum PGText {
    /// A float8 literal that round-trips (`NaN`/`Infinity` spelled the PostgreSQL way).
    static func double(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-Infinity" : "Infinity" }
        return String(v)
    }

    /// Appends `s` as one quoted array element (`"..."` with `\` and `"` escaped). Works on UTF-8
    /// bytes: the two escaped characters are ASCII, which never occurs inside a multi-byte sequence.
    static func appendArrayElement(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// An array literal (`{"a",NULL,"b"}`) of optional text elements.
    static func array(_ items: [String?]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(items.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if let item { appendArrayElement(item, to: &out) } else { out.append(contentsOf: "NULL".utf8) }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// An array literal of integers (ids for `int8[]` / `bigint[]` parameters).
    static func array(_ numbers: [Int64]) -> String { array(numbers.map { String($0) }) }

    /// Parses a one-dimensional array literal of the kind PostgreSQL prints (`{a,"b c",NULL}`).
    static func parseArray(_ text: String) -> [String?] {
        var result: [String?] = []
        let scalars = Array(text.unicodeScalars)
        guard scalars.first == "{", scalars.last == "}" else { return [] }
        var i = 1
        let end = scalars.count - 1
        if i == end { return [] }
        while i < end {
            var item = String.UnicodeScalarView()
            var quoted = false
            if scalars[i] == "\"" {
                quoted = true
                i += 1
                while i < end, scalars[i] != "\"" {
                    if scalars[i] == "\\" { i += 1 }
                    if i < end { item.append(scalars[i]) }
                    i += 1
                }
                i += 1 // closing quote
            } else {
                while i < end, scalars[i] != "," { item.append(scalars[i]); i += 1 }
            }
            let s = String(item)
            result.append(!quoted && s == "NULL" ? nil : s)
            i += 1 // comma
        }
        return result
    }

    /// Decodes BYTEA's hex output format (`\x0a1b...`).
    static func bytea(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        let u = Array(text.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x") else { return Array(text.utf8) }
        bytes.reserveCapacity((u.count - 2) / 2)
        func nibble(_ c: UInt8) -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: return c - UInt8(ascii: "A") + 10
            }
        }
        var i = 2
        while i + 1 < u.count { bytes.append(nibble(u[i]) << 4 | nibble(u[i + 1])); i += 2 }
        return bytes
    }

    /// A JSON string literal with escapes.
    static func jsonString(_ s: String, into out: inout String) {
        appendJSONStringLiteral(s, to: &out)
    }

    /// A JSON number (non-finite values become null: JSON has no NaN).
    static func jsonNumber(_ v: Double) -> String { v.isFinite ? String(v) : "null" }

    /// The fast path of `resourceUsage(fromJSON:)` (JSONDecoder cost 8% of the server's CPU under
    /// ingest, decoding the change feed): a flat object whose keys have no escapes and whose values
    /// are all JSON numbers, as jsonb prints `{"cpu": 40.5, "tokens": 5000}`. Anything else
    /// (nesting, strings, booleans, null, escapes, malformed text) returns nil for the full decoder.
    static func flatNumberObject(_ text: String) -> [String: Double]? {
        var result: [String: Double] = [:]
        var utf8 = text
        return utf8.withUTF8 { bytes -> [String: Double]? in
            var i = 0
            let n = bytes.count
            func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
            skipSpace()
            guard i < n, bytes[i] == UInt8(ascii: "{") else { return nil }
            i += 1
            skipSpace()
            if i < n, bytes[i] == UInt8(ascii: "}") {
                i += 1
                skipSpace()
                return i == n ? result : nil
            }
            while true {
                guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
                i += 1
                let keyStart = i
                while i < n, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
                guard i < n, bytes[i] == UInt8(ascii: "\"") else { return nil }
                let key = String(decoding: UnsafeBufferPointer(rebasing: bytes[keyStart..<i]), as: UTF8.self)
                i += 1
                skipSpace()
                guard i < n, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                skipSpace()
                let numberStart = i
                while i < n, isNumberByte(bytes[i]) { i += 1 }
                guard i > numberStart, isJSONNumber(UnsafeBufferPointer(rebasing: bytes[numberStart..<i])),
                      let value = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[numberStart..<i]), as: UTF8.self)),
                      value.isFinite else { return nil }
                // JSON objects may repeat a key; the full decoder keeps one of them, so leave it to it.
                guard result.updateValue(value, forKey: key) == nil else { return nil }
                skipSpace()
                guard i < n else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                guard bytes[i] == UInt8(ascii: "}") else { return nil }
                i += 1
                skipSpace()
                return i == n ? result : nil
            }
        }
    }

    private static func isNumberByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
    }

    /// The JSON number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private static func isJSONNumber(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        func digits() -> Int { let s = i; while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") { i += 1 }; return i - s }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { return false }
        if i < b.count, b[i] == UInt8(ascii: ".") { i += 1; guard digits() > 0 else { return false } }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { return false }
        }
        return i == b.count
    }

    /// Appends the `resource_usage` JSONB of an execution as UTF-8,
    /// `{"cpu":..,"memory_mb":..,"tokens":..,...other}`; false (nothing appended) when there is no usage.
    static func appendResourceUsageJSON(_ r: ResourceUsage, to out: inout [UInt8]) -> Bool {
        if r.isEmpty { return false }
        out.append(UInt8(ascii: "{"))
        var first = true
        func field(_ key: String, _ v: Double) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendJSONStringLiteral(key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendJSONNumber(v, to: &out)
        }
        if let v = r.cpu { field("cpu", v) }
        if let v = r.memoryMB { field("memory_mb", v) }
        if let v = r.tokens { field("tokens", v) }
        if !r.other.isEmpty {
            for key in r.other.keys.sorted() where key != "cpu" && key != "memory_mb" && key != "tokens" {
                field(key, r.other[key]!)
            }
        }
        out.append(UInt8(ascii: "}"))
        return true
    }

    /// Appends `jsonNumber(v)`; whole numbers below 2^53 without going through a String.
    static func appendJSONNumber(_ v: Double, to out: inout [UInt8]) {
        if v == v.rounded(), abs(v) < 9_007_199_254_740_992 {
            if v < 0 || (v == 0 && v.sign == .minus) { out.append(UInt8(ascii: "-")) }
            appendDecimal(UInt64(abs(v)), to: &out)
            out.append(UInt8(ascii: ".")); out.append(UInt8(ascii: "0"))
        } else {
            out.append(contentsOf: jsonNumber(v).utf8)
        }
    }

    /// Appends the decimal digits of `n`.
    static func appendDecimal(_ n: UInt64, to out: inout [UInt8]) {
        var divisor: UInt64 = 1
        while n / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(n / divisor % 10))
            divisor /= 10
        }
    }

    /// A JSON value that is a number, or anything else.
    private enum JSONNumber: Decodable {
        case number(Double)
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Double.self) { self = .number(v) } else { self = .other }
        }
    }

    /// Reads `resource_usage` JSONB written by anyone: numeric keys only; `cpu_percent` counts as cpu.
    static func resourceUsage(fromJSON text: String?) -> ResourceUsage {
        guard let text else { return ResourceUsage() }
        if let flat = flatNumberObject(text) { return resourceUsage(flat) }
        return decodedResourceUsage(text)
    }

    /// `resourceUsage(fromJSON:)` through Foundation's JSONDecoder only (the slow, general path).
    static func decodedResourceUsage(_ text: String) -> ResourceUsage {
        guard let object = try? JSONDecoder().decode([String: JSONNumber].self, from: Data(text.utf8)) else {
            return ResourceUsage()
        }
        return resourceUsage(object.compactMapValues { if case .number(let n) = $0 { n } else { nil } })
    }

    private static func resourceUsage(_ object: [String: Double]) -> ResourceUsage {
        var usage = ResourceUsage()
        for (key, number) in object {
            switch key {
            case "cpu": usage.cpu = number
            case "cpu_percent": if object["cpu"] == nil { usage.cpu = number } else { usage.other[key] = number }
            case "memory_mb": usage.memoryMB = number
            case "tokens": usage.tokens = number
            default: usage.other[key] = number
            }
        }
        return usage
    }

    /// A JSON object of strings.
    static func jsonObject(_ map: [String: String]) -> String {
        var out = "{"
        for (i, key) in map.keys.sorted().enumerated() {
            if i > 0 { out.append(",") }
            jsonString(key, into: &out)
            out.append(":")
            jsonString(map[key]!, into: &out)
        }
        out.append("}")
        return out
    }

    /// Parses a JSON object of strings (non-string values are printed as JSON).
    static func stringMap(fromJSON text: String?) -> [String: String] {
        guard let text, let data = text.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        var map: [String: String] = [:]
        for (k, v) in object { map[k] = (v as? String) ?? "\(v)" }
        return map
    }

    /// A float4 array literal (`{0.1,0.2}`) for the `real[]` embedding column.
    static func floatArray(_ v: [Float]) -> String {
        "{" + v.map { $0.isFinite ? String($0) : "0" }.joined(separator: ",") + "}"
    }

    /// A pgvector literal (`[0.1,0.2]`).
    static func vector(_ v: [Float]) -> String {
        "[" + v.map { $0.isFinite ? String($0) : "0" }.joined(separator: ",") + "]"
    }

    /// Parses `{..}` or `[..]` of numbers.
    static func floats(_ text: String) -> [Float] {
        let trimmed = text.dropFirst().dropLast()
        if trimmed.isEmpty { return [] }
        return trimmed.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) ?? 0 }
    }

    /// Seconds since 1970 of a `Date`, as bound to `to_timestamp($n) AT TIME ZONE 'UTC'`.
    static func epoch(_ d: Date) -> String { double(d.timeIntervalSince1970) }

    /// Microseconds since 1970 (UTC), rounded: PostgreSQL's timestamp resolution, as both ingest
    /// paths (COPY text and binary INSERT parameters) store it.
    static func unixMicroseconds(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1_000_000).rounded()) }

    /// A Date from `extract(epoch from ...)` text.
    static func date(_ text: String?) -> Date? { text.flatMap(Double.init).map(Date.init(timeIntervalSince1970:)) }
}
