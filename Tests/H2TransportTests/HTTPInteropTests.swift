import Foundation
import Testing
@testable import H2Transport
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client for raw protocol tests.
final class RawSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw TestFailure("connect failed: \(errno)") }
        // Short reads, so that `receive` and `peerClosed` can check their overall deadline.
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count <= 0 { return }
            offset += count
        }
    }

    /// Reads until the peer closes, `until` is satisfied, or `timeout` passes (a slow peer on a
    /// loaded machine is waited for; a pause between two responses does not end the read).
    func receive(until: (String) -> Bool = { _ in false },
                 timeout: Duration = TestTiming.patience(.seconds(5))) -> String {
        let deadline = ContinuousClock.now + timeout
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now < deadline {
            let count = read(fd, &buffer, buffer.count)
            if count == 0 { break } // closed by the peer
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                break // reset
            }
            data.append(contentsOf: buffer[0..<count])
            if until(String(decoding: data, as: UTF8.self)) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Whether the peer closes the connection (read returns 0) within `timeout`, without sending
    /// anything more.
    func peerClosed(timeout: Duration = TestTiming.patience(.seconds(5))) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var byte: UInt8 = 0
        while ContinuousClock.now < deadline {
            let count = read(fd, &byte, 1)
            if count == 0 { return true }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { continue }
            return false
        }
        return false
    }
}

func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}

@Suite(.serialized) struct HTTPInteropTests {
    @Test func curlOverHTTP1KeepsTheConnectionAlive() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let url = "http://127.0.0.1:\(server.port)/health"
            let result = try runProcess(try tool("curl"), ["-sS", "-v", "--http1.1", url, url])
            #expect(result.status == 0)
            #expect(result.stdout == "{\"status\":\"healthy\"}{\"status\":\"healthy\"}")
            #expect(result.stderr.contains("HTTP/1.1 200 OK"))
            #expect(result.stderr.contains("Re-using existing connection") || result.stderr.contains("Reusing existing"))
            #expect(server.server.metrics.acceptedConnections == 1)
            #expect(server.server.metrics.methods["GET /health"]?.requests == 2)
        }
    }

    @Test func curlSendsChunkedBodyAndGetsItEchoed() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let body = String(repeating: "0123456789", count: 5000)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("chunked-\(UUID()).txt")
            try body.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let result = try runProcess(try tool("curl"), ["-sS", "-v", "--http1.1", "-H", "Transfer-Encoding: chunked",
                                                           "--data-binary", "@\(file.path)", "-D", "-",
                                                           "http://127.0.0.1:\(server.port)/echo"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("x-body-length: 50000"))
            #expect(result.stdout.hasSuffix(body))
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let socket = try RawSocket(port: server.port)
            socket.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
                        + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecond")
            // Until the server closes (the last request asks it to): all four answers, however
            // slowly the async handlers run.
            let text = socket.receive()
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
                .map { $0.components(separatedBy: "\r\n")[0] }
            #expect(statuses == ["200 OK", "200 OK", "404 Not Found", "200 OK"])
            let first = try #require(text.range(of: "first"), "no echo of the first body in: \(text)").lowerBound
            let second = try #require(text.range(of: "second"), "no echo of the second body in: \(text)").lowerBound
            #expect(first < second)
            #expect(text.contains("connection: close"))
        }
    }

    @Test func oversizeBodyGets413AndOversizeHeadersGet431() async throws {
        try await offload {
            let server = try TestServer {
                $0.maxHTTP1BodyBytes = 1000
                $0.maxHeaderListBytes = 2048
            }
            defer { server.stop() }
            let big = try runProcess(try tool("curl"), ["-sS", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}",
                                                        "--data-binary", String(repeating: "x", count: 5000),
                                                        "http://127.0.0.1:\(server.port)/echo"])
            #expect(big.stdout == "413")
            let headers = try runProcess(try tool("curl"), ["-sS", "--http1.1", "-o", "/dev/null", "-w", "%{http_code}",
                                                            "-H", "X-Big: \(String(repeating: "h", count: 4000))",
                                                            "http://127.0.0.1:\(server.port)/health"])
            #expect(headers.stdout == "431")
        }
    }

    @Test func clientLeavingDuringAnAsyncResponseIsHarmless() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            for _ in 0..<3 {
                let socket = try RawSocket(port: server.port)
                socket.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = socket // closed when it goes out of scope, before the handler answers
            }
            let h2 = try runProcess(try tool("curl"), ["-sS", "-m", "0.1", "--http2-prior-knowledge",
                                                       "http://127.0.0.1:\(server.port)/slow"])
            #expect(h2.status != 0) // curl gave up (timeout) while the handler was still sleeping
            usleep(600_000)
            let after = try runProcess(try tool("curl"), ["-sS", "http://127.0.0.1:\(server.port)/slow"])
            #expect(after.stdout == "slow")
        }
    }

    @Test func malformedRequestGets400AndTheConnectionCloses() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let socket = try RawSocket(port: server.port)
            socket.send("THIS IS NOT HTTP\r\n\r\n")
            let text = socket.receive()
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
            #expect(text.contains("connection: close"))
        }
    }

    @Test func slowHeadersTimeOutWith408() async throws {
        try await offload {
            let server = try TestServer { $0.headerReadTimeout = .milliseconds(400) }
            defer { server.stop() }
            let socket = try RawSocket(port: server.port)
            socket.send("GET /health HTTP/1.1\r\nHost: x\r\n")
            let start = ContinuousClock.now
            let text = socket.receive()
            #expect(text.hasPrefix("HTTP/1.1 408 "))
            // 400 ms on a quiet machine; what matters is that it comes, not after the read gives up.
            #expect(ContinuousClock.now - start < TestTiming.patience(.seconds(2)))
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await offload {
            let server = try TestServer { $0.idleTimeout = .milliseconds(300) }
            defer { server.stop() }
            let socket = try RawSocket(port: server.port)
            socket.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = socket.receive(until: { $0.contains("healthy") })
            #expect(text.hasPrefix("HTTP/1.1 200 OK"))
            #expect(socket.peerClosed())
            try waitUntil { server.server.metrics.openConnections == 0 }
        }
    }

    @Test func connectionLimitRefusesExtraConnections() async throws {
        try await offload {
            let server = try TestServer {
                $0.maxConnections = 1
                $0.loopThreads = 1
            }
            defer { server.stop() }
            let first = try RawSocket(port: server.port)
            first.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(first.receive(until: { $0.contains("healthy") }).contains("200 OK"))
            let second = try RawSocket(port: server.port)
            second.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(second.receive().isEmpty)
            #expect(server.server.metrics.rejectedConnections == 1)
        }
    }

    @Test func curlOverHTTP2PriorKnowledgeReachesTheRESTHandler() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let base = "http://127.0.0.1:\(server.port)"
            let result = try runProcess(try tool("curl"), ["-sS", "-i", "--http2-prior-knowledge", "\(base)/health"])
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("HTTP/2 200"))
            #expect(result.stdout.hasSuffix("{\"status\":\"healthy\"}"))
            let echo = try runProcess(try tool("curl"), ["-sS", "--http2-prior-knowledge", "--data-binary", "hello h2",
                                                         "\(base)/echo"])
            #expect(echo.stdout == "hello h2")
            let missing = try runProcess(try tool("curl"), ["-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                                            "--http2-prior-knowledge", "\(base)/nope"])
            #expect(missing.stdout == "404")
        }
    }

    @Test func http2HeaderListAboveTheLimitIsAnswered431AndTheServerCarriesOn() async throws {
        try await offload {
            let server = try TestServer { $0.maxHeaderListBytes = 2048 }
            defer { server.stop() }
            let url = "http://127.0.0.1:\(server.port)/health"
            let big = try runProcess(try tool("curl"), ["-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                                        "--http2-prior-knowledge",
                                                        "-H", "x-big: \(String(repeating: "h", count: 4000))", url])
            // Answered (not reset with INTERNAL_ERROR): 431 Request Header Fields Too Large.
            #expect(big.status == 0)
            #expect(big.stdout == "431")
            let fine = try runProcess(try tool("curl"), ["-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                                         "--http2-prior-knowledge", url])
            #expect(fine.stdout == "200")
        }
    }

    @Test func unsupportedGRPCContentTypeGets415EvenWhileTheBodyIsStillComing() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            // Repeated: the refusal must not race the request body (curl hangs on an early answer
            // and reports an error on the reset that should follow it).
            for _ in 0..<15 {
                let result = try runProcess(try tool("curl"), ["-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                                               "--http2-prior-knowledge", "-H", "content-type: application/grpc+json",
                                                               "--data-binary", "{}",
                                                               "http://127.0.0.1:\(server.port)\(TestPaths.getHealth)"],
                                            timeout: .seconds(10))
                #expect(result.stdout == "415")
                #expect(result.status == 0)
            }
        }
    }

    @Test func nghttpClientGetsGRPCTrailersAndREST() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let body = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-body-\(UUID()).bin")
            try Data([0, 0, 0, 0, 0]).write(to: body)
            defer { try? FileManager.default.removeItem(at: body) }
            let grpc = try runProcess(try tool("nghttp"), ["-v", "-H", "content-type: application/grpc", "-H", "te: trailers",
                                                           "-d", body.path,
                                                           "http://127.0.0.1:\(server.port)\(TestPaths.getHealth)"])
            #expect(grpc.status == 0)
            #expect(grpc.stdout.contains("grpc-status: 0"))
            #expect(grpc.stdout.contains("content-type: application/grpc"))
            let rest = try runProcess(try tool("nghttp"), ["http://127.0.0.1:\(server.port)/health"])
            #expect(rest.stdout == "{\"status\":\"healthy\"}")
        }
    }

    /// nghttp without `-d` ends the request with END_STREAM on its HEADERS frame: no DATA at all.
    @Test func callsWhoseHeadersEndTheRequestAreAnsweredNotLeftWaiting() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            func call(_ path: String) throws -> String {
                let result = try runProcess(try tool("nghttp"), ["-v", "-t", "5", "-H", ":method: POST",
                                                                 "-H", "content-type: application/grpc", "-H", "te: trailers",
                                                                 "http://127.0.0.1:\(server.port)\(path)"],
                                            timeout: .seconds(10))
                #expect(result.stdout.contains("END_STREAM"))
                return result.stdout
            }
            // A unary call can never get its request: INTERNAL at once (it used to wait for a reset).
            let unary = try call(TestPaths.getHealth)
            #expect(unary.contains("grpc-status: 13"))
            #expect(unary.contains("grpc-message: expected one request message, got none"))
            // A client-streaming handler sees an empty request stream end (it used to wait forever).
            let streaming = try call(TestPaths.streamExecutions)
            #expect(streaming.contains("grpc-status: 0"))
        }
    }

    @Test func accessLogAtErrorLevelRecordsOnlyFailures() async throws {
        try await offload {
            let server = try TestServer { $0.accessLog = .errors }
            defer { server.stop() }
            let base = "http://127.0.0.1:\(server.port)"
            _ = try runProcess(try tool("curl"), ["-sS", "--http1.1", "\(base)/health", "\(base)/nope"])
            try waitUntil { server.server.metrics.total.requests == 2 }
            let lines = server.log.lines.withLock { $0 }
            #expect(lines.count == 1)
            #expect(lines.first?.contains("\"path\":\"/nope\"") == true)
            #expect(lines.first?.contains("\"status\":404") == true)
        }
    }

    @Test func accessLogIsOffByDefault() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            #expect(server.server.configuration.accessLog == .off)
        }
    }

    @Test func accessLogWritesOneStructuredLinePerRequest() async throws {
        try await offload {
            let server = try TestServer { $0.accessLog = .all }
            defer { server.stop() }
            _ = try runProcess(try tool("curl"), ["-sS", "--http1.1", "http://127.0.0.1:\(server.port)/health"])
            _ = try runPythonClient(["agent", String(server.port), "missing"])
            try waitUntil { server.log.lines.withLock { $0.count } == 2 }
            let lines = server.log.lines.withLock { $0 }
            let objects = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
            #expect(objects[0]["path"] as? String == "/health")
            #expect(objects[0]["status"] as? Int == 200)
            #expect(objects[1]["path"] as? String == TestPaths.getAgentStatus)
            #expect(objects[1]["grpc_status"] as? Int == 5)
        }
    }
}
