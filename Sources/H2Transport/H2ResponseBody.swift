import GRPCWire

/// The body of one HTTP/2 response as nghttp2's data provider sees it: queued bytes, and whether
/// more may come, nghttp2 waits for a resume, or the end (with trailers) is known. A plain value;
/// the session's data source reads from it inside `mem_send`.
struct H2ResponseBody {
    /// What follows the last byte of the body.
    enum Trailers {
        /// Nothing: the last DATA frame ends the stream (REST).
        case none
        /// `grpc-status: 0` from process-lifetime storage (a call that ended well, no metadata).
        case grpcOK
        /// These trailers end the stream.
        case headers([(String, String)])
    }

    /// Where the body is.
    enum State {
        /// More bytes may come; nghttp2 asks for them when the window allows.
        case open
        /// nghttp2 found nothing to send and waits until the stream's data is resumed.
        case deferred
        /// The body is complete: the queued bytes, then these trailers.
        case ending(Trailers)
        /// The last byte went out (and the trailers were submitted).
        case ended
    }

    /// What a read gave nghttp2.
    enum Read {
        /// This many bytes; more follow.
        case bytes(Int)
        /// No bytes now: nghttp2 waits until the stream's data is resumed.
        case deferred
        /// The last `count` bytes of the body, then `trailers`.
        case end(count: Int, trailers: Trailers)
    }

    /// Whether the owner must resume the stream's data (nghttp2 deferred it and bytes came).
    enum Resume {
        case resume
        case none
    }

    private(set) var state: State = .open
    private var bytes: [UInt8] = []
    private var offset = 0

    /// An open body with nothing queued yet (gRPC responses grow message by message).
    init() {}

    /// A complete body of these bytes with no trailers (REST responses).
    init(complete bytes: [UInt8]) {
        self.bytes = bytes
        state = .ending(.none)
    }

    /// Bytes queued and not yet read by nghttp2.
    var pendingBytes: Int { bytes.count - offset }

    /// Queues one gRPC message, framed.
    mutating func appendMessage(_ message: [UInt8]) -> Resume {
        switch state {
        case .open:
            GRPCMessageFramer.append(message, to: &bytes)
            return .none
        case .deferred:
            GRPCMessageFramer.append(message, to: &bytes)
            state = .open
            return .resume
        case .ending, .ended:
            preconditionFailure("response message queued after the end of the body (state \(state))")
        }
    }

    /// Marks the body complete: the queued bytes, then `trailers`.
    mutating func end(trailers: Trailers) -> Resume {
        switch state {
        case .open:
            state = .ending(trailers)
            return .none
        case .deferred:
            state = .ending(trailers)
            return .resume
        case .ending, .ended:
            preconditionFailure("response body ended twice (state \(state))")
        }
    }

    /// Copies up to `buffer.count` queued bytes into `buffer` (nghttp2's read callback).
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Read {
        let count = min(buffer.count, pendingBytes)
        if count > 0 {
            bytes.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            offset += count
            if offset == bytes.count {
                bytes.removeAll(keepingCapacity: true)
                offset = 0
            }
        }
        switch state {
        case .open:
            if count == 0 {
                state = .deferred
                return .deferred
            }
            return .bytes(count)
        case .ending(let trailers):
            guard pendingBytes == 0 else { return .bytes(count) }
            state = .ended
            return .end(count: count, trailers: trailers)
        case .deferred:
            preconditionFailure("nghttp2 read a deferred body before it was resumed")
        case .ended:
            preconditionFailure("nghttp2 read a body after its end")
        }
    }
}
