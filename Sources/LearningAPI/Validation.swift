public import Foundation
public import LearningCore

/// Input validation shared by every handler, so RPC and REST reject the same inputs the same way
/// (and the CLI checks what it sends by the same rules). Each check throws
/// `ServiceError.invalidArgument` with a detail naming the field.
///
/// Units: names are counted in characters as PostgreSQL counts `VARCHAR(255)` (Unicode scalars,
/// `ExecutionRecord.characterCount`); free text in UTF-8 bytes (`maxErrorMessageBytes`,
/// `maxDescriptionBytes`).
public enum Validation {
    /// Longest agent name, task type or model name, in characters (Unicode scalars): the columns
    /// are `VARCHAR(255)` (`ExecutionRecord.maxNameScalars`).
    public static let maxNameLength = ExecutionRecord.maxNameScalars
    /// Longest error message stored with an execution, in UTF-8 bytes.
    public static let maxErrorMessageBytes = 64 * 1024
    /// Longest agent description, in UTF-8 bytes.
    public static let maxDescriptionBytes = 8 * 1024
    /// Longest event id, in characters (printable ASCII only, so also in bytes).
    public static let maxEventIDLength = 128
    /// Most entries in `resource_usage.other` or an agent's metadata.
    public static let maxMapEntries = 64
    /// Most tools an agent may list.
    public static let maxTools = 256
    /// Largest execution time accepted, seconds (one year).
    public static let maxExecutionTime = 365.0 * 24 * 3600
    /// How far in the future a timestamp may lie (clock skew allowance), seconds.
    public static let maxFutureSkew = 300.0
    /// The earliest timestamp accepted (2000-01-01T00:00:00Z).
    public static let earliestTimestamp = Date(timeIntervalSince1970: 946_684_800)
    /// Most records in one batch.
    public static let maxBatchSize = 10_000
    /// What an agent name looks like (checked by `agentName`; the OpenAPI document says it too).
    public static let agentNamePattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
    /// What a task type looks like (checked by `taskType`): an agent name's characters, `:` and `/`.
    public static let taskTypePattern = "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,254}$"

    /// Checks an agent name against `^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$`.
    public static func agentName(_ name: String, field: @autoclosure () -> String = "agent_name") throws {
        if name.isEmpty { throw ServiceError.invalidArgument("\(field()) is required") }
        guard ExecutionRecord.characterCount(name) <= maxNameLength else {
            throw ServiceError.invalidArgument("\(field()) is longer than \(maxNameLength) characters")
        }
        guard isAlnum(name.utf8.first!), name.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
            throw ServiceError.invalidArgument("\(field()) \(quoted(name)) must match \(agentNamePattern)")
        }
    }

    /// Checks a task type: like an agent name, also allowing `:` and `/`.
    public static func taskType(_ value: String, field: @autoclosure () -> String = "task_type") throws {
        if value.isEmpty { throw ServiceError.invalidArgument("\(field()) is required") }
        guard ExecutionRecord.characterCount(value) <= maxNameLength else {
            throw ServiceError.invalidArgument("\(field()) is longer than \(maxNameLength) characters")
        }
        func allowed(_ b: UInt8) -> Bool {
            isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ":") || b == UInt8(ascii: "/")
        }
        guard isAlnum(value.utf8.first!), value.utf8.allSatisfy(allowed) else {
            throw ServiceError.invalidArgument("\(field()) \(quoted(value)) must match \(taskTypePattern)")
        }
    }

    /// The UUID a task id is stored as: a UUID in its canonical lower-case form, any other id
    /// (1 to 128 bytes of text without control characters, e.g. `task-123`) as its name-based
    /// UUID (`TaskIdentifier`), the id itself kept as `task_ref`.
    /// UUIDs are recognised by LearningCore's `isCanonicalUUID` (byte by byte: Foundation's
    /// `UUID(uuidString:)` goes through sscanf, which cost several percent of the ingest CPU).
    public static func taskID(_ value: String, field: @autoclosure () -> String = "task_id") throws -> String {
        try taskIDAndReference(value, field: field()).uuid
    }

    /// `taskID`, and the id itself when it was not a UUID (the row's `task_ref`): the UUID is
    /// recognised once.
    static func taskIDAndReference(_ value: String, field: @autoclosure () -> String) throws -> (uuid: String, reference: String?) {
        if isCanonicalUUID(value) {
            let uuid = value.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") }) ? value.lowercased() : value
            return (uuid, nil)
        }
        guard value.utf8.count <= ExecutionRecord.maxTaskRefBytes else {
            throw ServiceError.invalidArgument("\(field()) is neither a UUID nor an id of at most \(ExecutionRecord.maxTaskRefBytes) bytes")
        }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ServiceError.invalidArgument("\(field()) \(quoted(value)) must not contain control characters")
        }
        return (TaskIdentifier.uuid(forName: value), value)
    }

    /// Checks a number is finite and at least 0 (and at most `maximum` when given).
    public static func nonNegative(_ value: Double, field: @autoclosure () -> String, maximum: Double? = nil) throws {
        guard value.isFinite else { throw ServiceError.invalidArgument("\(field()) must be a finite number") }
        guard value >= 0 else { throw ServiceError.invalidArgument("\(field()) must not be negative (got \(value))") }
        if let maximum, value > maximum {
            throw ServiceError.invalidArgument("\(field()) must be at most \(maximum) (got \(value))")
        }
    }

    /// Checks a fraction lies in 0...1.
    public static func fraction(_ value: Double, field: @autoclosure () -> String) throws {
        guard value.isFinite, value >= 0, value <= 1 else {
            throw ServiceError.invalidArgument("\(field()) must be a number between 0 and 1 (got \(value))")
        }
    }

    /// Checks a timestamp is after 2000 and not more than five minutes ahead of `now`.
    public static func timestamp(_ value: Date, field: @autoclosure () -> String = "timestamp", now: Date = Date()) throws {
        guard value.timeIntervalSince1970.isFinite, value >= earliestTimestamp else {
            throw ServiceError.invalidArgument("\(field()) is before 2000-01-01")
        }
        guard value.timeIntervalSince(now) <= maxFutureSkew else {
            throw ServiceError.invalidArgument("\(field()) lies in the future (\(Int(value.timeIntervalSince(now))) s ahead)")
        }
    }

    /// Checks free text: no NUL bytes and at most `maxBytes` UTF-8 bytes.
    public static func text(_ value: String, field: @autoclosure () -> String, maxBytes: Int) throws {
        if value.utf8.count > maxBytes {
            throw ServiceError.invalidArgument("\(field()) is longer than \(maxBytes) bytes")
        }
        if value.utf8.contains(0) { throw ServiceError.invalidArgument("\(field()) contains a NUL character") }
    }

    /// Checks an event id: 1...128 printable ASCII characters.
    public static func eventID(_ value: String, field: @autoclosure () -> String = "event_id") throws {
        guard !value.isEmpty, value.utf8.count <= maxEventIDLength,
              value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw ServiceError.invalidArgument("\(field()) must be 1 to \(maxEventIDLength) printable ASCII characters without spaces")
        }
    }

    /// Checks resource figures: each finite and not negative, `other` names like task types.
    public static func resources(_ usage: ResourceUsage, field: @autoclosure () -> String = "resource_usage") throws {
        if let cpu = usage.cpu { try nonNegative(cpu, field: "\(field()).cpu", maximum: 1_000_000) }
        if let memory = usage.memoryMB { try nonNegative(memory, field: "\(field()).memory_mb", maximum: 1e9) }
        if let tokens = usage.tokens { try nonNegative(tokens, field: "\(field()).tokens", maximum: 1e12) }
        if usage.other.count > maxMapEntries {
            throw ServiceError.invalidArgument("\(field()).other has more than \(maxMapEntries) entries")
        }
        for (key, value) in usage.other {
            try taskType(key, field: "\(field()).other key")
            try nonNegative(value, field: "\(field()).other[\(key)]", maximum: 1e15)
        }
    }

    /// Validates one execution and turns it into a record to store (`timestamp` defaults to `now`,
    /// the task id canonicalised, empty strings read as absent): the API's rules, then what a row of
    /// `agents.execution_log` can hold (`ExecutionRecord.checkStorable`, the check the store runs
    /// on every record too), so what passes here is what the store accepts.
    public static func execution(_ input: ExecutionInput, field: @autoclosure () -> String = "execution", now: Date = Date()) throws -> ExecutionRecord {
        try agentName(input.agentName, field: "\(field()).agent_name")
        var taskIDValue: String?
        var taskRef: String?
        if let id = input.taskID, !id.isEmpty {
            (taskIDValue, taskRef) = try taskIDAndReference(id, field: "\(field()).task_id")
        }
        var taskTypeValue: String?
        if let type = input.taskType, !type.isEmpty {
            try taskType(type, field: "\(field()).task_type")
            taskTypeValue = type
        }
        if let time = input.executionTime {
            try nonNegative(time, field: "\(field()).execution_time", maximum: maxExecutionTime)
        }
        var errorMessage: String?
        if let message = input.errorMessage, !message.isEmpty {
            try text(message, field: "\(field()).error_message", maxBytes: maxErrorMessageBytes)
            errorMessage = message
        }
        try resources(input.resourceUsage, field: "\(field()).resource_usage")
        if let timestampValue = input.timestamp { try timestamp(timestampValue, field: "\(field()).timestamp", now: now) }
        var eventIDValue: String?
        if let id = input.eventID, !id.isEmpty {
            try eventID(id, field: "\(field()).event_id")
            eventIDValue = id
        }
        let record = ExecutionRecord(agentName: input.agentName, taskID: taskIDValue, taskType: taskTypeValue,
                                     executionTime: input.executionTime, success: input.success, errorMessage: errorMessage,
                                     resourceUsage: input.resourceUsage, timestamp: input.timestamp ?? now, eventID: eventIDValue,
                                     taskRef: taskRef)
        do {
            try record.checkStorable()
        } catch {
            throw ServiceError.invalidArgument("\(field()).\(error)")
        }
        return record
    }

    /// Validates a registration.
    public static func registration(_ request: RegisterAgentRequest) throws {
        try agentName(request.name, field: "name")
        try text(request.description, field: "description", maxBytes: maxDescriptionBytes)
        if !request.model.isEmpty { try text(request.model, field: "model", maxBytes: maxNameLength) }
        guard request.tools.count <= maxTools else {
            throw ServiceError.invalidArgument("tools has more than \(maxTools) entries")
        }
        for (index, tool) in request.tools.enumerated() {
            if tool.isEmpty { throw ServiceError.invalidArgument("tools[\(index)] is empty") }
            try text(tool, field: "tools[\(index)]", maxBytes: maxNameLength)
        }
        guard request.metadata.count <= maxMapEntries else {
            throw ServiceError.invalidArgument("metadata has more than \(maxMapEntries) entries")
        }
        for (key, value) in request.metadata {
            if key.isEmpty { throw ServiceError.invalidArgument("metadata has an empty key") }
            try text(key, field: "metadata key", maxBytes: maxNameLength)
            try text(value, field: "metadata[\(key)]", maxBytes: 4096)
        }
    }

    /// Validates a metrics sample.
    public static func metricsSample(_ sample: MetricsSampleInput) throws {
        if let value = sample.responseTime { try nonNegative(value, field: "metrics.response_time", maximum: maxExecutionTime) }
        if let value = sample.throughput { try nonNegative(value, field: "metrics.throughput", maximum: 1e12) }
        if let value = sample.successRate { try fraction(value, field: "metrics.success_rate") }
        if let value = sample.coordinationEffectiveness { try fraction(value, field: "metrics.coordination_effectiveness") }
        try resources(sample.resourceUsage, field: "metrics.resource_usage")
    }

    /// Checks a `limit` parameter: 0 means `defaultValue`; negative or above `maximum` is rejected.
    public static func limit(_ value: Int, default defaultValue: Int, maximum: Int, field: @autoclosure () -> String = "limit") throws -> Int {
        guard value >= 0 else { throw ServiceError.invalidArgument("\(field()) must not be negative") }
        guard value <= maximum else { throw ServiceError.invalidArgument("\(field()) must be at most \(maximum)") }
        return value == 0 ? defaultValue : value
    }

    /// Checks a prediction request (`PredictPerformance`, `POST /predict`): names, the hour of
    /// day, the forecast time and the collaborators.
    public static func prediction(_ request: PredictionRequest) throws {
        try agentName(request.agentName)
        try taskType(request.taskType)
        if let hour = request.hour, !(0...23).contains(hour) {
            throw ServiceError.invalidArgument("hour must be between 0 and 23 (got \(hour))")
        }
        if let at = request.at, !(at.timeIntervalSince1970.isFinite) || at < earliestTimestamp {
            throw ServiceError.invalidArgument("at must be a time after 2000-01-01")
        }
        guard request.collaborators.count <= 64 else { throw ServiceError.invalidArgument("collaborators: at most 64 names") }
        for (index, name) in request.collaborators.enumerated() { try agentName(name, field: "collaborators[\(index)]") }
    }

    /// Checks a recommendations request (`GetRecommendations`, `GET /recommendations`); returns
    /// the limit to use.
    public static func recommendations(_ request: RecommendationsRequest) throws -> Int {
        try taskType(request.taskType)
        let count = try limit(request.limit, default: 5, maximum: 100)
        guard request.speedWeight.isFinite, (0...1).contains(request.speedWeight) else {
            throw ServiceError.invalidArgument("speed_weight must be between 0 and 1 (got \(request.speedWeight))")
        }
        if let at = request.at, at < earliestTimestamp { throw ServiceError.invalidArgument("at must be a time after 2000-01-01") }
        return count
    }

    /// Checks a similar-agents request (`FindSimilarAgents`, `GET /agents/{name}/similar`);
    /// returns the limit to use.
    public static func similarAgents(_ request: SimilarAgentsRequest) throws -> Int {
        try agentName(request.agentName)
        let count = try limit(request.limit, default: 10, maximum: 100)
        if let threshold = request.threshold, !threshold.isFinite || !(-1...1).contains(threshold) {
            throw ServiceError.invalidArgument("threshold must be between -1 and 1 (got \(threshold))")
        }
        return count
    }

    private static func isAlnum(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
    }

    /// A value for an error message: quoted, cut at 64 characters, control characters escaped.
    public static func quoted(_ value: String) -> String {
        let cut = value.count > 64 ? String(value.prefix(64)) + "..." : value
        return "\"" + cut.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
    }
}
