import Foundation
import Testing
@testable import H2Transport

/// gRPC semantics checked with Python grpcio, a real third-party client, as a subprocess.
@Suite(.serialized) struct GRPCInteropTests {
    @Test func unaryCallWithMetadataBothWays() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["unary", String(server.port), "Bearer secret-token"]).json()
            #expect(result["status"] as? String == "healthy")
            #expect(result["service"] as? String == "learning-system")
            #expect((result["initial"] as? [String: String])?["x-echo-authorization"] == "Bearer secret-token")
            #expect((result["trailing"] as? [String: String])?["x-trailer-check"] == "trailer-Bearer secret-token")
            #expect(server.probe.inlineCalls.load(ordering: .relaxed) == 1)
            let metrics = server.server.metrics
            #expect(metrics.methods[TestPaths.getHealth]?.requests == 1)
            #expect(metrics.methods[TestPaths.getHealth]?.errors == 0)
        }
    }

    @Test func asyncUnaryAndStatusesFromHandlers() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let ok = try runPythonClient(["agent", String(server.port), "director"]).json()
            #expect(ok["code"] as? String == "OK")
            #expect(ok["reason"] as? String == "agent 8 chars")
            let missing = try runPythonClient(["agent", String(server.port), "missing"]).json()
            #expect(missing["code"] as? String == "NOT_FOUND")
            // grpc-message is percent-encoded on the wire and decoded back by grpcio.
            #expect(missing["details"] as? String == "agent 'missing' not found: naïve 100% ✗")
            let boom = try runPythonClient(["agent", String(server.port), "boom"]).json()
            #expect(boom["code"] as? String == "INTERNAL")
            #expect(boom["details"] as? String == "internal error") // the error's text is not leaked
            #expect(server.server.metrics.methods[TestPaths.getAgentStatus]?.errors == 2)
        }
    }

    @Test func serverStreamingDeliversEveryMessageAndTrailers() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["watch_trailers", String(server.port), "40"]).json()
            #expect((result["ids"] as? [String]) == (0..<40).map { "i\($0)" })
            #expect((result["trailing"] as? [String: String])?["x-sent"] == "40")
        }
    }

    @Test func serverStreamingOfManyMessagesUnderFlowControl() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["watch", String(server.port), "20000"]).json()
            let ids = result["ids"] as? [String] ?? []
            #expect(ids.count == 20000)
            #expect(ids.last == "i19999")
        }
    }

    @Test func clientStreamingCountsEveryMessage() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["stream", String(server.port), "500"]).json()
            #expect(result["accepted"] as? Int == 500)
        }
    }

    @Test func bidirectionalAcknowledgesInOrder() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["bidi", String(server.port), "50"]).json()
            let acks = (result["acks"] as? [[Int]]) ?? []
            #expect(acks.count == 50)
            #expect(acks.map { $0[0] } == Array(0..<50))
            #expect(acks.map { $0[1] } == Array(1...50))
        }
    }

    @Test func deadlineExceededCancelsTheHandler() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["agent", String(server.port), "slow", "0.3"]).json()
            #expect(result["code"] as? String == "DEADLINE_EXCEEDED")
            try waitUntil { server.probe.cancelledCalls.load(ordering: .relaxed) == 1 }
        }
    }

    @Test func clientCancellationCancelsUnaryAndStreamingHandlers() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let unary = try runPythonClient(["agent_cancel", String(server.port), "0.3"]).json()
            #expect(unary["cancelled"] as? Bool == true)
            try waitUntil { server.probe.cancelledCalls.load(ordering: .relaxed) == 1 }
            let streaming = try runPythonClient(["watch_cancel", String(server.port)]).json()
            #expect((streaming["received"] as? [String]) == ["i0", "i1", "i2"])
            try waitUntil { server.probe.cancelledCalls.load(ordering: .relaxed) == 2 }
        }
    }

    @Test func unknownMethodAndServiceAreUnimplemented() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let method = try runPythonClient(["unknown", String(server.port), "/learning.v1.LearningSystem/NoSuch"]).json()
            #expect(method["code"] as? String == "UNIMPLEMENTED")
            let service = try runPythonClient(["unknown", String(server.port), "/no.Such/Method"]).json()
            #expect(service["code"] as? String == "UNIMPLEMENTED")
        }
    }

    @Test func oversizeMessageIsResourceExhausted() async throws {
        try await offload {
            let server = try TestServer { $0.maxReceiveMessageBytes = 64 * 1024 }
            defer { server.stop() }
            let big = try runPythonClient(["oversize", String(server.port), String(100 * 1024)]).json()
            #expect(big["code"] as? String == "RESOURCE_EXHAUSTED")
            let fits = try runPythonClient(["oversize", String(server.port), String(60 * 1024)]).json()
            #expect(fits["code"] as? String == "OK")
        }
    }

    @Test func gzipCompressedRequestsAreDecompressedWithinTheLimit() async throws {
        try await offload {
            let server = try TestServer { $0.maxReceiveMessageBytes = 64 * 1024 }
            defer { server.stop() }
            let small = try runPythonClient(["gzip", String(server.port), "5000"]).json()
            #expect(small["code"] as? String == "OK")
            #expect(small["reason"] as? String == "agent 5000 chars")
            // 200 KB of "x" compresses to a few hundred bytes: the limit applies to the inflated size.
            let bomb = try runPythonClient(["gzip", String(server.port), "200000"]).json()
            #expect(bomb["code"] as? String == "RESOURCE_EXHAUSTED")
        }
    }

    @Test func unsupportedEncodingIsUnimplementedAndAdvertisesWhatIsSupported() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let body = FileManager.default.temporaryDirectory.appendingPathComponent("snappy-\(UUID()).bin")
            try Data([1, 0, 0, 0, 1, 0]).write(to: body)
            defer { try? FileManager.default.removeItem(at: body) }
            // nghttp, not curl: the server answers before the request body and then resets the
            // stream with NO_ERROR (RFC 9113 8.1), which curl 7.88 reports as error 92.
            let result = try runProcess(try tool("nghttp"), ["-v", "-H", "content-type: application/grpc",
                                                             "-H", "te: trailers", "-H", "grpc-encoding: snappy",
                                                             "-d", body.path,
                                                             "http://127.0.0.1:\(server.port)\(TestPaths.getHealth)"])
            #expect(result.stdout.contains("grpc-status: 12"))
            #expect(result.stdout.contains("grpc-accept-encoding: identity,gzip"))
        }
    }

    @Test func garbageProtobufIsInvalidArgument() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let result = try runPythonClient(["raw", String(server.port), TestPaths.getAgentStatus, "ffffffffff"]).json()
            #expect(result["code"] as? String == "INVALID_ARGUMENT")
            #expect(result["details"] as? String == "request is not a valid GetAgentStatusRequest")
        }
    }
}

/// Polls `condition` for up to `timeout` (what a quiet machine needs, scaled by `TestTiming`).
func waitUntil(_ condition: () -> Bool, timeout: Duration = TestTiming.patience(.seconds(5))) throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now > deadline { throw TestFailure("condition not met in time") }
        usleep(10_000)
    }
}
