// Small text formats more than one layer writes: the civil date of a day number (for timestamps
// in REST JSON and in PostgreSQL COPY rows), JSON string literals (REST, store, exports), and
// canonical UUID text.
public import Foundation

/// The proleptic Gregorian (year, month 1...12, day 1...31) of a day counted from 1970-01-01
/// (negative before it), by Howard Hinnant's days-to-civil algorithm.
public func civilDate(daysSinceEpoch days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

/// Appends `text` as a JSON string literal: quotes, `\"`, `\\`, `\n`, `\r`, `\t`, and other
/// control characters as `\u00XX`; everything else as it is.
public func appendJSONStringLiteral(_ text: String, to out: inout String) {
    if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
        out.append("\"")
        out.append(text)
        out.append("\"")
        return
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count + 2)
    appendJSONStringLiteral(text, to: &bytes)
    out.append(String(decoding: bytes, as: UTF8.self))
}

/// `text` as a JSON string literal (see `appendJSONStringLiteral`).
public func jsonStringLiteral(_ text: String) -> String {
    var out = ""
    appendJSONStringLiteral(text, to: &out)
    return out
}

/// Appends `text` as a JSON string literal to UTF-8 bytes (the one implementation of the escaping;
/// the `String` form calls it). The escaped characters are ASCII, which never occurs inside a
/// multi-byte sequence.
public func appendJSONStringLiteral(_ text: String, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    for b in text.utf8 {
        switch b {
        case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
        case UInt8(ascii: "\\"): out.append(b); out.append(b)
        case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        case 0..<0x20:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 15)]])
        default: out.append(b)
        }
    }
    out.append(UInt8(ascii: "\""))
}

/// The UUID spelled `8-4-4-4-12` hex digits (either case), or nil. Byte by byte: Foundation's
/// `UUID(uuidString:)` goes through sscanf, which showed up in ingest profiles.
public func parseCanonicalUUID(_ text: String) -> UUID? { parseCanonicalUUID(utf8: text.utf8) }

/// `parseCanonicalUUID` of UTF-8 bytes (e.g. a slice of a request being scanned).
@inlinable
public func parseCanonicalUUID<Bytes: Sequence>(utf8 bytes: Bytes) -> UUID? where Bytes.Element == UInt8 {
    var high: UInt64 = 0, low: UInt64 = 0
    var count = 0
    var nibbles = 0
    for b in bytes {
        guard count < 36 else { return nil }
        switch count {
        case 8, 13, 18, 23:
            guard b == UInt8(ascii: "-") else { return nil }
        default:
            let v: UInt64
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt64(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = UInt64(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = UInt64(b - UInt8(ascii: "A") + 10)
            default: return nil
            }
            if nibbles < 16 { high = high << 4 | v } else { low = low << 4 | v }
            nibbles += 1
        }
        count += 1
    }
    guard count == 36 else { return nil }
    func byte(_ word: UInt64, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * index)) }
    return UUID(uuid: (byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3), byte(high, 4), byte(high, 5), byte(high, 6), byte(high, 7),
                       byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3), byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)))
}

/// True for `8-4-4-4-12` hex digits, either case (the form PostgreSQL's uuid type and the API accept).
public func isCanonicalUUID(_ text: String) -> Bool { parseCanonicalUUID(text) != nil }
