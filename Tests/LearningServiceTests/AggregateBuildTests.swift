import Foundation
import LearningCore
import LearningStore
import Synchronization
import Testing
@testable import LearningService

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
        // Every case the rules name: cpu or else cpu_percent, numbers only (strings, nulls, arrays,
        // objects and a non-object document count as absent), times unknown, negative, zero,
        // infinite or NaN left out of time sums and histograms, rows without a task type.
        try TestEnvironment.psql(url, """
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
                   TIMESTAMP '2026-11-20 00:00' + (g * interval '97 seconds')
            FROM generate_series(1, 20000) g
            """)
        _ = try await store.buildAggregates(grace: 0) { _ in }
        let built = Mutex<[AggregateCell]>([])
        try await store.loadAggregates { cells in built.withLock { $0 += cells } }

        let rows = Mutex<[ExecutionRecord]>([])
        _ = try await store.newestExecutions(limit: 100_000, atOrBelow: .max) { page in rows.withLock { $0 += page } }
        var batch = WindowFigures.Batch()
        for record in rows.withLock({ $0 }) { batch.add(record) }
        #expect(rows.withLock { $0.count } == 20_000)

        struct Key: Hashable { var agent: String; var task: String?; var day: Int32 }
        let expected = Dictionary(uniqueKeysWithValues: batch.cells.values.map { (Key(agent: $0.agentName, task: $0.taskType, day: $0.day), $0) })
        let got = Dictionary(uniqueKeysWithValues: built.withLock { $0 }.map { (Key(agent: $0.agentName, task: $0.taskType, day: $0.day), $0) })
        #expect(Set(got.keys) == Set(expected.keys))
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }
        var mismatches: [String] = []
        for (key, want) in expected {
            guard let cell = got[key] else { continue }
            let same = cell.executions == want.executions && cell.successes == want.successes
                && cell.timeCount == want.timeCount && close(cell.timeSum, want.timeSum) && cell.histogram == want.histogram
                && cell.cpuCount == want.cpuCount && close(cell.cpuSum, want.cpuSum)
                && cell.memoryCount == want.memoryCount && close(cell.memorySum, want.memorySum)
                && cell.tokensCount == want.tokensCount && close(cell.tokensSum, want.tokensSum)
                && close(cell.lastTimestamp, want.lastTimestamp)
            if !same { mismatches.append("\(key): built \(cell) expected \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) cells differ, e.g. \(mismatches.first ?? "")")
        // The case list above reached every rule (cpu from cpu_percent, absent non-numbers).
        #expect(expected.values.reduce(0) { $0 + $1.cpuCount } > 0 && expected.values.reduce(0) { $0 + $1.timeCount } < 20_000)
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
}
