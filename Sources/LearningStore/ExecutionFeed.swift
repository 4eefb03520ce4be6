// The change feed of agents.execution_log: every row that reaches the table by any path (the
// writer, or an outside program inserting directly) is delivered once, within about a poll interval.
//
// Ids come from a sequence, so a transaction holding a low id can commit after one holding a higher
// id. The feed delivers every visible row above the highest id seen, and remembers the missing ids
// below it as gaps. A gap is either a transaction still in flight (its rows will appear and are then
// delivered) or ids that will never appear (rollback, ON CONFLICT skip, deleted). A gap is closed
// only once every transaction that could still hold it has ended: its ids were drawn before it was
// seen, so by the transactions running when it was seen (plus a grace period for the instant between
// nextval and xid assignment); `pg_snapshot_xmin` passing the next transaction id of a snapshot
// taken after that grace period proves they all finished. Not the snapshot's xmax: PostgreSQL sets
// it to the last completed id plus one, so a transaction that took its id after the last commit
// (the newest one, open while nothing else commits) lies at or past xmax, in no field of any
// snapshot; its gap would close under it and its row would never be delivered. The next id comes
// from `age()` of a fixed id (PostgreSQL computes it from the next transaction id, on a standby too). Each poll reads the snapshot and the rows in one
// REPEATABLE READ transaction, so both describe the same instant.
//
// TRUNCATE (the guide's recovery procedure) bumps a generation through a trigger; the feed sees it
// and emits `.reset`, then replays the table from the start.
import Foundation
import LearningCore
public import LearningRepository

/// Settings of the change feed.
public struct FeedSettings: Sendable, Equatable {
    /// Seconds between polls when idle.
    public var pollInterval = 0.25
    /// Most rows read per poll (a replay runs polls back to back).
    public var batchSize = 5_000
    /// Seconds a gap waits before its snapshot is taken: covers an outside writer whose INSERT drew
    /// an id just before its transaction got an xid (our writer takes the xid first).
    public var gapGrace = 2.0
    /// Rows behind (ids drawn past the highest seen) above which the outside rows of a poll are
    /// summed by PostgreSQL, per agent, task type and day (`FeedEvent.summary`), instead of read
    /// one by one: a COPY of a million rows reaches the figures at the speed of a GROUP BY. The
    /// last `summaryThreshold` rows of a burst are read whole, for learning.
    public var summaryThreshold: Int64 = 100_000
    /// Most rows summed per poll.
    public var summaryBatch = 100_000
    /// Seconds after which an unchanged position is reported again (`FeedEvent.position`).
    public var positionRepeat = 1.0

    /// Defaults.
    public init() {}
}

/// The gap bookkeeping of the feed: pure state, driven by polls, no I/O.
struct FeedCursor: Sendable {
    struct Gap: Sendable, Equatable {
        var lo: Int64
        var hi: Int64
        var seenAt: Double
        /// The next transaction id (at least xmax) of the first snapshot taken `gapGrace` after
        /// the gap was seen: every transaction that could hold the gap has a lower id.
        var closesAtXmin: UInt64?
    }

    /// Ids at or below are final.
    var maxSeen: Int64 = 0
    var gaps: [Gap] = []
    var generation: Int64?

    /// Lowest id not yet final, minus one.
    var cursor: Int64 { gaps.first.map { $0.lo - 1 } ?? maxSeen }

    /// Applies the rows (ascending ids) a poll fetched; returns the ids to deliver.
    mutating func apply(ids: [Int64], now: Double) -> [Int64] {
        var deliver: [Int64] = []
        for id in ids {
            if id > maxSeen {
                if id > maxSeen + 1 { gaps.append(Gap(lo: maxSeen + 1, hi: id - 1, seenAt: now)) }
                maxSeen = id
                deliver.append(id)
            } else if let g = gaps.firstIndex(where: { $0.lo <= id && id <= $0.hi }) {
                let gap = gaps[g]
                var replacement: [Gap] = []
                if gap.lo < id { var a = gap; a.hi = id - 1; replacement.append(a) }
                if id < gap.hi { var b = gap; b.lo = id + 1; replacement.append(b) }
                gaps.replaceSubrange(g...g, with: replacement)
                deliver.append(id)
            }
        }
        return deliver
    }

    /// Closes gaps no transaction can fill any more. `complete` is false when the fetch hit its
    /// limit: then only gaps below `lastFetched` are known to hold no unread rows.
    /// `nextXid` is the first transaction id not yet assigned when the snapshot was taken
    /// (`xmax` only bounds it from below: see the file comment).
    mutating func closeGaps(xmin: UInt64, xmax: UInt64, nextXid: UInt64, now: Double, grace: Double, complete: Bool,
                            lastFetched: Int64) {
        gaps.removeAll { g in
            guard let closes = g.closesAtXmin, xmin >= closes else { return false }
            return complete || g.hi < lastFetched
        }
        for i in gaps.indices where gaps[i].closesAtXmin == nil && now - gaps[i].seenAt >= grace {
            gaps[i].closesAtXmin = max(xmax, nextXid)
        }
    }

    /// The 64-bit next transaction id from the snapshot's xmax and `age('3'::xid)` (the next id
    /// minus 3, as a wrapping 32-bit difference): the next id is at or after xmax, less than 2^31
    /// ids ahead.
    static func nextXid(xmax: UInt64, ageOfThree: Int32) -> UInt64 {
        let next32 = UInt32(3) &+ UInt32(bitPattern: ageOfThree)
        let ahead = next32 &- UInt32(truncatingIfNeeded: xmax)
        return ahead < 1 << 31 ? xmax + UInt64(ahead) : xmax
    }
}

/// Follows agents.execution_log; see the file comment for how out-of-order commits are handled.
public final class ExecutionFeed: Sendable {
    private let pool: ConnectionPool
    private let settings: FeedSettings
    private let ownWrites: OwnWrites

    init(pool: ConnectionPool, settings: FeedSettings, ownWrites: OwnWrites = OwnWrites()) {
        self.pool = pool
        self.settings = settings
        self.ownWrites = ownWrites
    }

    /// Polls until the task is cancelled, calling `handler` with each event in order; the next poll
    /// waits for the handler. Replays the whole table first. Database outages are waited out
    /// (the gap bookkeeping survives them); other errors are thrown.
    /// `start` resumes from a stored position instead of replaying the table from id 0 (its gaps
    /// wait their grace again). With `stopAtReset` the run returns after delivering `.reset`.
    public func run(from start: FeedPosition? = nil, stopAtReset: Bool = false,
                    _ handler: @Sendable (FeedEvent) async throws -> Void) async throws {
        ownWrites.feedStarted()
        defer { ownWrites.feedStopped() }
        var state = FeedCursor()
        if let start {
            let now = Date().timeIntervalSince1970
            state.maxSeen = start.maxSeen
            state.gaps = start.gaps.map { FeedCursor.Gap(lo: $0.lowerBound, hi: $0.upperBound, seenAt: now) }
        }
        var reported: FeedPosition? = nil  // the first poll always reports where the feed stands
        var reportedAt = Date.distantPast
        // While the feed is behind (a poll came back full), the next poll is read while the
        // handler works on this one's rows: reading and decoding is about as costly as counting.
        var prefetched: Task<Poll, any Error>? = nil
        // Whether the last poll's rows were mostly outside rows (then the next reads them whole).
        var outsideRows = false
        defer { prefetched?.cancel() }
        while !Task.isCancelled {
            let poll: Poll
            do {
                if let next = prefetched {
                    prefetched = nil
                    poll = try await next.value
                } else {
                    poll = try await self.poll(state, whole: outsideRows)
                }
            } catch let error as StoreError where error.isRetryable {
                try? await Task.sleep(for: .seconds(max(settings.pollInterval, 0.5)))
                continue
            }
            if let previous = state.generation, previous != poll.generation {
                state = FeedCursor()
                state.generation = poll.generation
                ownWrites.removeAll()
                try await handler(.reset)
                if stopAtReset { return }
                reported = nil
                continue
            }
            state.generation = poll.generation
            let now = Date().timeIntervalSince1970
            let ids = poll.ids
            let deliver = Set(state.apply(ids: ids, now: now))
            state.closeGaps(xmin: poll.xmin, xmax: poll.xmax, nextXid: poll.nextXid, now: now, grace: settings.gapGrace,
                            complete: poll.complete, lastFetched: ids.last ?? 0)
            ownWrites.prune(through: state.cursor)
            let records = poll.records.filter { deliver.contains($0.id ?? 0) }
            let own = poll.own.filter { deliver.contains($0) }
            let behind = !poll.complete
            outsideRows = (poll.records.count + (poll.summary?.ids.count ?? 0)) * 2 > ids.count
            if behind {
                let cursor = state, whole = outsideRows
                prefetched = Task { try await self.poll(cursor, whole: whole) }
            }
            if !records.isEmpty { try await handler(.executions(records)) }
            // Every summed id lay above the highest seen, so each is new (`deliver` has it).
            if let summary = poll.summary, !summary.ids.isEmpty { try await handler(.summary(summary)) }
            if !own.isEmpty { try await handler(.ownWrites(own)) }
            var position = FeedPosition(maxSeen: state.maxSeen, gaps: state.gaps.map { $0.lo...$0.hi })
            position.snapshotXmin = poll.xmin
            position.readToEnd = poll.complete
            if position != reported || Date().timeIntervalSince(reportedAt) >= settings.positionRepeat {
                reported = position
                reportedAt = Date()
                try await handler(.position(position))
            }
            if !behind {
                try? await Task.sleep(for: .seconds(settings.pollInterval))
            }
        }
    }

    private struct Poll: Sendable {
        var xmin: UInt64
        var xmax: UInt64
        /// The first transaction id not assigned yet at the snapshot.
        var nextXid: UInt64
        var generation: Int64
        /// Every id read, ascending.
        var ids: [Int64]
        /// Rows read from the table (outside writers, or ours no longer held).
        var records: [ExecutionRecord]
        /// Ids of rows our writer stored and the feed held.
        var own: [Int64]
        /// Outside rows summed instead of read (a poll far behind).
        var summary: ExecutionSummary? = nil
        /// False when a read stopped at its limit (more rows are waiting).
        var complete: Bool
    }

    /// Reads what the feed has not delivered yet; `whole` reads the rows above the highest id
    /// seen with every column at once (see the first read below), or, far behind, sums them.
    private func poll(_ state: FeedCursor, whole: Bool = false) async throws -> Poll {
        let lo = PGText.array(state.gaps.map(\.lo))
        let hi = PGText.array(state.gaps.map(\.hi))
        let after = state.maxSeen
        let limit = settings.batchSize
        let settings = self.settings
        let ownWrites = self.ownWrites
        return try await pool.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { c in
            // Every read below goes by primary-key ranges. The planner's statistics lag behind a
            // table that grows by thousands of rows a second: it estimated the newest ids as a
            // third of the table and chose sequential scans (and parallel workers) that took
            // 20-30 ms a poll, a tenth of a core during ingest. For this transaction only, scans
            // go through the index (the settings end with it); a summing read hashes its groups
            // without JIT, as the build of the aggregates does.
            let snap = try c.query("""
                SELECT pg_snapshot_xmin(s)::text, pg_snapshot_xmax(s)::text,
                       (SELECT truncate_generation FROM agents.feed_state WHERE id = 1),
                       (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM agents.execution_log_id_seq),
                       set_config('enable_seqscan', 'off', true),
                       set_config('max_parallel_workers_per_gather', '0', true),
                       set_config('jit', 'off', true),
                       age('3'::xid)
                FROM pg_current_snapshot() s
                """)
            // Far behind on outside rows (a COPY, a bulk load while the service was down): the
            // rows above the highest id seen are summed, not read, up to `summaryBatch` of them.
            let drawn = snap.int64(0, 3) ?? 0
            let summing = whole && drawn - after > settings.summaryThreshold
            // The ids first; rows our writer committed come from memory, only the others (outside
            // writers, or rows no longer held) are read, from the same snapshot.
            // Two keyset reads, each an index range scan that stops at the limit: the ids that
            // filled gaps, and the ids above the highest seen. (One ORDER BY over their UNION ALL
            // made PostgreSQL sort every remaining id: 2.8 s a poll with 9.8 M rows left.)
            var gapIDs: [Int64] = []
            if !state.gaps.isEmpty {
                let filled = try c.queryPrepared("feed_ids_gaps", """
                    SELECT e.id FROM unnest($1::int8[], $2::int8[]) AS g(lo, hi)
                        JOIN agents.execution_log e ON e.id BETWEEN g.lo AND g.hi
                    ORDER BY e.id LIMIT $3
                    """, [.text(lo), .text(hi), .int(limit)])
                gapIDs = (0..<filled.count).compactMap { filled.int64($0, 0) }
            }
            // Gap ids are all below the newer ones. When the gaps alone fill the limit, the newer
            // rows wait for the next poll (the gaps below the last id read are then known whole).
            // Sums stop `summaryThreshold` short of the last id drawn: those rows are read whole.
            let newerLimit = gapIDs.count >= limit ? 0
                : summing ? Int(min(Int64(settings.summaryBatch), drawn - after - settings.summaryThreshold))
                : limit - gapIDs.count
            // When the last poll read mostly outside rows, the rows come whole in this read:
            // reading ids, then the same rows again by id range, cost PostgreSQL half again as
            // much per outside row.
            let readWhole = whole && !summing
            var newer: PGRows? = nil
            if newerLimit > 0 {
                newer = try readWhole
                    ? c.queryPrepared("feed_rows_after", """
                        SELECT \(ExecutionColumns.select) FROM agents.execution_log e WHERE e.id > $1 ORDER BY e.id LIMIT $2
                        """, [.int(after), .int(newerLimit)])
                    : c.queryPrepared("feed_ids_after", """
                        SELECT e.id FROM agents.execution_log e WHERE e.id > $1 ORDER BY e.id LIMIT $2
                        """, [.int(after), .int(newerLimit)])
            }
            let newerIDs = newer.map { rows in (0..<rows.count).compactMap { rows.int64($0, 0) } } ?? []
            let complete = gapIDs.count < limit && newerIDs.count < newerLimit
            let ids = gapIDs + newerIDs
            let held = ownWrites.take(ids)
            var own: [Int64] = []
            var missing: [Int64] = []
            for (id, isOwn) in zip(ids, held) {
                if isOwn { own.append(id) } else { missing.append(id) }
            }
            var records: [ExecutionRecord] = []
            var summary: ExecutionSummary? = nil
            if summing, let last = newerIDs.last {
                // The newer rows, less our own (already counted by their writer), summed in the
                // same snapshot as the ids: exactly the rows of `missing` above `after`.
                let ownNewer = own.filter { $0 > after }
                let cells = LearningStore.builtCells(try c.queryPrepared("feed_summary",
                    LearningStore.buildSQL(from: "agents.execution_log",
                                           where: "id > $1 AND id <= $2 AND NOT (id = ANY($3::int8[]))"),
                    [.int(after), .int(last), .text(PGText.array(ownNewer))]))
                summary = ExecutionSummary(cells: cells, ids: missing.filter { $0 > after })
                missing = missing.filter { $0 <= after }
            }
            if !missing.isEmpty {
                if readWhole, let newer {
                    // Rows above the highest seen came whole; only gap fills are read again.
                    var unread = Set(missing)
                    let rows = (0..<newer.count).filter { unread.remove(newer.int64($0, 0) ?? 0) != nil }
                    records = ExecutionColumns.records(newer, rows: rows)
                    if !unread.isEmpty {
                        records = (try ExecutionColumns.records(ids: Array(unread), on: c) + records)
                            .sorted { ($0.id ?? 0) < ($1.id ?? 0) }
                    }
                } else {
                    records = try ExecutionColumns.records(ids: missing, on: c)
                }
            }
            let xmax = UInt64(snap[0, 1] ?? "0") ?? 0
            return Poll(xmin: UInt64(snap[0, 0] ?? "0") ?? 0, xmax: xmax,
                        nextXid: FeedCursor.nextXid(xmax: xmax, ageOfThree: Int32(snap[0, 7] ?? "0") ?? 0),
                        generation: snap.int64(0, 2) ?? 0, ids: ids, records: records, own: own,
                        summary: summary, complete: complete)
        }
    }
}

/// The column list and decoding of execution_log rows, shared by every reader.
enum ExecutionColumns {
    static let select = """
        e.id, e.agent_name, e.task_id::text, e.task_type, e.execution_time, e.success, e.error_message,
        e.resource_usage::text, extract(epoch from e.timestamp)::float8, e.event_id
        """

    /// Widest id range read in one statement for `records(ids:on:)`; ids farther apart are read
    /// by separate ranges.
    static let idRangeSpan: Int64 = 20_000

    /// The rows with these ids (those still in the table), ascending. The table is partitioned by
    /// time, so `id = ANY(...)` would probe every day partition's index once per id (5,000 ids
    /// x 97 partitions: 0.6 s a poll, ~1,000 outside rows/s through the feed); instead each
    /// cluster of ids is read as one id range (one index range scan per partition, 7 ms for
    /// 5,000 rows); the rows not asked for are dropped here, undecoded.
    static func records(ids: [Int64], on c: PGConnection) throws -> [ExecutionRecord] {
        let wanted = Set(ids)
        var result: [ExecutionRecord] = []
        result.reserveCapacity(wanted.count)
        var pending = ids.sorted()[...]
        while let lo = pending.first {
            var hi = lo
            var end = pending.startIndex
            while end < pending.endIndex, pending[end] - lo <= idRangeSpan { hi = pending[end]; end += 1 }
            pending = pending[end...]
            let rows = try c.queryPrepared("execution_rows_range", """
                SELECT \(select) FROM agents.execution_log e WHERE e.id BETWEEN $1 AND $2 ORDER BY e.id
                """, [.int(lo), .int(hi)])
            result += records(rows, rows: (0..<rows.count).filter { wanted.contains(rows.int64($0, 0) ?? 0) })
        }
        return result
    }

    static func records(_ rows: PGRows) -> [ExecutionRecord] {
        records(rows, rows: Array(0..<rows.count))
    }

    /// The executions of rows `indices` (ascending) of a result in the `select` column order.
    static func records(_ rows: PGRows, rows indices: [Int]) -> [ExecutionRecord] {
        indices.map { r in
            ExecutionRecord(id: rows.int64(r, 0), agentName: rows[r, 1] ?? "", taskID: rows[r, 2], taskType: rows[r, 3],
                            executionTime: rows.double(r, 4), success: rows.bool(r, 5) ?? false,
                            errorMessage: rows[r, 6], resourceUsage: PGText.resourceUsage(fromJSON: rows[r, 7]),
                            timestamp: PGText.date(rows[r, 8]) ?? Date(timeIntervalSince1970: 0), eventID: rows[r, 9])
        }
    }
}
