// LearningStore is the service's repository over PostgreSQL: every requirement of
// `LearningRepository` is one of its methods, with the same name and arguments; the change feed
// is `feed().run`.
public import LearningRepository

extension LearningStore: LearningRepository {
    /// Follows `agents.execution_log` with an `ExecutionFeed` of the default settings.
    public func followChanges(from start: FeedPosition?, stopAtReset: Bool,
                              _ handler: @Sendable (FeedEvent) async throws -> Void) async throws {
        try await feed().run(from: start, stopAtReset: stopAtReset, handler)
    }
}
