import Foundation
import LearningCore
import LearningAPI
import LearningService
import LearningServiceScenarios
import LearningStore
import Testing

/// The figures of a table filled elsewhere, at a volume CI affords (LEARNING_TEST_VOLUME_ROWS,
/// default 300,000; bench/volume.sh measures 10-100 M): `starting` with progress until they cover
/// every row, then counts equal to SQL's, after a restart from the stored aggregates too.
@Suite("Figures at volume", .serialized)
struct VolumeTests {
    static let rows = ProcessInfo.processInfo.environment["LEARNING_TEST_VOLUME_ROWS"].flatMap(Int.init) ?? 300_000

    /// N rows with the guide's columns, as an outside writer inserts them: 40 agents, 12 task
    /// types (every 50th row none), times over the last 80 days, every 40th time unknown.
    static func load(_ url: String, rows: Int) throws {
        try TestEnvironment.psql(url, """
            INSERT INTO agents.execution_log (agent_name, task_id, task_type, execution_time, success, error_message,
                                              resource_usage, timestamp)
            SELECT 'agent-' || (g % 40), md5((g / 3)::text)::uuid, CASE WHEN g % 50 = 0 THEN NULL ELSE 'type-' || (g % 12) END,
                   CASE WHEN g % 40 = 7 THEN NULL ELSE exp((g % 97) / 30.0) END, g % 13 <> 0,
                   CASE WHEN g % 13 = 0 THEN 'boom' END,
                   jsonb_build_object('cpu', g % 100, 'memory_mb', 100 + g % 900),
                   (now() AT TIME ZONE 'UTC') - ((g::int8 * 7919) % (80 * 86400)) * interval '1 second'
            FROM generate_series(1, \(rows)) g
            """)
    }

    static func sql(_ url: String, _ query: String) throws -> [[String]] {
        let out = try TestEnvironment.run("/usr/bin/env", ["psql", url, "-XAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query])
        return out.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    /// Every figure the analytics answer with counts what SQL counts.
    /// `sampleHoldsAll`: the service holds every row in its recent sample, so a window is exact
    /// to the second; else it counts whole UTC days.
    static func expectCountsMatchSQL(_ service: LearningService, _ url: String, sampleHoldsAll: Bool) async throws {
        let total = Int64(try sql(url, "SELECT count(*) FROM agents.execution_log")[0][0])!
        #expect(service.health().totalExecutions == total)
        let analytics = try await service.performanceAnalytics(windowHours: 0)
        #expect(analytics.totalExecutions == total)
        var perAgent: [String: Int64] = [:]
        for row in try sql(url, "SELECT agent_name, count(*) FROM agents.execution_log GROUP BY 1") { perAgent[row[0]] = Int64(row[1]) }
        #expect(Dictionary(uniqueKeysWithValues: analytics.agents.map { ($0.agentName, $0.executions) }) == perAgent)
        var perTask: [String: Int64] = [:]
        // Rows without a task type are reported as TaskTypeName.unspecified.
        for row in try sql(url, "SELECT COALESCE(NULLIF(task_type, ''), '\(TaskTypeName.unspecified)'), count(*) FROM agents.execution_log GROUP BY 1") {
            perTask[row[0]] = Int64(row[1])
        }
        #expect(Dictionary(uniqueKeysWithValues: analytics.taskTypes.map { ($0.taskType, $0.executions) }) == perTask)
        let agent = try await service.agentPerformance(name: "agent-7")
        #expect(agent.executions == perAgent["agent-7"])
        // Successes and the median of one task type, against SQL's (the histogram's 2% buckets).
        let row = try sql(url, """
            SELECT count(*) FILTER (WHERE success), percentile_cont(0.5) WITHIN GROUP (ORDER BY execution_time)
            FROM agents.execution_log WHERE task_type = 'type-3'
            """)[0]
        let task = try #require(analytics.taskTypes.first { $0.taskType == "type-3" })
        #expect(abs(task.successRate * Double(task.executions) - Double(row[0])!) < 0.5)
        #expect(abs(task.medianExecutionTime / Double(row[1])! - 1) < 0.03)
        // A window the sample holds is exact; a longer one comes from the per-day figures.
        let start = sampleHoldsAll ? "(now() AT TIME ZONE 'UTC') - interval '240 hours'"
                                   : "date_trunc('day', (now() AT TIME ZONE 'UTC') - interval '240 hours')"
        let lastTen = Int64(try sql(url, "SELECT count(*) FROM agents.execution_log WHERE timestamp >= \(start)")[0][0])!
        #expect(try await service.performanceAnalytics(windowHours: 240).totalExecutions == lastTen)
        try await expectCoordinationMatchesSQL(service, url)
    }

    /// The coordination figures (a task counts on the day of its latest execution among that day
    /// and its neighbours, with its executions of that day and the day before; it succeeded when
    /// that latest execution did) equal SQL's: from the stored collaboration sums when the sample
    /// holds part of the table, from the sample when it holds it all.
    static func expectCoordinationMatchesSQL(_ service: LearningService, _ url: String) async throws {
        // The rule said independently: per task and day its latest row; a task-day counts when
        // no neighbouring day of the task has a later one; its rows of that day and the day
        // before count, and it needs two agents among them.
        let truth = try sql(url, """
            WITH d AS (
                SELECT task_id, timestamp::date AS day, agent_name, success, timestamp, id
                FROM agents.execution_log WHERE task_id IS NOT NULL),
            dl AS (
                SELECT DISTINCT ON (task_id, day) task_id, day, timestamp, success FROM d
                ORDER BY task_id, day, timestamp DESC, id DESC),
            counted AS (
                SELECT a.task_id, a.day, a.success FROM dl a
                WHERE NOT EXISTS (SELECT 1 FROM dl b WHERE b.task_id = a.task_id
                                  AND b.day IN (a.day - 1, a.day + 1) AND b.timestamp > a.timestamp)),
            t AS (
                SELECT c.task_id, c.day, c.success, bool_or(d.agent_name = 'agent-7') seven
                FROM counted c JOIN d ON d.task_id = c.task_id AND d.day IN (c.day - 1, c.day)
                GROUP BY 1, 2, 3 HAVING count(DISTINCT d.agent_name) >= 2)
            SELECT count(*), count(*) FILTER (WHERE success), count(*) FILTER (WHERE seven),
                   count(*) FILTER (WHERE seven AND success) FROM t
            """)[0].map { Int($0)! }
        #expect(truth[0] > 100, "the load has tasks several agents worked on within a day: \(truth[0])")
        var last: CoordinationPatterns? = nil
        do {
            try await eventually("coordination figures equal to SQL's", timeout: 60) {
                let figures = try await service.coordinationPatterns(limit: 5)
                last = figures
                return figures.multiAgentTasks == Int64(truth[0])
                    && abs(figures.coordinationScore - Double(truth[1]) / Double(truth[0])) < 1e-9
            }
        } catch {
            Issue.record("coordination: service \(String(describing: last)), SQL \(truth)")
            throw error
        }
        let seven = try await service.agentPerformance(name: "agent-7")
        #expect(abs(seven.coordinationScore - Double(truth[3]) / Double(truth[2])) < 1e-9,
                "agent-7: \(seven.coordinationScore) vs \(truth[3])/\(truth[2])")
    }

    @Test func aTableFilledElsewhereIsStartingUntilItsFiguresCoverEveryRowAndARestartReadsThemBack() async throws {
        let url = try TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        config.database.maxConnections = 6
        await (try await LearningStore.open(config: config)).shutdown()  // the schema
        try Self.load(url, rows: Self.rows)

        // First start: the aggregates are built; meanwhile health and status say `starting`.
        let log = LogCapture()
        var store = try await LearningStore.open(config: config)
        // A sample smaller than the table: windows come from the per-day figures.
        var service = LearningService(config: config, store: store, historyCapacity: Self.rows / 3, logger: log.logger)
        await service.start()
        let status = service.status()
        #expect(status.learningSystem == "starting")
        #expect(status.startup != nil)
        #expect(service.health().status == "starting")
        #expect(await service.waitUntilStarted(timeout: 300))
        #expect(service.status().learningSystem == "operational")
        #expect(service.status().startup == nil)
        #expect(log.contains(prefix: "aggregates: building them"))
        try await Self.expectCountsMatchSQL(service, url, sampleHoldsAll: false)

        // Rows an outside writer adds while it runs show in the figures.
        try Self.load(url, rows: 5_000)
        let expected = Int64(try Self.sql(url, "SELECT count(*) FROM agents.execution_log")[0][0])!
        try await eventually("the outside rows in the figures") { service.health().totalExecutions == expected }
        // The checkpoint covers them before the service stops.
        try await eventually("a checkpoint past the outside rows") {
            let stored = Int64(try Self.sql(url, "SELECT coalesce(sum(executions), 0) FROM agents.execution_aggregates")[0][0])!
            return stored == expected
        }
        await service.shutdown()

        // A restart reads the stored aggregates: nothing is built again, the counts hold.
        let restartLog = LogCapture()
        store = try await LearningStore.open(config: config)
        service = LearningService(config: config, store: store, historyCapacity: Self.rows / 3, logger: restartLog.logger)
        await service.start()
        #expect(await service.waitUntilStarted(timeout: 120))
        #expect(!restartLog.contains(prefix: "aggregates: building them"))
        try await Self.expectCountsMatchSQL(service, url, sampleHoldsAll: false)
        await service.shutdown()
    }

    @Test func retentionRemovesTheSameDaysFromTheTableAndTheFigures() async throws {
        let url = try TestEnvironment.freshDatabase()
        var config = LearningConfig()
        config.database.url = url
        config.database.maxConnections = 6
        await (try await LearningStore.open(config: config)).shutdown()
        try Self.load(url, rows: 20_000)
        let fixture = try await ServiceFixture.start(databaseURL: url) { $0.performance.metricsRetentionDays = 30 }
        defer { Task { await fixture.stop() } }
        // Retention runs once the start-up is done: the table keeps 30 days, and so do the figures.
        try await eventually("retention of the days past 30", timeout: 30) {
            let oldest = try Self.sql(url, "SELECT min(timestamp) >= date_trunc('day', (now() AT TIME ZONE 'UTC') - interval '30 days') FROM agents.execution_log")[0][0]
            let total = Int64(try Self.sql(url, "SELECT count(*) FROM agents.execution_log")[0][0])!
            return oldest == "t" && fixture.service.health().totalExecutions == total
        }
        try await Self.expectCountsMatchSQL(fixture.service, url, sampleHoldsAll: true)
    }
}
