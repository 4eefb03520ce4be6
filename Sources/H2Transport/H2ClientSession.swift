import CNghttp2
#if canImport(Glibc)
import Glibc
#endif

/// An nghttp2 client session driven by bytes (no socket): submit requests, feed received bytes,
/// take bytes to send. Used by `GRPCClient` and by tests that talk to the server in memory.
/// Like the server side, callbacks only record state; nothing re-enters nghttp2.
final class H2ClientSession {
    /// What one response looked like.
    struct Response {
        var headers: [(String, String)] = []
        var trailers: [(String, String)] = []
        var body: [UInt8] = []
        var closed = false
        var resetCode: UInt32 = 0
        var sawHeaders = false
    }

    private var session: OpaquePointer?
    private(set) var responses: [Int32: Response] = [:]
    /// Request bytes not yet handed to nghttp2 (a class, so appending never copies the buffer).
    private final class Outbound {
        var bytes: [UInt8]
        var offset = 0
        var ended: Bool
        var deferred = false
        init(bytes: [UInt8], ended: Bool) {
            self.bytes = bytes
            self.ended = ended
        }
    }

    private var outbound: [Int32: Outbound] = [:]
    /// Called with each DATA chunk as it arrives (after mem_recv returns), for streaming reads.
    var pendingChunks: [(Int32, [UInt8])] = []
    private var inNghttp2 = false
    private(set) var goAwayReceived = false

    init() {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            let owner = Unmanaged<H2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
            let id = frame!.pointee.hd.stream_id
            let pair = (String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
                        String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self))
            if owner.responses[id]?.sawHeaders == true {
                owner.responses[id]?.trailers.append(pair)
            } else {
                owner.responses[id, default: Response()].headers.append(pair)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let owner = Unmanaged<H2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
            let header = frame!.pointee.hd
            if UInt32(header.type) == NGHTTP2_HEADERS.rawValue {
                owner.responses[header.stream_id, default: Response()].sawHeaders = true
            } else if UInt32(header.type) == NGHTTP2_GOAWAY.rawValue {
                owner.goAwayReceived = true
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            let owner = Unmanaged<H2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
            let chunk = Array(UnsafeBufferPointer(start: data, count: length))
            owner.responses[streamID, default: Response()].body.append(contentsOf: chunk)
            owner.pendingChunks.append((streamID, chunk))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            let owner = Unmanaged<H2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
            owner.responses[streamID, default: Response()].closed = true
            owner.responses[streamID]?.resetCode = errorCode
            owner.outbound[streamID] = nil
            return 0
        }
        nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        var settings = [nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                                               value: 1 << 20)]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 16 << 20)
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// Submits a request; `body` is sent as DATA and, when `endStream`, the stream half-closes after it.
    /// Returns the stream id (negative on failure).
    func submitRequest(headers: [(String, String)], body: [UInt8], endStream: Bool) -> Int32 {
        var provider = nghttp2_data_provider()
        provider.read_callback = { _, streamID, buffer, length, flags, _, userData in
            let owner = Unmanaged<H2ClientSession>.fromOpaque(userData!).takeUnretainedValue()
            return owner.readOutbound(streamID, buffer!, length, flags!)
        }
        let id = withHeaderVector(headers) { vector, count in
            nghttp2_submit_request(session, nil, vector, count, &provider, nil)
        }
        if id > 0 { outbound[id] = Outbound(bytes: body, ended: endStream) }
        return id
    }

    /// Queues more request bytes; `end` half-closes the stream after them.
    func appendBody(_ streamID: Int32, _ bytes: [UInt8], end: Bool) {
        guard let entry = outbound[streamID] else { return }
        entry.bytes.append(contentsOf: bytes)
        entry.ended = entry.ended || end
        let wasDeferred = entry.deferred
        entry.deferred = false
        if wasDeferred { nghttp2_session_resume_data(session, streamID) }
    }

    /// Bytes queued for a stream but not yet handed to nghttp2.
    func unsentBytes(_ streamID: Int32) -> Int {
        guard let entry = outbound[streamID] else { return 0 }
        return entry.bytes.count - entry.offset
    }

    private func readOutbound(_ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
                              _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let entry = outbound[streamID] else {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            return 0
        }
        let count = min(length, entry.bytes.count - entry.offset)
        if count > 0 {
            let offset = entry.offset
            entry.bytes.withUnsafeBytes { source in
                UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
            }
            entry.offset += count
            if entry.offset == entry.bytes.count {
                entry.bytes.removeAll(keepingCapacity: true)
                entry.offset = 0
            }
        }
        if entry.bytes.count - entry.offset == 0 {
            if entry.ended {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                return count
            }
            if count == 0 {
                entry.deferred = true
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            }
        }
        return count
    }

    /// Cancels a stream with RST_STREAM(CANCEL).
    func resetStream(_ streamID: Int32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, NGHTTP2_CANCEL.rawValue)
    }

    /// Feeds bytes from the server; false on a protocol error.
    @discardableResult
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        precondition(!inNghttp2, "re-entrant nghttp2 call")
        inNghttp2 = true
        defer { inNghttp2 = false }
        return nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count) >= 0
    }

    /// Everything nghttp2 wants to send now.
    func produceOutput() -> [UInt8] {
        precondition(!inNghttp2, "re-entrant nghttp2 call")
        var output: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            inNghttp2 = true
            let count = nghttp2_session_mem_send(session, &data)
            inNghttp2 = false
            if count <= 0 { break }
            output.append(contentsOf: UnsafeRawBufferPointer(start: data, count: count))
        }
        return output
    }

    /// A setting the server sent (e.g. `NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS`).
    func remoteSetting(_ id: nghttp2_settings_id) -> UInt32 {
        nghttp2_session_get_remote_settings(session, id)
    }

    /// Whether the session still wants to talk.
    var isAlive: Bool { nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0 }
}
