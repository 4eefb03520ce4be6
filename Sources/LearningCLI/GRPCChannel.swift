import CNghttp2
import Foundation
import GRPCWire
#if canImport(Glibc)
import Glibc
#endif

// A minimal blocking gRPC client over nghttp2 for the CLI: one TCP connection, one call at a time,
// prior-knowledge HTTP/2 (h2c). nghttp2 is driven with mem_send/mem_recv from a loop on the
// channel's own thread, never from inside a callback; callbacks only record into `CallState`
// and return 0 (no Swift error crosses a C frame).

/// What one call has received so far; written by nghttp2 callbacks, read by the loop.
private final class CallState {
    var streamID: Int32 = -1
    var httpStatus: String?
    var contentType: String?
    var grpcStatus: String?
    var grpcMessage: String?
    var deframer = GRPCMessageDeframer(maxMessageBytes: 64 << 20)
    var messages: [[UInt8]] = []
    var framingError: GRPCStatus?
    var closed = false
    var resetCode: UInt32 = 0
    var requestBody: [UInt8] = []
    var requestOffset = 0
}

/// Messages collected on the channel's thread for the caller.
private final class MessageBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[UInt8]] = []
    func append(_ batch: [[UInt8]]) { lock.withLock { storage += batch } }
    var messages: [[UInt8]] { lock.withLock { storage } }
}

/// A connection to the server's gRPC port.
final class GRPCChannel: RPCChannel, @unchecked Sendable {
    private let fd: Int32
    private let authority: String
    private var session: OpaquePointer?
    /// The call in flight (one at a time: `queue` is serial).
    private var current: CallState?
    private let queue = DispatchQueue(label: "learning.cli.grpc")
    /// Unary calls give up after this long (sent as `grpc-timeout` too).
    let unaryTimeout: Duration = .seconds(120)

    /// Connects to `settings.host:settings.port` and starts the HTTP/2 session.
    static func connect(_ settings: ConnectionSettings) async throws -> GRPCChannel {
        let fd = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try openSocket(host: settings.host, port: settings.port) })
            }
        }
        let authority = settings.host.contains(":") ? "[\(settings.host)]:\(settings.port)" : "\(settings.host):\(settings.port)"
        let channel = GRPCChannel(fd: fd, authority: authority)
        try channel.startSession()
        return channel
    }

    private init(fd: Int32, authority: String) {
        self.fd = fd
        self.authority = authority
    }

    deinit {
        if let session { nghttp2_session_del(session) }
        close(fd)
    }

    /// A blocking TCP connection with TCP_NODELAY.
    private static func openSocket(host: String, port: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw GRPCStatus(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            if fd >= 0 {
                if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    var one: Int32 = 1
                    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    return fd
                }
                lastError = errno
                close(fd)
            }
            entry = info.pointee.ai_next
        }
        throw GRPCStatus(.unavailable, "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
    }

    private func startSession() throws {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
            throw GRPCStatus(.internal, "nghttp2: out of memory")
        }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, let name, let value, let user else { return 0 }
            let channel = Unmanaged<GRPCChannel>.fromOpaque(user).takeUnretainedValue()
            guard let call = channel.current, frame.pointee.hd.stream_id == call.streamID else { return 0 }
            let key = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let text = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            switch key {
            case ":status": call.httpStatus = text
            case "content-type": call.contentType = text
            case "grpc-status": call.grpcStatus = text
            case "grpc-message": call.grpcMessage = GRPCMessageText.percentDecode(text)
            default: break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, user in
            guard let data, let user else { return 0 }
            let channel = Unmanaged<GRPCChannel>.fromOpaque(user).takeUnretainedValue()
            guard let call = channel.current, streamID == call.streamID, call.framingError == nil else { return 0 }
            call.deframer.append(UnsafeRawBufferPointer(start: data, count: length))
            do {
                while let message = try call.deframer.next() {
                    if message.compressed {
                        call.framingError = GRPCStatus(.internal, "the server sent a compressed message the CLI did not ask for")
                        break
                    }
                    call.messages.append(message.bytes)
                }
            } catch let error as GRPCDeframingError {
                call.framingError = error.status
            } catch {
                call.framingError = GRPCStatus(.internal, "\(error)")
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, user in
            guard let user else { return 0 }
            let channel = Unmanaged<GRPCChannel>.fromOpaque(user).takeUnretainedValue()
            if let call = channel.current, streamID == call.streamID {
                call.closed = true
                call.resetCode = errorCode
            }
            return 0
        }
        var session: OpaquePointer?
        guard nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque()) == 0 else {
            throw GRPCStatus(.internal, "nghttp2: cannot create a client session")
        }
        self.session = session
        var window = nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 1 << 24)
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &window, 1)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 1 << 26)
    }

    // MARK: Calls

    func unary(_ path: String, _ request: [UInt8], metadata: [(String, String)]) async throws -> [UInt8] {
        let collected = MessageBox()
        try await call(path, request, metadata: metadata, timeout: unaryTimeout) { collected.append($0) }
        let messages = collected.messages
        guard messages.count == 1 else {
            throw GRPCStatus(.internal, "expected one response message, got \(messages.count)")
        }
        return messages[0]
    }

    func serverStreaming(_ path: String, _ request: [UInt8], metadata: [(String, String)],
                         onMessage: @Sendable ([UInt8]) async throws -> Void) async throws {
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        let task = Task {
            do {
                try await call(path, request, metadata: metadata, timeout: nil) { batch in
                    for message in batch { continuation.yield(message) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        defer { task.cancel() }
        for try await message in stream { try await onMessage(message) }
    }

    /// Runs one call on the channel's thread; `deliver` gets messages as they arrive (on that thread).
    private func call(_ path: String, _ request: [UInt8], metadata: [(String, String)], timeout: Duration?,
                      deliver: @escaping @Sendable ([[UInt8]]) -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result { try self.runCall(path, request, metadata: metadata, timeout: timeout, deliver: deliver) })
            }
        }
    }

    private static let dataSourceRead: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, user in
        guard let buffer, let flags, let user else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        let channel = Unmanaged<GRPCChannel>.fromOpaque(user).takeUnretainedValue()
        guard let call = channel.current, streamID == call.streamID else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
        let count = min(length, call.requestBody.count - call.requestOffset)
        call.requestBody.withUnsafeBytes { bytes in
            if count > 0 { buffer.update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + call.requestOffset, count: count) }
        }
        call.requestOffset += count
        if call.requestOffset == call.requestBody.count { flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
        return count
    }

    private func runCall(_ path: String, _ request: [UInt8], metadata: [(String, String)], timeout: Duration?,
                         deliver: ([[UInt8]]) -> Void) throws {
        guard let session else { throw GRPCStatus(.unavailable, "the connection is closed") }
        let call = CallState()
        call.requestBody = GRPCMessageFramer.frame(request)
        current = call
        defer { current = nil }

        var headers: [(String, String)] = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
                                           ("content-type", "application/grpc+proto"), ("te", "trailers"),
                                           ("user-agent", "learning-cli/1.0")]
        if let timeout { headers.append(("grpc-timeout", GRPCTimeout.format(timeout))) }
        headers += metadata
        let nameBytes = headers.map { Array($0.0.utf8) }
        let valueBytes = headers.map { Array($0.1.utf8) }
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.dataSourceRead)
        // nghttp2 copies the header block in submit_request, so the pointers only live for this call.
        let streamID: Int32 = withNVs(nameBytes, valueBytes) { nva in
            nghttp2_submit_request(session, nil, nva.baseAddress, nva.count, &provider, nil)
        }
        guard streamID > 0 else { throw GRPCStatus(.internal, "nghttp2: cannot submit the request (\(streamID))") }
        call.streamID = streamID

        let deadline = timeout.map { ContinuousClock.now + $0 }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            try flush(session)
            if !call.messages.isEmpty {
                deliver(call.messages)
                call.messages.removeAll()
            }
            if call.closed || call.framingError != nil { break }
            guard nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0 else {
                throw GRPCStatus(.unavailable, "the server closed the connection")
            }
            var waitMilliseconds: Int32 = -1
            if let deadline {
                let left = deadline - ContinuousClock.now
                if left <= .zero { throw GRPCStatus(.deadlineExceeded, "no answer within \(timeout!)") }
                waitMilliseconds = Int32(min(Int64(Int32.max), left.components.seconds * 1000 + 1))
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, waitMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw GRPCStatus(.unavailable, "poll: \(String(cString: strerror(errno)))")
            }
            if ready == 0 { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw GRPCStatus(.unavailable, "read: \(String(cString: strerror(errno)))")
            }
            if count == 0 { throw GRPCStatus(.unavailable, "the server closed the connection") }
            let consumed = buffer.withUnsafeBytes { nghttp2_session_mem_recv(session, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), count) }
            if consumed < 0 {
                throw GRPCStatus(.internal, "HTTP/2 protocol error: \(String(cString: nghttp2_strerror(Int32(consumed))))")
            }
        }
        if let error = call.framingError { throw error }
        if let status = call.grpcStatus {
            guard let number = Int(status), let code = GRPCStatusCode(rawValue: number) else {
                throw GRPCStatus(.unknown, "the server sent grpc-status \(status)")
            }
            if code != .ok { throw GRPCStatus(code, call.grpcMessage ?? "") }
            do { try call.deframer.finish() } catch { throw error.status }
            return
        }
        if let http = call.httpStatus, http != "200" {
            throw GRPCStatus(.unavailable, "the server answered HTTP \(http), not gRPC (is --server the gRPC port?)")
        }
        throw GRPCStatus(.unavailable, "the call ended without a gRPC status (stream error \(call.resetCode))")
    }

    /// Writes everything nghttp2 has queued.
    private func flush(_ session: OpaquePointer) throws {
        while true {
            var data: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &data)
            if length < 0 { throw GRPCStatus(.internal, "nghttp2: \(String(cString: nghttp2_strerror(Int32(length))))") }
            guard length > 0, let data else { return }
            var offset = 0
            while offset < length {
                let written = write(fd, data + offset, length - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw GRPCStatus(.unavailable, "write: \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }
}

/// Builds the `nghttp2_nv` array over the given name and value bytes for the duration of `body`.
private func withNVs<R>(_ names: [[UInt8]], _ values: [[UInt8]], _ body: (UnsafeMutableBufferPointer<nghttp2_nv>) -> R) -> R {
    // One contiguous block holds every name and value while `body` runs.
    let total = (names + values).reduce(0) { $0 + $1.count }
    let block = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, total))
    defer { block.deallocate() }
    let nva = UnsafeMutableBufferPointer<nghttp2_nv>.allocate(capacity: names.count)
    defer { nva.deallocate() }
    var offset = 0
    for index in names.indices {
        let name = block + offset
        name.update(from: names[index], count: names[index].count)
        offset += names[index].count
        let value = block + offset
        value.update(from: values[index], count: values[index].count)
        offset += values[index].count
        nva[index] = nghttp2_nv(name: name, value: value, namelen: names[index].count, valuelen: values[index].count,
                                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
    }
    return body(nva)
}
