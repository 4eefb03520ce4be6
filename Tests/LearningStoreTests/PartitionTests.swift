import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

@Suite("Day partitions of execution_log", .serialized)
struct PartitionTests {
    static let day: Double = 86_400

    /// Every column of every row, ids first, as text.
    static func allRows(_ c: PGConnection) throws -> [[String?]] {
        try c.query("""
            SELECT id::text, agent_name, task_id::text, task_type, execution_time::text, success::text, error_message,
                   resource_usage::text, timestamp::text, event_id
            FROM agents.execution_log e ORDER BY e.id
            """).rows
    }

    static func partitionCount(_ c: PGConnection) throws -> Int64 {
        try c.query("SELECT count(*) FROM pg_inherits WHERE inhparent = 'agents.execution_log'::regclass").int64(0, 0) ?? -1
    }

    /// The partition holding a row.
    static func partition(of id: Int64, _ c: PGConnection) throws -> String? {
        try c.query("SELECT tableoid::regclass::text FROM agents.execution_log WHERE id = $1", [.int(id)])[0, 0]
    }

    @Test func upgradeFromThePlainTableKeepsEveryRowItsIDAndItsEventID() async throws {
        let url = try TestDatabase.create()
        defer { TestDatabase.drop(url) }
        let c = try PGConnection(url: url)
        #expect(try Migrations.apply(on: c, through: 3) == [1, 2, 3])
        #expect(try c.query("SELECT relkind::text FROM pg_class WHERE oid = 'agents.execution_log'::regclass")[0, 0] == "r")
        let now = Date()
        // (agent, event id, task type, days from now or nil for a NULL timestamp)
        let rows: [(String, String?, String?, Double?)] = [
            ("two-days-ago", "ev-1", "plan", -2), ("yesterday", nil, nil, -1), ("expired", "ev-2", nil, -100),
            ("today", "ev-3", "code", 0), ("no-time", "ev-4", nil, nil), ("soon", nil, "plan", 3), ("far", nil, nil, 30),
        ]
        for (i, r) in rows.enumerated() {
            if i == 3 { try c.query("SELECT setval('agents.execution_log_id_seq', 1000)") } // ids with a gap
            try c.query("""
                INSERT INTO agents.execution_log (agent_name, task_id, task_type, execution_time, success, error_message,
                    resource_usage, timestamp, event_id)
                VALUES ($1, $2::uuid, $3, $4, $5, $6, $7::jsonb, to_timestamp($8::float8) AT TIME ZONE 'UTC', $9)
                """, [.text(r.0), .text(UUID().uuidString), .optional(r.2), .double(Double(i) + 0.25), .bool(i % 2 == 0),
                      i == 1 ? .text("boom") : .null, .text("{\"cpu\": \(i)}"),
                      .optional(r.3.map { PGText.epoch(now.addingTimeInterval($0 * Self.day)) }), .optional(r.1)])
        }
        let before = try Self.allRows(c)
        let oldMax = try #require(before.last?[0].flatMap { Int64($0) })
        #expect(before.count == rows.count && oldMax == 1004)

        let store = try await LearningStore.open(config: TestDatabase.config(url)) // migrates to 4
        do {
            #expect(try c.query("SELECT max(version) FROM agents.schema_migrations").int64(0, 0) == Int64(Migrations.all.map(\.version).max()!))
            #expect(try c.query("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'agents.execution_log'::regclass")
                .int64(0, 0) == 1)
            #expect(try c.query("SELECT to_regclass('agents.execution_log_v1')")[0, 0] == nil)
            // Every row, same id, same values; the NULL timestamp became the epoch.
            var expected = before
            for i in expected.indices where expected[i][1] == "no-time" { expected[i][8] = "1970-01-01 00:00:00" }
            #expect(try Self.allRows(c) == expected)
            #expect(try c.query("""
                SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                WHERE attrelid = 'agents.execution_log'::regclass AND attname = 'id'
                """)[0, 0] == "bigint")
            #expect(try c.query("SELECT seqtypid::regtype::text FROM pg_sequence WHERE seqrelid = 'agents.execution_log_id_seq'::regclass")[0, 0]
                == "bigint")
            #expect(try c.query("SELECT pg_get_serial_sequence('agents.execution_log', 'id')")[0, 0] == "agents.execution_log_id_seq")
            // Rows of days with a partition are in it; the expired, undated and far-future ones in the default.
            for row in before {
                let id = Int64(row[0]!)!
                let inPartition = try Self.partition(of: id, c)
                switch row[1] {
                case "expired", "no-time", "far": #expect(inPartition == "agents.execution_log_default", "\(row[1]!)")
                default:
                    let d = String(try #require(row[8]).prefix(10)).replacingOccurrences(of: "-", with: "")
                    #expect(inPartition == "agents.execution_log_p\(d)", "\(row[1]!)")
                }
            }
            // The event ids came along: a retry answers the old row's id, new rows get ids above the old ones.
            #expect(try c.query("SELECT event_id, execution_id FROM agents.execution_event_ids ORDER BY event_id").rows
                == before.filter { $0[9] != nil }.sorted { $0[9]! < $1[9]! }.map { [$0[9], $0[0]] })
            let firstID = Int64(before[0][0]!)!
            #expect(try await store.logExecution(record("two-days-ago", event: "ev-1")) == IngestAck(id: firstID, duplicate: true))
            let expiredID = Int64(before.first { $0[1] == "expired" }![0]!)!
            let batch = try await store.logExecutions([record("x", event: "ev-2"), record("x", event: "ev-new"), record("x", event: "ev-new")])
            #expect(batch[0] == IngestAck(id: expiredID, duplicate: true))
            #expect(batch[1].id > oldMax && !batch[1].duplicate && batch[2] == IngestAck(id: batch[1].id, duplicate: true))
            #expect(try await store.execution(eventID: "ev-1")?.id == firstID)
            #expect(try await store.execution(eventID: "ev-1")?.agentName == "two-days-ago")
            #expect(try await store.execution(eventID: "ev-4")?.timestamp == Date(timeIntervalSince1970: 0))
            // The guide's INSERT with NOW().
            let guide = try c.query("""
                INSERT INTO agents.execution_log (agent_name, task_id, execution_time, success, timestamp)
                VALUES ($1, $2, $3, $4, NOW()) RETURNING id
                """, [.text("guide"), .text(UUID().uuidString), .double(1), .bool(true)])
            #expect((guide.int64(0, 0) ?? 0) > batch[1].id)
            // TRUNCATE still bumps the generation, and forgets the event ids.
            let generation = try c.query("SELECT truncate_generation FROM agents.feed_state").int64(0, 0) ?? -1
            try c.execute("TRUNCATE agents.execution_log")
            #expect(try c.query("SELECT truncate_generation FROM agents.feed_state").int64(0, 0) == generation + 1)
            #expect(try c.query("SELECT count(*) FROM agents.execution_event_ids").int64(0, 0) == 0)
            let again = try await store.logExecution(record("two-days-ago", event: "ev-1"))
            #expect(!again.duplicate && again.id > firstID)
            // The guide's recovery TRUNCATE names several tables; the event ids may be among them.
            try c.execute("TRUNCATE agents.performance_metrics, agents.execution_event_ids, agents.execution_log")
            #expect(try c.query("SELECT truncate_generation FROM agents.feed_state").int64(0, 0) == generation + 2)
            #expect(try c.query("SELECT count(*) FROM agents.execution_event_ids").int64(0, 0) == 0)
        } catch {
            await store.shutdown()
            throw error
        }
        await store.shutdown()
    }

    @Test func retentionDropsWholeDaysAndDeletesOldRowsOfTheDefaultPartition() async throws {
        try await TestDatabase.withStore { store, url in
            let c = try PGConnection(url: url)
            let today = Partitions.dayNumber(Date())
            func at(_ d: Int64) -> Date { Partitions.start(ofDay: d).addingTimeInterval(3_600) }
            // Three days in partitions, old and future rows in the default partition.
            var acks: [Int64: [IngestAck]] = [:]
            for d in [today - 5, today - 4, today - 3] {
                acks[d] = try await store.logExecutions((0..<10).map { i in record("d\(today - d)", event: "e\(d)-\(i)", at: at(d)) })
            }
            _ = try await store.logExecutions((0..<5).map { i in record("ancient", event: "old-\(i)", at: at(today - 400)) })
            _ = try await store.logExecutions((0..<3).map { _ in record("future", at: at(today + 30)) })
            #expect(try c.query("SELECT count(*) FROM agents.execution_log_default").int64(0, 0) == 8)
            let partitionsBefore = try Self.partitionCount(c)
            #expect(partitionsBefore == 90 + 7 + 1 + 1, "today - 90 ... today + 7, and the default partition")

            // A cutoff in the middle of day today-3: executions go by whole days, so today-3 stays.
            let report = try await store.applyRetention(olderThan: at(today - 3).addingTimeInterval(3_600), batch: 2)
            #expect(report.executionCutoff == Partitions.start(ofDay: today - 3))
            #expect(report.droppedPartitions.count == 87, "today - 90 ... today - 4")
            #expect(report.droppedPartitions.contains(try Partitions.tableName(today - 4)))
            #expect(report.droppedPartitions.contains(try Partitions.tableName(today - 5)))
            #expect(report.deleted["execution_log"] == 5 && report.deleted["execution_event_ids"] == 25)
            #expect(try Self.partitionCount(c) == partitionsBefore - 87)
            #expect(try c.query("SELECT to_regclass($1)", [.text("agents." + Partitions.tableName(today - 4))])[0, 0] == nil)
            let left = try c.query("SELECT agent_name, count(*) FROM agents.execution_log GROUP BY 1 ORDER BY 1").rows
            #expect(left == [["d3", "10"], ["future", "3"]])
            #expect(try c.query("SELECT count(*) FROM agents.execution_event_ids").int64(0, 0) == 10)
            // The kept day still answers retries with its ids.
            let kept = try #require(acks[today - 3])
            #expect(try await store.logExecution(record("d3", event: "e\(today - 3)-0", at: at(today - 3))) == IngestAck(id: kept[0].id, duplicate: true))
            // Nothing left to do a second time.
            let second = try await store.applyRetention(olderThan: at(today - 3), batch: 2)
            #expect(second.droppedPartitions.isEmpty && second.deleted["execution_log"] == 0)
        }
    }

    /// A long query on the table holds off the detach of a day: retention waits for it in short
    /// attempts (ingest is never queued behind a waiting DETACH for long), drops the day once
    /// it ends, and gives up with a clear error when it never does.
    @Test func retentionWaitsOutALongReaderWithoutStallingIngest() async throws {
        try await TestDatabase.withStore { store, url in
            let today = Partitions.dayNumber(Date())
            let cutoff = today - 80
            let reader = try PGConnection(url: url)
            try reader.execute("BEGIN")
            _ = try reader.query("SELECT count(*) FROM agents.execution_log")
            // Gives up: the reader stays.
            do {
                _ = try await store.dropExpiredPartitions(before: cutoff, detachAttempts: 2)
                Issue.record("the detach did not wait for the reader")
            } catch StoreError.database(let state, _) {
                #expect(state == "55P03")
            }
            /// The slowest of 15 writes, 100 ms apart.
            func slowestWrite(_ agent: String) async throws -> Double {
                var slowest = 0.0
                for i in 0..<15 {
                    let started = Date()
                    _ = try await store.logExecution(record("\(agent)-\(i)"))
                    slowest = max(slowest, Date().timeIntervalSince(started))
                    try await Task.sleep(for: .milliseconds(100))
                }
                return slowest
            }
            // The same writes with no detach waiting: how slow this machine is right now.
            let baseline = try await slowestWrite("before")
            // Waits it out: the reader ends after about 1.5 s; meanwhile writes go on.
            let retention = Task { try await store.dropExpiredPartitions(before: cutoff) }
            let slowest = try await slowestWrite("during")
            try reader.execute("COMMIT")
            let dropped = try await retention.value
            #expect(dropped.count == 10, "today - 90 ... today - 81: \(dropped)")
            // Each attempt holds the queue for at most `Partitions.detachLockWait` (200 ms); one
            // wait of 5 s, as before, held a write for the whole 5 s (the reader only ends after
            // the writes). The margin over this run's own slowest plain write is for a loaded
            // machine (CI once saw a 4.1 s write with three compilers running beside it).
            #expect(slowest < 3.0 + baseline, "a write waited \(slowest) s behind the detach (plain writes: \(baseline) s)")
        }
    }

    @Test func ensurePartitionsMovesWaitingRowsOfANewDayIntoItsPartition() async throws {
        try await TestDatabase.withStore { store, url in
            let c = try PGConnection(url: url)
            #expect(try await store.ensurePartitions() == 0, "open made them")
            let today = Partitions.dayNumber(Date())
            let day10 = Partitions.start(ofDay: today + 10)
            // Day today+10 has no partition yet: its rows wait in the default partition.
            let waiting = try await store.logExecutions((0..<4).map { i in
                record("ahead", event: i < 2 ? "ahead-\(i)" : nil, at: day10.addingTimeInterval(Double(i) * 3_600))
            })
            let later = try await store.logExecutions([record("later", at: Partitions.start(ofDay: today + 20))])
            for ack in waiting + later { #expect(try Self.partition(of: ack.id, c) == "agents.execution_log_default") }
            let before = try Self.allRows(c)

            // Ten days later the window reaches today+17: today+8 ... today+17 are created.
            #expect(try await store.ensurePartitions(now: Date().addingTimeInterval(10 * Self.day)) == 10)
            let name = "agents." + (try Partitions.tableName(today + 10))
            for ack in waiting { #expect(try Self.partition(of: ack.id, c) == name) }
            #expect(try Self.partition(of: later[0].id, c) == "agents.execution_log_default")
            #expect(try Self.allRows(c) == before, "same rows, same ids")
            #expect(try c.query("SELECT count(*) FROM agents.execution_log_default").int64(0, 0) == 1)
            #expect(try await store.logExecution(record("ahead", event: "ahead-1", at: day10)) == IngestAck(id: waiting[1].id, duplicate: true))
            #expect(try await store.ensurePartitions(now: Date().addingTimeInterval(10 * Self.day)) == 0)
            // New rows of that day go straight to it.
            let next = try await store.logExecution(record("ahead", at: day10.addingTimeInterval(60)))
            #expect(try Self.partition(of: next.id, c) == name)
        }
    }

    @Test func partitionNamesAndDaysRoundTripAndOtherNamesAreRejected() throws {
        #expect(try Partitions.tableName(0) == "execution_log_p19700101")
        #expect(try Partitions.dateLiteral(20_000) == "2024-10-04")
        for d: Int64 in [-1, 0, 59, 365 * 30 + 7, 20_000, 2_932_896] {
            #expect(Partitions.day(ofTable: try Partitions.tableName(d)) == d)
        }
        for bad in ["execution_log_p2024013", "execution_log_p20240230", "execution_log_p2024O101", "execution_log_default",
                    "execution_log_p20241301", "x_execution_log_p20240101", "execution_log_p20240101; DROP"] {
            #expect(Partitions.day(ofTable: bad) == nil, "\(bad)")
        }
        #expect(throws: StoreError.self) { try Partitions.tableName(3_000_000) } // year 10183
        #expect(Partitions.dayNumber(Date(timeIntervalSince1970: -1)) == -1)
        #expect(Partitions.window(now: Date(timeIntervalSince1970: 100 * 86_400 + 5), retentionDays: 90) == 10...107)
        // A retention of decades keeps the newest 400 days' partitions only.
        #expect(Partitions.window(now: Date(timeIntervalSince1970: 20_000 * 86_400), retentionDays: 36_500) == 19_608...20_007)
    }
}
