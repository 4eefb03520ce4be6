import Foundation
import LearningCore
import LearningService
import Testing

/// OpenTelemetry ingest end to end: the real OpenTelemetry Python SDK and its OTLP/gRPC and
/// OTLP/HTTP exporters against a real `learning-server` (python/otlp_suite.py), and the span
/// mapping on its own.
@Suite("OpenTelemetry ingest", .serialized)
struct OTLPIngestTests {
    static let apiKey = "otlp-key-0123456789abcdef"

    @Test func spansOfAMultiAgentRunBecomeExecutionsFiguresAndPredictions() async throws {
        try await ServerTests().onOwnThread {
            let server = try ServerProcess.start(environment: ["LEARNING_API_KEYS": Self.apiKey])
            defer { server.stop() }
            let protos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("Protos").path
            let output = try server.runPython("otlp_suite.py", ["127.0.0.1:\(server.port)", server.databaseURL, Self.apiKey, protos])
            #expect(output.contains("ALL CHECKS PASSED"))
        }
    }

    @Test func anAgentFrameworksOwnInstrumentationReachesTheServiceByItsEndpointAlone() async throws {
        try await ServerTests().onOwnThread {
            let server = try ServerProcess.start(environment: ["LEARNING_API_KEYS": Self.apiKey])
            defer { server.stop() }
            let output = try server.runPython("otlp_instrumented.py", ["127.0.0.1:\(server.port)", server.databaseURL, Self.apiKey])
            #expect(output.contains("ALL CHECKS PASSED"))
        }
    }

    static func span(_ attributes: [String: OTLPValue], name: String = "invoke_agent", status: Int = 0,
                     events: [OTLPSpanEvent] = [], start: UInt64 = 1_700_000_000_000_000_000, seconds: Double = 1.5) -> OTLPSpan {
        OTLPSpan(traceID: Array(1...16), spanID: Array(1...8), name: name, startTimeUnixNano: start,
                 endTimeUnixNano: start + UInt64(seconds * 1e9), attributes: attributes, statusCode: status,
                 statusMessage: status == 2 ? "failed" : "", events: events)
    }

    @Test func mappingFollowsTheGenAIConventions() throws {
        let attributes = ["task.type", "gen_ai.tool.name", "gen_ai.operation.name"]
        let agent = Self.span(["gen_ai.operation.name": .string("invoke_agent"), "gen_ai.agent.name": .string("Math Tutor"),
                               "gen_ai.usage.input_tokens": .int(10), "gen_ai.usage.output_tokens": .string("5")])
        guard case .execution(let input) = OTLPMapping.map(agent, taskTypeAttributes: attributes) else {
            Issue.record("an invoke_agent span is agent work")
            return
        }
        #expect(input.agentName == "Math-Tutor")
        #expect(input.taskID == "01020304-0506-0708-090a-0b0c0d0e0f10")
        #expect(input.taskType == "invoke_agent")
        #expect(input.executionTime == 1.5 && input.success && input.resourceUsage.tokens == 15)
        #expect(input.eventID == "otel-0102030405060708090a0b0c0d0e0f10-0102030405060708")

        // Not agent work: model calls and tools, even when they carry the agent's name.
        for operation in ["chat", "execute_tool", "embeddings"] {
            #expect(OTLPMapping.map(Self.span(["gen_ai.operation.name": .string(operation), "gen_ai.agent.name": .string("a")]),
                                    taskTypeAttributes: attributes) == .skipped)
        }
        #expect(OTLPMapping.map(Self.span([:], name: "GET /"), taskTypeAttributes: attributes) == .skipped)
        // Agent spans without an operation: gen_ai.agent.id, OpenInference's AGENT kind.
        if case .execution(let byID) = OTLPMapping.map(Self.span(["gen_ai.agent.id": .string("asst_42")]), taskTypeAttributes: attributes) {
            #expect(byID.agentName == "asst_42")
        } else { Issue.record("gen_ai.agent.id marks an agent span") }
        if case .execution(let openInference) = OTLPMapping.map(
            Self.span(["openinference.span.kind": .string("AGENT"), "task.type": .string("triage")], name: "Support Agent"),
            taskTypeAttributes: attributes) {
            #expect(openInference.agentName == "Support-Agent" && openInference.taskType == "triage")
        } else { Issue.record("an OpenInference AGENT span is agent work") }

        // Failures: the exception event first, then the status message, then error.type.
        let failed = Self.span(["gen_ai.agent.name": .string("w"), "error.type": .string("Timeout")], status: 2,
                               events: [OTLPSpanEvent(name: "exception", attributes: ["exception.type": .string("KeyError"),
                                                                                        "exception.message": .string("'x'")])])
        if case .execution(let input) = OTLPMapping.map(failed, taskTypeAttributes: attributes) {
            #expect(!input.success && input.errorMessage == "KeyError: 'x'")
        } else { Issue.record("a failed agent span is an execution") }
        if case .execution(let input) = OTLPMapping.map(Self.span(["gen_ai.agent.name": .string("w"), "error.type": .string("Timeout")], status: 2),
                                                        taskTypeAttributes: attributes) {
            #expect(input.errorMessage == "failed")
        } else { Issue.record("a failed agent span is an execution") }

        // Rejected: no name, a bad id, time running backwards.
        guard case .rejected(let reason) = OTLPMapping.map(Self.span(["gen_ai.operation.name": .string("invoke_agent")]),
                                                           taskTypeAttributes: attributes) else {
            Issue.record("an unnamed agent span is rejected")
            return
        }
        #expect(reason.contains("no agent name"))
        var zeroTrace = agent
        zeroTrace.traceID = Array(repeating: 0, count: 16)
        if case .rejected = OTLPMapping.map(zeroTrace, taskTypeAttributes: attributes) {} else { Issue.record("a zero trace id is rejected") }
        var backwards = agent
        backwards.endTimeUnixNano = backwards.startTimeUnixNano - 1
        if case .rejected = OTLPMapping.map(backwards, taskTypeAttributes: attributes) {} else { Issue.record("end before start is rejected") }
    }
}
