import Foundation
import LearningTestDatabase
import Testing
@testable import LearningStore
import LearningCore
import LearningRepository

/// Collects what a feed delivers.
actor FeedLog {
    var ids: [Int64] = []
    var records: [ExecutionRecord] = []
    /// Rows our writer stored, reported by id.
    var ownIDs: [Int64] = []
    /// Outside rows delivered summed, not read.
    var summarised = 0
    var resets = 0
    func take(_ e: FeedEvent) {
        switch e {
        case .executions(let rs): records += rs; ids += rs.compactMap(\.id)
        case .ownWrites(let own): ids += own; ownIDs += own
        case .summary(let summary): ids += summary.ids; summarised += summary.ids.count
        case .reset: resets += 1; ids = []; records = []; ownIDs = []
        case .position: break
        }
    }
    var duplicates: Int { ids.count - Set(ids).count }
}

func startFeed(_ store: LearningStore, _ log: FeedLog) -> Task<Void, any Error> {
    var s = FeedSettings()
    s.pollInterval = 0.05
    s.gapGrace = 0.2
    let feed = store.feed(s)
    return Task { try await feed.run { await log.take($0) } }
}

@Suite("Change feed", .serialized)
struct FeedTests {
    @Test func outsideInsertWithPsqlIsDeliveredOnce() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            let mine = try await store.logExecution(record("ours"))
            // The guide's INSERT, by psql, a different program on its own connection.
            let psql = Process()
            psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            psql.arguments = [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", """
                INSERT INTO agents.execution_log (agent_name, task_id, execution_time, success, timestamp)
                VALUES ('outside-psql', gen_random_uuid(), 3.5, true, NOW())
                """]
            #expect(try await runToExit(psql) == 0)
            #expect(await eventually(5) { await log.records.contains { $0.agentName == "outside-psql" } })
            #expect(await log.ids.contains(mine.id))
            try await Task.sleep(for: .milliseconds(500))
            #expect(await log.ids.count == 2)
            #expect(await log.duplicates == 0)
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["LEARNING_TEST_PYTHON"] != nil, "needs LEARNING_TEST_PYTHON (asyncpg)"))
    func outsideInsertWithAsyncpgIsDeliveredOnce() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            let script = """
                import asyncio, asyncpg, sys, uuid
                async def main():
                    conn = await asyncpg.connect(sys.argv[1])
                    query = \"\"\"
                    INSERT INTO agents.execution_log (agent_name, task_id, execution_time, success, timestamp)
                    VALUES ($1, $2, $3, $4, NOW())
                    \"\"\"
                    for i in range(20):
                        await conn.execute(query, 'outside-asyncpg', uuid.uuid4(), 1.25, True)
                    await conn.close()
                asyncio.run(main())
                """
            let py = Process()
            py.executableURL = URL(fileURLWithPath: try #require(ProcessInfo.processInfo.environment["LEARNING_TEST_PYTHON"]))
            py.arguments = ["-c", script, url]
            #expect(try await runToExit(py) == 0)
            #expect(await eventually(5) { await log.records.filter { $0.agentName == "outside-asyncpg" }.count == 20 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(await log.ids.count == 20)
            #expect(await log.duplicates == 0)
        }
    }

    @Test func lowerIDCommittingAfterHigherIDIsStillDelivered() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            // Transaction A takes an id and stays open.
            let a = try PGConnection(url: url)
            try a.execute("BEGIN")
            let low = try #require(try a.query("""
                INSERT INTO agents.execution_log (agent_name, success, timestamp) VALUES ('slow', true, NOW()) RETURNING id
                """).int64(0, 0))
            // A rolled-back transaction leaves a gap that is never filled.
            let b = try PGConnection(url: url)
            try b.execute("BEGIN")
            try b.query("INSERT INTO agents.execution_log (agent_name, success) VALUES ('rolled-back', true)")
            try b.execute("ROLLBACK")
            // Later ids commit first.
            let high = try await store.logExecutions((0..<5).map { _ in record("fast") })
            #expect(high[0].id > low)
            #expect(await eventually(5) { await log.ids.count == 5 })
            try await Task.sleep(for: .milliseconds(600)) // well past the gap grace: A still holds the gap open
            #expect(await !log.ids.contains(low))
            try a.execute("COMMIT")
            #expect(await eventually(5) { await log.ids.contains(low) })
            // More rows after that: each delivered once, the rolled-back id never.
            _ = try await store.logExecutions((0..<5).map { _ in record("after") })
            #expect(await eventually(5) { await log.ids.count == 11 })
            try await Task.sleep(for: .milliseconds(500))
            #expect(await log.ids.count == 11)
            #expect(await log.duplicates == 0)
            #expect(await !log.records.contains { $0.agentName == "rolled-back" })
        }
    }

    /// The newest transaction holds a gap: A draws its id (nextval assigns no transaction id),
    /// then a later id commits, then A takes its transaction id, the newest of all, and stays
    /// open while nothing else commits. PostgreSQL's snapshots then end at A's id (xmax is the
    /// last completed id plus one), so A appears in none of their fields; the gap must still wait
    /// for A, and A's row must be delivered when it commits.
    @Test func aGapHeldByTheNewestTransactionWaitsForIt() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            let a = try PGConnection(url: url)
            try a.execute("BEGIN")
            let low = try #require(try a.query("SELECT nextval('agents.execution_log_id_seq'::regclass)").int64(0, 0))
            let high = try await store.logExecutions([record("fast")])
            #expect(high[0].id > low)
            #expect(await eventually(5) { await log.ids.contains(high[0].id) })
            try a.query("""
                INSERT INTO agents.execution_log (id, agent_name, success, timestamp) VALUES ($1, 'newest', true, NOW())
                """, [.int(low)])
            try await Task.sleep(for: .milliseconds(1_500)) // many polls past the gap grace, nothing else commits
            try a.execute("COMMIT")
            #expect(await eventually(5) { await log.ids.contains(low) }, "the row of the gap's transaction was never delivered")
            #expect(await log.duplicates == 0)
        }
    }

    @Test func manyConcurrentWritersNeverLoseOrRepeatARow() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            // Outside writers with randomly delayed commits, interleaved with the group-commit writer.
            let outside = (0..<4).map { w in
                Thread {
                    guard let c = try? PGConnection(url: url) else { return }
                    for i in 0..<25 {
                        _ = try? c.execute("BEGIN")
                        _ = try? c.query("INSERT INTO agents.execution_log (agent_name, success, event_id) VALUES ($1, true, $2)",
                                         [.text("outside-\(w)"), .text("o-\(w)-\(i)")])
                        usleep(UInt32.random(in: 0...20_000))
                        _ = try? c.execute(i % 5 == 0 ? "ROLLBACK" : "COMMIT")
                    }
                }
            }
            outside.forEach { $0.start() }
            // Small batches take the INSERT path, large ones the COPY path.
            var ours = 0
            for i in 0..<20 {
                let n = i % 4 == 0 ? 300 : 10
                _ = try await store.logExecutions((0..<n).map { _ in record("ours") })
                ours += n
            }
            let expected = ours + 4 * 20
            let c = try PGConnection(url: url)
            #expect(await eventually(20) { (try? c.query("SELECT count(*) FROM agents.execution_log").int64(0, 0)) == Int64(expected) })
            #expect(await eventually(10) { await log.ids.count == expected })
            try await Task.sleep(for: .milliseconds(500))
            #expect(await log.ids.count == expected)
            #expect(await log.duplicates == 0)
        }
    }

    @Test func ownRowsAreReportedByIDAndOutsideRowsInFull() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            // Ids are kept only while a feed runs (a service starts its feed before it serves).
            #expect(await eventually(5) { store.writer.ownWrites.feedRunning })
            var ours: [Int64] = []
            for n in [3, 300] { // the INSERT path and the COPY path
                let acks = try await store.logExecutions((0..<n).map { i in record("own-\(i % 3)", event: i % 2 == 0 ? "own-\(n)-\(i)" : nil) })
                ours += acks.map(\.id)
            }
            let c = try PGConnection(url: url)
            _ = try c.query("INSERT INTO agents.execution_log (agent_name, success) VALUES ('outside', true)")
            #expect(await eventually(10) { await log.ids.count == ours.count + 1 })
            // A row committed just as a poll ran may be read back instead; nearly all come by id.
            let own = Set(await log.ownIDs)
            #expect(own.isSubset(of: Set(ours)))
            #expect(own.count * 10 >= ours.count * 9, "\(own.count) of \(ours.count) by id")
            #expect(await log.records.contains { $0.agentName == "outside" })
            #expect(Set(await log.ids) == Set(ours).union(await log.records.compactMap(\.id)))
            // Once reported and behind the cursor, nothing stays held.
            #expect(await eventually(5) { store.writer.ownWrites.count == 0 })
            #expect(await log.duplicates == 0)
        }
    }

    @Test func outsideBurstsReadWholeStillDeliverGapsAndOwnWritesOnce() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            var settings = FeedSettings()
            settings.pollInterval = 0.05
            settings.gapGrace = 0.2
            settings.batchSize = 40  // every poll of the burst comes back full: read ahead, rows whole
            let feed = store.feed(settings)
            let running = Task { try await feed.run { await log.take($0) } }
            defer { running.cancel() }
            #expect(await eventually(5) { store.writer.ownWrites.feedRunning })
            // A transaction holds a low id open across the burst.
            let slow = try PGConnection(url: url)
            try slow.execute("BEGIN")
            let low = try #require(try slow.query("""
                INSERT INTO agents.execution_log (agent_name, success, timestamp) VALUES ('slow', true, NOW()) RETURNING id
                """).int64(0, 0))
            let c = try PGConnection(url: url)
            try c.execute("""
                INSERT INTO agents.execution_log (agent_name, task_type, execution_time, success, resource_usage, timestamp)
                SELECT 'burst-' || (g % 3), 'load', g / 10.0, g % 7 <> 0, jsonb_build_object('cpu', g % 100, 'tokens', g), NOW()
                FROM generate_series(1, 500) g
                """)
            #expect(await eventually(10) { await log.records.filter { $0.agentName.hasPrefix("burst-") }.count == 500 })
            // Every row whole and right: its time, success and resources as inserted.
            for r in await log.records where r.agentName.hasPrefix("burst-") {
                let g = Int((r.executionTime ?? 0) * 10 + 0.5)
                #expect(r.agentName == "burst-\(g % 3)" && r.success == (g % 7 != 0) && r.taskType == "load")
                #expect(r.resourceUsage.cpu == Double(g % 100) && r.resourceUsage.tokens == Double(g))
            }
            try slow.execute("COMMIT")
            #expect(await eventually(5) { await log.ids.contains(low) })
            // After the burst our own writes still come by id, each once.
            let acks = try await store.logExecutions((0..<120).map { i in record("own-\(i % 2)") })
            #expect(await eventually(10) { Set(await log.ids).isSuperset(of: acks.map(\.id)) })
            try await Task.sleep(for: .milliseconds(300))
            #expect(await log.ids.count == 500 + 1 + 120)
            #expect(await log.duplicates == 0)
            let byID = await log.ownIDs.count
            #expect(byID >= 100, "own rows by id: \(byID) of 120")
        }
    }

    @Test func truncateWhileRunningSignalsResetAndReplays() async throws {
        try await TestDatabase.withStore { store, url in
            let log = FeedLog()
            let feed = startFeed(store, log)
            defer { feed.cancel() }
            _ = try await store.logExecutions((0..<10).map { _ in record() })
            #expect(await eventually(5) { await log.ids.count == 10 })
            // The guide's recovery procedure, by an operator.
            let psql = Process()
            psql.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            psql.arguments = [url, "-X", "-q", "-c",
                              "TRUNCATE agents.performance_metrics, agents.execution_log, agents.agent_embeddings;"]
            #expect(try await runToExit(psql) == 0)
            #expect(await eventually(5) { await log.resets == 1 })
            #expect(await log.ids.isEmpty)
            _ = try await store.logExecutions((0..<3).map { _ in record("post") })
            #expect(await eventually(5) { await log.ids.count == 3 })
            #expect(await log.records.allSatisfy { $0.agentName == "post" })
        }
    }

    @Test func feedReplaysExistingRowsInBatchesAndBulkLoaderStreamsRetainedRows() async throws {
        try await TestDatabase.withStore { store, _ in
            let old = Date().addingTimeInterval(-200 * 86_400)
            _ = try await store.logExecutions((0..<30).map { _ in record("old", at: old) })
            _ = try await store.logExecutions((0..<2_500).map { _ in record("new") })
            var s = FeedSettings()
            s.batchSize = 1_000
            s.pollInterval = 0.05
            let log = FeedLog()
            let feed = store.feed(s)
            let t = Task { try await feed.run { await log.take($0) } }
            defer { t.cancel() }
            #expect(await eventually(10) { await log.ids.count == 2_530 })
            var batches = 0, rows = 0
            for try await batch in store.loadExecutions(batchSize: 1_000) {
                batches += 1
                rows += batch.count
                #expect(batch.allSatisfy { $0.agentName == "new" })
            }
            #expect(rows == 2_500 && batches == 3)
        }
    }

    @Test func cursorClosesGapsOnlyAfterTheirTransactionsEnded() {
        var c = FeedCursor()
        #expect(c.apply(ids: [1, 2, 5], now: 0) == [1, 2, 5])
        #expect(c.gaps.map { [$0.lo, $0.hi] } == [[3, 4]])
        #expect(c.cursor == 2)
        c.closeGaps(xmin: 100, xmax: 110, nextXid: 110, now: 1, grace: 0.5, complete: true, lastFetched: 5)
        #expect(c.gaps.first?.closesAtXmin == 110)
        c.closeGaps(xmin: 109, xmax: 120, nextXid: 120, now: 2, grace: 0.5, complete: true, lastFetched: 5)
        #expect(c.gaps.count == 1, "a transaction older than the snapshot may still run")
        #expect(c.apply(ids: [4], now: 2) == [4])
        #expect(c.apply(ids: [4, 5], now: 2) == [], "nothing twice")
        c.closeGaps(xmin: 110, xmax: 120, nextXid: 120, now: 3, grace: 0.5, complete: true, lastFetched: 5)
        #expect(c.gaps.isEmpty)
        #expect(c.cursor == 5)
    }

    /// A transaction that took its id after the last commit lies at or past the snapshot's xmax
    /// (the last completed id plus one): while it runs, xmin reaches that xmax without passing
    /// it. The gap waits for the next id instead, which the running transaction is below.
    @Test func aGapWaitsForTheNextTransactionIDNotTheSnapshotsXmax() {
        var c = FeedCursor()
        _ = c.apply(ids: [1, 3], now: 0)
        // Transaction 200 (holding id 2) runs; the last commit was 199: xmin = xmax = 200.
        c.closeGaps(xmin: 200, xmax: 200, nextXid: 201, now: 1, grace: 0.5, complete: true, lastFetched: 3)
        #expect(c.gaps.first?.closesAtXmin == 201)
        c.closeGaps(xmin: 200, xmax: 200, nextXid: 201, now: 2, grace: 0.5, complete: true, lastFetched: 3)
        c.closeGaps(xmin: 200, xmax: 205, nextXid: 205, now: 3, grace: 0.5, complete: true, lastFetched: 3)
        #expect(c.gaps.count == 1, "transaction 200 still runs")
        #expect(c.apply(ids: [2], now: 4) == [2])
        #expect(c.gaps.isEmpty)
        // The next id from age('3'::xid): plain, across the 32-bit wrap, and never below xmax.
        #expect(FeedCursor.nextXid(xmax: 200, ageOfThree: 198) == 201)
        let epoch: UInt64 = 1 << 32
        #expect(FeedCursor.nextXid(xmax: epoch - 2, ageOfThree: Int32(bitPattern: UInt32.max - 1)) == epoch + 1)
        #expect(FeedCursor.nextXid(xmax: epoch + 5, ageOfThree: 0) == epoch + 5)
    }
}

@Suite struct OwnWritesTests {
    @Test func keepsNothingWhileNoFeedRuns() {
        let own = OwnWrites()
        own.committed(Array(1...10))
        #expect(own.count == 0)
        own.feedStarted()
        own.committed(Array(11...20))
        #expect(own.count == 10)
        #expect(own.take([5, 11, 20, 21]) == [false, true, true, false])
        #expect(own.count == 8)
        #expect(own.take([11]) == [false])
        own.feedStopped()
        #expect(own.count == 0)
    }

    @Test func staysWithinCapacityDroppingOldestBatchesAndPrunesBehindTheCursor() {
        let own = OwnWrites(capacity: 100)
        own.feedStarted()
        for k in Int64(0)..<10 { own.committed(Array(k * 30 + 1...k * 30 + 30)) }
        #expect(own.count <= 100)
        #expect(own.take([1]) == [false])
        own.prune(through: 270)
        #expect(own.count == 30)
        #expect(own.take([300]) == [true])
        #expect(own.count == 29)
        own.prune(through: 300)
        #expect(own.count == 0)
        own.committed(Array(301...310))
        own.removeAll()
        #expect(own.count == 0)
        own.committed(Array(311...312))
        #expect(own.count == 2)
    }
}
