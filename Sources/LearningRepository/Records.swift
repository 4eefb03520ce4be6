// Rows of the tables besides execution_log that the service reads and writes.
public import Foundation

/// A SubmitMetrics sample, mapped onto `agents.performance_metrics` columns:
/// response_time -> avg_execution_time, success_rate -> success_rate, resource cpu/memory ->
/// resource_cpu/resource_memory, coordination_effectiveness -> coordination_score, throughput ->
/// throughput (an added column).
public struct MetricsSample: Sendable, Equatable {
    /// Seconds.
    public var responseTime: Double?
    /// Tasks per second.
    public var throughput: Double?
    /// CPU percent.
    public var cpu: Double?
    /// Memory in MiB.
    public var memoryMB: Double?
    /// Every resource reported, stored as JSONB.
    public var resources: [String: Double]
    /// Fraction 0..1.
    public var successRate: Double?
    /// Fraction 0..1.
    public var coordinationEffectiveness: Double?

    /// Creates a sample.
    public init(responseTime: Double? = nil, throughput: Double? = nil, cpu: Double? = nil, memoryMB: Double? = nil,
                resources: [String: Double] = [:], successRate: Double? = nil, coordinationEffectiveness: Double? = nil) {
        self.responseTime = responseTime
        self.throughput = throughput
        self.cpu = cpu
        self.memoryMB = memoryMB
        self.resources = resources
        self.successRate = successRate
        self.coordinationEffectiveness = coordinationEffectiveness
    }
}

/// A row of `agents.performance_metrics`.
public struct PerformanceSnapshot: Sendable, Equatable {
    /// `performance_metrics.id`.
    public var id: Int64
    /// The agent.
    public var agentName: String
    /// The task type (nil: all types).
    public var taskType: String?
    /// Seconds.
    public var avgExecutionTime: Double?
    /// Fraction 0..1.
    public var successRate: Double?
    /// CPU percent.
    public var resourceCPU: Double?
    /// MiB.
    public var resourceMemory: Double?
    /// Success rate on tasks shared with other agents.
    public var coordinationScore: Double?
    /// Tasks per second (submitted metrics only).
    public var throughput: Double?
    /// Executions the roll-up covered (roll-ups only).
    public var executions: Int64?
    /// `rollup` or `submitted` (nil for rows written by others).
    public var source: String?
    /// When the row was written (UTC).
    public var lastUpdated: Date

    /// Creates a row.
    public init(id: Int64, agentName: String, taskType: String?, avgExecutionTime: Double?, successRate: Double?,
                resourceCPU: Double?, resourceMemory: Double?, coordinationScore: Double?, throughput: Double?,
                executions: Int64?, source: String?, lastUpdated: Date) {
        self.id = id
        self.agentName = agentName
        self.taskType = taskType
        self.avgExecutionTime = avgExecutionTime
        self.successRate = successRate
        self.resourceCPU = resourceCPU
        self.resourceMemory = resourceMemory
        self.coordinationScore = coordinationScore
        self.throughput = throughput
        self.executions = executions
        self.source = source
        self.lastUpdated = lastUpdated
    }
}

/// A row of `agents.ml_models`.
public struct StoredModel: Sendable, Equatable {
    /// `ml_models.id` (nil before saving).
    public var id: Int64?
    /// `model_name`.
    public var name: String
    /// `model_type`.
    public var type: String
    /// `version`.
    public var version: String
    /// `accuracy`.
    public var accuracy: Double?
    /// `trained_on`.
    public var trainedOn: Date
    /// `model_data` (BYTEA).
    public var data: [UInt8]
    /// `hyperparameters` as JSON text (JSONB).
    public var hyperparametersJSON: String?

    /// Creates a model row.
    public init(id: Int64? = nil, name: String, type: String, version: String, accuracy: Double?, trainedOn: Date,
                data: [UInt8], hyperparametersJSON: String? = nil) {
        self.id = id
        self.name = name
        self.type = type
        self.version = version
        self.accuracy = accuracy
        self.trainedOn = trainedOn
        self.data = data
        self.hyperparametersJSON = hyperparametersJSON
    }
}

/// A row of `agents.insights`: an insight or an anomaly found by the learning layer.
public struct StoredInsight: Sendable, Equatable {
    /// `insights.id` (nil before saving).
    public var id: Int64?
    /// anomaly kinds (latency_spike, ...) or insight kinds (synergy, drift, ...).
    public var kind: String
    /// info | warning | critical.
    public var severity: String
    /// One line.
    public var title: String
    /// Free text.
    public var detail: String
    /// Agents concerned.
    public var agents: [String]
    /// Task type concerned.
    public var taskType: String?
    /// Score (robust z, lift, ...).
    public var score: Double?
    /// Observed value (anomalies).
    public var observed: Double?
    /// Expected value (anomalies).
    public var expected: Double?
    /// Threshold crossed (anomalies).
    public var threshold: Double?
    /// The execution that triggered it.
    public var executionID: Int64?
    /// Every execution it covers, oldest first (a failure burst spans several); empty when none.
    public var executionIDs: [Int64]
    /// When it was found (UTC).
    public var createdAt: Date

    /// Creates an insight row.
    public init(id: Int64? = nil, kind: String, severity: String = "info", title: String, detail: String = "",
                agents: [String] = [], taskType: String? = nil, score: Double? = nil, observed: Double? = nil,
                expected: Double? = nil, threshold: Double? = nil, executionID: Int64? = nil, executionIDs: [Int64] = [],
                createdAt: Date = Date()) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.title = title
        self.detail = detail
        self.agents = agents
        self.taskType = taskType
        self.score = score
        self.observed = observed
        self.expected = expected
        self.threshold = threshold
        self.executionID = executionID
        self.executionIDs = executionIDs
        self.createdAt = createdAt
    }
}

/// What `RetentionRepository.applyRetention` removed.
public struct RetentionReport: Sendable, Equatable {
    /// Rows deleted per table: `execution_log` (from its default partition only),
    /// `execution_event_ids`, `performance_metrics`, `insights`.
    public var deleted: [String: Int]
    /// The day partitions of execution_log dropped whole.
    public var droppedPartitions: [String]
    /// The executions' cutoff: midnight UTC starting the day of `now - retention`; every
    /// execution before it is gone.
    public var executionCutoff: Date

    /// Creates a report.
    public init(deleted: [String: Int], droppedPartitions: [String], executionCutoff: Date) {
        self.deleted = deleted
        self.droppedPartitions = droppedPartitions
        self.executionCutoff = executionCutoff
    }
}
