import Foundation
import LearningCore
import LearningService
import Synchronization

/// An in-memory `LearningHandlers` for the shim's pure tests: it validates with the service's own
/// `Validation` rules, keeps registered agents and logged executions in memory, records the
/// requests it received, and can be told to fail the next call with a given `ServiceError`.
final class InMemoryService: LearningHandlers, @unchecked Sendable {
    struct State {
        var agents: [String: AgentInfo] = [:]
        var executions: [ExecutionRecord] = []
        var failure: ServiceError?
        var lastPrediction: PredictionRequest?
        var lastRecommendations: RecommendationsRequest?
        var lastMetrics: SubmitMetricsRequest?
        var lastPatternKinds: [PatternKind]?
        var lastAnomalies: AnomaliesQuery?
        var lastInsights: InsightsQuery?
        var lastSimilar: SimilarAgentsRequest?
        var lastWindowHours: Int?
        var lastRetrainAsOf: Date??
    }

    let state = Mutex(State())
    let apiKey: String?
    static let epoch = Date(timeIntervalSince1970: 1_737_801_000) // 2025-01-25T10:30:00Z

    init(apiKey: String? = nil) { self.apiKey = apiKey }

    func failNext(_ error: ServiceError) { state.withLock { $0.failure = error } }

    private func checkFailure() throws {
        if let failure = state.withLock({ state -> ServiceError? in
            defer { state.failure = nil }
            return state.failure
        }) { throw failure }
    }

    private static let models = [
        ModelStatus(name: "pattern_recognition", state: .active),
        ModelStatus(name: "performance_prediction", state: .active),
        ModelStatus(name: "anomaly_detection", state: .insufficientData),
    ]

    func authorize(_ operation: ServiceOperation, bearerToken: String?) throws {
        guard operation.requiresKey, let apiKey else { return }
        guard bearerToken == "Bearer \(apiKey)" else { throw ServiceError.unauthenticated("a valid API key is required") }
    }

    func health() -> HealthReport {
        HealthReport(status: "healthy", service: "learning-system", database: "connected",
                     agentsRegistered: state.withLock { $0.agents.count }, timestamp: Self.epoch,
                     mlModels: Self.models, version: "test", uptimeSeconds: 5, totalExecutions: 0)
    }

    func status() -> StatusReport {
        StatusReport(learningSystem: "operational", database: "connected", agentsRegistered: state.withLock { $0.agents.count },
                     performance: ServicePerformance(queriesPerSec: 2150.04, avgLatencyMs: 18.234, successRate: 98.7, windowSeconds: 60),
                     mlModels: Self.models, features: ["pattern_recognition": true])
    }

    private func agent(_ name: String) throws -> AgentInfo {
        try Validation.agentName(name)
        guard let agent = state.withLock({ $0.agents[name] }) else { throw ServiceError.notFound("agent \(name) is not registered") }
        return agent
    }

    func listAgents(status: String) async throws -> AgentList {
        try checkFailure()
        let agents = state.withLock { Array($0.agents.values) }.filter { status.isEmpty || $0.status == status }
            .sorted { $0.name < $1.name }
        return AgentList(agents: agents, total: agents.count)
    }

    func agentStatus(name: String) async throws -> AgentStatusReport {
        try checkFailure()
        let agent = try agent(name)
        return AgentStatusReport(agent: agent, status: agent.status, executionsTotal: 0, recentSuccessRate: 1,
                                 secondsSinceSeen: nil, healthCheckIntervalSeconds: 30, reason: "never seen")
    }

    func agentPerformance(name: String) async throws -> AgentPerformance {
        try checkFailure()
        let agent = try agent(name)
        return AgentPerformance(agentName: agent.name, executions: 1, successRate: 1, avgExecutionTime: 2,
                                medianExecutionTime: 2,
                                taskTypes: [TaskTypePerformance(taskType: "t", executions: 1, successRate: 1, avgExecutionTime: 2,
                                                                medianExecutionTime: 2, p90ExecutionTime: 2, avgCPU: 1,
                                                                avgMemoryMB: 1, avgTokens: 1)],
                                lastExecution: Self.epoch, coordinationScore: 0.5)
    }

    func registerAgent(_ request: RegisterAgentRequest) async throws -> RegisterAgentResult {
        try checkFailure()
        try Validation.registration(request)
        return state.withLock { state in
            let created = state.agents[request.name] == nil
            let agent = AgentInfo(name: request.name, description: request.description, tools: request.tools,
                                  model: request.model, status: "unknown", lastSeen: nil, registeredAt: Self.epoch,
                                  source: "api", metadata: request.metadata)
            state.agents[request.name] = agent
            return RegisterAgentResult(agent: agent, created: created)
        }
    }

    func heartbeat(_ request: HeartbeatRequest) async throws -> AgentInfo {
        try checkFailure()
        var agent = try agent(request.agentName)
        agent.lastSeen = Self.epoch
        agent.status = "healthy"
        state.withLock { [agent] in $0.agents[agent.name] = agent }
        return agent
    }

    func logExecution(_ execution: ExecutionInput) async throws -> LogExecutionResult {
        try checkFailure()
        let record = try Validation.execution(execution, field: "execution")
        return state.withLock { state in
            if let eventID = record.eventID, let index = state.executions.firstIndex(where: { $0.eventID == eventID }) {
                return LogExecutionResult(id: Int64(index + 1), duplicate: true)
            }
            state.executions.append(record)
            return LogExecutionResult(id: Int64(state.executions.count), duplicate: false)
        }
    }

    func logExecutions(_ executions: ExecutionBatch) async throws -> LogBatchResult {
        try checkFailure()
        var records: [ExecutionRecord] = []
        for index in 0..<executions.count {
            records.append(try Validation.execution(try executions.input(at: index), field: "executions[\(index)]"))
        }
        return state.withLock { state in
            state.executions += records
            return LogBatchResult(accepted: Int64(records.count), duplicates: 0,
                                  results: records.indices.map { LogExecutionResult(id: Int64($0), duplicate: false) })
        }
    }

    func submitMetrics(_ request: SubmitMetricsRequest) async throws -> SubmitMetricsResult {
        try checkFailure()
        _ = try agent(request.agentName)
        try Validation.metricsSample(request.metrics)
        state.withLock { $0.lastMetrics = request }
        return SubmitMetricsResult(id: 7)
    }

    func performanceAnalytics(windowHours: Int) async throws -> PerformanceAnalytics {
        try checkFailure()
        state.withLock { $0.lastWindowHours = windowHours }
        let records = state.withLock { $0.executions }
        let byAgent = Dictionary(grouping: records, by: \.agentName)
        let agents = byAgent.map { name, rows in
            AgentSummary(agentName: name, executions: Int64(rows.count),
                         successRate: Double(rows.filter(\.success).count) / Double(rows.count),
                         avgExecutionTime: rows.compactMap(\.executionTime).reduce(0, +) / Double(rows.count),
                         medianExecutionTime: 0)
        }
        return PerformanceAnalytics(totalExecutions: Int64(records.count), successRate: 1, avgExecutionTime: 1,
                                    medianExecutionTime: 1, p90ExecutionTime: 1, agents: agents, taskTypes: [],
                                    generatedAt: Self.epoch)
    }

    func coordinationPatterns(limit: Int) async throws -> CoordinationPatterns {
        try checkFailure()
        _ = try Validation.limit(limit, default: 20, maximum: 1000)
        return CoordinationPatterns(
            pairs: [CollaborationPattern(agents: ["a", "b"], sharedTasks: 3, successRateTogether: 1, expectedSuccessRate: 0.8,
                                         lift: 0.2, zScore: 1.1, effect: "neutral")],
            handoffs: [HandoffPattern(fromAgent: "a", toAgent: "b", count: 3, successRate: 1, medianGapSeconds: 2)],
            coordinationScore: 0.9, multiAgentTasks: 3)
    }

    func insights(_ query: InsightsQuery) async throws -> [Insight] {
        try checkFailure()
        state.withLock { $0.lastInsights = query }
        _ = try Validation.limit(query.limit, default: 50, maximum: 1000)
        return [Insight(id: "i1", kind: "anomaly", severity: "warning", title: "t", detail: "d", agents: ["a"],
                        taskType: "t", createdAt: Self.epoch, score: 3)]
    }

    func patterns(kinds: [PatternKind]) async throws -> PatternsReport {
        try checkFailure()
        state.withLock { $0.lastPatternKinds = kinds }
        return PatternsReport(
            collaboration: [CollaborationPattern(agents: ["a", "b"], sharedTasks: 3, successRateTogether: 1,
                                                 expectedSuccessRate: 0.8, lift: 0.2, zScore: 1.1, effect: "neutral")],
            performance: [SchedulePattern(taskType: "t", bestHour: 1, worstHour: 2, bestHourMedianTime: 1, worstHourFailureRate: 0.1)],
            resources: [ResourceProfile(cluster: 0, agents: ["a"], avgCPU: 1, avgMemoryMB: 2, avgTokens: 3, label: "light")],
            failures: [FailurePattern(signature: "s", count: 1, agents: ["a"], taskTypes: ["t"], example: "e", lastSeen: nil)],
            handoffs: [])
    }

    func predict(_ request: PredictionRequest) async throws -> PerformancePrediction {
        try checkFailure()
        try Validation.prediction(request)
        state.withLock { $0.lastPrediction = request }
        return PerformancePrediction(agentName: request.agentName, taskType: request.taskType, executionTime: 41.7,
                                     medianExecutionTime: 35.2, successRate: 0.96, confidence: 0.88, intervalLow: 18,
                                     intervalHigh: 77.9, resources: RecommendedResources(cpu: 1, memoryMB: 2, tokens: 3),
                                     lowConfidence: false, basedOnExecutions: 10, basis: "pair")
    }

    func recommendations(_ request: RecommendationsRequest) async throws -> RecommendationsReport {
        try checkFailure()
        _ = try Validation.recommendations(request)
        state.withLock { $0.lastRecommendations = request }
        return RecommendationsReport(taskType: request.taskType, recommendations: [
            Recommendation(agentName: "a", expectedSuccessRate: 0.9, predictedExecutionTime: 3, confidence: 0.8, score: 0.9,
                           reason: "r", rank: 1),
        ])
    }

    func metrics() -> ServiceMetrics {
        ServiceMetrics(queriesPerSec: 10, predictionAccuracy: 0.8, trainingTime: 1.5, agentResponseTime: 3,
                       memoryUsageMB: 100, cpuUsagePercent: 12,
                       methods: [ServiceMethodMetrics(method: "GET /health", requests: 5, errors: 0, avgLatencyMs: 0.1, p99LatencyMs: 0.2)],
                       executionsIngested: Int64(state.withLock { $0.executions.count }))
    }

    func executionTimeHistograms() -> ExecutionTimeHistograms {
        var histograms = ExecutionTimeHistograms()
        for record in state.withLock({ $0.executions }) {
            histograms.observe(agent: record.agentName, taskType: record.taskType, seconds: record.executionTime)
        }
        return histograms
    }

    func similarAgents(_ request: SimilarAgentsRequest) async throws -> SimilarAgentsReport {
        try checkFailure()
        _ = try Validation.similarAgents(request)
        _ = try agent(request.agentName)
        state.withLock { $0.lastSimilar = request }
        return SimilarAgentsReport(agentName: request.agentName, similar: [SimilarAgent(agentName: "b", similarity: 0.9)])
    }

    func anomalies(_ query: AnomaliesQuery) async throws -> [Anomaly] {
        try checkFailure()
        _ = try Validation.limit(query.limit, default: 50, maximum: 1000)
        state.withLock { $0.lastAnomalies = query }
        return [Anomaly(id: "x", kind: "latency_spike", agentName: "a", taskType: "t", score: 5, threshold: 2, observed: 9,
                        expected: 1, executionID: 3, detectedAt: Self.epoch, detail: "d")]
    }

    func watchInsights(_ request: WatchInsightsRequest) throws -> AsyncStream<InsightEvent> {
        AsyncStream { $0.finish() }
    }

    func retrain() async throws -> RetrainResult {
        try await retrain(asOf: nil)
    }

    func retrain(asOf: Date?) async throws -> RetrainResult {
        try checkFailure()
        if let asOf { try Validation.timestamp(asOf, field: "as_of") }
        state.withLock { $0.lastRetrainAsOf = .some(asOf) }
        return RetrainResult(mlModels: Self.models, trainingTime: 1.2, trainedOnExecutions: 10)
    }

    func errorSignatures(_ messages: [String]) async throws -> [String] {
        try checkFailure()
        return messages
    }
}
