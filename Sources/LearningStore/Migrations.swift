// The schema, as ordered migrations applied at start-up. The guide's tables and columns are created
// exactly as its "Data Models" section writes them (CREATE ... IF NOT EXISTS, so a database set up
// by the guide's own SQL is adopted as is); everything the service adds is additive, except
// migration 4, which rebuilds execution_log as a table partitioned by day (same columns, data kept).
import Foundation
import LearningCore

/// What a migration may depend on besides the schema.
struct MigrationContext: Sendable {
    /// Whether pgvector is available, so a step can choose its column type.
    var vector: Bool
    /// `performance.metrics_retention_days`: how many days of executions get a partition.
    var retentionDays: Int
    /// The time the partitions are laid out for.
    var now: Date
}

/// One schema step, run inside the migration transaction: plain statements, or (for a step that
/// must look at the data) a function of the connection.
struct Migration: Sendable {
    let version: Int
    let name: String
    let run: @Sendable (PGConnection, MigrationContext) throws -> Void

    init(version: Int, name: String, statements: @escaping @Sendable (_ vector: Bool) -> [String]) {
        self.version = version
        self.name = name
        self.run = { c, context in
            for statement in statements(context.vector) { try c.execute(statement) }
        }
    }

    init(version: Int, name: String, run: @escaping @Sendable (PGConnection, MigrationContext) throws -> Void) {
        self.version = version
        self.name = name
        self.run = run
    }
}

/// The ordered migrations of the `agents` schema.
enum Migrations {
    /// Key of the transaction-scoped advisory lock that serializes migrating instances.
    static let advisoryLockKey: Int64 = 0x4C45_4152_4E01 // "LEARN" 1

    static let all: [Migration] = [
        Migration(version: 1, name: "guide schema") { vector in
            [
                "CREATE SCHEMA IF NOT EXISTS agents",
                // Data Models, 1. Agent Performance Schema (verbatim columns)
                """
                CREATE TABLE IF NOT EXISTS agents.performance_metrics (
                    id SERIAL PRIMARY KEY,
                    agent_name VARCHAR(255) NOT NULL,
                    task_type VARCHAR(255),
                    avg_execution_time FLOAT,
                    success_rate FLOAT,
                    resource_cpu FLOAT,
                    resource_memory FLOAT,
                    coordination_score FLOAT,
                    last_updated TIMESTAMP DEFAULT NOW()
                )
                """,
                """
                CREATE TABLE IF NOT EXISTS agents.execution_log (
                    id SERIAL PRIMARY KEY,
                    agent_name VARCHAR(255) NOT NULL,
                    task_id UUID,
                    task_type VARCHAR(255),
                    execution_time FLOAT,
                    success BOOLEAN,
                    error_message TEXT,
                    resource_usage JSONB,
                    timestamp TIMESTAMP DEFAULT NOW()
                )
                """,
                // Data Models, 2. Vector Embeddings Schema: VECTOR(256) with pgvector, real[] without.
                """
                CREATE TABLE IF NOT EXISTS agents.agent_embeddings (
                    id SERIAL PRIMARY KEY,
                    agent_name VARCHAR(255) NOT NULL,
                    task_type VARCHAR(255),
                    embedding \(vector ? "VECTOR(256)" : "REAL[]"),
                    created_at TIMESTAMP DEFAULT NOW()
                )
                """,
                // Data Models, 3. Learning Models Schema
                """
                CREATE TABLE IF NOT EXISTS agents.ml_models (
                    id SERIAL PRIMARY KEY,
                    model_name VARCHAR(255) NOT NULL,
                    model_type VARCHAR(100),
                    version VARCHAR(50),
                    accuracy FLOAT,
                    trained_on TIMESTAMP,
                    model_data BYTEA,
                    hyperparameters JSONB
                )
                """,
            ] + (vector ? [
                """
                DO $$ BEGIN
                  IF format_type((SELECT atttypid FROM pg_attribute WHERE attrelid = 'agents.agent_embeddings'::regclass
                                  AND attname = 'embedding'), NULL) LIKE 'vector%' THEN
                    EXECUTE 'CREATE INDEX IF NOT EXISTS agent_embeddings_idx ON agents.agent_embeddings '
                            'USING ivfflat (embedding vector_cosine_ops)';
                  END IF;
                END $$
                """,
            ] : [])
        },
        Migration(version: 2, name: "service additions") { _ in
            [
                // Idempotent retries: an optional event id, unique when present.
                "ALTER TABLE agents.execution_log ADD COLUMN IF NOT EXISTS event_id TEXT",
                """
                CREATE UNIQUE INDEX IF NOT EXISTS execution_log_event_id_key
                    ON agents.execution_log (event_id) WHERE event_id IS NOT NULL
                """,
                // Retention and windows scan by time. Rows arrive roughly in time order, so a BRIN
                // index serves them at next to no cost per ingested row; no further index on this
                // table (every index is paid for by every row; the learning layer reads the feed).
                "CREATE INDEX IF NOT EXISTS execution_log_timestamp_brin ON agents.execution_log USING brin (timestamp)",
                // Submitted metrics (SubmitMetrics) beside the roll-up snapshots.
                "ALTER TABLE agents.performance_metrics ADD COLUMN IF NOT EXISTS throughput FLOAT",
                "ALTER TABLE agents.performance_metrics ADD COLUMN IF NOT EXISTS resource_usage JSONB",
                "ALTER TABLE agents.performance_metrics ADD COLUMN IF NOT EXISTS executions BIGINT",
                "ALTER TABLE agents.performance_metrics ADD COLUMN IF NOT EXISTS source VARCHAR(32)",
                """
                CREATE INDEX IF NOT EXISTS performance_metrics_agent_idx
                    ON agents.performance_metrics (agent_name, last_updated)
                """,
                "CREATE INDEX IF NOT EXISTS performance_metrics_updated_idx ON agents.performance_metrics (last_updated)",
                "CREATE INDEX IF NOT EXISTS agent_embeddings_agent_idx ON agents.agent_embeddings (agent_name, task_type)",
                "CREATE INDEX IF NOT EXISTS ml_models_name_idx ON agents.ml_models (model_name, trained_on)",
                // The agent registry.
                """
                CREATE TABLE IF NOT EXISTS agents.agent_registry (
                    id SERIAL PRIMARY KEY,
                    name VARCHAR(255) NOT NULL UNIQUE,
                    description TEXT NOT NULL DEFAULT '',
                    tools TEXT[] NOT NULL DEFAULT '{}',
                    model VARCHAR(255) NOT NULL DEFAULT '',
                    source VARCHAR(64) NOT NULL DEFAULT 'api',
                    metadata JSONB NOT NULL DEFAULT '{}',
                    registered_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
                    last_seen TIMESTAMP
                )
                """,
                // Insights and anomalies found by the learning layer.
                """
                CREATE TABLE IF NOT EXISTS agents.insights (
                    id BIGSERIAL PRIMARY KEY,
                    kind VARCHAR(64) NOT NULL,
                    severity VARCHAR(16) NOT NULL DEFAULT 'info',
                    title TEXT NOT NULL,
                    detail TEXT NOT NULL DEFAULT '',
                    agents TEXT[] NOT NULL DEFAULT '{}',
                    task_type VARCHAR(255),
                    score FLOAT,
                    observed FLOAT,
                    expected FLOAT,
                    threshold FLOAT,
                    execution_id BIGINT,
                    created_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
                )
                """,
                "CREATE INDEX IF NOT EXISTS insights_created_idx ON agents.insights (created_at)",
                "CREATE INDEX IF NOT EXISTS insights_kind_idx ON agents.insights (kind, created_at)",
                // The change feed notices TRUNCATE (the guide's recovery procedure) through a generation.
                """
                CREATE TABLE IF NOT EXISTS agents.feed_state (
                    id INT PRIMARY KEY CHECK (id = 1),
                    truncate_generation BIGINT NOT NULL DEFAULT 0
                )
                """,
                "INSERT INTO agents.feed_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING",
                """
                CREATE OR REPLACE FUNCTION agents.execution_log_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  UPDATE agents.feed_state SET truncate_generation = truncate_generation + 1 WHERE id = 1;
                  RETURN NULL;
                END $$
                """,
                "DROP TRIGGER IF EXISTS execution_log_truncate_generation ON agents.execution_log",
                """
                CREATE TRIGGER execution_log_truncate_generation AFTER TRUNCATE ON agents.execution_log
                    FOR EACH STATEMENT EXECUTE FUNCTION agents.execution_log_truncated()
                """,
            ]
        },
        Migration(version: 3, name: "anomaly execution ids") { _ in
            [
                // Every execution an anomaly covers (a failure burst spans several runs);
                // execution_id keeps the last of them.
                "ALTER TABLE agents.insights ADD COLUMN IF NOT EXISTS execution_ids BIGINT[]",
            ]
        },
        Migration(version: 4, name: "partitioned execution_log", run: partitionExecutionLog),
        Migration(version: 5, name: "execution aggregates") { _ in
            [
                // Per (agent, task type, UTC day) sums of execution_log, kept by the service with
                // every row the change feed confirms (see Aggregates.swift). Keyed by agent first,
                // so the table can be distributed by agent_name.
                """
                CREATE TABLE IF NOT EXISTS agents.execution_aggregates (
                    agent_name VARCHAR(255) NOT NULL,
                    task_type VARCHAR(255) NOT NULL DEFAULT '',
                    day DATE NOT NULL,
                    executions BIGINT NOT NULL,
                    successes BIGINT NOT NULL,
                    time_count BIGINT NOT NULL,
                    time_sum FLOAT8 NOT NULL,
                    cpu_count BIGINT NOT NULL,
                    cpu_sum FLOAT8 NOT NULL,
                    memory_count BIGINT NOT NULL,
                    memory_sum FLOAT8 NOT NULL,
                    tokens_count BIGINT NOT NULL,
                    tokens_sum FLOAT8 NOT NULL,
                    last_timestamp TIMESTAMP,
                    histogram BIGINT[] NOT NULL DEFAULT '{}',
                    PRIMARY KEY (agent_name, task_type, day)
                )
                """,
                "CREATE INDEX IF NOT EXISTS execution_aggregates_day_idx ON agents.execution_aggregates (day)",
                // Histograms are {{bucket,count},...}; merging adds the counts of equal buckets.
                """
                CREATE OR REPLACE FUNCTION agents.histogram_merge(a BIGINT[], b BIGINT[]) RETURNS BIGINT[]
                LANGUAGE sql IMMUTABLE AS $$
                  SELECT coalesce(array_agg(ARRAY[k, c] ORDER BY k), '{}') FROM (
                    SELECT k, sum(c)::int8 c FROM (
                      SELECT a[i][1] k, a[i][2] c FROM generate_subscripts(a, 1) i
                      UNION ALL SELECT b[i][1], b[i][2] FROM generate_subscripts(b, 1) i) u
                    GROUP BY k HAVING sum(c) <> 0) s
                $$
                """,
                // The feed position the aggregates cover, and the TRUNCATE generation they describe.
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS aggregated_generation BIGINT",
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS max_seen BIGINT",
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS gaps_lo BIGINT[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS gaps_hi BIGINT[] NOT NULL DEFAULT '{}'",
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS pending BIGINT[] NOT NULL DEFAULT '{}'",
            ]
        },
        Migration(version: 6, name: "histogram merge reads each histogram once") { _ in
            [
                // Merging by subscript (`a[i][1]`) decompressed a stored histogram (compressed
                // past 2 kB) once per element: 1.5 ms a merge, and a checkpoint of a day's cells
                // during a burst of outside rows merged thousands. `unnest` reads it once (3x).
                """
                CREATE OR REPLACE FUNCTION agents.histogram_merge(a BIGINT[], b BIGINT[]) RETURNS BIGINT[]
                LANGUAGE sql IMMUTABLE AS $$
                  SELECT coalesce(array_agg(ARRAY[k, c] ORDER BY k), '{}') FROM (
                    SELECT k, sum(c)::int8 c FROM (
                      SELECT max(v) FILTER (WHERE n % 2 = 1) k, max(v) FILTER (WHERE n % 2 = 0) c
                      FROM (SELECT 0 s, v, n FROM unnest(a) WITH ORDINALITY u(v, n)
                            UNION ALL SELECT 1, v, n FROM unnest(b) WITH ORDINALITY u(v, n)) t
                      GROUP BY s, (n + 1) / 2) p
                    GROUP BY k HAVING sum(c) <> 0) s
                $$
                """,
            ]
        },
        Migration(version: 7, name: "collaboration aggregates") { _ in
            [
                // Per UTC day, the tasks several agents worked on (executions grouped by task id
                // within the day), kept by the service from its own GROUP BY over the day's rows
                // (see Collaboration.swift): the day's multi-agent tasks and how many succeeded
                // (their latest execution did) ...
                """
                CREATE TABLE IF NOT EXISTS agents.collaboration_days (
                    day DATE PRIMARY KEY,
                    multi_agent_tasks BIGINT NOT NULL,
                    succeeded_tasks BIGINT NOT NULL,
                    -- the day's rows when it was summed: the service sums a day again when its
                    -- figures count another number (rows arrived, by any path, at any time)
                    executions BIGINT NOT NULL,
                    computed_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
                )
                """,
                // ... and per agent (partner '') and per pair (agent_name < partner, bytewise):
                // multi-agent tasks joined, their executions and successes (for a pair: of the
                // two), and how many of the tasks succeeded. Keyed by agent first, for
                // distribution by agent_name.
                """
                CREATE TABLE IF NOT EXISTS agents.collaboration_aggregates (
                    agent_name VARCHAR(255) NOT NULL,
                    partner VARCHAR(255) NOT NULL DEFAULT '',
                    day DATE NOT NULL,
                    tasks BIGINT NOT NULL,
                    executions BIGINT NOT NULL,
                    successes BIGINT NOT NULL,
                    succeeded_tasks BIGINT NOT NULL,
                    PRIMARY KEY (agent_name, partner, day)
                )
                """,
                "CREATE INDEX IF NOT EXISTS collaboration_aggregates_day_idx ON agents.collaboration_aggregates (day)",
            ]
        },
        Migration(version: 8, name: "leader epoch") { _ in
            [
                // Bumped by each replica that becomes the leader (Replication.swift); a checkpoint
                // of the aggregates names the epoch it was loaded under, so a replica that lost
                // the leadership cannot add cells after another took over.
                "ALTER TABLE agents.feed_state ADD COLUMN IF NOT EXISTS leader_epoch BIGINT NOT NULL DEFAULT 0",
            ]
        },
        Migration(version: 9, name: "reported agent status") { _ in
            [
                // The status an agent reports in its heartbeat, and when: the health rule uses it
                // while that heartbeat is fresh, on every replica.
                "ALTER TABLE agents.agent_registry ADD COLUMN IF NOT EXISTS reported_status VARCHAR(16)",
                "ALTER TABLE agents.agent_registry ADD COLUMN IF NOT EXISTS reported_at TIMESTAMP",
            ]
        },
        Migration(version: 10, name: "task references") { _ in
            [
                // A task id that is not a UUID is stored as its name-based UUID in task_id; the id
                // as the client sent it is kept here (LearningCore's TaskIdentifier).
                "ALTER TABLE agents.execution_log ADD COLUMN IF NOT EXISTS task_ref TEXT",
            ]
        },
    ]

    /// Migration 4: execution_log becomes a table partitioned by UTC day (10-100 M rows over a
    /// 90-day window: retention drops a day's table instead of deleting its rows), data and ids
    /// kept. A partitioned table cannot have a unique index without the partition key, so event
    /// ids move to `agents.execution_event_ids`, which the writer fills in the same statement or
    /// transaction as the rows. The old table's BRIN index on timestamp goes with it: partition
    /// pruning finds a time range's days, and retention no longer scans by time.
    @Sendable static func partitionExecutionLog(_ c: PGConnection, _ context: MigrationContext) throws {
        try c.execute("""
            CREATE TABLE IF NOT EXISTS agents.execution_event_ids (
                event_id TEXT PRIMARY KEY,
                execution_id BIGINT NOT NULL,
                timestamp TIMESTAMP NOT NULL
            )
            """)
        // Retention deletes by time; ids arrive roughly in time order, so BRIN is enough.
        try c.execute("""
            CREATE INDEX IF NOT EXISTS execution_event_ids_timestamp_brin
                ON agents.execution_event_ids USING brin (timestamp)
            """)
        let kind = try c.query("SELECT relkind::text FROM pg_class WHERE oid = 'agents.execution_log'::regclass")[0, 0]
        if kind == "r" {
            // No writer may add rows to the old table while it is copied.
            try c.execute("LOCK TABLE agents.execution_log IN ACCESS EXCLUSIVE MODE")
            try c.execute("ALTER SEQUENCE agents.execution_log_id_seq OWNED BY NONE")
            try c.execute("ALTER SEQUENCE agents.execution_log_id_seq AS bigint")
            try c.execute("ALTER TABLE agents.execution_log RENAME TO execution_log_v1")
            // The new table's primary key takes the old one's name.
            try c.execute("ALTER INDEX IF EXISTS agents.execution_log_pkey RENAME TO execution_log_v1_pkey")
            // The guide's columns and event_id; ids stay those of the sequence the writer draws from.
            // A partition key cannot be NULL: timestamp is NOT NULL (the guide's INSERT sets NOW()).
            try c.execute("""
                CREATE TABLE agents.execution_log (
                    id BIGINT NOT NULL DEFAULT nextval('agents.execution_log_id_seq'),
                    agent_name VARCHAR(255) NOT NULL,
                    task_id UUID,
                    task_type VARCHAR(255),
                    execution_time FLOAT,
                    success BOOLEAN,
                    error_message TEXT,
                    resource_usage JSONB,
                    timestamp TIMESTAMP NOT NULL DEFAULT now(),
                    event_id TEXT,
                    PRIMARY KEY (id, timestamp)
                ) PARTITION BY RANGE (timestamp)
                """)
            try c.execute("CREATE TABLE agents.\(Partitions.defaultPartition) PARTITION OF agents.execution_log DEFAULT")
            // A partition per day from the oldest row's (at most back to the first day retention
            // keeps) to a week ahead, made while the default partition is empty; older rows go to
            // the default partition, which retention empties.
            let window = Partitions.window(now: context.now, retentionDays: context.retentionDays)
            let oldest = try c.query("SELECT floor(extract(epoch FROM min(timestamp)) / 86400)::bigint FROM agents.execution_log_v1")
                .int64(0, 0)
            let first = max(window.lowerBound, min(oldest ?? window.lowerBound, window.upperBound))
            for d in first...window.upperBound { _ = try Partitions.create(day: d, on: c) }
            // Every row with its id; a NULL timestamp becomes the epoch (kept, and expired by retention).
            try c.execute("""
                INSERT INTO agents.execution_log (id, agent_name, task_id, task_type, execution_time, success,
                    error_message, resource_usage, timestamp, event_id)
                SELECT id, agent_name, task_id, task_type, execution_time, success, error_message, resource_usage,
                       coalesce(timestamp, 'epoch'::timestamp), event_id
                FROM agents.execution_log_v1
                """)
            try c.execute("""
                INSERT INTO agents.execution_event_ids (event_id, execution_id, timestamp)
                SELECT event_id, id, coalesce(timestamp, 'epoch'::timestamp) FROM agents.execution_log_v1
                WHERE event_id IS NOT NULL
                ORDER BY id
                ON CONFLICT (event_id) DO NOTHING
                """)
            try c.execute("ALTER SEQUENCE agents.execution_log_id_seq OWNED BY agents.execution_log.id")
            try c.execute("""
                SELECT setval('agents.execution_log_id_seq', greatest(m, s.last_value))
                FROM (SELECT max(id) AS m FROM agents.execution_log_v1) v, agents.execution_log_id_seq s
                WHERE m IS NOT NULL
                """)
            try c.execute("DROP TABLE agents.execution_log_v1")
        }
        // TRUNCATE (the guide's recovery procedure) of the parent fires the statement trigger once;
        // it empties the event ids too. TRUNCATE is tried first (no dead rows); it fails when the
        // same statement truncates execution_event_ids as well, and then there is nothing to delete.
        try c.execute("""
            CREATE OR REPLACE FUNCTION agents.execution_log_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              UPDATE agents.feed_state SET truncate_generation = truncate_generation + 1 WHERE id = 1;
              BEGIN
                TRUNCATE agents.execution_event_ids;
              EXCEPTION WHEN object_in_use THEN
                DELETE FROM agents.execution_event_ids;
              END;
              RETURN NULL;
            END $$
            """)
        try c.execute("DROP TRIGGER IF EXISTS execution_log_truncate_generation ON agents.execution_log")
        try c.execute("""
            CREATE TRIGGER execution_log_truncate_generation AFTER TRUNCATE ON agents.execution_log
                FOR EACH STATEMENT EXECUTE FUNCTION agents.execution_log_truncated()
            """)
    }

    /// Applies every migration not yet recorded (up to `through`), in one transaction under an
    /// advisory lock, so two instances starting together apply each step once. Returns the versions
    /// applied now. `retentionDays` and `now` lay out the partitions of execution_log (migration 4).
    static func apply(on c: PGConnection, retentionDays: Int = LearningConfig.Performance().metricsRetentionDays,
                      now: Date = Date(), through: Int = .max) throws -> [Int] {
        try c.transaction {
            try c.query("SELECT pg_advisory_xact_lock($1)", [.int(advisoryLockKey)])
            try c.execute("CREATE SCHEMA IF NOT EXISTS agents")
            try c.execute("""
                CREATE TABLE IF NOT EXISTS agents.schema_migrations (
                    version INT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))
                """)
            let done = Set(try c.query("SELECT version FROM agents.schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            let pending = all.filter { !done.contains($0.version) && $0.version <= through }
            if pending.isEmpty { return [] }
            let context = MigrationContext(vector: try enableVector(on: c), retentionDays: retentionDays, now: now)
            for m in pending {
                try m.run(c, context)
                try c.query("INSERT INTO agents.schema_migrations (version, name) VALUES ($1, $2)",
                            [.int(m.version), .text(m.name)])
            }
            return pending.map(\.version)
        }
    }

    /// Creates the pgvector extension when the server has it; false otherwise.
    static func enableVector(on c: PGConnection) throws -> Bool {
        let available = try c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").count > 0
        guard available else { return false }
        try c.execute("SAVEPOINT vector_ext")
        do {
            try c.execute("CREATE EXTENSION IF NOT EXISTS vector")
            try c.execute("RELEASE SAVEPOINT vector_ext")
            return true
        } catch {
            try c.execute("ROLLBACK TO SAVEPOINT vector_ext")
            return false
        }
    }
}
