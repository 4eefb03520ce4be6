import GRPCWire

/// A gRPC call's stream: its machine, its response body, and the I/O resources the dispatcher
/// ties to the machine's phases (handler task, request stream, writers waiting on flow control,
/// timers). Owned by its connection's loop thread.
final class GRPCStream {
    let id: Int32
    let start: ContinuousClock.Instant
    let head: H2RequestHead
    var machine: GRPCCallStateMachine
    var body = H2ResponseBody()
    /// The method's handler and the call's context; nil for a refused call.
    let handler: GRPCMethodHandler?
    let context: GRPCCallContext?
    var task: Task<Void, Never>?
    /// The request stream of a client-streaming or bidirectional handler.
    var requestContinuation: AsyncThrowingStream<[UInt8], any Error>.Continuation?
    /// Streaming writers waiting until the response body drains below `writerHighWater`.
    var writerWaiters: [CheckedContinuation<Void, any Error>] = []
    /// The call's deadline (`grpc-timeout`), while the call runs.
    var deadlineTimer: UInt64?
    /// Ends the wait of a held refusal.
    var refusalTimer: UInt64?
    /// The request bytes the call holds, and since when its request (or message) is incomplete.
    var intake = RequestIntake()
    /// What a request message costs once decoded (nil: its size).
    let cost: RequestCost?
    /// The decoded costs of the messages forwarded to a streaming handler and not taken yet,
    /// oldest first: each is charged when the handler takes its message.
    private var untakenCosts = CostQueue()

    /// A message costing `cost` once decoded was forwarded to the handler.
    func forwarded(cost: Int) {
        untakenCosts.append(cost)
    }

    /// The handler took the oldest forwarded message: its cost (nil when none was recorded).
    func takeForwardedCost() -> Int? {
        untakenCosts.popFirst()
    }

    init(id: Int32, start: ContinuousClock.Instant, head: H2RequestHead, machine: GRPCCallStateMachine,
         handler: GRPCMethodHandler?, context: GRPCCallContext?, cost: RequestCost? = nil) {
        self.id = id
        self.start = start
        self.head = head
        self.machine = machine
        self.handler = handler
        self.context = context
        self.cost = cost
    }
}

/// A REST request's stream: its machine and its response body.
final class HTTPStream {
    let id: Int32
    let start: ContinuousClock.Instant
    let head: H2RequestHead
    var machine: HTTPStreamStateMachine
    var body = H2ResponseBody()
    /// The body bytes the request holds, and since when it is incomplete.
    var intake = RequestIntake()

    init(id: Int32, start: ContinuousClock.Instant, head: H2RequestHead, machine: HTTPStreamStateMachine) {
        self.id = id
        self.start = start
        self.head = head
        self.machine = machine
    }
}

/// One open HTTP/2 stream: a gRPC call or a REST request (decided by its `content-type`).
enum H2Stream {
    case grpc(GRPCStream)
    case http(HTTPStream)
}

/// HTTP/2 on one connection: owns the nghttp2 session and the open streams, and hands each event
/// the session recorded to the gRPC dispatcher or the HTTP responder, after nghttp2 returned.
///
/// The three parts: `H2ServerSession` (the only code that touches nghttp2; callbacks become
/// events), `GRPCCallDispatcher` (gRPC calls over the six handler kinds) and `H2HTTPResponder`
/// (REST over HTTP/2). Per-stream protocol state lives in plain-value machines
/// (`GRPCCallStateMachine`, `HTTPStreamStateMachine`, `H2ResponseBody`).
final class H2Handler: H2ResponseDataSource, @unchecked Sendable {
    unowned let connection: Connection
    let session: H2ServerSession
    let server: ServerCore
    let configuration: ServerConfiguration
    private(set) var streams: [Int32: H2Stream] = [:]
    /// Serves the gRPC calls (closures that outlive a step reach it through this handler).
    private(set) var grpc: GRPCCallDispatcher!
    /// Serves the REST requests.
    private(set) var http: H2HTTPResponder!
    /// The request timeout and minimum body rate every stream is held to.
    let limits: RequestIntake.Limits
    /// When `checkRequestDeadlines` last ran.
    private var lastDeadlineCheck: ContinuousClock.Instant?

    init(connection: Connection) {
        self.connection = connection
        self.server = connection.server
        self.configuration = connection.server.configuration
        session = H2ServerSession(maxConcurrentStreams: configuration.maxConcurrentStreams,
                                  maxHeaderListBytes: configuration.maxHeaderListBytes,
                                  connectionWindow: configuration.effectiveConnectionBufferedBytes)
        limits = RequestIntake.Limits(timeout: configuration.requestTimeout,
                                      minBytesPerSecond: configuration.minRequestBodyBytesPerSecond,
                                      grace: configuration.minRequestBodyRateGrace)
        grpc = GRPCCallDispatcher(owner: self)
        http = H2HTTPResponder(owner: self)
        session.dataSource = self
    }

    /// Sends the server's SETTINGS (queued by the session); a session nghttp2 could not create
    /// closes the connection.
    func start() {
        if session.failed { connection.closeAfterFlush = true }
    }

    /// The reentrancy counters of the session (tests).
    var counters: ReentrancyCounters { session.counters }

    var hasActiveStreams: Bool { !streams.isEmpty }

    /// True when the session has nothing more to do and the connection can close.
    var isFinished: Bool {
        if session.failed { return true }
        if session.goAwaySent && streams.isEmpty { return true }
        return session.isDone
    }

    // MARK: Driving the session (never from inside a callback)

    func receive(_ bytes: UnsafeRawBufferPointer) {
        guard !session.failed else { return }
        if !session.receive(bytes) {
            // nghttp2 queued a GOAWAY for a protocol error; send it, then close.
            connection.closeAfterFlush = true
        }
        processEvents()
        connection.loop.scheduleFlush(connection)
    }

    /// Serializes pending frames into the connection's write buffer, up to `limit` buffered bytes.
    func produceOutput(limit: Int) {
        while connection.pendingWriteBytes < limit {
            let count = session.send { connection.appendToWriteBuffer($0) }
            // Callbacks during mem_send (stream close) may have recorded events; act on them now.
            let hadEvents = session.hasEvents
            processEvents()
            if count == 0 && !hadEvents { break }
        }
    }

    // MARK: Acting on events (after nghttp2 returned)

    private func processEvents() {
        var receivedData = false
        session.drainEvents { event, bytes in
            switch event {
            case .requestHead(let id, let head, let endStream):
                open(id, head, endStream: endStream)
            case .data(let id, _):
                receivedData = true
                received(bytes, on: id)
            case .endStream(let id):
                switch streams[id] {
                case .grpc(let stream):
                    stream.intake.completed()
                    grpc.receivedEndStream(stream)
                    releaseUnkept(.grpc(stream))
                case .http(let stream):
                    stream.intake.completed()
                    http.requestEnded(stream)
                case nil: break
                }
            case .clientReset:
                if !server.recordResets(address: connection.address, count: 1) { tooManyResets() }
            case .responseEnded(let id):
                // RFC 9113 8.1: after a complete response, ask a client that is still sending to
                // stop, without error (clients such as curl otherwise wait to finish).
                if let stream = streams[id], isClientOpen(stream) {
                    session.resetStreamNoError(id)
                    connection.loop.scheduleFlush(connection)
                }
            case .closed(let id):
                if let stream = streams.removeValue(forKey: id) { closed(stream) }
            }
        }
        if receivedData { refuseIfStalled() }
    }

    // MARK: Request bytes: the budget and the flow-control windows

    /// Body bytes of stream `id` arrived: the stream's window opens again at once (its own limit
    /// is the machine's), the connection's only as the bytes are released. Bytes the stream does
    /// not keep, or that the server's budget cannot hold, are released at once.
    private func received(_ bytes: UnsafeRawBufferPointer, on id: Int32) {
        let count = bytes.count
        session.consumeStream(id, count)
        guard let stream = streams[id] else {
            session.consumeConnection(count)
            return
        }
        guard keeps(stream) else {
            session.consumeConnection(count)
            return
        }
        guard connection.holdRequestBytes(count) else {
            session.consumeConnection(count)
            refuseOverBudget(stream)
            return
        }
        switch stream {
        case .grpc(let call):
            call.intake.received(count, at: .now)
            grpc.receivedData(call, bytes)
            if !call.machine.awaitsRequestBytes { call.intake.completed() }
        case .http(let request):
            request.intake.received(count, at: .now)
            request.machine.receivedData(bytes)
        }
        releaseUnkept(stream)
    }

    /// Whether the stream keeps the request bytes it receives now.
    private func keeps(_ stream: H2Stream) -> Bool {
        switch stream {
        case .grpc(let call): return call.machine.keepsInput
        case .http(let request): return request.machine.keepsBody
        }
    }

    /// A stream that stopped keeping its input (refused, failed, over its limit) gives back what it held.
    private func releaseUnkept(_ stream: H2Stream) {
        if !keeps(stream) && !handlerHolds(stream) { releaseAll(stream) }
    }

    /// Whether the request bytes a stream holds are its handler's: messages a streaming handler
    /// has not taken yet (released as it takes them). A single request is released when it is
    /// handed on to its handler, whose own limits (queue, statuses) take over from there.
    private func handlerHolds(_ stream: H2Stream) -> Bool {
        if case .grpc(let call) = stream, case .running(.stream) = call.machine.state { return !call.machine.isClosed }
        return false
    }

    /// Releases `count` of the request bytes a gRPC call holds (its handler took a message).
    func release(_ count: Int, of call: GRPCStream) {
        let released = call.intake.release(count)
        connection.releaseRequestBytes(released)
        session.consumeConnection(released)
        if released > 0 { connection.loop.scheduleFlush(connection) }
    }

    /// Releases everything a stream holds (it ended, or its handler is done).
    func releaseAll(_ stream: H2Stream) {
        let released: Int
        switch stream {
        case .grpc(let call): released = call.intake.releaseAll()
        case .http(let request): released = request.intake.releaseAll()
        }
        guard released > 0 else { return }
        connection.releaseRequestBytes(released)
        session.consumeConnection(released)
        connection.loop.scheduleFlush(connection)
    }

    // MARK: What handlers hold: their decoded requests

    /// What each handler holds against the budget, by stream id, from the moment it gets its
    /// request until it finishes: possibly after its stream ended (a deadline or a reset cancels a
    /// task, which still has to wind down; a callback handler is never cancelled), or after its
    /// connection closed (`connectionClosed` moves the charges onto the server's budget).
    private var handlerCharges: [Int32: HandlerCharge] = [:]
    /// The connection closed: the handlers' charges are the server's alone.
    private var chargesDetached = false

    /// Whether the budget took a handler's charge.
    enum ChargeOutcome: Equatable {
        case granted
        /// The connection's limit or the server's budget cannot hold it now: retry later.
        case overBudget
        /// More than one connection may hold at all.
        case tooLarge
    }

    /// Hands a single request to its handler: the request bytes its stream holds leave the
    /// flow-control window (the client may send again) and are replaced, against the budget, by
    /// the request's decoded `cost`, held until `handlerFinished`. Nothing changes unless granted.
    func handOver(_ stream: H2Stream, cost: Int) -> ChargeOutcome {
        let id: Int32
        let held: Int
        switch stream {
        case .grpc(let call): (id, held) = (call.id, call.intake.heldBytes)
        case .http(let request): (id, held) = (request.id, request.intake.heldBytes)
        }
        if cost > connection.buffer.limit { return .tooLarge }
        if cost > held {
            guard connection.holdRequestBytes(cost - held) else { return .overBudget }
        } else {
            connection.releaseRequestBytes(held - cost)
        }
        switch stream {
        case .grpc(let call): _ = call.intake.releaseAll()
        case .http(let request): _ = request.intake.releaseAll()
        }
        if held > 0 {
            session.consumeConnection(held)
            connection.loop.scheduleFlush(connection)
        }
        handlerCharges[id, default: HandlerCharge()].charged(cost)
        return .granted
    }

    /// The handler of a streaming call took a message: its decoded `cost` is charged (until then
    /// its bytes were the stream's, in the flow-control window) and held until the handler has
    /// taken `messagesHeld` messages after it, or finished.
    func chargeMessage(_ call: GRPCStream, cost: Int, messagesHeld: Int) -> ChargeOutcome {
        if cost > connection.buffer.limit { return .tooLarge }
        guard connection.holdRequestBytes(cost) else { return .overBudget }
        handlerCharges[call.id, default: HandlerCharge(messagesHeld: messagesHeld)].charged(cost)
        return .granted
    }

    /// The streaming handler of stream `id` took a message: the charge of the one it no longer holds goes back.
    func messageTaken(_ id: Int32) {
        guard let released = handlerCharges[id]?.took(), released > 0 else { return }
        giveBack(released)
    }

    /// The handler of stream `id` finished (returned, threw or answered): its charge goes back.
    func handlerFinished(_ id: Int32) {
        guard var charge = handlerCharges.removeValue(forKey: id) else { return }
        giveBack(charge.releaseAll())
    }

    /// Gives a handler's charge back: to the connection, or once it closed to the server.
    private func giveBack(_ count: Int) {
        if chargesDetached {
            if count > 0 { server.releaseRequestBytes(count) }
        } else {
            connection.releaseRequestBytes(count)
        }
    }

    /// What the handlers of this connection hold now (tests).
    var handlerChargedBytes: Int { handlerCharges.values.reduce(0) { $0 + $1.bytes } }

    private func intake(of stream: H2Stream) -> RequestIntake {
        switch stream {
        case .grpc(let call): return call.intake
        case .http(let request): return request.intake
        }
    }

    /// The client can send (almost) nothing more before a WINDOW_UPDATE.
    private var windowClosed: Bool { session.connectionWindowRemaining < 64 * 1024 }

    /// The connection's window is (nearly) closed and every byte it holds belongs to a request
    /// still incomplete: nothing will free it, so the client would wait for ever. The requests
    /// holding the most are refused and their bytes released until the window opens again
    /// (nghttp2 sends WINDOW_UPDATE once half of it was consumed), and the others can go on.
    private func refuseIfStalled() {
        guard windowClosed else { return }
        var incomplete: [(bytes: Int, stream: H2Stream)] = []
        for stream in streams.values {
            let intake = intake(of: stream)
            guard intake.heldBytes > 0 else { continue }
            if intake.startedAt == nil || handlerHolds(stream) { return } // a handler will release bytes
            incomplete.append((intake.heldBytes, stream))
        }
        incomplete.sort { $0.bytes > $1.bytes }
        for (_, stream) in incomplete where windowClosed {
            refuseOverBudget(stream)
        }
    }

    /// How long a request refused for want of memory budget is told to wait (seconds): about the
    /// time the requests ahead of it take to be handled and release their bytes.
    static let overBudgetRetryDelay: Double = 1

    static let overBudgetMessage = "the server holds as many request bytes as it may; retry later"

    /// Why a request whose decoded cost the budget cannot hold is refused.
    static func overBudgetMessage(cost: Int) -> String {
        "the server holds as much request memory as it may (this request holds \(cost) bytes once decoded); retry later"
    }

    /// Why a request that costs more than a connection may hold is refused, for good.
    static func tooLargeMessage(cost: Int, limit: Int) -> String {
        "this request would hold \(cost) bytes once decoded, more than one connection may hold (\(limit)); send it in smaller parts"
    }

    /// Refuses a request the budget cannot hold: REST 503, gRPC RESOURCE_EXHAUSTED (the stream is
    /// reset once the answer is out, if the client still sends), and releases its bytes.
    func refuseOverBudget(_ stream: H2Stream, message: String = H2Handler.overBudgetMessage) {
        switch stream {
        case .grpc(let call):
            grpc.endRequest(call, GRPCStatus(.resourceExhausted, message),
                            trailing: [.retryPushback(seconds: Self.overBudgetRetryDelay)])
        case .http(let request):
            let response = HTTPErrorCode.unavailable.response(message, headers: [Metadata("retry-after", String(Int(Self.overBudgetRetryDelay)))])
            if request.machine.isClientOpen {
                http.answerEarly(request, response)
            } else {
                http.respond(request, response, head: request.head.method == "HEAD")
            }
        }
        releaseAll(stream)
    }

    /// Called by the connection's periodic check: requests that did not arrive within the request
    /// timeout, or arrive slower than the minimum rate, are answered (408, DEADLINE_EXCEEDED) and
    /// release what they hold.
    func checkRequestDeadlines(now: ContinuousClock.Instant) {
        defer { lastDeadlineCheck = now }
        // While the connection's window is closed because handlers hold its bytes (streaming
        // handlers that read slowly), its clients wait for the server: that time is not theirs.
        if let last = lastDeadlineCheck, windowClosed {
            let held = last.duration(to: now)
            for stream in streams.values {
                switch stream {
                case .grpc(let call): call.intake.heldBack(for: held)
                case .http(let request): request.intake.heldBack(for: held)
                }
            }
        }
        for stream in streams.values {
            guard let expiry = intake(of: stream).expiry(now: now, limits: limits) else { continue }
            let why = expiry == .timedOut ? "the request did not arrive within the request timeout"
                                          : "the request arrives too slowly"
            switch stream {
            case .grpc(let call):
                call.intake.completed()
                grpc.endRequest(call, GRPCStatus(.deadlineExceeded, why))
            case .http(let request):
                request.intake.completed()
                http.answerEarly(request, HTTPErrorCode.requestTimeout.response(why))
            }
            releaseAll(stream)
        }
    }

    /// The client's address sent more resets than allowed: GOAWAY (ENHANCE_YOUR_CALM), then close.
    private func tooManyResets() {
        session.goAwayEnhanceYourCalm()
        connection.closeAfterFlush = true
        connection.loop.scheduleFlush(connection)
    }

    private func open(_ id: Int32, _ head: H2RequestHead, endStream: Bool) {
        if case .notGRPC = GRPCContentType(head.contentType) {
            let stream = HTTPStream(id: id, start: .now, head: head,
                                    machine: HTTPStreamStateMachine(maxBodyBytes: configuration.maxHTTP1BodyBytes))
            streams[id] = .http(stream)
            if endStream {
                http.requestEnded(stream)
            } else {
                stream.intake = RequestIntake(startedAt: stream.start)
                http.headReceived(stream)
            }
        } else {
            let (stream, action) = grpc.open(id, head, endStream: endStream)
            streams[id] = .grpc(stream)
            // A single-request call's message must arrive within the request timeout; a streaming
            // call is timed per message, from its first byte.
            if case .awaitRequest = action { stream.intake = RequestIntake(startedAt: stream.start) }
            grpc.headersReceived(stream, action)
        }
    }

    private func isClientOpen(_ stream: H2Stream) -> Bool {
        switch stream {
        case .grpc(let stream): return stream.machine.isClientOpen
        case .http(let stream): return stream.machine.isClientOpen
        }
    }

    private func closed(_ stream: H2Stream) {
        releaseAll(stream)
        switch stream {
        case .grpc(let stream): grpc.closed(stream)
        case .http(let stream): stream.machine.receivedReset()
        }
    }

    /// The open gRPC call on stream `id` (answers coming back to the loop look their call up).
    func grpcStream(_ id: Int32) -> GRPCStream? {
        if case .grpc(let stream) = streams[id] { return stream }
        return nil
    }

    /// The open REST request on stream `id`.
    func httpStream(_ id: Int32) -> HTTPStream? {
        if case .http(let stream) = streams[id] { return stream }
        return nil
    }

    // MARK: Answers

    /// Submits response headers whose body (if `hasBody`) comes from the stream's `H2ResponseBody`.
    func submitResponse(_ streamID: Int32, headers: [(String, String)], hasBody: Bool) {
        session.submitResponse(streamID, headers: headers, hasBody: hasBody)
        connection.loop.scheduleFlush(connection)
    }

    /// Resumes a stream whose body nghttp2 deferred, if `resume` says so, and flushes.
    func bodyChanged(_ streamID: Int32, _ resume: H2ResponseBody.Resume) {
        if case .resume = resume { session.resumeData(streamID) }
        connection.loop.scheduleFlush(connection)
    }

    /// Records a finished request in the metrics and the access log.
    func record(start: ContinuousClock.Instant, head: H2RequestHead, route: String, httpStatus: Int,
                grpcStatus: GRPCStatus?) {
        server.recordRequest(loop: connection.loop, route: route, protocolName: "HTTP/2",
                             method: head.method ?? "-", path: head.path ?? "-", status: httpStatus,
                             grpcStatus: grpcStatus, start: start, peer: connection.peer)
    }

    /// nghttp2 asks for response bytes (inside mem_send): from the stream's body.
    func readResponseBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> H2ResponseBody.Read? {
        switch streams[streamID] {
        case .grpc(let stream):
            let read = stream.body.read(into: buffer)
            grpc.bodyRead(stream)
            return read
        case .http(let stream):
            return stream.body.read(into: buffer)
        case nil:
            return nil
        }
    }

    // MARK: Connection-level

    /// Sends GOAWAY: streams already started finish, new ones are refused.
    func goAway() {
        session.goAway()
        connection.loop.scheduleFlush(connection)
    }

    func connectionClosed() {
        let all = Array(streams.values)
        streams.removeAll()
        for stream in all { closed(stream) }
        // The connection gives its whole buffer back as it closes; handlers still running keep
        // what they hold on the server's budget until they finish (and no longer reach the
        // connection, which is gone by then).
        server.keepRequestBytes(handlerChargedBytes)
        chargesDetached = true
    }
}
