import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The standing abuse suite (issue #19): a real `learning-server` with API keys and a 3 s request
/// timeout, attacked over loopback by python/abuse_suite.py, which asserts each bound from the
/// server's own RSS and CPU time: writes refused at their HEADERS, one connection <= 16 MiB,
/// 100 concurrent LogExecutions of 10,000 executions on one connection held to 16 MiB decoded
/// (the rest refused with a retry delay, another connection served), 100 connections <= 512 MiB with a probe's p99 < 50 ms, silent streams and short gRPC messages
/// answered within the timeout, grpc-timeout honoured, two Host headers 400, oversized header
/// lists 431 / RESOURCE_EXHAUSTED, a CONTINUATION flood ended with GOAWAY, rapid reset across
/// reconnects <= 0.25 core, and a server out of descriptors idle under 5 % CPU.
@Suite("abuse: bounds under attack", .serialized)
struct AbuseTests {
    static let apiKey = "abuse-key-0123456789abcdef"
    static let requestTimeoutSeconds = 3

    @Test func everyAttackStaysWithinItsBound() async throws {
        try await ServerTests().onOwnThread {
            let server = try ServerProcess.start(environment: [
                "LEARNING_API_KEYS": Self.apiKey,
                "LEARNING_REQUEST_TIMEOUT_SECONDS": String(Self.requestTimeoutSeconds),
            ])
            defer { server.stop() }
            let output = try server.runPython("abuse_suite.py", [
                "127.0.0.1:\(server.port)", String(server.process.processIdentifier), Self.apiKey,
                String(Self.requestTimeoutSeconds), try ServerProcess.binary(), server.databaseURL,
            ])
            #expect(output.contains("ALL CHECKS PASSED"))
        }
    }
}
