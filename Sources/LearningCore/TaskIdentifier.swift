import Foundation

/// Task ids as users have them: `agents.execution_log.task_id` is a UUID column, but the guide's
/// tracker sends whatever id its tasks carry (`task_data.get("id")`, e.g. `task-123`). A task id
/// that is not a UUID is stored as the name-based UUID (version 5, RFC 9562) of that text in
/// `namespace`, so every execution of one task gets the same UUID, and the text itself is kept
/// in the row's `task_ref` column.
///
/// The mapping is reproducible anywhere: in Python,
/// `uuid.uuid5(uuid.UUID("6f4a3b1e-5c2d-4e8f-9a7b-1c0d2e3f4a5b"), "task-123")`.
public enum TaskIdentifier {
    /// The namespace of the name-based task UUIDs.
    public static let namespace = "6f4a3b1e-5c2d-4e8f-9a7b-1c0d2e3f4a5b"

    /// The UUID (lower-case text) a task id that is not a UUID is stored as.
    public static func uuid(forName name: String) -> String {
        var input = withUnsafeBytes(of: namespaceUUID.uuid) { Array($0) }
        input += name.utf8
        var digest = SHA1.hash(input)
        digest[6] = (digest[6] & 0x0F) | 0x50 // version 5
        digest[8] = (digest[8] & 0x3F) | 0x80 // RFC 9562 variant
        let uuid = UUID(uuid: (digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
                               digest[8], digest[9], digest[10], digest[11], digest[12], digest[13], digest[14], digest[15]))
        return uuid.uuidString.lowercased()
    }

    private static let namespaceUUID = parseCanonicalUUID(namespace)!
}

/// SHA-1 (FIPS 180-4), for name-based UUIDs only: version 5 is defined on it. Not for security.
enum SHA1 {
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) &* 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for i in 0..<16 {
                let j = chunk + i * 4
                w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
            }
            for i in 16..<80 { w[i] = rotate(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = rotate(a, 5) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, rotate(b, 30), a, temp)
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        var out: [UInt8] = []
        for word in [h.0, h.1, h.2, h.3, h.4] {
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt32(shift))) }
        }
        return out
    }

    private static func rotate(_ value: UInt32, _ count: UInt32) -> UInt32 {
        value << count | value >> (32 - count)
    }
}
