import Foundation
import LearningAPI
import LearningCore
import LearningInMemoryRepository
import LearningRepository
import LearningService
import LearningServiceScenarios
import Synchronization
import Testing

// The service's handlers, runtime (change feed, aggregates, retention, models) and analytics over
// `InMemoryRepository`: no PostgreSQL, no transport. The same behaviour over PostgreSQL is covered
// by LearningServiceTests.

/// A started service over an in-memory repository.
struct MemoryFixture {
    let service: LearningService
    let repository: InMemoryRepository
    let log: LogCapture

    /// Starts a service over `repository` (a new one by default) and waits for its start-up.
    static func start(repository: InMemoryRepository? = nil, historyCapacity: Int = 500_000,
                      _ configure: (inout LearningConfig) -> Void = { _ in }) async throws -> MemoryFixture {
        var config = LearningConfig()
        configure(&config)
        let repository = repository ?? InMemoryRepository(retentionDays: config.performance.metricsRetentionDays)
        let log = LogCapture()
        let service = LearningService(config: config, store: repository, historyCapacity: historyCapacity,
                                      logger: log.logger)
        await service.start()
        #expect(await service.waitUntilStarted(timeout: 30), "the start-up completes")
        return MemoryFixture(service: service, repository: repository, log: log)
    }

    func stop() async { await service.shutdown() }
}

/// A row as another program would insert it.
func record(_ agent: String, _ task: String, _ time: Double, _ success: Bool, taskID: String? = nil, at: Date = Date()) -> ExecutionRecord {
    ExecutionRecord(agentName: agent, taskID: taskID ?? uuid(), taskType: task, executionTime: time, success: success,
                    resourceUsage: ResourceUsage(cpu: 10, memoryMB: 50), timestamp: at)
}

@Suite("Service over the in-memory repository")
struct InMemoryServiceTests {
    @Test func loggedExecutionsAreDeduplicatedCountedAtOnceAndOnceOnlyAfterTheFeedAndARestart() async throws {
        let fixture = try await MemoryFixture.start()
        let service = fixture.service
        let firstID = try await ServiceScenarios.loggedExecutionsAreDeduplicatedAndCountedAtOnce(service)
        #expect(fixture.repository.storedExecutions.map(\.id) == [firstID, firstID + 1, firstID + 2, firstID + 3],
                "the retried event ids are stored once")
        #expect(fixture.repository.storedExecutions.map(\.eventID) == ["evt-1", nil, nil, "evt-2"])

        // The feed confirms them (their ids only: the records were applied at once): still once.
        try await eventually("metrics to count the four executions") { service.metrics().executionsIngested == 4 }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try await service.performanceAnalytics(windowHours: 0).totalExecutions == 4)
        await fixture.stop()

        // A restart over the same storage: the stored aggregates (checkpointed with the feed's
        // position) and the rows past that position make the same figures, each row once.
        let again = try await MemoryFixture.start(repository: fixture.repository.reopened())
        defer { Task { await again.stop() } }
        let reloaded = try await again.service.performanceAnalytics(windowHours: 0)
        #expect(reloaded.totalExecutions == 4)
        #expect(reloaded.successRate == 0.75)
        #expect(try await again.service.agentPerformance(name: "coder-01").executions == 3)
        #expect(!again.log.contains(prefix: "aggregates: building them"), "the stored aggregates describe the rows")
    }

    /// A feed that fails mid-way (a lost connection) is followed again from the stored
    /// aggregates: the figures are loaded from them again, not added to what was held.
    @Test func aFeedFailureReloadsTheFiguresWithoutCountingTwice() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        _ = fixture.repository.insertOutside((0..<6).map { record("outsider", "import", Double($0 + 1), $0 % 3 != 0) })
        _ = try await service.logExecutions([execution("writer", "export", 2, true)])
        try await eventually("the seven executions in the figures") {
            try await service.performanceAnalytics(windowHours: 0).totalExecutions == 7
        }
        for round in 1...2 {
            fixture.repository.interruptFeed()
            try await eventually("the feed restarted (\(round))") {
                fixture.log.lines.filter { $0.hasPrefix("change feed stopped") }.count == round
            }
            try await eventually("the figures reloaded (\(round))") {
                fixture.log.lines.filter { $0.contains("executions in the retention window") }.count == round + 1
            }
            try await Task.sleep(for: .milliseconds(300)) // the feed's catching up is done
            let analytics = try await service.performanceAnalytics(windowHours: 0)
            #expect(analytics.totalExecutions == 7, "round \(round)")
            #expect(try await service.agentPerformance(name: "outsider").executions == 6)
            #expect(abs(analytics.successRate - 5.0 / 7.0) < 1e-9)
        }
    }

    @Test func rowsWrittenOutsideTheServiceArriveThroughTheFeedAndATruncateResets() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        let acks = fixture.repository.insertOutside([
            record("outsider", "import", 1, true), record("outsider", "import", 2, false), record("outsider", "export", 3, true),
        ])
        #expect(acks.map(\.duplicate) == [false, false, false])
        try await eventually("the three outside rows in the figures") {
            try await service.performanceAnalytics(windowHours: 0).totalExecutions == 3
        }
        let status = try await service.agentStatus(name: "outsider")
        #expect(status.executionsTotal == 3)
        #expect(status.agent.source == "discovered", "the feed registers the agents it sees")
        #expect(try await service.agentPerformance(name: "outsider").taskTypes.map(\.taskType).sorted() == ["export", "import"])

        fixture.repository.truncateExecutions()
        try await eventually("the reset") { try await service.performanceAnalytics(windowHours: 0).totalExecutions == 0 }
        _ = try await service.logExecutions([execution("a2", "t", 2, false), execution("a2", "t", 4, false)])
        try await eventually("the two new executions") { try await service.performanceAnalytics(windowHours: 0).totalExecutions == 2 }
        let analytics = try await service.performanceAnalytics(windowHours: 0)
        #expect(analytics.agents.map(\.agentName) == ["a2"])
        #expect(analytics.successRate == 0)
        #expect(analytics.avgExecutionTime == 3)
    }

    @Test func retrainingLearnsFromIngestPredictsRecommendsAndStoresTheModel() async throws {
        let fixture = try await MemoryFixture.start()
        let service = fixture.service
        _ = try await service.registerAgent(RegisterAgentRequest(name: "fast-agent"))
        try await ServiceScenarios.waitForTheStartUpTraining(fixture.log)
        await expectServiceError("failed_precondition") { try await service.predict(PredictionRequest(agentName: "fast-agent", taskType: "t")) }
        _ = try await service.logExecutions(ServiceScenarios.twoAgentsOnSharedTasks(start: Date().addingTimeInterval(-5 * 86_400)))
        let result = try await ServiceScenarios.retrainLearnsPredictsAndRecommends(service)
        #expect(try await service.coordinationPatterns(limit: 0).multiAgentTasks == 400)

        // What the training stored: the model, the embeddings, the `model` insight.
        let version = try #require(result.mlModels.first { $0.name == "performance_prediction" }?.version)
        try await eventually("the model saved") { fixture.repository.savedModels.contains { $0.version == version } }
        try await eventually("both embeddings saved") { Set(fixture.repository.embeddings.keys) == ["fast-agent", "slow-agent"] }
        #expect(try await service.insights(InsightsQuery(kind: "model")).contains { $0.title.contains("on demand") })
        await fixture.stop()

        // The next start over the same storage loads the newest saved model, this one, before it serves.
        let storage = fixture.repository.reopened()
        #expect(try await storage.latestModel(named: "learning_engine")?.version == version)
        let again = try await MemoryFixture.start(repository: storage)
        defer { Task { await again.stop() } }
        #expect(again.log.contains(prefix: "loaded model \(version) "))
        #expect(again.service.health().mlModels.allSatisfy { $0.state == .active })
        #expect(try await again.service.predict(PredictionRequest(agentName: "fast-agent", taskType: "code_review")).basedOnExecutions == 400)
    }

    @Test func retentionDropsTheDaysBeforeTheWindowFromStorageAndTheFigures() async throws {
        let repository = InMemoryRepository(retentionDays: 2)
        let now = Date()
        // Rows of a bulk load before the service starts: 5 and 4 days old, and of today.
        let old = (0..<6).map { record("archivist", "scan", 1, true, at: now.addingTimeInterval(-Double(4 + $0 % 2) * 86_400)) }
        let recent = (0..<4).map { record("archivist", "scan", 3, $0 % 2 == 0, at: now.addingTimeInterval(-Double($0) * 60)) }
        repository.insertOutside(old + recent)
        _ = try await repository.submitMetrics(agentName: "archivist", taskType: nil, sample: MetricsSample(responseTime: 1),
                                               at: now.addingTimeInterval(-5 * 86_400))
        let fixture = try await MemoryFixture.start(repository: repository) { $0.performance.metricsRetentionDays = 2 }
        defer { Task { await fixture.stop() } }
        // The retention job runs once the start-up is complete: the old days leave the table, the
        // stored aggregates and the figures together.
        try await eventually("the old days gone from the figures") {
            try await fixture.service.performanceAnalytics(windowHours: 0).totalExecutions == 4
        }
        #expect(repository.storedExecutions.count == 4)
        #expect(repository.storedExecutions.allSatisfy { $0.timestamp > now.addingTimeInterval(-86_400) })
        #expect(!repository.performanceRows.contains { $0.source == "submitted" }, "the old metrics row is deleted too")
        let collected = Mutex<[AggregateCell]>([])
        try await repository.loadAggregates(page: 100) { page in collected.withLock { $0 += page } }
        let cells = collected.withLock { $0 }
        #expect(cells.reduce(0) { $0 + $1.executions } == 4)
        #expect(fixture.log.contains(prefix: "retention: 6 executions before day"))
        let analytics = try await fixture.service.performanceAnalytics(windowHours: 0)
        #expect(analytics.successRate == 0.5)
    }

    @Test func theRegistryAnswersForAgentsAndHealthForTheDatabase() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        let service = fixture.service
        try await ServiceScenarios.registerIsAnIdempotentUpsertAndUnknownAgentsAreNotFound(service)
        let metrics = try await service.submitMetrics(SubmitMetricsRequest(agentName: "director", taskType: "plan",
                                                                           metrics: MetricsSampleInput(responseTime: 1.5, successRate: 0.9)))
        #expect(fixture.repository.performanceRows.map(\.id) == [metrics.id])
        #expect(fixture.repository.performanceRows.first?.source == "submitted")
        try await eventually("agents_registered to count both agents") { service.health().agentsRegistered == 2 }
        try await eventually("healthy") { service.health().status == "healthy" }

        // The repository's state is health's: a lost database is `unhealthy`, and calls that
        // need it are `unavailable` (retry later) rather than failures.
        fixture.repository.setConnected(false)
        #expect(service.health().status == "unhealthy" && service.health().database == "disconnected")
        #expect(service.status().learningSystem == "degraded")
        await expectServiceError("unavailable") { try await service.registerAgent(RegisterAgentRequest(name: "late")) }
        await expectServiceError("unavailable") { try await service.logExecutions([execution("late", "t", 1, true)]) }
        fixture.repository.setConnected(true)
        #expect(service.health().status == "healthy")
    }

    @Test func coordinationCountsTheStoredCollaborationSumsOfDaysTheSampleNoLongerHolds() async throws {
        // A sample of 100 executions: the older days' multi-agent tasks come from the
        // repository's collaboration sums, summed per day by the collaboration keeper.
        let repository = InMemoryRepository()
        let start = Calendar.current.startOfDay(for: Date()).addingTimeInterval(-5 * 86_400 + 3_600)
        var rows: [ExecutionRecord] = []
        for i in 0..<200 {
            let at = start.addingTimeInterval(Double(i) * 1_800)
            let task = uuid()
            rows.append(record("lead", "review", 2, i % 4 != 0, taskID: task, at: at))
            rows.append(record("helper", "review", 4, true, taskID: task, at: at.addingTimeInterval(60)))
        }
        repository.insertOutside(rows)
        let fixture = try await MemoryFixture.start(repository: repository, historyCapacity: 100)
        defer { Task { await fixture.stop() } }
        // The keeper sums on its first run after the start-up, then every 30 s (on a loaded
        // machine a run can come late, or after the split moved: the next one catches up).
        try? await eventually("every multi-agent task counted", timeout: 40) {
            try await fixture.service.coordinationPatterns(limit: 0).multiAgentTasks == 200
        }
        #expect(try await fixture.service.coordinationPatterns(limit: 0).multiAgentTasks == 200)
        let stored = try await repository.collaborationSums(before: .max)
        #expect(stored.multiAgentTasks > 0, "the older days come from the stored sums")
        #expect(try await repository.collaborationDays().count >= 3)
        #expect(stored.pairs[CollaborationSums.PairNames("lead", "helper")]?.tasks == stored.multiAgentTasks)
        let coordination = try await fixture.service.coordinationPatterns(limit: 0)
        #expect(coordination.coordinationScore == 1, "a task's outcome is its latest execution's: the helper's")
    }

    @Test func theRollUpFromMemoryHasTheFiguresOfTheRepositorysRollUp() async throws {
        let fixture = try await MemoryFixture.start()
        defer { Task { await fixture.stop() } }
        try await ServiceScenarios.logRollUpExecutions(fixture.service)
        try await ServiceScenarios.theRollUpFromMemoryHasTheRepositorysFigures(fixture.service) {
            fixture.repository.latestPerformance()
        }
    }
}

/// The execution-time histograms' buckets and bounds, without a server.
@Suite struct ExecutionTimeHistogramTests {
    @Test func timesFallInTheFirstBucketTheyDoNotExceed() {
        var histograms = ExecutionTimeHistograms()
        for seconds in [0, 0.1, 0.1000001, 1, 3600, 3600.5, 1e9] {
            histograms.observe(agent: "a", taskType: "t", seconds: seconds)
        }
        histograms.observe(agent: "a", taskType: nil, seconds: nil) // no time: not counted
        histograms.observe(agent: "a", taskType: nil, seconds: .nan)
        let series = histograms.byAgent["a"]
        let bounds = ExecutionTimeHistograms.bucketBounds
        #expect(series?.count == 7)
        #expect(series?.buckets[0] == 2)                                  // 0 and 0.1 (le 0.1)
        #expect(series?.buckets[1] == 1)                                  // 0.1000001 (le 0.25)
        #expect(series?.buckets[bounds.firstIndex(of: 1)!] == 1)
        #expect(series?.buckets[bounds.count - 1] == 1)                   // 3600 (le 3600)
        #expect(series?.buckets[bounds.count] == 2)                       // +Inf
        #expect(histograms.byTaskType.keys.sorted() == ["t"])
    }

    @Test func labelSetsAreBounded() {
        var histograms = ExecutionTimeHistograms()
        let limit = ExecutionTimeHistograms.maxSeries
        for index in 0..<(limit + 50) {
            histograms.observe(agent: "agent-\(index)", taskType: index.isMultiple(of: 2) ? nil : "t\(index)", seconds: 1)
        }
        #expect(histograms.byAgent.count == limit + 1)
        #expect(histograms.byAgent[ExecutionTimeHistograms.otherLabel]?.count == 50)
        #expect(histograms.byTaskType.count == (limit + 50) / 2 + 1)
        #expect(histograms.byTaskType[TaskTypeName.unspecified]?.count == Int64((limit + 50) / 2))
        for index in 0..<limit { histograms.observe(agent: "agent-0", taskType: "u\(index)", seconds: 1) }
        #expect(histograms.byTaskType.count == limit + 1)
        #expect(histograms.byTaskType[ExecutionTimeHistograms.otherLabel] != nil)
        // A label that has its series keeps it.
        let before = histograms.byAgent["agent-1"]?.count ?? 0
        histograms.observe(agent: "agent-1", taskType: nil, seconds: 1)
        #expect(histograms.byAgent["agent-1"]?.count == before + 1)
    }
}

/// The health rule with a status the agent reported: the worse counts while the heartbeat is fresh.
@Test func aReportedStatusCountsWhileItsHeartbeatIsFresh() throws {
    let now = Date()
    func status(_ reported: String?, reportedSecondsAgo: Double, successes: Int = 10) -> String {
        AgentHealthRule.evaluate(lastSeen: now, now: now, healthCheckInterval: 60, recentSuccesses: successes, recentTotal: 10,
                                 reported: reported, reportedAt: now.addingTimeInterval(-reportedSecondsAgo)).status
    }
    #expect(status("unhealthy", reportedSecondsAgo: 10) == "unhealthy")
    #expect(status("degraded", reportedSecondsAgo: 10) == "degraded")
    #expect(status("healthy", reportedSecondsAgo: 10, successes: 6) == "degraded") // failures still count
    #expect(status("unhealthy", reportedSecondsAgo: 121) == "healthy")             // older than 2 intervals
    #expect(status(nil, reportedSecondsAgo: 10) == "healthy")
    #expect(try AgentHealthRule.reportedStatus("") == nil)
    #expect(throws: ServiceError.self) { try AgentHealthRule.reportedStatus("zombie") }
}
