import HTTP1Wire
import CLearningShims
#if canImport(Glibc)
import Glibc
#endif

/// The HTTP/2 client connection preface; a connection starting with it speaks HTTP/2, any other
/// first bytes mean HTTP/1.1.
let http2Preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

/// One accepted socket, owned by one loop. Detects the protocol from the first bytes, then hands
/// bytes to the HTTP/1.1 or HTTP/2 handler and writes what they produce, batching writes per loop
/// iteration.
final class Connection: LoopWatched, @unchecked Sendable {
    enum Mode {
        case detecting([UInt8])
        case http1(HTTP1Handler)
        case http2(H2Handler)
        case closed
    }

    let fd: Int32
    let peer: String
    unowned let loop: EventLoop
    unowned let server: ServerCore
    private(set) var mode: Mode = .detecting([])
    private var writeBuffer: [UInt8] = []
    private var writeOffset = 0
    private var watchingWritable = false
    var flushScheduled = false
    /// Close once everything queued has been written.
    var closeAfterFlush = false
    var lastActivity = ContinuousClock.now
    /// When the request head now being read started to arrive (for the header-read timeout).
    var headStarted: ContinuousClock.Instant? = ContinuousClock.now

    init(fd: Int32, peer: String, loop: EventLoop, server: ServerCore) {
        self.fd = fd
        self.peer = peer
        self.loop = loop
        self.server = server
    }

    var isClosed: Bool { if case .closed = mode { return true } else { return false } }

    func handleEvents(_ events: UInt32) {
        if events & (clearning_epollin() | clearning_epollhup() | clearning_epollerr() | clearning_epollrdhup()) != 0 {
            readAvailable()
        }
        if events & clearning_epollout() != 0, !isClosed {
            flush()
        }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        while !isClosed {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                lastActivity = .now
                receive(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
                if count < buffer.count { return }
            } else if count == 0 {
                close()
                return
            } else {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { close() }
                return
            }
        }
    }

    /// Feeds received bytes to the protocol handler (also used by in-memory tests).
    func receive(_ bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .closed:
            return
        case .http1(let handler):
            handler.receive(bytes)
        case .http2(let handler):
            handler.receive(bytes)
        case .detecting(var seen):
            seen.append(contentsOf: bytes)
            let compared = min(seen.count, http2Preface.count)
            if seen[0..<compared].elementsEqual(http2Preface[0..<compared]) {
                if seen.count < http2Preface.count {
                    mode = .detecting(seen)
                    return
                }
                let handler = H2Handler(connection: self)
                mode = .http2(handler)
                headStarted = nil
                handler.start()
                seen.withUnsafeBytes { handler.receive($0) }
            } else {
                let handler = HTTP1Handler(connection: self)
                mode = .http1(handler)
                seen.withUnsafeBytes { handler.receive($0) }
            }
        }
    }

    /// Queues bytes for the socket; they go out at the end of this loop iteration.
    func write(_ bytes: [UInt8]) {
        if writeBuffer.isEmpty {
            writeBuffer = bytes
        } else {
            writeBuffer.append(contentsOf: bytes)
        }
        loop.scheduleFlush(self)
    }

    func appendToWriteBuffer(_ bytes: UnsafeRawBufferPointer) {
        writeBuffer.append(contentsOf: bytes)
    }

    var pendingWriteBytes: Int { writeBuffer.count - writeOffset }

    /// Produces pending protocol output and writes as much as the socket takes.
    func flush() {
        guard !isClosed else { return }
        while true {
            if case .http2(let handler) = mode {
                handler.produceOutput(limit: 1 << 20)
            }
            if pendingWriteBytes == 0 { break }
            let written = writeBuffer.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + writeOffset, buffer.count - writeOffset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    setWatchingWritable(true)
                    return
                }
                close()
                return
            }
            writeOffset += written
            if writeOffset == writeBuffer.count {
                writeBuffer.removeAll(keepingCapacity: writeBuffer.capacity <= 256 * 1024)
                writeOffset = 0
            } else {
                setWatchingWritable(true)
                return
            }
        }
        setWatchingWritable(false)
        if case .http2(let handler) = mode, handler.isFinished {
            close()
            return
        }
        if closeAfterFlush {
            close()
            return
        }
        if case .http1(let handler) = mode, !handler.requestInFlight {
            handler.processRequests() // requests held back while responses were unsent
        }
    }

    private func setWatchingWritable(_ on: Bool) {
        guard on != watchingWritable else { return }
        watchingWritable = on
        loop.modify(fd, events: clearning_epollin() | clearning_epollrdhup() | (on ? clearning_epollout() : 0))
    }

    /// Closes the socket and cancels every call on it.
    func close() {
        guard !isClosed else { return }
        let previous = mode
        mode = .closed
        switch previous {
        case .http2(let handler): handler.connectionClosed()
        case .http1(let handler): handler.connectionClosed()
        default: break
        }
        loop.unregister(fd)
        Glibc.close(fd)
        writeBuffer = []
        server.connectionClosed()
    }

    /// Whether a request is being served (so idle and drain logic leave the connection alone).
    var hasWorkInFlight: Bool {
        switch mode {
        case .http1(let handler): return handler.requestInFlight
        case .http2(let handler): return handler.hasActiveStreams
        default: return false
        }
    }

    /// Called by the loop's periodic check.
    func checkTimeouts(now: ContinuousClock.Instant, configuration: ServerConfiguration) {
        guard !isClosed else { return }
        if let started = headStarted, started + configuration.headerReadTimeout <= now {
            switch mode {
            case .http1(let handler):
                handler.headerReadTimedOut()
            default:
                close()
            }
            return
        }
        if !hasWorkInFlight && pendingWriteBytes == 0 && lastActivity + configuration.idleTimeout <= now {
            if case .http2(let handler) = mode {
                handler.goAway()
                closeAfterFlush = true
                loop.scheduleFlush(self)
            } else {
                close()
            }
        }
    }

    /// Starts a graceful close: HTTP/2 sends GOAWAY and lets in-flight streams finish; HTTP/1.1
    /// closes after the current response.
    func beginDrain() {
        switch mode {
        case .http2(let handler):
            handler.goAway()
            loop.scheduleFlush(self)
        case .http1(let handler):
            if handler.requestInFlight {
                handler.closeAfterCurrent = true
            } else {
                closeAfterFlush = true
                loop.scheduleFlush(self)
            }
        case .detecting:
            close()
        case .closed:
            break
        }
    }
}

/// HTTP/1.1 on one connection: parses requests and answers them one at a time, in order (pipelined
/// requests wait in the parser's buffer until the response before them is written).
final class HTTP1Handler: @unchecked Sendable {
    unowned let connection: Connection
    private var parser: HTTP1RequestParser
    private(set) var requestInFlight = false
    var closeAfterCurrent = false
    private var stopped = false
    /// Set when the connection closed: `connection` (unowned) must not be touched any more.
    private var connectionGone = false

    init(connection: Connection) {
        self.connection = connection
        let configuration = connection.server.configuration
        parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: configuration.maxHeaderListBytes,
                                                        maxBodyBytes: configuration.maxHTTP1BodyBytes))
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !stopped else { return }
        let wasIdle = parser.isIdle
        parser.append(bytes)
        if wasIdle && parser.isReadingHead { connection.headStarted = .now }
        processRequests()
    }

    /// Answers parsed requests in order while none is in flight and the client keeps reading its
    /// responses (at most 1 MiB of unsent responses: a client that pipelines without reading waits).
    func processRequests() {
        while !requestInFlight && !stopped && connection.pendingWriteBytes < 1 << 20 {
            guard let event = parser.next() else {
                // Only a request head being read is timed; a body in progress is covered by the
                // idle timeout.
                connection.headStarted = parser.isReadingHead ? (connection.headStarted ?? .now) : nil
                return
            }
            switch event {
            case .continueExpected:
                connection.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            case .error(let error):
                stopped = true
                let start = ContinuousClock.now
                respond(HTTPResponse(status: error.status, headers: [Metadata("content-type", "text/plain")],
                                     body: Array("\(HTTP1ResponseSerializer.reasonPhrase(error.status))\n".utf8)),
                        keepAlive: false, head: false, route: "HTTP/1.1 error", method: "-", path: "-", start: start)
                return
            case .request(let request):
                connection.headStarted = parser.isReadingHead ? .now : nil
                handle(request)
            }
        }
    }

    private func handle(_ request: HTTP1Request) {
        let start = ContinuousClock.now
        let keepAlive = request.keepAlive && !closeAfterCurrent && !connection.server.isDraining
        let httpRequest = HTTPRequest(method: request.method, path: request.path, query: request.query,
                                      headers: request.headers.map { Metadata($0.name, $0.value) },
                                      body: request.body, peer: connection.peer)
        let head = request.method == "HEAD"
        let route = unmatchedRouteLabel  // unless the response names the route it matched
        guard let router = connection.server.router.http else {
            respond(HTTPResponse(status: 404, body: Array("not found\n".utf8)), keepAlive: keepAlive, head: head,
                    route: route, method: request.method, path: request.path, start: start)
            return
        }
        switch router(httpRequest) {
        case .inline(let handler):
            respond(handler(httpRequest), keepAlive: keepAlive, head: head, route: route,
                    method: request.method, path: request.path, start: start)
        case .async(let handler):
            requestInFlight = true
            let loop = connection.loop
            let operation: @Sendable () async -> Void = { [self] in
                let response = await handler(httpRequest)
                loop.execute { [self] in
                    requestInFlight = false
                    guard !connectionGone, !connection.isClosed else { return }
                    respond(response, keepAlive: keepAlive && !closeAfterCurrent, head: head, route: route,
                            method: request.method, path: request.path, start: start)
                    processRequests()
                }
            }
            loop.startHandlerTask(requestBytes: httpRequest.body.count, operation)
        }
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, head: Bool, route: String,
                         method: String, path: String, start: ContinuousClock.Instant) {
        var bytes: [UInt8] = []
        HTTP1ResponseSerializer.append(status: response.status,
                                       headers: response.headers.map { ($0.name, $0.value) },
                                       body: response.body, keepAlive: keepAlive,
                                       date: connection.loop.httpDate(), omitBody: head, to: &bytes)
        connection.write(bytes)
        if !keepAlive {
            stopped = true
            connection.closeAfterFlush = true
        }
        connection.server.recordRequest(loop: connection.loop, route: response.route ?? route, protocolName: "HTTP/1.1",
                                        method: method, path: path, status: response.status, grpcStatus: nil,
                                        start: start, peer: connection.peer)
    }

    func headerReadTimedOut() {
        guard !requestInFlight, !stopped else { return }
        stopped = true
        respond(HTTPResponse(status: 408, body: Array("request header read timeout\n".utf8)), keepAlive: false,
                head: false, route: "HTTP/1.1 error", method: "-", path: "-", start: .now)
        connection.headStarted = nil
    }

    func connectionClosed() {
        stopped = true
        connectionGone = true
    }
}
