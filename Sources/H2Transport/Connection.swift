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
    /// The peer's address without its port (per-address limits count by it).
    let address: String
    unowned let loop: EventLoop
    unowned let server: ServerCore
    private(set) var mode: Mode = .detecting([])
    private var writeBuffer: [UInt8] = []
    private var writeOffset = 0
    private var watchingWritable = false
    /// Reading stopped: the connection holds as many request bytes as it may.
    private var readingPaused = false
    /// Request bytes this connection holds, against its limit and the server's budget.
    var buffer: ConnectionBuffer
    var flushScheduled = false
    /// Close once everything queued has been written.
    var closeAfterFlush = false
    var lastActivity = ContinuousClock.now
    /// When the request head now being read started to arrive (for the header-read timeout).
    var headStarted: ContinuousClock.Instant? = ContinuousClock.now

    init(fd: Int32, peer: String, loop: EventLoop, server: ServerCore) {
        self.fd = fd
        self.peer = peer
        self.address = Self.address(of: peer)
        self.loop = loop
        self.server = server
        buffer = ConnectionBuffer(allowance: server.configuration.connectionBufferAllowance,
                                  limit: server.configuration.effectiveConnectionHeldBytes)
    }

    /// `peer` without its port: `127.0.0.1:5000` gives `127.0.0.1`, `[::1]:5000` gives `::1`.
    static func address(of peer: String) -> String {
        if peer.hasPrefix("["), let end = peer.firstIndex(of: "]") {
            return String(peer[peer.index(after: peer.startIndex)..<end])
        }
        guard let colon = peer.lastIndex(of: ":") else { return peer }
        return String(peer[..<colon])
    }

    // MARK: Request-byte budget

    /// Holds `count` more request bytes; false (nothing held) when the server's budget is spent.
    func holdRequestBytes(_ count: Int) -> Bool {
        buffer.take(count) { server.reserveRequestBytes($0) }
    }

    /// Gives back `count` request bytes held before.
    func releaseRequestBytes(_ count: Int) {
        guard count > 0 else { return }
        buffer.give(count) { server.releaseRequestBytes($0) }
    }

    /// Stops or resumes reading the socket (an HTTP/1.1 connection holding its share of bytes).
    func setReadingPaused(_ paused: Bool) {
        guard paused != readingPaused, !isClosed else { return }
        readingPaused = paused
        updateEvents()
        if !paused { loop.execute { [self] in if !isClosed { readAvailable() } } }
    }

    var isClosed: Bool { if case .closed = mode { return true } else { return false } }

    func handleEvents(_ events: UInt32) {
        if readingPaused && events & (clearning_epollhup() | clearning_epollerr()) != 0 {
            close() // the peer is gone; a paused connection would not read its end
            return
        }
        if events & (clearning_epollin() | clearning_epollhup() | clearning_epollerr() | clearning_epollrdhup()) != 0 {
            readAvailable()
        }
        if events & clearning_epollout() != 0, !isClosed {
            flush()
        }
    }

    /// What one wake-up reads from a connection at most: epoll is level-triggered, so the rest is
    /// read on the next turn, after the loop's other connections. A client flooding its connection
    /// delays the others by 64 KiB per turn (a probe's p99 under 100 flooding connections: see
    /// docs/BENCHMARKS.md), and a large upload still reads 64 KiB per system call.
    static let readPerWakeUp = 64 * 1024

    private func readAvailable() {
        let buffer = loop.readBuffer
        let size = min(buffer.count, Self.readPerWakeUp)
        while !isClosed && !readingPaused {
            let count = read(fd, buffer.baseAddress, size)
            if count > 0 {
                lastActivity = .now
                receive(UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
            } else if count == 0 {
                close()
            } else if errno == EINTR {
                continue
            } else if errno != EAGAIN && errno != EWOULDBLOCK {
                close()
            }
            return
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
            // Not write(2): a peer gone away would raise SIGPIPE and end the process.
            let written = writeBuffer.withUnsafeBytes { buffer in
                Sockets.send(fd, buffer.baseAddress! + writeOffset, buffer.count - writeOffset)
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
        updateEvents()
    }

    private func updateEvents() {
        loop.modify(fd, events: (readingPaused ? 0 : clearning_epollin() | clearning_epollrdhup())
                        | (watchingWritable ? clearning_epollout() : 0))
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
        releaseRequestBytes(buffer.heldBytes)
        server.connectionClosed(address: address)
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
        switch mode {
        case .http2(let handler): handler.checkRequestDeadlines(now: now)
        case .http1(let handler): handler.checkBodyDeadline(now: now)
        default: break
        }
        if isClosed { return }
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
    /// Request bytes counted against the connection's buffer: what the parser holds (a body is
    /// released when it is handed on to its handler).
    private var accountedBytes = 0
    /// The body being read: its deadline and rate.
    private var bodyIntake: RequestIntake?
    /// The head of the body being read passed the router's head check.
    private var headChecked = false
    /// Request bytes past which the socket is not read (the configuration's, read once: the
    /// shared configuration is not copied per request).
    private let readLimit: Int
    /// The server, reached without the connection once it closed.
    private let server: ServerCore
    /// What the request in flight's handler holds against the budget (its decoded cost).
    private var handlerCharge = 0

    init(connection: Connection) {
        self.connection = connection
        let configuration = connection.server.configuration
        parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: configuration.maxHeaderListBytes,
                                                        maxBodyBytes: configuration.maxHTTP1BodyBytes))
        readLimit = configuration.effectiveConnectionBufferedBytes
        server = connection.server
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !stopped else { return }
        let wasIdle = parser.isIdle
        let wasReadingBody = parser.isReadingBody
        parser.append(bytes)
        if wasReadingBody { bodyIntake?.received(bytes.count, at: .now) }
        if wasIdle && parser.isReadingHead { connection.headStarted = .now }
        processRequests()
    }

    /// Brings the connection's buffer in line with what the parser holds:
    /// false (after answering 503 and closing) when the server's budget is spent. Stops reading
    /// the socket while the connection holds its share, and reads again below it.
    private func accountBuffered() -> Bool {
        let target = parser.heldByteCount
        if target > accountedBytes {
            guard connection.holdRequestBytes(target - accountedBytes) else {
                refuse(HTTPErrorCode.unavailable.response("the server holds as many request bytes as it may; retry later",
                                                          headers: [Metadata("retry-after", "1")]))
                return false
            }
        } else if target < accountedBytes {
            connection.releaseRequestBytes(accountedBytes - target)
        }
        accountedBytes = target
        connection.setReadingPaused(target >= readLimit)
        return true
    }

    /// Answers with `response`, then closes (the request's body is not read).
    private func refuse(_ response: HTTPResponse) {
        stopped = true
        bodyIntake = nil
        respond(response, keepAlive: false, head: false, route: "HTTP/1.1 error", method: "-", path: "-", start: .now)
    }

    /// The body being read passes the router's head check, or is answered from its head alone.
    private func checkHead() -> Bool {
        guard !headChecked, let request = parser.requestInProgress else { return true }
        headChecked = true
        bodyIntake = RequestIntake(startedAt: .now)
        guard let check = connection.server.router.httpHeadCheck else { return true }
        let head = HTTPRequest(method: request.method, path: request.path, query: request.query,
                               headers: request.headers.map { Metadata($0.name, $0.value) }, body: [],
                               peer: connection.peer)
        guard let response = check(head) else { return true }
        stopped = true
        bodyIntake = nil
        respond(response, keepAlive: false, head: request.method == "HEAD", route: response.route ?? unmatchedRouteLabel,
                method: request.method, path: request.path, start: .now)
        return false
    }

    /// Called by the connection's periodic check: a body that takes longer than the request
    /// timeout, or arrives slower than the minimum rate, is answered 408 and the connection closed.
    func checkBodyDeadline(now: ContinuousClock.Instant) {
        guard !stopped, !requestInFlight, let intake = bodyIntake else { return }
        let configuration = connection.server.configuration
        let limits = RequestIntake.Limits(timeout: configuration.requestTimeout,
                                          minBytesPerSecond: configuration.minRequestBodyBytesPerSecond,
                                          grace: configuration.minRequestBodyRateGrace)
        switch intake.expiry(now: now, limits: limits) {
        case nil: return
        case .timedOut: refuse(HTTPErrorCode.requestTimeout.response("the request body did not arrive within the request timeout"))
        case .tooSlow: refuse(HTTPErrorCode.requestTimeout.response("the request body arrives too slowly"))
        }
    }

    /// Answers parsed requests in order while none is in flight and the client keeps reading its
    /// responses (at most 1 MiB of unsent responses: a client that pipelines without reading waits).
    func processRequests() {
        defer { if !stopped && !connectionGone { _ = accountBuffered() } }
        while !requestInFlight && !stopped && connection.pendingWriteBytes < 1 << 20 {
            guard let event = parser.next() else {
                // A request head being read is timed by the header timeout, a body by the
                // request timeout (`checkBodyDeadline`).
                connection.headStarted = parser.isReadingHead ? (connection.headStarted ?? .now) : nil
                _ = checkHead()
                return
            }
            switch event {
            case .continueExpected:
                // The head is checked before the client is asked for the body.
                guard checkHead() else { return }
                connection.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            case .error(let error):
                stopped = true
                let start = ContinuousClock.now
                respond(error.response, keepAlive: false, head: false, route: "HTTP/1.1 error", method: "-", path: "-", start: start)
                return
            case .request(let request):
                connection.headStarted = parser.isReadingHead ? .now : nil
                headChecked = false
                bodyIntake = nil
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
        if let refusal = connection.server.router.nonGRPCRequestRefusal(path: request.path,
                                                                        contentType: httpRequest.headers.first("content-type")) {
            respond(refusal, keepAlive: keepAlive, head: head, route: route, method: request.method, path: request.path, start: start)
            return
        }
        guard let router = connection.server.router.http else {
            respond(HTTPErrorCode.notFound.response("this server has no REST routes"), keepAlive: keepAlive, head: head,
                    route: route, method: request.method, path: request.path, start: start)
            return
        }
        switch router(httpRequest) {
        case .inline(let handler):
            respond(handler(httpRequest), keepAlive: keepAlive, head: head, route: route,
                    method: request.method, path: request.path, start: start)
        case .async(let handler):
            // The body goes to the handler, and what it costs decoded is held against the budget
            // until the handler answers (the parser's bytes are accounted first, so the body is
            // not counted twice).
            guard accountBuffered() else { return }
            let cost = max(httpRequest.body.count, connection.server.router.httpCost?(httpRequest) ?? 0)
            if cost > connection.buffer.limit {
                respond(HTTPErrorCode.payloadTooLarge.response(H2Handler.tooLargeMessage(cost: cost, limit: connection.buffer.limit)),
                        keepAlive: keepAlive, head: head, route: route, method: request.method, path: request.path, start: start)
                return
            }
            guard connection.holdRequestBytes(cost) else {
                respond(HTTPErrorCode.unavailable.response(H2Handler.overBudgetMessage(cost: cost),
                                                           headers: [Metadata("retry-after", String(Int(H2Handler.overBudgetRetryDelay)))]),
                        keepAlive: keepAlive, head: head, route: route, method: request.method, path: request.path, start: start)
                return
            }
            requestInFlight = true
            handlerCharge = cost
            let loop = connection.loop
            let operation: @Sendable () async -> Void = { [self] in
                let response = await handler(httpRequest)
                loop.execute { [self] in
                    requestInFlight = false
                    let charge = handlerCharge
                    handlerCharge = 0
                    guard !connectionGone, !connection.isClosed else {
                        server.releaseRequestBytes(charge) // kept on the server's budget when the connection closed
                        return
                    }
                    connection.releaseRequestBytes(charge)
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
        respond(HTTPErrorCode.requestTimeout.response("the request head did not arrive within the header timeout"), keepAlive: false,
                head: false, route: "HTTP/1.1 error", method: "-", path: "-", start: .now)
        connection.headStarted = nil
    }

    func connectionClosed() {
        stopped = true
        connectionGone = true
        bodyIntake = nil
        // The connection gives its whole buffer back as it closes; a handler still running keeps
        // what it holds on the server's budget until it answers.
        server.keepRequestBytes(handlerCharge)
    }
}
