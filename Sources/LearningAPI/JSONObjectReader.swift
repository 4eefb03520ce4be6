public import Foundation

// Typed reading of JSON objects: the request bodies of the REST endpoints and the lines of the
// CLI's JSONL imports. A wrong type or value is `ServiceError.invalidArgument` naming the field's
// path (`executions[3].execution_time must be a number, not string`).

/// Reads typed fields of a JSON object, throwing `invalidArgument` with the field's path on a wrong
/// type or value (REST answers it with 422).
public struct JSONObjectReader: Sendable {
    /// The object's members.
    public let members: [(String, JSONValue)]
    /// The path of this object in the body, e.g. `executions[3]`, for error messages.
    public let path: String

    /// Wraps `value`, which must be an object.
    public init(_ value: JSONValue, path: String = "body") throws(ServiceError) {
        guard case let .object(members) = value else {
            throw ServiceError.invalidArgument("\(path) must be a JSON object, not \(value.typeName)")
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
    public func string(_ key: String, maxLength: Int = 10_000) throws(ServiceError) -> String? {
        guard let value = value(key) else { return nil }
        guard case let .string(text) = value else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be a string, not \(value.typeName)")
        }
        guard text.utf8.count <= maxLength else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) is longer than \(maxLength) bytes")
        }
        guard !text.utf8.contains(0) else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must not contain NUL characters")
        }
        return text
    }

    /// A required string member.
    public func requiredString(_ key: String, maxLength: Int = 10_000) throws(ServiceError) -> String {
        guard let text = try string(key, maxLength: maxLength) else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) is required")
        }
        return text
    }

    /// A finite number member, `nil` when absent; `minimum`/`maximum` bound it inclusively.
    public func double(_ key: String, minimum: Double? = nil, maximum: Double? = nil) throws(ServiceError) -> Double? {
        guard let value = value(key) else { return nil }
        return try numberValue(value, path: fieldPath(key), minimum: minimum, maximum: maximum)
    }

    /// An integer member, `nil` when absent.
    public func int(_ key: String, minimum: Int = Int(Int32.min), maximum: Int = Int(Int32.max)) throws(ServiceError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case let .number(text) = value else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be an integer, not \(value.typeName)")
        }
        guard let integer = integerValue(text) else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be a whole number, got \(text)")
        }
        guard integer >= minimum, integer <= maximum else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be between \(minimum) and \(maximum), got \(text)")
        }
        return integer
    }

    /// A boolean member, `nil` when absent.
    public func bool(_ key: String) throws(ServiceError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case let .bool(flag) = value else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be true or false, not \(value.typeName)")
        }
        return flag
    }

    /// An array of strings, `nil` when absent.
    public func strings(_ key: String, maxCount: Int = 1_000, maxLength: Int = 1_000) throws(ServiceError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case let .array(elements) = value else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be an array of strings, not \(value.typeName)")
        }
        guard elements.count <= maxCount else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) has more than \(maxCount) entries")
        }
        var result: [String] = []
        for (index, element) in elements.enumerated() {
            guard case let .string(text) = element else {
                throw ServiceError.invalidArgument("\(fieldPath(key))[\(index)] must be a string, not \(element.typeName)")
            }
            guard text.utf8.count <= maxLength, !text.utf8.contains(0) else {
                throw ServiceError.invalidArgument("\(fieldPath(key))[\(index)] is longer than \(maxLength) bytes or contains NUL")
            }
            result.append(text)
        }
        return result
    }

    /// An object of string values, `nil` when absent.
    public func stringMap(_ key: String, maxCount: Int = 100, maxLength: Int = 1_000) throws(ServiceError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard case let .object(entries) = value else {
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be an object of strings, not \(value.typeName)")
        }
        guard entries.count <= maxCount else { throw ServiceError.invalidArgument("\(fieldPath(key)) has more than \(maxCount) entries") }
        var result: [String: String] = [:]
        for (name, entry) in entries {
            guard case let .string(text) = entry else {
                throw ServiceError.invalidArgument("\(fieldPath(key)).\(name) must be a string, not \(entry.typeName)")
            }
            guard name.utf8.count <= maxLength, text.utf8.count <= maxLength, !text.utf8.contains(0), !name.utf8.contains(0) else {
                throw ServiceError.invalidArgument("\(fieldPath(key)).\(name) is longer than \(maxLength) bytes or contains NUL")
            }
            result[name] = text
        }
        return result
    }

    /// A nested object, `nil` when absent.
    public func object(_ key: String) throws(ServiceError) -> JSONObjectReader? {
        guard let value = value(key) else { return nil }
        return try JSONObjectReader(value, path: fieldPath(key))
    }

    /// A timestamp: an ISO 8601 / RFC 3339 string (no zone means UTC) or Unix seconds as a number.
    public func timestamp(_ key: String) throws(ServiceError) -> Date? {
        guard let value = value(key) else { return nil }
        switch value {
        case let .string(text):
            guard let date = parseISO8601(text) else {
                throw ServiceError.invalidArgument("\(fieldPath(key)) must be an ISO 8601 time like 2025-01-25T10:30:00Z, got \"\(text.prefix(64))\"")
            }
            return date
        case .number:
            let seconds = try numberValue(value, path: fieldPath(key), minimum: 0, maximum: 253_402_300_799)
            return Date(timeIntervalSince1970: seconds)
        default:
            throw ServiceError.invalidArgument("\(fieldPath(key)) must be an ISO 8601 string, not \(value.typeName)")
        }
    }
}

/// A finite double from a JSON value, range-checked; `invalidArgument` naming `path` otherwise.
public func numberValue(_ value: JSONValue, path: String, minimum: Double?, maximum: Double?) throws(ServiceError) -> Double {
    guard case let .number(text) = value else {
        throw ServiceError.invalidArgument("\(path) must be a number, not \(value.typeName)")
    }
    guard let number = Double(text), number.isFinite else {
        throw ServiceError.invalidArgument("\(path) is out of range: \(text.prefix(40))")
    }
    if let minimum, number < minimum {
        throw ServiceError.invalidArgument("\(path) must be at least \(JSONValue.double(minimum).text), got \(text.prefix(40))")
    }
    if let maximum, number > maximum {
        throw ServiceError.invalidArgument("\(path) must be at most \(JSONValue.double(maximum).text), got \(text.prefix(40))")
    }
    return number
}

/// An exact integer from a JSON number's text (`3`, `3.0`, `3e2`), `nil` if not whole or too large.
public func integerValue(_ text: String) -> Int? {
    if let exact = Int(text) { return exact }
    guard let number = Double(text), number.isFinite, number == number.rounded(),
          abs(number) < 9.0e15 else { return nil }
    return Int(number)
}
