// Persisted aggregates of agents.execution_log: one row per (agent, task type, UTC day) with the
// counts, sums and log-scale time histogram the service's figures come from, plus the change
// feed's position they cover. The service reads them back at start-up instead of the raw rows.
//
// Exactly once: `checkpointAggregates` adds the cells that the feed confirmed since the last
// checkpoint and moves the stored feed position in one transaction, so the stored cells always
// describe exactly the rows at or below that position (minus its gaps), plus `pending` ids the
// feed confirmed before the service had applied them. A crash between checkpoints loses nothing:
// the feed re-delivers everything above the stored position.
//
// The first start on a table the aggregates do not describe (a database filled elsewhere, one
// upgraded from an earlier schema, or a TRUNCATE while the service was down) builds them with
// PostgreSQL's own GROUP BY, one partition (a day) at a time, in one transaction, reporting
// progress; only the per-day sums travel to the service (and back).
import Foundation
public import LearningCore
import Synchronization
public import LearningRepository

extension LearningStore {
    // MARK: Reading

    /// The stored checkpoint of the aggregates.
    public func aggregateCheckpoint() async throws -> AggregateCheckpoint {
        try await pool.withConnection { c in try Self.checkpoint(on: c) }
    }

    /// Reads the checkpoint row of `agents.feed_state` on `c` (in its transaction's snapshot).
    static func checkpoint(on c: PGConnection) throws -> AggregateCheckpoint {
        let rows = try c.query("""
            SELECT truncate_generation, aggregated_generation, max_seen, gaps_lo::text, gaps_hi::text, pending::text
            FROM agents.feed_state WHERE id = 1
            """)
        guard rows.count == 1 else { return AggregateCheckpoint(tableGeneration: 0, pending: []) }
        var position: FeedPosition?
        if let maxSeen = rows.int64(0, 2) {
            let lo = PGText.parseArray(rows[0, 3] ?? "{}").compactMap { $0.flatMap { Int64($0) } }
            let hi = PGText.parseArray(rows[0, 4] ?? "{}").compactMap { $0.flatMap { Int64($0) } }
            position = FeedPosition(maxSeen: maxSeen, gaps: zip(lo, hi).filter { $0 <= $1 }.map { $0...$1 })
        }
        return AggregateCheckpoint(tableGeneration: rows.int64(0, 0) ?? 0, aggregatedGeneration: rows.int64(0, 1),
                                   position: position,
                                   pending: PGText.parseArray(rows[0, 5] ?? "{}").compactMap { $0.flatMap { Int64($0) } })
    }

    /// Calls `body` with every stored aggregate cell, read in keyset pages of `page` rows.
    public func loadAggregates(page: Int = 20_000, _ body: @escaping @Sendable ([AggregateCell]) -> Void) async throws {
        try await pool.withConnection { c in try Self.pageAggregates(on: c, page: page, body) }
    }

    /// Calls `body` with every stored aggregate cell read on `c`, in keyset pages of `page` rows.
    static func pageAggregates(on c: PGConnection, page: Int, _ body: ([AggregateCell]) -> Void) throws {
        var after: (agent: String, task: String, day: Int32)? = nil
        while true {
            let key = after
            let cells = Self.cells(try c.queryPrepared("aggregates_page", """
                SELECT \(Self.aggregateColumns) FROM agents.execution_aggregates
                WHERE $1::bool OR (agent_name, task_type, day) > ($2, $3, date '1970-01-01' + $4::int)
                ORDER BY agent_name, task_type, day LIMIT $5
                """, [.bool(key == nil), .text(key?.agent ?? ""), .text(key?.task ?? ""), .int(Int(key?.day ?? 0)), .int(page)]))
            body(cells)
            guard cells.count == page, let last = cells.last else { return }
            after = (last.agentName, last.taskType ?? "", last.day)
        }
    }

    /// Deletes the cells of days before `day` (retention) and returns them, so the caller can
    /// subtract them from its figures.
    public func expireAggregates(beforeDay day: Int32) async throws -> [AggregateCell] {
        let rows = try await pool.withConnection { c in
            try c.query("""
                DELETE FROM agents.execution_aggregates WHERE day < date '1970-01-01' + $1::int
                RETURNING \(Self.aggregateColumns)
                """, [.int(Int(day))])
        }
        return Self.cells(rows)
    }

    /// Calls `body` with the newest `limit` executions with ids at or below `maxID`, oldest
    /// first, in keyset pages of `page` rows (so at most a page of rows is decoded at a time).
    /// Returns how many were read.
    @discardableResult
    public func newestExecutions(limit: Int, atOrBelow maxID: Int64, page: Int = 50_000,
                                 _ body: @Sendable ([ExecutionRecord]) -> Void) async throws -> Int {
        guard limit > 0 else { return 0 }
        let first = try await readPool.withConnection { c in
            try c.query("""
                SELECT coalesce((SELECT e.id FROM agents.execution_log e WHERE e.id <= $1 ORDER BY e.id DESC OFFSET $2 LIMIT 1), 0)
                """, [.int(maxID), .int(limit - 1)])
        }
        var after = (first.int64(0, 0) ?? 0) - 1
        var read = 0
        while read < limit {
            let from = after
            let size = min(page, limit - read)
            let rows = try await readPool.withConnection { c in
                try c.queryPrepared("sample_page", """
                    SELECT \(ExecutionColumns.select) FROM agents.execution_log e
                    WHERE e.id > $1 AND e.id <= $2 ORDER BY e.id LIMIT $3
                    """, [.int(from), .int(maxID), .int(size)])
            }
            let records = ExecutionColumns.records(rows)
            guard let last = records.last?.id else { break }
            body(records)
            read += records.count
            after = last
            if records.count < size { break }
        }
        return read
    }

    /// The executions with these ids (those still in the table), ascending.
    public func executions(ids: [Int64]) async throws -> [ExecutionRecord] {
        guard !ids.isEmpty else { return [] }
        return try await pool.withConnection { c in try ExecutionColumns.records(ids: ids, on: c) }
    }

    /// The highest id the table's sequence has handed out (every later id is higher), and the
    /// xmax of a snapshot taken right after: the transactions that may still insert such ids
    /// are below it. Ids can be drawn and never used (a rolled-back or refused insert).
    public func lastDrawnExecutionID() async throws -> (id: Int64, xmax: UInt64) {
        let rows = try await pool.withConnection { c in
            try c.query("""
                SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END, pg_snapshot_xmax(pg_current_snapshot())::text
                FROM agents.execution_log_id_seq
                """)
        }
        return (rows.int64(0, 0) ?? 0, UInt64(rows[0, 1] ?? "0") ?? 0)
    }

    // MARK: Writing

    /// Adds `cells` to the stored aggregates and stores the feed position they bring them to, in
    /// one transaction; false (nothing written) when the table was truncated since `generation`,
    /// or, with `leaderEpoch` above 0, when another replica became the leader since that epoch.
    @discardableResult
    public func checkpointAggregates(_ cells: [AggregateCell], position: FeedPosition, pending: [Int64],
                                     generation: Int64, leaderEpoch: Int64 = 0) async throws -> Bool {
        let params = Self.cellParams(cells)
        return try await pool.transaction { c in
            let moved = try c.query("""
                UPDATE agents.feed_state SET max_seen = $1, gaps_lo = $2::int8[], gaps_hi = $3::int8[], pending = $4::int8[]
                WHERE id = 1 AND truncate_generation = $5 AND aggregated_generation = $5 AND ($6::int8 = 0 OR leader_epoch = $6::int8)
                """, [.int(position.maxSeen), .text(PGText.array(position.gaps.map(\.lowerBound))),
                      .text(PGText.array(position.gaps.map(\.upperBound))), .text(PGText.array(pending)), .int(generation),
                      .int(leaderEpoch)])
            guard moved.affected == 1 else { return false }
            if !cells.isEmpty { try c.queryPrepared("aggregates_add", Self.upsertSQL, params) }
            return true
        }
    }

    /// Builds the aggregates of the whole table for its current TRUNCATE generation, replacing
    /// whatever was stored: waits until every transaction that could still insert an id drawn so
    /// far has ended, then sums those rows with PostgreSQL's GROUP BY, one partition at a time,
    /// in one transaction (a crash leaves the previous state, and the next start builds again).
    /// Returns the feed position the aggregates cover. `progress` is called after each step.
    public func buildAggregates(grace: Double = 2, workers: Int = 2,
                                progress: @escaping @Sendable (AggregateBuildProgress) -> Void) async throws -> FeedPosition {
        let started = Date()
        // 1. Every id up to `bound` was drawn before now; once the transactions running now have
        //    ended (and the grace for a writer between nextval and its xid has passed), each such
        //    id is either in the table for good or never will be.
        let first = try await pool.withConnection { c in
            try c.query("""
                SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END, pg_snapshot_xmax(pg_current_snapshot())::text
                FROM agents.execution_log_id_seq
                """)
        }
        let bound = first.int64(0, 0) ?? 0
        let xmax = UInt64(first[0, 1] ?? "0") ?? 0
        // (No id drawn yet: nothing can be in flight below the bound.)
        if bound > 0 { try await Task.sleep(for: .seconds(grace)) }
        while true {
            let xmin = try await pool.withConnection { c in
                try c.query("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            }
            if (UInt64(xmin[0, 0] ?? "0") ?? 0) >= xmax { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // 2. One transaction: the chunks (partitions, or the table), summed by `workers` extra
        //    connections reading the transaction's snapshot (PostgreSQL 15 runs no parallel
        //    plan for array_agg), stored by this one, then the checkpoint.
        let url = pool.url
        return try await pool.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ") { c in
            try c.execute("SET LOCAL work_mem = '256MB'")
            let snapshot = try c.query("SELECT pg_export_snapshot()")[0, 0] ?? ""
            let generation = try c.query("SELECT truncate_generation FROM agents.feed_state WHERE id = 1 FOR UPDATE").int64(0, 0) ?? 0
            // TRUNCATE, not DELETE: inserting keys whose deleted versions are still in the
            // indexes made every unique check visit them (4 s for 125,000 cells).
            try c.execute("TRUNCATE agents.execution_aggregates")
            // The collaboration sums describe the table being replaced too; the service sums
            // its days again once the build is done.
            try c.execute("TRUNCATE agents.collaboration_aggregates, agents.collaboration_days")
            let chunks = try c.query("""
                SELECT format('%I.%I', n.nspname, k.relname), coalesce(k.reltuples, 0)::int8
                FROM pg_inherits i JOIN pg_class k ON k.oid = i.inhrelid JOIN pg_namespace n ON n.oid = k.relnamespace
                WHERE i.inhparent = 'agents.execution_log'::regclass ORDER BY 1
                """)
            var names: [String] = (0..<chunks.count).compactMap { chunks[$0, 0] }
            if names.isEmpty { names = ["agents.execution_log"] }
            // The total is for progress only: the planner's row estimate (counting 10 M rows
            // took 2-9 s), or an exact count when the table was never analyzed.
            var total = (0..<chunks.count).reduce(Int64(0)) { $0 + max(0, chunks.int64($1, 1) ?? 0) }
            if total == 0 {
                total = try c.query("SELECT count(*) FROM agents.execution_log WHERE id <= $1", [.int(bound)]).int64(0, 0) ?? 0
            }
            progress(AggregateBuildProgress(rowsDone: 0, rowsTotal: total, seconds: Date().timeIntervalSince(started)))
            var done: Int64 = 0
            // Names come from the catalogue, quoted by format('%I'); only ids drawn before
            // `bound` count: later rows arrive through the feed. One GROUP BY per (agent, task
            // type, day) with the rows' histogram buckets as a list, counted here (grouping by
            // bucket too in SQL ran at 120k rows/s).
            let sums = AggregateBuildWorkers(url: url, snapshot: snapshot, bound: bound, chunks: names,
                                             workers: max(1, min(workers, names.count)))
            defer { sums.stop() }
            while let cells = try sums.next() {
                if !cells.isEmpty { try c.queryPrepared("aggregates_add", Self.upsertSQL, Self.cellParams(cells)) }
                done += cells.reduce(0) { $0 + $1.executions }
                progress(AggregateBuildProgress(rowsDone: done, rowsTotal: max(total, done),
                                                seconds: Date().timeIntervalSince(started)))
            }
            try c.query("""
                UPDATE agents.feed_state SET aggregated_generation = $1, max_seen = $2, gaps_lo = '{}', gaps_hi = '{}', pending = '{}'
                WHERE id = 1
                """, [.int(generation), .int(bound)])
            return FeedPosition(maxSeen: bound)
        }
    }

    // MARK: SQL

    /// The histogram bucket of `execution_time` in SQL (NULL for unknown times), as `bucket(_:)`.
    static let bucketSQL = """
        CASE WHEN execution_time IS NULL OR execution_time < 0 OR execution_time >= 'Infinity'::float8
                  OR execution_time = 'NaN'::float8 THEN NULL
             WHEN execution_time <= 1e-9 THEN -2147483648
             ELSE floor(ln(execution_time) / ln(1.02))::int END
        """

    /// The sums of one relation's rows that meet `condition` (by default: ids up to $1) per
    /// (agent, task type, day), with the histogram buckets of their times as a list (counted by
    /// `builtCells`). The change feed sums bursts of outside rows with it too.
    ///
    /// Reading `resource_usage` is most of the cost: each `->` copies the whole value out of the
    /// row first, and a cast of a JSON number to float8 goes through its text. So each key is
    /// taken out once (`OFFSET 0` keeps the planner from folding the inner select into the outer
    /// one, which would take it out twice) and summed as numeric, converted once per cell:
    /// 4.7 s instead of 8.4 s of PostgreSQL's CPU over 2 M rows.
    static func buildSQL(from relation: String, where condition: String = "id <= $1") -> String {
        """
        SELECT agent_name, coalesce(task_type, ''), (timestamp::date - date '1970-01-01'), count(*),
               count(*) FILTER (WHERE success), count(b), coalesce(sum(execution_time) FILTER (WHERE b IS NOT NULL), 0),
               count(cpu), coalesce(sum(cpu), 0)::float8, count(mem), coalesce(sum(mem), 0)::float8,
               count(tok), coalesce(sum(tok), 0)::float8,
               extract(epoch from max(timestamp))::float8, coalesce(array_agg(b) FILTER (WHERE b IS NOT NULL), '{}')::text
        FROM (
            SELECT agent_name, task_type, timestamp, success, execution_time, b,
                   CASE WHEN jsonb_typeof(c) = 'number' THEN c::numeric
                        WHEN jsonb_typeof(resource_usage->'cpu_percent') = 'number'
                        THEN (resource_usage->'cpu_percent')::numeric END cpu,
                   CASE WHEN jsonb_typeof(m) = 'number' THEN m::numeric END mem,
                   CASE WHEN jsonb_typeof(t) = 'number' THEN t::numeric END tok
            FROM (
                SELECT agent_name, task_type, timestamp, success, execution_time, \(bucketSQL) b, resource_usage,
                       resource_usage->'cpu' c, resource_usage->'memory_mb' m, resource_usage->'tokens' t
                FROM \(relation) WHERE \(condition) AND timestamp IS NOT NULL OFFSET 0
            ) s
        ) r GROUP BY 1, 2, 3
        """
    }

    /// Cells from `buildSQL`'s rows (the last column a list of buckets).
    static func builtCells(_ rows: PGRows) -> [AggregateCell] {
        (0..<rows.count).map { r in
            var cell = cell(rows, r)
            for bucket in parseIntegers(rows[r, 14] ?? "{}") { cell.histogram[Int32(clamping: bucket), default: 0] += 1 }
            return cell
        }
    }

    /// The sums of row `r` of `aggregateColumns` or `buildSQL` (columns 0-13, the same in both).
    static func cell(_ rows: PGRows, _ r: Int) -> AggregateCell {
        let task = rows[r, 1] ?? ""
        var cell = AggregateCell(agentName: rows[r, 0] ?? "", taskType: task.isEmpty ? nil : task,
                                 day: Int32(rows.int64(r, 2) ?? 0))
        cell.executions = rows.int64(r, 3) ?? 0
        cell.successes = rows.int64(r, 4) ?? 0
        cell.timeCount = rows.int64(r, 5) ?? 0
        cell.timeSum = rows.double(r, 6) ?? 0
        cell.cpuCount = rows.int64(r, 7) ?? 0
        cell.cpuSum = rows.double(r, 8) ?? 0
        cell.memoryCount = rows.int64(r, 9) ?? 0
        cell.memorySum = rows.double(r, 10) ?? 0
        cell.tokensCount = rows.int64(r, 11) ?? 0
        cell.tokensSum = rows.double(r, 12) ?? 0
        cell.lastTimestamp = rows.double(r, 13) ?? -.infinity
        return cell
    }

    static let upsertSQL = """
        INSERT INTO agents.execution_aggregates AS a (agent_name, task_type, day, executions, successes, time_count,
            time_sum, cpu_count, cpu_sum, memory_count, memory_sum, tokens_count, tokens_sum, last_timestamp, histogram)
        SELECT agent_name, task_type, date '1970-01-01' + day, executions, successes, time_count, time_sum, cpu_count,
               cpu_sum, memory_count, memory_sum, tokens_count, tokens_sum,
               to_timestamp(last_timestamp) AT TIME ZONE 'UTC', histogram::int8[]
        FROM unnest($1::varchar[], $2::varchar[], $3::int[], $4::int8[], $5::int8[], $6::int8[], $7::float8[], $8::int8[],
                    $9::float8[], $10::int8[], $11::float8[], $12::int8[], $13::float8[], $14::float8[], $15::text[])
             AS t(agent_name, task_type, day, executions, successes, time_count, time_sum, cpu_count, cpu_sum,
                  memory_count, memory_sum, tokens_count, tokens_sum, last_timestamp, histogram)
        ON CONFLICT (agent_name, task_type, day) DO UPDATE SET
            executions = a.executions + excluded.executions, successes = a.successes + excluded.successes,
            time_count = a.time_count + excluded.time_count, time_sum = a.time_sum + excluded.time_sum,
            cpu_count = a.cpu_count + excluded.cpu_count, cpu_sum = a.cpu_sum + excluded.cpu_sum,
            memory_count = a.memory_count + excluded.memory_count, memory_sum = a.memory_sum + excluded.memory_sum,
            tokens_count = a.tokens_count + excluded.tokens_count, tokens_sum = a.tokens_sum + excluded.tokens_sum,
            last_timestamp = greatest(a.last_timestamp, excluded.last_timestamp),
            histogram = agents.histogram_merge(a.histogram, excluded.histogram)
        """

    static let aggregateColumns = """
        agent_name, task_type, (day - date '1970-01-01'), executions, successes, time_count, time_sum, cpu_count, cpu_sum,
        memory_count, memory_sum, tokens_count, tokens_sum, extract(epoch from last_timestamp)::float8, histogram::text
        """

    static func cells(_ rows: PGRows) -> [AggregateCell] {
        (0..<rows.count).map { r in
            var cell = cell(rows, r)
            cell.histogram = parseHistogram(rows[r, 14] ?? "{}")
            return cell
        }
    }

    /// Parses `{{bucket,count},...}` (or `{}`).
    static func parseHistogram(_ text: String) -> [Int32: Int64] {
        let numbers = parseIntegers(text)
        var histogram: [Int32: Int64] = [:]
        var i = 0
        while i + 1 < numbers.count {
            histogram[Int32(clamping: numbers[i]), default: 0] += numbers[i + 1]
            i += 2
        }
        return histogram
    }

    /// The integers of an integer array literal of any dimensions, in order.
    static func parseIntegers(_ text: String) -> [Int64] {
        var numbers: [Int64] = []
        var current: Int64 = 0, negative = false, inNumber = false
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "-"): negative = true; inNumber = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = current * 10 + Int64(b - UInt8(ascii: "0")); inNumber = true
            default:
                if inNumber { numbers.append(negative ? -current : current) }
                current = 0; negative = false; inNumber = false
            }
        }
        if inNumber { numbers.append(negative ? -current : current) }
        return numbers
    }

    static func histogramText(_ histogram: [Int32: Int64]) -> String {
        if histogram.isEmpty { return "{}" }
        return "{" + histogram.keys.sorted().map { "{\($0),\(histogram[$0]!)}" }.joined(separator: ",") + "}"
    }

    static func cellParams(_ cells: [AggregateCell]) -> [PGParam] {
        func ints(_ f: (AggregateCell) -> Int64) -> PGParam { .text(PGText.array(cells.map(f))) }
        func doubles(_ f: (AggregateCell) -> Double) -> PGParam {
            .text(PGText.array(cells.map { c -> String? in let v = f(c); return v.isFinite ? PGText.double(v) : nil }))
        }
        return [.text(PGText.array(cells.map { $0.agentName })), .text(PGText.array(cells.map { $0.taskType ?? "" })),
                ints { Int64($0.day) }, ints(\.executions), ints(\.successes), ints(\.timeCount), doubles(\.timeSum),
                ints(\.cpuCount), doubles(\.cpuSum), ints(\.memoryCount), doubles(\.memorySum), ints(\.tokensCount),
                doubles(\.tokensSum), doubles(\.lastTimestamp),
                .text(PGText.array(cells.map { histogramText($0.histogram) }))]
    }
}

/// Threads with connections of their own that sum the chunks of a build of the aggregates in the
/// snapshot the build's transaction exported, handing the cells back in the order they finish.
final class AggregateBuildWorkers: Sendable {
    private struct State {
        var next = 0
        var results: [Result<[AggregateCell], any Error>] = []
        var running: Int
        var stopped = false
    }

    private let state: Mutex<State>
    private let ready = DispatchSemaphore(value: 0)
    private let chunks: [String]

    init(url: String, snapshot: String, bound: Int64, chunks: [String], workers: Int) {
        self.chunks = chunks
        state = Mutex(State(running: workers))
        for index in 0..<workers {
            let thread = Thread { [self] in work(url: url, snapshot: snapshot, bound: bound) }
            thread.name = "aggregate-build-\(index)"
            thread.start()
        }
    }

    private func work(url: String, snapshot: String, bound: Int64) {
        do {
            let c = try PGConnection(url: url, applicationName: "learning-system-aggregate-build")
            try c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try c.query("SET TRANSACTION SNAPSHOT '\(snapshot.filter { $0.isHexDigit || $0 == "-" })'")
            try c.execute("SET LOCAL work_mem = '256MB'")
            // The planner takes every row of a day for a group of its own (it has no statistics
            // for the day of a timestamp, nor through the subquery), so past a million rows a
            // day it sorted them by agent name under the collation and compiled the plan with
            // JIT. A day holds a few thousand (agent, task type) groups: hashing them in memory,
            // without JIT, halved PostgreSQL's CPU (2 M rows in one relation: 10.9 -> 5.1 s).
            try c.execute("SET LOCAL jit = off")
            try c.execute("SET LOCAL enable_sort = off")
            try c.execute("SET LOCAL hash_mem_multiplier = 8")
            while let chunk = take() {
                let cells = LearningStore.builtCells(try c.query(LearningStore.buildSQL(from: chunk), [.int(bound)]))
                deliver(.success(cells))
            }
            try? c.execute("COMMIT")
        } catch {
            deliver(.failure(error))
        }
        state.withLock { $0.running -= 1 }
        ready.signal()
    }

    private func take() -> String? {
        state.withLock { s in
            guard !s.stopped, s.next < chunks.count else { return nil }
            s.next += 1
            return chunks[s.next - 1]
        }
    }

    private func deliver(_ result: Result<[AggregateCell], any Error>) {
        state.withLock { $0.results.append(result) }
        ready.signal()
    }

    /// The next chunk's cells (waiting for one), nil once every chunk was delivered; rethrows a
    /// worker's error.
    func next() throws -> [AggregateCell]? {
        while true {
            let (result, finished) = state.withLock { s -> (Result<[AggregateCell], any Error>?, Bool) in
                if !s.results.isEmpty { return (s.results.removeFirst(), false) }
                return (nil, s.running == 0)
            }
            if let result { return try result.get() }
            if finished { return nil }
            ready.wait()
        }
    }

    /// Stops handing out chunks (the workers end after their current one).
    func stop() {
        state.withLock { $0.stopped = true }
    }
}
