public import Foundation
public import H2Transport
import LearningCore

// Strict readers for request input: JSON bodies, query strings and path segments. Malformed
// syntax is a 400; well-formed input with a wrong type or value is a 422 naming the field.

// MARK: - Bodies

/// Checks the content type and parses a JSON body; `nil` for an empty body when `allowEmpty`.
///
/// - 415 when a body is present and the content type is not `application/json` (or `+json`).
/// - 400 when the body is not valid JSON.
public func parseJSONBody(_ request: HTTPRequest, allowEmpty: Bool = false) throws(RESTError) -> JSONValue? {
    let isBlank = request.body.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    if isBlank {
        if allowEmpty { return nil }
        throw RESTError.badRequest("the request needs a JSON body")
    }
    guard let contentType = request.headers.first("content-type") else {
        throw RESTError.unsupportedMediaType("send the body with Content-Type: application/json")
    }
    let mediaType = contentType.split(separator: ";", maxSplits: 1).first
        .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
        throw RESTError.unsupportedMediaType("Content-Type \(contentType) is not supported; send application/json")
    }
    do {
        return try JSONValue.parse(request.body)
    } catch {
        throw RESTError.badRequest("the body is not valid JSON: \(error)")
    }
}

/// A required JSON body: like `parseJSONBody`, and 400 when the body is empty.
public func requireJSONBody(_ request: HTTPRequest) throws(RESTError) -> JSONValue {
    guard let value = try parseJSONBody(request, allowEmpty: false) else {
        throw RESTError.badRequest("the request needs a JSON body")
    }
    return value
}

/// Reads typed fields of a JSON object, throwing 422 with the field's path on a wrong type or value.
public struct JSONObjectReader: Sendable {
    /// The object's members.
    public let members: [(String, JSONValue)]
    /// The path of this object in the body, e.g. `executions[3]`, for error messages.
    public let path: String

    /// Wraps `value`, which must be an object.
    public init(_ value: JSONValue, path: String = "body") throws(RESTError) {
        guard case let .object(members) = value else {
            throw RESTError.invalid("\(path) must be a JSON object, not \(value.typeName)")
        }
        self.members = members
        self.path = path
    }

    private func fieldPath(_ key: String) -> String { path == "body" ? key : "\(path).\(key)" }

    /// The raw member, `nil` when absent or JSON `null`.
    public func value(_ key: String) -> JSONValue? {
        guard let value = members.first(where: { $0.0 == key })?.1 else { return nil }
        if case .null = value { return nil }
        return value
    }

    /// True when the member is present and not `null`.
    public func has(_ key: String) -> Bool { value(key) != nil }

    /// A string member, `nil` when absent.
    public func string(_ key: String, maxLength: Int = 10_000) throws(RESTError) -> String? {
        guard let value = value(key) else { return nil }
        guard case let .string(text) = value else {
            throw RESTError.invalid("\(fieldPath(key)) must be a string, not \(value.typeName)")
        }
        guard text.utf8.count <= maxLength else {
            throw RESTError.invalid("\(fieldPath(key)) is longer than \(maxLength) bytes")
        }
        guard !text.utf8.contains(0) else {
            throw RESTError.invalid("\(fieldPath(key)) must not contain NUL characters")
        }
        return text
    }

    /// A required string member.
    public func requiredString(_ key: String, maxLength: Int = 10_000) throws(RESTError) -> String {
        guard let text = try string(key, maxLength: maxLength) else {
            throw RESTError.invalid("\(fieldPath(key)) is required")
        }
        return text
    }

    /// A finite number member, `nil` when absent; `minimum`/`maximum` bound it inclusively.
    public func double(_ key: String, minimum: Double? = nil, maximum: Double? = nil) throws(RESTError) -> Double? {
        guard let value = value(key) else { return nil }
        return try numberValue(value, path: fieldPath(key), minimum: minimum, maximum: maximum)
    }

    /// An integer member, `nil` when absent.
    public func int(_ key: String, minimum: Int = Int(Int32.min), maximum: Int = Int(Int32.max)) throws(RESTError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case let .number(text) = value else {
            throw RESTError.invalid("\(fieldPath(key)) must be an integer, not \(value.typeName)")
        }
        guard let integer = integerValue(text) else {
            throw RESTError.invalid("\(fieldPath(key)) must be a whole number, got \(text)")
        }
        guard integer >= minimum, integer <= maximum else {
            throw RESTError.invalid("\(fieldPath(key)) must be between \(minimum) and \(maximum), got \(text)")
        }
        return integer
    }

    /// A boolean member, `nil` when absent.
    public func bool(_ key: String) throws(RESTError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case let .bool(flag) = value else {
            throw RESTError.invalid("\(fieldPath(key)) must be true or false, not \(value.typeName)")
        }
        return flag
    }

    /// An array of strings, `nil` when absent.
    public func strings(_ key: String, maxCount: Int = 1_000, maxLength: Int = 1_000) throws(RESTError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case let .array(elements) = value else {
            throw RESTError.invalid("\(fieldPath(key)) must be an array of strings, not \(value.typeName)")
        }
        guard elements.count <= maxCount else {
            throw RESTError.invalid("\(fieldPath(key)) has more than \(maxCount) entries")
        }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            guard case let .string(text) = element else {
                throw RESTError.invalid("\(fieldPath(key))[\(index)] must be a string, not \(element.typeName)")
            }
            guard text.utf8.count <= maxLength, !text.utf8.contains(0) else {
                throw RESTError.invalid("\(fieldPath(key))[\(index)] is longer than \(maxLength) bytes or contains NUL")
            }
            result.append(text)
        }
        return result
    }

    /// An object of string values, `nil` when absent.
    public func stringMap(_ key: String, maxCount: Int = 100, maxLength: Int = 1_000) throws(RESTError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard case let .object(entries) = value else {
            throw RESTError.invalid("\(fieldPath(key)) must be an object of strings, not \(value.typeName)")
        }
        guard entries.count <= maxCount else { throw RESTError.invalid("\(fieldPath(key)) has more than \(maxCount) entries") }
        var result: [String: String] = [:]
        for (name, entry) in entries {
            guard case let .string(text) = entry else {
                throw RESTError.invalid("\(fieldPath(key)).\(name) must be a string, not \(entry.typeName)")
            }
            guard name.utf8.count <= maxLength, text.utf8.count <= maxLength, !text.utf8.contains(0), !name.utf8.contains(0) else {
                throw RESTError.invalid("\(fieldPath(key)).\(name) is longer than \(maxLength) bytes or contains NUL")
            }
            result[name] = text
        }
        return result
    }

    /// A nested object, `nil` when absent.
    public func object(_ key: String) throws(RESTError) -> JSONObjectReader? {
        guard let value = value(key) else { return nil }
        return try JSONObjectReader(value, path: fieldPath(key))
    }

    /// A timestamp: an ISO 8601 / RFC 3339 string (no zone means UTC) or Unix seconds as a number.
    public func timestamp(_ key: String) throws(RESTError) -> Date? {
        guard let value = value(key) else { return nil }
        switch value {
        case let .string(text):
            guard let date = parseISO8601(text) else {
                throw RESTError.invalid("\(fieldPath(key)) must be an ISO 8601 time like 2025-01-25T10:30:00Z, got \"\(text.prefix(64))\"")
            }
            return date
        case .number:
            let seconds = try numberValue(value, path: fieldPath(key), minimum: 0, maximum: 253_402_300_799)
            return Date(timeIntervalSince1970: seconds)
        default:
            throw RESTError.invalid("\(fieldPath(key)) must be an ISO 8601 string, not \(value.typeName)")
        }
    }
}

/// A finite double from a JSON value, range-checked; 422 naming `path` otherwise.
func numberValue(_ value: JSONValue, path: String, minimum: Double?, maximum: Double?) throws(RESTError) -> Double {
    guard case let .number(text) = value else {
        throw RESTError.invalid("\(path) must be a number, not \(value.typeName)")
    }
    guard let number = Double(text), number.isFinite else {
        throw RESTError.invalid("\(path) is out of range: \(text.prefix(40))")
    }
    if let minimum, number < minimum {
        throw RESTError.invalid("\(path) must be at least \(JSONValue.double(minimum).text), got \(text.prefix(40))")
    }
    if let maximum, number > maximum {
        throw RESTError.invalid("\(path) must be at most \(JSONValue.double(maximum).text), got \(text.prefix(40))")
    }
    return number
}

/// An exact integer from a JSON number's text (`3`, `3.0`, `3e2`), `nil` if not whole or too large.
func integerValue(_ text: String) -> Int? {
    if let exact = Int(text) { return exact }
    guard let number = Double(text), number.isFinite, number == number.rounded(),
          abs(number) < 9.0e15 else { return nil }
    return Int(number)
}

// MARK: - Time

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM|±HHMM]` (a space may replace `T`; no zone means UTC).
public func parseISO8601(_ text: String) -> Date? {
    let b = Array(text.utf8)
    guard b.count >= 19, b.count <= 40 else { return nil }
    func digits(_ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var value = 0
        for i in start..<(start + count) {
            guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
            value = value * 10 + Int(b[i] - 0x30)
        }
        return value
    }
    guard let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
          let day = digits(8, 2), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == 0x20,
          let hour = digits(11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(14, 2), b[16] == UInt8(ascii: ":"),
          let second = digits(17, 2) else { return nil }
    guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61, year >= 1 else { return nil }
    let daysInMonth = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard day <= daysInMonth[month - 1] else { return nil }
    var index = 19
    var fraction = 0.0
    if index < b.count, b[index] == UInt8(ascii: ".") || b[index] == UInt8(ascii: ",") {
        index += 1
        var scale = 0.1
        let start = index
        while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
            fraction += Double(b[index] - 0x30) * scale
            scale /= 10
            index += 1
        }
        guard index > start else { return nil }
    }
    var offsetSeconds = 0
    if index < b.count {
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[index] == UInt8(ascii: "-") ? -1 : 1
            guard let hours = digits(index + 1, 2), hours < 24 else { return nil }
            var minutes = 0
            if index + 3 < b.count, b[index + 3] == UInt8(ascii: ":") {
                guard let m = digits(index + 4, 2) else { return nil }
                minutes = m
                index += 6
            } else if let m = digits(index + 3, 2) {
                minutes = m
                index += 5
            } else {
                index += 3
            }
            guard minutes < 60 else { return nil }
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        default:
            return nil
        }
    }
    guard index == b.count else { return nil }
    // Days since 1970-01-01 (civil-from-days inverse, proleptic Gregorian).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
    return Date(timeIntervalSince1970: seconds)
}

/// Formats a time as `2025-01-25T10:30:00Z` (UTC, whole seconds), the guide's timestamp format.
public func formatISO8601(_ date: Date) -> String {
    let total = Int64(date.timeIntervalSince1970.rounded(.down))
    var days = total / 86_400
    var rest = total % 86_400
    if rest < 0 { rest += 86_400; days -= 1 }
    let (year, month, day) = civilDate(daysSinceEpoch: days)
    func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2))Z"
}

// MARK: - Query strings and paths

/// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`); `nil` for a malformed escape or invalid UTF-8.
public func percentDecode(_ text: Substring, plusIsSpace: Bool) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    func hex(_ byte: UInt8?) -> UInt8? {
        guard let byte else { return nil }
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x41...0x46: return byte - 0x41 + 10
        case 0x61...0x66: return byte - 0x61 + 10
        default: return nil
        }
    }
    while let byte = iterator.next() {
        if byte == UInt8(ascii: "%") {
            guard let high = hex(iterator.next()), let low = hex(iterator.next()) else { return nil }
            bytes.append(high << 4 | low)
        } else if byte == UInt8(ascii: "+"), plusIsSpace {
            bytes.append(0x20)
        } else {
            bytes.append(byte)
        }
    }
    return String(validating: bytes, as: UTF8.self)
}

/// The parameters of a query string, with strict typed accessors.
public struct QueryParameters: Sendable {
    /// Every `name=value` pair in order, decoded.
    public private(set) var pairs: [(String, String)] = []

    /// Parses `a=1&b=two`; 400 on a malformed escape.
    public init(_ query: String) throws(RESTError) {
        guard query.utf8.count <= 8_192 else { throw RESTError.badRequest("the query string is too long") }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(pieces[0], plusIsSpace: true),
                  let value = percentDecode(pieces.count > 1 ? pieces[1] : "", plusIsSpace: true) else {
                throw RESTError.badRequest("malformed percent-encoding in the query string near \"\(part.prefix(40))\"")
            }
            pairs.append((name, value))
        }
    }

    /// The last value of `name`, `nil` when absent.
    public subscript(name: String) -> String? { pairs.last(where: { $0.0 == name })?.1 }

    /// Every value of `name`, also splitting comma-separated lists (`kinds=a,b&kinds=c`).
    public func list(_ name: String) -> [String] {
        pairs.filter { $0.0 == name }.flatMap { $0.1.split(separator: ",").map(String.init) }
    }

    /// An integer parameter; 400 when not an integer, 422 when out of range.
    public func int(_ name: String, minimum: Int, maximum: Int) throws(RESTError) -> Int? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else {
            throw RESTError.badRequest("query parameter \(name) must be an integer, got \"\(text.prefix(40))\"")
        }
        guard value >= minimum, value <= maximum else {
            throw RESTError.invalid("query parameter \(name) must be between \(minimum) and \(maximum), got \(value)")
        }
        return value
    }

    /// A finite number parameter; 400 when not a number, 422 when out of range.
    public func double(_ name: String, minimum: Double, maximum: Double) throws(RESTError) -> Double? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let value = Double(text), text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x20 }),
              !text.lowercased().contains("n"), !text.lowercased().contains("x") else {
            throw RESTError.badRequest("query parameter \(name) must be a number, got \"\(text.prefix(40))\"")
        }
        guard value.isFinite, value >= minimum, value <= maximum else {
            throw RESTError.invalid("query parameter \(name) must be between \(JSONValue.double(minimum).text) and \(JSONValue.double(maximum).text), got \(text.prefix(40))")
        }
        return value
    }

    /// A time parameter (ISO 8601); 400 when malformed.
    public func timestamp(_ name: String) throws(RESTError) -> Date? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let date = parseISO8601(text) else {
            throw RESTError.badRequest("query parameter \(name) must be an ISO 8601 time like 2025-01-25T10:30:00Z")
        }
        return date
    }
}
