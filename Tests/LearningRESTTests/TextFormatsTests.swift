import Foundation
import LearningAPI
import LearningCore
import Testing
@testable import LearningREST

// LearningCore's shared text formats, used by the REST timestamps, the store's COPY rows and exports.
@Suite struct TextFormatsTests {
    @Test func civilDateAgreesWithTheGregorianCalendarAcrossCenturies() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        // Every 997th day from 1601 to 2399, plus the leap-day edges.
        var days = Array(stride(from: Int64(-134_774), through: 157_000, by: 997))
        days += [-1, 0, 59, 60, 11_016, 11_017, 11_046, 10_956]
        for day in days {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let civil = civilDate(daysSinceEpoch: day)
            #expect(civil.year == Int64(parts.year!) && civil.month == Int64(parts.month!) && civil.day == Int64(parts.day!),
                    "day \(day)")
        }
        #expect(formatISO8601(Date(timeIntervalSince1970: 1_737_801_000)) == "2025-01-25T10:30:00Z")
    }

    @Test func jsonStringLiteralsRoundTripThroughAJSONParser() throws {
        let samples = ["", "plain", "quote \" backslash \\ slash /", "lines\n\r\t", "control \u{01}\u{1f}", "naïve ✗ 😀"]
        for sample in samples {
            let literal = jsonStringLiteral(sample)
            let parsed = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
            #expect(parsed == [sample], "\(literal)")
        }
        #expect(jsonStringLiteral("a\u{01}b") == #""a\u0001b""#)
    }

    @Test func canonicalUUIDParsingAgreesWithFoundation() {
        var inputs = (0..<500).map { _ in UUID().uuidString } + (0..<500).map { _ in UUID().uuidString.lowercased() }
        inputs += ["", "0152ed55-f844-473b-8237-3fadee3a98d", "0152ed55-f844-473b-8237-3fadee3a98d00", "0152ed55_f844-473b-8237-3fadee3a98d0",
                   "g152ed55-f844-473b-8237-3fadee3a98d0", "0152ed55-f844-473b-8237-3fadee3a98dé", "{0152ed55-f844-473b-8237-3fadee3a98d0}"]
        for text in inputs {
            #expect(parseCanonicalUUID(text) == UUID(uuidString: text), "\(text)")
        }
    }

    @Test func byteJSONStringLiteralsMatchTheStringForm() {
        var inputs = ["", "plain", "quote \" back \\ slash", "tab\tnew\nline\rret", "ctl \u{01}\u{1f}", "größe ✓ 🎉"]
        var rng = SystemRandomNumberGenerator()
        let pool: [Character] = ["a", "\"", "\\", "\n", "\u{0}", "\u{7}", "é", "✓", "🎉", " ", "\u{7f}"]
        for _ in 0..<300 { inputs.append(String((0..<Int.random(in: 0...12, using: &rng)).map { _ in pool.randomElement(using: &rng)! })) }
        for text in inputs {
            var bytes: [UInt8] = []
            appendJSONStringLiteral(text, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == jsonStringLiteral(text), "\(text.debugDescription)")
        }
    }
}
