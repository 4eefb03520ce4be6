import Testing
import HTTP1Wire
@testable import GRPCWire
@testable import H2Transport

// The plain values behind the abuse bounds (issue #19): request deadlines and held bytes, the
// connection's share of the server's budget, answers decided from the headers, the per-address
// table. No sockets; the end-to-end attacks are in LearningServiceTests/AbuseTests.

private let limits = RequestIntake.Limits(timeout: .seconds(30), minBytesPerSecond: 1000, grace: .seconds(10))

@Suite struct RequestIntakeTests {
    @Test func anIncompleteRequestTimesOutAtTheRequestTimeout() {
        let start = ContinuousClock.now
        var intake = RequestIntake(startedAt: start)
        intake.received(100_000, at: start + .seconds(1)) // fast enough for the rate
        #expect(intake.expiry(now: start + .seconds(29), limits: limits) == nil)
        #expect(intake.expiry(now: start + .seconds(30), limits: limits) == .timedOut)
        intake.completed()
        #expect(intake.expiry(now: start + .seconds(300), limits: limits) == nil)
    }

    @Test func aSilentRequestIsTooSlowOnceTheGracePassed() {
        let start = ContinuousClock.now
        var intake = RequestIntake(startedAt: start)
        #expect(intake.expiry(now: start + .seconds(9), limits: limits) == nil)
        #expect(intake.expiry(now: start + .seconds(10), limits: limits) == .tooSlow)
        intake.received(9_000, at: start + .seconds(10))
        #expect(intake.expiry(now: start + .seconds(10), limits: limits) == .tooSlow) // 9,000 < 10 s x 1,000
        intake.received(2_000, at: start + .seconds(10))
        #expect(intake.expiry(now: start + .seconds(10), limits: limits) == nil)
        let noRate = RequestIntake.Limits(timeout: .seconds(30), minBytesPerSecond: 0, grace: .seconds(10))
        #expect(RequestIntake(startedAt: start).expiry(now: start + .seconds(20), limits: noRate) == nil)
    }

    @Test func aMessageOfAStreamingCallIsTimedFromItsFirstByte() {
        let start = ContinuousClock.now
        var intake = RequestIntake()
        #expect(intake.expiry(now: start + .seconds(100), limits: limits) == nil) // silent between messages
        intake.received(50_000, at: start + .seconds(100))
        #expect(intake.startedAt == start + .seconds(100))
        #expect(intake.expiry(now: start + .seconds(130), limits: limits) == .timedOut)
    }

    @Test func releasesNeverExceedWhatIsHeld() {
        var intake = RequestIntake()
        intake.received(1000, at: .now)
        #expect(intake.release(400) == 400)
        #expect(intake.release(5000) == 600) // a gzip message inflates past its wire size: capped
        #expect(intake.heldBytes == 0)
        intake.received(10, at: .now)
        #expect(intake.releaseAll() == 10)
        #expect(intake.releaseAll() == 0)
    }
}

@Suite struct ConnectionBufferTests {
    @Test func theAllowanceIsTheConnectionsOwnAndTheRestComesFromTheServer() {
        var buffer = ConnectionBuffer(allowance: 100)
        var server = 0
        let budget = 150
        let reserve = { (count: Int) -> Bool in
            guard server + count <= budget else { return false }
            server += count
            return true
        }
        let took80 = buffer.take(80, reserve: reserve)
        #expect(took80)
        #expect(server == 0)
        let took70 = buffer.take(70, reserve: reserve)
        #expect(took70) // 20 own, 50 from the server
        #expect(server == 50)
        let took100 = buffer.take(100, reserve: reserve)
        #expect(took100)
        #expect(server == 150)
        let tookOne = buffer.take(1, reserve: reserve)
        #expect(!tookOne) // the server's budget is spent: nothing taken
        #expect(buffer.heldBytes == 250)
        buffer.give(200) { server -= $0 } // releases the server's share first
        #expect(server == 0)
        #expect(buffer.heldBytes == 50)
        buffer.give(500) { server -= $0 }
        #expect(buffer.heldBytes == 0)
        #expect(server == 0)
    }
}

@Suite struct EarlyAnswerTests {
    private func head(path: String = "/pkg.Service/Method") -> H2RequestHead {
        H2RequestHead(method: "POST", path: path, contentType: "application/grpc",
                      metadata: [Metadata("content-type", "application/grpc")])
    }

    @Test func aRESTRequestAnsweredBeforeItsEndDropsTheRestOfItsBody() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 1024)
        [1, 2, 3].withUnsafeBytes { machine.receivedData($0) }
        #expect(machine.keepsBody)
        #expect(machine.answeringEarly() == true)
        #expect(machine.answeringEarly() == false) // once
        #expect(!machine.keepsBody)
        #expect(machine.isClientOpen) // so the stream is reset once the answer is out
        [4, 5].withUnsafeBytes { machine.receivedData($0) }
        #expect(machine.receivedEndStream() == nil)
        #expect(!machine.isClientOpen)
        #expect(machine.sendingResponse() == false)
    }

    @Test func aCompleteRESTRequestIsNotAnsweredEarly() {
        var machine = HTTPStreamStateMachine(maxBodyBytes: 1024)
        #expect(machine.receivedEndStream() == .handle(body: []))
        #expect(machine.answeringEarly() == false)
        #expect(machine.sendingResponse() == true)
    }

    @Test func aCallRefusedFromItsHeadersKeepsNoneOfItsRequest() {
        var machine = GRPCCallStateMachine(maxReceiveMessageBytes: 1024, supportedEncodings: [])
        let status = GRPCStatus(.unauthenticated, "no key")
        #expect(machine.receivedHeaders(head(), shape: .single, endStream: false, headRefusal: status) == .holdRefusal)
        #expect(!machine.keepsInput)
        #expect(!machine.awaitsRequestBytes)
        #expect(GRPCMessageFramer.frame([1, 2, 3]).withUnsafeBytes { machine.receivedData($0) } == GRPCCallStateMachine.InputAction.none)
        #expect(machine.receivedEndStream() == .sendRefusal(.status(status, advertiseEncodings: false)))
    }

    @Test func aStreamingCallAwaitsBytesOnlyInsideAMessage() {
        var machine = GRPCCallStateMachine(maxReceiveMessageBytes: 1024, supportedEncodings: [])
        #expect(machine.receivedHeaders(head(), shape: .stream, endStream: false) == .startHandler(timeout: nil, requestEnded: false))
        #expect(machine.keepsInput)
        #expect(!machine.awaitsRequestBytes) // silent between messages is fine
        let frame = GRPCMessageFramer.frame([1, 2, 3, 4])
        _ = Array(frame.prefix(6)).withUnsafeBytes { machine.receivedData($0) }
        #expect(machine.awaitsRequestBytes) // a length prefix promising more than sent so far
        #expect(Array(frame.dropFirst(6)).withUnsafeBytes { machine.receivedData($0) } == .forward([[1, 2, 3, 4]], endOfInput: false))
        #expect(!machine.awaitsRequestBytes)
    }

    @Test func aSingleRequestCallAwaitsItsMessageUntilTheClientEnds() {
        var machine = GRPCCallStateMachine(maxReceiveMessageBytes: 1024, supportedEncodings: [])
        _ = machine.receivedHeaders(head(), shape: .single, endStream: false)
        #expect(machine.awaitsRequestBytes)
        _ = GRPCMessageFramer.frame([1]).withUnsafeBytes { machine.receivedData($0) }
        #expect(machine.awaitsRequestBytes) // END_STREAM still to come
        _ = machine.receivedEndStream()
        #expect(!machine.awaitsRequestBytes)
    }
}

@Suite struct PerAddressLimitTests {
    @Test func addressesAreCountedWithoutTheirPorts() {
        #expect(Connection.address(of: "127.0.0.1:5000") == "127.0.0.1")
        #expect(Connection.address(of: "[::1]:5000") == "::1")
        #expect(Connection.address(of: "test") == "test")
    }

    @Test func connectionsPerAddressAreLimited() {
        var configuration = ServerConfiguration()
        configuration.maxConnectionsPerAddress = 2
        let core = ServerCore(configuration: configuration, router: Router())
        #expect(core.admitConnection(address: "10.0.0.1"))
        #expect(core.admitConnection(address: "10.0.0.1"))
        #expect(!core.admitConnection(address: "10.0.0.1"))
        #expect(core.admitConnection(address: "10.0.0.2")) // another address is not affected
        core.connectionClosed(address: "10.0.0.1")
        #expect(core.admitConnection(address: "10.0.0.1"))
        #expect(core.rejectedConnections.load(ordering: .relaxed) == 1)
    }

    @Test func resetsAcrossConnectionsOfOneAddressBlockIt() {
        var configuration = ServerConfiguration()
        configuration.maxStreamResetsPerAddress = 10
        configuration.resetWindow = .seconds(60)
        let core = ServerCore(configuration: configuration, router: Router())
        #expect(core.admitConnection(address: "10.0.0.1"))
        #expect(core.recordResets(address: "10.0.0.1", count: 6))
        core.connectionClosed(address: "10.0.0.1") // reconnecting does not start afresh
        #expect(core.admitConnection(address: "10.0.0.1"))
        #expect(core.recordResets(address: "10.0.0.1", count: 4))
        #expect(!core.recordResets(address: "10.0.0.1", count: 1))
        #expect(!core.admitConnection(address: "10.0.0.1")) // blocked for the rest of the window
        #expect(core.admitConnection(address: "10.0.0.2"))
    }

    @Test func theServersBudgetRefusesPastItsLimit() {
        var configuration = ServerConfiguration()
        configuration.maxServerBufferedBytes = 100
        let core = ServerCore(configuration: configuration, router: Router())
        #expect(core.reserveRequestBytes(60))
        #expect(!core.reserveRequestBytes(41))
        #expect(core.reserveRequestBytes(40))
        core.releaseRequestBytes(100)
        #expect(core.bufferedRequestBytes.load(ordering: .relaxed) == 0)
    }
}

@Suite struct HTTP1AbuseParsingTests {
    @Test func twoHostHeadersAre400() {
        var parser = HTTP1RequestParser()
        parser.append(Array("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8))
        #expect(parser.next() == .error(.badRequest("more than one Host header")))
    }

    @Test func theHeadOfABodyInProgressIsVisibleBeforeTheBody() {
        var parser = HTTP1RequestParser(limits: HTTP1Limits(maxHeaderBytes: 4096, maxBodyBytes: 8 << 20))
        parser.append(Array("POST /executions HTTP/1.1\r\nHost: a\r\nContent-Length: 4000000\r\n\r\nab".utf8))
        #expect(parser.next() == nil)
        #expect(parser.isReadingBody)
        #expect(parser.requestInProgress?.path == "/executions")
        #expect(parser.heldByteCount == 2)
    }
}

@Suite struct HeldBackTests {
    @Test func timeTheServerHeldTheClientBackIsNotTheClients() {
        let start = ContinuousClock.now
        var intake = RequestIntake(startedAt: start)
        intake.received(5_000, at: start)
        intake.heldBack(for: .seconds(25))
        #expect(intake.expiry(now: start + .seconds(30), limits: limits) == nil) // 5 s of its own
        #expect(intake.expiry(now: start + .seconds(55), limits: limits) == .timedOut)
        var idle = RequestIntake()
        idle.heldBack(for: .seconds(5)) // nothing incomplete: nothing to move
        #expect(idle.startedAt == nil)
    }
}
