/// One `agents.performance_metrics` roll-up row: the figures of an (agent, task type) group of
/// executions over a window, as the guide's direct-database readers expect them.
public struct PerformanceRollUp: Sendable, Equatable {
    /// The agent.
    public var agentName: String
    /// The task type (nil: executions without one).
    public var taskType: String?
    /// Mean of the known execution times, seconds.
    public var avgExecutionTime: Double?
    /// Share of successful executions, 0...1.
    public var successRate: Double?
    /// Mean CPU (percent) of the executions that reported it.
    public var resourceCPU: Double?
    /// Mean memory (MiB) of the executions that reported it.
    public var resourceMemory: Double?
    /// Success rate on tasks that more than one agent worked on within the window (nil: none).
    public var coordinationScore: Double?
    /// Executions in the group.
    public var executions: Int64

    /// Creates a row.
    public init(agentName: String, taskType: String?, avgExecutionTime: Double?, successRate: Double?,
                resourceCPU: Double?, resourceMemory: Double?, coordinationScore: Double?, executions: Int64) {
        self.agentName = agentName
        self.taskType = taskType
        self.avgExecutionTime = avgExecutionTime
        self.successRate = successRate
        self.resourceCPU = resourceCPU
        self.resourceMemory = resourceMemory
        self.coordinationScore = coordinationScore
        self.executions = executions
    }
}
