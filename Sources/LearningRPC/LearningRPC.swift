// The gRPC bindings of learning.v1.LearningSystem: each method decodes its request with
// protobuf-c, checks the caller's API key, calls the shared handler and encodes the response.
// `ServiceError`s become the gRPC status of the same name; undecodable requests INVALID_ARGUMENT.
public import H2Transport
public import LearningService
public import GRPCWire
import Foundation
import LearningCore
import LearningProtoC
import ProtobufCSupport
import Synchronization

/// Registers the learning.v1.LearningSystem service in a transport `Router`.
///
/// ```swift
/// var router = Router()
/// LearningRPC.register(into: &router, handlers: service)
/// ```
public enum LearningRPC {
    /// The service's full name.
    public static let serviceName = "learning.v1.LearningSystem"

    /// Every method's full path, e.g. `/learning.v1.LearningSystem/GetHealth`.
    public static let methodPaths: [String] = [
        "GetHealth", "GetStatus", "ListAgents", "GetAgentStatus", "GetAgentPerformance", "RegisterAgent", "Heartbeat",
        "LogExecution", "LogExecutions", "StreamExecutions", "IngestExecutions", "SubmitMetrics",
        "GetPerformanceAnalytics", "GetCoordinationPatterns", "GetInsights", "GetPatterns", "PredictPerformance",
        "GetRecommendations", "GetMetrics", "FindSimilarAgents", "GetAnomalies", "WatchInsights", "Retrain",
        "GetErrorSignatures",
    ].map { "/\(serviceName)/\($0)" }

    /// Records per `logExecutions` call made by the streaming ingest methods.
    public static let streamChunkSize = 1_000
    /// Most records of one bidirectional ingest call in flight (received but not yet acknowledged).
    public static let ingestWindow = 512

    /// Adds every method of the service to `router`.
    public static func register(into router: inout Router, handlers: any LearningHandlers) {
        let path = { (method: String) in "/\(serviceName)/\(method)" }
        let health = HealthEncodingCache { ProtoEncode.message($0) }

        // Writes are authorized from their headers, before a byte of their request is buffered
        // (the handlers check again: the same key, a cheap comparison).
        let keyed: [(String, ServiceOperation)] = [
            ("RegisterAgent", .registerAgent), ("Heartbeat", .heartbeat), ("LogExecution", .logExecution),
            ("LogExecutions", .logExecutions), ("StreamExecutions", .logExecutions),
            ("IngestExecutions", .logExecutions), ("SubmitMetrics", .submitMetrics), ("Retrain", .retrain),
        ]
        for (method, operation) in keyed where operation.requiresKey {
            router.checkHeaders(path(method), headCheck(operation, handlers))
        }
        // What the requests whose decode amplifies hold once decoded, for the memory budget.
        for (method, cost) in requestCosts() {
            router.chargeDecoded(path(method), cost)
        }

        router.register(path("GetHealth"), .unaryInline { _, bytes in
            _ = try decode(bytes, as: GetHealthRequest.self)
            return health.bytes(for: handlers.health())
        })
        router.register(path("GetStatus"), .unaryInline { _, bytes in
            _ = try decode(bytes, as: GetStatusRequest.self)
            return ProtoEncode.message(handlers.status())
        })
        router.register(path("ListAgents"), unary(.listAgents, handlers) { bytes in
            let request = try decode(bytes, as: ListAgentsRequest.self)
            return ProtoEncode.message(try await handlers.listAgents(status: request.status))
        })
        router.register(path("GetAgentStatus"), unary(.agentStatus, handlers) { bytes in
            let request = try decode(bytes, as: GetAgentStatusRequest.self)
            return ProtoEncode.message(try await handlers.agentStatus(name: request.agentName))
        })
        router.register(path("GetAgentPerformance"), unary(.agentPerformance, handlers) { bytes in
            let request = try decode(bytes, as: GetAgentPerformanceRequest.self)
            return ProtoEncode.message(try await handlers.agentPerformance(name: request.agentName))
        })
        router.register(path("RegisterAgent"), unary(.registerAgent, handlers) { bytes in
            ProtoEncode.message(try await handlers.registerAgent(try decode(bytes, as: RegisterAgentRequest.self)))
        })
        router.register(path("Heartbeat"), unary(.heartbeat, handlers) { bytes in
            let heartbeat = try decode(bytes, as: HeartbeatRequest.self)
            return ProtoEncode.message(HeartbeatResponse(agent: try await handlers.heartbeat(heartbeat)))
        })
        // The hottest write: served without a Swift task (see `GRPCMethodHandler.unaryCallback`).
        router.register(path("LogExecution"), .unaryCallback { context, bytes, responder in
            let input: ExecutionInput
            do {
                try handlers.authorize(.logExecution, bearerToken: context.metadata.first("authorization"))
                guard let execution = try decode(bytes, as: LogExecutionRequest.self).execution else {
                    throw ServiceError.invalidArgument("execution is required")
                }
                input = execution
            } catch {
                let status = grpcStatus(error, context)
                return responder.complete { throw status }
            }
            handlers.logExecution(input) { finish in
                responder.complete {
                    do { return ProtoEncode.message(try finish()) } catch { throw grpcStatus(error, context) }
                }
            }
        })
        router.register(path("LogExecutions"), unary(.logExecutions, handlers) { bytes in
            let result = try await handlers.logExecutions(try executionBatch(bytes))
            return ProtoEncode.message(LogExecutionsResponse(accepted: result.accepted, duplicates: result.duplicates))
        })
        router.register(path("StreamExecutions"), .clientStreaming { context, requests in
            try await serve(.logExecutions, handlers, context) {
                try await streamExecutions(requests, handlers: handlers)
            }
        })
        router.register(path("IngestExecutions"), .bidirectional { context, requests, writer in
            _ = try await serve(.logExecutions, handlers, context) {
                try await ingestExecutions(requests, writer: writer, handlers: handlers)
                return []
            }
        })
        router.register(path("SubmitMetrics"), unary(.submitMetrics, handlers) { bytes in
            ProtoEncode.message(try await handlers.submitMetrics(try decode(bytes, as: SubmitMetricsRequest.self)))
        })
        router.register(path("GetPerformanceAnalytics"), unary(.performanceAnalytics, handlers) { bytes in
            let request = try decode(bytes, as: GetPerformanceAnalyticsRequest.self)
            return ProtoEncode.message(try await handlers.performanceAnalytics(windowHours: request.windowHours))
        })
        router.register(path("GetCoordinationPatterns"), unary(.coordinationPatterns, handlers) { bytes in
            let request = try decode(bytes, as: GetCoordinationPatternsRequest.self)
            return ProtoEncode.message(try await handlers.coordinationPatterns(limit: request.limit))
        })
        router.register(path("GetInsights"), unary(.insights, handlers) { bytes in
            let query = try decode(bytes, as: InsightsQuery.self)
            return ProtoEncode.message(GetInsightsResponse(insights: try await handlers.insights(query)))
        })
        router.register(path("GetPatterns"), unary(.patterns, handlers) { bytes in
            let request = try decode(bytes, as: GetPatternsRequest.self)
            var kinds: [PatternKind] = []
            for name in request.kinds {
                guard let kind = PatternKind(rawValue: name) else {
                    throw ServiceError.invalidArgument("kinds: unknown pattern kind \"\(name.prefix(64))\" (collaboration, performance, resources, failures)")
                }
                kinds.append(kind)
            }
            return ProtoEncode.message(try await handlers.patterns(kinds: kinds))
        })
        router.register(path("PredictPerformance"), unary(.predict, handlers) { bytes in
            ProtoEncode.message(try await handlers.predict(try decode(bytes, as: PredictionRequest.self)))
        })
        router.register(path("GetRecommendations"), unary(.recommendations, handlers) { bytes in
            ProtoEncode.message(try await handlers.recommendations(try decode(bytes, as: RecommendationsRequest.self)))
        })
        router.register(path("GetMetrics"), .unaryInline { _, bytes in
            _ = try decode(bytes, as: GetMetricsRequest.self)
            return ProtoEncode.message(handlers.metrics())
        })
        router.register(path("FindSimilarAgents"), unary(.similarAgents, handlers) { bytes in
            ProtoEncode.message(try await handlers.similarAgents(try decode(bytes, as: SimilarAgentsRequest.self)))
        })
        router.register(path("GetAnomalies"), unary(.anomalies, handlers) { bytes in
            ProtoEncode.message(GetAnomaliesResponse(anomalies: try await handlers.anomalies(try decode(bytes, as: AnomaliesQuery.self))))
        })
        router.register(path("WatchInsights"), .serverStreaming { context, bytes, writer in
            _ = try await serve(.watchInsights, handlers, context) {
                let request = try ProtoDecode.message(bytes, as: WatchInsightsRequest.self)
                let events = try handlers.watchInsights(request)
                for await event in events {
                    try await writer.send(ProtoEncode.message(event))
                }
                return []
            }
        })
        router.register(path("Retrain"), unary(.retrain, handlers) { bytes in
            let request = try decode(bytes, as: RetrainRequest.self)
            return ProtoEncode.message(try await handlers.retrain(asOf: request.asOf))
        })
        router.register(path("GetErrorSignatures"), unary(.patterns, handlers) { bytes in
            let request = try decode(bytes, as: GetErrorSignaturesRequest.self)
            return ProtoEncode.message(GetErrorSignaturesResponse(signatures: try await handlers.errorSignatures(request.errorMessages)))
        })
    }

    /// The gRPC status for a service error.
    public static func status(for error: ServiceError) -> GRPCStatus {
        switch error {
        case .invalidArgument(let detail): GRPCStatus(.invalidArgument, detail)
        case .notFound(let detail): GRPCStatus(.notFound, detail)
        case .alreadyExists(let detail): GRPCStatus(.alreadyExists, detail)
        case .unauthenticated(let detail): GRPCStatus(.unauthenticated, detail)
        case .permissionDenied(let detail): GRPCStatus(.permissionDenied, detail)
        case .overloaded: GRPCStatus(.resourceExhausted, error.detail)
        case .unavailable(let detail): GRPCStatus(.unavailable, detail)
        case .failedPrecondition(let detail): GRPCStatus(.failedPrecondition, detail)
        case .internal(let detail): GRPCStatus(.internal, detail)
        }
    }

    /// Maps anything a handler threw to the status the client sees; an `overloaded` refusal also
    /// sends its retry delay as `grpc-retry-pushback-ms` trailing metadata.
    static func grpcStatus(_ error: any Error, _ context: GRPCCallContext) -> GRPCStatus {
        let serviceError = (error as? ServiceError) ?? (error as? any ServiceErrorConvertible)?.serviceError
        if let delay = serviceError?.retryAfterSeconds {
            context.responseMetadata.addTrailing(.retryPushback(seconds: delay))
        }
        return grpcStatus(error)
    }

    /// Maps anything a handler threw to the status the client sees.
    static func grpcStatus(_ error: any Error) -> GRPCStatus {
        if let status = error as? GRPCStatus { return status }
        if let undecodable = error as? UndecodableRequest { return GRPCStatus(.invalidArgument, undecodable.detail) }
        if error is CancellationError { return GRPCStatus(.cancelled, "the call was cancelled") }
        return status(for: ServiceError.wrap(error))
    }

    /// A request's value; undecodable bytes become INVALID_ARGUMENT naming the bad field.
    @inline(__always)
    static func decode<Value: ProtoMessage>(_ bytes: [UInt8], as type: Value.Type) throws -> Value {
        do {
            return try ProtoDecode.message(bytes, as: type)
        } catch let error as UndecodableRequest {
            throw GRPCStatus(.invalidArgument, error.detail)
        }
    }

    /// The head check of a method that needs `operation`'s key: nil when the call may go on, else
    /// its UNAUTHENTICATED status.
    public static func headCheck(_ operation: ServiceOperation, _ handlers: any LearningHandlers)
        -> @Sendable ([Metadata]) -> GRPCStatus? {
        { metadata in
            do {
                try handlers.authorize(operation, bearerToken: metadata.first("authorization"))
                return nil
            } catch {
                return grpcStatus(error)
            }
        }
    }

    /// Authorizes, runs `body` and maps its errors to gRPC statuses.
    static func serve(_ operation: ServiceOperation, _ handlers: any LearningHandlers, _ context: GRPCCallContext,
                      _ body: () async throws -> [UInt8]) async throws -> [UInt8] {
        do {
            try handlers.authorize(operation, bearerToken: context.metadata.first("authorization"))
            return try await body()
        } catch {
            throw grpcStatus(error, context)
        }
    }

    static func unary(_ operation: ServiceOperation, _ handlers: any LearningHandlers,
                      _ body: @escaping @Sendable ([UInt8]) async throws -> [UInt8]) -> GRPCMethodHandler {
        .unary { context, bytes in
            try await serve(operation, handlers, context) { try await body(bytes) }
        }
    }

    // MARK: Streaming ingest

    /// Client streaming: stores the records in chunks as they arrive and answers the totals once
    /// every record is committed. A bad record ends the call with INVALID_ARGUMENT naming its index
    /// (records of earlier chunks are stored; retry with event ids to stay idempotent).
    static func streamExecutions(_ requests: AnyGRPCRequestStream, handlers: any LearningHandlers) async throws -> [UInt8] {
        var accepted: Int64 = 0
        var duplicates: Int64 = 0
        var chunk: [ExecutionInput] = []
        chunk.reserveCapacity(streamChunkSize)
        var index = 0
        try await withThrowingTaskGroup(of: LogBatchResult.self) { group in
            var inFlight = 0
            func collect() async throws {
                if let result = try await group.next() {
                    accepted += result.accepted
                    duplicates += result.duplicates
                    inFlight -= 1
                }
            }
            for try await bytes in requests {
                chunk.append(try ProtoDecode.executionBytes(bytes, field: "message[\(index)]"))
                index += 1
                if chunk.count >= streamChunkSize {
                    let records = chunk
                    let first = index - records.count
                    chunk.removeAll(keepingCapacity: true)
                    if inFlight >= 4 { try await collect() }
                    group.addTask { try await logChunk(records, firstIndex: first, handlers: handlers) }
                    inFlight += 1
                }
            }
            if !chunk.isEmpty {
                let records = chunk
                let first = index - records.count
                group.addTask { try await logChunk(records, firstIndex: first, handlers: handlers) }
                inFlight += 1
            }
            while inFlight > 0 { try await collect() }
        }
        return ProtoEncode.message(LogExecutionsResponse(accepted: accepted, duplicates: duplicates))
    }

    /// Stores one chunk; an invalid record's index is made relative to the whole stream.
    static func logChunk(_ records: [ExecutionInput], firstIndex: Int, handlers: any LearningHandlers) async throws -> LogBatchResult {
        do {
            return try await handlers.logExecutions(records)
        } catch ServiceError.invalidArgument(let detail) where firstIndex > 0 {
            throw ServiceError.invalidArgument("in the chunk of messages starting at \(firstIndex): \(detail)")
        }
    }

    /// Bidirectional: each record is stored on its own (so group commit batches concurrent
    /// records) and acknowledged in order once committed. At most `ingestWindow` records are in
    /// flight; reading pauses beyond that.
    static func ingestExecutions(_ requests: AnyGRPCRequestStream, writer: any GRPCResponseWriter,
                                 handlers: any LearningHandlers) async throws {
        let window = AsyncSemaphore(permits: ingestWindow)
        let (pending, continuation) = AsyncStream.makeStream(of: (Int64, Task<LogExecutionResult, any Error>).self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // The acknowledger: awaits each record in order and sends its ack. When it stops
                // (a failed record, or the client went away) the reader is released.
                do {
                    for await (sequence, task) in pending {
                        let result: LogExecutionResult
                        do {
                            result = try await task.value
                        } catch ServiceError.invalidArgument(let detail) {
                            throw ServiceError.invalidArgument("message \(sequence): \(detail)")
                        }
                        window.signal()
                        try await writer.send(ProtoEncode.message(ExecutionAck(sequence: sequence, id: result.id, duplicate: result.duplicate)))
                    }
                } catch {
                    window.close()
                    throw error
                }
            }
            var sequence: Int64 = 0
            // Records in flight, by event id: a record repeating the event id of an earlier one in
            // the same stream is stored only after it, so the first in stream order is the one
            // stored and the repeat is acknowledged as its duplicate.
            var inFlight = EventIDOrdering()
            do {
                for try await bytes in requests {
                    let input = try ProtoDecode.executionBytes(bytes, field: "message[\(sequence)]")
                    try await window.wait()
                    let earlier = inFlight.earlierTask(for: input.eventID, before: sequence, window: ingestWindow)
                    let task = Task {
                        if let earlier { _ = try? await earlier.value }
                        return try await handlers.logExecution(input)
                    }
                    inFlight.record(task, for: input.eventID, at: sequence)
                    continuation.yield((sequence, task))
                    sequence += 1
                }
                continuation.finish()
            } catch is CancellationError {
                // The acknowledger stopped first; its error is the call's outcome.
                continuation.finish()
            } catch {
                continuation.finish()
                throw error
            }
            try await group.waitForAll()
        }
    }
}

/// The latest in-flight ingest task per event id of one bidirectional stream. Entries older than the
/// window are dropped: by then their records have been acknowledged, so memory stays bounded.
struct EventIDOrdering {
    private var latest: [String: (sequence: Int64, task: Task<LogExecutionResult, any Error>)] = [:]
    private var order: [(sequence: Int64, eventID: String)] = []
    private var head = 0

    /// The task of an earlier record with the same event id that may still be in flight.
    mutating func earlierTask(for eventID: String?, before sequence: Int64, window: Int) -> Task<LogExecutionResult, any Error>? {
        while head < order.count, order[head].sequence <= sequence - Int64(window) {
            let old = order[head]
            if latest[old.eventID]?.sequence == old.sequence { latest[old.eventID] = nil }
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        guard let eventID, !eventID.isEmpty else { return nil }
        return latest[eventID]?.task
    }

    /// Notes the task storing the record at `sequence`.
    mutating func record(_ task: Task<LogExecutionResult, any Error>, for eventID: String?, at sequence: Int64) {
        guard let eventID, !eventID.isEmpty else { return }
        latest[eventID] = (sequence, task)
        order.append((sequence, eventID))
    }
}

