import Foundation
import Synchronization
import Testing
import CNghttp2
import CProtobufC
import LearningProtoC
import ProtobufCSupport
@testable import GRPCWire
@testable import H2Transport

private func agentRequest(_ name: String) -> [UInt8] {
    let arena = ProtoArena()
    let request = arena.message(learning__v1__get_agent_status_request__init)
    request.pointee.agent_name = arena.string(name)
    return packMessage(request)
}

@Suite(.serialized) struct GRPCClientTests {
    @Test func unaryCallCarriesMetadataBothWays() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            let response = try client.unary(TestPaths.getHealth, request: [], metadata: [Metadata("authorization", "Bearer x")],
                                            timeout: .seconds(5))
            let decoded = try #require(unpackMessage(response.message, learning__v1__get_health_response__unpack))
            #expect(stringField(decoded.message.status) == "healthy")
            #expect(response.initialMetadata.first("x-echo-authorization") == "Bearer x")
            #expect(response.trailingMetadata.first("x-trailer-check") == "trailer-Bearer x")
            // The connection is reused for a second call.
            _ = try client.unary(TestPaths.getHealth, request: [])
            #expect(server.server.metrics.acceptedConnections == 1)
        }
    }

    @Test func errorsArriveAsStatuses() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            #expect(throws: GRPCStatus(.notFound, "agent 'missing' not found: naïve 100% ✗")) {
                try client.unary(TestPaths.getAgentStatus, request: agentRequest("missing"))
            }
            #expect(throws: GRPCStatus(.unimplemented, "unknown method /x.Y/Z")) {
                try client.unary("/x.Y/Z", request: [])
            }
            #expect(throws: GRPCStatus(.deadlineExceeded, "deadline exceeded")) {
                try client.unary(TestPaths.getAgentStatus, request: agentRequest("slow"), timeout: .milliseconds(200))
            }
            try waitUntil { server.probe.cancelledCalls.load(ordering: .relaxed) == 1 }
        }
    }

    @Test func taskFreeUnaryHandlersAnswerFromAnyThread() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            func log(_ name: String, timeout: Duration = .seconds(5)) throws -> Int64 {
                let arena = ProtoArena()
                let execution = arena.message(learning__v1__execution__init)
                execution.pointee.agent_name = arena.string(name)
                let request = arena.message(learning__v1__log_execution_request__init)
                request.pointee.execution = execution
                let response = try client.unary(TestPaths.logExecution, request: packMessage(request), timeout: timeout)
                return try #require(unpackMessage(response.message, learning__v1__log_execution_response__unpack)).message.id
            }
            #expect(try log("now") == 3)
            #expect(try log("later") == 5)
            #expect(throws: GRPCStatus(.invalidArgument, "agent_name invalid is invalid")) { try log("invalid") }
            #expect(throws: GRPCStatus(.internal, "internal error")) { try log("boom") }
            #expect(throws: GRPCStatus(.invalidArgument, "request is not a valid LogExecutionRequest")) {
                try client.unary(TestPaths.logExecution, request: [0xFF, 0xFF])
            }
            // An answer after the deadline is dropped; the connection goes on serving.
            #expect(throws: GRPCStatus(.deadlineExceeded, "deadline exceeded")) { try log("late", timeout: .milliseconds(200)) }
            try waitUntil { server.probe.lateAnswers.load(ordering: .relaxed) == 1 }
            #expect(try log("later") == 5)
            // Calls on 8 connections at once (both loops), answered in any order by pool threads.
            let ids = Mutex<[Int64]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                guard let client = try? GRPCClient(host: "127.0.0.1", port: server.port) else { return }
                for index in 0..<20 {
                    let arena = ProtoArena()
                    let execution = arena.message(learning__v1__execution__init)
                    execution.pointee.agent_name = arena.string(index % 2 == 0 ? "now" : "later")
                    let request = arena.message(learning__v1__log_execution_request__init)
                    request.pointee.execution = execution
                    guard let response = try? client.unary(TestPaths.logExecution, request: packMessage(request), timeout: .seconds(5)),
                          let decoded = unpackMessage(response.message, learning__v1__log_execution_response__unpack) else { continue }
                    ids.withLock { $0.append(decoded.message.id) }
                }
            }
            #expect(ids.withLock { $0.sorted() } == Array(repeating: 3, count: 80) + Array(repeating: 5, count: 80))
        }
    }

    @Test func serverStreamingDeliversMessagesToTheCallback() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            let arena = ProtoArena()
            let request = arena.message(learning__v1__watch_insights_request__init)
            request.pointee.agent_name = arena.string("300")
            var ids: [String] = []
            let response = try client.serverStreaming(TestPaths.watchInsights, request: packMessage(request)) { bytes in
                let event = try #require(unpackMessage(bytes, learning__v1__insight_event__unpack))
                ids.append(stringField(event.message.insight.pointee.id))
            }
            #expect(ids.count == 300)
            #expect(ids.last == "i299")
            #expect(response.trailingMetadata.first("x-sent") == "300")
        }
    }

    @Test func clientStreamingSendsManyMessages() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            let requests = (0..<20_000).lazy.map { index -> [UInt8] in
                let arena = ProtoArena()
                let execution = arena.message(learning__v1__execution__init)
                execution.pointee.agent_name = arena.string("agent-\(index)")
                execution.pointee.task_type = arena.string("analysis")
                return packMessage(execution)
            }
            let response = try client.clientStreaming(TestPaths.streamExecutions, requests: requests, timeout: .seconds(30))
            let decoded = try #require(unpackMessage(response.message, learning__v1__log_executions_response__unpack))
            #expect(decoded.message.accepted == 20_000)
        }
    }

    @Test func serverAnnouncesItsStreamAndHeaderLimits() async throws {
        try await offload {
            let server = try TestServer {
                $0.maxConcurrentStreams = 7
                $0.maxHeaderListBytes = 3000
            }
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            _ = try client.unary(TestPaths.getHealth, request: [])
            #expect(client.session.remoteSetting(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) == 7)
            #expect(client.session.remoteSetting(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE) == 3000)
        }
    }

    @Test func idleHTTP2ConnectionsGetGoAwayAndAreClosed() async throws {
        try await offload {
            let server = try TestServer { $0.idleTimeout = .milliseconds(300) }
            defer { server.stop() }
            let client = try GRPCClient(host: "127.0.0.1", port: server.port)
            _ = try client.unary(TestPaths.getHealth, request: [])
            #expect(server.server.metrics.openConnections == 1)
            try waitUntil { server.server.metrics.openConnections == 0 }
            #expect(throws: GRPCStatus.self) { try client.unary(TestPaths.getHealth, request: []) }
        }
    }

    @Test func connectingByHostNameUsesTheResolvedAddressesAndTheAuthorityBracketsIPv6() async throws {
        try await offload {
            let server = try TestServer()
            defer { server.stop() }
            let client = try GRPCClient(host: "localhost", port: server.port)
            let response = try client.unary(TestPaths.getHealth, request: [], timeout: .seconds(5))
            #expect(!response.message.isEmpty)
            #expect(throws: GRPCStatus.self) { try GRPCClient(host: "no-such-host.invalid", port: server.port) }
        }
        #expect(GRPCClient.authority(host: "::1", port: 8080) == "[::1]:8080")
        #expect(GRPCClient.authority(host: "[::1]", port: 8080) == "[::1]:8080")
        #expect(GRPCClient.authority(host: "127.0.0.1", port: 8080) == "127.0.0.1:8080")
    }

    @Test func connectingToAClosedPortIsUnavailable() async throws {
        try await offload {
            let server = try TestServer()
            let port = server.port
            server.stop()
            #expect(throws: GRPCStatus.self) { try GRPCClient(host: "127.0.0.1", port: port) }
        }
    }
}
