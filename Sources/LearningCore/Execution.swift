public import Foundation

/// Resources one execution used; the keys of the guide's `resource_usage` JSON.
public struct ResourceUsage: Sendable, Equatable, Codable {
    /// CPU, percent of one core.
    public var cpu: Double?
    /// Peak resident memory in MiB.
    public var memoryMB: Double?
    /// Model tokens consumed.
    public var tokens: Double?
    /// Any further numeric resource, by name.
    public var other: [String: Double]

    public init(cpu: Double? = nil, memoryMB: Double? = nil, tokens: Double? = nil, other: [String: Double] = [:]) {
        self.cpu = cpu
        self.memoryMB = memoryMB
        self.tokens = tokens
        self.other = other
    }

    /// True when no resource is known.
    public var isEmpty: Bool { cpu == nil && memoryMB == nil && tokens == nil && other.isEmpty }

    /// The guide's keys, the field names of `learning.v1.ResourceUsage` (its codec is generated
    /// from the proto; this domain type stays here so storage need not depend on the API).
    enum CodingKeys: String, CodingKey {
        case cpu, tokens, other
        case memoryMB = "memory_mb"
    }
}

/// One agent execution: a row of `agents.execution_log`.
public struct ExecutionRecord: Sendable, Equatable {
    /// `execution_log.id`, once stored.
    public var id: Int64?
    public var agentName: String
    /// A UUID in its canonical text form; collaborators on one task share it.
    public var taskID: String?
    public var taskType: String?
    /// Seconds.
    public var executionTime: Double?
    public var success: Bool
    public var errorMessage: String?
    public var resourceUsage: ResourceUsage
    /// When the execution happened (the row's `timestamp`, UTC).
    public var timestamp: Date
    /// Optional idempotency key: a record whose event id is stored already is not stored again.
    public var eventID: String?
    /// The task id as the client sent it when it was not a UUID (`task_ref`); `taskID` is then
    /// its name-based UUID (`TaskIdentifier`).
    public var taskRef: String?

    public init(id: Int64? = nil, agentName: String, taskID: String? = nil, taskType: String? = nil,
                executionTime: Double? = nil, success: Bool, errorMessage: String? = nil,
                resourceUsage: ResourceUsage = ResourceUsage(), timestamp: Date, eventID: String? = nil,
                taskRef: String? = nil) {
        self.taskRef = taskRef
        self.id = id
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

/// A registered agent.
public struct AgentDefinition: Sendable, Equatable {
    public var name: String
    public var description: String
    public var tools: [String]
    public var model: String
    /// `api`, `definition_file` or `discovered` (first seen in an execution).
    public var source: String
    public var metadata: [String: String]
    public var registeredAt: Date
    public var lastSeen: Date?
    /// The status the agent itself reported in its latest heartbeat (`healthy`, `degraded` or
    /// `unhealthy`), nil when that heartbeat reported none.
    public var reportedStatus: String?
    /// When it reported `reportedStatus`.
    public var reportedAt: Date?

    public init(name: String, description: String = "", tools: [String] = [], model: String = "",
                source: String = "api", metadata: [String: String] = [:], registeredAt: Date, lastSeen: Date? = nil,
                reportedStatus: String? = nil, reportedAt: Date? = nil) {
        self.reportedStatus = reportedStatus
        self.reportedAt = reportedAt
        self.name = name
        self.description = description
        self.tools = tools
        self.model = model
        self.source = source
        self.metadata = metadata
        self.registeredAt = registeredAt
        self.lastSeen = lastSeen
    }
}
