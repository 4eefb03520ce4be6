// A scan of a message's wire bytes before protobuf-c unpacks them. protobuf-c hands strings to C
// as NUL-terminated `char *`, so a string with a NUL byte inside would be cut there without a word
// (two event ids "k\0a" and "k\0b" would both be stored as "k"), and it allocates every element of
// a repeated field before anyone can count them (4 MB of empty executions cost 100 MB). The scan
// holds the bytes to the rules REST holds JSON to, by the same schema (`ProtoServiceSchema`, from
// Protos/): strings are valid UTF-8 without NUL, nesting and repeated fields are bounded, and the
// wire format is well formed. It reads each byte once.

/// What the wire check found: the field's path (`execution.event_id`, `executions[3].agent_name`)
/// and what is wrong with it.
public struct ProtoWireProblem: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { path.isEmpty ? reason : "\(path) \(reason)" }
}

/// Bounds of the wire check: how deep messages nest, and how many elements one repeated field and
/// the whole message may hold (each element costs an allocation when protobuf-c unpacks it).
public struct ProtoWireLimits: Sendable, Equatable {
    public var maxDepth: Int
    public var maxElementsPerField: Int
    public var maxElements: Int

    public init(maxDepth: Int = 32, maxElementsPerField: Int = 10_000, maxElements: Int = 200_000) {
        self.maxDepth = maxDepth
        self.maxElementsPerField = maxElementsPerField
        self.maxElements = maxElements
    }
}

extension ProtoServiceSchema {
    /// Checks `bytes`, an encoded `message` (full name, `learning.v1.Execution`), before it is
    /// unpacked. Messages this schema does not know are not checked.
    public func checkWire(_ bytes: [UInt8], message: String, limits: ProtoWireLimits = ProtoWireLimits()) throws(ProtoWireProblem) {
        guard messages[message] != nil else { return }
        var scan = WireScan(schema: self, limits: limits)
        try bytes.withUnsafeBufferPointer { (buffer) throws(ProtoWireProblem) in
            try scan.message(buffer, 0, buffer.count, name: message, path: "", depth: 0)
        }
    }
}

/// One scan's state: the schema and the elements counted so far.
private struct WireScan {
    let schema: ProtoServiceSchema
    let limits: ProtoWireLimits
    var elements = 0

    init(schema: ProtoServiceSchema, limits: ProtoWireLimits) {
        self.schema = schema
        self.limits = limits
    }

    func malformed(_ path: String) -> ProtoWireProblem {
        ProtoWireProblem(path: path, reason: "is not well-formed protobuf")
    }

    /// A base-128 varint at `offset`; its value and the offset after it.
    func varint(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int, _ end: Int, path: String) throws(ProtoWireProblem) -> (UInt64, Int) {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        var index = offset
        while index < end, shift < 64 {
            let byte = bytes[index]
            value |= UInt64(byte & 0x7F) << shift
            index += 1
            if byte & 0x80 == 0 { return (value, index) }
            shift += 7
        }
        throw malformed(path)
    }

    mutating func count(_ added: Int, field: inout Int, path: String) throws(ProtoWireProblem) {
        field += added
        elements += added
        if field > limits.maxElementsPerField {
            throw ProtoWireProblem(path: path, reason: "has more than \(limits.maxElementsPerField) elements")
        }
        if elements > limits.maxElements {
            throw ProtoWireProblem(path: path, reason: "makes the message hold more than \(limits.maxElements) elements")
        }
    }

    /// The fields of message `name` in `bytes[start..<end]`.
    mutating func message(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, name: String, path: String,
                          depth: Int) throws(ProtoWireProblem) {
        guard depth <= limits.maxDepth else {
            throw ProtoWireProblem(path: path, reason: "nests messages deeper than \(limits.maxDepth)")
        }
        let fields = schema.messages[name]?.fields ?? []
        var repeatedCounts: [Int: Int] = [:]
        var offset = start
        while offset < end {
            let (key, afterKey) = try varint(bytes, offset, end, path: path)
            offset = afterKey
            let number = Int(truncatingIfNeeded: key >> 3)
            let wireType = key & 7
            let field = fields.first { $0.number == number }
            let fieldPath = field.map { path.isEmpty ? $0.name : "\(path).\($0.name)" } ?? path
            switch wireType {
            case 0:
                offset = try varint(bytes, offset, end, path: fieldPath).1
            case 1:
                offset += 8
            case 5:
                offset += 4
            case 2:
                let (length, afterLength) = try varint(bytes, offset, end, path: fieldPath)
                guard length <= UInt64(end - afterLength) else { throw malformed(fieldPath) }
                let valueEnd = afterLength + Int(length)
                if let field {
                    try lengthDelimited(bytes, afterLength, valueEnd, field: field, path: fieldPath, depth: depth,
                                        counts: &repeatedCounts)
                }
                offset = valueEnd
            default:
                throw malformed(fieldPath)  // groups (3, 4) and wire types 6, 7
            }
            guard offset <= end else { throw malformed(fieldPath) }
            if let field, field.isRepeated, wireType != 2 {
                try count(1, field: &repeatedCounts[number, default: 0], path: fieldPath)
            }
        }
    }

    /// A length-delimited value of a known field: a string, a nested message, a map entry, or a
    /// packed run of numbers.
    mutating func lengthDelimited(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, field: ProtoField,
                                  path: String, depth: Int, counts: inout [Int: Int]) throws(ProtoWireProblem) {
        var elementPath = path
        if field.isRepeated {
            elementPath = "\(path)[\(counts[field.number, default: 0])]"
        }
        switch field.type {
        case .string:
            try checkText(bytes, start, end, path: elementPath)
            if field.isRepeated { try count(1, field: &counts[field.number, default: 0], path: path) }
        case .message(let name):
            if field.isRepeated { try count(1, field: &counts[field.number, default: 0], path: path) }
            try message(bytes, start, end, name: name, path: elementPath, depth: depth + 1)
        case .map(let value):
            try count(1, field: &counts[field.number, default: 0], path: path)
            try mapEntry(bytes, start, end, value: value, path: path, depth: depth)
        case .integer, .number, .bool, .enumeration:
            // A packed run: one element per varint, or per 4 or 8 bytes.
            var elementsInRun = 0
            if case .number = field.type {
                elementsInRun = (end - start) / 4
            } else {
                for index in start..<end where bytes[index] & 0x80 == 0 { elementsInRun += 1 }
            }
            if field.isRepeated { try count(elementsInRun, field: &counts[field.number, default: 0], path: path) }
        case .bytes, .timestamp:
            if field.isRepeated { try count(1, field: &counts[field.number, default: 0], path: path) }
        }
    }

    /// One `map<K, V>` entry: key (1) and value (2); string keys and values are checked.
    mutating func mapEntry(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, value: ProtoFieldType,
                           path: String, depth: Int) throws(ProtoWireProblem) {
        var offset = start
        while offset < end {
            let (key, afterKey) = try varint(bytes, offset, end, path: path)
            offset = afterKey
            switch key & 7 {
            case 0: offset = try varint(bytes, offset, end, path: path).1
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                let (length, afterLength) = try varint(bytes, offset, end, path: path)
                guard length <= UInt64(end - afterLength) else { throw malformed(path) }
                let valueEnd = afterLength + Int(length)
                if key >> 3 == 1 {
                    try checkText(bytes, afterLength, valueEnd, path: "\(path) key")
                } else if key >> 3 == 2 {
                    switch value {
                    case .string: try checkText(bytes, afterLength, valueEnd, path: path)
                    case .message(let name): try message(bytes, afterLength, valueEnd, name: name, path: path, depth: depth + 1)
                    default: break
                    }
                }
                offset = valueEnd
            default:
                throw malformed(path)
            }
            guard offset <= end else { throw malformed(path) }
        }
    }

    /// A string's bytes: valid UTF-8 (no overlong forms, surrogates or values past U+10FFFF) and no NUL.
    func checkText(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, path: String) throws(ProtoWireProblem) {
        var index = start
        while index < end {
            let lead = bytes[index]
            if lead < 0x80 {
                if lead == 0 { throw ProtoWireProblem(path: path, reason: "must not contain NUL characters") }
                index += 1
                continue
            }
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: throw ProtoWireProblem(path: path, reason: "is not valid UTF-8")
            }
            guard index + length <= end else { throw ProtoWireProblem(path: path, reason: "is not valid UTF-8") }
            let second = bytes[index + 1]
            guard second >= lower, second <= upper else { throw ProtoWireProblem(path: path, reason: "is not valid UTF-8") }
            for continuation in (index + 2)..<(index + length) where bytes[continuation] & 0xC0 != 0x80 {
                throw ProtoWireProblem(path: path, reason: "is not valid UTF-8")
            }
            index += length
        }
    }
}

/// Where the values of one field lie in an encoded message, so that the elements of a large
/// repeated field can be unpacked one at a time instead of as one tree.
public enum ProtoWireFields {}

extension ProtoWireFields {
    /// Where each value of the length-delimited field `number` at the top level of `bytes` starts:
    /// the offset of its key, in wire order (4 bytes per value, where its byte range would take
    /// 16; `lengthDelimitedValue(at:in:)` finds the value again). Nil when the top level is not
    /// well formed (a truncated key, varint or length, a group, wire type 6 or 7), when field
    /// `number` appears with another wire type (protobuf-c refuses such a message), or when
    /// `bytes` is 4 GiB or more. Meant for bytes that passed `checkWire`.
    public static func lengthDelimitedKeyOffsets(_ number: Int, in bytes: [UInt8]) -> [UInt32]? {
        guard bytes.count < Int(UInt32.max) else { return nil }
        return bytes.withUnsafeBufferPointer { buffer -> [UInt32]? in
            // Counted first, so that the array is allocated once at its size.
            var count = 0
            var otherWireType = false
            let wellFormed = forEachField(in: buffer, 0..<buffer.count) { field in
                guard field.number == number else { return true }
                guard field.wireType == 2 else {
                    otherWireType = true
                    return false
                }
                count += 1
                return true
            }
            guard wellFormed, !otherWireType else { return nil }
            var offsets: [UInt32] = []
            offsets.reserveCapacity(count)
            var keyOffset = 0
            _ = forEachField(in: buffer, 0..<buffer.count) { field in
                // Fields follow each other: each key starts where the field before it ended.
                if field.number == number { offsets.append(UInt32(keyOffset)) }
                keyOffset = field.value.upperBound
                return true
            }
            return offsets
        }
    }

    /// The value of the length-delimited field whose key starts at `keyOffset` in `buffer` (an
    /// offset from `lengthDelimitedKeyOffsets`); nil when no such field starts there.
    public static func lengthDelimitedValue(at keyOffset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var value: Range<Int>?
        _ = forEachField(in: buffer, keyOffset..<buffer.count) { field in
            if field.wireType == 2 { value = field.value }
            return false
        }
        return value
    }
}

extension ProtoWireFields {
    /// One field of an encoded message as `forEachField` reports it: its number, its wire type,
    /// and where its value lies (a length-delimited value's bytes without their length; a
    /// varint's or a fixed value's bytes).
    public struct Field: Equatable {
        public var number: Int
        public var wireType: Int
        public var value: Range<Int>

        public init(number: Int, wireType: Int, value: Range<Int>) {
            self.number = number
            self.wireType = wireType
            self.value = value
        }
    }

    /// Calls `body` with each field of the message in `bytes[range]`, in wire order, without
    /// decoding anything (a walk over the keys and lengths: strings and nested messages are
    /// skipped, not read); `body` returns false to stop. False when the message is not well
    /// formed (a truncated key, varint, length or fixed value; a group; wire type 6 or 7).
    public static func forEachField(in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                    _ body: (Field) -> Bool) -> Bool {
        var offset = range.lowerBound
        let end = min(range.upperBound, bytes.count)
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while offset < end, shift < 64 {
                let byte = bytes[offset]
                value |= UInt64(byte & 0x7F) << shift
                offset += 1
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while offset < end {
            guard let key = varint() else { return false }
            let wireType = Int(key & 7)
            let start: Int
            switch wireType {
            case 0:
                start = offset
                guard varint() != nil else { return false }
            case 1, 5:
                start = offset
                offset += wireType == 1 ? 8 : 4
            case 2:
                guard let length = varint(), length <= UInt64(end - offset) else { return false }
                start = offset
                offset += Int(length)
            default:
                return false
            }
            guard offset <= end else { return false }
            guard body(Field(number: Int(truncatingIfNeeded: key >> 3), wireType: wireType, value: start..<offset)) else {
                return true
            }
        }
        return true
    }
}
