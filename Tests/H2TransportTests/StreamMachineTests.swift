import Testing
@testable import GRPCWire
@testable import H2Transport

// The per-stream machines of the HTTP/2 server as plain values, and the nghttp2 session wrapper
// driven by bytes: no sockets, no loop, no handlers.

private func grpcHead(path: String = "/pkg.Service/Method", method: String = "POST",
                      contentType: String = "application/grpc", encoding: String? = nil,
                      timeout: String? = nil) -> H2RequestHead {
    H2RequestHead(method: method, path: path, contentType: contentType, grpcEncoding: encoding, grpcTimeout: timeout,
                  metadata: [Metadata("content-type", contentType)])
}

private func callMachine(limit: Int = 1024) -> GRPCCallStateMachine {
    GRPCCallStateMachine(maxReceiveMessageBytes: limit, supportedEncodings: ["gzip"])
}

private func data(_ machine: inout GRPCCallStateMachine, _ bytes: [UInt8]) -> GRPCCallStateMachine.InputAction {
    bytes.withUnsafeBytes { machine.receivedData($0) }
}

@Suite struct GRPCCallStateMachineTests {
    @Test func unaryCallRunsItsHandlerOnlyOnceItsOneRequestHasArrived() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(timeout: "2S"), shape: .single, endStream: false)
                == .awaitRequest(timeout: .seconds(2)))
        let frame = GRPCMessageFramer.frame([1, 2])
        #expect(data(&machine, Array(frame.prefix(3))) == GRPCCallStateMachine.InputAction.none)
        #expect(data(&machine, Array(frame.dropFirst(3))) == GRPCCallStateMachine.InputAction.none)
        #expect(machine.isClientOpen)
        #expect(machine.receivedEndStream() == .runHandler(request: [1, 2]))
        #expect(!machine.isClientOpen)
        #expect(!machine.isClosed)
        #expect(machine.sendingMessage() == .sendHeadersAndMessage)
        #expect(machine.sendingMessage() == .sendMessage)
        #expect(machine.sendingStatus() == .trailers)
        #expect(machine.isClosed)
        #expect(machine.sendingStatus() == .drop)
        #expect(machine.sendingMessage() == .drop)
        #expect(machine.receivedReset() == GRPCCallStateMachine.ResetAction.none)
    }

    @Test func unaryCallWithTwoRequestMessagesFailsInternal() {
        var machine = callMachine()
        _ = machine.receivedHeaders(grpcHead(), shape: .single, endStream: false)
        #expect(data(&machine, GRPCMessageFramer.frame([1]) + GRPCMessageFramer.frame([2])) == GRPCCallStateMachine.InputAction.none)
        #expect(machine.receivedEndStream()
                == .fail(GRPCStatus(.internal, "expected one request message, got several")))
        // The dispatcher answers the failure with the status: Trailers-Only, nothing was sent.
        #expect(machine.sendingStatus() == .trailersOnly)
        #expect(machine.isClosed)
    }

    @Test func unaryCallEndingWithoutAMessageFailsInternal() {
        var machine = callMachine()
        _ = machine.receivedHeaders(grpcHead(), shape: .single, endStream: false)
        #expect(machine.receivedEndStream() == .fail(GRPCStatus(.internal, "expected one request message, got none")))
    }

    @Test func unaryCallWhoseHeadersEndTheStreamFailsAtOnce() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(), shape: .single, endStream: true)
                == .refuse(.status(GRPCStatus(.internal, "expected one request message, got none"), advertiseEncodings: false)))
        #expect(machine.isClosed)
        #expect(!machine.isClientOpen)
    }

    @Test func streamingCallWhoseHeadersEndTheStreamGetsAnEmptyRequestStream() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(timeout: "5m"), shape: .stream, endStream: true)
                == .startHandler(timeout: .milliseconds(5), requestEnded: true))
        #expect(!machine.isClientOpen)
        #expect(machine.sendingMessage() == .sendHeadersAndMessage)
        #expect(machine.sendingStatus() == .trailers)
    }

    @Test func streamingCallStartsAtItsHeadersAndForwardsEachMessage() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(), shape: .stream, endStream: false)
                == .startHandler(timeout: nil, requestEnded: false))
        #expect(data(&machine, GRPCMessageFramer.frame([1]) + GRPCMessageFramer.frame([2]))
                == .forward([[1], [2]], endOfInput: false))
        #expect(data(&machine, Array(GRPCMessageFramer.frame([3]).prefix(2))) == GRPCCallStateMachine.InputAction.none)
        #expect(data(&machine, Array(GRPCMessageFramer.frame([3]).dropFirst(2))) == .forward([[3]], endOfInput: false))
        #expect(machine.receivedEndStream() == .forward([], endOfInput: true))
        #expect(machine.sendingStatus() == .trailersOnly)
    }

    @Test func gzipMessagesAreInflatedAndBadGzipFailsTheCall() {
        let gzipOf123: [UInt8] = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 99, 100, 98, 6, 0, 29, 128, 188, 85, 3, 0, 0, 0]
        var machine = callMachine()
        _ = machine.receivedHeaders(grpcHead(encoding: "gzip"), shape: .stream, endStream: false)
        #expect(data(&machine, GRPCMessageFramer.frame(gzipOf123, compressed: true)) == .forward([[1, 2, 3]], endOfInput: false))
        guard case .fail(let status) = data(&machine, GRPCMessageFramer.frame([1, 2, 3], compressed: true)) else {
            Issue.record("bad gzip was delivered"); return
        }
        #expect(status.code == .internal)
    }

    @Test func inputAfterAFailedRequestIsIgnoredWhileTheStatusGoesOut() {
        var machine = callMachine(limit: 4)
        _ = machine.receivedHeaders(grpcHead(), shape: .stream, endStream: false)
        guard case .fail(let status) = data(&machine, [0, 0, 0, 0, 9]) else { Issue.record("no failure"); return }
        #expect(status.code == .resourceExhausted)
        #expect(machine.sendingStatus() == .trailersOnly)
        #expect(data(&machine, GRPCMessageFramer.frame([1])) == GRPCCallStateMachine.InputAction.none)
        #expect(machine.isClientOpen)
        #expect(machine.receivedEndStream() == GRPCCallStateMachine.InputAction.none)
        #expect(!machine.isClientOpen)
    }

    @Test func failedInputIgnoresTheRestButStillSeesTheClientEnd() {
        var machine = callMachine(limit: 4)
        _ = machine.receivedHeaders(grpcHead(), shape: .single, endStream: false)
        guard case .fail(let status) = data(&machine, [0, 0, 0, 0, 9]) else { Issue.record("no failure"); return }
        #expect(status.code == .resourceExhausted)
        #expect(machine.receivedEndStream() == GRPCCallStateMachine.InputAction.none)
        #expect(!machine.isClientOpen) // so no RST_STREAM follows the status
        #expect(machine.sendingStatus() == .trailersOnly)
    }

    @Test func refusalOfAnEndedRequestIsSentAtOnce() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(method: "GET"), shape: .single, endStream: true)
                == .refuse(.http(status: 405)))
        #expect(machine.isClosed)
        #expect(machine.sendingMessage() == .drop)
        #expect(machine.sendingStatus() == .drop)
    }

    @Test func unknownMethodIsRefusedUnimplementedOnceTheClientEnds() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(path: "/no.Such/Method"), shape: nil, endStream: false) == .holdRefusal)
        #expect(!machine.isClosed)
        // Its messages are not even deframed (this one would be over the limit).
        #expect(data(&machine, [0, 0x7f, 0xff, 0xff, 0xff]) == GRPCCallStateMachine.InputAction.none)
        #expect(machine.sendingStatus() == .drop)
        #expect(machine.receivedEndStream()
                == .sendRefusal(.status(GRPCStatus(.unimplemented, "unknown method /no.Such/Method"), advertiseEncodings: false)))
        #expect(machine.isClosed)
        #expect(machine.refusalTimerFired() == nil)
    }

    @Test func heldRefusalGoesOutWhenItsTimerFiresAndTheClientStillSends() {
        var machine = callMachine()
        #expect(machine.receivedHeaders(grpcHead(encoding: "snappy"), shape: .single, endStream: false) == .holdRefusal)
        #expect(machine.refusalTimerFired()
                == .status(GRPCStatus(.unimplemented, "grpc-encoding 'snappy' is not supported"), advertiseEncodings: true))
        #expect(machine.isClosed)
        #expect(machine.isClientOpen) // so the connection resets the stream once the refusal went out
        #expect(machine.receivedEndStream() == GRPCCallStateMachine.InputAction.none)
        #expect(!machine.isClientOpen)
    }

    @Test func resetCancelsALiveCallButNotARefusal() {
        var live = callMachine()
        _ = live.receivedHeaders(grpcHead(), shape: .single, endStream: false)
        #expect(live.receivedReset() == .cancelHandler)
        #expect(live.isClosed)
        #expect(live.sendingStatus() == .drop)

        var refused = callMachine()
        _ = refused.receivedHeaders(grpcHead(contentType: "application/grpc+json"), shape: .single, endStream: false)
        #expect(refused.receivedReset() == GRPCCallStateMachine.ResetAction.none)
        #expect(refused.refusalTimerFired() == nil)
    }
}

private func feed(_ machine: inout HTTPStreamStateMachine, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { machine.receivedData($0) }
}

@Suite struct HTTPStreamStateMachineTests {
    @Test func bodyIsHandedToTheHandlerWhenTheRequestEnds() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 8)
        #expect(machine.isClientOpen)
        feed(&machine, [1, 2, 3])
        feed(&machine, [4, 5])
        let ended = machine.receivedEndStream()
        #expect(ended == .handle(body: [1, 2, 3, 4, 5]))
        #expect(!machine.isClientOpen)
        let first = machine.sendingResponse(), second = machine.sendingResponse()
        #expect(first && !second)
    }

    @Test func requestWithoutBodyIsHandledAtOnce() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 8)
        let ended = machine.receivedEndStream()
        #expect(ended == .handle(body: []))
    }

    @Test func bodyOverTheLimitIsDroppedAndAnswered413() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 4)
        feed(&machine, [1, 2, 3])
        feed(&machine, [4, 5])
        guard case .discardingBody = machine.state else { Issue.record("kept \(machine.state)"); return }
        feed(&machine, [6])
        let ended = machine.receivedEndStream()
        #expect(ended == .rejectTooLarge)
        let sent = machine.sendingResponse()
        #expect(sent)
    }

    @Test func resetBeforeTheResponseDropsTheLateResponse() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 4)
        let ended = machine.receivedEndStream()
        #expect(ended == .handle(body: []))
        machine.receivedReset()
        let sent = machine.sendingResponse()
        #expect(!sent)

        var uploading = HTTPStreamStateMachine(maxBodyBytes: 4)
        uploading.receivedReset()
        let uploadEnded = uploading.receivedEndStream()
        #expect(uploadEnded == nil)
    }
}

private func read(_ body: inout H2ResponseBody, max: Int) -> (H2ResponseBody.Read, [UInt8]) {
    var buffer = [UInt8](repeating: 0, count: max)
    let result = buffer.withUnsafeMutableBytes { body.read(into: $0) }
    switch result {
    case .bytes(let count), .end(let count, _): return (result, Array(buffer.prefix(count)))
    case .deferred: return (result, [])
    }
}

@Suite struct H2ResponseBodyTests {
    @Test func emptyOpenBodyDefersAndAMessageAsksForAResume() {
        var body = H2ResponseBody()
        guard case .deferred = read(&body, max: 16).0 else { Issue.record("did not defer"); return }
        guard case .resume = body.appendMessage([7]) else { Issue.record("no resume"); return }
        let (result, bytes) = read(&body, max: 16)
        guard case .bytes(6) = result else { Issue.record("read \(result)"); return }
        #expect(bytes == GRPCMessageFramer.frame([7]))
        guard case .none = body.appendMessage([8]) else { Issue.record("resumed an open body"); return }
    }

    @Test func trailersFollowTheLastByteOfAnEndedBody() {
        var body = H2ResponseBody()
        _ = body.appendMessage([1, 2, 3])
        guard case .none = body.end(trailers: .headers([("grpc-status", "5")])) else { Issue.record("resumed"); return }
        #expect(body.pendingBytes == 8)
        guard case .bytes(5) = read(&body, max: 5).0 else { Issue.record("not a partial read"); return }
        let (result, bytes) = read(&body, max: 16)
        guard case .end(3, .headers(let trailers)) = result else { Issue.record("read \(result)"); return }
        #expect(bytes == [1, 2, 3])
        #expect(trailers.map { $0.1 } == ["5"])
        guard case .ended = body.state else { Issue.record("state \(body.state)"); return }
    }

    @Test func endingADeferredBodyAsksForAResumeAndEndsWithoutBytes() {
        var body = H2ResponseBody()
        _ = read(&body, max: 4)
        guard case .resume = body.end(trailers: .grpcOK) else { Issue.record("no resume"); return }
        guard case .end(0, .grpcOK) = read(&body, max: 4).0 else { Issue.record("did not end"); return }
    }

    @Test func completeRESTBodyIsReadInChunksThenEndsTheStream() {
        var body = H2ResponseBody(complete: Array(0..<10))
        guard case .bytes(4) = read(&body, max: 4).0 else { Issue.record("first chunk"); return }
        guard case .bytes(4) = read(&body, max: 4).0 else { Issue.record("second chunk"); return }
        let (result, bytes) = read(&body, max: 4)
        guard case .end(2, .none) = result else { Issue.record("read \(result)"); return }
        #expect(bytes == [8, 9])
    }
}

/// The session wrapper alone: bytes from an in-memory client in, events and response bytes out.
@Suite struct H2ServerSessionTests {
    private final class Body: H2ResponseDataSource {
        var bodies: [Int32: H2ResponseBody] = [:]
        func readResponseBody(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer) -> H2ResponseBody.Read? {
            bodies[streamID]?.read(into: buffer)
        }
    }

    private enum Seen: Equatable {
        case head(Int32, String?, String?, [String], endStream: Bool)
        case data(Int32, [UInt8])
        case endStream(Int32)
        case responseEnded(Int32)
        case closed(Int32)
        case clientReset(Int32)
        case tooLarge(Int32)
    }

    private func drain(_ session: H2ServerSession) -> [Seen] {
        var seen: [Seen] = []
        session.drainEvents { event, bytes in
            switch event {
            case .requestHead(let id, let head, let endStream):
                if head.tooLarge { seen.append(.tooLarge(id)) }
                seen.append(.head(id, head.method, head.path, head.metadata.map(\.name), endStream: endStream))
            case .data(let id, _): seen.append(.data(id, Array(bytes)))
            case .clientReset(let id): seen.append(.clientReset(id))
            case .endStream(let id): seen.append(.endStream(id))
            case .responseEnded(let id): seen.append(.responseEnded(id))
            case .closed(let id): seen.append(.closed(id))
            }
        }
        return seen
    }

    private func exchange(_ client: H2ClientSession, _ session: H2ServerSession) -> [Seen] {
        var seen: [Seen] = []
        for _ in 0..<4 {
            let request = client.produceOutput()
            request.withUnsafeBytes { _ = session.receive($0) }
            seen += drain(session)
            var response: [UInt8] = []
            while session.send({ response.append(contentsOf: $0) }) > 0 {}
            seen += drain(session)
            response.withUnsafeBytes { _ = client.receive($0) }
        }
        return seen
    }

    @Test func callbacksBecomeEventsInOrderAndBodiesComeFromTheDataSource() {
        let session = H2ServerSession(maxConcurrentStreams: 8, maxHeaderListBytes: 4096)
        let source = Body()
        session.dataSource = source
        let client = H2ClientSession()
        let id = client.submitRequest(headers: [(":method", "POST"), (":scheme", "http"), (":path", "/p.S/M"),
                                                (":authority", "t"), ("content-type", "application/grpc"),
                                                ("te", "trailers"), ("grpc-timeout", "1S"), ("x-a", "b")],
                                      body: [1, 2, 3], endStream: true)
        let received = exchange(client, session)
        #expect(Array(received.prefix(3)) == [.head(id, "POST", "/p.S/M", ["content-type", "x-a"], endStream: false),
                                              .data(id, [1, 2, 3]), .endStream(id)])
        #expect(session.counters.reentrantSessionCalls == 0)

        var body = H2ResponseBody()
        _ = body.appendMessage([9])
        _ = body.end(trailers: .grpcOK)
        source.bodies[id] = body
        session.submitResponse(id, headers: StaticHeaderVector.grpcResponseHeaders)
        #expect(exchange(client, session) == [.responseEnded(id), .closed(id)])
        #expect(client.responses[id]?.body == GRPCMessageFramer.frame([9]))
        #expect(client.responses[id]?.trailers.first(where: { $0.0 == "grpc-status" })?.1 == "0")
    }

    @Test func headersOverTheListLimitMarkTheRequestTooLargeInsteadOfResettingIt() {
        let session = H2ServerSession(maxConcurrentStreams: 8, maxHeaderListBytes: 200)
        let source = Body()
        session.dataSource = source
        let client = H2ClientSession()
        let big = client.submitRequest(headers: [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                                                 (":authority", "t"), ("x-big", String(repeating: "a", count: 300))],
                                       body: [], endStream: true)
        let small = client.submitRequest(headers: [(":method", "GET"), (":scheme", "http"), (":path", "/ok"),
                                                   (":authority", "t")], body: [], endStream: true)
        let received = exchange(client, session)
        // (The in-memory client ends a request with an empty DATA frame.)
        #expect(received.contains(.head(small, "GET", "/ok", [], endStream: false)))
        #expect(received.contains(.endStream(small)))
        // The big request still arrives, marked, without the headers past the limit: the owner
        // answers it 431 / RESOURCE_EXHAUSTED instead of an INTERNAL_ERROR reset.
        #expect(received.contains(.tooLarge(big)))
        #expect(received.contains(.head(big, "GET", "/", [], endStream: false)))
        #expect(!received.contains(.tooLarge(small)))
        #expect(!session.failed)
    }
}
