import GRPCWire

/// Serves the gRPC calls of one HTTP/2 connection: looks up the method, feeds each call's
/// `GRPCCallStateMachine` the stream's events, and carries out what it returns over the six
/// handler kinds (inline, task, callback, server-, client- and bidirectional streaming).
///
/// Runs on the connection's loop thread, always after nghttp2 returned. Closures that outlive a
/// call step (tasks, timers, responders, writers) hold the `H2Handler`, never this object, and
/// look their call up by stream id: a call that ended meanwhile is simply not found.
final class GRPCCallDispatcher {
    private unowned let owner: H2Handler
    private let maxReceiveMessageBytes: Int

    /// Request encodings the server decodes besides identity (one shared set, no allocation per call).
    static let supportedEncodings: Set<String> = ["gzip"]
    /// A streaming writer waits while its call holds this much unsent response data.
    static let writerHighWater = 64 * 1024
    /// How long a refusal decided from the headers waits for the client to end its request.
    static let refusalWait: Duration = .milliseconds(100)

    init(owner: H2Handler) {
        self.owner = owner
        maxReceiveMessageBytes = owner.configuration.maxReceiveMessageBytes
    }

    private var loop: EventLoop { owner.connection.loop }

    private func scheduleFlush() { owner.connection.loop.scheduleFlush(owner.connection) }

    // MARK: Events from the connection

    /// A call's request headers arrived: the stream to keep, and what its machine decided.
    func open(_ id: Int32, _ head: H2RequestHead, endStream: Bool)
        -> (GRPCStream, GRPCCallStateMachine.HeadersAction) {
        let start = ContinuousClock.now
        let path = head.path ?? ""
        let route = owner.server.grpcRoutes[path]
        let handler = route?.handler
        var machine = GRPCCallStateMachine(maxReceiveMessageBytes: maxReceiveMessageBytes,
                                           supportedEncodings: Self.supportedEncodings)
        // Decided from the headers alone, before a byte of the request is buffered.
        var headRefusal: GRPCStatus?
        if head.tooLarge {
            headRefusal = GRPCStatus(.resourceExhausted, "the request's header list is larger than \(owner.configuration.maxHeaderListBytes) bytes")
        } else if !endStream, let check = route?.headCheck {
            headRefusal = check(head.metadata)
        }
        let action = machine.receivedHeaders(head, shape: handler.map(Self.shape), endStream: endStream,
                                             headRefusal: headRefusal)
        var context: GRPCCallContext?
        switch action {
        case .startHandler(let timeout, _), .awaitRequest(let timeout):
            context = GRPCCallContext(method: path, metadata: head.metadata.filter {
                !GRPCReservedHeaders.isReserved($0.name)
            }, deadline: timeout.map { start + $0 }, peer: owner.connection.peer)
        case .refuse, .holdRefusal:
            break
        }
        let stream = GRPCStream(id: id, start: start, head: head, machine: machine,
                                handler: context == nil ? nil : handler, context: context, cost: route?.cost)
        return (stream, action)
    }

    /// Carries out the machine's decision on the headers of a call the connection now holds.
    func headersReceived(_ stream: GRPCStream, _ action: GRPCCallStateMachine.HeadersAction) {
        switch action {
        case .refuse(let refusal):
            sendRefusal(stream, refusal)
        case .holdRefusal:
            // Answering while the client still uploads is allowed, but then the stream must be
            // reset, and clients such as curl report that reset as an error: wait a little.
            let id = stream.id
            stream.refusalTimer = loop.scheduleTimer(at: .now + Self.refusalWait) { [weak owner = self.owner] in
                guard let owner, let stream = owner.grpcStream(id) else { return }
                stream.refusalTimer = nil
                guard let refusal = stream.machine.refusalTimerFired() else { return }
                owner.grpc.sendRefusal(stream, refusal)
            }
        case .awaitRequest:
            armDeadline(stream)
        case .startHandler(_, let requestEnded):
            armDeadline(stream)
            startStreamingHandler(stream)
            if requestEnded { perform(stream, .forward([], endOfInput: true)) }
        }
    }

    func receivedData(_ stream: GRPCStream, _ bytes: UnsafeRawBufferPointer) {
        perform(stream, stream.machine.receivedData(bytes))
    }

    func receivedEndStream(_ stream: GRPCStream) {
        perform(stream, stream.machine.receivedEndStream())
    }

    /// The stream closed (reset by the client, or the connection went away).
    func closed(_ stream: GRPCStream) {
        cancelTimers(stream)
        let cancelled = GRPCStatus(.cancelled, "the client cancelled the call")
        if case .cancelHandler = stream.machine.receivedReset() {
            stream.task?.cancel()
            stream.requestContinuation?.finish(throwing: cancelled)
            stream.requestContinuation = nil
            record(stream, httpStatus: 200, grpcStatus: cancelled)
        }
        for waiter in stream.writerWaiters { waiter.resume(throwing: cancelled) }
        stream.writerWaiters = []
    }

    /// nghttp2 took bytes of the call's response: wake writers once it drained enough.
    func bodyRead(_ stream: GRPCStream) {
        if stream.body.pendingBytes < Self.writerHighWater && !stream.writerWaiters.isEmpty {
            for waiter in stream.writerWaiters { waiter.resume() }
            stream.writerWaiters = []
        }
    }

    private func perform(_ stream: GRPCStream, _ action: GRPCCallStateMachine.InputAction) {
        switch action {
        case .none:
            break
        case .runHandler(let request):
            if case .unaryInline = stream.handler {
                // Runs and ends right here: the request's bytes go back at once.
                owner.releaseAll(.grpc(stream))
                run(stream, request)
                return
            }
            // Handed on: the request's bytes leave the window, and what it costs decoded is held
            // against the budget until the handler finishes (`taskCompleted`).
            let cost = max(request.count, stream.cost?.message(request) ?? 0)
            guard charge(stream, owner.handOver(.grpc(stream), cost: cost), cost: cost) else { return }
            run(stream, request)
        case .forward(let payloads, let endOfInput):
            // A message waiting for the handler holds only its bytes, which the flow-control
            // window bounds: a handler that reads slowly slows its client. Its decoded cost is
            // charged when the handler takes it (`chargeTaken`); one that no connection could
            // ever hold is refused at once.
            for payload in payloads {
                if let requestCost = stream.cost {
                    let cost = max(payload.count, requestCost.message(payload))
                    guard cost <= owner.connection.buffer.limit else {
                        _ = charge(stream, .tooLarge, cost: cost)
                        return
                    }
                    stream.forwarded(cost: cost)
                }
                stream.requestContinuation?.yield(payload)
            }
            if endOfInput {
                stream.requestContinuation?.finish()
                stream.requestContinuation = nil
            }
        case .fail(let status):
            stream.requestContinuation?.finish(throwing: status)
            stream.requestContinuation = nil
            stream.task?.cancel()
            finish(stream, status)
        case .sendRefusal(let refusal):
            if let timer = stream.refusalTimer { loop.cancelTimer(timer) }
            stream.refusalTimer = nil
            sendRefusal(stream, refusal)
        }
    }

    /// The handler of a streaming call took its oldest forwarded message: charges its decoded
    /// cost. False when the budget cannot hold it (the call then ends with RESOURCE_EXHAUSTED
    /// and a retry pushback: other requests hold the server's memory).
    func chargeTaken(_ stream: GRPCStream) -> Bool {
        guard let requestCost = stream.cost, let cost = stream.takeForwardedCost() else { return true }
        return charge(stream, owner.chargeMessage(stream, cost: cost, messagesHeld: requestCost.messagesHeld), cost: cost)
    }

    /// Carries out the budget's answer to a handler's charge of `cost`: true when granted, else
    /// the call ends with RESOURCE_EXHAUSTED (with a retry pushback unless no connection could
    /// ever hold it) and false.
    private func charge(_ stream: GRPCStream, _ outcome: H2Handler.ChargeOutcome, cost: Int) -> Bool {
        switch outcome {
        case .granted:
            return true
        case .overBudget:
            owner.refuseOverBudget(.grpc(stream), message: H2Handler.overBudgetMessage(cost: cost))
        case .tooLarge:
            endRequest(stream, GRPCStatus(.resourceExhausted, H2Handler.tooLargeMessage(cost: cost, limit: owner.connection.buffer.limit)))
        }
        return false
    }

    // MARK: Handlers

    private static func shape(_ handler: GRPCMethodHandler) -> GRPCCallStateMachine.RequestShape {
        switch handler {
        case .unaryInline, .unary, .unaryCallback, .serverStreaming: return .single
        case .clientStreaming, .bidirectional: return .stream
        }
    }

    private func startStreamingHandler(_ stream: GRPCStream) {
        switch stream.handler {
        case .clientStreaming(let function):
            let input = startRequestStream(stream)
            startTask(stream, requestBytes: nil) { context in try await function(context, input) }
        case .bidirectional(let function):
            let input = startRequestStream(stream)
            let writer = H2ResponseWriter(handler: owner, streamID: stream.id, context: stream.context!)
            startTask(stream, requestBytes: nil) { context in
                try await function(context, input, writer)
                return nil
            }
        case .unaryInline, .unary, .unaryCallback, .serverStreaming, nil:
            preconditionFailure("a single-request handler started before its request")
        }
    }

    /// Runs a single-request handler with its request.
    private func run(_ stream: GRPCStream, _ request: [UInt8]) {
        let context = stream.context!
        switch stream.handler {
        case .unaryInline(let function):
            countHandlerCall()
            do {
                let response = try function(context, request)
                sendMessage(stream, response)
                finish(stream, .ok)
            } catch {
                finish(stream, Self.status(for: error))
            }
        case .unary(let function):
            startTask(stream, requestBytes: request.count) { context in try await function(context, request) }
        case .unaryCallback(let function):
            countHandlerCall()
            let id = stream.id
            let loop = self.loop
            let owner = self.owner
            // Always through the loop's queue, even when the function answers at once: the
            // answer then runs after this nghttp2 call, never inside one of its callbacks.
            let responder = GRPCUnaryResponder { response in
                loop.execute {
                    let result: Result<[UInt8]?, any Error>
                    do { result = .success(try response()) } catch { result = .failure(error) }
                    owner.grpc.taskCompleted(id, result)
                }
            }
            function(context, request, responder)
        case .serverStreaming(let function):
            let writer = H2ResponseWriter(handler: owner, streamID: stream.id, context: context)
            startTask(stream, requestBytes: request.count) { context in
                try await function(context, request, writer)
                return nil
            }
        case .clientStreaming, .bidirectional, nil:
            preconditionFailure("a request stream delivered as a single request")
        }
    }

    private func countHandlerCall() {
        if owner.session.inNghttp2 { owner.session.counters.handlerCallsInsideNghttp2 += 1 }
    }

    /// The request stream of a streaming handler. Each message the handler takes releases its
    /// bytes (about its size on the wire), and so opens the connection's window again: a handler
    /// that reads slowly slows its client instead of piling messages up.
    private func startRequestStream(_ stream: GRPCStream) -> AnyGRPCRequestStream {
        let (input, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        stream.requestContinuation = continuation
        let id = stream.id
        let loop = self.loop
        let owner = self.owner
        return AnyGRPCRequestStream(makeNext: {
            let box = IteratorBox(input.makeAsyncIterator())
            return {
                let message = try await box.next()
                if let message {
                    let count = GRPCMessageFramer.prefixLength + message.count
                    loop.execute {
                        guard let stream = owner.grpcStream(id) else {
                            owner.messageTaken(id)
                            return
                        }
                        guard owner.grpc.chargeTaken(stream) else { return }
                        owner.messageTaken(id)
                        owner.release(count, of: stream)
                    }
                }
                return message
            }
        })
    }

    /// Starts a call's handler: on the connection's loop for a small request, else (a large
    /// request, or a stream of them: `requestBytes` nil) on the global pool, so that decoding and
    /// checking a large batch does not hold up the other connections of the loop.
    private func startTask(_ stream: GRPCStream, requestBytes: Int?,
                           _ body: @escaping @Sendable (GRPCCallContext) async throws -> [UInt8]?) {
        countHandlerCall()
        let context = stream.context!
        let id = stream.id
        let loop = self.loop
        let owner = self.owner
        let operation: @Sendable () async -> Void = {
            let result: Result<[UInt8]?, any Error>
            do { result = .success(try await body(context)) } catch { result = .failure(error) }
            loop.execute { owner.grpc.taskCompleted(id, result) }
        }
        stream.task = loop.startHandlerTask(requestBytes: requestBytes, operation)
    }

    /// A handler's task (or callback) ended with a response message (nil for streams) or an error.
    func taskCompleted(_ id: Int32, _ result: Result<[UInt8]?, any Error>) {
        owner.handlerFinished(id)
        guard let stream = owner.grpcStream(id), !stream.machine.isClosed else { return }
        switch result {
        case .success(let response):
            if let response { sendMessage(stream, response) }
            finish(stream, .ok)
        case .failure(let error):
            finish(stream, Self.status(for: error))
        }
        scheduleFlush()
    }

    static func status(for error: any Error) -> GRPCStatus {
        if let status = error as? GRPCStatus { return status }
        if error is CancellationError { return GRPCStatus(.cancelled, "cancelled") }
        return GRPCStatus(.internal, "internal error")
    }

    // MARK: Deadlines

    private func armDeadline(_ stream: GRPCStream) {
        guard let deadline = stream.context?.deadline else { return }
        let id = stream.id
        stream.deadlineTimer = loop.scheduleTimer(at: deadline) { [weak owner = self.owner] in
            guard let owner, let stream = owner.grpcStream(id) else { return }
            stream.deadlineTimer = nil
            owner.grpc.deadlineExpired(stream)
        }
    }

    private func deadlineExpired(_ stream: GRPCStream) {
        endRequest(stream, GRPCStatus(.deadlineExceeded, "deadline exceeded"))
    }

    /// Ends a call with `status` whatever it was doing (deadline, request timeout, over budget):
    /// its handler is cancelled and its request stream ends with the status; `trailing` goes out
    /// with it (e.g. a retry pushback).
    func endRequest(_ stream: GRPCStream, _ status: GRPCStatus, trailing: [Metadata] = []) {
        guard !stream.machine.isClosed else { return }
        if case .refusing = stream.machine.state {
            if let refusal = stream.machine.refusalTimerFired() { sendRefusal(stream, refusal) }
            scheduleFlush()
            return
        }
        stream.task?.cancel()
        stream.requestContinuation?.finish(throwing: status)
        stream.requestContinuation = nil
        finish(stream, status, trailing: trailing)
        scheduleFlush()
    }

    private func cancelTimers(_ stream: GRPCStream) {
        if let timer = stream.deadlineTimer { loop.cancelTimer(timer) }
        if let timer = stream.refusalTimer { loop.cancelTimer(timer) }
        stream.deadlineTimer = nil
        stream.refusalTimer = nil
    }

    // MARK: Responses

    /// Sends one response message (headers first if needed). False when the call is over.
    @discardableResult
    private func sendMessage(_ stream: GRPCStream, _ message: [UInt8]) -> Bool {
        switch stream.machine.sendingMessage() {
        case .drop:
            return false
        case .sendHeadersAndMessage:
            _ = stream.body.appendMessage(message) // nothing submitted yet, so nothing deferred
            let initial = stream.context?.responseMetadata.initial ?? []
            if initial.isEmpty {
                owner.session.submitResponse(stream.id, headers: StaticHeaderVector.grpcResponseHeaders)
                scheduleFlush()
            } else {
                var headers = [(":status", "200"), ("content-type", "application/grpc"),
                               ("grpc-accept-encoding", "identity,gzip")]
                for item in initial { headers.append((item.name, item.value)) }
                owner.submitResponse(stream.id, headers: headers, hasBody: true)
            }
        case .sendMessage:
            owner.bodyChanged(stream.id, stream.body.appendMessage(message))
        }
        return true
    }

    /// Ends a call with a status: Trailers-Only when nothing was sent yet, trailers otherwise.
    private func finish(_ stream: GRPCStream, _ status: GRPCStatus, trailing extra: [Metadata] = []) {
        guard !stream.machine.isClosed else { return }
        let action = stream.machine.sendingStatus()
        owner.releaseAll(.grpc(stream)) // whatever the call still held (a streaming call's untaken messages)
        if let timer = stream.deadlineTimer {
            loop.cancelTimer(timer)
            stream.deadlineTimer = nil
        }
        let trailing = (stream.context?.responseMetadata.trailing ?? []) + extra
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
            owner.submitResponse(stream.id, headers: [(":status", "200"), ("content-type", "application/grpc")]
                                 + (trailers.isEmpty ? [("grpc-status", "0")] : trailers), hasBody: false)
        case .trailers:
            owner.bodyChanged(stream.id, stream.body.end(trailers: trailers.isEmpty ? .grpcOK : .headers(trailers)))
        }
        stream.requestContinuation?.finish()
        stream.requestContinuation = nil
        record(stream, httpStatus: 200, grpcStatus: status)
    }

    /// Sends a refusal decided before any handler ran.
    private func sendRefusal(_ stream: GRPCStream, _ refusal: GRPCCallStateMachine.Refusal) {
        switch refusal {
        case .http(let status):
            owner.submitResponse(stream.id, headers: [(":status", String(status)), ("content-length", "0")],
                                 hasBody: false)
            record(stream, httpStatus: status, grpcStatus: nil)
        case .status(let status, let advertise):
            var headers = [(":status", "200"), ("content-type", "application/grpc")]
            if advertise { headers.append(("grpc-accept-encoding", "identity,gzip")) }
            headers.append(("grpc-status", String(status.code.rawValue)))
            if !status.message.isEmpty { headers.append(("grpc-message", GRPCMessageText.percentEncode(status.message))) }
            owner.submitResponse(stream.id, headers: headers, hasBody: false)
            record(stream, httpStatus: 200, grpcStatus: status)
        }
    }

    private func record(_ stream: GRPCStream, httpStatus: Int, grpcStatus: GRPCStatus?) {
        // Methods the router does not serve share one label: made-up paths never become series.
        let path = stream.head.path ?? "-"
        owner.record(start: stream.start, head: stream.head,
                     route: stream.handler == nil && owner.server.grpcRoutes[path] == nil ? "unimplemented" : path,
                     httpStatus: httpStatus, grpcStatus: grpcStatus)
    }

    /// Queues a message from a streaming handler's writer; resumes the writer at once unless the
    /// call already holds a lot of unsent data (flow control), in which case it waits.
    func writerSend(_ streamID: Int32, _ message: [UInt8], _ continuation: CheckedContinuation<Void, any Error>) {
        guard let stream = owner.grpcStream(streamID), !stream.machine.isClosed, sendMessage(stream, message) else {
            continuation.resume(throwing: GRPCStatus(.cancelled, "the call is over"))
            return
        }
        if stream.body.pendingBytes < Self.writerHighWater {
            continuation.resume()
        } else {
            stream.writerWaiters.append(continuation)
        }
        scheduleFlush()
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

/// A streaming handler's writer: hands messages to the call's loop and waits while the peer's
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
            loop.execute { [handler, streamID] in handler.grpc.writerSend(streamID, message, continuation) }
        }
    }

    func addTrailingMetadata(_ metadata: Metadata) {
        context.responseMetadata.addTrailing(metadata)
    }
}
