/// Parses gRPC's `grpc-timeout` header: a positive integer of at most 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`).
public enum GRPCTimeout {
    /// The timeout as a duration, `nil` when the value is malformed.
    public static func parse(_ value: String) -> Duration? {
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8.count <= 9 else { return nil }
        var amount: Int64 = 0
        for byte in utf8.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        switch utf8.last! {
        case UInt8(ascii: "H"): return .seconds(amount * 3600)
        case UInt8(ascii: "M"): return .seconds(amount * 60)
        case UInt8(ascii: "S"): return .seconds(amount)
        case UInt8(ascii: "m"): return .milliseconds(amount)
        case UInt8(ascii: "u"): return .microseconds(amount)
        case UInt8(ascii: "n"): return .nanoseconds(amount)
        default: return nil
        }
    }

    /// Formats a duration as a `grpc-timeout` value (whole milliseconds, or seconds when too long).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let milliseconds = max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        if milliseconds < 100_000_000 { return "\(milliseconds)m" }
        return "\(min(99_999_999, max(0, seconds)))S"
    }
}

/// The percent-encoding of `grpc-message`: bytes outside printable ASCII, and `%` itself, are
/// sent as `%XX` of their UTF-8 bytes.
public enum GRPCMessageText {
    /// Encodes a status message for the `grpc-message` trailer.
    public static func percentEncode(_ text: String) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a `grpc-message` value. Malformed escapes are kept as they are, as the spec asks.
    public static func percentDecode(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// What a request's `content-type` says about it.
public enum GRPCContentType: Sendable, Equatable {
    /// `application/grpc` or `application/grpc+proto` (parameters allowed): served as gRPC.
    case grpcProto
    /// `application/grpc+json` or another gRPC sub-type the server does not speak (HTTP 415).
    case unsupportedGRPC(String)
    /// Not gRPC at all (or no content-type): a plain HTTP request.
    case notGRPC

    /// Classifies a `content-type` header value.
    public init(_ value: String?) {
        guard let value else { self = .notGRPC; return }
        let lowered = value.lowercased()
        let mediaType = lowered.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingSpaces() } ?? ""
        if mediaType == "application/grpc" || mediaType == "application/grpc+proto" {
            self = .grpcProto
        } else if mediaType.hasPrefix("application/grpc") {
            self = .unsupportedGRPC(mediaType)
        } else {
            self = .notGRPC
        }
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        var slice = self[...]
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Request and response headers gRPC reserves; they are not handed to handlers as custom metadata.
public enum GRPCReservedHeaders {
    /// Whether a header name is part of the protocol rather than custom metadata.
    public static func isReserved(_ name: String) -> Bool {
        if name.hasPrefix(":") { return true }
        switch name {
        case "content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
             "user-agent", "content-length", "connection", "host", "grpc-status", "grpc-message",
             "grpc-status-details-bin", "grpc-message-type", "accept-encoding", "transfer-encoding",
             "keep-alive", "upgrade", "proxy-connection":
            return true
        default:
            return false
        }
    }
}
