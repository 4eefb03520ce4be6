/// The server's view of one gRPC call on one HTTP/2 stream, as a plain value.
///
/// Every event is a `mutating` method returning what the I/O layer must do; the machine does no I/O
/// itself, so tests drive it without sockets. States are named by both halves of the stream: the
/// client's (request headers and messages) and the server's (response headers, messages, status).
public struct GRPCServerStreamStateMachine: Sendable {
    /// Where the call is.
    public enum State: Sendable, Equatable {
        /// No request headers yet.
        case clientIdleServerIdle
        /// Request headers accepted, request messages may follow; nothing sent yet.
        case clientOpenServerIdle
        /// Both sides sending; response headers have gone out.
        case clientOpenServerOpen
        /// The client half-closed; nothing sent yet.
        case clientClosedServerIdle
        /// The client half-closed; response headers have gone out.
        case clientClosedServerOpen
        /// The server sent its status while the client was still sending (the rest is ignored).
        case clientOpenServerClosed
        /// Done.
        case clientClosedServerClosed
    }

    /// What to do with a request's headers.
    public enum HeadersAction: Sendable, Equatable {
        /// Start the call.
        case accept(timeout: Duration?)
        /// Refuse at the HTTP level (e.g. 415 for an unsupported content-type, 405 for GET).
        case rejectHTTP(status: Int)
        /// Refuse with a gRPC status in a Trailers-Only response.
        case rejectWithStatus(GRPCStatus, advertiseEncodings: Bool)
    }

    /// What to do with received request bytes.
    public enum ReceiveAction: Sendable, Equatable {
        /// Hand these complete messages to the handler; `endOfInput` when the client half-closed.
        case deliver([GRPCMessage], endOfInput: Bool)
        /// The call failed: send this status with `sendingStatus()`; later input is ignored.
        case fail(GRPCStatus)
        /// Nothing to do (e.g. data after the server closed).
        case ignore
    }

    /// How to send a response message.
    public enum SendMessageAction: Sendable, Equatable {
        /// Response headers first, then the message.
        case sendHeadersAndMessage
        /// Just the message.
        case sendMessage
        /// The call is over; drop it.
        case drop
    }

    /// How to send the final status.
    public enum SendStatusAction: Sendable, Equatable {
        /// Nothing was sent yet: one HEADERS frame with status and END_STREAM.
        case trailersOnly
        /// Response headers went out: trailers end the stream.
        case trailers
        /// The status was already sent.
        case drop
    }

    /// What a client reset means for the handler.
    public enum ResetAction: Sendable, Equatable {
        /// Cancel the handler's work.
        case cancelHandler
        /// The call had already finished.
        case ignore
    }

    /// The current state.
    public private(set) var state: State = .clientIdleServerIdle
    /// The request's `grpc-encoding`, when it is not identity.
    public private(set) var requestEncoding: String?
    private var deframer: GRPCMessageDeframer
    private let supportedEncodings: Set<String>
    /// Set once request input failed (bad message, too large): later input is ignored while the
    /// failure status is sent.
    public private(set) var inputFailed = false

    /// Creates the machine for one stream.
    /// - Parameters:
    ///   - maxReceiveMessageBytes: Request messages above this give RESOURCE_EXHAUSTED.
    ///   - supportedEncodings: Message encodings besides `identity` the server can decode.
    public init(maxReceiveMessageBytes: Int, supportedEncodings: Set<String> = []) {
        self.deframer = GRPCMessageDeframer(maxMessageBytes: maxReceiveMessageBytes)
        self.supportedEncodings = supportedEncodings
    }

    /// The request headers arrived.
    public mutating func receivedHeaders(method: String?, contentType: String?, encoding: String?,
                                         timeout: String?, endStream: Bool) -> HeadersAction {
        guard state == .clientIdleServerIdle else {
            preconditionFailure("request headers received twice on one stream (state \(state))")
        }
        guard case .grpcProto = GRPCContentType(contentType) else {
            state = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
            return .rejectHTTP(status: 415)
        }
        guard method == "POST" else {
            state = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
            return .rejectHTTP(status: 405)
        }
        if let encoding, encoding != "identity" {
            guard supportedEncodings.contains(encoding) else {
                state = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
                return .rejectWithStatus(GRPCStatus(.unimplemented,
                                                    "grpc-encoding '\(encoding)' is not supported"),
                                         advertiseEncodings: true)
            }
            requestEncoding = encoding
        }
        var duration: Duration?
        if let timeout {
            guard let parsed = GRPCTimeout.parse(timeout) else {
                state = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
                return .rejectWithStatus(GRPCStatus(.internal, "malformed grpc-timeout '\(timeout)'"),
                                         advertiseEncodings: false)
            }
            duration = parsed
        }
        state = endStream ? .clientClosedServerIdle : .clientOpenServerIdle
        return .accept(timeout: duration)
    }

    /// Request bytes from a DATA frame arrived (`endStream` when the frame ended the stream).
    public mutating func receivedData(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> ReceiveAction {
        if inputFailed {
            if endStream {
                switch state {
                case .clientOpenServerIdle: state = .clientClosedServerIdle
                case .clientOpenServerOpen: state = .clientClosedServerOpen
                case .clientOpenServerClosed: state = .clientClosedServerClosed
                default: break
                }
            }
            return .ignore
        }
        switch state {
        case .clientOpenServerIdle, .clientOpenServerOpen:
            deframer.append(bytes)
            return drain(endStream: endStream)
        case .clientOpenServerClosed:
            if endStream { state = .clientClosedServerClosed }
            return .ignore
        case .clientIdleServerIdle:
            preconditionFailure("DATA before request headers; nghttp2 rejects this before we see it")
        case .clientClosedServerIdle, .clientClosedServerOpen, .clientClosedServerClosed:
            return .ignore
        }
    }

    /// The bytes of a DATA frame arrived.
    public mutating func receivedData(_ bytes: [UInt8], endStream: Bool) -> ReceiveAction {
        bytes.withUnsafeBytes { receivedData($0, endStream: endStream) }
    }

    /// The client ended its half without data (END_STREAM on an empty frame or on trailers).
    public mutating func receivedEndStream() -> ReceiveAction {
        receivedData(UnsafeRawBufferPointer(start: nil, count: 0), endStream: true)
    }

    private mutating func drain(endStream: Bool) -> ReceiveAction {
        var messages: [GRPCMessage] = []
        do {
            while let message = try deframer.next() {
                if message.compressed && requestEncoding == nil {
                    return failReceiving(GRPCStatus(.internal,
                        "compressed message received without a grpc-encoding"))
                }
                messages.append(message)
            }
            if endStream { try deframer.finish() }
        } catch {
            return failReceiving(error.status)
        }
        if endStream {
            switch state {
            case .clientOpenServerIdle: state = .clientClosedServerIdle
            case .clientOpenServerOpen: state = .clientClosedServerOpen
            default: break
            }
        }
        return .deliver(messages, endOfInput: endStream)
    }

    /// Input failed: the caller sends `status` (via `sendingStatus()`); further input is ignored.
    private mutating func failReceiving(_ status: GRPCStatus) -> ReceiveAction {
        inputFailed = true
        return .fail(status)
    }

    /// The handler produced a response message.
    public mutating func sendingMessage() -> SendMessageAction {
        switch state {
        case .clientOpenServerIdle: state = .clientOpenServerOpen; return .sendHeadersAndMessage
        case .clientClosedServerIdle: state = .clientClosedServerOpen; return .sendHeadersAndMessage
        case .clientOpenServerOpen, .clientClosedServerOpen: return .sendMessage
        case .clientOpenServerClosed, .clientClosedServerClosed: return .drop
        case .clientIdleServerIdle: preconditionFailure("response message before the request headers")
        }
    }

    /// The call ended with a status (from the handler, a deadline or an error).
    public mutating func sendingStatus() -> SendStatusAction {
        switch state {
        case .clientOpenServerIdle: state = .clientOpenServerClosed; return .trailersOnly
        case .clientClosedServerIdle: state = .clientClosedServerClosed; return .trailersOnly
        case .clientOpenServerOpen: state = .clientOpenServerClosed; return .trailers
        case .clientClosedServerOpen: state = .clientClosedServerClosed; return .trailers
        case .clientOpenServerClosed, .clientClosedServerClosed: return .drop
        case .clientIdleServerIdle: preconditionFailure("status before the request headers")
        }
    }

    /// The client reset the stream (RST_STREAM) or the connection went away.
    public mutating func receivedReset() -> ResetAction {
        let wasRunning: Bool
        switch state {
        case .clientOpenServerIdle, .clientOpenServerOpen, .clientClosedServerIdle, .clientClosedServerOpen:
            wasRunning = true
        case .clientIdleServerIdle, .clientOpenServerClosed, .clientClosedServerClosed:
            wasRunning = false
        }
        state = .clientClosedServerClosed
        return wasRunning ? .cancelHandler : .ignore
    }
}
