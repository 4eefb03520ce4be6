import Foundation

// What a row of `agents.execution_log` can hold, checked once for every writer: the store runs it on
// each record before the record joins a shared batch (one row PostgreSQL refuses would fail the
// whole transaction), and the API's `Validation.execution` runs it after its own, stricter rules.
//
// Units. `agent_name` and `task_type` are VARCHAR(255): PostgreSQL counts characters of a UTF-8
// database as Unicode scalars (code points), so the limit is in Unicode scalars: 255 "é" (510
// bytes) fit, and so do 255 "🤖" (1,020 bytes); 255 "e" + U+0301 (255 Swift `Character`s, 510
// scalars) do not. `event_id` is limited in UTF-8 bytes, because its unique index limits the size of
// an entry, not its length.

/// Why an execution cannot be stored: the field and what is wrong with it.
public struct ExecutionProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field, as the table and the API name it (`agent_name`, `resource_usage.cpu`).
    public var field: String
    /// What is wrong, to follow the field's name (`is longer than 255 characters`).
    public var reason: String

    /// Creates a problem report.
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field) \(reason)" }
}

extension ExecutionRecord {
    /// The longest `agent_name` or `task_type` (and `resource_usage` key), in Unicode scalars:
    /// the columns are VARCHAR(255), which PostgreSQL counts in characters, i.e. code points.
    public static let maxNameScalars = 255
    /// The longest `event_id`, in UTF-8 bytes (the unique index on it bounds an entry's size).
    public static let maxEventIDBytes = 1_024
    /// Longest task id that is not a UUID (kept as `task_ref`), in UTF-8 bytes.
    public static let maxTaskRefBytes = 128

    /// The length of `text` as PostgreSQL's `length()` and `VARCHAR(n)` count it: Unicode scalars.
    public static func characterCount(_ text: String) -> Int { text.unicodeScalars.count }

    /// Throws the first reason PostgreSQL would refuse this record (or the service could not read it
    /// back): a missing agent name, a name longer than 255 characters, a NUL byte in text, a task id
    /// that is not a UUID, a non-finite or negative time, a timestamp outside years 1 to 9999, a
    /// non-finite resource figure.
    public func checkStorable() throws(ExecutionProblem) {
        func text(_ value: String?, _ field: String, maxScalars: Int? = nil, maxBytes: Int? = nil) throws(ExecutionProblem) {
            guard let value else { return }
            if value.utf8.contains(0) { throw ExecutionProblem(field: field, reason: "contains a NUL character") }
            if let maxScalars, Self.characterCount(value) > maxScalars {
                throw ExecutionProblem(field: field, reason: "is longer than \(maxScalars) characters")
            }
            if let maxBytes, value.utf8.count > maxBytes {
                throw ExecutionProblem(field: field, reason: "is longer than \(maxBytes) bytes")
            }
        }
        if agentName.isEmpty { throw ExecutionProblem(field: "agent_name", reason: "is required") }
        try text(agentName, "agent_name", maxScalars: Self.maxNameScalars)
        try text(taskType, "task_type", maxScalars: Self.maxNameScalars)
        try text(errorMessage, "error_message")
        try text(eventID, "event_id", maxBytes: Self.maxEventIDBytes)
        try text(taskRef, "task_id", maxBytes: Self.maxTaskRefBytes)
        if let taskID, !isCanonicalUUID(taskID) {
            throw ExecutionProblem(field: "task_id", reason: "is not a UUID")
        }
        if let executionTime, !executionTime.isFinite || executionTime < 0 {
            throw ExecutionProblem(field: "execution_time", reason: "must be a finite number of seconds >= 0")
        }
        let seconds = timestamp.timeIntervalSince1970
        if !seconds.isFinite || seconds < -62_135_596_800 || seconds > 253_402_300_799 {
            throw ExecutionProblem(field: "timestamp", reason: "is outside the years 1 to 9999")
        }
        for (key, value) in resourceUsage.other {
            try text(key, "resource_usage key", maxScalars: Self.maxNameScalars)
            if !value.isFinite { throw ExecutionProblem(field: "resource_usage.\(key)", reason: "is not finite") }
        }
        for (name, value) in [("cpu", resourceUsage.cpu), ("memory_mb", resourceUsage.memoryMB), ("tokens", resourceUsage.tokens)] {
            if let value, !value.isFinite { throw ExecutionProblem(field: "resource_usage.\(name)", reason: "is not finite") }
        }
    }
}
