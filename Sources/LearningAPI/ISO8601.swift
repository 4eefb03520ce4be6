public import Foundation
import LearningCore

// The timestamps of the API: the guide's `2025-01-25T10:30:00Z`, read leniently (fractions, offsets,
// a space for `T`) and written in one form.

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
