// Periodic jobs over the schema: performance roll-ups into agents.performance_metrics (read by the
// guide's direct-database integration) and retention in bounded batches.
public import Foundation
public import LearningCore
public import LearningRepository

extension LearningStore {
    /// Writes one `performance_metrics` snapshot row per (agent, task type) with executions in the
    /// last `window` seconds (source `rollup`); returns the rows written. coordination_score is the
    /// agent's success rate on tasks (by task_id) that other agents worked on too.
    @discardableResult
    public func rollUpPerformance(window: Double = 86_400, at date: Date = Date()) async throws -> Int {
        let rows = try await pool.withConnection { c in
            try c.query("""
                WITH recent AS (
                    SELECT agent_name, task_id, task_type, execution_time, success, resource_usage
                    FROM agents.execution_log
                    WHERE timestamp >= to_timestamp($2::float8 - $1::float8) AT TIME ZONE 'UTC'
                ), shared AS (
                    SELECT task_id FROM recent WHERE task_id IS NOT NULL
                    GROUP BY task_id HAVING count(DISTINCT agent_name) > 1
                )
                INSERT INTO agents.performance_metrics (agent_name, task_type, avg_execution_time, success_rate,
                    resource_cpu, resource_memory, coordination_score, executions, source, last_updated)
                SELECT r.agent_name, r.task_type, avg(r.execution_time),
                       avg(CASE WHEN r.success THEN 1.0 ELSE 0.0 END),
                       avg(CASE WHEN jsonb_typeof(r.resource_usage->'cpu') = 'number' THEN (r.resource_usage->>'cpu')::float8
                                WHEN jsonb_typeof(r.resource_usage->'cpu_percent') = 'number'
                                THEN (r.resource_usage->>'cpu_percent')::float8 END),
                       avg(CASE WHEN jsonb_typeof(r.resource_usage->'memory_mb') = 'number'
                                THEN (r.resource_usage->>'memory_mb')::float8 END),
                       avg(CASE WHEN r.success THEN 1.0 ELSE 0.0 END) FILTER (WHERE s.task_id IS NOT NULL),
                       count(*), 'rollup', to_timestamp($2::float8) AT TIME ZONE 'UTC'
                FROM recent r LEFT JOIN shared s ON s.task_id = r.task_id
                GROUP BY r.agent_name, r.task_type
                """, [.double(window), .text(PGText.epoch(date))])
        }
        return rows.affected
    }

    /// Writes roll-up rows computed by the caller (the service computes them from the executions
    /// it holds in memory, see `LearningService.rollUpFromMemory`), stamped `date`, in one statement.
    /// Returns the rows written.
    @discardableResult
    public func storeRollUp(_ rows: [PerformanceRollUp], at date: Date = Date()) async throws -> Int {
        if rows.isEmpty { return 0 }
        var agent = PGBinaryArray(.varchar, count: rows.count, bytesPerElement: 16)
        var type = PGBinaryArray(.varchar, count: rows.count, bytesPerElement: 16)
        var time = PGBinaryArray(.float8, count: rows.count, bytesPerElement: 8)
        var success = PGBinaryArray(.float8, count: rows.count, bytesPerElement: 8)
        var cpu = PGBinaryArray(.float8, count: rows.count, bytesPerElement: 8)
        var memory = PGBinaryArray(.float8, count: rows.count, bytesPerElement: 8)
        var coordination = PGBinaryArray(.float8, count: rows.count, bytesPerElement: 8)
        for row in rows {
            agent.append(text: row.agentName)
            type.append(text: row.taskType)
            time.append(float8: row.avgExecutionTime)
            success.append(float8: row.successRate)
            cpu.append(float8: row.resourceCPU)
            memory.append(float8: row.resourceMemory)
            coordination.append(float8: row.coordinationScore)
        }
        let params: [PGParam] = [agent, type, time, success, cpu, memory, coordination].map { .bytes($0.bytes) }
            + [.text(PGText.array(rows.map(\.executions))), .text(PGText.epoch(date))]
        let written = try await pool.withConnection { c in
            try c.query("""
                INSERT INTO agents.performance_metrics (agent_name, task_type, avg_execution_time, success_rate,
                    resource_cpu, resource_memory, coordination_score, executions, source, last_updated)
                SELECT agent_name, task_type, avg_execution_time, success_rate, resource_cpu, resource_memory,
                       coordination_score, executions, 'rollup', to_timestamp($9::float8) AT TIME ZONE 'UTC'
                FROM unnest($1::varchar[], $2::varchar[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                            $7::float8[], $8::bigint[])
                     AS t(agent_name, task_type, avg_execution_time, success_rate, resource_cpu, resource_memory,
                          coordination_score, executions)
                """, params)
        }
        return written.affected
    }

    /// Applies `performance.metrics_retention_days` (or `olderThan`). Executions go by whole UTC
    /// days: the cutoff is midnight UTC starting the day of `now - retention` (of `olderThan`); day
    /// partitions that end at or before it are detached and dropped (no DELETE, no dead rows), the
    /// default partition's older rows and the older event-id claims are deleted in batches.
    /// Metrics rows and insights older than the exact cutoff are deleted, `batch` rows per short
    /// transaction so no lock is held for long.
    @discardableResult
    public func applyRetention(olderThan cutoff: Date? = nil, now: Date = Date(), batch: Int = 5_000) async throws -> RetentionReport {
        let cutoff = cutoff ?? now.addingTimeInterval(-Double(performance.metricsRetentionDays) * 86_400)
        let cutoffDay = Partitions.dayNumber(cutoff)
        let executionCutoff = Partitions.start(ofDay: cutoffDay)
        let dropped = try await dropExpiredPartitions(before: cutoffDay)
        // The collaboration of the days dropped (a day's rows go whole, and so does its summary).
        try await pool.transaction { c in
            for table in ["collaboration_aggregates", "collaboration_days"] {
                try c.query("DELETE FROM agents.\(table) WHERE day < date '1970-01-01' + $1::int", [.int(Int(cutoffDay))])
            }
        }
        var deleted: [String: Int] = [:]
        // (table, time column, the rows' key for a batch, the cutoff)
        let passes = [("execution_log_default", "timestamp", "ctid", executionCutoff),
                      ("execution_event_ids", "timestamp", "ctid", executionCutoff),
                      ("performance_metrics", "last_updated", "id", cutoff), ("insights", "created_at", "id", cutoff)]
        for (table, column, key, before) in passes {
            var total = 0
            while !Task.isCancelled {
                let n = try await pool.withConnection { c in
                    try c.query("""
                        DELETE FROM agents.\(table) WHERE \(key) = ANY(ARRAY(
                            SELECT \(key) FROM agents.\(table) WHERE \(column) < to_timestamp($1::float8) AT TIME ZONE 'UTC' LIMIT $2))
                        """, [.text(PGText.epoch(before)), .int(batch)]).affected
                }
                total += n
                if n < batch { break }
            }
            deleted[table == "execution_log_default" ? "execution_log" : table] = total
        }
        return RetentionReport(deleted: deleted, droppedPartitions: dropped, executionCutoff: executionCutoff)
    }

    /// Drops the day partitions that end at or before `cutoffDay`, one at a time. A partition whose
    /// lock does not come at once (a long query on the table) is tried again, up to
    /// `detachAttempts` times over about half a minute, between short pauses that let the queries
    /// queued behind it run; past that, the error is thrown (retention runs again later).
    func dropExpiredPartitions(before cutoffDay: Int64, detachAttempts: Int = 40) async throws -> [String] {
        var dropped: [String] = []
        for d in try await pool.withConnection({ c in try Partitions.expiredDays(before: cutoffDay, on: c) }) {
            var attempt = 1
            while true {
                do {
                    if let name = try await pool.withConnection({ c in try Partitions.drop(day: d, on: c) }) {
                        dropped.append(name)
                    }
                    break
                } catch StoreError.database(let state, _) where state == "55P03" && attempt < detachAttempts {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(Int.random(in: 300...900)))
                }
            }
        }
        return dropped
    }

    /// Runs the roll-up every `performance.performance_tracking_interval` seconds, and partitions
    /// ahead and retention every `retentionEvery` seconds, until cancelled. Database outages are waited out.
    public func runMaintenance(retentionEvery: Double = 3_600) async {
        let interval = Double(max(1, performance.performanceTrackingInterval))
        var lastRetention = Date.distantPast
        while !Task.isCancelled {
            _ = try? await rollUpPerformance()
            if Date().timeIntervalSince(lastRetention) >= retentionEvery {
                _ = try? await ensurePartitions()
                if (try? await applyRetention()) != nil { lastRetention = Date() }
            }
            try? await Task.sleep(for: .seconds(interval))
        }
    }

    // MARK: - Embeddings

    /// Stores the embedding of an agent (and task type), replacing the previous one; returns its id.
    public func saveEmbedding(agentName: String, taskType: String? = nil, vector: [Float]) async throws -> Int64 {
        if agentName.isEmpty { throw StoreError.invalidInput("agent name is required") }
        if vector.isEmpty || vector.contains(where: { !$0.isFinite }) {
            throw StoreError.invalidInput("embedding must be a non-empty vector of finite numbers")
        }
        let literal = embeddingMode == .pgvector ? PGText.vector(vector) : PGText.floatArray(vector)
        let cast = embeddingMode == .pgvector ? "vector" : "real[]"
        let rows = try await pool.transaction { c in
            try c.query("DELETE FROM agents.agent_embeddings WHERE agent_name = $1 AND task_type IS NOT DISTINCT FROM $2",
                        [.text(agentName), .optional(taskType)])
            return try c.query("""
                INSERT INTO agents.agent_embeddings (agent_name, task_type, embedding, created_at)
                VALUES ($1, $2, $3::\(cast), now() AT TIME ZONE 'UTC') RETURNING id
                """, [.text(agentName), .optional(taskType), .text(literal)])
        }
        return rows.int64(0, 0) ?? 0
    }

    /// The stored embedding of an agent (and task type), or nil.
    public func embedding(agentName: String, taskType: String? = nil) async throws -> [Float]? {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT embedding::text FROM agents.agent_embeddings
                WHERE agent_name = $1 AND task_type IS NOT DISTINCT FROM $2 ORDER BY id DESC LIMIT 1
                """, [.text(agentName), .optional(taskType)])
        }
        return rows.count == 1 ? rows[0, 0].map(PGText.floats) : nil
    }

    /// The `k` stored embeddings most similar (cosine) to `vector`, best first, optionally leaving
    /// out one agent. pgvector ranks in PostgreSQL (all ivfflat lists probed: exact); without it
    /// the store ranks in Swift. Both give the same answer.
    public func similarEmbeddings(to vector: [Float], k: Int, excludingAgent: String? = nil) async throws -> [SimilarEmbedding] {
        if vector.isEmpty { throw StoreError.invalidInput("empty query vector") }
        let k = max(1, k)
        switch embeddingMode {
        case .pgvector:
            let rows = try await pool.transaction { c in
                try c.execute("SET LOCAL ivfflat.probes = 1000")
                return try c.query("""
                    SELECT agent_name, task_type, 1 - (embedding <=> $1::vector) FROM agents.agent_embeddings
                    WHERE ($2::text IS NULL OR agent_name <> $2) AND embedding IS NOT NULL
                    ORDER BY embedding <=> $1::vector, id LIMIT $3
                    """, [.text(PGText.vector(vector)), .optional(excludingAgent), .int(k)])
            }
            return (0..<rows.count).map {
                SimilarEmbedding(agentName: rows[$0, 0] ?? "", taskType: rows[$0, 1], similarity: rows.double($0, 2) ?? 0)
            }
        case .realArray:
            let rows = try await pool.withConnection { c in
                try c.query("""
                    SELECT agent_name, task_type, embedding::text, id FROM agents.agent_embeddings
                    WHERE ($1::text IS NULL OR agent_name <> $1) AND embedding IS NOT NULL
                    """, [.optional(excludingAgent)])
            }
            var scored: [(SimilarEmbedding, Int64)] = []
            for r in 0..<rows.count {
                let v = PGText.floats(rows[r, 2] ?? "{}")
                guard v.count == vector.count else { continue }
                scored.append((SimilarEmbedding(agentName: rows[r, 0] ?? "", taskType: rows[r, 1],
                                                similarity: Self.cosine(vector, v)), rows.int64(r, 3) ?? 0))
            }
            scored.sort { $0.0.similarity != $1.0.similarity ? $0.0.similarity > $1.0.similarity : $0.1 < $1.1 }
            return scored.prefix(k).map(\.0)
        }
    }

    /// Cosine similarity (0 when a vector is all zeros), computed in Double like pgvector.
    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for i in 0..<min(a.count, b.count) {
            let x = Double(a[i]), y = Double(b[i])
            dot += x * y; na += x * x; nb += y * y
        }
        guard na > 0, nb > 0 else { return 0 }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}
