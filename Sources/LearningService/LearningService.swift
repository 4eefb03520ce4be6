// The service core: the implementation of every handler over the repository (`LearningRepository`:
// LearningStore on PostgreSQL in the server, LearningInMemoryRepository in tests) and the learning
// engine (LearningML). See LearningHandlers.swift for the API and its contract.
//
// One `LearningService` owns:
// - the learning runtime: the `LearningEngine`, the execution analytics and the model states,
//   behind one lock (`core`). Every execution reaching `agents.execution_log` (our writes and
//   anyone else's) arrives through the repository's change feed and updates them once; a TRUNCATE
//   resets and rebuilds them from the replay.
// - the runtime's components (Runtime/): the feed consumer, the aggregate keeper, the model
//   keeper, the insight publisher (with the broadcaster for `WatchInsights`) and the periodic
//   jobs (housekeeping, roll-ups, retention, scheduled retraining), started and stopped together.
//   They reach `core` and `snapshot` through `RuntimeStateHolder`.
public import Foundation
public import LearningCore
import LearningML
public import LearningRepository
import Synchronization
import CMemory
public import Logging

/// Request-rate figures of the transport, supplied by the server (the service does not depend on
/// the transport module).
public struct RequestFigures: Sendable, Equatable {
    /// Requests per second over the recent window.
    public var queriesPerSec: Double
    /// Mean latency over the recent window, ms.
    public var avgLatencyMs: Double
    /// The window's length, seconds.
    public var windowSeconds: Int
    /// Per-method figures since start.
    public var methods: [ServiceMethodMetrics]

    /// Creates figures.
    public init(queriesPerSec: Double, avgLatencyMs: Double, windowSeconds: Int, methods: [ServiceMethodMetrics]) {
        self.queriesPerSec = queriesPerSec
        self.avgLatencyMs = avgLatencyMs
        self.windowSeconds = windowSeconds
        self.methods = methods
    }
}

extension StoreError: ServiceErrorConvertible {
    /// The service-level meaning of a storage failure.
    public var serviceError: ServiceError {
        switch self {
        case .alreadyExists(let message): .alreadyExists(message)
        case .unavailable: .unavailable("the database is unavailable; retry later")
        case .retryable: .unavailable("a transient database conflict occurred; retry")
        case .invalidInput(let message): .invalidArgument(message)
        case .overloaded(let retryAfter): .overloaded(retryAfter: retryAfter, detail: "the ingest queue is full")
        case .notFound(let message): .notFound(message)
        case .closed: .unavailable("the service is shutting down")
        case .database: .internal("database error")
        }
    }
}

/// The implementation of `LearningHandlers`.
///
/// ```swift
/// let store = try await LearningStore.open(config: config)   // or InMemoryRepository() in tests
/// let service = LearningService(config: config, store: store)
/// await service.start()
/// // ... serve ...
/// await service.shutdown()
/// ```
public final class LearningService: LearningHandlers {
    /// The service's version, reported by health.
    public static let version = "1.0.0"
    /// The three models health and status report on.
    public static let modelNames = ["pattern_recognition", "performance_prediction", "anomaly_detection"]
    /// Anomaly kinds as the API names them.
    public static let anomalyKinds = ["latency_spike", "resource_spike", "failure_burst"]
    /// Insight kinds as the API names them.
    public static let insightKinds = ["anomaly", "synergy", "conflict", "drift", "schedule", "failure_pattern", "model"]
    /// Fewest executions for a trained model to count as `active` rather than `insufficient_data`.
    public static let minimumTrainingRecords = 20

    /// The last performance analytics answered from the aggregates, and what it was computed from.
    let analyticsCache = Mutex<(key: AnalyticsKey, value: PerformanceAnalytics)?>(nil)
    /// The last patterns answered, for which kinds and model version, and when.
    let patternsCache = Mutex<(kinds: Set<PatternKind>, model: String, at: Date, value: PatternsReport)?>(nil)
    /// The configuration the service runs with.
    public let config: LearningConfig
    /// The repository: every read and write of storage goes through it (one existential call
    /// per request or feed batch, never per row).
    public let store: any LearningRepository
    let auth: APIKeyAuthenticator
    let core: Mutex<RuntimeState>
    /// What health, status and metrics read: refreshed from `core` by `Housekeeping` (every 0.5 s)
    /// and after every change that matters, so those calls never wait for the runtime's lock.
    let snapshot: Mutex<StateSnapshot>
    let process = ProcessMetrics(window: .seconds(10))
    let requestFigures = Mutex<RequestFiguresProvider?>(nil)
    let startedAt = Date()
    let logger: Logger
    /// Stores and streams insights (anomalies, what trainings learned).
    let insights: InsightPublisher
    /// The live insight streams.
    var broadcaster: InsightBroadcaster { insights.broadcaster }
    /// The runtime's components: built at the end of `init` with the service as their state
    /// holder, never changed after.
    nonisolated(unsafe) private(set) var runtime: RuntimeComponents!
    /// Runs the components between `start()` and `shutdown()`.
    let group = RuntimeGroup()

    /// Creates the service over an open store; call `start()` to begin learning.
    public init(config: LearningConfig, store: any LearningRepository, historyCapacity: Int = 500_000,
                logger: Logger = Logger(label: "learning-system", factory: { _ in SwiftLogNoOpLogHandler() })) {
        self.config = config
        self.store = store
        self.auth = APIKeyAuthenticator(keys: config.server.apiKeys)
        self.logger = logger
        let state = RuntimeState(config: config, historyCapacity: historyCapacity)
        snapshot = Mutex(StateSnapshot(state))
        core = Mutex(state)
        insights = InsightPublisher(store: store, config: config, logger: logger)
        runtime = RuntimeComponents(state: self, store: store, config: config, process: process, insights: insights,
                                    logger: logger)
    }

    /// Copies the figures health, status and metrics report out of the runtime state.
    /// Stored while the runtime's lock is held: two refreshes racing (the 0.5 s job and the end
    /// of the start-up) could otherwise store an older copy last, and health would say
    /// `starting` for half a second after the start-up completed.
    func refreshSnapshot() {
        core.withLock { state in
            let fresh = StateSnapshot(state)
            snapshot.withLock { $0 = fresh }
        }
    }

    /// Supplies the transport's request figures (queries/sec, latency) for status and metrics.
    public func setRequestFigures(_ provider: @escaping @Sendable () -> RequestFigures) {
        requestFigures.withLock { $0 = RequestFiguresProvider(figures: provider) }
    }

    // MARK: - Authorization

    public func authorize(_ operation: ServiceOperation, bearerToken: String?) throws {
        try auth.authorize(operation, bearerToken: bearerToken)
    }

    // MARK: - Health, status, metrics

    public func health() -> HealthReport {
        let database = store.databaseState
        let (models, lifecycle, agents, total, startup) = snapshot.withLock { s in
            (s.models, s.lifecycle, s.agentsRegistered, s.totalExecutions, s.startup)
        }
        let status: String
        if lifecycle == .draining || database != "connected" {
            status = "unhealthy"
        } else if let _ = startup {
            status = "starting"
        } else if models.contains(where: { $0.state == .failed }) {
            status = "degraded"
        } else {
            status = "healthy"
        }
        return HealthReport(status: status, service: "learning-system", database: database, agentsRegistered: agents,
                            timestamp: Date(), mlModels: models, version: Self.version,
                            uptimeSeconds: Int64(Date().timeIntervalSince(startedAt)), totalExecutions: total,
                            startup: startup?.report)
    }

    public func status() -> StatusReport {
        let database = store.databaseState
        let figures = requestFigures.withLock { $0 }?.figures()
        let (models, lifecycle, agents, successRate, replayed, startup) = snapshot.withLock { s in
            (s.models, s.lifecycle, s.agentsRegistered, s.recentSuccessRate, s.replayDone, s.startup)
        }
        let word: String
        switch lifecycle {
        case .running where !replayed: word = "starting"
        case .starting: word = "starting"
        case .draining: word = "draining"
        case .running: word = database == "connected" && !models.contains(where: { $0.state == .failed }) ? "operational" : "degraded"
        }
        let performance = ServicePerformance(queriesPerSec: figures?.queriesPerSec ?? 0, avgLatencyMs: figures?.avgLatencyMs ?? 0,
                                             successRate: (successRate ?? 0) * 100,
                                             windowSeconds: figures?.windowSeconds ?? RuntimeState.recentWindowSeconds)
        var report = StatusReport(learningSystem: word, database: database, agentsRegistered: agents, performance: performance,
                                  mlModels: models, features: features, startup: word == "starting" ? startup?.report : nil)
        report.replication = replicationReport(alone: false)
        return report
    }

    /// Leader election and the read replica (docs/SCALING.md); nil when neither is in use, and,
    /// unless `alone`, for a replica alone on its database without a read replica (so /status
    /// keeps the guide's keys, and gRPC's, for a single server).
    func replicationReport(alone: Bool) -> ReplicationReport? {
        let r = store.replication
        guard r.electionEnabled || r.readReplica else { return nil }
        guard alone || r.readReplica || r.replicas > 1 || !r.isLeader else { return nil }
        return ReplicationReport(role: r.isLeader ? "leader" : "follower", replicas: r.replicas, leaderJobRuns: r.leaderJobRuns,
                                 readReplica: r.readReplica, lagSeconds: r.lagSeconds, lagBytes: r.lagBytes)
    }

    /// The feature switches as `/status` reports them.
    public var features: [String: Bool] {
        ["performance_tracking": config.agents.performanceTracking, "anomaly_detection": config.anomalyDetectionEnabled,
         "pattern_recognition": config.agents.patternRecognition, "predictive_analytics": config.agents.predictiveAnalytics]
    }

    public func metrics() -> ServiceMetrics {
        let figures = requestFigures.withLock { $0 }?.figures()
        let (accuracy, trainingTime, responseTime, ingested) = snapshot.withLock { s in
            (s.predictionAccuracy, s.trainingTime, s.recentAverageTime, s.ingested)
        }
        var metrics = ServiceMetrics(queriesPerSec: figures?.queriesPerSec ?? 0,
                                     predictionAccuracy: accuracy,
                                     trainingTime: trainingTime,
                                     agentResponseTime: responseTime,
                                     memoryUsageMB: process.residentMemoryMB(),
                                     cpuUsagePercent: process.cpuUsagePercent(),
                                     methods: figures?.methods ?? [],
                                     executionsIngested: ingested)
        metrics.replication = replicationReport(alone: true)
        return metrics
    }

    public func executionTimeHistograms() -> ExecutionTimeHistograms {
        core.withLock { $0.executionTimes }
    }

    // MARK: - Agents

    public func listAgents(status filter: String) async throws -> AgentList {
        let allowed = ["", "healthy", "degraded", "unhealthy", "unknown"]
        guard allowed.contains(filter) else {
            throw ServiceError.invalidArgument("status must be one of healthy, degraded, unhealthy, unknown (got \(Validation.quoted(filter)))")
        }
        var stored = try await call { try await self.store.listAgents() }
        // Agents of executions the feed has not reported yet are registered now (read-your-writes).
        let listed = Set(stored.map(\.name))
        let unlisted = core.withLock { state -> [String: Date] in
            var missing: [String: Date] = [:]
            for name in state.knownAgents where !listed.contains(name) {
                if let track = state.analytics.track(agent: name), track.lastSeen.isFinite {
                    missing[name] = Date(timeIntervalSince1970: track.lastSeen)
                }
            }
            return missing
        }
        if !unlisted.isEmpty {
            try await call { try await self.store.noteAgentsSeen(unlisted) }
            stored = try await call { try await self.store.listAgents() }
        }
        let now = Date()
        let infos = core.withLock { state in stored.map { state.info($0, now: now) } }
        core.withLock { $0.noteRegistered(stored.map(\.name)) }
        let agents = filter.isEmpty ? infos : infos.filter { $0.status == filter }
        return AgentList(agents: agents, total: agents.count)
    }

    public func agentStatus(name: String) async throws -> AgentStatusReport {
        try Validation.agentName(name)
        let agent = try await registered(name)
        let now = Date()
        return core.withLock { state in state.statusReport(agent, now: now) }
    }

    public func agentPerformance(name: String) async throws -> AgentPerformance {
        try Validation.agentName(name)
        try requireFeature(config.agents.performanceTracking, "performance tracking", "PERFORMANCE_TRACKING_ENABLED")
        _ = try await registered(name)
        return core.withLock { state in state.agentPerformance(name) }
    }

    public func registerAgent(_ request: RegisterAgentRequest) async throws -> RegisterAgentResult {
        try Validation.registration(request)
        let definition = AgentDefinition(name: request.name, description: request.description, tools: request.tools,
                                         model: request.model, source: "api", metadata: request.metadata, registeredAt: Date())
        let (agent, created) = try await call { try await self.store.upsertAgent(definition) }
        let now = Date()
        let result = core.withLock { state in
            state.noteRegistered([agent.name])
            return RegisterAgentResult(agent: state.info(agent, now: now), created: created)
        }
        refreshSnapshot()
        return result
    }

    public func heartbeat(_ request: HeartbeatRequest) async throws -> AgentInfo {
        try Validation.agentName(request.agentName)
        let reported = try AgentHealthRule.reportedStatus(request.status)
        let now = Date()
        let agent: AgentDefinition
        do {
            agent = try await store.heartbeat(agentName: request.agentName, at: now, status: reported)
        } catch StoreError.notFound {
            throw ServiceError.notFound("agent \(Validation.quoted(request.agentName)) is not registered")
        } catch {
            throw ServiceError.wrap(error)
        }
        return core.withLock { state in
            state.heartbeats[agent.name] = now
            return state.info(agent, now: now)
        }
    }

    /// Makes acknowledged writes visible to analytics and learning at once (read-your-writes);
    /// anomalies they reveal are stored and streamed in the background.
    func applyOwnWrites(_ records: [ExecutionRecord]) {
        guard !records.isEmpty else { return }
        let (anomalies, newAgents) = core.withLock { state in
            let before = state.agentsRegistered
            return (state.applyDirect(records, arrival: Date()), state.agentsRegistered != before)
        }
        // /health and /status read a snapshot: a new agent shows in their count at once.
        if newAgents { refreshSnapshot() }
        if !anomalies.isEmpty {
            Task { [self] in for anomaly in anomalies { await publish(anomaly) } }
        }
    }

    /// The registered agent with this name, or `notFound`.
    /// An agent seen in executions the feed has not yet reported is registered (as `discovered`) now.
    func registered(_ name: String) async throws -> AgentDefinition {
        if let agent = try await call({ try await self.store.agent(named: name) }) { return agent }
        let seen = core.withLock { state -> Date? in
            guard state.knownAgents.contains(name), let track = state.analytics.track(agent: name), track.lastSeen.isFinite else { return nil }
            return Date(timeIntervalSince1970: track.lastSeen)
        }
        if let seen {
            try await call { try await self.store.noteAgentsSeen([name: seen]) }
            if let agent = try await call({ try await self.store.agent(named: name) }) { return agent }
        }
        throw ServiceError.notFound("agent \(Validation.quoted(name)) is not registered")
    }

    // MARK: - Ingest

    public func logExecution(_ execution: ExecutionInput) async throws -> LogExecutionResult {
        let finish = await withUnsafeContinuation { continuation in
            logExecution(execution) { continuation.resume(returning: $0) }
        }
        return try finish()
    }

    /// `logExecution` without a Swift task (the gRPC transport's path for LogExecution, where a
    /// task per call was a tenth of the service's CPU): validates and queues on the calling
    /// thread, then calls `deliver` once, from the writer's thread after the commit (or at once
    /// when the record is refused), with the call's last step. `deliver` runs `finish` where the
    /// caller wants the work done (the transport: on the connection's event loop), so the writer
    /// thread hands its callers over without doing their work before its next commit. `finish`
    /// applies the stored record to the in-memory state and returns the result, or throws.
    public func logExecution(_ execution: ExecutionInput,
                             deliver: @escaping @Sendable (_ finish: @escaping @Sendable () throws -> LogExecutionResult) -> Void) {
        store.logExecution(prepare: { try Validation.execution(execution) }) { [self] result in
            deliver {
                let stored: (record: ExecutionRecord, ack: IngestAck)
                do { stored = try result.get() } catch { throw ServiceError.wrap(error) }
                if !stored.ack.duplicate {
                    var record = stored.record
                    record.id = stored.ack.id
                    self.applyOwnWrites([record])
                }
                return LogExecutionResult(id: stored.ack.id, duplicate: stored.ack.duplicate)
            }
        }
    }

    public func logExecutions(_ executions: ExecutionBatch) async throws -> LogBatchResult {
        guard executions.count <= Validation.maxBatchSize else {
            throw ServiceError.invalidArgument("executions: at most \(Validation.maxBatchSize) records per batch (got \(executions.count))")
        }
        if executions.count == 0 { return LogBatchResult(accepted: 0, duplicates: 0, results: []) }
        return try await call {
            try await self.store.withIngestAdmission(rows: executions.count) { try await self.admittedLogExecutions(executions) }
        }
    }

    /// Decodes, validates and stores a batch. The records are the only copy of the executions the
    /// call holds (each input lives only while it is converted); once stored they take their ids
    /// in place and the duplicates leave, so the same array goes on to the learning layer.
    private func admittedLogExecutions(_ executions: ExecutionBatch) async throws -> LogBatchResult {
        let now = Date()
        var records: [ExecutionRecord] = []
        records.reserveCapacity(executions.count)
        for index in 0..<executions.count {
            records.append(try Validation.execution(try executions.input(at: index), field: "executions[\(index)]", now: now))
        }
        let acks = try await call { try await self.store.logExecutions(records) }
        var duplicates: Int64 = 0
        for (index, ack) in acks.enumerated() where index < records.count {
            records[index].id = ack.duplicate ? nil : ack.id
            if ack.duplicate { duplicates += 1 }
        }
        records.removeAll { $0.id == nil }
        applyOwnWrites(records)
        let results = acks.map { LogExecutionResult(id: $0.id, duplicate: $0.duplicate) }
        return LogBatchResult(accepted: Int64(results.count) - duplicates, duplicates: duplicates, results: results)
    }

    public func submitMetrics(_ request: SubmitMetricsRequest) async throws -> SubmitMetricsResult {
        try Validation.agentName(request.agentName)
        if !request.taskType.isEmpty { try Validation.taskType(request.taskType) }
        try Validation.metricsSample(request.metrics)
        _ = try await registered(request.agentName)
        let usage = request.metrics.resourceUsage
        var resources = usage.other
        if let cpu = usage.cpu { resources["cpu"] = cpu }
        if let memory = usage.memoryMB { resources["memory_mb"] = memory }
        if let tokens = usage.tokens { resources["tokens"] = tokens }
        let sample = MetricsSample(responseTime: request.metrics.responseTime, throughput: request.metrics.throughput,
                                   cpu: usage.cpu, memoryMB: usage.memoryMB, resources: resources,
                                   successRate: request.metrics.successRate,
                                   coordinationEffectiveness: request.metrics.coordinationEffectiveness)
        let id = try await call {
            try await self.store.submitMetrics(agentName: request.agentName, taskType: request.taskType.isEmpty ? nil : request.taskType,
                                               sample: sample, at: Date())
        }
        return SubmitMetricsResult(id: id)
    }

    // MARK: - Analytics

    public func performanceAnalytics(windowHours: Int) async throws -> PerformanceAnalytics {
        let maximum = config.performance.metricsRetentionDays * 24
        guard windowHours >= 0, windowHours <= maximum else {
            throw ServiceError.invalidArgument("window_hours must be between 0 and \(maximum) (the retention window)")
        }
        try requireFeature(config.agents.performanceTracking, "performance tracking", "PERFORMANCE_TRACKING_ENABLED")
        let since = windowHours == 0 ? nil : Date().addingTimeInterval(-Double(windowHours) * 3600)
        let sinceDay = since.map { AggregateCell.day(of: $0.timeIntervalSince1970) }
        // Under the lock only what is cheap: an exact window of a small sample, or a copy of the
        // figures (copy-on-write: O(1)) and the key of the last answer computed from them.
        let (exact, figures, key) = core.withLock { state -> (PerformanceAnalytics?, WindowFigures?, AnalyticsKey) in
            let key = AnalyticsKey(sinceDay: sinceDay, generation: state.generation, version: state.figures.version)
            if let exact = state.exactWindowAnalytics(since: since) { return (exact, nil, key) }
            return (nil, analyticsCache.withLock { $0?.key == key } ? nil : state.figures, key)
        }
        if let exact { return exact }
        guard let figures else {
            if let cached = analyticsCache.withLock({ $0?.key == key ? $0?.value : nil }) { return cached }
            return core.withLock { $0.figures }.performanceAnalytics(sinceDay: sinceDay)
        }
        let value = figures.performanceAnalytics(sinceDay: sinceDay)
        analyticsCache.withLock { $0 = (key, value) }
        return value
    }

    /// What a cached performance analytics answer was computed from.
    struct AnalyticsKey: Equatable, Sendable {
        var sinceDay: Int32?
        var generation: Int
        var version: Int64
    }

    public func coordinationPatterns(limit: Int) async throws -> CoordinationPatterns {
        let limit = try Validation.limit(limit, default: 20, maximum: 1000)
        try requireFeature(config.agents.patternRecognition, "pattern recognition", "PATTERN_RECOGNITION_ENABLED")
        return core.withLock { state in state.coordinationPatterns(limit: limit) }
    }

    public func insights(_ query: InsightsQuery) async throws -> [Insight] {
        let limit = try Validation.limit(query.limit, default: 50, maximum: 1000)
        var kinds: [String] = []
        if !query.kind.isEmpty {
            guard Self.insightKinds.contains(query.kind) else {
                throw ServiceError.invalidArgument("kind must be one of \(Self.insightKinds.joined(separator: ", "))")
            }
            kinds = query.kind == "anomaly" ? Self.anomalyKinds : [query.kind]
        }
        let stored = try await call { try await self.store.insights(kinds: kinds, limit: limit) }
        return stored.map(Self.insight(from:))
    }

    public func patterns(kinds: [PatternKind]) async throws -> PatternsReport {
        try requireFeature(config.agents.patternRecognition, "pattern recognition", "PATTERN_RECOGNITION_ENABLED")
        let wanted = Set(kinds.isEmpty ? PatternKind.allCases : kinds)
        // Patterns are the trained model's: one answer serves for up to 2 s (and until the next
        // training), instead of every reader walking the engine under the runtime's lock.
        let model = snapshot.withLock { $0.models.first?.version ?? "" }
        let now = Date()
        if let cached = patternsCache.withLock({ cache -> PatternsReport? in
            guard let cache, cache.kinds == wanted, cache.model == model, now.timeIntervalSince(cache.at) < 2 else { return nil }
            return cache.value
        }) { return cached }
        let value = core.withLock { state in state.patterns(wanted) }
        patternsCache.withLock { $0 = (wanted, model, now, value) }
        return value
    }

    public func anomalies(_ query: AnomaliesQuery) async throws -> [Anomaly] {
        let limit = try Validation.limit(query.limit, default: 50, maximum: 1000)
        if !query.agentName.isEmpty { try Validation.agentName(query.agentName) }
        if let since = query.since { try Validation.timestamp(since, field: "since") }
        try requireFeature(config.anomalyDetectionEnabled, "anomaly detection", "ANOMALY_DETECTION_ENABLED")
        await insights.flushAnomalyGroups()
        let stored = try await call {
            try await self.store.insights(kinds: Self.anomalyKinds, agentName: query.agentName.isEmpty ? nil : query.agentName,
                                          since: query.since, limit: limit)
        }
        return stored.map(Self.anomaly(from:))
    }

    // MARK: - Predictions

    public func predict(_ request: PredictionRequest) async throws -> PerformancePrediction {
        try Validation.prediction(request)
        try requireFeature(config.agents.predictiveAnalytics, "predictive analytics", "PREDICTIVE_ANALYTICS_ENABLED")
        try await requireKnown(request.agentName)
        let at = request.at ?? Date()
        return try core.withLock { state in try state.predict(request, at: at) }
    }

    public func recommendations(_ request: RecommendationsRequest) async throws -> RecommendationsReport {
        let limit = try Validation.recommendations(request)
        try requireFeature(config.agents.predictiveAnalytics, "predictive analytics", "PREDICTIVE_ANALYTICS_ENABLED")
        let at = request.at ?? Date()
        return try core.withLock { state in
            try state.recommend(taskType: request.taskType, at: at, limit: limit, speedWeight: request.speedWeight)
        }
    }

    public func similarAgents(_ request: SimilarAgentsRequest) async throws -> SimilarAgentsReport {
        let limit = try Validation.similarAgents(request)
        try requireFeature(config.agents.predictiveAnalytics, "predictive analytics", "PREDICTIVE_ANALYTICS_ENABLED")
        try await requireKnown(request.agentName)
        return try core.withLock { state in
            try state.similar(request.agentName, limit: limit, threshold: request.threshold ?? self.config.ml.similarityThreshold)
        }
    }

    /// `notFound` unless the agent is registered or has executions.
    func requireKnown(_ name: String) async throws {
        if core.withLock({ $0.knownAgents.contains(name) || $0.engine.agentNames.contains(name) }) { return }
        let agent = try await registered(name)
        core.withLock { $0.noteRegistered([agent.name]) }
    }

    // MARK: - Live insights and retraining

    public func watchInsights(_ request: WatchInsightsRequest) throws -> AsyncStream<InsightEvent> {
        guard request.kinds.count <= 32 else { throw ServiceError.invalidArgument("kinds: at most 32 entries") }
        for kind in request.kinds where !Self.insightKinds.contains(kind) && !Self.anomalyKinds.contains(kind) {
            throw ServiceError.invalidArgument("kinds: unknown kind \(Validation.quoted(kind)); use \((Self.insightKinds + Self.anomalyKinds).joined(separator: ", "))")
        }
        if !request.agentName.isEmpty { try Validation.agentName(request.agentName) }
        return broadcaster.subscribe(request)
    }

    public func retrain() async throws -> RetrainResult {
        try await retrain(asOf: nil)
    }

    public func retrain(asOf: Date?) async throws -> RetrainResult {
        if let asOf { try Validation.timestamp(asOf, field: "as_of") }
        guard config.agents.predictiveAnalytics || config.agents.patternRecognition else {
            throw ServiceError.failedPrecondition("every model that trains is disabled by configuration")
        }
        return try await runtime.models.retrain(reason: asOf == nil ? "on demand" : "on demand, as of \(asOf!)", asOf: asOf)
    }

    /// Most messages of one `errorSignatures` call.
    public static let maxSignatureMessages = 10_000

    public func errorSignatures(_ messages: [String]) async throws -> [String] {
        guard messages.count <= Self.maxSignatureMessages else {
            throw ServiceError.invalidArgument("error_messages: at most \(Self.maxSignatureMessages) entries (got \(messages.count))")
        }
        for (i, message) in messages.enumerated() where message.utf8.count > 65_536 {
            throw ServiceError.invalidArgument("error_messages[\(i)]: at most 65536 bytes")
        }
        try requireFeature(config.agents.patternRecognition, "pattern recognition", "PATTERN_RECOGNITION_ENABLED")
        return core.withLock { state in messages.map { state.engine.errorSignature(of: $0) } }
    }

    // MARK: - Helpers

    func requireFeature(_ enabled: Bool, _ name: String, _ variable: String) throws {
        if !enabled { throw ServiceError.failedPrecondition("\(name) is disabled by configuration (\(variable)=false)") }
    }

    /// Runs a store call, mapping its errors to `ServiceError`.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw ServiceError.wrap(error)
        }
    }

    static func apiAnomalyKind(_ kind: String) -> String { kind == "resource_blowup" ? "resource_spike" : kind }

    static func insight(from stored: StoredInsight) -> Insight {
        let isAnomaly = anomalyKinds.contains(stored.kind)
        return Insight(id: String(stored.id ?? 0), kind: isAnomaly ? "anomaly" : stored.kind, severity: stored.severity,
                       title: stored.title, detail: stored.detail, agents: stored.agents, taskType: stored.taskType ?? "",
                       createdAt: stored.createdAt, score: stored.score ?? 0)
    }

    static func anomaly(from stored: StoredInsight) -> Anomaly {
        Anomaly(id: String(stored.id ?? 0), kind: stored.kind, agentName: stored.agents.first ?? "",
                taskType: stored.taskType ?? "", score: stored.score ?? 0, threshold: stored.threshold ?? 0,
                observed: stored.observed ?? 0, expected: stored.expected ?? 0, executionID: stored.executionID ?? 0,
                detectedAt: stored.createdAt, detail: stored.detail,
                executionIDs: stored.executionIDs.isEmpty ? stored.executionID.map { [$0] } ?? [] : stored.executionIDs)
    }
}

extension LearningService {
    /// Hands memory freed after a large transient (the start-up sample's pages, a training's
    /// copy of the history) back to the system: glibc's malloc keeps it otherwise, and the
    /// resident size stays at the peak (1.8 GiB after a start-up over 10 M rows).
    static func returnFreedMemory() {
        _ = learning_release_free_memory()
    }

    /// The allocator's figures for the log: MiB in use and MiB held free (after a trim, memory
    /// still resident beyond "in use" is fragmentation the allocator cannot hand back).
    static func allocatorFigures() -> String {
        let used = learning_allocated_bytes(), free = learning_allocator_free_bytes()
        guard used >= 0 else { return "allocator figures unknown" }
        return "allocator: \(used >> 20) MiB in use, \(free >> 20) MiB held free"
    }
}
