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
    out.append("\"")
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out.append("\\\"")
        case "\\": out.append("\\\\")
        case "\n": out.append("\\n")
        case "\r": out.append("\\r")
        case "\t": out.append("\\t")
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.append("\"")
}

/// `text` as a JSON string literal (see `appendJSONStringLiteral`).
public func jsonStringLiteral(_ text: String) -> String {
    var out = ""
    appendJSONStringLiteral(text, to: &out)
    return out
}

/// Appends `text` as a JSON string literal to UTF-8 bytes (the same output as the `String` form).
/// The escaped characters are ASCII, which never occurs inside a multi-byte sequence.
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
public func parseCanonicalUUID(_ text: String) -> UUID? {
    var bytes = [UInt8](repeating: 0, count: 16)
    var count = 0
    var nibbles = 0
    for b in text.utf8 {
        guard count < 36 else { return nil }
        switch count {
        case 8, 13, 18, 23:
            guard b == UInt8(ascii: "-") else { return nil }
        default:
            let v: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            bytes[nibbles / 2] |= nibbles % 2 == 0 ? v << 4 : v
            nibbles += 1
        }
        count += 1
    }
    guard count == 36 else { return nil }
    return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                       bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
}
