// Test bodies of the service that hold whatever the repository: LearningServiceTests runs them over
// PostgreSQL, LearningServiceUnitTests over the in-memory repository (in the manner of hummingbird,
// whose tests run one body in memory or through a real socket). Each caller adds what only its
// repository shows.
public import Foundation
public import LearningAPI
import LearningCore
public import LearningRepository
public import LearningService
public import Testing
public import Logging
import Synchronization

/// A new task id.
public func uuid() -> String { UUID().uuidString.lowercased() }

/// An execution to log.
public func execution(_ agent: String, _ task: String, _ time: Double, _ success: Bool, taskID: String? = nil,
                      at: Date? = nil, event: String? = nil, error: String? = nil, memory: Double = 100) -> ExecutionInput {
    ExecutionInput(agentName: agent, taskID: taskID ?? uuid(), taskType: task, executionTime: time, success: success,
                   errorMessage: error, resourceUsage: ResourceUsage(cpu: 20, memoryMB: memory, tokens: 1000),
                   timestamp: at, eventID: event)
}

/// How many times slower than a quiet machine a loaded 2-core CI machine may be
/// (LEARNING_TEST_TIME_SCALE, default 10): waits for things to happen are scaled by it.
public let testTimeScale: Double = max(ProcessInfo.processInfo.environment["LEARNING_TEST_TIME_SCALE"].flatMap(Double.init) ?? 10, 1)

/// What `eventually` throws after recording its issue.
public struct TimedOut: Error, CustomStringConvertible {
    public var description: String
}

/// Waits until `condition` holds, polling; fails the test after `timeout` seconds (what a quiet
/// machine needs), scaled by `testTimeScale` but to no more than two minutes.
public func eventually(_ what: String, timeout: Double = 15, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(max(timeout, min(timeout * testTimeScale, 120)))
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw TimedOut(description: "timed out waiting for \(what)")
}

/// Expects a `ServiceError` of the given code from `body`.
public func expectServiceError<T>(_ code: String, _ body: () async throws -> T,
                                  sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch let error as ServiceError {
        #expect(error.code == code, "expected \(code), got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ServiceError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

/// The lines a service logged, through a swift-log handler of its own.
public final class LogCapture: Sendable {
    /// Creates an empty capture.
    public init() {}

    private let captured = Mutex<[String]>([])
    public func append(_ line: String) { captured.withLock { $0.append(line) } }
    /// Every line so far.
    public var lines: [String] { captured.withLock { $0 } }
    /// Whether a line starting with `prefix` was logged.
    public func contains(prefix: String) -> Bool { lines.contains { $0.hasPrefix(prefix) } }

    /// A logger whose every message (any level) lands here.
    public var logger: Logger {
        Logger(label: "test") { _ in Handler(capture: self) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { capture.append(event.message.description) }
    }
}

/// The shared bodies.
public enum ServiceScenarios {
    /// Waits until the start-up training (in the background once the start-up is complete) has
    /// ended, as the service logs it: while it runs, predictions are `unavailable` (training), and
    /// a model it saves late would be newer than one trained on demand meanwhile.
    public static func waitForTheStartUpTraining(_ log: LogCapture) async throws {
        try await eventually("the start-up training") {
            log.contains(prefix: "retrained (start-up)") || log.contains(prefix: "start-up training failed")
        }
    }

    /// Logs one execution, its retry (same event id) and a batch with a repeated event id; expects
    /// the duplicates answered with the first row's id and the figures to count each row once, at
    /// once (read-your-writes). Returns the first execution's id.
    @discardableResult
    public static func loggedExecutionsAreDeduplicatedAndCountedAtOnce(_ service: LearningService) async throws -> Int64 {
        let one = try await service.logExecution(execution("coder-01", "code_review", 2.0, true, event: "evt-1"))
        #expect(!one.duplicate && one.id > 0)
        let retry = try await service.logExecution(execution("coder-01", "code_review", 2.0, true, event: "evt-1"))
        #expect(retry.duplicate && retry.id == one.id)
        let batch = try await service.logExecutions([
            execution("coder-01", "code_review", 4.0, true),
            execution("coder-01", "testing", 6.0, false, error: "timeout after 30s"),
            execution("tester-02", "testing", 1.0, true, event: "evt-2"),
            execution("tester-02", "testing", 1.0, true, event: "evt-2"),
        ])
        #expect(batch.accepted == 3 && batch.duplicates == 1)
        #expect(batch.results.count == 4 && batch.results[3].id == batch.results[2].id)

        let analytics = try await service.performanceAnalytics(windowHours: 1)
        #expect(analytics.totalExecutions == 4)
        #expect(analytics.successRate == 0.75)
        #expect(analytics.avgExecutionTime == 13.0 / 4)
        #expect(Set(analytics.agents.map(\.agentName)) == ["coder-01", "tester-02"])
        let coder = try await service.agentPerformance(name: "coder-01")
        #expect(coder.executions == 3)
        #expect(coder.taskTypes.map(\.taskType).sorted() == ["code_review", "testing"])
        #expect(coder.taskTypes.first { $0.taskType == "code_review" }?.avgExecutionTime == 3)
        let list = try await service.listAgents(status: "")
        #expect(list.agents.map(\.source) == ["discovered", "discovered"])
        #expect(try await service.agentStatus(name: "tester-02").executionsTotal == 1, "the retried event id is stored once")
        return one.id
    }

    /// Registers an agent twice (an upsert that keeps its registration time), heartbeats it and
    /// expects unknown agents and bad names refused.
    public static func registerIsAnIdempotentUpsertAndUnknownAgentsAreNotFound(_ service: LearningService) async throws {
        let first = try await service.registerAgent(RegisterAgentRequest(name: "director", description: "Plans", tools: ["Read"], model: "opus"))
        #expect(first.created)
        #expect(first.agent.source == "api")
        #expect(first.agent.status == "unknown")
        let second = try await service.registerAgent(RegisterAgentRequest(name: "director", description: "Plans more", tools: ["Read", "Write"]))
        #expect(!second.created)
        #expect(second.agent.description == "Plans more")
        #expect(second.agent.registeredAt == first.agent.registeredAt)
        let list = try await service.listAgents(status: "")
        #expect(list.total == 1 && list.agents[0].tools == ["Read", "Write"])
        let status = try await service.agentStatus(name: "director")
        #expect(status.status == "unknown")
        #expect(status.reason.contains("never seen"))
        let beat = try await service.heartbeat(HeartbeatRequest(agentName: "director"))
        #expect(beat.status == "healthy")
        #expect(try await service.agentStatus(name: "director").status == "healthy")
        #expect(try await service.listAgents(status: "healthy").total == 1)
        // The status an agent reports is kept and counts while its heartbeat is fresh: the worse
        // of it and the rule's; an empty status clears it; anything else is refused.
        let sick = try await service.heartbeat(HeartbeatRequest(agentName: "director", status: "unhealthy"))
        #expect(sick.status == "unhealthy")
        let reported = try await service.agentStatus(name: "director")
        #expect(reported.status == "unhealthy" && reported.reason.contains("reported itself unhealthy"), "\(reported.reason)")
        #expect(try await service.listAgents(status: "unhealthy").total == 1)
        #expect(try await service.heartbeat(HeartbeatRequest(agentName: "director", status: "degraded")).status == "degraded")
        #expect(try await service.heartbeat(HeartbeatRequest(agentName: "director", status: "healthy")).status == "healthy")
        _ = try await service.heartbeat(HeartbeatRequest(agentName: "director", status: "unhealthy"))
        #expect(try await service.heartbeat(HeartbeatRequest(agentName: "director")).status == "healthy")
        await expectServiceError("invalid_argument") {
            try await service.heartbeat(HeartbeatRequest(agentName: "director", status: "zombie"))
        }
        #expect(try await service.agentStatus(name: "director").status == "healthy")
        // An agent first seen in an execution counts as registered at once, in /health and /status
        // as in /agents/list.
        #expect(service.health().agentsRegistered == 1)
        _ = try await service.logExecution(execution("newcomer", "plan", 1, true))
        #expect(service.health().agentsRegistered == 2)
        #expect(service.status().agentsRegistered == 2)
        #expect(try await service.listAgents(status: "").total == 2)
        await expectServiceError("not_found") { try await service.agentStatus(name: "nobody") }
        await expectServiceError("not_found") { try await service.agentPerformance(name: "nobody") }
        await expectServiceError("not_found") { try await service.heartbeat(HeartbeatRequest(agentName: "nobody")) }
        await expectServiceError("invalid_argument") { try await service.agentStatus(name: "bad name") }
        await expectServiceError("invalid_argument") { try await service.registerAgent(RegisterAgentRequest(name: "-x")) }
        await expectServiceError("invalid_argument") { try await service.listAgents(status: "sleepy") }
    }

    /// Logs the executions of the roll-up comparison: three (agent, task type) groups in the last
    /// day (one task shared by two agents) and one older execution.
    public static func logRollUpExecutions(_ service: LearningService) async throws {
        let shared = uuid()
        _ = try await service.logExecutions([
            execution("planner", "plan", 1, true, taskID: shared, memory: 100),
            execution("coder", "plan", 3, false, taskID: shared, memory: 300),
            execution("planner", "plan", 2.5, false, memory: 250),
            execution("coder", "code", 4, true),
            execution("veteran", "plan", 1, true, at: Date().addingTimeInterval(-3 * 86_400)),
        ])
    }

    /// After `logRollUpExecutions`: the roll-up from memory and the repository's own
    /// (`rollUpPerformance`, computed from the stored rows) write the same figures. `latest` reads
    /// the newest row per (agent, task type) back.
    public static func theRollUpFromMemoryHasTheRepositorysFigures(
        _ service: LearningService, latest: () async throws -> [PerformanceSnapshot]) async throws {
        let now = Date().addingTimeInterval(10)
        let memory = try await service.rollUpPerformance(at: now)
        #expect(memory == (rows: 3, fromMemory: true))
        let fromMemory = try await latest()
        #expect(try await service.store.rollUpPerformance(window: 86_400, at: now.addingTimeInterval(1)) == 3)
        let fromRows = try await latest()
        #expect(fromRows.map(\.lastUpdated) != fromMemory.map(\.lastUpdated), "the second snapshot is the newest")
        func figures(_ s: [PerformanceSnapshot]) -> [String] {
            func f(_ v: Double?) -> String { v.map { String(format: "%.9f", $0) } ?? "null" }
            return s.map { "\($0.agentName)/\($0.taskType ?? "-"): \(f($0.avgExecutionTime)) \(f($0.successRate)) \(f($0.resourceCPU)) "
                + "\(f($0.resourceMemory)) \(f($0.coordinationScore)) \($0.executions ?? -1) \($0.source ?? "")" }
        }
        #expect(figures(fromMemory) == figures(fromRows))
        #expect(figures(fromMemory) == [
            "coder/code: 4.000000000 1.000000000 20.000000000 100.000000000 null 1 rollup",
            "coder/plan: 3.000000000 0.000000000 20.000000000 300.000000000 0.000000000 1 rollup",
            "planner/plan: 1.750000000 0.500000000 20.000000000 175.000000000 1.000000000 2 rollup",
        ])
    }

    /// 400 tasks of a fast and a slow agent over five days.
    public static func twoAgentsOnSharedTasks(start: Date) -> [ExecutionInput] {
        var inputs: [ExecutionInput] = []
        for i in 0..<400 {
            let at = start.addingTimeInterval(Double(i) * 1000)
            let task = uuid()
            inputs.append(execution("fast-agent", "code_review", 1.0 + Double(i % 5) * 0.1, i % 10 != 0, taskID: task, at: at))
            inputs.append(execution("slow-agent", "code_review", 10.0 + Double(i % 5), i % 3 != 0, taskID: task, at: at.addingTimeInterval(30),
                                    error: i % 3 == 0 ? "connection refused on port \(8000 + i)" : nil, memory: 2000))
        }
        return inputs
    }

    /// After `twoAgentsOnSharedTasks` is logged: a retrain learns them, and predictions and
    /// recommendations tell the fast agent from the slow one. Returns the retrain's result.
    @discardableResult
    public static func retrainLearnsPredictsAndRecommends(_ service: LearningService) async throws -> RetrainResult {
        let result = try await service.retrain()
        #expect(result.trainedOnExecutions == 800)
        #expect(result.trainingTime > 0)
        let prediction = result.mlModels.first { $0.name == "performance_prediction" }
        #expect(prediction?.state == .active)
        #expect(prediction?.accuracy != nil)
        #expect(service.health().mlModels.allSatisfy { $0.state == .active })
        #expect(service.metrics().predictionAccuracy > 0 && service.metrics().trainingTime > 0)

        let fast = try await service.predict(PredictionRequest(agentName: "fast-agent", taskType: "code_review"))
        let slow = try await service.predict(PredictionRequest(agentName: "slow-agent", taskType: "code_review"))
        #expect(fast.executionTime < slow.executionTime)
        #expect(fast.successRate > slow.successRate)
        #expect(fast.basis == "pair" && fast.basedOnExecutions == 400)
        await expectServiceError("not_found") { try await service.predict(PredictionRequest(agentName: "nobody", taskType: "code_review")) }

        let ranked = try await service.recommendations(RecommendationsRequest(taskType: "code_review"))
        #expect(ranked.recommendations.first?.agentName == "fast-agent")
        #expect(ranked.recommendations.map(\.rank) == [1, 2])
        return result
    }
}
