// OpenTelemetry ingest: spans of agent work, as OTLP carries them (decoded by OTLPWire from protobuf
// and by the REST shim from OTLP JSON), mapped to executions with the GenAI semantic conventions
// and stored through the same `logExecutions` handler as every other write. docs/API.md
// "OpenTelemetry ingest" documents the mapping.
import Foundation
public import LearningCore

/// Spans to executions, following the OpenTelemetry GenAI semantic conventions.
public enum OTLPMapping {
    /// An execution made from a span, or why not.
    public enum Outcome: Sendable, Equatable {
        /// Agent work: the execution to store.
        case execution(ExecutionInput)
        /// Not agent work (counted, not stored).
        case skipped
        /// Agent work that cannot be an execution, and why.
        case rejected(String)
    }

    /// The conventions' operation of an agent invocation.
    static let invokeAgent = "invoke_agent"
    /// Operations that are never an agent's own execution, even when they carry its name.
    static let notAgentWork: Set<String> = [
        "chat", "text_completion", "generate_content", "embeddings", "execute_tool", "create_agent",
    ]

    /// Maps one span: `invoke_agent` spans and agent spans (a `gen_ai.agent.name` or
    /// `gen_ai.agent.id` without another GenAI operation, or OpenInference's
    /// `openinference.span.kind` `AGENT`) become executions of that agent; everything else is skipped.
    public static func map(_ span: OTLPSpan, taskTypeAttributes: [String]) -> Outcome {
        let attributes = span.attributes
        let operation = attributes["gen_ai.operation.name"]?.text
        let openInferenceKind = attributes["openinference.span.kind"]?.text?.uppercased()
        let declaredName = attributes["gen_ai.agent.name"]?.text ?? attributes["gen_ai.agent.id"]?.text
        let isAgentWork: Bool
        if let operation {
            isAgentWork = operation == invokeAgent || (!notAgentWork.contains(operation) && declaredName != nil)
        } else {
            isAgentWork = declaredName != nil || openInferenceKind == "AGENT"
        }
        guard isAgentWork else { return .skipped }

        let spanLabel = "span \(hex(span.spanID).prefix(16)) \"\(span.name.prefix(60))\""
        var rawName = declaredName ?? attributes["agent.name"]?.text
        if rawName == nil, span.name.hasPrefix(invokeAgent + " ") {
            rawName = String(span.name.dropFirst(invokeAgent.count + 1))
        }
        if rawName == nil, openInferenceKind == "AGENT", !span.name.isEmpty { rawName = span.name }
        guard let rawName, let agentName = agentName(from: rawName) else {
            return .rejected("\(spanLabel): no agent name (gen_ai.agent.name, gen_ai.agent.id or \"invoke_agent <name>\")")
        }
        guard span.traceID.count == 16, span.traceID.contains(where: { $0 != 0 }) else {
            return .rejected("\(spanLabel): the trace id must be 16 bytes, not all zero")
        }
        guard span.spanID.count == 8, span.spanID.contains(where: { $0 != 0 }) else {
            return .rejected("\(spanLabel): the span id must be 8 bytes, not all zero")
        }
        guard span.startTimeUnixNano > 0, span.endTimeUnixNano >= span.startTimeUnixNano else {
            return .rejected("\(spanLabel): the end time must not be before the start time")
        }

        var taskType: String?
        for key in taskTypeAttributes {
            if let value = attributes[key]?.text, !value.isEmpty {
                taskType = value
                break
            }
        }
        let success = span.statusCode != 2
        var errorMessage: String?
        if !success {
            errorMessage = errorText(span)
        }
        var usage = ResourceUsage()
        // The conventions' usage of the span itself; else the run's total that some frameworks
        // (Pydantic AI) put on the agent span as gen_ai.aggregated_usage.*.
        var input = attributes["gen_ai.usage.input_tokens"]?.number
        var output = attributes["gen_ai.usage.output_tokens"]?.number
        if input == nil && output == nil {
            input = attributes["gen_ai.aggregated_usage.input_tokens"]?.number
            output = attributes["gen_ai.aggregated_usage.output_tokens"]?.number
        }
        if input != nil || output != nil {
            usage.tokens = (input ?? 0) + (output ?? 0)
        }
        let seconds = Double(span.endTimeUnixNano - span.startTimeUnixNano) / 1e9
        let end = Date(timeIntervalSince1970: Double(span.endTimeUnixNano / 1_000) / 1e6)
        return .execution(ExecutionInput(
            agentName: agentName, taskID: uuid(span.traceID), taskType: taskType, executionTime: seconds,
            success: success, errorMessage: errorMessage, resourceUsage: usage, timestamp: end,
            eventID: "otel-\(hex(span.traceID))-\(hex(span.spanID))"))
    }

    /// `error.type`, the status message or the exception event, in the most telling combination:
    /// `"<exception.type>: <exception.message>"` when an exception was recorded, else the status
    /// message, else `error.type`.
    static func errorText(_ span: OTLPSpan) -> String {
        if let exception = span.events.first(where: { $0.name == "exception" }) {
            let type = exception.attributes["exception.type"]?.text ?? ""
            let message = exception.attributes["exception.message"]?.text ?? ""
            let text = [type, message].filter { !$0.isEmpty }.joined(separator: ": ")
            if !text.isEmpty { return String(text.prefix(4_096)) }
        }
        if !span.statusMessage.isEmpty { return String(span.statusMessage.prefix(4_096)) }
        if let type = span.attributes["error.type"]?.text, !type.isEmpty { return String(type.prefix(4_096)) }
        return "span status ERROR"
    }

    /// An agent name in the service's rule (`^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`): other characters
    /// (spaces, ...) become `-`, leading ones that cannot start a name are dropped.
    static func agentName(from raw: String) -> String? {
        var scalars = String.UnicodeScalarView()
        for scalar in raw.unicodeScalars {
            let allowed = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z")
                || (scalar >= "0" && scalar <= "9") || scalar == "." || scalar == "_" || scalar == "-"
            scalars.append(allowed ? scalar : "-")
        }
        var name = String(scalars)
        while let first = name.unicodeScalars.first,
              !((first >= "a" && first <= "z") || (first >= "A" && first <= "Z") || (first >= "0" && first <= "9")) {
            name.removeFirst()
        }
        name = String(name.prefix(255))
        return name.isEmpty ? nil : name
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A 16-byte trace id as a UUID (`8-4-4-4-12` hex), the executions' `task_id`.
    static func uuid(_ bytes: [UInt8]) -> String {
        let text = hex(bytes)
        let characters = Array(text)
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(characters[$0]) }.joined(separator: "-")
    }
}

extension LearningHandlers {
    /// Stores the executions of an OTLP export: maps every span (`OTLPMapping`), validates each
    /// execution on its own (an invalid one is rejected with its reason, the rest are stored) and
    /// stores them with `logExecutions` in batches. Back-pressure and database errors are thrown
    /// as the `ServiceError` of `logExecutions` (the whole export is to be retried; the span ids
    /// make the retry idempotent).
    public func exportSpans(_ spans: [OTLPSpan], taskTypeAttributes: [String]) async throws -> OTLPExportResult {
        var result = OTLPExportResult()
        var inputs: [ExecutionInput] = []
        inputs.reserveCapacity(spans.count)
        let now = Date()
        for span in spans {
            switch OTLPMapping.map(span, taskTypeAttributes: taskTypeAttributes) {
            case .skipped:
                result.skipped += 1
            case .rejected(let reason):
                result.rejected += 1
                if result.rejections.count < 5 { result.rejections.append(reason) }
            case .execution(let input):
                do {
                    _ = try Validation.execution(input, field: "span \(input.eventID?.suffix(16) ?? "")", now: now)
                    inputs.append(input)
                } catch {
                    result.rejected += 1
                    if result.rejections.count < 5 { result.rejections.append(ServiceError.wrap(error).detail) }
                }
            }
        }
        var start = 0
        while start < inputs.count {
            let end = min(inputs.count, start + Validation.maxBatchSize)
            let stored = try await logExecutions(Array(inputs[start..<end]))
            result.accepted += stored.accepted
            result.duplicates += stored.duplicates
            start = end
        }
        return result
    }
}
