/// One gRPC message as carried on the wire: the compressed flag and the payload bytes.
public struct GRPCMessage: Sendable, Equatable {
    /// Whether the payload is compressed with the call's `grpc-encoding`.
    public var compressed: Bool
    /// The payload (a serialized protobuf message when not compressed).
    public var bytes: [UInt8]

    /// Creates a message.
    public init(compressed: Bool = false, bytes: [UInt8]) {
        self.compressed = compressed
        self.bytes = bytes
    }
}

/// Writes gRPC's 5-byte length-prefixed messages: a compressed flag byte, a big-endian UInt32 length,
/// then the payload.
public enum GRPCMessageFramer {
    /// The size of the length prefix.
    public static let prefixLength = 5

    /// Appends one framed message to `buffer`.
    public static func append(_ payload: [UInt8], compressed: Bool = false, to buffer: inout [UInt8]) {
        let length = UInt32(truncatingIfNeeded: payload.count)
        buffer.reserveCapacity(buffer.count + prefixLength + payload.count)
        buffer.append(compressed ? 1 : 0)
        buffer.append(UInt8(truncatingIfNeeded: length >> 24))
        buffer.append(UInt8(truncatingIfNeeded: length >> 16))
        buffer.append(UInt8(truncatingIfNeeded: length >> 8))
        buffer.append(UInt8(truncatingIfNeeded: length))
        buffer.append(contentsOf: payload)
    }

    /// One framed message.
    public static func frame(_ payload: [UInt8], compressed: Bool = false) -> [UInt8] {
        var buffer: [UInt8] = []
        append(payload, compressed: compressed, to: &buffer)
        return buffer
    }
}

/// Why a byte stream could not be split into gRPC messages.
public enum GRPCDeframingError: Error, Sendable, Equatable {
    /// A message declared a length above the limit; nothing of it was buffered.
    case messageTooLarge(declared: Int, limit: Int)
    /// The compressed-flag byte was neither 0 nor 1.
    case invalidCompressedFlag(UInt8)
    /// The stream ended in the middle of a message.
    case truncatedMessage

    /// The gRPC status this error maps to.
    public var status: GRPCStatus {
        switch self {
        case .messageTooLarge(let declared, let limit):
            return GRPCStatus(.resourceExhausted,
                              "received message larger than max (\(declared) vs. \(limit))")
        case .invalidCompressedFlag(let flag):
            return GRPCStatus(.internal, "invalid compressed flag \(flag) in message prefix")
        case .truncatedMessage:
            return GRPCStatus(.internal, "stream ended in the middle of a message")
        }
    }
}

/// Splits the bytes of gRPC DATA frames into messages.
///
/// Messages may span any number of DATA frames and one frame may carry many messages. The declared
/// length is checked against the limit *before* any of the payload is buffered, so a peer cannot
/// make the server hold more than `maxMessageBytes` (plus one read) for a stream.
///
/// ```swift
/// var deframer = GRPCMessageDeframer(maxMessageBytes: 4 << 20)
/// try deframer.append(chunk)
/// while let message = try deframer.next() { handle(message) }
/// ```
public struct GRPCMessageDeframer: Sendable {
    /// The largest payload accepted.
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// The parsed prefix of the message being read, if its five bytes have arrived.
    private var pending: (compressed: Bool, length: Int)?
    private var failure: GRPCDeframingError?

    /// Creates a deframer that rejects messages above `maxMessageBytes`.
    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether the deframer sits between messages (the stream may end here).
    public var isAtMessageBoundary: Bool { bufferedByteCount == 0 && pending == nil }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        compactIfWorthIt()
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete message, `nil` when more bytes are needed.
    public mutating func next() throws(GRPCDeframingError) -> GRPCMessage? {
        if let failure { throw failure }
        if pending == nil {
            guard bufferedByteCount >= GRPCMessageFramer.prefixLength else { return nil }
            let flag = buffer[readIndex]
            guard flag <= 1 else {
                let error = GRPCDeframingError.invalidCompressedFlag(flag)
                fail(error)
                throw error
            }
            var length = 0
            for offset in 1...4 { length = length << 8 | Int(buffer[readIndex + offset]) }
            guard length <= maxMessageBytes else {
                let error = GRPCDeframingError.messageTooLarge(declared: length, limit: maxMessageBytes)
                fail(error)
                throw error
            }
            readIndex += GRPCMessageFramer.prefixLength
            pending = (flag == 1, length)
        }
        guard let (compressed, length) = pending, bufferedByteCount >= length else { return nil }
        let bytes = Array(buffer[readIndex ..< readIndex + length])
        readIndex += length
        pending = nil
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            readIndex = 0
        }
        return GRPCMessage(compressed: compressed, bytes: bytes)
    }

    /// Checks that the stream may end now (no partial message left).
    public func finish() throws(GRPCDeframingError) {
        if let failure { throw failure }
        guard isAtMessageBoundary else { throw GRPCDeframingError.truncatedMessage }
    }

    private mutating func fail(_ error: GRPCDeframingError) {
        failure = error
        buffer = []
        readIndex = 0
        pending = nil
    }

    /// Drops consumed bytes only when they are at least half the buffer, so the cost of moving the
    /// remainder is amortised.
    private mutating func compactIfWorthIt() {
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0 ..< readIndex)
            readIndex = 0
        }
    }
}
