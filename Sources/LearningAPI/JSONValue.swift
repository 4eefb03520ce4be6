// A small, strict JSON model for the REST shim: a parser that never traps (depth, size and number
// checks are explicit) and an encoder that keeps object keys in the order they were written, so the
// responses read like the integration guide's examples.

/// A JSON value. Numbers keep their source text so integer fields can be checked exactly.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as written (parsed input) or as the encoder should write it.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in order; duplicate keys are rejected by the parser.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b || (Double(a) != nil && Double(a) == Double(b))
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A finite double as a JSON number (non-finite values become `null`: JSON has no NaN).
    public static func double(_ value: Double) -> JSONValue {
        guard value.isFinite else { return .null }
        if value == value.rounded(), abs(value) < 1e15 { return .number(String(Int64(value))) }
        return .number(String(value))
    }

    /// A double rounded to `places` decimals, for human-facing figures like `18.2`.
    public static func rounded(_ value: Double, places: Int) -> JSONValue {
        guard value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return double((value * scale).rounded() / scale)
    }

    /// An integer as a JSON number.
    public static func int<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    /// The member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first(where: { $0.0 == key })?.1
    }

    /// The keys of an object, in order (empty for other values).
    public var keys: [String] {
        guard case let .object(members) = self else { return [] }
        return members.map(\.0)
    }

    /// The same value with object keys in the order `template` lists them (recursively, arrays by
    /// their first element); keys the template lacks keep their order after those it has.
    public func ordered(like template: JSONValue) -> JSONValue {
        switch (self, template) {
        case let (.object(members), .object(order)) where !order.isEmpty:
            var rest = members
            var result: [(String, JSONValue)] = []
            result.reserveCapacity(members.count)
            for (key, shape) in order {
                if let index = rest.firstIndex(where: { $0.0 == key }) {
                    result.append((key, rest[index].1.ordered(like: shape)))
                    rest.remove(at: index)
                }
            }
            return .object(result + rest)
        case let (.array(elements), .array(order)):
            guard let first = order.first else { return self }
            return .array(elements.map { $0.ordered(like: first) })
        default:
            return self
        }
    }

    /// The JSON type name used in error messages: `null`, `boolean`, `number`, `string`, `array`, `object`.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

// MARK: - Encoding

extension JSONValue {
    /// The compact UTF-8 encoding.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    /// The encoding as a `String`.
    public var text: String { String(decoding: encoded(), as: UTF8.self) }

    private func write(to out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case let .bool(value): out.append(contentsOf: (value ? "true" : "false").utf8)
        case let .number(text): out.append(contentsOf: text.utf8)
        case let .string(value): JSONValue.writeString(value, to: &out)
        case let .array(elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.0, to: &out)
                out.append(UInt8(ascii: ":"))
                member.1.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]])
            case UInt8(ascii: "<"):
                // Keeps JSON safe to embed in the HTML docs page.
                out.append(contentsOf: Array("\\u003c".utf8))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parsing

/// Why a body is not JSON, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

extension JSONValue {
    /// The deepest nesting the parser accepts; deeper input is malformed for this API.
    public static let maximumDepth = 64
    /// Objects with up to this many members are checked for duplicate keys without a set of them.
    public static let keySetThreshold = 16

    /// Parses one JSON text (RFC 8259): UTF-8, no trailing garbage, no duplicate keys, at most
    /// `maximumDepth` levels. Never traps on any input.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses a JSON text given as a string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses a JSON text like `parse(_:)`, except that when it is an object whose member `key` is
    /// an array, each element of that array goes to `element` (with its index and where its text
    /// lies in `bytes`) as soon as it is parsed, and is not kept: the returned object holds an empty array in its place, and
    /// `streamed` is how many there were (nil when nothing was streamed). A large batch is then
    /// never held as one tree. Syntax errors are thrown as by `parse(_:)`, wherever they are,
    /// after whatever elements came before them.
    public static func parse(_ bytes: [UInt8], streaming key: String, element: (JSONValue, Int, Range<Int>) -> Void)
        throws(JSONParseError) -> (value: JSONValue, streamed: Int?) {
        var outcome: Result<(value: JSONValue, streamed: Int?), JSONParseError>!
        withoutActuallyEscaping(element) { element in
            var parser = JSONParser(bytes: bytes)
            parser.stream = (key, element)
            do throws(JSONParseError) {
                let value = try parser.parseDocument()
                outcome = .success((value, parser.streamed))
            } catch {
                outcome = .failure(error)
            }
        }
        return try outcome.get()
    }

    /// How many elements the array member `key` of the top-level object seems to hold, from a
    /// scan that builds nothing (the commas at the array's own level); nil when the scan cannot
    /// tell. A capacity hint only: what the text holds is the parser's to say.
    public static func arrayCountHint(_ key: String, in bytes: [UInt8]) -> Int? {
        var scanner = JSONCountScanner(bytes: bytes)
        return scanner.count(of: Array(key.utf8))
    }
}

/// The scan behind `JSONValue.arrayCountHint`: skips values without building them.
private struct JSONCountScanner {
    let bytes: [UInt8]
    var index = 0

    func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    mutating func skipSpace() {
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
    }

    /// Skips the string whose opening quote is at `index`; false when it does not end.
    mutating func skipString() -> Bool {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\\") {
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                return true
            }
        }
        return false
    }

    /// Skips the value at `index`; false when it does not end.
    mutating func skipValue() -> Bool {
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard skipString() else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                default:
                    break
                }
                index += 1
            }
            return false
        default:
            while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: ","),
                  bytes[index] != UInt8(ascii: "}"), bytes[index] != UInt8(ascii: "]") {
                index += 1
            }
            return true
        }
    }

    /// The element count of the array member `key` of the top-level object.
    mutating func count(of key: [UInt8]) -> Int? {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        while true {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let keyStart = index + 1
            guard skipString() else { return nil }
            let isKey = bytes[keyStart..<(index - 1)].elementsEqual(key)
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            skipSpace()
            if isKey { return countElements() }
            guard skipValue() else { return nil }
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return nil }
            index += 1
        }
    }

    /// The elements of the array that opens at `index`.
    mutating func countElements() -> Int? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return nil }
        index += 1
        var commas = 0
        var depth = 0
        var sawValue = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                sawValue = true
                guard skipString() else { return nil }
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                sawValue = true
            case UInt8(ascii: "}"):
                depth -= 1
            case UInt8(ascii: "]"):
                if depth == 0 { return sawValue ? commas + 1 : 0 }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 0 { commas += 1 }
            default:
                if !isSpace(byte) { sawValue = true }
            }
            index += 1
        }
        return nil
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0
    /// The member of the top-level object whose array elements are handed over one by one, and
    /// where they go (`JSONValue.parse(_:streaming:element:)`).
    var stream: (key: String, element: (JSONValue, Int, Range<Int>) -> Void)?
    /// How many elements were handed over, once the streamed member has been parsed.
    var streamed: Int?

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        // A UTF-8 byte order mark is tolerated.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the JSON value") }
        return value
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("unexpected end of input") }
        let matches = literal.withUTF8Buffer { buffer in
            (0..<count).allSatisfy { bytes[index + $0] == buffer[$0] }
        }
        guard matches else { throw fail("invalid literal") }
        index += count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else { throw fail("nesting deeper than \(JSONValue.maximumDepth) levels") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [(String, JSONValue)] = []
        // Duplicate keys are looked for among the members while there are few (no set to build),
        // then in a set of the keys.
        var seen: Set<String>?
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            if seen == nil, members.count >= JSONValue.keySetThreshold { seen = Set(members.map(\.0)) }
            let duplicate = seen != nil ? !seen!.insert(key).inserted : members.contains { $0.0 == key }
            guard !duplicate else { throw fail("duplicate key \"\(key)\"") }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            if depth == 1, let stream, key == stream.key, index < bytes.count, bytes[index] == UInt8(ascii: "[") {
                streamed = try parseStreamedArray(stream.element)
                members.append((key, .array([])))
            } else {
                members.append((key, try parseValue()))
            }
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
            throw fail("expected ',' or ']'")
        }
    }

    /// An array like `parseArray`'s (the same errors at the same offsets) whose elements go to
    /// `element` as they are parsed; how many there were.
    mutating func parseStreamedArray(_ element: (JSONValue, Int, Range<Int>) -> Void) throws(JSONParseError) -> Int {
        try enter()
        defer { depth -= 1 }
        index += 1
        var count = 0
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return 0 }
        while true {
            skipWhitespace()
            let start = index
            let value = try parseValue()
            element(value, count, start..<index)
            count += 1
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return count }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        guard index - start <= 512 else { throw fail("number too long") }
        return .number(String(decoding: bytes[start..<index], as: UTF8.self))
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 0x30...0x39: return UInt32(byte - 0x30)
        case 0x41...0x46: return UInt32(byte - 0x41 + 10)
        case 0x61...0x66: return UInt32(byte - 0x61 + 10)
        default: return nil
        }
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = hexValue(bytes[index + offset]) else { throw fail("invalid \\u escape") }
            value = value << 4 | digit
        }
        index += 4
        return value
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1 // opening quote
        // Most strings hold no escape: read straight from the text up to the closing quote.
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let string = bytes.withUnsafeBufferPointer { buffer in
                    String(validating: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
                }
                index += 1
                guard let string else { throw fail("string is not valid UTF-8") }
                return string
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            index += 1
        }
        // An escape, a control character or the end of the text: byte by byte from here.
        var raw = Array(bytes[start..<index])
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let string = String(validating: raw, as: UTF8.self) else {
                    throw fail("string is not valid UTF-8")
                }
                return string
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): raw.append(0x22)
                case UInt8(ascii: "\\"): raw.append(0x5C)
                case UInt8(ascii: "/"): raw.append(0x2F)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0C)
                case UInt8(ascii: "n"): raw.append(0x0A)
                case UInt8(ascii: "r"): raw.append(0x0D)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 6 <= bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("unpaired surrogate")
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    raw.append(contentsOf: Array(String(Character(unicode)).utf8))
                default: throw fail("invalid escape")
                }
            case 0..<0x20:
                throw fail("control character in string")
            default:
                raw.append(byte)
                index += 1
            }
        }
    }
}
