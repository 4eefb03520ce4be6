// What the service needs of storage, one protocol per job, and `LearningRepository`, all of them.
// The service (LearningService) holds `any LearningRepository` and each of its runtime components
// the narrower protocols it uses; LearningStore implements them over PostgreSQL (with the SQL and
// libpq kept there), LearningInMemoryRepository in memory for the service's own tests.
//
// The requirements take every argument; the extensions at the end give the service's usual
// defaults (a page size, `now`), since a protocol requirement cannot have default arguments.
public import Foundation
public import LearningCore

/// Executions: the ingest path's writes (deduplicated by event id) and the start-up's reads.
public protocol ExecutionRepository: AnyObject, Sendable {
    /// Runs `body` (which validates and writes `rows` records) once the rows are admitted: throws
    /// `StoreError.overloaded(retryAfter:)` at once when the ingest queue cannot take them.
    func withIngestAdmission<T>(rows: Int, _ body: () async throws -> T) async throws -> T

    /// Admits one row, runs `prepare` (which validates and makes the record), stores it and calls
    /// `completion` once with the record and its acknowledgement (or the refusal, or what
    /// `prepare` threw). For callers that are not async; `completion` must not block.
    func logExecution(prepare: () throws -> ExecutionRecord,
                      completion: @escaping @Sendable (Result<(record: ExecutionRecord, ack: IngestAck), any Error>) -> Void)

    /// Stores a batch: one acknowledgement per record, in order, once it is durable. A record whose
    /// event id is stored already is not stored again (`IngestAck.duplicate`, with the first row's id).
    func logExecutions(_ records: [ExecutionRecord]) async throws -> [IngestAck]

    /// The executions with these ids (those still stored), ascending.
    func executions(ids: [Int64]) async throws -> [ExecutionRecord]

    /// Calls `body` with the newest `limit` executions with ids at or below `maxID`, oldest first,
    /// in pages of at most `page`; returns how many were read.
    @discardableResult
    func newestExecutions(limit: Int, atOrBelow maxID: Int64, page: Int,
                          _ body: @Sendable ([ExecutionRecord]) -> Void) async throws -> Int

    /// The highest execution id handed out so far, and a marker for `FeedPosition.covers`: the
    /// feed has delivered every row up to the id once its position covers both.
    func lastDrawnExecutionID() async throws -> (id: Int64, xmax: UInt64)
}

/// The change feed: every stored execution, whoever wrote it, delivered once.
public protocol ExecutionChangeFeed: AnyObject, Sendable {
    /// Follows the stored executions until the task is cancelled, calling `handler` with each
    /// event in order (the next waits for it): from `start`, or from the first row. Rows this
    /// repository's own writes stored come as `.ownWrites` ids, others as `.executions`; a
    /// `.position` follows each step that moved the feed. A truncation of the executions is
    /// `.reset` (then, with `stopAtReset`, the call returns).
    func followChanges(from start: FeedPosition?, stopAtReset: Bool,
                       _ handler: @Sendable (FeedEvent) async throws -> Void) async throws
}

/// The persisted aggregates: the per (agent, task type, UTC day) sums of the executions and the
/// feed position they describe.
public protocol AggregateRepository: AnyObject, Sendable {
    /// What the stored aggregates describe.
    func aggregateCheckpoint() async throws -> AggregateCheckpoint

    /// Replaces the stored aggregates with the sums of every execution stored so far (for the
    /// current truncation generation); returns the feed position they cover. `grace` and
    /// `workers` tune a database's build; `progress` is called as it goes.
    func buildAggregates(grace: Double, workers: Int,
                         progress: @escaping @Sendable (AggregateBuildProgress) -> Void) async throws -> FeedPosition

    /// Calls `body` with every stored cell, in pages of at most `page`.
    func loadAggregates(page: Int, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws

    /// The stored cells (to `body`, in pages of at most `page`, when they describe the current
    /// table) and the checkpoint they describe, read in one snapshot: another replica may
    /// checkpoint meanwhile.
    func loadAggregateSnapshot(page: Int, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws -> AggregateCheckpoint

    /// Adds `cells` and stores the feed position (and the ids confirmed but not yet applied) they
    /// bring the aggregates to, at once; false (nothing written) when the executions were
    /// truncated since `generation`, or, with `leaderEpoch` above 0, when another replica became
    /// the leader since that epoch.
    @discardableResult
    func checkpointAggregates(_ cells: [AggregateCell], position: FeedPosition, pending: [Int64],
                              generation: Int64, leaderEpoch: Int64) async throws -> Bool

    /// Deletes the cells of the days before `day` and returns them.
    func expireAggregates(beforeDay day: Int32) async throws -> [AggregateCell]
}

/// The stored collaboration sums: per UTC day, the tasks several agents worked on.
public protocol CollaborationRepository: AnyObject, Sendable {
    /// Sums the multi-agent tasks of `day` (days since 1970-01-01, UTC) from the stored executions,
    /// in place of what was stored for it; returns the rows of the day and its two neighbours.
    @discardableResult
    func refreshCollaboration(day: Int32) async throws -> Int64

    /// The days summed, with the rows each had (see `refreshCollaboration`).
    func collaborationDays() async throws -> [Int32: Int64]

    /// Forgets the sums of `days`.
    func deleteCollaboration(days: [Int32]) async throws

    /// The sums of the days before `before`, added up.
    func collaborationSums(before: Int32) async throws -> CollaborationSums
}

/// The agent registry.
public protocol AgentRegistry: AnyObject, Sendable {
    /// Registers an agent or updates the one of that name (keeping its `registeredAt`); returns the
    /// stored agent and whether it was created.
    func upsertAgent(_ agent: AgentDefinition) async throws -> (agent: AgentDefinition, created: Bool)

    /// Registers agents first seen in executions (source `discovered`) and moves `lastSeen` forward.
    func noteAgentsSeen(_ seen: [String: Date]) async throws

    /// Marks an agent alive at `date` and keeps the status it reported (nil: none); throws
    /// `StoreError.notFound` for an unknown name.
    func heartbeat(agentName: String, at date: Date, status: String?) async throws -> AgentDefinition

    /// One registered agent, or nil.
    func agent(named name: String) async throws -> AgentDefinition?

    /// Every registered agent, by name.
    func listAgents() async throws -> [AgentDefinition]

    /// How many agents are registered.
    func agentCount() async throws -> Int64
}

/// The performance snapshots of `agents.performance_metrics`: submitted samples and roll-ups.
public protocol PerformanceMetricsRepository: AnyObject, Sendable {
    /// Stores a submitted sample stamped `date`; returns its id.
    func submitMetrics(agentName: String, taskType: String?, sample: MetricsSample, at date: Date) async throws -> Int64

    /// Stores roll-up rows the caller computed, stamped `date`; returns how many.
    @discardableResult
    func storeRollUp(_ rows: [PerformanceRollUp], at date: Date) async throws -> Int

    /// Computes and stores the roll-up of the executions of the `window` seconds before `date`
    /// from the stored executions; returns the rows written.
    @discardableResult
    func rollUpPerformance(window: Double, at date: Date) async throws -> Int
}

/// Trained models and the agents' embeddings.
public protocol ModelRepository: AnyObject, Sendable {
    /// Saves a model version, keeping that model's `keepVersions` saved last; returns its id.
    func saveModel(_ model: StoredModel, keepVersions: Int) async throws -> Int64

    /// The version of a model saved last (the highest id), or nil. By save order, not by
    /// `trainedOn`: a retrain "as of" a past time is trained on that time and is still the
    /// newest model.
    func latestModel(named name: String) async throws -> StoredModel?

    /// The id of the model saved last, without its data (a follower looks for a newer one every
    /// few seconds); nil when none is stored.
    func latestModelID(named name: String) async throws -> Int64?

    /// Stores an agent's embedding (per task type, or overall for nil), replacing the previous one.
    func saveEmbedding(agentName: String, taskType: String?, vector: [Float]) async throws -> Int64
}

/// Stored insights and anomalies.
public protocol InsightRepository: AnyObject, Sendable {
    /// Saves an insight; returns its id.
    func saveInsight(_ insight: StoredInsight) async throws -> Int64

    /// Appends executions to a stored insight (`executionID` becomes the last of them).
    func appendInsightExecutionIDs(insightID: Int64, executionIDs: [Int64]) async throws

    /// Writes a growing anomaly's latest totals over its stored insight's.
    func updateInsightTotals(insightID: Int64, detail: String, score: Double, observed: Double, expected: Double,
                             severity: String) async throws

    /// Insights, newest first: of `kinds` (empty: any), concerning `agentName`, since `since`.
    func insights(kinds: [String], agentName: String?, since: Date?, limit: Int) async throws -> [StoredInsight]
}

/// Retention: what is older than the retention window leaves storage, a UTC day of executions at a time.
public protocol RetentionRepository: AnyObject, Sendable {
    /// Prepares storage for the days of the retention window around `now` (PostgreSQL: the day
    /// partitions); returns how many days were added.
    @discardableResult
    func ensurePartitions(now: Date) async throws -> Int

    /// Removes the executions of the days before the day of `now - retention` (or of `olderThan`),
    /// and the metrics rows and insights older than that instant, `batch` rows at a time.
    @discardableResult
    func applyRetention(olderThan cutoff: Date?, now: Date, batch: Int) async throws -> RetentionReport
}

/// Everything the service needs of storage.
///
/// ```swift
/// let store = try await LearningStore.open(config: config)           // PostgreSQL
/// let service = LearningService(config: config, store: store)
/// let memory = InMemoryRepository()                                   // tests: no database
/// let tested = LearningService(config: config, store: memory)
/// ```
public protocol LearningRepository: ExecutionRepository, ExecutionChangeFeed, AggregateRepository,
    CollaborationRepository, AgentRegistry, PerformanceMetricsRepository, ModelRepository, InsightRepository,
    RetentionRepository, ReplicaRole {
    /// `connected` or `disconnected`; cheap (health reads it on every call).
    var databaseState: String { get }

    /// Finishes the writes under way and closes the repository.
    func shutdown() async
}

// MARK: - The service's usual arguments

extension ExecutionRepository {
    /// `newestExecutions` in pages of 50,000.
    @discardableResult
    public func newestExecutions(limit: Int, atOrBelow maxID: Int64,
                                 _ body: @Sendable ([ExecutionRecord]) -> Void) async throws -> Int {
        try await newestExecutions(limit: limit, atOrBelow: maxID, page: 50_000, body)
    }
}

extension AggregateRepository {
    /// `buildAggregates` with a 2 s grace and two workers.
    public func buildAggregates(progress: @escaping @Sendable (AggregateBuildProgress) -> Void) async throws -> FeedPosition {
        try await buildAggregates(grace: 2, workers: 2, progress: progress)
    }

    /// `loadAggregates` in pages of 20,000.
    public func loadAggregates(_ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws {
        try await loadAggregates(page: 20_000, body)
    }

    /// `loadAggregateSnapshot` in pages of 20,000.
    public func loadAggregateSnapshot(_ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws -> AggregateCheckpoint {
        try await loadAggregateSnapshot(page: 20_000, body)
    }
}

extension ModelRepository {
    /// Saves a model version, keeping that model's newest 10.
    public func saveModel(_ model: StoredModel) async throws -> Int64 {
        try await saveModel(model, keepVersions: 10)
    }

    /// Stores an agent's overall embedding.
    public func saveEmbedding(agentName: String, vector: [Float]) async throws -> Int64 {
        try await saveEmbedding(agentName: agentName, taskType: nil, vector: vector)
    }
}

extension InsightRepository {
    /// The newest `limit` insights of `kinds` (empty: any).
    public func insights(kinds: [String], limit: Int) async throws -> [StoredInsight] {
        try await insights(kinds: kinds, agentName: nil, since: nil, limit: limit)
    }
}

extension RetentionRepository {
    /// Prepares the days of the retention window around now.
    @discardableResult
    public func ensurePartitions() async throws -> Int {
        try await ensurePartitions(now: Date())
    }

    /// Applies the configured retention now, 5,000 rows at a time.
    @discardableResult
    public func applyRetention() async throws -> RetentionReport {
        try await applyRetention(olderThan: nil, now: Date(), batch: 5_000)
    }
}
