import CNghttp2
#if canImport(Glibc)
import Glibc
#endif

/// The head of one request as the session decoded it from a HEADERS frame.
///
/// The headers gRPC dispatch looks at are picked out as they are decoded (no second scan).
struct H2RequestHead {
    /// `:method`.
    var method: String?
    /// `:path`, query included.
    var path: String?
    /// `content-type` (also in `metadata`).
    var contentType: String?
    /// `grpc-encoding` (not in `metadata`).
    var grpcEncoding: String?
    /// `grpc-timeout` (not in `metadata`).
    var grpcTimeout: String?
    /// Every header except pseudo-headers, `te`, `grpc-timeout` and `grpc-encoding`, in order.
    var metadata: [Metadata] = []
    /// Bytes counted against SETTINGS_MAX_HEADER_LIST_SIZE (name + value + 32 per header).
    var listBytes = 0
    /// The header list passed SETTINGS_MAX_HEADER_LIST_SIZE: later headers were dropped, and the
    /// request is answered 431 (REST) or RESOURCE_EXHAUSTED (gRPC) without being served.
    var tooLarge = false
}

/// What happened on an HTTP/2 server session, in order. nghttp2's callbacks only append these;
/// the session's owner acts on them after `nghttp2_session_mem_recv`/`mem_send` returned.
enum H2SessionEvent {
    /// A request's header block arrived; `endStream` when the request has no body.
    case requestHead(streamID: Int32, head: H2RequestHead, endStream: Bool)
    /// Request body bytes, at `range` of the bytes `H2ServerSession.drainEvents` hands over.
    case data(streamID: Int32, range: Range<Int>)
    /// The client ended its half of the stream (END_STREAM on DATA or on trailers).
    case endStream(streamID: Int32)
    /// A frame with END_STREAM went out: the response is complete.
    case responseEnded(streamID: Int32)
    /// The stream closed: both halves done, reset by either side, or refused by nghttp2.
    case closed(streamID: Int32)
    /// The client sent RST_STREAM (counted against its address's reset limit).
    case clientReset(streamID: Int32)
}

/// Supplies response body bytes while nghttp2 writes DATA frames (called inside `mem_send`).
protocol H2ResponseDataSource: AnyObject {
    /// Copies up to `buffer.count` bytes of the stream's response body into `buffer`; nil when the
    /// stream is unknown (nghttp2 then resets it).
    func readResponseBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> H2ResponseBody.Read?
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

/// One nghttp2 server session, owned by one loop thread: the only type of the server that touches
/// nghttp2.
///
/// Its callbacks turn nghttp2's view into `H2SessionEvent`s and do nothing else (no handler runs,
/// nothing re-enters the session); the owner drains the events after `receive` or `send` return
/// and answers through the `submit...` methods. Response bodies come from the `dataSource`.
final class H2ServerSession {
    private var session: OpaquePointer?
    private var events: [H2SessionEvent] = []
    /// Request body bytes of the events not yet drained (`.data` ranges point here).
    private var inbound: [UInt8] = []
    /// The request whose header block is being decoded (HTTP/2 never interleaves header blocks).
    private var head: (streamID: Int32, head: H2RequestHead)?
    /// Header names and values of this connection's recent requests, to reuse instead of decoding
    /// again: a client sends the same path, content-type and user-agent on every call, and each
    /// longer than 15 bytes would be a String allocation per request.
    private var recentHeaderStrings = RecentStrings()
    private let maxHeaderListBytes: Int
    private var draining = false
    private(set) var inNghttp2 = false
    /// nghttp2 failed or found a protocol error: nothing more is read.
    private(set) var failed = false
    private(set) var goAwaySent = false
    /// What nghttp2 said when it gave up on the connection (a flood, a broken header block).
    private(set) var fatalError: Int32?
    var counters = ReentrancyCounters()
    /// Where response bodies come from (the session's owner).
    unowned(unsafe) var dataSource: (any H2ResponseDataSource)?

    /// Creates the session and queues the server's SETTINGS; `failed` when nghttp2 could not.
    /// `connectionWindow`: the connection's flow-control window, the request bytes the client may
    /// send before the server consumed them (`consumeConnection`); stream windows open as bytes
    /// are taken (`consumeStream`). nghttp2 sends no WINDOW_UPDATE on its own.
    init(maxConcurrentStreams: Int, maxHeaderListBytes: Int, connectionWindow: Int = 16 << 20) {
        self.maxHeaderListBytes = maxHeaderListBytes
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            H2ServerSession.owner(userData).onBeginHeaders(frame!)
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            H2ServerSession.owner(userData).onHeader(frame!, name!, nameLength, value!, valueLength)
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            H2ServerSession.owner(userData).onFrameReceived(frame!)
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            H2ServerSession.owner(userData).onDataChunk(streamID, UnsafeRawBufferPointer(start: data, count: length))
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            H2ServerSession.owner(userData).onStreamClose(streamID)
        }
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
            H2ServerSession.owner(userData).onFrameSent(frame!)
        }
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_max_send_header_block_length(option, 64 * 1024)
        // The windows open as the server consumes what it received, not as nghttp2 hands it over.
        nghttp2_option_set_no_auto_window_update(option, 1)
        let userData = Unmanaged.passUnretained(self).toOpaque()
        guard nghttp2_session_server_new2(&session, callbacks, userData, option) == 0 else {
            session = nil
            failed = true
            return
        }
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                   value: 1 << 20),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
                                   value: UInt32(maxHeaderListBytes)),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
                                              Int32(clamping: connectionWindow))
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    private static func owner(_ userData: UnsafeMutableRawPointer?) -> H2ServerSession {
        Unmanaged<H2ServerSession>.fromOpaque(userData!).takeUnretainedValue()
    }

    /// Whether nghttp2 has nothing left to read or write (the connection can close).
    var isDone: Bool {
        guard let session, !failed else { return true }
        return nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }

    // MARK: Driving the session (never from inside a callback)

    /// Feeds received bytes to nghttp2; false on a protocol error (a GOAWAY is queued, then
    /// nothing more is read). Drain the events afterwards.
    @discardableResult
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let session, !failed else { return false }
        guard !inNghttp2 else {
            counters.reentrantSessionCalls += 1
            return true
        }
        inNghttp2 = true
        let result = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        inNghttp2 = false
        if result < 0 {
            failed = true
            fatalError = Int32(result)
            // nghttp2 queues no GOAWAY for a flood or too many CONTINUATION frames: queue one, so the
            // client learns why the connection ends (none is added when nghttp2 queued its own).
            let code = result == Int(NGHTTP2_ERR_FLOODED.rawValue) || result == Int(NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue)
                ? NGHTTP2_ENHANCE_YOUR_CALM.rawValue : NGHTTP2_PROTOCOL_ERROR.rawValue
            nghttp2_session_terminate_session(session, code)
        }
        return result >= 0
    }

    /// How many bytes the client may still send on the connection before it needs a
    /// WINDOW_UPDATE (nghttp2 sends one once half the window was consumed).
    var connectionWindowRemaining: Int {
        guard let session, !failed else { return 0 }
        return Int(nghttp2_session_get_local_window_size(session))
    }

    /// The client may send `count` more bytes on the connection: received bytes were consumed.
    func consumeConnection(_ count: Int) {
        guard let session, count > 0, !failed else { return }
        _ = nghttp2_session_consume_connection(session, count)
    }

    /// The client may send `count` more bytes on stream `streamID` (nothing when it closed).
    func consumeStream(_ streamID: Int32, _ count: Int) {
        guard let session, count > 0, !failed else { return }
        _ = nghttp2_session_consume_stream(session, streamID, count)
    }

    /// Serializes pending frames, one chunk at a time, into `write` (which must not call back into
    /// the session); returns how many bytes were produced, 0 when there is nothing to send or
    /// nghttp2 failed. Drain the events afterwards.
    func send(_ write: (UnsafeRawBufferPointer) -> Void) -> Int {
        guard let session else { return 0 }
        guard !inNghttp2 else {
            counters.reentrantSessionCalls += 1
            return 0
        }
        var data: UnsafePointer<UInt8>?
        inNghttp2 = true
        let count = nghttp2_session_mem_send(session, &data)
        inNghttp2 = false
        if count < 0 {
            failed = true
            return 0
        }
        if count > 0 { write(UnsafeRawBufferPointer(start: data, count: count)) }
        return count
    }

    /// Whether events wait to be drained.
    var hasEvents: Bool { !events.isEmpty }

    /// Hands every recorded event, in order, to `body` with the bytes `.data` ranges point into,
    /// then forgets them. A nested call (from `body`) returns at once; the outer one reaches any
    /// event recorded meanwhile.
    func drainEvents(_ body: (H2SessionEvent, UnsafeRawBufferPointer) -> Void) {
        guard !draining, !events.isEmpty else { return }
        draining = true
        defer {
            // By index, not over a copy: a copy would make `removeAll(keepingCapacity:)` allocate a
            // fresh buffer each time.
            events.removeAll(keepingCapacity: events.capacity <= 1024)
            inbound.removeAll(keepingCapacity: inbound.capacity <= 1 << 20)
            draining = false
        }
        var next = 0
        while next < events.count {
            let event = events[next]
            next += 1
            if case .data(_, let range) = event {
                inbound.withUnsafeBytes { body(event, UnsafeRawBufferPointer(rebasing: $0[range])) }
            } else {
                body(event, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }

    // MARK: Answers (outside callbacks, or from the data source for trailers)

    /// Submits response headers; `hasBody`: the body follows from the data source (else the
    /// headers end the stream).
    func submitResponse(_ streamID: Int32, headers: [(String, String)], hasBody: Bool) {
        guard let session else { return }
        withHeaderVector(headers) { vector, count in
            if hasBody {
                var provider = Self.dataProvider
                _ = nghttp2_submit_response(session, streamID, vector, count, &provider)
            } else {
                _ = nghttp2_submit_response(session, streamID, vector, count, nil)
            }
        }
    }

    /// Submits process-lifetime response headers (no copies) whose body follows from the data source.
    func submitResponse(_ streamID: Int32, headers vector: StaticHeaderVector) {
        guard let session else { return }
        var provider = Self.dataProvider
        _ = nghttp2_submit_response(session, streamID, vector.entries, vector.count, &provider)
    }

    /// Tells nghttp2 that a stream whose data source deferred has bytes again.
    func resumeData(_ streamID: Int32) {
        guard let session else { return }
        nghttp2_session_resume_data(session, streamID)
    }

    /// Resets a stream with NO_ERROR (RFC 9113 8.1: a complete response asks a client still
    /// sending to stop).
    func resetStreamNoError(_ streamID: Int32) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_NO_ERROR.rawValue)
    }

    /// Ends the connection with GOAWAY carrying ENHANCE_YOUR_CALM (the client misbehaves):
    /// nothing more is read; the connection closes once the GOAWAY is written.
    func goAwayEnhanceYourCalm() {
        guard let session, !failed else { return }
        failed = true
        goAwaySent = true
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
    }

    /// Refuses a stream that was not served (RST_STREAM REFUSED_STREAM: the client may retry it).
    func refuseStream(_ streamID: Int32) {
        guard let session else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_REFUSED_STREAM.rawValue)
    }

    /// Sends GOAWAY once: streams already started finish, new ones are refused.
    func goAway() {
        guard let session, !goAwaySent else { return }
        goAwaySent = true
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue),
                              nghttp2_session_get_last_proc_stream_id(session),
                              NGHTTP2_NO_ERROR.rawValue, nil, 0)
    }

    // MARK: nghttp2 callbacks: record events only

    private static let requestCategory: UInt32 = 0 // NGHTTP2_HCAT_REQUEST

    private func onBeginHeaders(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        if UInt32(header.type) == NGHTTP2_HEADERS.rawValue && frame.pointee.headers.cat.rawValue == Self.requestCategory {
            head = (header.stream_id, H2RequestHead())
        }
        return 0
    }

    private func onHeader(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafePointer<UInt8>, _ nameLength: Int,
                          _ valuePointer: UnsafePointer<UInt8>, _ valueLength: Int) -> Int32 {
        counters.callbacks += 1
        guard frame.pointee.headers.cat.rawValue == Self.requestCategory,
              head?.streamID == frame.pointee.hd.stream_id else { return 0 }
        head!.head.listBytes += nameLength + valueLength + 32
        let nameBytes = UnsafeBufferPointer(start: name, count: nameLength)
        if head!.head.listBytes > maxHeaderListBytes {
            // Answered 431 / RESOURCE_EXHAUSTED once the block ends; only what decides how to
            // answer is kept (one value each, so the memory stays bounded).
            head!.head.tooLarge = true
            head!.head.metadata = []
            if nameBytes.elementsEqual(HeaderName.contentType) {
                head!.head.contentType = String(decoding: UnsafeBufferPointer(start: valuePointer, count: min(valueLength, 256)),
                                                as: UTF8.self)
            } else if nameBytes.elementsEqual(HeaderName.method) {
                head!.head.method = recentHeaderStrings.string(UnsafeBufferPointer(start: valuePointer, count: valueLength))
            }
            return 0
        }
        let valueBytes = UnsafeBufferPointer(start: valuePointer, count: valueLength)
        func value() -> String { recentHeaderStrings.string(valueBytes) }
        if nameBytes.first == UInt8(ascii: ":") {
            // Pseudo-headers: only :method and :path matter (nghttp2 validated the rest).
            if nameBytes.elementsEqual(HeaderName.method) {
                head!.head.method = value()
            } else if nameBytes.elementsEqual(HeaderName.path) {
                head!.head.path = value()
            }
            return 0
        }
        if nameBytes.elementsEqual(HeaderName.te) { return 0 }
        if nameBytes.elementsEqual(HeaderName.contentType) {
            let text = value()
            head!.head.contentType = text
            head!.head.metadata.append(Metadata("content-type", text))
        } else if nameBytes.elementsEqual(HeaderName.grpcTimeout) {
            head!.head.grpcTimeout = value()
        } else if nameBytes.elementsEqual(HeaderName.grpcEncoding) {
            head!.head.grpcEncoding = value()
        } else {
            head!.head.metadata.append(Metadata(recentHeaderStrings.string(nameBytes), value()))
        }
        return 0
    }

    private func onFrameReceived(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        let type = UInt32(header.type)
        if type == NGHTTP2_HEADERS.rawValue && frame.pointee.headers.cat.rawValue == Self.requestCategory {
            guard let (streamID, request) = head, streamID == header.stream_id else { return 0 }
            head = nil
            events.append(.requestHead(streamID: streamID, head: request, endStream: endStream))
        } else if endStream && (type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue) {
            events.append(.endStream(streamID: header.stream_id))
        } else if type == NGHTTP2_RST_STREAM.rawValue {
            events.append(.clientReset(streamID: header.stream_id))
        }
        return 0
    }

    private func onDataChunk(_ streamID: Int32, _ data: UnsafeRawBufferPointer) -> Int32 {
        counters.callbacks += 1
        let start = inbound.count
        inbound.append(contentsOf: data)
        events.append(.data(streamID: streamID, range: start..<inbound.count))
        return 0
    }

    private func onFrameSent(_ frame: UnsafePointer<nghttp2_frame>) -> Int32 {
        counters.callbacks += 1
        let header = frame.pointee.hd
        let type = UInt32(header.type)
        if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
           type == NGHTTP2_HEADERS.rawValue || type == NGHTTP2_DATA.rawValue {
            events.append(.responseEnded(streamID: header.stream_id))
        }
        return 0
    }

    private func onStreamClose(_ streamID: Int32) -> Int32 {
        counters.callbacks += 1
        events.append(.closed(streamID: streamID))
        return 0
    }

    // MARK: Data provider

    private static let dataProvider: nghttp2_data_provider = {
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
            H2ServerSession.owner(userData).readData(streamID, buffer!, length, flags!)
        }
        return provider
    }()

    /// nghttp2's data source callback (inside mem_send): asks the data source for bytes; at the end
    /// of the body submits the trailers (nghttp2 allows that inside this callback).
    private func readData(_ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
                          _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        counters.callbacks += 1
        guard let read = dataSource?.readResponseBody(streamID: streamID,
                                                      into: UnsafeMutableRawBufferPointer(start: buffer, count: length))
        else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        switch read {
        case .bytes(let count):
            return count
        case .deferred:
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        case .end(let count, let trailers):
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            guard let session else { return count }
            switch trailers {
            case .none:
                break
            case .grpcOK:
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                let vector = StaticHeaderVector.grpcOKTrailers
                _ = nghttp2_submit_trailer(session, streamID, vector.entries, vector.count)
            case .headers(let headers):
                flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
                withHeaderVector(headers) { vector, count in
                    _ = nghttp2_submit_trailer(session, streamID, vector, count)
                }
            }
            return count
        }
    }
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
