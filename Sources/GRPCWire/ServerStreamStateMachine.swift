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

    /// The client half while it is open: the request messages being reassembled, or, once input
    /// failed (bad frame, too large), nothing: the rest is ignored while the status goes out.
    private enum ClientInput: Sendable {
        case deframing(GRPCMessageDeframer)
        case failed
    }

    /// The state with the data that only exists in it (the client's input while its half is open).
    private enum Storage: Sendable {
        case clientIdleServerIdle
        case clientOpenServerIdle(ClientInput)
        case clientOpenServerOpen(ClientInput)
        case clientClosedServerIdle
        case clientClosedServerOpen
        case clientOpenServerClosed
        case clientClosedServerClosed
        /// Only while a state's data is changed in place (so its buffer is not copied).
        case modifying
    }

    private var storage: Storage = .clientIdleServerIdle
    /// The request's `grpc-encoding`, when it is not identity.
    public private(set) var requestEncoding: String?
    private let maxReceiveMessageBytes: Int
    private let supportedEncodings: Set<String>

    /// The current state.
    public var state: State {
        switch storage {
        case .clientIdleServerIdle: return .clientIdleServerIdle
        case .clientOpenServerIdle: return .clientOpenServerIdle
        case .clientOpenServerOpen: return .clientOpenServerOpen
        case .clientClosedServerIdle: return .clientClosedServerIdle
        case .clientClosedServerOpen: return .clientClosedServerOpen
        case .clientOpenServerClosed: return .clientOpenServerClosed
        case .clientClosedServerClosed: return .clientClosedServerClosed
        case .modifying: preconditionFailure("state read while it is being changed")
        }
    }

    /// Whether request input failed (bad message, too large) while the client still sends: its
    /// later input is ignored while the failure status is sent.
    public var inputFailed: Bool {
        switch storage {
        case .clientOpenServerIdle(.failed), .clientOpenServerOpen(.failed): return true
        default: return false
        }
    }

    /// Whether the client's input sits between messages (no part of a message buffered), or is
    /// not read any more.
    public var inputAtMessageBoundary: Bool {
        switch storage {
        case .clientOpenServerIdle(.deframing(let deframer)), .clientOpenServerOpen(.deframing(let deframer)):
            return deframer.isAtMessageBoundary
        default:
            return true
        }
    }

    /// Creates the machine for one stream.
    /// - Parameters:
    ///   - maxReceiveMessageBytes: Request messages above this give RESOURCE_EXHAUSTED.
    ///   - supportedEncodings: Message encodings besides `identity` the server can decode.
    public init(maxReceiveMessageBytes: Int, supportedEncodings: Set<String> = []) {
        self.maxReceiveMessageBytes = maxReceiveMessageBytes
        self.supportedEncodings = supportedEncodings
    }

    /// The request headers arrived.
    public mutating func receivedHeaders(method: String?, contentType: String?, encoding: String?,
                                         timeout: String?, endStream: Bool) -> HeadersAction {
        guard case .clientIdleServerIdle = storage else {
            preconditionFailure("request headers received twice on one stream (state \(state))")
        }
        guard case .grpcProto = GRPCContentType(contentType) else {
            storage = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
            return .rejectHTTP(status: 415)
        }
        guard method == "POST" else {
            storage = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
            return .rejectHTTP(status: 405)
        }
        if let encoding, encoding != "identity" {
            guard supportedEncodings.contains(encoding) else {
                storage = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
                return .rejectWithStatus(GRPCStatus(.unimplemented,
                                                    "grpc-encoding '\(encoding)' is not supported"),
                                         advertiseEncodings: true)
            }
            requestEncoding = encoding
        }
        var duration: Duration?
        if let timeout {
            guard let parsed = GRPCTimeout.parse(timeout) else {
                storage = endStream ? .clientClosedServerClosed : .clientOpenServerClosed
                return .rejectWithStatus(GRPCStatus(.internal, "malformed grpc-timeout '\(timeout)'"),
                                         advertiseEncodings: false)
            }
            duration = parsed
        }
        storage = endStream
            ? .clientClosedServerIdle
            : .clientOpenServerIdle(.deframing(GRPCMessageDeframer(maxMessageBytes: maxReceiveMessageBytes)))
        return .accept(timeout: duration)
    }

    /// Request bytes from a DATA frame arrived (`endStream` when the frame ended the stream). The
    /// client half closes with `endStream` whatever the bytes held.
    public mutating func receivedData(_ bytes: UnsafeRawBufferPointer, endStream: Bool) -> ReceiveAction {
        switch storage {
        case .clientOpenServerIdle(var input):
            storage = .modifying
            let action = Self.receive(bytes, endStream: endStream, into: &input, encoding: requestEncoding)
            storage = endStream ? .clientClosedServerIdle : .clientOpenServerIdle(input)
            return action
        case .clientOpenServerOpen(var input):
            storage = .modifying
            let action = Self.receive(bytes, endStream: endStream, into: &input, encoding: requestEncoding)
            storage = endStream ? .clientClosedServerOpen : .clientOpenServerOpen(input)
            return action
        case .clientOpenServerClosed:
            if endStream { storage = .clientClosedServerClosed }
            return .ignore
        case .clientIdleServerIdle:
            preconditionFailure("DATA before request headers; nghttp2 rejects this before we see it")
        case .clientClosedServerIdle, .clientClosedServerOpen, .clientClosedServerClosed:
            return .ignore
        case .modifying:
            preconditionFailure("DATA while the state is being changed")
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

    /// Deframes `bytes` into complete messages; on a failure the input becomes `.failed` and later
    /// bytes are ignored.
    private static func receive(_ bytes: UnsafeRawBufferPointer, endStream: Bool, into input: inout ClientInput,
                                encoding: String?) -> ReceiveAction {
        guard case .deframing(var deframer) = input else { return .ignore }
        input = .failed // until the deframer is put back: leaves it the only copy of its buffer
        deframer.append(bytes)
        var messages: [GRPCMessage] = []
        do {
            while let message = try deframer.next() {
                if message.compressed && encoding == nil {
                    return .fail(GRPCStatus(.internal, "compressed message received without a grpc-encoding"))
                }
                messages.append(message)
            }
            if endStream { try deframer.finish() }
        } catch {
            return .fail(error.status)
        }
        input = .deframing(deframer)
        return .deliver(messages, endOfInput: endStream)
    }

    /// The handler produced a response message.
    public mutating func sendingMessage() -> SendMessageAction {
        switch storage {
        case .clientOpenServerIdle(let input): storage = .clientOpenServerOpen(input); return .sendHeadersAndMessage
        case .clientClosedServerIdle: storage = .clientClosedServerOpen; return .sendHeadersAndMessage
        case .clientOpenServerOpen, .clientClosedServerOpen: return .sendMessage
        case .clientOpenServerClosed, .clientClosedServerClosed: return .drop
        case .clientIdleServerIdle: preconditionFailure("response message before the request headers")
        case .modifying: preconditionFailure("response message while the state is being changed")
        }
    }

    /// The call ended with a status (from the handler, a deadline or an error).
    public mutating func sendingStatus() -> SendStatusAction {
        switch storage {
        case .clientOpenServerIdle: storage = .clientOpenServerClosed; return .trailersOnly
        case .clientClosedServerIdle: storage = .clientClosedServerClosed; return .trailersOnly
        case .clientOpenServerOpen: storage = .clientOpenServerClosed; return .trailers
        case .clientClosedServerOpen: storage = .clientClosedServerClosed; return .trailers
        case .clientOpenServerClosed, .clientClosedServerClosed: return .drop
        case .clientIdleServerIdle: preconditionFailure("status before the request headers")
        case .modifying: preconditionFailure("status while the state is being changed")
        }
    }

    /// The client reset the stream (RST_STREAM) or the connection went away.
    public mutating func receivedReset() -> ResetAction {
        let wasRunning: Bool
        switch storage {
        case .clientOpenServerIdle, .clientOpenServerOpen, .clientClosedServerIdle, .clientClosedServerOpen:
            wasRunning = true
        case .clientIdleServerIdle, .clientOpenServerClosed, .clientClosedServerClosed:
            wasRunning = false
        case .modifying:
            preconditionFailure("reset while the state is being changed")
        }
        storage = .clientClosedServerClosed
        return wasRunning ? .cancelHandler : .ignore
    }
}
