import Foundation
import Synchronization
import Testing
@testable import GRPCWire
@testable import H2Transport
#if canImport(Glibc)
import Glibc
#endif

// The memory budget charges what a request costs once decoded (`RequestCost`, `Router.httpCost`)
// from the moment its handler gets it until the handler finishes (issue 19). The plain values
// first, then through real sockets: charges held while handlers run, refusals past the budget,
// releases when handlers end (even after their call did).

@Suite struct HandlerChargeTests {
    @Test func aSingleRequestIsHeldUntilItsHandlerFinishes() {
        var charge = HandlerCharge()
        charge.charged(1_000)
        #expect(charge.bytes == 1_000)
        #expect(charge.releaseAll() == 1_000)
        #expect(charge.bytes == 0)
        let released1 = charge.releaseAll()
        #expect(released1 == 0)
    }

    @Test func aStreamingHandlerHoldsItsLastMessagesAndThoseNotTakenYet() {
        var charge = HandlerCharge(messagesHeld: 2)
        for cost in [10, 20, 30, 40] { charge.charged(cost) }
        #expect(charge.bytes == 100) // forwarded, none taken yet: all held
        let released2 = charge.took()
        #expect(released2 == 0)  // holds message 0
        let released3 = charge.took()
        #expect(released3 == 0)  // holds 0 and 1
        let released4 = charge.took()
        #expect(released4 == 10) // holds 1 and 2: 0 goes back
        #expect(charge.bytes == 90)
        let released5 = charge.took()
        #expect(released5 == 20) // holds 2 and 3
        #expect(charge.bytes == 70)
        let released7 = charge.releaseAll()
        #expect(released7 == 70)
    }

    @Test func releasedChargesDoNotPileUpInALongStream() {
        var charge = HandlerCharge(messagesHeld: 1)
        var released = 0
        for _ in 0..<10_000 {
            charge.charged(7)
            released += charge.took()
        }
        #expect(released == 9_999 * 7)
        #expect(charge.bytes == 7)
    }
}

@Suite struct ConnectionLimitTests {
    @Test func aConnectionNeverHoldsMoreThanItsLimit() {
        var buffer = ConnectionBuffer(allowance: 100, limit: 1_000)
        var server = 0
        let reserve = { (count: Int) -> Bool in server += count; return true }
        let took900 = buffer.take(900, reserve: reserve)
        let took101 = buffer.take(101, reserve: reserve)
        #expect(took900)
        #expect(!took101) // past the limit: nothing taken, nothing reserved
        #expect(server == 800)
        let took100 = buffer.take(100, reserve: reserve)
        #expect(took100)
        #expect(buffer.heldBytes == 1_000)
        buffer.give(1_000) { server -= $0 }
        #expect(server == 0)
    }

    @Test func theDefaultLimitIs16MiBOrTwoWindows() {
        var configuration = ServerConfiguration(maxReceiveMessageBytes: 4 << 20, maxHTTP1BodyBytes: 4 << 20)
        #expect(configuration.effectiveConnectionHeldBytes == 16 << 20)
        configuration.maxReceiveMessageBytes = 32 << 20
        #expect(configuration.effectiveConnectionHeldBytes == 2 * (33 << 20))
        configuration.maxConnectionHeldBytes = 1 << 20
        #expect(configuration.effectiveConnectionHeldBytes == 1 << 20)
    }
}

/// Handlers that wait until the test opens the gate, whether or not their call was cancelled.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    let entered = Atomic<Int>(0)

    func wait() async {
        entered.add(1, ordering: .relaxed)
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

@Suite(.serialized) struct DecodedCostServerTests {
    static let hold = "/test.Budget/Hold"
    static let huge = "/test.Budget/Huge"
    static let mib = 1 << 20

    /// A server whose every request costs 1 MiB decoded (`Huge`: 32 MiB), handlers waiting on `gate`.
    private func server(gate: Gate, serverBudget: Int) throws -> TestServer {
        var router = Router()
        router.register(Self.hold, .unary { _, _ in
            await gate.wait()
            return []
        })
        router.chargeDecoded(Self.hold, RequestCost { _ in Self.mib })
        router.register(Self.huge, .unary { _, _ in [] })
        router.chargeDecoded(Self.huge, RequestCost { _ in 32 * Self.mib })
        router.http = { request in
            .async { _ in
                await gate.wait()
                return HTTPResponse(status: 200, body: Array("done".utf8))
            }
        }
        router.httpCost = { request in request.path == "/huge" ? 32 * Self.mib : Self.mib }
        return try TestServer(configure: { configuration in
            configuration.loopThreads = 1
            configuration.connectionBufferAllowance = 0
            configuration.maxServerBufferedBytes = serverBudget
        }, router: router)
    }

    private func waitUntil(_ what: @autoclosure () -> String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + TestTiming.patience(.seconds(2))
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what())") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// One HTTP/1.1 request over a fresh connection; the response's head and body.
    private static func http1(_ port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("cannot connect") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            answer += buffer[0..<count]
            let text = String(decoding: answer, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n"),
               let length = text[..<end.lowerBound].split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") })
                .flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }),
               answer.count >= text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length {
                break
            }
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func chargesAreHeldWhileHandlersRunAndRefusedPastTheBudget() async throws {
        let gate = Gate()
        let test = try server(gate: gate, serverBudget: 2 * Self.mib + Self.mib / 2)
        defer { test.stop() }
        let port = test.port
        // Two calls on two connections: 1 MiB each while their handlers wait. Their clients run on
        // threads of their own from the start (a Task would wait for the concurrency pool, which
        // other suites may keep busy for a while).
        let answered = Mutex<[Bool]>([])
        for request: [UInt8] in [[1, 2, 3], [4]] {
            startThread {
                let served = (try? GRPCClient(host: "127.0.0.1", port: port).unary(Self.hold, request: request)) != nil
                answered.withLock { $0.append(served) }
            }
        }
        try await waitUntil("both handlers run (\(gate.entered.load(ordering: .relaxed)) did, server holds \(test.server.serverHeldBytes))") { gate.entered.load(ordering: .relaxed) == 2 }
        #expect(test.server.serverHeldBytes == 2 * Self.mib) // charged their decoded cost, not their 8 and 6 bytes
        // A third does not fit: refused before its handler runs, with the over-budget status.
        do {
            _ = try await offload { try GRPCClient(host: "127.0.0.1", port: port).unary(Self.hold, request: [5]) }
            Issue.record("a call past the budget was served")
        } catch let status as GRPCStatus {
            #expect(status.code == .resourceExhausted)
            #expect(status.message.contains("once decoded"))
        }
        // REST, both protocols share the budget: 503 with Retry-After and the JSON error body.
        let refused = try await offload { try Self.http1(port, "POST /batch HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}") }
        #expect(refused.hasPrefix("HTTP/1.1 503"))
        #expect(refused.lowercased().contains("retry-after: 1"))
        #expect(refused.contains("once decoded"))
        #expect(gate.entered.load(ordering: .relaxed) == 2)
        // The handlers finish: their charges go back, and the next call is served.
        gate.open()
        try await waitUntil("both calls are answered (\(answered.withLock { $0 }))") { answered.withLock { $0.count } == 2 }
        #expect(answered.withLock { $0 } == [true, true])
        try await waitUntil("the server holds nothing (\(test.server.serverHeldBytes))") { test.server.serverHeldBytes == 0 }
        _ = try await offload { try GRPCClient(host: "127.0.0.1", port: port).unary(Self.hold, request: [6]) }
        let served = try await offload { try Self.http1(port, "POST /batch HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}") }
        #expect(served.hasPrefix("HTTP/1.1 200"))
        try await waitUntil("the server holds nothing (\(test.server.serverHeldBytes))") { test.server.serverHeldBytes == 0 }
    }

    @Test func aStreamOutrunningItsHandlerIsSlowedNotRefused() async throws {
        // Each message costs 256 KiB decoded and the connection may hold 4 MiB: 3,000 messages of
        // 100 bytes all fit the flow-control window, so they reach the transport long before the
        // slow handler takes them. Charged as they arrive, the 17th was refused
        // (RESOURCE_EXHAUSTED: what a fast ingest client saw whenever the database slowed). Charged
        // as the handler takes them, the connection holds at most the handler's last two.
        var router = Router()
        let slow = "/test.Budget/Slow"
        let peak = Atomic<Int>(0)
        let testServer = Mutex<TestServer?>(nil)
        router.register(slow, .clientStreaming { _, requests in
            var count: UInt32 = 0
            for try await _ in requests {
                count += 1
                if count % 100 == 0 { try await Task.sleep(for: .milliseconds(5)) }
                let held = testServer.withLock { $0?.server.serverHeldBytes ?? 0 }
                if held > peak.load(ordering: .relaxed) { peak.store(held, ordering: .relaxed) }
            }
            return withUnsafeBytes(of: count.bigEndian) { Array($0) }
        })
        router.chargeDecoded(slow, RequestCost(messagesHeld: 2) { _ in 256 << 10 })
        let test = try TestServer(configure: { configuration in
            configuration.loopThreads = 1
            configuration.connectionBufferAllowance = 0
            configuration.maxConnectionHeldBytes = 4 * Self.mib
        }, router: router)
        testServer.withLock { $0 = test }
        defer { test.stop() }
        let port = test.port
        let messages = (0..<3_000).map { i in [UInt8](repeating: UInt8(i & 0xff), count: 100) }
        let response = try await offload {
            try GRPCClient(host: "127.0.0.1", port: port).clientStreaming(slow, requests: messages, timeout: .seconds(60))
        }
        let count = response.messages.first.map { $0.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        #expect(count == 3_000)
        #expect(peak.load(ordering: .relaxed) <= 3 * (256 << 10) + Self.mib, "held at most \(peak.load(ordering: .relaxed)) bytes")
        try await waitUntil("the server holds nothing (\(test.server.serverHeldBytes))") { test.server.serverHeldBytes == 0 }
    }

    @Test func aHandlerStillRunningAfterItsDeadlineKeepsItsCharge() async throws {
        let gate = Gate()
        let test = try server(gate: gate, serverBudget: 64 * Self.mib)
        defer { test.stop() }
        do {
            let port = test.port
            _ = try await offload { try GRPCClient(host: "127.0.0.1", port: port).unary(Self.hold, request: [1], timeout: .milliseconds(200)) }
            Issue.record("the call outlived its deadline")
        } catch let status as GRPCStatus {
            #expect(status.code == .deadlineExceeded)
        }
        // The call is over and its client gone (the client closed its connection), its handler
        // is not (it ignores cancellation): it still holds its request, on the server's budget.
        #expect(test.server.serverHeldBytes == Self.mib)
        gate.open()
        try await waitUntil("the server holds nothing (\(test.server.serverHeldBytes))") { test.server.serverHeldBytes == 0 }
    }

    @Test func aRequestNoConnectionCouldHoldIsRefusedForGood() async throws {
        let test = try server(gate: Gate(), serverBudget: 64 * Self.mib)
        defer { test.stop() }
        do {
            let port = test.port
            _ = try await offload { try GRPCClient(host: "127.0.0.1", port: port).unary(Self.huge, request: [1]) }
            Issue.record("a call costing more than a connection may hold was served")
        } catch let status as GRPCStatus {
            #expect(status.code == .resourceExhausted)
            #expect(status.message.contains("more than one connection may hold"))
        }
        let port = test.port
        let answer = try await offload { try Self.http1(port, "POST /huge HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}") }
        #expect(answer.hasPrefix("HTTP/1.1 413"))
        #expect(test.server.serverHeldBytes == 0)
    }
}
