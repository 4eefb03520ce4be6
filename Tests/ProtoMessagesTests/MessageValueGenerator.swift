import Foundation
@testable import LearningRPC

/// A message type with random values for the round-trip tests (Generated/Arbitrary.swift).
protocol ArbitraryMessage: ProtoMessage, Equatable {
    /// A random value drawn from `g`.
    static func arbitrary(_ g: MessageValueGenerator) -> Self
}

/// Random field values from a seeded SplitMix64, so a failure prints a seed that reproduces it.
/// In `full` mode every optional field is set and every repeated field has elements, so every
/// proto field and JSON key of a message is exercised.
final class MessageValueGenerator {
    private var state: UInt64
    /// Set every optional, fill every repeated field.
    let full: Bool

    init(seed: UInt64, full: Bool) {
        state = seed
        self.full = full
    }

    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0..<count.
    func index(_ count: Int) -> Int { Int(next() % UInt64(count)) }

    func bool() -> Bool { next() & 1 == 1 }

    /// Any 64-bit integer, with the edges now and then.
    func int64() -> Int64 {
        switch index(8) {
        case 0: return .min
        case 1: return .max
        case 2: return Int64(index(100))
        default: return Int64(bitPattern: next())
        }
    }

    /// Any value of an `int32` field (Swift `Int`).
    func int32() -> Int {
        switch index(6) {
        case 0: return Int(Int32.min)
        case 1: return Int(Int32.max)
        default: return Int(Int32(truncatingIfNeeded: next()))
        }
    }

    /// A finite double: small, large, negative, fractional.
    func double() -> Double {
        switch index(5) {
        case 0: return Double(index(1000))
        case 1: return -Double(next() % 1_000_000) / 7
        case 2: return Double(bitPattern: next() & 0x7FEF_FFFF_FFFF_FFFF)  // finite, positive
        default: return Double(next() % 10_000_000) / 1000
        }
    }

    /// A non-empty string without NUL (a proto string field; empty is the absent value), ASCII or not.
    func string() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz_-0123456789 ÅéΩ漢字🙂\"\\/")
        return String((0..<(1 + index(12))).map { _ in alphabet[index(alphabet.count)] })
    }

    /// A whole-second date from 1970 to 2096 (Timestamps carry nanoseconds; `Date` rounds them).
    func date() -> Date { Date(timeIntervalSince1970: Double(next() % 4_000_000_000)) }

    func pick<T>(_ values: [T]) -> T { values[index(values.count)] }

    func optional<T>(_ make: () -> T) -> T? { full || bool() ? make() : nil }

    func array<T>(_ make: () -> T) -> [T] { (0..<(full ? 1 + index(3) : index(4))).map { _ in make() } }

    func map<T>(_ make: () -> T) -> [String: T] {
        var values: [String: T] = [:]
        for _ in 0..<(full ? 1 + index(3) : index(4)) { values[string()] = make() }
        return values
    }
}
