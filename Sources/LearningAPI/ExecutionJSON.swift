public import LearningCore

// One execution as JSON, the guide's `performance_data` (the body of `POST /executions`, an
// element of `POST /executions/batch`, a line of the CLI's JSONL import). Types and syntax are
// checked here; `Validation.execution` checks the values.

extension ResourceUsage {
    /// Reads `resource_usage`: `cpu`, `memory_mb`, `tokens`, and any other numeric resource by name.
    public init(json reader: JSONObjectReader?) throws(ServiceError) {
        self.init()
        guard let reader else { return }
        guard reader.members.count <= 64 else { throw ServiceError.invalidArgument("\(reader.path) has more than 64 entries") }
        for (key, value) in reader.members {
            if case .null = value { continue }
            let number = try numberValue(value, path: "\(reader.path).\(key)", minimum: nil, maximum: nil)
            switch key {
            case "cpu": cpu = number
            case "memory_mb": memoryMB = number
            case "tokens": tokens = number
            default: other[key] = number
            }
        }
    }
}

extension ExecutionInput {
    /// Reads one execution, the guide's `performance_data`: `agent_name`, `task_id`, `task_type`,
    /// `execution_time`, `success`, `resource_usage`, `timestamp`, `error_message`, `event_id`.
    public init(json value: JSONValue, path: String = "body") throws(ServiceError) {
        let reader = try JSONObjectReader(value, path: path)
        let agentName = try reader.requiredString("agent_name", maxLength: 1_024)
        guard let success = try reader.bool("success") else {
            throw ServiceError.invalidArgument("\(path == "body" ? "" : path + ".")success is required (true or false)")
        }
        self.init(
            agentName: agentName,
            taskID: try reader.string("task_id", maxLength: 1_024),
            taskType: try reader.string("task_type", maxLength: 1_024),
            executionTime: try reader.double("execution_time"),
            success: success,
            errorMessage: try reader.string("error_message", maxLength: 1 << 20),
            resourceUsage: try ResourceUsage(json: try reader.object("resource_usage")),
            timestamp: try reader.timestamp("timestamp"),
            eventID: try reader.string("event_id", maxLength: 1_024))
    }
}
