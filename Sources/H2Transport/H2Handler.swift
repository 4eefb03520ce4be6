import CNghttp2
import GRPCWire
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/2 stream: a gRPC call or a REST request.
final class H2Stream {
    enum Kind { case pending, grpc, http, rejected }

    let id: Int32
    let start = ContinuousClock.now
    var method: String?
    var path: String?
    var contentType: String?
    var grpcEncoding: String?
    var grpcTimeout: String?
    var metadata: [Metadata] = []
    var headerBytes = 0
    var kind: Kind = .pending
    var machine: GRPCServerStreamStateMachine
    var headersAction: GRPCServerStreamStateMachine.HeadersAction?
    var pendingInput: [GRPCServerStreamStateMachine.ReceiveAction] = []
    var inputQueued = false
    var handler: GRPCMethodHandler?
    var context: GRPCCallContext?
    var requestMessages: [[UInt8]] = []
    var httpBody: [UInt8] = []
    var httpBodyTooLarge = false
    var httpComplete = false
    /// The client sent END_STREAM.
    var clientEnded = false
    /// A refusal decided from the headers alone, held until the client finishes its request.
    var pendingRejection: (() -> Void)?
    var rejectionTimer: UInt64?
    // Response side.
    var outbound: [UInt8] = []
    var outboundOffset = 0
    var outboundEnded = false
    var trailers: [(String, String)]?
    var dataDeferred = false
    var finished = false
    var task: Task<Void, Never>?
    var requestContinuation: AsyncThrowingStream<[UInt8], any Error>.Continuation?
    var writerWaiters: [CheckedContinuation<Void, any Error>] = []
    var deadlineTimer: UInt64?

    init(id: Int32, maxReceiveMessageBytes: Int) {
        self.id = id
        machine = GRPCServerStreamStateMachine(maxReceiveMessageBytes: maxReceiveMessageBytes,
                                               supportedEncodings: H2Stream.supportedEncodings)
    }

    var pendingOutboundBytes: Int { outbound.count - outboundOffset }

    /// Request encodings the server decodes besides identity (one shared set, no allocation per stream).
    static let supportedEncodings: Set<String> = ["gzip"]
}

/// An `nghttp2_nv` array over storage that lives for the whole process, submitted without copies
/// (NO_COPY flags): the response headers and OK trailers every successful call sends.
final class StaticHeaderVector: @unchecked Sendable {
    let entries: UnsafeMutablePointer<nghttp2_nv>
    let count: Int

    init(_ headers: [(String, String)]) {
        count = headers.count
        entries = .allocate(capacity: headers.count)
        for (index, (name, value)) in headers.enumerated() {
            let nameCopy = strdup(name)!, valueCopy = strdup(value)!
            entries[index] = nghttp2_nv(
                name: UnsafeMutableRawPointer(nameCopy).assumingMemoryBound(to: UInt8.self),
                value: UnsafeMutableRawPointer(valueCopy).assumingMemoryBound(to: UInt8.self),
                namelen: name.utf8.count, valuelen: value.utf8.count,
                flags: UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue))
        }
    }

    static let grpcResponseHeaders = StaticHeaderVector([(":status", "200"), ("content-type", "application/grpc"),
                                                         ("grpc-accept-encoding", "identity,gzip")])
    static let grpcOKTrailers = StaticHeaderVector([("grpc-status", "0")])
}

/// A few strings recently decoded from bytes, handed out again for the same bytes (a small
/// round-robin cache: at most `capacity` comparisons, each first by length).
struct RecentStrings {
    static let capacity = 8
    private var entries: [String] = []
    private var next = 0

    /// The string of these UTF-8 bytes (invalid sequences repaired), from the cache when it holds it.
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        for entry in entries where entry.utf8.count == bytes.count && entry.utf8.elementsEqual(bytes) {
            return entry
        }
        let decoded = String(decoding: bytes, as: UTF8.self)
        // Only strings that round-trip: a repaired one must not stand for other bytes.
        guard decoded.utf8.count == bytes.count else { return decoded }
        if entries.count < Self.capacity {
            entries.append(decoded)
        } else {
            entries[next] = decoded
            next = (next + 1) % Self.capacity
        }
        return decoded
    }
}

/// Header names compared as bytes in the header callback (no String per header).
enum HeaderName {
    static let method = Array(":method".utf8)
    static let path = Array(":path".utf8)
    static let te = Array("te".utf8)
    static let contentType = Array("content-type".utf8)
    static let grpcTimeout = Array("grpc-timeout".utf8)
    static let grpcEncoding = Array("grpc-encoding".utf8)
}

/// Counters that pin the rule "never call nghttp2_session_mem_recv/mem_send from inside an nghttp2
/// callback, and never run handlers there either".
struct ReentrancyCounters {
    /// Attempts to enter mem_recv/mem_send while already inside one (always refused).
    var reentrantSessionCalls = 0
    /// Handler invocations that happened while nghttp2 was on the stack.
    var handlerCallsInsideNghttp2 = 0
    /// Callbacks nghttp2 made (to show the test really exercised them).
    var callbacks = 0
}

/// HTTP/2 on one connection: an nghttp2 server session owned by the connection's loop thread.
///
/// nghttp2 callbacks only record what happened (stream state, queued events); the events are
/// acted on after `nghttp2_session_mem_recv`/`mem_send` return, so nghttp2 is never re-entered.
final class H2Handler: @unchecked Sendable {
    enum Event {
        case headers(Int32)
        case input(Int32)
        case httpComplete(Int32)
        case closed(Int32)
        /// The response ended while the client was still sending.
        case responseEndedEarly(Int32)
        /// The client finished a request whose refusal was held back.
        case clientEnded(Int32)
    }

    unowned let connection: Connection
    private var session: OpaquePointer?
    private var streams: [Int32: H2Stream] = [:]
    private var events: [Event] = []
    private var processingEvents = false
    /// Header names and values of this connection's recent requests, to reuse instead of decoding
    /// again: a client sends the same path, content-type and user-agent on every call, and each
    /// longer than 15 bytes would be a String allocation per request.
    private var recentHeaderStrings = RecentStrings()
    private var inNghttp2 = false
    private var goAwaySent = false
    private var failed = false
    var counters = ReentrancyCounters()
    private let configuration: ServerConfiguration
    private let server: ServerCore

    init(connection: Connection) {
        self.connection = connection
        self.server = connection.server
        self.configuration = connection.server.configuration
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    // MARK: Session set-up

    func start() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            H2Handler.owner(userData).onBeginHeaders(frame!)
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            H2Handler.owner(userData).onHeader(frame!, name!, nameLength, value!, valueLength)
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            H2Handler.owner(userData).onFrameReceived(frame!)
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            H2Handler.owner(userData).onDataChunk(streamID, UnsafeRawBufferPointer(start: data, count: length))
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            H2Handler.owner(userData).onStreamClose(streamID)
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            H2Handler.owner(userData).onFrameSent(frame!)
        }
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)
        let userData = Unmanaged.passUnretained(self).toOpaque()
        guard nghttp2_session_server_new2(&session, callbacks, userData, option) == 0 else {
            failed = true
            connection.closeAfterFlush = true
            return
        }
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(configuration.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: 1 << 20),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(configuration.maxHeaderListBytes)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 16 << 20)
    }

    private static func owner(_ userData: UnsafeMutableRawPointer?) -> H2Handler {
        Unmanaged<H2Handler>.fromOpaque(userData!).takeUnretainedValue()
    }

    var hasActiveStreams: Bool { !streams.isEmpty }

    /// True when the session has nothing more to do and the connection can close.
    var isFinished: Bool {
        guard let session, !failed else { return true }
        if goAwaySent && streams.isEmpty { return true }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    // MARK: Driving the session (never from inside a callback)

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let session, !failed else { return }
        guard !inNghttp2 else {
            counters.reentrantSessionCalls += 1
            return
        }
        inNghttp2 = true
        let result = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        inNghttp2 = false
        if result < 0 {
            // nghttp2 queued a GOAWAY for protocol errors; send it, then close.
            failed = true
            connection.closeAfterFlush = true
        }
        processEvents()
        connection.loop.scheduleFlush(connection)
    }

    /// Serializes pending frames into the connection's write buffer, up to `limit` buffered bytes.
    func produceOutput(limit: Int) {
        guard let session else { return }
        guard !inNghttp2 else {
            counters.reentrantSessionCalls += 1
            return
        }
        while connection.pendingWriteBytes < limit {
            var data: UnsafePointer<UInt8>?
            inNghttp2 = true
            let count = nghttp2_session_mem_send(session, &data)
            inNghttp2 = false
            if count < 0 {
                failed = true
                break
            }
            if count > 0 {
                connection.appendToWriteBuffer(UnsafeRawBufferPointer(start: data, count: count))
            }
            // Callbacks during mem_send (stream close) may have queued events; act on them now.
            let hadEvents = !events.isEmpty
            processEvents()
            if count == 0 && !hadEvents { break }
        }
    }

    // MARK: nghttp2 callbacks: record state and queue events only

    private func onBeginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        if UInt32(header.type) == NGHTTP2_HEADERS.rawValue && frame.pointee.headers.cat.rawValue == 0 /* NGHTTP2_HCAT_REQUEST */ {
            streams[header.stream_id] = H2Stream(id: header.stream_id,
                                                 maxReceiveMessageBytes: configuration.maxReceiveMessageBytes)
        }
        return 0
    }

    private func onHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafePointer<UInt8>, _ nameLength: Int,
                          _ valuePointer: UnsafePointer<UInt8>, _ valueLength: Int) -> Int32 {
        counters.callbacks += 1
        guard frame.pointee.headers.cat.rawValue == 0 /* NGHTTP2_HCAT_REQUEST */,
              let stream = streams[frame.pointee.hd.stream_id] else { return 0 }
        stream.headerBytes += nameLength + valueLength + 32
        if stream.headerBytes > configuration.maxHeaderListBytes {
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue // resets this stream only
        }
        let nameBytes = UnsafeBufferPointer(start: name, count: nameLength)
        let valueBytes = UnsafeBufferPointer(start: valuePointer, count: valueLength)
        func value() -> String { recentHeaderStrings.string(valueBytes) }
        if nameBytes.first == UInt8(ascii: ":") {
            // Pseudo-headers: only :method and :path matter (nghttp2 validated the rest).
            if nameBytes.elementsEqual(HeaderName.method) {
                stream.method = value()
            } else if nameBytes.elementsEqual(HeaderName.path) {
                stream.path = value()
            }
            return 0
        }
        if nameBytes.elementsEqual(HeaderName.te) { return 0 }
        if nameBytes.elementsEqual(HeaderName.contentType) {
            let text = value()
            stream.contentType = text
            stream.metadata.append(Metadata("content-type", text))
        } else if nameBytes.elementsEqual(HeaderName.grpcTimeout) {
            stream.grpcTimeout = value()
        } else if nameBytes.elementsEqual(HeaderName.grpcEncoding) {
            stream.grpcEncoding = value()
        } else {
            stream.metadata.append(Metadata(recentHeaderStrings.string(nameBytes), value()))
        }
        return 0
    }

    private func onFrameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        guard let stream = streams[header.stream_id] else { return 0 }
        if endStream && (UInt32(header.type) == NGHTTP2_HEADERS.rawValue || UInt32(header.type) == NGHTTP2_DATA.rawValue) {
            stream.clientEnded = true
            if stream.pendingRejection != nil { events.append(.clientEnded(stream.id)) }
        }
        if UInt32(header.type) == NGHTTP2_HEADERS.rawValue && frame.pointee.headers.cat.rawValue == 0 /* NGHTTP2_HCAT_REQUEST */ {
            if case .notGRPC = GRPCContentType(stream.contentType) {
                stream.kind = .http
                if endStream {
                    stream.httpComplete = true
                    events.append(.httpComplete(stream.id))
                } else {
                    events.append(.headers(stream.id))
                }
                return 0
            }
            stream.kind = .grpc
            stream.headersAction = stream.machine.receivedHeaders(
                method: stream.method, contentType: stream.contentType, encoding: stream.grpcEncoding,
                timeout: stream.grpcTimeout, endStream: endStream)
            events.append(.headers(stream.id))
        } else if endStream {
            switch stream.kind {
            case .grpc:
                queueInput(stream, stream.machine.receivedEndStream())
            case .http:
                stream.httpComplete = true
                events.append(.httpComplete(stream.id))
            case .pending, .rejected:
                break
            }
        }
        return 0
    }

    private func onFrameSent(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        guard header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
              UInt32(header.type) == NGHTTP2_HEADERS.rawValue || UInt32(header.type) == NGHTTP2_DATA.rawValue,
              let stream = streams[header.stream_id], !stream.clientEnded else { return 0 }
        events.append(.responseEndedEarly(stream.id))
        return 0
    }

    private func onDataChunk(_ streamID: Int32, _ data: UnsafeRawBufferPointer) -> Int32 {
        counters.callbacks += 1
        guard let stream = streams[streamID] else { return 0 }
        switch stream.kind {
        case .grpc:
            queueInput(stream, stream.machine.receivedData(data, endStream: false))
        case .http:
            if stream.httpBody.count + data.count > configuration.maxHTTP1BodyBytes {
                stream.httpBodyTooLarge = true
                stream.httpBody = []
            } else if !stream.httpBodyTooLarge {
                stream.httpBody.append(contentsOf: data)
            }
        case .pending, .rejected:
            break
        }
        return 0
    }

    private func queueInput(_ stream: H2Stream, _ action: GRPCServerStreamStateMachine.ReceiveAction) {
        if case .ignore = action { return }
        if case .deliver(let messages, let end) = action, messages.isEmpty && !end { return }
        stream.pendingInput.append(action)
        if !stream.inputQueued {
            stream.inputQueued = true
            events.append(.input(stream.id))
        }
    }

    private func onStreamClose(_ streamID: Int32) -> Int32 {
        counters.callbacks += 1
        if streams[streamID] != nil { events.append(.closed(streamID)) }
        return 0
    }

    // MARK: Acting on events (after nghttp2 returned)

    private func processEvents() {
        // By index, not over a copy: handling an event may queue more (the loop reaches them),
        // and a copy would make `removeAll(keepingCapacity:)` allocate a fresh buffer each time.
        // A nested call leaves the events to the outer one.
        guard !processingEvents else { return }
        processingEvents = true
        var next = 0
        defer {
            events.removeAll(keepingCapacity: events.capacity <= 1024)
            processingEvents = false
        }
        while next < events.count {
            let event = events[next]
            next += 1
            switch event {
            case .headers(let id):
                if let stream = streams[id] { headersReceived(stream) }
            case .input(let id):
                if let stream = streams[id] { inputReceived(stream) }
            case .httpComplete(let id):
                if let stream = streams[id] { httpRequestComplete(stream) }
            case .closed(let id):
                if let stream = streams.removeValue(forKey: id) { streamClosed(stream) }
            case .clientEnded(let id):
                if let stream = streams[id], let reject = stream.pendingRejection {
                    stream.pendingRejection = nil
                    if let timer = stream.rejectionTimer { connection.loop.cancelTimer(timer) }
                    reject()
                }
            case .responseEndedEarly(let id):
                // RFC 9113 8.1: after a complete response, ask a client that is still sending
                // to stop, without error (clients such as curl otherwise wait to finish).
                if let stream = streams[id], !stream.clientEnded, let session {
                    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id,
                                              NGHTTP2_NO_ERROR.rawValue)
                    connection.loop.scheduleFlush(connection)
                }
            }
        }
    }

    private func headersReceived(_ stream: H2Stream) {
        guard stream.kind == .grpc, let action = stream.headersAction else { return }
        switch action {
        case .rejectHTTP(let status):
            stream.kind = .rejected
            rejectWhenRequestEnds(stream) { [self] in
                stream.finished = true
                submitResponse(stream, status: status, headers: [], body: [])
                record(stream, httpStatus: status, grpcStatus: nil)
            }
        case .rejectWithStatus(let status, let advertise):
            stream.kind = .rejected
            rejectWhenRequestEnds(stream) { [self] in
                stream.finished = true
                var headers = [(":status", "200"), ("content-type", "application/grpc")]
                if advertise { headers.append(("grpc-accept-encoding", "identity,gzip")) }
                headers.append(("grpc-status", String(status.code.rawValue)))
                if !status.message.isEmpty { headers.append(("grpc-message", GRPCMessageText.percentEncode(status.message))) }
                submitHeadersOnly(stream.id, headers)
                record(stream, httpStatus: 200, grpcStatus: status)
            }
        case .accept(let timeout):
            let path = stream.path ?? ""
            guard let handler = server.router.grpcMethods[path] else {
                stream.kind = .rejected // request messages are not even deframed
                rejectWhenRequestEnds(stream) { [self] in
                    finish(stream, GRPCStatus(.unimplemented, "unknown method \(path)"))
                }
                return
            }
            let deadline = timeout.map { stream.start + $0 }
            let context = GRPCCallContext(method: path, metadata: stream.metadata.filter {
                !GRPCReservedHeaders.isReserved($0.name)
            }, deadline: deadline, peer: connection.peer)
            stream.handler = handler
            stream.context = context
            if let deadline {
                stream.deadlineTimer = connection.loop.scheduleTimer(at: deadline) { [weak self, weak stream] in
                    guard let self, let stream else { return }
                    stream.deadlineTimer = nil
                    self.deadlineExpired(stream)
                }
            }
            switch handler {
            case .clientStreaming(let function):
                let input = startRequestStream(stream)
                startTask(stream, counted: true) { context, _ in try await function(context, input) }
            case .bidirectional(let function):
                let input = startRequestStream(stream)
                let writer = H2ResponseWriter(handler: self, streamID: stream.id, context: context)
                startTask(stream, counted: true) { context, _ in
                    try await function(context, input, writer)
                    return nil
                }
            case .unaryInline, .unary, .unaryCallback, .serverStreaming:
                break // wait for the request message
            }
        }
    }

    /// Runs a refusal decided from the headers once the client has finished sending (at most
    /// 100 ms later). Answering while the client still uploads is allowed, but then the stream must
    /// be reset, and clients such as curl report that reset as an error.
    private func rejectWhenRequestEnds(_ stream: H2Stream, _ reject: @escaping () -> Void) {
        if stream.clientEnded {
            reject()
            return
        }
        stream.pendingRejection = reject
        stream.rejectionTimer = connection.loop.scheduleTimer(at: .now + .milliseconds(100)) { [weak self, weak stream] in
            guard let self, let stream, self.streams[stream.id] != nil, let reject = stream.pendingRejection else { return }
            stream.pendingRejection = nil
            reject()
            self.connection.loop.scheduleFlush(self.connection)
        }
    }

    private func startRequestStream(_ stream: H2Stream) -> AnyGRPCRequestStream {
        let (input, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        stream.requestContinuation = continuation
        return AnyGRPCRequestStream(makeNext: {
            let box = IteratorBox(input.makeAsyncIterator())
            return { try await box.next() }
        })
    }

    private func inputReceived(_ stream: H2Stream) {
        stream.inputQueued = false
        let actions = stream.pendingInput
        stream.pendingInput = []
        for action in actions {
            guard !stream.finished else { return }
            switch action {
            case .ignore:
                break
            case .fail(let status):
                failInput(stream, status)
            case .deliver(let messages, let endOfInput):
                var payloads: [[UInt8]] = []
                payloads.reserveCapacity(messages.count)
                for message in messages {
                    guard message.compressed else {
                        payloads.append(message.bytes)
                        continue
                    }
                    // The state machine only lets compressed messages through for a supported
                    // grpc-encoding, which is gzip.
                    do {
                        payloads.append(try Gzip.decompress(message.bytes, limit: configuration.maxReceiveMessageBytes))
                    } catch {
                        failInput(stream, error)
                        return
                    }
                }
                deliver(stream, payloads, endOfInput: endOfInput)
            }
        }
    }

    private func failInput(_ stream: H2Stream, _ status: GRPCStatus) {
        stream.requestContinuation?.finish(throwing: status)
        stream.requestContinuation = nil
        stream.task?.cancel()
        finish(stream, status)
    }

    private func deliver(_ stream: H2Stream, _ payloads: [[UInt8]], endOfInput: Bool) {
        guard let handler = stream.handler else { return }
        switch handler {
        case .clientStreaming, .bidirectional:
            for payload in payloads { stream.requestContinuation?.yield(payload) }
            if endOfInput {
                stream.requestContinuation?.finish()
                stream.requestContinuation = nil
            }
        case .unaryInline(let function):
            stream.requestMessages.append(contentsOf: payloads)
            guard endOfInput, let request = singleRequest(stream) else { return }
            if inNghttp2 { counters.handlerCallsInsideNghttp2 += 1 }
            let context = stream.context!
            do {
                let response = try function(context, request)
                sendMessage(stream, response)
                finish(stream, .ok)
            } catch {
                finish(stream, Self.status(for: error))
            }
        case .unary(let function):
            stream.requestMessages.append(contentsOf: payloads)
            guard endOfInput, let request = singleRequest(stream) else { return }
            startTask(stream, counted: false, requestBytes: request.count) { context, _ in
                try await function(context, request)
            }
        case .unaryCallback(let function):
            stream.requestMessages.append(contentsOf: payloads)
            guard endOfInput, let request = singleRequest(stream) else { return }
            if inNghttp2 { counters.handlerCallsInsideNghttp2 += 1 }
            let id = stream.id
            let loop = connection.loop
            // Always through the loop's queue, even when the function answers at once: the
            // answer then runs after this nghttp2 call, never inside one of its callbacks.
            let responder = GRPCUnaryResponder { [self] response in
                loop.execute { [self] in
                    let result: Result<[UInt8]?, any Error>
                    do { result = .success(try response()) } catch { result = .failure(error) }
                    self.taskCompleted(id, result)
                }
            }
            function(stream.context!, request, responder)
        case .serverStreaming(let function):
            stream.requestMessages.append(contentsOf: payloads)
            guard endOfInput, let request = singleRequest(stream) else { return }
            let writer = H2ResponseWriter(handler: self, streamID: stream.id, context: stream.context!)
            startTask(stream, counted: false, requestBytes: request.count) { context, _ in
                try await function(context, request, writer)
                return nil
            }
        }
    }

    /// The one request message of a unary or server-streaming call, or a failed call.
    private func singleRequest(_ stream: H2Stream) -> [UInt8]? {
        if stream.requestMessages.count == 1 { return stream.requestMessages[0] }
        finish(stream, GRPCStatus(.internal, stream.requestMessages.isEmpty
            ? "expected one request message, got none" : "expected one request message, got several"))
        return nil
    }

    /// Starts a call's handler: on the connection's loop for a small request, else (a large
    /// request, or a stream of them: `requestBytes` nil) on the global pool, so that decoding and
    /// checking a large batch does not hold up the other connections of the loop.
    private func startTask(_ stream: H2Stream, counted: Bool, requestBytes: Int? = nil,
                           _ body: @escaping @Sendable (GRPCCallContext, Int32) async throws -> [UInt8]?) {
        if inNghttp2 { counters.handlerCallsInsideNghttp2 += 1 }
        let context = stream.context!
        let id = stream.id
        let loop = connection.loop
        let operation: @Sendable () async -> Void = { [self] in
            let result: Result<[UInt8]?, any Error>
            do { result = .success(try await body(context, id)) } catch { result = .failure(error) }
            loop.execute { [self] in self.taskCompleted(id, result) }
        }
        stream.task = loop.startHandlerTask(requestBytes: requestBytes, operation)
    }

    private func taskCompleted(_ id: Int32, _ result: Result<[UInt8]?, any Error>) {
        guard let stream = streams[id], !stream.finished else { return }
        switch result {
        case .success(let response):
            if let response { sendMessage(stream, response) }
            finish(stream, .ok)
        case .failure(let error):
            finish(stream, Self.status(for: error))
        }
        connection.loop.scheduleFlush(connection)
    }

    static func status(for error: any Error) -> GRPCStatus {
        if let status = error as? GRPCStatus { return status }
        if error is CancellationError { return GRPCStatus(.cancelled, "cancelled") }
        return GRPCStatus(.internal, "internal error")
    }

    private func deadlineExpired(_ stream: H2Stream) {
        guard !stream.finished, streams[stream.id] != nil else { return }
        stream.task?.cancel()
        stream.requestContinuation?.finish(throwing: GRPCStatus(.deadlineExceeded, "deadline exceeded"))
        stream.requestContinuation = nil
        finish(stream, GRPCStatus(.deadlineExceeded, "deadline exceeded"))
        connection.loop.scheduleFlush(connection)
    }

    private func streamClosed(_ stream: H2Stream) {
        if let timer = stream.deadlineTimer { connection.loop.cancelTimer(timer) }
        if let timer = stream.rejectionTimer { connection.loop.cancelTimer(timer) }
        stream.pendingRejection = nil
        let cancelled = GRPCStatus(.cancelled, "the client cancelled the call")
        if !stream.finished {
            stream.finished = true
            if stream.kind == .grpc, case .cancelHandler = stream.machine.receivedReset() {
                stream.task?.cancel()
                stream.requestContinuation?.finish(throwing: cancelled)
                stream.requestContinuation = nil
                record(stream, httpStatus: 200, grpcStatus: cancelled)
            }
        }
        for waiter in stream.writerWaiters { waiter.resume(throwing: cancelled) }
        stream.writerWaiters = []
    }

    // MARK: Responses

    /// Sends one response message (headers first if needed). False when the call is over.
    @discardableResult
    private func sendMessage(_ stream: H2Stream, _ message: [UInt8]) -> Bool {
        switch stream.machine.sendingMessage() {
        case .drop:
            return false
        case .sendHeadersAndMessage:
            GRPCMessageFramer.append(message, to: &stream.outbound)
            let initial = stream.context?.responseMetadata.initial ?? []
            if initial.isEmpty {
                submitResponseWithProvider(stream.id, static: StaticHeaderVector.grpcResponseHeaders)
            } else {
                var headers = [(":status", "200"), ("content-type", "application/grpc"),
                               ("grpc-accept-encoding", "identity,gzip")]
                for item in initial { headers.append((item.name, item.value)) }
                submitResponseWithProvider(stream.id, headers)
            }
        case .sendMessage:
            GRPCMessageFramer.append(message, to: &stream.outbound)
            resumeIfDeferred(stream)
        }
        return true
    }

    /// Ends a call with a status: Trailers-Only when nothing was sent yet, trailers otherwise.
    private func finish(_ stream: H2Stream, _ status: GRPCStatus) {
        guard !stream.finished else { return }
        let action = stream.machine.sendingStatus()
        stream.finished = true
        if let timer = stream.deadlineTimer {
            connection.loop.cancelTimer(timer)
            stream.deadlineTimer = nil
        }
        let trailing = stream.context?.responseMetadata.trailing ?? []
        var trailers: [(String, String)] = []
        if status.code != .ok || !status.message.isEmpty || !trailing.isEmpty {
            trailers.append(("grpc-status", String(status.code.rawValue)))
            if !status.message.isEmpty { trailers.append(("grpc-message", GRPCMessageText.percentEncode(status.message))) }
            for item in trailing { trailers.append((item.name, item.value)) }
        }
        switch action {
        case .drop:
            return
        case .trailersOnly:
            submitHeadersOnly(stream.id, [(":status", "200"), ("content-type", "application/grpc")]
                              + (trailers.isEmpty ? [("grpc-status", "0")] : trailers))
        case .trailers:
            // Empty: the static `grpc-status: 0` vector is sent.
            stream.trailers = trailers
            stream.outboundEnded = true
            resumeIfDeferred(stream)
        }
        stream.requestContinuation?.finish()
        stream.requestContinuation = nil
        record(stream, httpStatus: 200, grpcStatus: status)
    }

    private func record(_ stream: H2Stream, httpStatus: Int, grpcStatus: GRPCStatus?) {
        let path = stream.path ?? "-"
        let route = stream.kind == .http ? "\(stream.method ?? "-") \(path)" : path
        server.recordRequest(loop: connection.loop, route: route, protocolName: "HTTP/2",
                             method: stream.method ?? "-", path: path, status: httpStatus, grpcStatus: grpcStatus,
                             start: stream.start, peer: connection.peer)
    }

    private func resumeIfDeferred(_ stream: H2Stream) {
        if stream.dataDeferred, let session {
            stream.dataDeferred = false
            nghttp2_session_resume_data(session, stream.id)
        }
        connection.loop.scheduleFlush(connection)
    }

    /// Queues a message from a streaming handler's writer; resumes the writer at once unless the
    /// stream already holds a lot of unsent data (flow control), in which case it waits.
    func writerSend(_ streamID: Int32, _ message: [UInt8], _ continuation: CheckedContinuation<Void, any Error>) {
        guard let stream = streams[streamID], !stream.finished, sendMessage(stream, message) else {
            continuation.resume(throwing: GRPCStatus(.cancelled, "the call is over"))
            return
        }
        if stream.pendingOutboundBytes < 64 * 1024 {
            continuation.resume()
        } else {
            stream.writerWaiters.append(continuation)
        }
        connection.loop.scheduleFlush(connection)
    }

    // MARK: REST over HTTP/2

    private func httpRequestComplete(_ stream: H2Stream) {
        guard !stream.finished else { return }
        let method = stream.method ?? "GET"
        let head = method == "HEAD"
        if stream.httpBodyTooLarge {
            respondHTTP(stream, HTTPResponse(status: 413, body: Array("request body too large\n".utf8)), head: head)
            return
        }
        let target = stream.path ?? "/"
        let path: String, query: String
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = String(target[target.index(after: mark)...])
        } else {
            path = target
            query = ""
        }
        let request = HTTPRequest(method: method, path: path, query: query, headers: stream.metadata,
                                  body: stream.httpBody, peer: connection.peer)
        stream.httpBody = []
        guard let route = server.router.http else {
            respondHTTP(stream, HTTPResponse(status: 404, body: Array("not found\n".utf8)), head: head)
            return
        }
        switch route(request) {
        case .inline(let function):
            respondHTTP(stream, function(request), head: head)
        case .async(let function):
            let id = stream.id
            let loop = connection.loop
            let operation: @Sendable () async -> Void = { [self] in
                let response = await function(request)
                loop.execute { [self] in
                    guard let stream = self.streams[id] else { return }
                    self.respondHTTP(stream, response, head: head)
                    self.connection.loop.scheduleFlush(self.connection)
                }
            }
            stream.task = loop.startHandlerTask(requestBytes: request.body.count, operation)
        }
    }

    private func respondHTTP(_ stream: H2Stream, _ response: HTTPResponse, head: Bool) {
        guard !stream.finished else { return }
        stream.finished = true
        let headers = response.headers.filter {
            switch $0.name.lowercased() {
            case "content-length", "connection", "transfer-encoding", "keep-alive", "date": return false
            default: return true
            }
        }.map { ($0.name.lowercased(), $0.value) }
        submitResponse(stream, status: response.status, headers: headers + [("date", connection.loop.httpDate())],
                       body: head ? [] : response.body, contentLength: response.body.count)
        record(stream, httpStatus: response.status, grpcStatus: nil)
    }

    private func submitResponse(_ stream: H2Stream, status: Int, headers: [(String, String)], body: [UInt8],
                                contentLength: Int? = nil) {
        let all = [(":status", String(status))] + headers + [("content-length", String(contentLength ?? body.count))]
        if body.isEmpty {
            submitHeadersOnly(stream.id, all)
        } else {
            stream.outbound = body
            stream.outboundEnded = true
            submitResponseWithProvider(stream.id, all)
        }
        connection.loop.scheduleFlush(connection)
    }

    private func submitHeadersOnly(_ streamID: Int32, _ headers: [(String, String)]) {
        guard let session else { return }
        withHeaderVector(headers) { vector, count in
            _ = nghttp2_submit_response(session, streamID, vector, count, nil)
        }
        connection.loop.scheduleFlush(connection)
    }

    private func submitResponseWithProvider(_ streamID: Int32, _ headers: [(String, String)]) {
        guard let session else { return }
        var provider = Self.dataProvider
        withHeaderVector(headers) { vector, count in
            _ = nghttp2_submit_response(session, streamID, vector, count, &provider)
        }
        connection.loop.scheduleFlush(connection)
    }

    private func submitResponseWithProvider(_ streamID: Int32, static vector: StaticHeaderVector) {
        guard let session else { return }
        var provider = Self.dataProvider
        _ = nghttp2_submit_response(session, streamID, vector.entries, vector.count, &provider)
        connection.loop.scheduleFlush(connection)
    }

    private static let dataProvider: nghttp2_data_provider = {
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
            H2Handler.owner(userData).readData(streamID, buffer!, length, flags!)
        }
        return provider
    }()

    /// nghttp2's data source callback (runs inside mem_send): copies queued response bytes, defers
    /// when none are queued yet, and at the end submits the trailers (allowed inside this callback).
    private func readData(_ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
                          _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        counters.callbacks += 1
        guard let stream = streams[streamID] else {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        let available = stream.pendingOutboundBytes
        let count = min(length, available)
        if count > 0 {
            stream.outbound.withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + stream.outboundOffset, byteCount: count)
            }
            stream.outboundOffset += count
            if stream.outboundOffset == stream.outbound.count {
                stream.outbound.removeAll(keepingCapacity: true)
                stream.outboundOffset = 0
            }
            if stream.pendingOutboundBytes < 64 * 1024 && !stream.writerWaiters.isEmpty {
                for waiter in stream.writerWaiters { waiter.resume() }
                stream.writerWaiters = []
            }
        }
        if stream.pendingOutboundBytes == 0 {
            if stream.outboundEnded {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                if let trailers = stream.trailers, let session {
                    flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                    if trailers.isEmpty {
                        let vector = StaticHeaderVector.grpcOKTrailers
                        _ = nghttp2_submit_trailer(session, streamID, vector.entries, vector.count)
                    } else {
                        withHeaderVector(trailers) { vector, count in
                            _ = nghttp2_submit_trailer(session, streamID, vector, count)
                        }
                    }
                }
                return count
            }
            if count == 0 {
                stream.dataDeferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return count
    }

    // MARK: Connection-level

    /// Sends GOAWAY: streams already started finish, new ones are refused.
    func goAway() {
        guard let session, !goAwaySent else { return }
        goAwaySent = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
        connection.loop.scheduleFlush(connection)
    }

    func connectionClosed() {
        let all = Array(streams.values)
        streams.removeAll()
        for stream in all { streamClosed(stream) }
    }
}

/// Boxes an async iterator so a `@Sendable` closure can advance it (only the handler's task does).
final class IteratorBox: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator

    init(_ iterator: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator) {
        self.iterator = iterator
    }

    func next() async throws -> [UInt8]? {
        try await iterator.next()
    }
}

/// A streaming handler's writer: hands messages to the stream's loop and waits while the peer's
/// flow-control window keeps too much unsent.
final class H2ResponseWriter: GRPCResponseWriter, @unchecked Sendable {
    private let handler: H2Handler
    private let loop: EventLoop
    private let streamID: Int32
    private let context: GRPCCallContext

    init(handler: H2Handler, streamID: Int32, context: GRPCCallContext) {
        self.handler = handler
        self.loop = handler.connection.loop
        self.streamID = streamID
        self.context = context
    }

    func send(_ message: [UInt8]) async throws {
        if Task.isCancelled { throw GRPCStatus(.cancelled, "the call was cancelled") }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute { [handler, streamID] in handler.writerSend(streamID, message, continuation) }
        }
    }

    func addTrailingMetadata(_ metadata: Metadata) {
        context.responseMetadata.addTrailing(metadata)
    }
}

/// Calls `body` with an `nghttp2_nv` array for `headers`; names and values live in one temporary
/// buffer that nghttp2 copies during the call.
func withHeaderVector<R>(_ headers: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
    var storage: [UInt8] = []
    var spans: [(Int, Int, Int, Int)] = []
    spans.reserveCapacity(headers.count)
    for (name, value) in headers {
        let nameStart = storage.count
        storage.append(contentsOf: name.utf8)
        let valueStart = storage.count
        storage.append(contentsOf: value.utf8)
        spans.append((nameStart, valueStart - nameStart, valueStart, storage.count - valueStart))
    }
    storage.append(0)
    return storage.withUnsafeMutableBufferPointer { bytes in
        let base = bytes.baseAddress!
        var vector = spans.map { span in
            nghttp2_nv(name: base + span.0, value: base + span.2, namelen: span.1, valuelen: span.3,
                       flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        return vector.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    }
}
