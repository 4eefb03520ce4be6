import GRPCWire

/// One gRPC call on one HTTP/2 stream as the dispatcher drives it, as a plain value: the wire
/// machine (`GRPCServerStreamStateMachine`: both halves, deframing, which frames to send) inside
/// the phase of the call, each phase holding only its own data.
///
/// Every event is a `mutating` method returning what the dispatcher must do; nothing here does
/// I/O, runs a handler or touches nghttp2, so tests drive it without sockets. `closed` is entered
/// exactly when the wire machine's server half closes, except while a refusal waits to be sent
/// (`refusing`): the phase, not a flag beside it, says whether the call is over.
struct GRPCCallStateMachine {
    /// How a method's handler takes its requests.
    enum RequestShape: Equatable {
        /// One request message, delivered when the client half-closes (unary, server-streaming).
        case single
        /// A stream of request messages to a handler that runs from the headers on.
        case stream
    }

    /// An answer decided before any handler ran.
    enum Refusal: Equatable {
        /// An HTTP status with no body (415, 405).
        case http(status: Int)
        /// A Trailers-Only response with this status (`advertiseEncodings`: add `grpc-accept-encoding`).
        case status(GRPCStatus, advertiseEncodings: Bool)
    }

    /// The phase of the call.
    enum State {
        /// No request headers yet.
        case idle
        /// Refused from the headers; the answer waits for the client to end its request (or for
        /// the dispatcher's short timer), since answering an upload in progress needs a reset.
        case refusing(Refusal)
        /// A single-request handler waits for its message; the messages so far.
        case awaitingRequest([[UInt8]])
        /// The handler runs (a streaming handler receives request messages as they come).
        case running(RequestShape)
        /// The status or refusal went out, or the client reset the stream: nothing more to do.
        case closed
    }

    /// What to do with the request headers.
    enum HeadersAction: Equatable {
        /// Send this refusal now (the client already ended its request).
        case refuse(Refusal)
        /// Arm the refusal timer; the refusal comes back from `receivedEndStream` or `refusalTimerFired`.
        case holdRefusal
        /// Start a streaming handler now (`timeout` from `grpc-timeout`); `requestEnded`: END_STREAM
        /// came with the headers, so its request stream ends at once, empty.
        case startHandler(timeout: Duration?, requestEnded: Bool)
        /// Wait for the request message (`timeout` from `grpc-timeout`).
        case awaitRequest(timeout: Duration?)
    }

    /// What to do with request input.
    enum InputAction: Equatable {
        /// Nothing (more to come, or input after the call ended).
        case none
        /// The one request of a single-request call arrived: run the handler with it.
        case runHandler(request: [UInt8])
        /// Hand these messages to the running handler's request stream (`endOfInput`: finish it).
        case forward([[UInt8]], endOfInput: Bool)
        /// The request failed: stop the handler's work and end the call with this status.
        case fail(GRPCStatus)
        /// The client ended a refused request: send the refusal now.
        case sendRefusal(Refusal)
    }

    /// What a client reset (or the connection going away) means.
    enum ResetAction: Equatable {
        /// The call was live: cancel the handler, record the call as cancelled.
        case cancelHandler
        /// The call was already over (or only refused).
        case none
    }

    /// The current phase.
    private(set) var state: State = .idle
    /// Framing and both halves of the stream.
    private(set) var wire: GRPCServerStreamStateMachine
    private let maxReceiveMessageBytes: Int

    /// A machine for one stream.
    init(maxReceiveMessageBytes: Int, supportedEncodings: Set<String>) {
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
        wire = GRPCServerStreamStateMachine(maxReceiveMessageBytes: maxReceiveMessageBytes,
                                            supportedEncodings: supportedEncodings)
    }

    /// Whether the client may still send (END_STREAM not seen yet).
    var isClientOpen: Bool {
        switch wire.state {
        case .clientIdleServerIdle, .clientOpenServerIdle, .clientOpenServerOpen, .clientOpenServerClosed: return true
        case .clientClosedServerIdle, .clientClosedServerOpen, .clientClosedServerClosed: return false
        }
    }

    /// Whether the call is over (status or refusal sent, or reset).
    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// Whether request bytes arriving now are kept (else they are dropped at once: the call was
    /// refused, failed, or is over).
    var keepsInput: Bool {
        switch state {
        case .awaitingRequest, .running: return isClientOpen && !wire.inputFailed
        case .idle, .refusing, .closed: return false
        }
    }

    /// Whether the call waits for more of its request: its one message (single-request calls), or
    /// the rest of a message begun (streaming calls; between messages a stream may be silent).
    var awaitsRequestBytes: Bool {
        switch state {
        case .awaitingRequest: return isClientOpen && !wire.inputFailed
        case .running(.stream): return isClientOpen && !wire.inputFailed && !wire.inputAtMessageBoundary
        case .running(.single), .idle, .refusing, .closed: return false
        }
    }

    /// The request headers arrived; `shape` is nil when no handler serves `head.path`.
    /// `headRefusal`: the status the router's head check ended the call with (e.g. UNAUTHENTICATED),
    /// decided before any request byte is read.
    mutating func receivedHeaders(_ head: H2RequestHead, shape: RequestShape?, endStream: Bool,
                                  headRefusal: GRPCStatus? = nil) -> HeadersAction {
        guard case .idle = state else { preconditionFailure("request headers twice on one call (state \(state))") }
        switch wire.receivedHeaders(method: head.method, contentType: head.contentType, encoding: head.grpcEncoding,
                                    timeout: head.grpcTimeout, endStream: endStream) {
        case .rejectHTTP(let status):
            return refuse(.http(status: status), endStream: endStream)
        case .rejectWithStatus(let status, let advertise):
            return refuse(.status(status, advertiseEncodings: advertise), endStream: endStream)
        case .accept(let timeout):
            if let headRefusal {
                // Nothing of the request is read: not a message is buffered for a refused call.
                _ = wire.sendingStatus()
                return refuse(.status(headRefusal, advertiseEncodings: false), endStream: endStream)
            }
            guard let shape else {
                // Request messages of an unknown method are not even deframed.
                _ = wire.sendingStatus()
                return refuse(.status(GRPCStatus(.unimplemented, "unknown method \(head.path ?? "")"),
                                      advertiseEncodings: false), endStream: endStream)
            }
            switch shape {
            case .single where endStream:
                // END_STREAM on the headers: the one request message can never come.
                _ = wire.sendingStatus()
                state = .closed
                return .refuse(.status(GRPCStatus(.internal, "expected one request message, got none"),
                                       advertiseEncodings: false))
            case .single:
                state = .awaitingRequest([])
                return .awaitRequest(timeout: timeout)
            case .stream:
                state = .running(.stream)
                return .startHandler(timeout: timeout, requestEnded: endStream)
            }
        }
    }

    private mutating func refuse(_ refusal: Refusal, endStream: Bool) -> HeadersAction {
        if endStream {
            state = .closed
            return .refuse(refusal)
        }
        state = .refusing(refusal)
        return .holdRefusal
    }

    /// Request bytes from a DATA frame arrived.
    mutating func receivedData(_ bytes: UnsafeRawBufferPointer) -> InputAction {
        switch state {
        case .idle:
            preconditionFailure("DATA before request headers; nghttp2 rejects this before we see it")
        case .refusing, .closed:
            return .none
        case .awaitingRequest, .running:
            return received(wire.receivedData(bytes, endStream: false))
        }
    }

    /// The client ended its half (END_STREAM on a DATA frame, or on trailers).
    mutating func receivedEndStream() -> InputAction {
        switch state {
        case .idle:
            preconditionFailure("END_STREAM before request headers")
        case .refusing(let refusal):
            _ = wire.receivedEndStream()
            state = .closed
            return .sendRefusal(refusal)
        case .closed:
            _ = wire.receivedEndStream()
            return .none
        case .awaitingRequest, .running:
            return received(wire.receivedEndStream())
        }
    }

    private mutating func received(_ action: GRPCServerStreamStateMachine.ReceiveAction) -> InputAction {
        let messages: [GRPCMessage], endOfInput: Bool
        switch action {
        case .ignore:
            return .none
        case .fail(let status):
            return .fail(status)
        case .deliver(let delivered, let end):
            messages = delivered
            endOfInput = end
        }
        if messages.isEmpty && !endOfInput { return .none }
        var payloads: [[UInt8]] = []
        payloads.reserveCapacity(messages.count)
        for message in messages {
            guard message.compressed else {
                payloads.append(message.bytes)
                continue
            }
            // The wire machine only lets compressed messages through for a supported
            // grpc-encoding, which is gzip.
            do {
                payloads.append(try Gzip.decompress(message.bytes, limit: maxReceiveMessageBytes))
            } catch {
                return .fail(error)
            }
        }
        switch state {
        case .awaitingRequest(var collected):
            collected.append(contentsOf: payloads)
            guard endOfInput else {
                state = .awaitingRequest(collected)
                return .none
            }
            guard collected.count == 1 else {
                state = .awaitingRequest([])
                return .fail(GRPCStatus(.internal, collected.isEmpty
                    ? "expected one request message, got none" : "expected one request message, got several"))
            }
            state = .running(.single)
            return .runHandler(request: collected[0])
        case .running(.stream):
            return .forward(payloads, endOfInput: endOfInput)
        case .running(.single):
            return .none // the request was complete; nghttp2 allows nothing after END_STREAM
        case .idle, .refusing, .closed:
            preconditionFailure("request input in state \(state)")
        }
    }

    /// The refusal timer fired: the refusal to send now, if the call is still refusing.
    mutating func refusalTimerFired() -> Refusal? {
        guard case .refusing(let refusal) = state else { return nil }
        state = .closed
        return refusal
    }

    /// The handler produced a response message.
    mutating func sendingMessage() -> GRPCServerStreamStateMachine.SendMessageAction {
        switch state {
        case .awaitingRequest, .running: return wire.sendingMessage()
        case .refusing, .closed: return .drop
        case .idle: preconditionFailure("response message before the request headers")
        }
    }

    /// The call ends with a status (handler result, failed input, deadline).
    mutating func sendingStatus() -> GRPCServerStreamStateMachine.SendStatusAction {
        switch state {
        case .awaitingRequest, .running:
            state = .closed
            return wire.sendingStatus()
        case .refusing, .closed:
            return .drop
        case .idle:
            preconditionFailure("status before the request headers")
        }
    }

    /// The client reset the stream, or the connection went away.
    mutating func receivedReset() -> ResetAction {
        let live: Bool
        switch state {
        case .awaitingRequest, .running: live = true
        case .idle, .refusing, .closed: live = false
        }
        _ = wire.receivedReset()
        state = .closed
        return live ? .cancelHandler : .none
    }
}
