import Foundation

/// API-key checks shared by RPC and REST. When keys are configured, writes and admin operations
/// (`ServiceOperation.requiresKey`) need one of them as a bearer token; reads are always open.
/// Keys are compared in constant time (the time does not depend on where they differ).
public struct APIKeyAuthenticator: Sendable {
    private let keys: [[UInt8]]

    /// Creates an authenticator for `keys`; no keys means every operation is open.
    public init(keys: [String]) {
        self.keys = keys.map { Array($0.utf8) }
    }

    /// True when at least one key is configured.
    public var isEnabled: Bool { !keys.isEmpty }

    /// Checks the presented credentials (`Bearer <key>`, or the bare key) for `operation`.
    public func authorize(_ operation: ServiceOperation, bearerToken: String?) throws {
        guard isEnabled, operation.requiresKey else { return }
        guard let presented = bearerToken.map(Self.token(from:)), !presented.isEmpty else {
            throw ServiceError.unauthenticated("\(operation.rawValue) needs an API key: send 'authorization: Bearer <key>'")
        }
        let bytes = Array(presented.utf8)
        var matched = false
        for key in keys where Self.constantTimeEquals(bytes, key) {
            matched = true
        }
        if !matched { throw ServiceError.unauthenticated("the API key presented is not valid") }
    }

    /// The token of an `Authorization` value: what follows `Bearer ` (any case), else the whole value.
    static func token(from header: String) -> String {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        if trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
            return String(trimmed.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        return trimmed
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let length = max(a.count, b.count)
        for index in 0..<length {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}
