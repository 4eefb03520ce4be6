import GRPCWire
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of a successful call.
public struct GRPCClientResponse: Sendable {
    /// The response messages (one for unary and client-streaming calls), unless they were streamed
    /// to a callback.
    public var messages: [[UInt8]]
    /// Response headers (custom metadata, names lower-cased).
    public var initialMetadata: [Metadata]
    /// Trailers (custom metadata).
    public var trailingMetadata: [Metadata]

    /// The single response message of a unary or client-streaming call.
    public var message: [UInt8] { messages.first ?? [] }
}

/// A small blocking gRPC client over one HTTP/2 connection (nghttp2 client session), for the
/// `learning` CLI and for tests. One call at a time; not thread-safe.
///
/// ```swift
/// let client = try GRPCClient(host: "127.0.0.1", port: 50051)
/// let response = try client.unary("/learning.v1.LearningSystem/GetHealth", request: [],
///                                  metadata: [Metadata("authorization", "Bearer t")], timeout: .seconds(5))
/// ```
/// Failures are thrown as `GRPCStatus` (UNAVAILABLE for connection problems).
public final class GRPCClient {
    private let fd: Int32
    let session = H2ClientSession()
    private let authority: String
    /// The largest response message accepted.
    public var maxReceiveMessageBytes = 4 << 20

    /// Connects (blocking) to host:port, trying each address the name resolves to in turn.
    public init(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw GRPCStatus(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(result) }
        var connected: Int32 = -1
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry, connected < 0 {
            let candidate = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if candidate >= 0 {
                if connect(candidate, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                    connected = candidate
                } else {
                    lastError = errno
                    close(candidate)
                }
            } else {
                lastError = errno
            }
            entry = info.pointee.ai_next
        }
        guard connected >= 0 else {
            throw GRPCStatus(.unavailable, "cannot connect to \(host):\(port): \(String(cString: strerror(lastError)))")
        }
        fd = connected
        Sockets.setNoDelay(fd)
        authority = Self.authority(host: host, port: port)
        try send(session.produceOutput()) // the client session writes the connection preface itself
    }

    /// The `:authority` for host:port; an IPv6 literal goes in brackets.
    static func authority(host: String, port: Int) -> String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    deinit { close(fd) }

    /// A unary call.
    public func unary(_ path: String, request: [UInt8], metadata: [Metadata] = [],
                      timeout: Duration? = nil) throws -> GRPCClientResponse {
        var messages: [[UInt8]] = []
        var response = try call(path, requests: [request], metadata: metadata, timeout: timeout) { messages.append($0) }
        response.messages = messages
        return response
    }

    /// A server-streaming call; `onMessage` sees each response message as it arrives.
    @discardableResult
    public func serverStreaming(_ path: String, request: [UInt8], metadata: [Metadata] = [],
                                timeout: Duration? = nil, onMessage: ([UInt8]) throws -> Void) throws -> GRPCClientResponse {
        try call(path, requests: [request], metadata: metadata, timeout: timeout, onMessage: onMessage)
    }

    /// A client-streaming call sending every message of `requests`, sent as flow control allows.
    public func clientStreaming<Requests: Sequence>(_ path: String, requests: Requests, metadata: [Metadata] = [],
                                                    timeout: Duration? = nil) throws -> GRPCClientResponse
        where Requests.Element == [UInt8] {
        var messages: [[UInt8]] = []
        var response = try call(path, requests: requests, metadata: metadata, timeout: timeout) { messages.append($0) }
        response.messages = messages
        return response
    }

    private func call<Requests: Sequence>(_ path: String, requests: Requests, metadata: [Metadata],
                                          timeout: Duration?, onMessage: ([UInt8]) throws -> Void) throws -> GRPCClientResponse
        where Requests.Element == [UInt8] {
        var headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
                       ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "learning-grpc-client/1")]
        if let timeout { headers.append(("grpc-timeout", GRPCTimeout.format(timeout))) }
        for item in metadata { headers.append((item.name.lowercased(), item.value)) }
        let streamID = session.submitRequest(headers: headers, body: [], endStream: false)
        guard streamID > 0 else { throw GRPCStatus(.internal, "cannot start a stream") }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var iterator = requests.makeIterator()
        var inputDone = false
        var deframer = GRPCMessageDeframer(maxMessageBytes: maxReceiveMessageBytes)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }

        while true {
            // Keep about 256 KiB of request messages queued.
            while !inputDone && session.unsentBytes(streamID) < 256 * 1024 {
                if let next = iterator.next() {
                    session.appendBody(streamID, GRPCMessageFramer.frame(next), end: false)
                } else {
                    inputDone = true
                    session.appendBody(streamID, [], end: true)
                }
            }
            try send(session.produceOutput())
            if session.responses[streamID]?.closed == true { break }
            var waitMillis: Int32 = 1000
            if let deadline {
                let remaining = ContinuousClock.now.duration(to: deadline)
                if remaining <= .zero {
                    session.resetStream(streamID)
                    try? send(session.produceOutput())
                    throw GRPCStatus(.deadlineExceeded, "deadline exceeded")
                }
                waitMillis = Int32(min(1000, remaining.nanoseconds / 1_000_000 + 1))
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, waitMillis)
            if ready < 0 && errno != EINTR { throw GRPCStatus(.unavailable, "poll failed") }
            if ready <= 0 { continue }
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count <= 0 {
                throw GRPCStatus(.unavailable, "the server closed the connection")
            }
            guard session.receive(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)) else {
                throw GRPCStatus(.internal, "HTTP/2 protocol error")
            }
            for (id, chunk) in session.pendingChunks where id == streamID {
                deframer.append(chunk)
                do {
                    while let message = try deframer.next() {
                        if message.compressed { throw GRPCStatus(.internal, "compressed response without encoding") }
                        try onMessage(message.bytes)
                    }
                } catch let error as GRPCDeframingError {
                    session.resetStream(streamID)
                    try? send(session.produceOutput())
                    throw error.status
                }
            }
            session.pendingChunks.removeAll()
        }

        let response = session.responses[streamID] ?? H2ClientSession.Response()
        let statusSource = response.trailers.isEmpty ? response.headers : response.trailers
        func value(_ name: String) -> String? { statusSource.first(where: { $0.0 == name })?.1 }
        guard let statusText = value("grpc-status") else {
            if response.resetCode != 0 {
                throw GRPCStatus(.unavailable, "stream reset by the server (HTTP/2 error \(response.resetCode))")
            }
            let http = response.headers.first(where: { $0.0 == ":status" })?.1 ?? "?"
            if http != "200" {
                throw GRPCStatus(.unavailable, "the server answered HTTP \(http), not gRPC (is this the gRPC port?)")
            }
            throw GRPCStatus(.unknown, "no grpc-status in the response (HTTP status \(http))")
        }
        let code = GRPCStatusCode(rawValue: Int(statusText) ?? 2) ?? .unknown
        guard code == .ok else {
            throw GRPCStatus(code, GRPCMessageText.percentDecode(value("grpc-message") ?? ""))
        }
        // A response that ends inside a message is an error, not a silently dropped message.
        do { try deframer.finish() } catch { throw error.status }
        func custom(_ list: [(String, String)]) -> [Metadata] {
            list.filter { !GRPCReservedHeaders.isReserved($0.0) }.map { Metadata($0.0, $0.1) }
        }
        return GRPCClientResponse(messages: [], initialMetadata: response.trailers.isEmpty ? [] : custom(response.headers),
                                  trailingMetadata: custom(statusSource))
    }

    private func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            // A server gone away fails the call (EPIPE), not the process (SIGPIPE).
            let count = bytes.withUnsafeBytes { Sockets.send(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw GRPCStatus(.unavailable, "write failed: \(String(cString: strerror(errno)))")
            }
            offset += count
        }
    }
}
