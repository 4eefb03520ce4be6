public import Foundation

// The service's request and response types are generated from Protos/learning/v1/learning.proto
// into Generated/Messages.swift (scripts/generate-protos.sh). What is here has no proto message of
// its own, so it is written by hand.

// MARK: - Ingest

// Not a proto message: the service's result of a batch carries one result per record, which the
// streaming ingest acknowledges one by one (`ExecutionAck`) and the batch answer sums up
// (`LogExecutionsResponse` has only the two totals).
/// The outcome of storing a batch, with one result per input in order.
public struct LogBatchResult: Sendable, Equatable, Codable {
    /// Rows stored now.
    public var accepted: Int64
    /// Records skipped because their event id was stored before.
    public var duplicates: Int64
    /// One result per input record, in input order.
    public var results: [LogExecutionResult]

    /// A batch result from its totals and per-record results.
    public init(accepted: Int64, duplicates: Int64, results: [LogExecutionResult]) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.results = results
    }
}

// MARK: - Analytics

// Not a proto enum: `GetPatternsRequest.kinds` is a repeated string (the guide's words), which the
// RPC and REST layers parse into these cases so an unknown kind is refused with the list.
/// The pattern families of `GetPatterns` (the guide's `patterns.get("collaboration")` etc.).
public enum PatternKind: String, Sendable, Codable, CaseIterable {
    case collaboration
    case performance
    case resources
    case failures
}
