// Small text formats more than one layer writes: the civil date of a day number (for timestamps
// in REST JSON and in PostgreSQL COPY rows) and JSON string literals (REST, store, exports).

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
