import Foundation
import Testing
@testable import GRPCWire
@testable import H2Transport
#if canImport(Glibc)
import Glibc
#endif

/// Pins the nghttp2 rule: callbacks only record; mem_recv/mem_send are never re-entered and
/// handlers never run while nghttp2 is on the stack, even when one read carries many frames that
/// complete calls, reset streams and trigger immediate responses.
@Suite struct ReentrancyTests {
    @Test func oneReadWithManyFramesNeverReentersNghttp2() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[1]) }
        let probe = HandlerProbe()
        let core = ServerCore(configuration: ServerConfiguration(), router: makeTestRouter(probe: probe))
        _ = core.admitConnection(address: "test")
        let loop = try EventLoop(index: 0)
        // This thread plays the loop thread: the loop is never run, the test drives the connection.
        let connection = Connection(fd: fds[0], peer: "test", loop: loop, server: core)

        let client = H2ClientSession()
        let grpcHeaders = { (path: String) in
            [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "test"),
             ("content-type", "application/grpc"), ("te", "trailers")]
        }
        var ids: [Int32] = []
        // Ten inline unary calls, each complete in the same read.
        for _ in 0..<10 {
            ids.append(client.submitRequest(headers: grpcHeaders(TestPaths.getHealth), body: GRPCMessageFramer.frame([]),
                                            endStream: true))
        }
        let unknown = client.submitRequest(headers: grpcHeaders("/no.Such/Method"), body: [], endStream: true)
        let oversize = client.submitRequest(headers: grpcHeaders(TestPaths.getHealth),
                                            body: [0, 0x7f, 0xff, 0xff, 0xff], endStream: true)
        let reset = client.submitRequest(headers: grpcHeaders(TestPaths.getHealth), body: [], endStream: false)
        client.resetStream(reset)
        let rest = client.submitRequest(headers: [(":method", "GET"), (":scheme", "http"), (":path", "/health"),
                                                  (":authority", "test")], body: [], endStream: true)
        var bytes = client.produceOutput() // starts with the connection preface
        bytes.withUnsafeBytes { connection.receive($0) }
        connection.flush()

        guard case .http2(let handler) = connection.mode else {
            Issue.record("the connection did not switch to HTTP/2")
            return
        }
        #expect(handler.counters.callbacks > 20)
        #expect(handler.counters.reentrantSessionCalls == 0)
        #expect(handler.counters.handlerCallsInsideNghttp2 == 0)
        #expect(probe.inlineCalls.load(ordering: .relaxed) == 10)

        // Read what the server wrote and check every stream got its answer.
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func status(_ id: Int32) -> String? {
            let response = client.responses[id]
            let source = (response?.trailers.isEmpty ?? true) ? response?.headers : response?.trailers
            return source?.first(where: { $0.0 == "grpc-status" })?.1
        }
        while ids.contains(where: { client.responses[$0]?.closed != true }) || client.responses[rest]?.closed != true {
            let count = read(fds[1], &buffer, buffer.count)
            if count <= 0 { break }
            buffer.withUnsafeBytes { _ = client.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            bytes = client.produceOutput()
            bytes.withUnsafeBytes { connection.receive($0) }
            connection.flush()
        }
        for id in ids { #expect(status(id) == "0") }
        #expect(status(unknown) == "12")
        #expect(status(oversize) == "8")
        #expect(client.responses[rest]?.headers.first(where: { $0.0 == ":status" })?.1 == "200")
        #expect(String(decoding: client.responses[rest]?.body ?? [], as: UTF8.self) == "{\"status\":\"healthy\"}")
        #expect(handler.counters.reentrantSessionCalls == 0)
        #expect(handler.counters.handlerCallsInsideNghttp2 == 0)
        connection.close()
    }
}
