// PostgreSQL's binary wire format for the parameters of the ingest INSERT: one-dimensional arrays
// of text, uuid, float8, bool, jsonb and timestamp values, built straight into bytes. The server
// reads them with the types' receive functions instead of parsing array literals, numbers and
// timestamps from text, and nothing here goes through a Swift String.
import Foundation
import LearningCore

/// A one-dimensional array parameter in binary format (what `array_recv` reads).
struct PGBinaryArray {
    /// Element type OIDs of the arrays the ingest statement binds.
    enum Element: UInt32 {
        case bool = 16
        case text = 25
        case float8 = 701
        case timestamp = 1114
        case varchar = 1043
        case uuid = 2950
        case jsonb = 3802
    }

    private(set) var bytes: [UInt8]
    private var hasNulls = false

    /// Starts an array of `count` elements of `element` (exactly `count` must be appended).
    init(_ element: Element, count: Int, bytesPerElement: Int) {
        bytes = []
        bytes.reserveCapacity(20 + count * (4 + bytesPerElement))
        appendInt32(1)                       // dimensions
        appendInt32(0)                       // flags: has nulls (patched by `appendNull`)
        appendUInt32(element.rawValue)
        appendInt32(Int32(count))            // length of the dimension
        appendInt32(1)                       // its lower bound
    }

    mutating func appendNull() {
        if !hasNulls {
            hasNulls = true
            bytes[7] = 1
        }
        appendInt32(-1)
    }

    /// A text or varchar element (UTF-8).
    mutating func append(text: String?) {
        guard var utf8Text = text else { return appendNull() }
        utf8Text.withUTF8 { utf8 in
            appendInt32(Int32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func append(bool value: Bool) {
        appendInt32(1)
        bytes.append(value ? 1 : 0)
    }

    mutating func append(float8 value: Double?) {
        guard let value else { return appendNull() }
        appendInt32(8)
        appendUInt64(value.bitPattern)
    }

    /// A canonical UUID string as 16 bytes; a string that is not one is stored as NULL (callers
    /// validate first: `ExecutionWriter.validate`).
    mutating func append(uuid text: String?) {
        guard let text, let uuid = parseCanonicalUUID(text) else { return appendNull() }
        appendInt32(16)
        withUnsafeBytes(of: uuid.uuid) { bytes.append(contentsOf: $0) }
    }

    /// A jsonb element: version 1, then the JSON text (nil: NULL).
    mutating func append(jsonb json: [UInt8]?) {
        guard let json else { return appendNull() }
        appendInt32(Int32(json.count + 1))
        bytes.append(1)
        bytes.append(contentsOf: json)
    }

    /// A `timestamp` (without time zone): microseconds since 2000-01-01 00:00:00, the date taken
    /// as UTC and rounded to the microsecond as the COPY path rounds it (`PGText.unixMicroseconds`).
    mutating func append(timestamp date: Date) {
        appendInt32(8)
        appendUInt64(UInt64(bitPattern: PGText.unixMicroseconds(date) - Self.unixMicrosAt2000))
    }

    /// 2000-01-01T00:00:00Z in microseconds since 1970.
    static let unixMicrosAt2000: Int64 = 946_684_800_000_000

    private mutating func appendInt32(_ v: Int32) { appendUInt32(UInt32(bitPattern: v)) }

    private mutating func appendUInt32(_ v: UInt32) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private mutating func appendUInt64(_ v: UInt64) {
        withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
