/// One REST request on one HTTP/2 stream, as a plain value: the body arriving (or being dropped
/// once it passes the limit), the handler running, the response sent. The responder carries out
/// what it returns; nothing here does I/O, so tests drive it without sockets.
struct HTTPStreamStateMachine {
    /// Where the request is.
    enum State {
        /// The client is sending the body; the bytes so far.
        case receivingBody([UInt8])
        /// The body passed the limit: the rest is dropped and the request answered 413 at its end.
        case discardingBody
        /// The request is complete and its answer is being made (the handler runs, or the 413).
        case handling
        /// The request was answered before it ended (refused from its head, over the server's
        /// budget, or too slow): the rest of its body is dropped.
        case answeredEarly
        /// The response was submitted, or the client reset the stream.
        case closed
    }

    /// What to do once the client ended its request.
    enum RequestAction: Equatable {
        /// Run the handler with this body.
        case handle(body: [UInt8])
        /// Answer 413: the body was larger than the limit.
        case rejectTooLarge
    }

    /// The current state.
    private(set) var state: State = .receivingBody([])
    private let maxBodyBytes: Int

    /// A machine for a request whose headers arrived; bodies above `maxBodyBytes` are refused.
    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    /// Whether the client may still send (END_STREAM not seen yet).
    var isClientOpen: Bool {
        switch state {
        case .receivingBody, .discardingBody, .answeredEarly: return true
        case .handling, .closed: return false
        }
    }

    /// Whether body bytes arriving now are kept (else they are dropped at once).
    var keepsBody: Bool {
        if case .receivingBody = state { return true }
        return false
    }

    /// The request is to be answered before its end (its body so far is dropped): true to send
    /// the answer now, false when the request already ended or was answered.
    mutating func answeringEarly() -> Bool {
        switch state {
        case .receivingBody, .discardingBody:
            state = .answeredEarly
            return true
        case .handling, .answeredEarly, .closed:
            return false
        }
    }

    /// Body bytes arrived.
    mutating func receivedData(_ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .receivingBody(var body):
            guard body.count + bytes.count <= maxBodyBytes else {
                state = .discardingBody
                return
            }
            state = .closed // not a transition: leaves `body` the only reference, so appending does not copy
            body.append(contentsOf: bytes)
            state = .receivingBody(body)
        case .discardingBody, .answeredEarly, .closed:
            break
        case .handling:
            preconditionFailure("request body after END_STREAM; nghttp2 rejects this before we see it")
        }
    }

    /// The client ended its request (END_STREAM); nil when the stream was already reset.
    mutating func receivedEndStream() -> RequestAction? {
        switch state {
        case .receivingBody(let body):
            state = .handling
            return .handle(body: body)
        case .discardingBody:
            state = .handling
            return .rejectTooLarge
        case .answeredEarly:
            state = .closed
            return nil
        case .closed:
            return nil
        case .handling:
            preconditionFailure("END_STREAM twice on one request")
        }
    }

    /// The handler's response is ready: true to send it, false when the stream is gone.
    mutating func sendingResponse() -> Bool {
        switch state {
        case .handling:
            state = .closed
            return true
        case .closed, .answeredEarly:
            return false
        case .receivingBody, .discardingBody:
            preconditionFailure("response before the request ended (state \(state))")
        }
    }

    /// The client reset the stream, or the connection went away. The handler is not cancelled
    /// (its late response is dropped by `sendingResponse`).
    mutating func receivedReset() {
        state = .closed
    }
}
