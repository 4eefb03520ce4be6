// Measures what decoding an ingest request costs in memory, against the request's size
// (bench/decode-cost.sh; the target of #19: decode costs <= 4x the request's size).
//
// The request goes through the handler the server registers (LearningRPC's `LogExecutions` from
// its `Router` table; the REST shim's `POST /executions/batch`), over a probe service whose
// `logExecutions` takes the figures the moment the decoded batch arrives, so the decode is
// whatever the binding does before it hands it over (wire check, where each execution lies, JSON
// parse) however it is written. The probe then reads the batch as the service does (each
// execution decoded and validated into a record, the records kept) and takes the figures again.
// The allocator is counted by CAllocCounter (malloc and its family replaced in this executable,
// forwarding to glibc).
//
// Figures per request: the peak of live heap bytes above the level before the call, up to the
// hand-over (the decode: compared with 4x); the same peak once the batch is read into records
// (what the service holds while it stores them); and the bytes allocated in total up to the
// hand-over. Each figure is the least of `repeats` runs (other threads only ever add to it). The
// wall time from the call to the records read is printed too (least of the runs; a
// load-sensitive figure, for comparing builds). A second table puts beside each request what the
// transport's memory budget charges it while its handler runs (the cost the route declares:
// LearningRPC's `executionBatchCost`, LearningREST's `makeRESTCost`), against the request plus the
// larger of the two peaks, the most it holds at once.
import CAllocCounter
import Foundation
import H2Transport
import LearningAPI
import LearningCore
import LearningREST
import LearningRPC
import LearningService
import Synchronization

/// What the probe saw at the hand-over, in bytes relative to the call's start.
struct HandOver: Sendable {
    var decodePeak: Int64 = 0
    var decodeTotal: Int64 = 0
    var validatedPeak: Int64 = 0
    /// What the handler holds at most: the decode's peak, or the records' once read (-1: refused).
    var heldPeak: Int64 { max(decodePeak, validatedPeak) }
    var executions = 0
    /// Wall time from the call to the batch read into records (decoded whole, however lazily).
    var decodeTime: Duration = .zero
}

/// A `LearningHandlers` that serves the ingest methods only: it records the allocator's figures
/// when the decoded executions arrive, validates them as the service does, and stores nothing.
final class DecodeProbe: LearningHandlers {
    private let state = Mutex<(baseline: Int64, baselineTotal: Int64, started: ContinuousClock.Instant, seen: HandOver?)>(
        (0, 0, .now, nil))

    /// Notes the allocator's level before a call.
    func start() {
        let live = alloc_counter_live_bytes()
        let total = alloc_counter_total_bytes()
        alloc_counter_reset_peak()
        state.withLock { $0 = (live, total, .now, nil) }
    }

    /// What the last call handed over, if it got that far.
    var seen: HandOver? { state.withLock { $0.seen } }

    /// Takes the figures at the hand-over, then reads the batch as the service does: each
    /// execution decoded, validated into a record and kept (the records are what the service
    /// holds while it stores them).
    private func record(_ executions: ExecutionBatch) throws {
        let peak = alloc_counter_peak_bytes()
        let total = alloc_counter_total_bytes()
        var records: [ExecutionRecord] = []
        records.reserveCapacity(executions.count)
        var valid = true
        for index in 0..<executions.count {
            guard let input = try? executions.input(at: index),
                  let record = try? Validation.execution(input, field: "executions[\(index)]") else { valid = false; break }
            records.append(record)
        }
        let validatedPeak = alloc_counter_peak_bytes()
        let now = ContinuousClock.now
        withExtendedLifetime(records) {}
        state.withLock { state in
            state.seen = HandOver(decodePeak: peak - state.baseline, decodeTotal: total - state.baselineTotal,
                                  validatedPeak: valid ? validatedPeak - state.baseline : -1, executions: executions.count,
                                  decodeTime: now - state.started)
        }
    }

    func logExecutions(_ executions: ExecutionBatch) async throws -> LogBatchResult {
        try record(executions)
        return LogBatchResult(accepted: Int64(executions.count), duplicates: 0, results: [])
    }

    func logExecution(_ execution: ExecutionInput) async throws -> LogExecutionResult {
        try record(ExecutionBatch([execution]))
        return LogExecutionResult(id: 1, duplicate: false)
    }

    // Everything else is refused: the bench sends only ingest requests.
    private static let refusal = ServiceError.unavailable("DecodeBench serves the ingest methods only")
    private static let epoch = Date(timeIntervalSince1970: 1_737_801_000)

    func authorize(_ operation: ServiceOperation, bearerToken: String?) throws {}
    func health() -> HealthReport {
        HealthReport(status: "healthy", service: "decode-bench", database: "none", agentsRegistered: 0, timestamp: Self.epoch,
                     mlModels: [], version: "bench", uptimeSeconds: 0, totalExecutions: 0)
    }
    func status() -> StatusReport {
        StatusReport(learningSystem: "operational", database: "none", agentsRegistered: 0,
                     performance: ServicePerformance(queriesPerSec: 0, avgLatencyMs: 0, successRate: 0, windowSeconds: 60),
                     mlModels: [], features: [:])
    }
    func metrics() -> ServiceMetrics {
        ServiceMetrics(queriesPerSec: 0, predictionAccuracy: 0, trainingTime: 0, agentResponseTime: 0, memoryUsageMB: 0,
                       cpuUsagePercent: 0, methods: [], executionsIngested: 0)
    }
    func executionTimeHistograms() -> ExecutionTimeHistograms { ExecutionTimeHistograms() }
    func listAgents(status: String) async throws -> AgentList { throw Self.refusal }
    func agentStatus(name: String) async throws -> AgentStatusReport { throw Self.refusal }
    func agentPerformance(name: String) async throws -> AgentPerformance { throw Self.refusal }
    func registerAgent(_ request: RegisterAgentRequest) async throws -> RegisterAgentResult { throw Self.refusal }
    func heartbeat(_ request: HeartbeatRequest) async throws -> AgentInfo { throw Self.refusal }
    func submitMetrics(_ request: SubmitMetricsRequest) async throws -> SubmitMetricsResult { throw Self.refusal }
    func performanceAnalytics(windowHours: Int) async throws -> PerformanceAnalytics { throw Self.refusal }
    func coordinationPatterns(limit: Int) async throws -> CoordinationPatterns { throw Self.refusal }
    func insights(_ query: InsightsQuery) async throws -> [Insight] { throw Self.refusal }
    func patterns(kinds: [PatternKind]) async throws -> PatternsReport { throw Self.refusal }
    func predict(_ request: PredictionRequest) async throws -> PerformancePrediction { throw Self.refusal }
    func recommendations(_ request: RecommendationsRequest) async throws -> RecommendationsReport { throw Self.refusal }
    func similarAgents(_ request: SimilarAgentsRequest) async throws -> SimilarAgentsReport { throw Self.refusal }
    func anomalies(_ query: AnomaliesQuery) async throws -> [Anomaly] { throw Self.refusal }
    func watchInsights(_ request: WatchInsightsRequest) throws -> AsyncStream<InsightEvent> { throw Self.refusal }
    func retrain() async throws -> RetrainResult { throw Self.refusal }
    func retrain(asOf: Date?) async throws -> RetrainResult { throw Self.refusal }
    func errorSignatures(_ messages: [String]) async throws -> [String] { throw Self.refusal }
}

// MARK: Requests

/// Protobuf wire encoding, enough for the request shapes below.
struct Wire {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }
    mutating func string(_ field: Int, _ text: String) { bytes(field, Array(text.utf8)) }
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        tag(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }
    mutating func double(_ field: Int, _ value: Double) {
        tag(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }
    mutating func bool(_ field: Int, _ value: Bool) {
        tag(field, 0)
        varint(value ? 1 : 0)
    }
    mutating func message(_ field: Int, _ build: (inout Wire) -> Void) {
        var inner = Wire()
        build(&inner)
        bytes(field, inner.bytes)
    }
}

/// One worst-case (or typical) shape of an ingest request: the same execution repeated.
struct Shape: Sendable {
    var name: String
    /// What the shape stresses.
    var note: String
    /// One `learning.v1.Execution`, encoded.
    var protobuf: @Sendable (Int) -> [UInt8]
    /// The same execution as a JSON object.
    var json: @Sendable (Int) -> String
}

let resourceKeys = (0..<8).map { String(UnicodeScalar(UInt8(0x61 + $0))) }

let shapes: [Shape] = [
    Shape(name: "typical", note: "the guide's execution (every field, a UUID, a timestamp, 3 resources)",
          protobuf: { index in
              var wire = Wire()
              wire.string(1, "director")
              wire.string(2, "120f4156-2bf0-4841-9994-cd8c5d83e6cf")
              wire.string(3, "strategic_planning")
              wire.double(4, 42.5)
              wire.bool(5, true)
              wire.message(7) { usage in usage.double(1, 35.2); usage.double(2, 512); usage.double(3, 1200) }
              wire.message(8) { time in time.tag(1, 0); time.varint(1_737_800_981) }
              wire.string(9, "evt-\(index)")
              return wire.bytes
          },
          json: { index in
              #"{"agent_name":"director","task_id":"120f4156-2bf0-4841-9994-cd8c5d83e6cf","task_type":"strategic_planning","execution_time":42.5,"success":true,"resource_usage":{"cpu":35.2,"memory_mb":512,"tokens":1200},"timestamp":"2025-01-25T10:29:41Z","event_id":"evt-\#(index)"}"#
          }),
    Shape(name: "minimal", note: "the smallest valid execution: agent_name \"a\", success",
          protobuf: { _ in
              var wire = Wire()
              wire.string(1, "a")
              wire.bool(5, true)
              return wire.bytes
          },
          json: { _ in #"{"agent_name":"a","success":true}"# }),
    Shape(name: "short strings", note: "every free-text string field one character (task_id must be a UUID), a time, success",
          protobuf: { _ in
              var wire = Wire()
              wire.string(1, "a")
              wire.string(3, "c")
              wire.double(4, 1)
              wire.bool(5, true)
              wire.string(6, "d")
              wire.string(9, "e")
              return wire.bytes
          },
          json: { _ in #"{"agent_name":"a","task_type":"c","execution_time":1,"success":true,"error_message":"d","event_id":"e"}"# }),
    Shape(name: "resource maps", note: "agent_name \"a\" and 8 one-letter resources of value 0",
          protobuf: { _ in
              var wire = Wire()
              wire.string(1, "a")
              wire.message(7) { usage in
                  for key in resourceKeys { usage.message(4) { entry in entry.string(1, key) } }
              }
              return wire.bytes
          },
          json: { _ in
              #"{"agent_name":"a","success":true,"resource_usage":{"# + resourceKeys.map { "\"\($0)\":0" }.joined(separator: ",") + "}}"
          }),
    Shape(name: "empty", note: "gRPC only: an empty Execution (2 bytes on the wire; decodes, validation refuses it)",
          protobuf: { _ in [] }, json: { _ in "" }),
]

func grpcRequest(_ shape: Shape, count: Int) -> [UInt8] {
    var wire = Wire()
    for index in 0..<count { wire.bytes(1, shape.protobuf(index)) }
    return wire.bytes
}

func restRequest(_ shape: Shape, count: Int) -> [UInt8] {
    Array(("{\"executions\":[" + (0..<count).map { shape.json($0) }.joined(separator: ",") + "]}").utf8)
}

// MARK: Running

struct Row {
    var path: String
    var shape: String
    var executions: Int
    var requestBytes: Int
    /// What the transport's memory budget charges the request while its handler runs.
    var charged: Int
    var figures: HandOver
    var ratio: Double { Double(figures.decodePeak) / Double(requestBytes) }
}

/// Runs `call` `repeats` times and keeps the least of each figure.
func measure(_ probe: DecodeProbe, repeats: Int, _ call: @Sendable () async throws -> Void) async throws -> HandOver {
    var best: HandOver?
    for _ in 0..<repeats {
        probe.start()
        try await call()
        guard let seen = probe.seen else { throw BenchError("the request never reached the service") }
        if var kept = best {
            kept.decodePeak = min(kept.decodePeak, seen.decodePeak)
            kept.decodeTotal = min(kept.decodeTotal, seen.decodeTotal)
            kept.validatedPeak = min(kept.validatedPeak, seen.validatedPeak)
            kept.decodeTime = min(kept.decodeTime, seen.decodeTime)
            best = kept
        } else {
            best = seen
        }
    }
    return best!
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func mib(_ bytes: Int64) -> String { String(format: "%.2f MiB", Double(bytes) / 1_048_576) }
func kib(_ bytes: Int) -> String { String(format: "%.1f KiB", Double(bytes) / 1024) }

@main
struct DecodeBench {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let counts = arguments.first.map { $0.split(separator: ",").compactMap { Int($0) } } ?? [100, 1_000, 10_000]
        let repeats = arguments.dropFirst().first.flatMap { Int($0) } ?? 5
        guard alloc_counter_active() == 1 else {
            throw BenchError("the counting allocator is not the process's malloc: no figure would be true")
        }
        let probe = DecodeProbe()
        var router = Router()
        LearningRPC.register(into: &router, handlers: probe)
        guard case .unary(let logExecutions) = router.grpcMethods["/\(LearningRPC.serviceName)/LogExecutions"] else {
            throw BenchError("LogExecutions is not a registered unary method")
        }
        guard let logExecutionsCost = router.grpcCosts["/\(LearningRPC.serviceName)/LogExecutions"] else {
            throw BenchError("LogExecutions declares no decoded cost")
        }
        let rest = makeRESTHandler(service: probe)
        let restCost = makeRESTCost()
        // What one connection may hold at once (learning-server's configuration: 4 MiB messages).
        let connectionLimit = ServerConfiguration(maxReceiveMessageBytes: 4 << 20, maxHTTP1BodyBytes: 4 << 20)
            .effectiveConnectionHeldBytes
        let context = GRPCCallContext(method: "/\(LearningRPC.serviceName)/LogExecutions", metadata: [], deadline: nil,
                                      peer: "127.0.0.1:1")
        var rows: [Row] = []
        for shape in shapes {
            for count in counts {
                let bytes = grpcRequest(shape, count: count)
                let figures = try await measure(probe, repeats: repeats) { _ = try await logExecutions(context, bytes) }
                rows.append(Row(path: "gRPC LogExecutions", shape: shape.name, executions: count, requestBytes: bytes.count,
                                charged: max(bytes.count, logExecutionsCost.message(bytes)), figures: figures))
            }
        }
        for shape in shapes where !shape.json(0).isEmpty {
            for count in counts {
                let body = restRequest(shape, count: count)
                let request = HTTPRequest(method: "POST", path: "/executions/batch", query: "",
                                          headers: [Metadata("content-type", "application/json")], body: body, peer: "127.0.0.1:1")
                let figures = try await measure(probe, repeats: repeats) {
                    guard case .async(let answer) = rest(request) else { throw BenchError("the batch route answered inline") }
                    let response = await answer(request)
                    guard response.status == 200 else {
                        throw BenchError("POST /executions/batch answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
                    }
                }
                rows.append(Row(path: "REST /executions/batch", shape: shape.name, executions: count, requestBytes: body.count,
                                charged: max(body.count, restCost(request)), figures: figures))
            }
        }
        print("| path | shape | executions | request | decode peak | peak / request | read into records: peak / request | allocated in total / request | decode and read time per execution |")
        print("|---|---|---|---|---|---|---|---|---|")
        for row in rows {
            let validated = row.figures.validatedPeak < 0 ? "refused" : String(format: "%.1fx", Double(row.figures.validatedPeak) / Double(row.requestBytes))
            print("| \(row.path) | \(row.shape) | \(row.executions) | \(kib(row.requestBytes)) | \(mib(row.figures.decodePeak)) | "
                  + String(format: "**%.1fx**", row.ratio) + " | \(validated) | "
                  + String(format: "%.1fx", Double(row.figures.decodeTotal) / Double(row.requestBytes)) + " | "
                  + String(format: "%.2f µs", Double(row.figures.decodeTime.components.attoseconds) / 1e12 / Double(row.executions)
                           + Double(row.figures.decodeTime.components.seconds) * 1e6 / Double(row.executions)) + " |")
        }
        print("")
        print("What the memory budget charges each request while its handler runs (the request and what the service holds of it,")
        print("estimated before the decode), against what it holds at its peak (the request, allocated before the call, plus the")
        print("larger of the decode's peak and the records' peak above), and how many such requests one connection holds at most")
        print("(\(mib(Int64(connectionLimit))) each). A batch refused at its first execution (empty) is charged as if read whole:")
        print("")
        print("| path | shape | executions | request | charged | charged / request | charged / (request + held peak) | at once per connection |")
        print("|---|---|---|---|---|---|---|---|")
        for row in rows {
            let held = Int64(row.requestBytes) + row.figures.heldPeak
            print("| \(row.path) | \(row.shape) | \(row.executions) | \(kib(row.requestBytes)) | \(mib(Int64(row.charged))) | "
                  + String(format: "%.1fx", Double(row.charged) / Double(row.requestBytes)) + " | "
                  + String(format: "**%.2f**", Double(row.charged) / Double(held)) + " | \(connectionLimit / row.charged) |")
        }
        let uncovered = rows.filter { Int64($0.charged) < Int64($0.requestBytes) + $0.figures.heldPeak }
        print("\nrequests charged less than they hold at their peak: \(uncovered.count) of \(rows.count)"
              + uncovered.map { " [\($0.path) \($0.shape) \($0.executions): \(Int64($0.requestBytes) + $0.figures.heldPeak - Int64($0.charged)) bytes]" }.joined())
        print("")
        for shape in shapes { print("- \(shape.name): \(shape.note)") }
        print("\nthe decode hands the service the request's bytes and where each execution lies (an ExecutionBatch); the service "
              + "reads them into records of \(MemoryLayout<ExecutionRecord>.stride) bytes each (before any string they hold on the "
              + "heap), which it holds while they are stored: the 'read into records' column")
        let worst = rows.max { $0.ratio < $1.ratio }!
        print("\nworst: \(worst.path), \(worst.shape), \(worst.executions) executions: "
              + String(format: "%.1fx", worst.ratio) + " the request's size (target <= 4x)")
    }
}
