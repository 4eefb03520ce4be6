public import Foundation
public import H2Transport
public import LearningAPI

// Strict readers for request input: JSON bodies, query strings and path segments. Malformed
// syntax is a 400; well-formed input with a wrong type or value is a 422 naming the field (the
// fields of a body are read by LearningAPI's `JSONObjectReader`, whose `invalidArgument` is that 422).

// MARK: - Bodies

/// Checks the content type and parses a JSON body; `nil` for an empty body when `allowEmpty`.
///
/// - 415 when a body is present and the content type is not `application/json` (or `+json`).
/// - 400 when the body is not valid JSON.
public func parseJSONBody(_ request: HTTPRequest, allowEmpty: Bool = false) throws(RESTError) -> JSONValue? {
    try parseJSONBody(request, allowEmpty: allowEmpty) { (bytes) throws(JSONParseError) in try JSONValue.parse(bytes) }
}

/// `parseJSONBody` with the parse given (e.g. one that streams a batch's elements).
func parseJSONBody(_ request: HTTPRequest, allowEmpty: Bool,
                   parse: ([UInt8]) throws(JSONParseError) -> JSONValue) throws(RESTError) -> JSONValue? {
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
        return try parse(request.body)
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

    /// An integer parameter of the 32-bit range its protobuf field has; 400 when not an integer,
    /// 422 when outside that range. What values mean is the service's to check (the same check
    /// and words as over gRPC).
    public func int32(_ name: String) throws(RESTError) -> Int? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let value = Int(text) else {
            throw RESTError.badRequest("query parameter \(name) must be an integer, got \"\(text.prefix(40))\"")
        }
        guard let narrow = Int32(exactly: value) else {
            throw RESTError.invalid("query parameter \(name) must be between \(Int32.min) and \(Int32.max), got \(value)")
        }
        return Int(narrow)
    }

    /// A finite number parameter; 400 when not a number. What values mean is the service's to
    /// check (the same check and words as over gRPC).
    public func double(_ name: String) throws(RESTError) -> Double? {
        guard let text = self[name], !text.isEmpty else { return nil }
        guard let value = Double(text), value.isFinite, text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x20 }),
              !text.lowercased().contains("n"), !text.lowercased().contains("x") else {
            throw RESTError.badRequest("query parameter \(name) must be a number, got \"\(text.prefix(40))\"")
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
