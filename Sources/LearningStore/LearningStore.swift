// The repository the rest of the service calls: one object owning the connection pool, the
// group-commit writer, and the SQL of every table. All methods are async and never block a
// cooperative thread (libpq runs on the pool's own threads).
public import Foundation
public import LearningCore
public import LearningRepository

/// The PostgreSQL repository of learning-system.
///
/// ```swift
/// let store = try await LearningStore.open(config: config)
/// let ack = try await store.logExecution(record)          // durable once it returns
/// Task { try await store.feed().run { event in ... } }    // every row, any writer, once
/// ```
public final class LearningStore: Sendable {
    /// Live `connected`/`disconnected` state, cheap to read (for /health).
    public let health: DatabaseHealth
    /// How `agent_embeddings.embedding` is stored in this database.
    public let embeddingMode: EmbeddingMode
    let pool: ConnectionPool
    /// The change feed's and the start-up's reads: the read replica (`database.read_url`) when
    /// there is one, else `pool` (see Replication.swift).
    let readPool: ConnectionPool
    /// Leadership among replicas; nil when leader election is off (this store acts as the only one).
    let lease: LeaderLease?
    let replicaLag: ReplicaLag?
    let writer: ExecutionWriter
    let performance: LearningConfig.Performance
    private let heartbeat: Task<Void, Never>

    private init(pool: ConnectionPool, readPool: ConnectionPool, lease: LeaderLease?, replicaLag: ReplicaLag?,
                 writer: ExecutionWriter, health: DatabaseHealth, mode: EmbeddingMode,
                 performance: LearningConfig.Performance) {
        self.pool = pool
        self.readPool = readPool
        self.lease = lease
        self.replicaLag = replicaLag
        self.writer = writer
        self.health = health
        self.embeddingMode = mode
        self.performance = performance
        // Keeps `health` true to the server while idle, and reconnects pool threads.
        self.heartbeat = Task.detached { [pool] in
            while !Task.isCancelled {
                _ = try? await pool.withConnection { c in try c.query("SELECT 1") }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The libpq URL for a configuration: `database.url` when set, else built from the fields.
    public static func connectionURL(for db: LearningConfig.Database) -> String {
        if let url = db.url, !url.isEmpty { return url }
        func esc(_ s: String) -> String { "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'" }
        var parts = ["host=\(esc(db.host))", "port=\(db.port)", "dbname=\(esc(db.database))", "user=\(esc(db.user))"]
        if !db.password.isEmpty { parts.append("password=\(esc(db.password))") }
        return parts.joined(separator: " ")
    }

    /// Connects, applies the migrations (once, even with several instances starting together) and
    /// starts the writer. Uses `database.max_connections` connections in all: the writer's plus the pool's.
    /// While the database is unreachable it retries for up to `waitForDatabase` seconds, then
    /// throws `unavailable`. `leaderElection` (the server) takes part in the election of the
    /// replica that runs the once-per-database work (Replication.swift); without it this store
    /// acts as the only replica. `database.read_url` adds a pool of
    /// `database.read_max_connections` connections to the read replica.
    public static func open(config: LearningConfig, ingest: IngestSettings = IngestSettings(),
                            waitForDatabase: Double = 0, leaderElection: Bool = false) async throws -> LearningStore {
        let url = connectionURL(for: config.database)
        let health = DatabaseHealth()
        var ingest = ingest
        ingest.writers = max(1, min(ingest.writers, config.database.maxConnections - 1))
        let pool = ConnectionPool(url: url, size: max(1, config.database.maxConnections - ingest.writers), health: health)
        let mode: EmbeddingMode
        do {
            let deadline = Date(timeIntervalSinceNow: waitForDatabase)
            while true {
                do {
                    let days = config.performance.metricsRetentionDays
                    _ = try await pool.withConnection { c in try Migrations.apply(on: c, retentionDays: days) }
                    break
                } catch let error as StoreError where error.isRetryable && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            mode = try await pool.withConnection { c in
                let t = try c.query("""
                    SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                    WHERE attrelid = 'agents.agent_embeddings'::regclass AND attname = 'embedding'
                    """)
                return (t[0, 0] ?? "").hasPrefix("vector") ? EmbeddingMode.pgvector : .realArray
            }
        } catch {
            pool.shutdown()
            throw error
        }
        var readPool = pool
        var lag: ReplicaLag? = nil
        if let readURL = config.database.readURL, !readURL.isEmpty {
            readPool = ConnectionPool(url: readURL, size: config.database.readMaxConnections, health: DatabaseHealth(),
                                      name: "learning-system-read")
            do {
                try await checkReadReplica(primary: pool, replica: readPool)
            } catch {
                readPool.shutdown()
                pool.shutdown()
                throw error
            }
            lag = ReplicaLag()
            lag?.start(primary: pool, replica: readPool)
        }
        let lease = leaderElection ? LeaderLease(url: url) : nil
        lease?.start()
        let writer = ExecutionWriter(url: url, settings: ingest, health: health)
        let store = LearningStore(pool: pool, readPool: readPool, lease: lease, replicaLag: lag, writer: writer, health: health,
                                  mode: mode, performance: config.performance)
        do {
            _ = try await store.ensurePartitions()
        } catch {
            await store.shutdown()
            throw error
        }
        // Acknowledge nothing before a writer is connected.
        let deadline = Date(timeIntervalSinceNow: 10)
        while !writer.isConnected, Date() < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return store
    }

    /// Stops the writer after flushing what is queued, and the pool.
    public func shutdown() async {
        heartbeat.cancel()
        writer.shutdown()
        let w = writer
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { _ = w.waitStopped(timeout: 30); c.resume() }
        }
        lease?.stop()
        replicaLag?.stop()
        if readPool !== pool { readPool.shutdown() }
        pool.shutdown()
    }

    /// Creates the missing day partitions of `agents.execution_log` for the UTC days from the first
    /// one retention keeps (the day of `now - metrics_retention_days`) to a week after `now`, each in its own short
    /// transaction; rows of such a day waiting in the default partition move into it with their ids.
    /// Returns how many partitions were created. `open` calls it; call it again at least daily.
    @discardableResult
    public func ensurePartitions(now: Date = Date()) async throws -> Int {
        let days = Partitions.window(now: now, retentionDays: performance.metricsRetentionDays)
        return try await pool.withConnection { c in try Partitions.ensure(days: days, on: c) }
    }

    /// `connected` or `disconnected`.
    public var databaseState: String { health.state }

    // MARK: - Executions

    /// Runs `body` (which validates and writes `rows` records) once the rows are admitted: throws
    /// `overloaded(retryAfter:)` at once when the rows already on their way to the writer would
    /// exceed the ingest queue's capacity. This bounds the records held in memory under overload.
    public func withIngestAdmission<T>(rows: Int, _ body: () async throws -> T) async throws -> T {
        try writer.admit(rows)
        defer { writer.release(rows) }
        return try await body()
    }

    /// Stores one execution through the group-commit writer; returns after its transaction committed.
    /// Throws `overloaded(retryAfter:)` when the queue is full, `unavailable` while the database is down.
    public func logExecution(_ record: ExecutionRecord) async throws -> IngestAck {
        let acks = try await writer.write([record])
        return acks[acks.startIndex]
    }

    /// `withIngestAdmission` and `logExecution` for a caller that is not async (the gRPC
    /// transport's task-free unary path): admits the row, runs `prepare` (which validates and
    /// makes the record), queues it, and calls `completion` once with the record and its
    /// acknowledgement: from the writer's thread after the commit, or from this call when the row
    /// is refused (`overloaded`, `unavailable`, or what `prepare` threw). `completion` must not
    /// block: the writer's next commit waits for it.
    public func logExecution(prepare: () throws -> ExecutionRecord,
                             completion: @escaping @Sendable (Result<(record: ExecutionRecord, ack: IngestAck), any Error>) -> Void) {
        let record: ExecutionRecord
        do {
            try writer.admit(1)
        } catch {
            return completion(.failure(error))
        }
        do {
            record = try prepare()
        } catch {
            writer.release(1)
            return completion(.failure(error))
        }
        writer.write([record]) { [writer] result in
            writer.release(1)
            completion(result.map { (record, $0[$0.startIndex]) })
        }
    }

    /// Stores a batch (one acknowledgement per record, in order) once its transaction committed.
    public func logExecutions(_ records: [ExecutionRecord]) async throws -> [IngestAck] {
        Array(try await writer.write(records))
    }

    /// The change feed of executions (our writes and anyone else's). See ``ExecutionFeed``.
    public func feed(_ settings: FeedSettings = FeedSettings()) -> ExecutionFeed {
        ExecutionFeed(pool: readPool, settings: settings, ownWrites: writer.ownWrites)
    }

    /// Streams every execution newer than `since` (default: the retention window) in id order, in
    /// batches, for start-up training.
    public func loadExecutions(since: Date? = nil, batchSize: Int = 10_000) -> AsyncThrowingStream<[ExecutionRecord], any Error> {
        let since = since ?? Date().addingTimeInterval(-Double(performance.metricsRetentionDays) * 86_400)
        let pool = self.pool
        return AsyncThrowingStream { continuation in
            let task = Task {
                var after: Int64 = 0
                do {
                    while !Task.isCancelled {
                        let a = after
                        let rows = try await pool.withConnection { c in
                            try c.queryPrepared("load_executions", """
                                SELECT \(ExecutionColumns.select) FROM agents.execution_log e
                                WHERE e.id > $1 AND e.timestamp >= to_timestamp($2::float8) AT TIME ZONE 'UTC'
                                ORDER BY e.id LIMIT $3
                                """, [.int(a), .text(PGText.epoch(since)), .int(batchSize)])
                        }
                        let batch = ExecutionColumns.records(rows)
                        if batch.isEmpty { break }
                        after = batch.last?.id ?? after
                        continuation.yield(batch)
                        if batch.count < batchSize { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Executions of one agent, newest first.
    public func recentExecutions(agentName: String, limit: Int = 100) async throws -> [ExecutionRecord] {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT \(ExecutionColumns.select) FROM agents.execution_log e
                WHERE e.agent_name = $1 ORDER BY e.timestamp DESC, e.id DESC LIMIT $2
                """, [.text(agentName), .int(limit)])
        }
        return ExecutionColumns.records(rows)
    }

    /// Row counts (total executions, metrics rows, registered agents).
    public func counts() async throws -> StoreCounts {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT (SELECT count(*) FROM agents.execution_log), (SELECT count(*) FROM agents.performance_metrics),
                       (SELECT count(*) FROM agents.agent_registry)
                """)
        }
        return StoreCounts(executions: rows.int64(0, 0) ?? 0, performanceMetrics: rows.int64(0, 1) ?? 0,
                           agents: rows.int64(0, 2) ?? 0)
    }

    /// Rows in agent_registry (cheap: the registry is small, unlike execution_log, whose exact
    /// count scans the table).
    public func agentCount() async throws -> Int64 {
        let rows = try await pool.withConnection { c in try c.query("SELECT count(*) FROM agents.agent_registry") }
        return rows.int64(0, 0) ?? 0
    }

    /// How many execution rows hold each event id starting with `prefix` (the claims in
    /// `execution_event_ids` make it 1; used by the fault drill to prove acknowledged writes are
    /// stored exactly once). The ids are found among the claims; the rows are counted in the table
    /// itself, in the partitions of the claims' days (a retry carries its record's timestamp).
    public func eventIDCounts(prefix: String) async throws -> [String: Int] {
        let rows = try await pool.withConnection { c in
            try c.query("""
                WITH k AS (
                    SELECT event_id, timestamp FROM agents.execution_event_ids
                    WHERE event_id >= $1 AND event_id < $1 || chr(1114111))
                SELECT e.event_id, count(*) FROM agents.execution_log e
                WHERE e.event_id IN (SELECT event_id FROM k)
                  AND e.timestamp >= (SELECT min(timestamp) FROM k) AND e.timestamp <= (SELECT max(timestamp) FROM k)
                GROUP BY e.event_id
                """, [.text(prefix)])
        }
        var counts: [String: Int] = [:]
        for r in 0..<rows.count { if let e = rows[r, 0] { counts[e] = Int(rows.int64(r, 1) ?? 0) } }
        return counts
    }

    /// The execution with an event id, if stored.
    public func execution(eventID: String) async throws -> ExecutionRecord? {
        let rows = try await pool.withConnection { c in
            // Both keys of the row, so only its day's partition is searched.
            try c.query("""
                SELECT \(ExecutionColumns.select) FROM agents.execution_log e
                WHERE e.id = (SELECT execution_id FROM agents.execution_event_ids WHERE event_id = $1)
                  AND e.timestamp = (SELECT timestamp FROM agents.execution_event_ids WHERE event_id = $1)
                """, [.text(eventID)])
        }
        return ExecutionColumns.records(rows).first
    }

    // MARK: - Agent registry

    /// How many columns `agentColumns` selects (what a query selects after them starts there).
    private static let agentColumnCount = 10
    private static let agentColumns = """
        name, description, tools, model, source, metadata::text,
        extract(epoch from registered_at)::float8, extract(epoch from last_seen)::float8,
        reported_status, extract(epoch from reported_at)::float8
        """

    private static func agents(_ rows: PGRows) -> [AgentDefinition] {
        (0..<rows.count).map { r in
            AgentDefinition(name: rows[r, 0] ?? "", description: rows[r, 1] ?? "",
                            tools: PGText.parseArray(rows[r, 2] ?? "{}").compactMap { $0 }, model: rows[r, 3] ?? "",
                            source: rows[r, 4] ?? "api", metadata: PGText.stringMap(fromJSON: rows[r, 5]),
                            registeredAt: PGText.date(rows[r, 6]) ?? Date(timeIntervalSince1970: 0),
                            lastSeen: PGText.date(rows[r, 7]), reportedStatus: rows[r, 8],
                            reportedAt: PGText.date(rows[r, 9]))
        }
    }

    /// The bound parameters $1...$8 of an agent row: name, description, tools, model, source,
    /// metadata, registered_at, last_seen (the column order of both agent inserts).
    static func agentParams(_ agent: AgentDefinition) -> [PGParam] {
        [.text(agent.name), .text(agent.description), .text(PGText.array(agent.tools)),
         .text(agent.model), .text(agent.source), .text(PGText.jsonObject(agent.metadata)),
         .text(PGText.epoch(agent.registeredAt)), .optional(agent.lastSeen.map(PGText.epoch))]
    }

    /// Registers an agent, or updates the one with that name (its `registered_at` is kept).
    /// Returns the stored agent and whether it was created now.
    public func upsertAgent(_ agent: AgentDefinition) async throws -> (agent: AgentDefinition, created: Bool) {
        try Self.checkName(agent.name)
        let params = Self.agentParams(agent)
        let rows = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.agent_registry AS a (name, description, tools, model, source, metadata, registered_at, last_seen)
                VALUES ($1, $2, $3::text[], $4, $5, $6::jsonb, to_timestamp($7::float8) AT TIME ZONE 'UTC',
                        to_timestamp($8::float8) AT TIME ZONE 'UTC')
                ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, tools = EXCLUDED.tools,
                    model = EXCLUDED.model, source = EXCLUDED.source, metadata = EXCLUDED.metadata,
                    last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)
                RETURNING \(Self.agentColumns), (xmax = 0)
                """, params)
        }
        return (Self.agents(rows)[0], rows.bool(0, Self.agentColumnCount) ?? false)
    }

    /// Registers an agent that must not exist yet; throws `alreadyExists` otherwise.
    public func insertAgent(_ agent: AgentDefinition) async throws -> AgentDefinition {
        try Self.checkName(agent.name)
        let params = Self.agentParams(agent)
        let rows = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.agent_registry (name, description, tools, model, source, metadata, registered_at, last_seen)
                VALUES ($1, $2, $3::text[], $4, $5, $6::jsonb, to_timestamp($7::float8) AT TIME ZONE 'UTC',
                        to_timestamp($8::float8) AT TIME ZONE 'UTC')
                RETURNING \(Self.agentColumns)
                """, params)
        }
        return Self.agents(rows)[0]
    }

    /// Records agents first seen in executions (source `discovered`) and moves `last_seen` forward;
    /// agents registered otherwise keep their definition.
    public func noteAgentsSeen(_ seen: [String: Date]) async throws {
        if seen.isEmpty { return }
        let names = seen.keys.sorted()
        for n in names { try Self.checkName(n) }
        let times = names.map { PGText.epoch(seen[$0]!) }
        _ = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.agent_registry AS a (name, source, last_seen)
                SELECT n, 'discovered', to_timestamp(t) AT TIME ZONE 'UTC' FROM unnest($1::text[], $2::float8[]) AS u(n, t)
                ORDER BY n
                ON CONFLICT (name) DO UPDATE SET last_seen = GREATEST(a.last_seen, EXCLUDED.last_seen)
                """, [.text(PGText.array(names)), .text(PGText.array(times))])
        }
    }

    /// Marks an agent alive now; throws `notFound` for an unknown name.
    public func heartbeat(agentName: String, at date: Date = Date(), status: String? = nil) async throws -> AgentDefinition {
        let rows = try await pool.withConnection { c in
            try c.query("""
                UPDATE agents.agent_registry SET last_seen = GREATEST(last_seen, to_timestamp($2::float8) AT TIME ZONE 'UTC'),
                    reported_status = $3, reported_at = to_timestamp($2::float8) AT TIME ZONE 'UTC'
                WHERE name = $1 RETURNING \(Self.agentColumns)
                """, [.text(agentName), .text(PGText.epoch(date)), .optional(status)])
        }
        guard let agent = Self.agents(rows).first else { throw StoreError.notFound("agent \(agentName)") }
        return agent
    }

    /// One registered agent, or nil.
    public func agent(named name: String) async throws -> AgentDefinition? {
        let rows = try await pool.withConnection { c in
            try c.query("SELECT \(Self.agentColumns) FROM agents.agent_registry WHERE name = $1", [.text(name)])
        }
        return Self.agents(rows).first
    }

    /// Every registered agent, by name.
    public func listAgents() async throws -> [AgentDefinition] {
        let rows = try await pool.withConnection { c in
            try c.query("SELECT \(Self.agentColumns) FROM agents.agent_registry ORDER BY name")
        }
        return Self.agents(rows)
    }

    private static func checkName(_ name: String) throws {
        if name.isEmpty { throw StoreError.invalidInput("agent name is required") }
        if name.count > 255 { throw StoreError.invalidInput("agent name is longer than 255 characters") }
    }

    // MARK: - Performance metrics

    /// Stores a SubmitMetrics sample as a `performance_metrics` row (source `submitted`); returns its id.
    public func submitMetrics(agentName: String, taskType: String?, sample: MetricsSample, at date: Date = Date()) async throws -> Int64 {
        try Self.checkName(agentName)
        for v in [sample.responseTime, sample.throughput, sample.cpu, sample.memoryMB, sample.successRate,
                  sample.coordinationEffectiveness] {
            if let v, !v.isFinite { throw StoreError.invalidInput("metrics must be finite numbers") }
        }
        if let s = sample.successRate, !(0...1).contains(s) { throw StoreError.invalidInput("success_rate must be within 0..1") }
        var resources = sample.resources
        if let cpu = sample.cpu { resources["cpu"] = cpu }
        if let m = sample.memoryMB { resources["memory_mb"] = m }
        let json: String? = resources.isEmpty ? nil : "{" + resources.keys.sorted().map { k in
            var s = ""; PGText.jsonString(k, into: &s); return s + ":" + PGText.jsonNumber(resources[k]!)
        }.joined(separator: ",") + "}"
        let params: [PGParam] = [.text(agentName), .optional(taskType.flatMap { $0.isEmpty ? nil : $0 }),
                                 .optional(sample.responseTime), .optional(sample.successRate), .optional(sample.cpu),
                                 .optional(sample.memoryMB), .optional(sample.coordinationEffectiveness),
                                 .optional(sample.throughput), .optional(json), .text(PGText.epoch(date))]
        let rows = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.performance_metrics (agent_name, task_type, avg_execution_time, success_rate, resource_cpu,
                    resource_memory, coordination_score, throughput, resource_usage, source, last_updated)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, 'submitted', to_timestamp($10::float8) AT TIME ZONE 'UTC')
                RETURNING id
                """, params)
        }
        return rows.int64(0, 0) ?? 0
    }

    static let metricsColumns = """
        id, agent_name, task_type, avg_execution_time, success_rate, resource_cpu, resource_memory, coordination_score,
        throughput, executions, source, extract(epoch from last_updated)::float8
        """

    static func snapshots(_ rows: PGRows) -> [PerformanceSnapshot] {
        (0..<rows.count).map { r in
            PerformanceSnapshot(id: rows.int64(r, 0) ?? 0, agentName: rows[r, 1] ?? "", taskType: rows[r, 2],
                                avgExecutionTime: rows.double(r, 3), successRate: rows.double(r, 4),
                                resourceCPU: rows.double(r, 5), resourceMemory: rows.double(r, 6),
                                coordinationScore: rows.double(r, 7), throughput: rows.double(r, 8),
                                executions: rows.int64(r, 9), source: rows[r, 10],
                                lastUpdated: PGText.date(rows[r, 11]) ?? Date(timeIntervalSince1970: 0))
        }
    }

    /// The newest `performance_metrics` row per (agent, task type), for one agent or all.
    public func latestPerformance(agentName: String? = nil) async throws -> [PerformanceSnapshot] {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT DISTINCT ON (agent_name, task_type) \(Self.metricsColumns) FROM agents.performance_metrics
                WHERE $1::text IS NULL OR agent_name = $1
                ORDER BY agent_name, task_type, last_updated DESC NULLS LAST, id DESC
                """, [.optional(agentName)])
        }
        return Self.snapshots(rows)
    }

    // MARK: - Models

    /// Saves a model version; returns its id.
    /// Saves a model and, in the same transaction, deletes that model's versions beyond the
    /// `keepVersions` saved last (by id): a model saved every hour would otherwise pile up
    /// model_data without end.
    public func saveModel(_ model: StoredModel, keepVersions: Int = 10) async throws -> Int64 {
        if model.name.isEmpty { throw StoreError.invalidInput("model name is required") }
        let params: [PGParam] = [.text(model.name), .text(model.type), .text(model.version), .optional(model.accuracy),
                                 .text(PGText.epoch(model.trainedOn)), .bytes(model.data), .optional(model.hyperparametersJSON)]
        return try await pool.transaction { c -> Int64 in
            let rows = try c.query("""
                INSERT INTO agents.ml_models (model_name, model_type, version, accuracy, trained_on, model_data, hyperparameters)
                VALUES ($1, $2, $3, $4, to_timestamp($5::float8) AT TIME ZONE 'UTC', $6, $7::jsonb) RETURNING id
                """, params)
            _ = try c.query("""
                DELETE FROM agents.ml_models WHERE model_name = $1 AND id NOT IN (
                    SELECT id FROM agents.ml_models WHERE model_name = $1
                    ORDER BY id DESC LIMIT $2)
                """, [.text(model.name), .int(max(1, keepVersions))])
            return rows.int64(0, 0) ?? 0
        }
    }

    /// The version of a model saved last (by id, not trained_on: see ModelRepository), or nil.
    public func latestModel(named name: String) async throws -> StoredModel? {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT id, model_name, model_type, version, accuracy, extract(epoch from trained_on)::float8, model_data,
                       hyperparameters::text
                FROM agents.ml_models WHERE model_name = $1 ORDER BY id DESC LIMIT 1
                """, [.text(name)])
        }
        guard rows.count == 1 else { return nil }
        return StoredModel(id: rows.int64(0, 0), name: rows[0, 1] ?? "", type: rows[0, 2] ?? "", version: rows[0, 3] ?? "",
                           accuracy: rows.double(0, 4), trainedOn: PGText.date(rows[0, 5]) ?? Date(timeIntervalSince1970: 0),
                           data: PGText.bytea(rows[0, 6] ?? ""), hyperparametersJSON: rows[0, 7])
    }

    // MARK: - Insights

    /// Saves an insight or anomaly; returns its id.
    public func saveInsight(_ i: StoredInsight) async throws -> Int64 {
        let params: [PGParam] = [.text(i.kind), .text(i.severity), .text(i.title), .text(i.detail), .text(PGText.array(i.agents)),
                                 .optional(i.taskType), .optional(i.score), .optional(i.observed), .optional(i.expected),
                                 .optional(i.threshold), .optional(i.executionID.map { String($0) }), .text(PGText.epoch(i.createdAt)),
                                 i.executionIDs.isEmpty ? .null : .text(PGText.array(i.executionIDs))]
        let rows = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.insights (kind, severity, title, detail, agents, task_type, score, observed, expected,
                    threshold, execution_id, created_at, execution_ids)
                VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8, $9, $10, $11, to_timestamp($12::float8) AT TIME ZONE 'UTC',
                    $13::bigint[])
                RETURNING id
                """, params)
        }
        return rows.int64(0, 0) ?? 0
    }

    /// Adds executions to a stored insight (an anomaly that kept recurring): appended to
    /// `execution_ids`; `execution_id` becomes the last of them.
    public func appendInsightExecutionIDs(insightID: Int64, executionIDs: [Int64]) async throws {
        guard let last = executionIDs.last else { return }
        _ = try await pool.withConnection { c in
            try c.query("""
                UPDATE agents.insights SET execution_ids = coalesce(execution_ids, '{}') || $2::bigint[], execution_id = $3
                WHERE id = $1
                """, [.int(insightID), .text(PGText.array(executionIDs)), .int(last)])
        }
    }

    /// Writes a growing anomaly's latest totals (description, score, observed and expected
    /// values, severity) over its stored insight's.
    public func updateInsightTotals(insightID: Int64, detail: String, score: Double, observed: Double, expected: Double,
                                    severity: String) async throws {
        _ = try await pool.withConnection { c in
            try c.query("""
                UPDATE agents.insights SET detail = $2, score = $3, observed = $4, expected = $5, severity = $6 WHERE id = $1
                """, [.int(insightID), .text(detail), .double(score), .double(observed), .double(expected), .text(severity)])
        }
    }

    /// Insights, newest first, optionally of some kinds, for an agent, or since a date.
    public func insights(kinds: [String] = [], agentName: String? = nil, since: Date? = nil, limit: Int = 100) async throws -> [StoredInsight] {
        let params: [PGParam] = [kinds.isEmpty ? .null : .text(PGText.array(kinds)), .optional(agentName),
                                 .optional(since.map(PGText.epoch)), .int(max(1, limit))]
        let rows = try await readPool.withConnection { c in
            try c.query("""
                SELECT id, kind, severity, title, detail, agents, task_type, score, observed, expected, threshold, execution_id,
                       extract(epoch from created_at)::float8, execution_ids
                FROM agents.insights
                WHERE ($1::text[] IS NULL OR kind = ANY($1::text[])) AND ($2::text IS NULL OR $2 = ANY(agents))
                  AND ($3::float8 IS NULL OR created_at >= to_timestamp($3::float8) AT TIME ZONE 'UTC')
                ORDER BY created_at DESC, id DESC LIMIT $4
                """, params)
        }
        return (0..<rows.count).map { r in
            StoredInsight(id: rows.int64(r, 0), kind: rows[r, 1] ?? "", severity: rows[r, 2] ?? "info", title: rows[r, 3] ?? "",
                          detail: rows[r, 4] ?? "", agents: PGText.parseArray(rows[r, 5] ?? "{}").compactMap { $0 },
                          taskType: rows[r, 6], score: rows.double(r, 7), observed: rows.double(r, 8),
                          expected: rows.double(r, 9), threshold: rows.double(r, 10), executionID: rows.int64(r, 11),
                          executionIDs: PGText.parseArray(rows[r, 13] ?? "{}").compactMap { $0.flatMap { Int64($0) } },
                          createdAt: PGText.date(rows[r, 12]) ?? Date(timeIntervalSince1970: 0))
        }
    }
}

