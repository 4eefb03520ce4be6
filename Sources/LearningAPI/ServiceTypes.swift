public import Foundation
public import LearningCore

// The request and response shapes of every operation, field for field the messages of
// Protos/learning/v1/learning.proto. Encodable/Decodable with the guide's snake_case JSON keys
// (dates as ISO 8601 when encoded with `.iso8601`), so the REST shim can use them directly.

// MARK: - Models and health

/// The state of one model, the guide's words: `active`, `training`, `insufficient_data`, `disabled`, `failed`.
public enum ModelState: String, Sendable, Codable, CaseIterable {
    case active
    case training
    case insufficientData = "insufficient_data"
    case disabled
    case failed
}

/// One model's state: `pattern_recognition`, `performance_prediction` or `anomaly_detection`.
public struct ModelStatus: Sendable, Equatable, Codable {
    /// The model's name, e.g. `performance_prediction`.
    public var name: String
    public var state: ModelState
    /// Accuracy measured on a held-out window at the last training, if trained.
    public var accuracy: Double?
    /// When the model now serving was trained.
    public var trainedOn: Date?
    /// The serving model's version, empty when none.
    public var version: String

    public init(name: String, state: ModelState, accuracy: Double? = nil, trainedOn: Date? = nil, version: String = "") {
        self.name = name
        self.state = state
        self.accuracy = accuracy
        self.trainedOn = trainedOn
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case name, state, accuracy, version
        case trainedOn = "trained_on"
    }
}

/// `GET /health`, `GetHealth`.
public struct HealthReport: Sendable, Equatable, Codable {
    /// `healthy`, `degraded` or `unhealthy`.
    public var status: String
    /// Always `learning-system`.
    public var service: String
    /// `connected` or `disconnected`.
    public var database: String
    public var agentsRegistered: Int
    public var timestamp: Date
    public var mlModels: [ModelStatus]
    public var version: String
    public var uptimeSeconds: Int64
    public var totalExecutions: Int64
    /// While the start-up loads the figures (status `starting`): its progress.
    public var startup: StartupReport?

    public init(status: String, service: String, database: String, agentsRegistered: Int, timestamp: Date,
                mlModels: [ModelStatus], version: String, uptimeSeconds: Int64, totalExecutions: Int64,
                startup: StartupReport? = nil) {
        self.startup = startup
        self.status = status
        self.service = service
        self.database = database
        self.agentsRegistered = agentsRegistered
        self.timestamp = timestamp
        self.mlModels = mlModels
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.totalExecutions = totalExecutions
    }

    enum CodingKeys: String, CodingKey {
        case status, service, database, timestamp, version
        case agentsRegistered = "agents_registered"
        case mlModels = "ml_models"
        case uptimeSeconds = "uptime_seconds"
        case totalExecutions = "total_executions"
        case startup
    }
}

/// The service's recent performance (`/status`'s `performance`).
public struct ServicePerformance: Sendable, Equatable, Codable {
    /// Requests served per second over the recent window (all RPC and REST requests).
    public var queriesPerSec: Double
    /// Mean request latency over the recent window, milliseconds.
    public var avgLatencyMs: Double
    /// Percent (0...100) of recent agent executions that succeeded.
    public var successRate: Double
    public var windowSeconds: Int

    public init(queriesPerSec: Double, avgLatencyMs: Double, successRate: Double, windowSeconds: Int) {
        self.queriesPerSec = queriesPerSec
        self.avgLatencyMs = avgLatencyMs
        self.successRate = successRate
        self.windowSeconds = windowSeconds
    }

    enum CodingKeys: String, CodingKey {
        case queriesPerSec = "queries_per_sec"
        case avgLatencyMs = "avg_latency_ms"
        case successRate = "success_rate"
        case windowSeconds = "window_seconds"
    }
}

/// `GET /status`, `GetStatus`.
public struct StatusReport: Sendable, Equatable, Codable {
    /// `operational`, `degraded`, `starting` or `draining`.
    public var learningSystem: String
    public var database: String
    public var agentsRegistered: Int
    public var performance: ServicePerformance
    public var mlModels: [ModelStatus]
    /// `performance_tracking`, `anomaly_detection`, `pattern_recognition`, `predictive_analytics`.
    public var features: [String: Bool]
    /// While `starting`: the progress of the start-up.
    public var startup: StartupReport?
    /// Leader election and the read replica (REST only; set by the server binary's service).
    public var replication: ReplicationReport? = nil

    public init(learningSystem: String, database: String, agentsRegistered: Int, performance: ServicePerformance,
                mlModels: [ModelStatus], features: [String: Bool], startup: StartupReport? = nil) {
        self.startup = startup
        self.learningSystem = learningSystem
        self.database = database
        self.agentsRegistered = agentsRegistered
        self.performance = performance
        self.mlModels = mlModels
        self.features = features
    }

    enum CodingKeys: String, CodingKey {
        case database, performance, features, startup
        case learningSystem = "learning_system"
        case agentsRegistered = "agents_registered"
        case mlModels = "ml_models"
    }
}

// MARK: - Agents

/// Progress of the service's start-up: its figures cover every stored execution once it ends.
public struct StartupReport: Sendable, Equatable, Codable {
    /// `building_aggregates` (first start on rows never aggregated), `loading_aggregates`,
    /// `loading_sample` or `catching_up` (the change feed reads what arrived meanwhile).
    public var phase: String
    /// Executions covered so far, of `rowsTotal` (known while building).
    public var rowsDone: Int64
    public var rowsTotal: Int64
    public var percent: Double
    public var elapsedSeconds: Double

    public init(phase: String, rowsDone: Int64, rowsTotal: Int64, percent: Double, elapsedSeconds: Double) {
        self.phase = phase
        self.rowsDone = rowsDone
        self.rowsTotal = rowsTotal
        self.percent = percent
        self.elapsedSeconds = elapsedSeconds
    }

    enum CodingKeys: String, CodingKey {
        case phase, percent
        case rowsDone = "rows_done"
        case rowsTotal = "rows_total"
        case elapsedSeconds = "elapsed_seconds"
    }
}

/// A registered agent as clients see it.
public struct AgentInfo: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var tools: [String]
    public var model: String
    /// `healthy`, `degraded`, `unhealthy` or `unknown` (see `AgentHealthRule`).
    public var status: String
    public var lastSeen: Date?
    public var registeredAt: Date
    /// `api`, `definition_file` or `discovered`.
    public var source: String
    public var metadata: [String: String]

    public init(name: String, description: String, tools: [String], model: String, status: String,
                lastSeen: Date?, registeredAt: Date, source: String, metadata: [String: String]) {
        self.name = name
        self.description = description
        self.tools = tools
        self.model = model
        self.status = status
        self.lastSeen = lastSeen
        self.registeredAt = registeredAt
        self.source = source
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case name, description, tools, model, status, source, metadata
        case lastSeen = "last_seen"
        case registeredAt = "registered_at"
    }
}

/// `GET /agents/list`, `ListAgents`.
public struct AgentList: Sendable, Equatable, Codable {
    public var agents: [AgentInfo]
    public var total: Int

    public init(agents: [AgentInfo], total: Int) {
        self.agents = agents
        self.total = total
    }
}

/// `GET /agents/{name}/status`, `GetAgentStatus`.
public struct AgentStatusReport: Sendable, Equatable, Codable {
    public var agent: AgentInfo
    public var status: String
    public var executionsTotal: Int64
    /// Fraction 0...1 of the agent's executions in the recent window that succeeded.
    public var recentSuccessRate: Double
    public var secondsSinceSeen: Double?
    public var healthCheckIntervalSeconds: Int
    /// Why the status is what it is.
    public var reason: String

    public init(agent: AgentInfo, status: String, executionsTotal: Int64, recentSuccessRate: Double,
                secondsSinceSeen: Double?, healthCheckIntervalSeconds: Int, reason: String) {
        self.agent = agent
        self.status = status
        self.executionsTotal = executionsTotal
        self.recentSuccessRate = recentSuccessRate
        self.secondsSinceSeen = secondsSinceSeen
        self.healthCheckIntervalSeconds = healthCheckIntervalSeconds
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case agent, status, reason
        case executionsTotal = "executions_total"
        case recentSuccessRate = "recent_success_rate"
        case secondsSinceSeen = "seconds_since_seen"
        case healthCheckIntervalSeconds = "health_check_interval_seconds"
    }
}

/// `POST /agents/register`, `RegisterAgent`.
public struct RegisterAgentRequest: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var tools: [String]
    public var model: String
    public var metadata: [String: String]

    public init(name: String, description: String = "", tools: [String] = [], model: String = "",
                metadata: [String: String] = [:]) {
        self.name = name
        self.description = description
        self.tools = tools
        self.model = model
        self.metadata = metadata
    }
}

/// The agent after `register`; `created` is false when an existing agent was updated.
public struct RegisterAgentResult: Sendable, Equatable, Codable {
    public var agent: AgentInfo
    public var created: Bool

    public init(agent: AgentInfo, created: Bool) {
        self.agent = agent
        self.created = created
    }
}

/// `POST /agents/{name}/heartbeat`, `Heartbeat`.
public struct HeartbeatRequest: Sendable, Equatable, Codable {
    public var agentName: String
    /// The agent's own view of its state, optional (empty when not given).
    public var status: String

    public init(agentName: String, status: String = "") {
        self.agentName = agentName
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case status
        case agentName = "agent_name"
    }
}

/// One agent's figures for one task type.
public struct TaskTypePerformance: Sendable, Equatable, Codable {
    public var taskType: String
    public var executions: Int64
    /// Fraction 0...1.
    public var successRate: Double
    public var avgExecutionTime: Double
    public var medianExecutionTime: Double
    public var p90ExecutionTime: Double
    public var avgCPU: Double
    public var avgMemoryMB: Double
    public var avgTokens: Double

    public init(taskType: String, executions: Int64, successRate: Double, avgExecutionTime: Double,
                medianExecutionTime: Double, p90ExecutionTime: Double, avgCPU: Double, avgMemoryMB: Double,
                avgTokens: Double) {
        self.taskType = taskType
        self.executions = executions
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.medianExecutionTime = medianExecutionTime
        self.p90ExecutionTime = p90ExecutionTime
        self.avgCPU = avgCPU
        self.avgMemoryMB = avgMemoryMB
        self.avgTokens = avgTokens
    }

    enum CodingKeys: String, CodingKey {
        case executions
        case taskType = "task_type"
        case successRate = "success_rate"
        case avgExecutionTime = "avg_execution_time"
        case medianExecutionTime = "median_execution_time"
        case p90ExecutionTime = "p90_execution_time"
        case avgCPU = "avg_cpu"
        case avgMemoryMB = "avg_memory_mb"
        case avgTokens = "avg_tokens"
    }
}

/// `GET /agents/{name}/performance`, `GetAgentPerformance`.
public struct AgentPerformance: Sendable, Equatable, Codable {
    public var agentName: String
    public var executions: Int64
    /// Fraction 0...1.
    public var successRate: Double
    public var avgExecutionTime: Double
    public var medianExecutionTime: Double
    public var taskTypes: [TaskTypePerformance]
    public var lastExecution: Date?
    public var coordinationScore: Double

    public init(agentName: String, executions: Int64, successRate: Double, avgExecutionTime: Double,
                medianExecutionTime: Double, taskTypes: [TaskTypePerformance], lastExecution: Date?,
                coordinationScore: Double) {
        self.agentName = agentName
        self.executions = executions
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.medianExecutionTime = medianExecutionTime
        self.taskTypes = taskTypes
        self.lastExecution = lastExecution
        self.coordinationScore = coordinationScore
    }

    enum CodingKeys: String, CodingKey {
        case executions
        case agentName = "agent_name"
        case successRate = "success_rate"
        case avgExecutionTime = "avg_execution_time"
        case medianExecutionTime = "median_execution_time"
        case taskTypes = "task_types"
        case lastExecution = "last_execution"
        case coordinationScore = "coordination_score"
    }
}

// MARK: - Ingest

/// One execution as a client sends it (the guide's `performance_data`), before validation.
/// `timestamp` nil means "now, by the server's clock".
public struct ExecutionInput: Sendable, Equatable {
    public var agentName: String
    /// A UUID; empty or nil when the client has none.
    public var taskID: String?
    public var taskType: String?
    /// Seconds.
    public var executionTime: Double?
    public var success: Bool
    public var errorMessage: String?
    public var resourceUsage: ResourceUsage
    public var timestamp: Date?
    /// Optional idempotency key.
    public var eventID: String?

    public init(agentName: String, taskID: String? = nil, taskType: String? = nil, executionTime: Double? = nil,
                success: Bool, errorMessage: String? = nil, resourceUsage: ResourceUsage = ResourceUsage(),
                timestamp: Date? = nil, eventID: String? = nil) {
        self.agentName = agentName
        self.taskID = taskID
        self.taskType = taskType
        self.executionTime = executionTime
        self.success = success
        self.errorMessage = errorMessage
        self.resourceUsage = resourceUsage
        self.timestamp = timestamp
        self.eventID = eventID
    }
}

/// The outcome of storing one execution.
public struct LogExecutionResult: Sendable, Equatable, Codable {
    /// `execution_log.id` of the stored row (also for a retried event id).
    public var id: Int64
    /// True when the event id had been stored before (nothing new was written).
    public var duplicate: Bool

    public init(id: Int64, duplicate: Bool) {
        self.id = id
        self.duplicate = duplicate
    }
}

/// The outcome of storing a batch, with one result per input in order.
public struct LogBatchResult: Sendable, Equatable, Codable {
    /// Rows stored now.
    public var accepted: Int64
    /// Records skipped because their event id was stored before.
    public var duplicates: Int64
    /// One result per input record, in input order.
    public var results: [LogExecutionResult]

    public init(accepted: Int64, duplicates: Int64, results: [LogExecutionResult]) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.results = results
    }
}

/// The guide's metrics sample (`submit_metrics`); every field optional.
public struct MetricsSampleInput: Sendable, Equatable {
    /// Seconds.
    public var responseTime: Double?
    /// Tasks per second.
    public var throughput: Double?
    public var resourceUsage: ResourceUsage
    /// Fraction 0...1.
    public var successRate: Double?
    /// Fraction 0...1.
    public var coordinationEffectiveness: Double?

    public init(responseTime: Double? = nil, throughput: Double? = nil, resourceUsage: ResourceUsage = ResourceUsage(),
                successRate: Double? = nil, coordinationEffectiveness: Double? = nil) {
        self.responseTime = responseTime
        self.throughput = throughput
        self.resourceUsage = resourceUsage
        self.successRate = successRate
        self.coordinationEffectiveness = coordinationEffectiveness
    }
}

/// `POST /agents/{name}/metrics`, `SubmitMetrics`.
public struct SubmitMetricsRequest: Sendable, Equatable {
    public var agentName: String
    /// Empty when the sample is not about one task type.
    public var taskType: String
    public var metrics: MetricsSampleInput

    public init(agentName: String, taskType: String = "", metrics: MetricsSampleInput) {
        self.agentName = agentName
        self.taskType = taskType
        self.metrics = metrics
    }
}

/// The stored `performance_metrics` row.
public struct SubmitMetricsResult: Sendable, Equatable, Codable {
    public var id: Int64
    public init(id: Int64) { self.id = id }
}

// MARK: - Analytics

/// One agent's line in the performance analytics.
public struct AgentSummary: Sendable, Equatable, Codable {
    public var agentName: String
    public var executions: Int64
    /// Fraction 0...1.
    public var successRate: Double
    public var avgExecutionTime: Double
    public var medianExecutionTime: Double

    public init(agentName: String, executions: Int64, successRate: Double, avgExecutionTime: Double,
                medianExecutionTime: Double) {
        self.agentName = agentName
        self.executions = executions
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.medianExecutionTime = medianExecutionTime
    }

    enum CodingKeys: String, CodingKey {
        case executions
        case agentName = "agent_name"
        case successRate = "success_rate"
        case avgExecutionTime = "avg_execution_time"
        case medianExecutionTime = "median_execution_time"
    }
}

/// `GET /analytics/performance`, `GetPerformanceAnalytics`.
public struct PerformanceAnalytics: Sendable, Equatable, Codable {
    public var totalExecutions: Int64
    /// Fraction 0...1.
    public var successRate: Double
    public var avgExecutionTime: Double
    public var medianExecutionTime: Double
    public var p90ExecutionTime: Double
    public var agents: [AgentSummary]
    public var taskTypes: [TaskTypePerformance]
    public var generatedAt: Date

    public init(totalExecutions: Int64, successRate: Double, avgExecutionTime: Double, medianExecutionTime: Double,
                p90ExecutionTime: Double, agents: [AgentSummary], taskTypes: [TaskTypePerformance], generatedAt: Date) {
        self.totalExecutions = totalExecutions
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.medianExecutionTime = medianExecutionTime
        self.p90ExecutionTime = p90ExecutionTime
        self.agents = agents
        self.taskTypes = taskTypes
        self.generatedAt = generatedAt
    }

    enum CodingKeys: String, CodingKey {
        case agents
        case totalExecutions = "total_executions"
        case successRate = "success_rate"
        case avgExecutionTime = "avg_execution_time"
        case medianExecutionTime = "median_execution_time"
        case p90ExecutionTime = "p90_execution_time"
        case taskTypes = "task_types"
        case generatedAt = "generated_at"
    }
}

/// How a pair of agents does when they share a task.
public struct CollaborationPattern: Sendable, Equatable, Codable {
    /// Two names, sorted.
    public var agents: [String]
    public var sharedTasks: Int64
    public var successRateTogether: Double
    public var expectedSuccessRate: Double
    /// Together minus expected.
    public var lift: Double
    public var zScore: Double
    /// `synergy`, `conflict` or `neutral`.
    public var effect: String

    public init(agents: [String], sharedTasks: Int64, successRateTogether: Double, expectedSuccessRate: Double,
                lift: Double, zScore: Double, effect: String) {
        self.agents = agents
        self.sharedTasks = sharedTasks
        self.successRateTogether = successRateTogether
        self.expectedSuccessRate = expectedSuccessRate
        self.lift = lift
        self.zScore = zScore
        self.effect = effect
    }

    enum CodingKeys: String, CodingKey {
        case agents, lift, effect
        case sharedTasks = "shared_tasks"
        case successRateTogether = "success_rate_together"
        case expectedSuccessRate = "expected_success_rate"
        case zScore = "z_score"
    }
}

/// Work passed from one agent to another on the same task.
public struct HandoffPattern: Sendable, Equatable, Codable {
    public var fromAgent: String
    public var toAgent: String
    public var count: Int64
    public var successRate: Double
    public var medianGapSeconds: Double

    public init(fromAgent: String, toAgent: String, count: Int64, successRate: Double, medianGapSeconds: Double) {
        self.fromAgent = fromAgent
        self.toAgent = toAgent
        self.count = count
        self.successRate = successRate
        self.medianGapSeconds = medianGapSeconds
    }

    enum CodingKeys: String, CodingKey {
        case count
        case fromAgent = "from_agent"
        case toAgent = "to_agent"
        case successRate = "success_rate"
        case medianGapSeconds = "median_gap_seconds"
    }
}

/// `GET /analytics/coordination`, `GetCoordinationPatterns`.
public struct CoordinationPatterns: Sendable, Equatable, Codable {
    public var pairs: [CollaborationPattern]
    public var handoffs: [HandoffPattern]
    /// Share of multi-agent tasks that succeeded.
    public var coordinationScore: Double
    public var multiAgentTasks: Int64

    public init(pairs: [CollaborationPattern], handoffs: [HandoffPattern], coordinationScore: Double, multiAgentTasks: Int64) {
        self.pairs = pairs
        self.handoffs = handoffs
        self.coordinationScore = coordinationScore
        self.multiAgentTasks = multiAgentTasks
    }

    enum CodingKeys: String, CodingKey {
        case pairs, handoffs
        case coordinationScore = "coordination_score"
        case multiAgentTasks = "multi_agent_tasks"
    }
}

/// Something the system learned: an anomaly, a synergy, a drift, ...
public struct Insight: Sendable, Equatable, Codable {
    public var id: String
    /// `anomaly`, `synergy`, `conflict`, `drift`, `schedule`, `failure_pattern` or `model`.
    public var kind: String
    /// `info`, `warning` or `critical`.
    public var severity: String
    public var title: String
    public var detail: String
    public var agents: [String]
    public var taskType: String
    public var createdAt: Date
    public var score: Double

    public init(id: String, kind: String, severity: String, title: String, detail: String, agents: [String],
                taskType: String, createdAt: Date, score: Double) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.title = title
        self.detail = detail
        self.agents = agents
        self.taskType = taskType
        self.createdAt = createdAt
        self.score = score
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, severity, title, detail, agents, score
        case taskType = "task_type"
        case createdAt = "created_at"
    }
}

/// `GET /analytics/insights?limit=&kind=`, `GetInsights`.
public struct InsightsQuery: Sendable, Equatable {
    /// 0: the default (50). At most 1000.
    public var limit: Int
    /// Empty: all kinds.
    public var kind: String

    public init(limit: Int = 0, kind: String = "") {
        self.limit = limit
        self.kind = kind
    }
}

/// When a task type runs best and worst.
public struct SchedulePattern: Sendable, Equatable, Codable {
    public var taskType: String
    public var bestHour: Int
    public var worstHour: Int
    public var bestHourMedianTime: Double
    public var worstHourFailureRate: Double

    public init(taskType: String, bestHour: Int, worstHour: Int, bestHourMedianTime: Double, worstHourFailureRate: Double) {
        self.taskType = taskType
        self.bestHour = bestHour
        self.worstHour = worstHour
        self.bestHourMedianTime = bestHourMedianTime
        self.worstHourFailureRate = worstHourFailureRate
    }

    enum CodingKeys: String, CodingKey {
        case taskType = "task_type"
        case bestHour = "best_hour"
        case worstHour = "worst_hour"
        case bestHourMedianTime = "best_hour_median_time"
        case worstHourFailureRate = "worst_hour_failure_rate"
    }
}

/// A cluster of agents with similar resource use.
public struct ResourceProfile: Sendable, Equatable, Codable {
    public var cluster: Int
    public var agents: [String]
    public var avgCPU: Double
    public var avgMemoryMB: Double
    public var avgTokens: Double
    /// `light`, `balanced`, `memory_heavy`, `compute_heavy` or `token_heavy`.
    public var label: String

    public init(cluster: Int, agents: [String], avgCPU: Double, avgMemoryMB: Double, avgTokens: Double, label: String) {
        self.cluster = cluster
        self.agents = agents
        self.avgCPU = avgCPU
        self.avgMemoryMB = avgMemoryMB
        self.avgTokens = avgTokens
        self.label = label
    }

    enum CodingKeys: String, CodingKey {
        case cluster, agents, label
        case avgCPU = "avg_cpu"
        case avgMemoryMB = "avg_memory_mb"
        case avgTokens = "avg_tokens"
    }
}

/// Error messages grouped by their normalised signature.
public struct FailurePattern: Sendable, Equatable, Codable {
    public var signature: String
    public var count: Int64
    public var agents: [String]
    public var taskTypes: [String]
    public var example: String
    public var lastSeen: Date?

    public init(signature: String, count: Int64, agents: [String], taskTypes: [String], example: String, lastSeen: Date?) {
        self.signature = signature
        self.count = count
        self.agents = agents
        self.taskTypes = taskTypes
        self.example = example
        self.lastSeen = lastSeen
    }

    enum CodingKeys: String, CodingKey {
        case signature, count, agents, example
        case taskTypes = "task_types"
        case lastSeen = "last_seen"
    }
}

/// The pattern families of `GetPatterns` (the guide's `patterns.get("collaboration")` etc.).
public enum PatternKind: String, Sendable, Codable, CaseIterable {
    case collaboration
    case performance
    case resources
    case failures
}

/// `GET /patterns?kinds=`, `GET /ml/test/patterns`, `GetPatterns`.
public struct PatternsReport: Sendable, Equatable, Codable {
    public var collaboration: [CollaborationPattern]
    public var performance: [SchedulePattern]
    public var resources: [ResourceProfile]
    public var failures: [FailurePattern]
    public var handoffs: [HandoffPattern]

    public init(collaboration: [CollaborationPattern] = [], performance: [SchedulePattern] = [],
                resources: [ResourceProfile] = [], failures: [FailurePattern] = [], handoffs: [HandoffPattern] = []) {
        self.collaboration = collaboration
        self.performance = performance
        self.resources = resources
        self.failures = failures
        self.handoffs = handoffs
    }
}

// MARK: - Predictions and recommendations

/// `POST /predict`, `POST /ml/test/prediction` (`{"agent", "task"}`), `PredictPerformance`.
public struct PredictionRequest: Sendable, Equatable {
    public var agentName: String
    public var taskType: String
    /// Forecast time; nil: now.
    public var at: Date?
    /// UTC hour context 0...23.
    public var hour: Int?
    public var collaborators: [String]

    public init(agentName: String, taskType: String, at: Date? = nil, hour: Int? = nil, collaborators: [String] = []) {
        self.agentName = agentName
        self.taskType = taskType
        self.at = at
        self.hour = hour
        self.collaborators = collaborators
    }
}

/// Resources to give an execution.
public struct RecommendedResources: Sendable, Equatable, Codable {
    public var cpu: Double
    public var memoryMB: Double
    public var tokens: Double

    public init(cpu: Double, memoryMB: Double, tokens: Double) {
        self.cpu = cpu
        self.memoryMB = memoryMB
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey {
        case cpu, tokens
        case memoryMB = "memory_mb"
    }
}

/// A performance forecast for an (agent, task type) pair.
public struct PerformancePrediction: Sendable, Equatable, Codable {
    public var agentName: String
    public var taskType: String
    /// Expected (mean) seconds.
    public var executionTime: Double
    public var medianExecutionTime: Double
    /// Probability 0...1.
    public var successRate: Double
    /// 0...1.
    public var confidence: Double
    public var intervalLow: Double
    public var intervalHigh: Double
    public var resources: RecommendedResources
    /// Below `performance.prediction_confidence_threshold`.
    public var lowConfidence: Bool
    public var basedOnExecutions: Int64
    /// `pair`, `agent`, `task_type`, `similar_agents` or `global`.
    public var basis: String

    public init(agentName: String, taskType: String, executionTime: Double, medianExecutionTime: Double,
                successRate: Double, confidence: Double, intervalLow: Double, intervalHigh: Double,
                resources: RecommendedResources, lowConfidence: Bool, basedOnExecutions: Int64, basis: String) {
        self.agentName = agentName
        self.taskType = taskType
        self.executionTime = executionTime
        self.medianExecutionTime = medianExecutionTime
        self.successRate = successRate
        self.confidence = confidence
        self.intervalLow = intervalLow
        self.intervalHigh = intervalHigh
        self.resources = resources
        self.lowConfidence = lowConfidence
        self.basedOnExecutions = basedOnExecutions
        self.basis = basis
    }

    enum CodingKeys: String, CodingKey {
        case confidence, resources, basis
        case agentName = "agent_name"
        case taskType = "task_type"
        case executionTime = "execution_time"
        case medianExecutionTime = "median_execution_time"
        case successRate = "success_rate"
        case intervalLow = "interval_low"
        case intervalHigh = "interval_high"
        case lowConfidence = "low_confidence"
        case basedOnExecutions = "based_on_executions"
    }
}

/// `GET /recommendations?task_type=&limit=&speed_weight=`, `GetRecommendations`.
public struct RecommendationsRequest: Sendable, Equatable {
    public var taskType: String
    /// 0: 5. At most 100.
    public var limit: Int
    /// 0...1: 0 ranks by success only, 1 weighs speed as much as success.
    public var speedWeight: Double
    public var at: Date?

    public init(taskType: String, limit: Int = 0, speedWeight: Double = 0, at: Date? = nil) {
        self.taskType = taskType
        self.limit = limit
        self.speedWeight = speedWeight
        self.at = at
    }
}

/// One ranked agent for a task type.
public struct Recommendation: Sendable, Equatable, Codable {
    public var agentName: String
    public var expectedSuccessRate: Double
    public var predictedExecutionTime: Double
    public var confidence: Double
    public var score: Double
    public var reason: String
    /// 1-based.
    public var rank: Int

    public init(agentName: String, expectedSuccessRate: Double, predictedExecutionTime: Double, confidence: Double,
                score: Double, reason: String, rank: Int) {
        self.agentName = agentName
        self.expectedSuccessRate = expectedSuccessRate
        self.predictedExecutionTime = predictedExecutionTime
        self.confidence = confidence
        self.score = score
        self.reason = reason
        self.rank = rank
    }

    enum CodingKeys: String, CodingKey {
        case confidence, score, reason, rank
        case agentName = "agent_name"
        case expectedSuccessRate = "expected_success_rate"
        case predictedExecutionTime = "predicted_execution_time"
    }
}

/// Agents ranked for a task type.
public struct RecommendationsReport: Sendable, Equatable, Codable {
    public var taskType: String
    public var recommendations: [Recommendation]

    public init(taskType: String, recommendations: [Recommendation]) {
        self.taskType = taskType
        self.recommendations = recommendations
    }

    enum CodingKeys: String, CodingKey {
        case recommendations
        case taskType = "task_type"
    }
}

/// `GET /agents/{name}/similar?limit=&threshold=`, `FindSimilarAgents`.
public struct SimilarAgentsRequest: Sendable, Equatable {
    public var agentName: String
    /// 0: 10. At most 100.
    public var limit: Int
    /// -1...1; nil: `ml.similarity_threshold`.
    public var threshold: Double?

    public init(agentName: String, limit: Int = 0, threshold: Double? = nil) {
        self.agentName = agentName
        self.limit = limit
        self.threshold = threshold
    }
}

/// One similar agent, by cosine similarity of embeddings.
public struct SimilarAgent: Sendable, Equatable, Codable {
    public var agentName: String
    public var similarity: Double

    public init(agentName: String, similarity: Double) {
        self.agentName = agentName
        self.similarity = similarity
    }

    enum CodingKeys: String, CodingKey {
        case similarity
        case agentName = "agent_name"
    }
}

/// Agents similar to one agent.
public struct SimilarAgentsReport: Sendable, Equatable, Codable {
    public var agentName: String
    public var similar: [SimilarAgent]

    public init(agentName: String, similar: [SimilarAgent]) {
        self.agentName = agentName
        self.similar = similar
    }

    enum CodingKeys: String, CodingKey {
        case similar
        case agentName = "agent_name"
    }
}

/// An execution (or burst of executions) that departs from its baseline.
public struct Anomaly: Sendable, Equatable, Codable {
    public var id: String
    /// `latency_spike`, `resource_spike` or `failure_burst`.
    public var kind: String
    public var agentName: String
    public var taskType: String
    public var score: Double
    public var threshold: Double
    public var observed: Double
    public var expected: Double
    /// 0 when not about one execution.
    public var executionID: Int64
    public var detectedAt: Date
    public var detail: String
    /// Every execution the anomaly covers, oldest first (a failure burst lists each failed run
    /// it reports); `executionID` is the last of them. Empty when not about executions.
    public var executionIDs: [Int64]

    public init(id: String, kind: String, agentName: String, taskType: String, score: Double, threshold: Double,
                observed: Double, expected: Double, executionID: Int64, detectedAt: Date, detail: String,
                executionIDs: [Int64] = []) {
        self.id = id
        self.kind = kind
        self.agentName = agentName
        self.taskType = taskType
        self.score = score
        self.threshold = threshold
        self.observed = observed
        self.expected = expected
        self.executionID = executionID
        self.detectedAt = detectedAt
        self.detail = detail
        self.executionIDs = executionIDs
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, score, threshold, observed, expected, detail
        case agentName = "agent_name"
        case taskType = "task_type"
        case executionID = "execution_id"
        case detectedAt = "detected_at"
        case executionIDs = "execution_ids"
    }

    /// Decodes an anomaly; `execution_ids` is optional (absent in documents written before it existed).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        kind = try c.decode(String.self, forKey: .kind)
        agentName = try c.decode(String.self, forKey: .agentName)
        taskType = try c.decode(String.self, forKey: .taskType)
        score = try c.decode(Double.self, forKey: .score)
        threshold = try c.decode(Double.self, forKey: .threshold)
        observed = try c.decode(Double.self, forKey: .observed)
        expected = try c.decode(Double.self, forKey: .expected)
        executionID = try c.decode(Int64.self, forKey: .executionID)
        detectedAt = try c.decode(Date.self, forKey: .detectedAt)
        detail = try c.decode(String.self, forKey: .detail)
        executionIDs = try c.decodeIfPresent([Int64].self, forKey: .executionIDs) ?? []
    }
}

/// `GET /analytics/anomalies?limit=&agent_name=&since=`, `GetAnomalies`.
public struct AnomaliesQuery: Sendable, Equatable {
    /// 0: 50. At most 1000.
    public var limit: Int
    /// Empty: all agents.
    public var agentName: String
    public var since: Date?

    public init(limit: Int = 0, agentName: String = "", since: Date? = nil) {
        self.limit = limit
        self.agentName = agentName
        self.since = since
    }
}

// MARK: - Service metrics

/// Per-method request figures from the transport.
public struct ServiceMethodMetrics: Sendable, Equatable, Codable {
    public var method: String
    public var requests: Int64
    public var errors: Int64
    public var avgLatencyMs: Double
    public var p99LatencyMs: Double

    public init(method: String, requests: Int64, errors: Int64, avgLatencyMs: Double, p99LatencyMs: Double) {
        self.method = method
        self.requests = requests
        self.errors = errors
        self.avgLatencyMs = avgLatencyMs
        self.p99LatencyMs = p99LatencyMs
    }

    enum CodingKeys: String, CodingKey {
        case method, requests, errors
        case avgLatencyMs = "avg_latency_ms"
        case p99LatencyMs = "p99_latency_ms"
    }
}

/// `GET /metrics` (JSON), `GetMetrics`: every figure measured.
public struct ServiceMetrics: Sendable, Equatable, Codable {
    public var queriesPerSec: Double
    /// Measured on the latest held-out window (0 before the first training).
    public var predictionAccuracy: Double
    /// Seconds the latest retrain took.
    public var trainingTime: Double
    /// Mean agent execution time over the recent window, seconds.
    public var agentResponseTime: Double
    /// Resident set size.
    public var memoryUsageMB: Double
    /// Process CPU over the recent window (100 = one core).
    public var cpuUsagePercent: Double
    public var methods: [ServiceMethodMetrics]
    public var executionsIngested: Int64
    /// Leader election and the read replica's lag, when either is in use.
    public var replication: ReplicationReport? = nil

    public init(queriesPerSec: Double, predictionAccuracy: Double, trainingTime: Double, agentResponseTime: Double,
                memoryUsageMB: Double, cpuUsagePercent: Double, methods: [ServiceMethodMetrics], executionsIngested: Int64) {
        self.queriesPerSec = queriesPerSec
        self.predictionAccuracy = predictionAccuracy
        self.trainingTime = trainingTime
        self.agentResponseTime = agentResponseTime
        self.memoryUsageMB = memoryUsageMB
        self.cpuUsagePercent = cpuUsagePercent
        self.methods = methods
        self.executionsIngested = executionsIngested
    }

    enum CodingKeys: String, CodingKey {
        case methods
        case queriesPerSec = "queries_per_sec"
        case predictionAccuracy = "prediction_accuracy"
        case trainingTime = "training_time"
        case agentResponseTime = "agent_response_time"
        case memoryUsageMB = "memory_usage_mb"
        case cpuUsagePercent = "cpu_usage_percent"
        case executionsIngested = "executions_ingested"
    }
}

// MARK: - Live stream and administration

/// `WatchInsights`: which events a subscriber wants.
public struct WatchInsightsRequest: Sendable, Equatable {
    /// Insight kinds (`anomaly`, `synergy`, ...); empty: all.
    public var kinds: [String]
    /// Empty: all agents.
    public var agentName: String

    public init(kinds: [String] = [], agentName: String = "") {
        self.kinds = kinds
        self.agentName = agentName
    }
}

/// One event of the live insight stream.
public enum InsightEvent: Sendable, Equatable {
    case insight(Insight)
    case anomaly(Anomaly)
}

/// `POST /ml/retrain`, `Retrain`.
public struct RetrainResult: Sendable, Equatable, Codable {
    public var mlModels: [ModelStatus]
    /// Seconds the training took.
    public var trainingTime: Double
    public var trainedOnExecutions: Int64

    public init(mlModels: [ModelStatus], trainingTime: Double, trainedOnExecutions: Int64) {
        self.mlModels = mlModels
        self.trainingTime = trainingTime
        self.trainedOnExecutions = trainedOnExecutions
    }

    enum CodingKeys: String, CodingKey {
        case mlModels = "ml_models"
        case trainingTime = "training_time"
        case trainedOnExecutions = "trained_on_executions"
    }
}
