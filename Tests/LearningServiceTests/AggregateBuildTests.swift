import Foundation
import LearningCore
@testable import LearningStore
import Synchronization
import Testing
@testable import LearningService
import LearningServiceScenarios
import LearningRepository

/// The aggregates PostgreSQL builds over a table filled elsewhere must be the cells the service
/// sums from the same rows one by one (the change feed's path): the figures of a first start and
/// of a running service agree to the row and to the rounding of a sum.
@Suite("Aggregates built in SQL equal the service's own sums", .serialized)
struct AggregateBuildTests {
    @Test func builtCellsEqualTheFeedsSumsOfTheSameRows() async throws {
        let url = try TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        let store = try await LearningStore.open(config: config)
        defer { Task { await store.shutdown() } }
        try TestEnvironment.psql(url, Self.edgeCaseRows(20_000, from: "2026-11-20 00:00"))
        _ = try await store.buildAggregates(grace: 0) { _ in }
        let built = Mutex<[AggregateCell]>([])
        try await store.loadAggregates { cells in built.withLock { $0 += cells } }

        let rows = Mutex<[ExecutionRecord]>([])
        _ = try await store.newestExecutions(limit: 100_000, atOrBelow: .max) { page in rows.withLock { $0 += page } }
        var batch = WindowFigures.Batch()
        for record in rows.withLock({ $0 }) { batch.add(record) }
        #expect(rows.withLock { $0.count } == 20_000)

        Self.expectSameCells(built.withLock { $0 }, batch)
        // The case list above reached every rule (cpu from cpu_percent, absent non-numbers).
        #expect(batch.cells.values.reduce(0) { $0 + $1.cpuCount } > 0 && batch.cells.values.reduce(0) { $0 + $1.timeCount } < 20_000)
    }

    @Test func checkpointsMergeHistogramsAsTheServiceDoes() async throws {
        let url = try TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        let store = try await LearningStore.open(config: config)
        defer { Task { await store.shutdown() } }
        _ = try await store.buildAggregates(grace: 0) { _ in }  // an empty table: aggregates current
        let generation = try await store.aggregateCheckpoint().tableGeneration
        // Three checkpoints onto one cell: wide histograms (stored compressed past 2 kB), buckets
        // in common, new ones, and a negative correction that cancels a bucket out.
        func cell(_ buckets: [(Int32, Int64)]) -> AggregateCell {
            var c = AggregateCell(agentName: "a", taskType: "t", day: 20_000)
            c.executions = buckets.reduce(0) { $0 + $1.1 }
            for (b, n) in buckets { c.histogram[b, default: 0] += n }
            return c
        }
        let parts = [cell((0..<400).map { (Int32($0 * 2), Int64($0 % 7 + 1)) }),
                     cell((0..<300).map { (Int32($0 * 3), 2) } + [(Int32.min, 5)]),
                     cell([(Int32(6), -6), (Int32(9_999), 1)])]  // bucket 6: 4 + 2 before
        var expected = AggregateCell(agentName: "a", taskType: "t", day: 20_000)
        for (i, part) in parts.enumerated() {
            #expect(try await store.checkpointAggregates([part], position: FeedPosition(maxSeen: Int64(i)), pending: [],
                                                         generation: generation))
            expected.merge(part)
        }
        expected.histogram = expected.histogram.filter { $0.value != 0 }
        let loaded = Mutex<[AggregateCell]>([])
        try await store.loadAggregates { cells in loaded.withLock { $0 += cells } }
        let got = try #require(loaded.withLock { $0 }.first)
        #expect(got.executions == expected.executions)
        #expect(got.histogram == expected.histogram)
        #expect(got.histogram[6] == nil && got.histogram[Int32.min] == 5 && got.histogram[9_999] == 1)
    }

    /// `count` rows over every case the rules name: cpu or else cpu_percent, numbers only
    /// (strings, nulls, arrays, objects and a non-object document count as absent), times unknown,
    /// negative, zero, infinite or NaN left out of time sums and histograms, rows without a task
    /// type; one every 97 seconds from `start`.
    static func edgeCaseRows(_ count: Int, from start: String) -> String {
        """
        INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success, resource_usage, timestamp)
        SELECT 'agent-' || (g % 4),
               CASE WHEN g % 9 = 0 THEN NULL ELSE 'type-' || (g % 3) END,
               CASE g % 13 WHEN 0 THEN NULL WHEN 1 THEN -1 WHEN 2 THEN 0 WHEN 3 THEN 'Infinity'::float8
                           WHEN 4 THEN 'NaN'::float8 ELSE round((0.001 * g * (g % 17))::numeric, 3)::float8 END,
               g % 5 <> 0,
               CASE g % 11
                    WHEN 0 THEN NULL
                    WHEN 1 THEN '{"cpu_percent": 42.5, "memory_mb": "lots"}'::jsonb
                    WHEN 2 THEN jsonb_build_object('cpu', g % 100, 'cpu_percent', 7, 'tokens', g * 3)
                    WHEN 3 THEN '{"cpu": null, "memory_mb": [1, 2], "tokens": {"n": 1}}'::jsonb
                    WHEN 4 THEN '[1, 2, 3]'::jsonb
                    WHEN 5 THEN '"text"'::jsonb
                    WHEN 6 THEN jsonb_build_object('cpu', 'high', 'memory_mb', 1e3 + g, 'tokens', 1.5e-3 * g)
                    ELSE jsonb_build_object('cpu', round((g % 97) * 1.1, 1), 'memory_mb', 128 + g % 1900, 'tokens', 500 + g)
               END,
               TIMESTAMP '\(start)' + (g * interval '97 seconds')
        FROM generate_series(1, \(count)) g
        """
    }

    /// Expects `got` (cells summed by PostgreSQL, possibly several per key) to hold the sums of
    /// `batch` (the service's own, row by row) cell by cell, to the rounding of a sum.
    static func expectSameCells(_ got: [AggregateCell], _ batch: WindowFigures.Batch,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        struct Key: Hashable { var agent: String; var task: String?; var day: Int32 }
        let expected = Dictionary(uniqueKeysWithValues: batch.cells.values.map { (Key(agent: $0.agentName, task: $0.taskType, day: $0.day), $0) })
        var merged: [Key: AggregateCell] = [:]
        for cell in got {
            let key = Key(agent: cell.agentName, task: cell.taskType, day: cell.day)
            if merged[key] == nil { merged[key] = cell } else { merged[key]!.merge(cell) }
        }
        #expect(Set(merged.keys) == Set(expected.keys), sourceLocation: sourceLocation)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }
        var mismatches: [String] = []
        for (key, want) in expected {
            guard let cell = merged[key] else { continue }
            let same = cell.executions == want.executions && cell.successes == want.successes
                && cell.timeCount == want.timeCount && close(cell.timeSum, want.timeSum) && cell.histogram == want.histogram
                && cell.cpuCount == want.cpuCount && close(cell.cpuSum, want.cpuSum)
                && cell.memoryCount == want.memoryCount && close(cell.memorySum, want.memorySum)
                && cell.tokensCount == want.tokensCount && close(cell.tokensSum, want.tokensSum)
                && close(cell.lastTimestamp, want.lastTimestamp)
            if !same { mismatches.append("\(key): built \(cell) expected \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) cells differ, e.g. \(mismatches.first ?? "")", sourceLocation: sourceLocation)
    }

    /// Far behind on outside rows, the change feed sums them in PostgreSQL instead of reading
    /// them: every row is still delivered once (summed, read, or ours by id), a transaction
    /// holding a low id across the burst is still delivered when it commits, and the sums equal
    /// the service's own sums of the same rows.
    @Test func feedSummariesOfABurstEqualTheSumsOfItsRows() async throws {
        let url = try TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        let store = try await LearningStore.open(config: config)
        defer { Task { await store.shutdown() } }
        actor Delivered {
            var records: [ExecutionRecord] = []
            var summaries: [ExecutionSummary] = []
            var own: [Int64] = []
            var ids: [Int64] { records.compactMap(\.id) + summaries.flatMap(\.ids) + own }
            func take(_ event: FeedEvent) {
                switch event {
                case .executions(let rs): records += rs
                case .summary(let s): summaries.append(s)
                case .ownWrites(let ids): own += ids
                case .reset, .position: break
                }
            }
        }
        let delivered = Delivered()
        var settings = FeedSettings()
        settings.pollInterval = 0.05
        settings.gapGrace = 0.2
        settings.batchSize = 40
        settings.summaryThreshold = 300
        settings.summaryBatch = 500
        let feed = store.feed(settings)
        let running = Task { try await feed.run { await delivered.take($0) } }
        defer { running.cancel() }
        try await eventually("the feed to start") { store.writer.ownWrites.feedRunning }
        // A transaction holds a low id open across the burst.
        let slow = try PGConnection(url: url)
        try slow.execute("BEGIN")
        _ = try slow.query("""
            INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success, timestamp)
            VALUES ('slow', 'type-1', 2.5, true, NOW())
            """)
        // Our own writes while the burst is read.
        let writes = Task {
            var acks: [Int64] = []
            for i in 0..<12 {
                let batch = (0..<10).map { j in
                    ExecutionRecord(agentName: "own-\(j % 2)", taskType: "type-\(i % 3)", executionTime: Double(j) + 0.5,
                                    success: true, timestamp: Date())
                }
                acks += try await store.logExecutions(batch).map(\.id)
                try await Task.sleep(for: .milliseconds(20))
            }
            return acks
        }
        try TestEnvironment.psql(url, Self.edgeCaseRows(6_000, from: "2026-11-28 00:00"))
        let acks = try await writes.value
        try slow.execute("COMMIT")
        let total = try #require(try PGConnection(url: url).query("SELECT count(*) FROM agents.execution_log").int64(0, 0))
        #expect(total == 6_000 + 1 + 120)
        try await eventually("every row delivered") { await delivered.ids.count >= Int(total) }
        try await Task.sleep(for: .milliseconds(300))
        let ids = await delivered.ids
        #expect(ids.count == Int(total) && Set(ids).count == ids.count, "\(ids.count) delivered, \(Set(ids).count) distinct")
        let summaries = await delivered.summaries
        #expect(summaries.count >= 2, "the burst was summed in polls of at most 500 rows")
        #expect(summaries.allSatisfy { $0.ids.count <= 500 })
        let records = await delivered.records
        #expect(records.contains { $0.agentName == "slow" })
        // The last 300 ids drawn (some of them our own writes, which come by id) are read whole.
        #expect(records.count >= 150, "the burst's newest rows are read whole: \(records.count)")
        // Sums (summaries + rows read one by one) against the service's sums of every row not
        // reported as ours (nearly all our writes come by id; one committed just as a poll read
        // may come back as an outside row).
        let mine = Set(await delivered.own)
        #expect(mine.isSubset(of: Set(acks)) && mine.count * 10 >= acks.count * 9, "own rows by id: \(mine.count) of \(acks.count)")
        let rows = Mutex<[ExecutionRecord]>([])
        _ = try await store.newestExecutions(limit: 100_000, atOrBelow: .max) { page in rows.withLock { $0 += page } }
        var expected = WindowFigures.Batch()
        for record in rows.withLock({ $0 }) where !mine.contains(record.id ?? 0) { expected.add(record) }
        var read = WindowFigures.Batch()
        for record in records { read.add(record) }
        Self.expectSameCells(summaries.flatMap(\.cells) + Array(read.cells.values), expected)
    }
}
