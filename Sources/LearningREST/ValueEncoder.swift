import Foundation
public import LearningAPI

// Encodes the service's Codable response types straight into `JSONValue`, so every response uses
// the types' own snake_case keys in declaration order, with three rules that plain JSONEncoder
// does not give: absent optionals are written as `null` (a stable key set for clients), dates are
// `2025-01-25T10:30:00Z` strings, and non-finite numbers become `null` instead of failing.

/// Turns any `Encodable` value into a `JSONValue`.
public enum JSONValueEncoder {
    /// The JSON form of `value`.
    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let box = ValueBox()
        try encodeValue(value, into: box, codingPath: [])
        return box.resolve()
    }

    fileprivate static func encodeValue<T: Encodable>(_ value: T, into box: ValueBox, codingPath: [any CodingKey]) throws {
        if let date = value as? Date {
            box.value = .string(formatISO8601(date))
        } else if let double = value as? Double {
            box.value = .double(double)
        } else if let url = value as? URL {
            box.value = .string(url.absoluteString)
        } else {
            try value.encode(to: ValueEncoderImpl(box: box, codingPath: codingPath))
            if box.kind == .keyed, String(describing: T.self).hasPrefix("Dictionary<") {
                // Dictionaries iterate in a random order; sort their keys for stable output.
                box.members.sort { $0.0 < $1.0 }
            }
        }
    }
}

/// A mutable slot a container writes into.
private final class ValueBox {
    var value: JSONValue = .null
    var members: [(String, ValueBox)] = []
    var elements: [ValueBox] = []
    enum Kind { case single, keyed, unkeyed }
    var kind: Kind = .single

    func resolve() -> JSONValue {
        switch kind {
        case .single: return value
        case .keyed: return .object(members.map { ($0.0, $0.1.resolve()) })
        case .unkeyed: return .array(elements.map { $0.resolve() })
        }
    }
}

private extension ValueBox {
    func member(_ key: String) -> ValueBox {
        if let existing = members.first(where: { $0.0 == key }) { return existing.1 }
        let box = ValueBox()
        members.append((key, box))
        return box
    }
}

private struct ValueEncoderImpl: Encoder {
    let box: ValueBox
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        box.kind = .keyed
        return KeyedEncodingContainer(KeyedContainer<Key>(box: box, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        box.kind = .unkeyed
        return UnkeyedContainer(box: box, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(box: box, codingPath: codingPath)
    }
}

private func finish(_ box: ValueBox) {
    // Children are resolved lazily; collapse now so the parent sees a plain value.
    box.value = box.resolve()
    box.kind = .single
    box.members = []
    box.elements = []
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: ValueBox
    var codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { box.member(key.stringValue).value = .null }
    mutating func encode(_ value: Bool, forKey key: Key) throws { box.member(key.stringValue).value = .bool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { box.member(key.stringValue).value = .string(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { box.member(key.stringValue).value = .double(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { box.member(key.stringValue).value = .double(Double(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { box.member(key.stringValue).value = .int(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { box.member(key.stringValue).value = .int(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { box.member(key.stringValue).value = .int(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { box.member(key.stringValue).value = .int(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let child = box.member(key.stringValue)
        try JSONValueEncoder.encodeValue(value, into: child, codingPath: codingPath + [key])
        finish(child)
    }

    // Absent optionals are written as null so clients always see the same keys.
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        if let value { try encode(value, forKey: key) } else { try encodeNil(forKey: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = box.member(key.stringValue)
        child.kind = .keyed
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = box.member(key.stringValue)
        child.kind = .unkeyed
        return UnkeyedContainer(box: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { ValueEncoderImpl(box: box.member("super"), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        ValueEncoderImpl(box: box.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ index: Int) { stringValue = String(index); intValue = index }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = Int(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: ValueBox
    var codingPath: [any CodingKey]
    var count: Int { box.elements.count }

    private func append(_ value: JSONValue) {
        let child = ValueBox()
        child.value = value
        box.elements.append(child)
    }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(.double(value)) }
    mutating func encode(_ value: Int) throws { append(.int(value)) }
    mutating func encode(_ value: Int64) throws { append(.int(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let child = ValueBox()
        box.elements.append(child)
        try JSONValueEncoder.encodeValue(value, into: child, codingPath: codingPath + [IndexKey(count - 1)])
        finish(child)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = ValueBox()
        child.kind = .keyed
        box.elements.append(child)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(box: child, codingPath: codingPath + [IndexKey(count - 1)]))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = ValueBox()
        child.kind = .unkeyed
        box.elements.append(child)
        return UnkeyedContainer(box: child, codingPath: codingPath + [IndexKey(count - 1)])
    }

    mutating func superEncoder() -> any Encoder {
        let child = ValueBox()
        box.elements.append(child)
        return ValueEncoderImpl(box: child, codingPath: codingPath)
    }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let box: ValueBox
    var codingPath: [any CodingKey]

    mutating func encodeNil() throws { box.value = .null }
    mutating func encode(_ value: Bool) throws { box.value = .bool(value) }
    mutating func encode(_ value: String) throws { box.value = .string(value) }
    mutating func encode(_ value: Double) throws { box.value = .double(value) }
    mutating func encode(_ value: Float) throws { box.value = .double(Double(value)) }
    mutating func encode(_ value: Int) throws { box.value = .int(value) }
    mutating func encode(_ value: Int32) throws { box.value = .int(value) }
    mutating func encode(_ value: Int64) throws { box.value = .int(value) }
    mutating func encode(_ value: UInt64) throws { box.value = .int(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try JSONValueEncoder.encodeValue(value, into: box, codingPath: codingPath)
        finish(box)
    }
}
