// The schema, as ordered migrations applied at start-up. The guide's tables and columns are created
// exactly as its "Data Models" section writes them (CREATE ... IF NOT EXISTS, so a database set up
// by the guide's own SQL is adopted as is); everything the service adds is additive.

/// One schema step. `sql` runs inside the migration transaction; `vector` says whether pgvector
/// is available so a step can choose its column type.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (_ vector: Bool) -> [String]
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
    ]

    /// Applies every migration not yet recorded, in one transaction under an advisory lock, so two
    /// instances starting together apply each step once. Returns the versions applied now.
    static func apply(on c: PGConnection) throws -> [Int] {
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
            let pending = all.filter { !done.contains($0.version) }
            if pending.isEmpty { return [] }
            let vector = try enableVector(on: c)
            for m in pending {
                for statement in m.statements(vector) { try c.execute(statement) }
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
