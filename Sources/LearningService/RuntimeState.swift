import Foundation
import LearningCore
import LearningML
import LearningRepository

/// What one training produced (from this run's training, or restored from `agents.ml_models`).
struct TrainingInfo: Sendable, Codable {
    /// Executions trained on.
    var records: Int
    /// 1 - Brier score of success on the held-out window.
    var accuracy: Double
    /// Held-out executions scored (0: no accuracy measured).
    var holdoutRecords: Int
    /// Held-out mean absolute error of log execution time.
    var holdoutLogTimeMAE: Double
    /// Seconds the training took.
    var durationSeconds: Double
    var trainedOn: Date
    var version: String
    /// Its row in `agents.ml_models` once saved (nil while this replica's own training is being
    /// saved, or when the save failed): models are ordered by it, the order they were saved in.
    var storedID: Int64? = nil

    init(records: Int, accuracy: Double, holdoutRecords: Int, holdoutLogTimeMAE: Double, durationSeconds: Double,
         trainedOn: Date, version: String, storedID: Int64? = nil) {
        self.records = records
        self.accuracy = accuracy
        self.holdoutRecords = holdoutRecords
        self.holdoutLogTimeMAE = holdoutLogTimeMAE
        self.durationSeconds = durationSeconds
        self.trainedOn = trainedOn
        self.version = version
        self.storedID = storedID
    }

    init(_ report: TrainingReport, trainedOn: Date, version: String) {
        records = report.records
        accuracy = report.accuracy
        holdoutRecords = report.holdoutRecords
        holdoutLogTimeMAE = report.holdoutLogTimeMAE
        durationSeconds = report.durationSeconds
        self.trainedOn = trainedOn
        self.version = version
    }
}

/// The figures health, status and metrics report, copied out of `RuntimeState`.
struct StateSnapshot: Sendable {
    var models: [ModelStatus]
    var lifecycle: RuntimeState.Lifecycle
    var agentsRegistered: Int
    var totalExecutions: Int64
    var recentSuccessRate: Double?
    var recentAverageTime: Double
    var replayDone: Bool
    var startup: StartupProgress?
    var predictionAccuracy: Double
    var trainingTime: Double
    var ingested: Int64

    init(_ state: RuntimeState) {
        models = state.modelStatuses()
        lifecycle = state.lifecycle
        agentsRegistered = state.agentsRegistered
        totalExecutions = state.totalExecutions
        recentSuccessRate = state.recentSuccessRate()
        recentAverageTime = state.analytics.recent().averageTime ?? 0
        replayDone = state.replayDone
        startup = state.replayDone ? nil : state.startup
        predictionAccuracy = state.lastTraining?.accuracy ?? 0
        trainingTime = state.lastTraining?.durationSeconds ?? 0
        ingested = state.analytics.ingested
    }
}

/// The learning runtime's state, kept behind `LearningService.core`. Every method runs under that
/// lock and touches memory only (no I/O, no waiting).
struct RuntimeState: Sendable {
    enum Lifecycle: Sendable, Equatable { case starting, running, draining }

    /// Seconds of the recent window of status and metrics figures.
    static let recentWindowSeconds = 60

    let config: LearningConfig
    /// The recent sample of raw executions (bounded): training, health tracks, coordination,
    /// windows it holds whole.
    var analytics: ExecutionAnalytics
    /// Figures over the whole retention window, from the persisted aggregates.
    var figures = WindowFigures()
    /// Progress of the start-up (aggregates built or loaded, feed caught up).
    var startup = StartupProgress()
    var engine: LearningEngine
    /// Bumped by every reset (TRUNCATE), so a training that began before it is discarded.
    var generation = 0
    var lifecycle = Lifecycle.starting
    /// True once the figures cover every row that existed at start-up (the aggregates are built
    /// or loaded and the change feed has passed the last id drawn before start).
    var replayDone = false
    var trainingRunning = false
    var trainingFailed = false
    var lastTraining: TrainingInfo?
    /// Set when a stored model was loaded and serves until the first training of this run.
    var loadedModel: TrainingInfo?
    /// The registry's row count, as last read (start-up, then every 2 s).
    var registryCount = 0
    /// Agents registered: the registry's count, or more when this service knows agents the count
    /// does not show yet (registered or first seen in an execution since it was read).
    var agentsRegistered: Int { max(registryCount, knownAgents.count) }
    /// Executions in the retention window (= rows of execution_log once the start-up is done).
    var totalExecutions: Int64 { figures.executions }
    var knownAgents: Set<String> = []
    var heartbeats: [String: Date] = [:]
    /// The sample's part of the coordination figures (`SampleSplit`), as of
    /// the held executions `oldest..<ingested` (retention drops the oldest without adding any).
    var coordinationCache: (oldest: Int64, ingested: Int64, generation: Int, at: Date, split: SampleSplit,
                            value: ExecutionAnalytics.Coordination)?
    /// The stored collaboration sums of the days before `before` (those the sample does not hold
    /// whole), kept by the `CollaborationKeeper`.
    var storedCollaboration: (before: Int32, generation: Int, value: ExecutionAnalytics.Coordination)?
    /// Our own writes applied as soon as they were acknowledged, until the feed confirms them
    /// (then they go into the next checkpoint of the aggregates).
    var appliedDirectly: [Int64: ExecutionRecord] = [:]
    /// Ids the feed delivered recently (bounded), so an acknowledgement arriving after the feed
    /// already delivered its row is not applied twice.
    var feedRecent: Set<Int64> = []
    var feedRecentOrder: [Int64] = []
    var feedRecentNext = 0
    static let feedRecentCapacity = 65_536
    /// Own writes the feed reported (by id) before their acknowledgement was applied here, and
    /// when: the direct application that follows confirms them. Those still here after
    /// `staleConfirmation` seconds are read back from the table (`staleConfirmations`).
    var confirmedEarly: [Int64: Date] = [:]
    static let staleConfirmation = 10.0
    /// The latest summaries of outside rows the feed delivered (`countSummary`), newest last:
    /// an acknowledgement of our own write that the feed summed before it knew the row as ours
    /// finds its id here (as `feedRecent` does for rows read one by one).
    var recentSummaries: [ExecutionSummary] = []
    /// Execution times of every execution counted since the start, for Prometheus.
    private(set) var executionTimes = ExecutionTimeHistograms()
    static let recentSummaryCapacity = 4

    init(config: LearningConfig, historyCapacity: Int) {
        self.config = config
        analytics = ExecutionAnalytics(capacity: historyCapacity, recentWindowSeconds: Self.recentWindowSeconds)
        engine = LearningEngine(parameters: EngineParameters(config: config))
    }

    // MARK: Feed

    /// Applies executions this service just stored (acknowledged, not duplicates), so a client
    /// sees its own writes at once; the change feed will skip them.
    mutating func applyDirect(_ records: [ExecutionRecord], arrival: Date) -> [LearningML.DetectedAnomaly] {
        var fresh: [ExecutionRecord] = []
        var confirmed = WindowFigures.Batch()
        defer { figures.confirm(confirmed) }
        for record in records {
            guard let id = record.id, !feedRecent.contains(id), !recentSummaries.contains(where: { $0.contains(id) }) else { continue }
            if confirmedEarly.removeValue(forKey: id) != nil {
                noteFeedRecent(id)
                confirmed.add(record)
                fresh.append(record)
                continue
            }
            guard appliedDirectly[id] == nil else { continue }
            appliedDirectly[id] = record
            fresh.append(record)
        }
        return apply(fresh, arrival: arrival, new: true)
    }

    /// The feed saw rows our writer stored (their records were applied, or are about to be, by
    /// `applyDirect`): nothing to learn, only the bookkeeping of `appliedDirectly` to settle.
    mutating func confirmOwn(_ ids: [Int64], at now: Date = Date()) {
        var confirmed = WindowFigures.Batch()
        for id in ids {
            if let record = appliedDirectly.removeValue(forKey: id) {
                confirmed.add(record)
            } else {
                confirmedEarly[id] = now
            }
        }
        figures.confirm(confirmed)
    }

    /// Ids the feed confirmed more than `staleConfirmation` seconds ago whose acknowledgement
    /// never reached this state (its caller went away): the keeper reads them from the table.
    func staleConfirmations(now: Date = Date()) -> [Int64] {
        confirmedEarly.compactMap { now.timeIntervalSince($0.value) > Self.staleConfirmation ? $0.key : nil }.sorted()
    }

    /// Takes what the next checkpoint of the aggregates stores: the cells confirmed since the
    /// last one, and the ids confirmed but not applied yet (`pending`).
    mutating func takeCheckpoint() -> (cells: [AggregateCell], pending: [Int64]) {
        (figures.takeUnsaved(), confirmedEarly.keys.sorted())
    }

    private mutating func noteFeedRecent(_ id: Int64) {
        if feedRecentOrder.count < Self.feedRecentCapacity {
            feedRecentOrder.append(id)
        } else {
            feedRecent.remove(feedRecentOrder[feedRecentNext])
            feedRecentOrder[feedRecentNext] = id
            feedRecentNext = (feedRecentNext + 1) % Self.feedRecentCapacity
        }
        feedRecent.insert(id)
    }

    /// Applies executions the change feed delivered, skipping those applied directly: counted in
    /// the figures and learned from at once (the start-up's replay, and tests).
    mutating func applyFeed(_ records: [ExecutionRecord], arrival: Date) -> [LearningML.DetectedAnomaly] {
        learn(countFeed(records), arrival: arrival, new: false)
    }

    /// The counting half of `applyFeed`: confirms the rows for the next checkpoint and adds those
    /// not applied directly to the figures. Returns them, for `learn` (the `FeedLearner` runs it
    /// off the feed's path, so a burst of outside rows reaches the figures first).
    mutating func countFeed(_ records: [ExecutionRecord]) -> [ExecutionRecord] {
        var fresh: [ExecutionRecord] = []
        fresh.reserveCapacity(records.count)
        var confirmed = WindowFigures.Batch()
        for record in records {
            let id = record.id ?? 0
            confirmed.add(record)
            if !confirmedEarly.isEmpty { confirmedEarly[id] = nil }
            if !appliedDirectly.isEmpty, appliedDirectly.removeValue(forKey: id) != nil { continue }
            noteFeedRecent(id)
            fresh.append(record)
        }
        figures.confirm(confirmed)
        // Only outside rows (the usual case for rows read from the table): the same cells.
        if fresh.count == records.count { count(confirmed) } else { count(fresh) }
        observeTimes(fresh)
        return fresh
    }

    /// Counts outside rows the feed summed instead of reading them (a burst far behind): their
    /// cells are confirmed for the next checkpoint and added to the figures, less any row this
    /// service had applied directly (counted then). They are not learned from.
    mutating func countSummary(_ summary: ExecutionSummary) {
        var already = WindowFigures.Batch()
        if !appliedDirectly.isEmpty {
            if appliedDirectly.count < summary.ids.count {
                for id in Array(appliedDirectly.keys) where summary.contains(id) {
                    if let record = appliedDirectly.removeValue(forKey: id) { already.add(record) }
                }
            } else {
                for id in summary.ids {
                    if let record = appliedDirectly.removeValue(forKey: id) { already.add(record) }
                }
            }
        }
        if !confirmedEarly.isEmpty {
            for id in Array(confirmedEarly.keys) where summary.contains(id) { confirmedEarly[id] = nil }
        }
        figures.confirm(summary.cells)
        for cell in summary.cells {
            knownAgents.insert(cell.agentName)
            figures.add(cell)
            // The times of rows applied directly were counted then; only the rest count now.
            var unseen = cell
            if let seen = already.cells[WindowFigures.CellKey(pair: WindowFigures.PairKey(agent: cell.agentName, task: cell.taskType), day: cell.day)] {
                for (bucket, times) in seen.histogram { unseen.histogram[bucket, default: 0] -= times }
            }
            executionTimes.observe(unseen)
        }
        for cell in already.cells.values { figures.add(cell, sign: -1) }
        recentSummaries.append(summary)
        if recentSummaries.count > Self.recentSummaryCapacity { recentSummaries.removeFirst() }
    }

    /// Applies stored executions: counted in the figures, then learned from (see `learn`).
    mutating func apply(_ records: [ExecutionRecord], arrival: Date, new: Bool) -> [LearningML.DetectedAnomaly] {
        count(records)
        observeTimes(records)
        return learn(records, arrival: arrival, new: new)
    }

    /// Counts stored executions' times in the execution-time histograms.
    private mutating func observeTimes(_ records: [ExecutionRecord]) {
        for record in records {
            executionTimes.observe(agent: record.agentName, taskType: record.taskType, seconds: record.executionTime)
        }
    }

    /// Adds stored executions to the window's figures.
    private mutating func count(_ records: [ExecutionRecord]) {
        var batch = WindowFigures.Batch()
        for record in records { batch.add(record) }
        count(batch)
    }

    /// Adds a batch of stored executions to the window's figures.
    private mutating func count(_ batch: WindowFigures.Batch) {
        // An agent first seen in an execution is registered (as discovered) when the feed
        // reports it; `agentsRegistered` counts it from now on, as /agents/list does.
        for cell in batch.cells.values {
            knownAgents.insert(cell.agentName)
        }
        figures.add(batch)
    }

    /// Adds counted executions to the recent sample and the engine; returns the anomalies to
    /// publish: none for rows of the table's replay at start-up (they are history, not news) or
    /// when anomaly detection is off. `new` marks this service's own fresh writes, which are news
    /// even during the replay.
    mutating func learn(_ records: [ExecutionRecord], arrival: Date, new: Bool) -> [LearningML.DetectedAnomaly] {
        var found: [LearningML.DetectedAnomaly] = []
        // During the start-up replay the rows are history: a model loaded from the store already
        // learned from them, and the first training of this run will learn from them.
        let live = replayDone || new
        let report = config.anomalyDetectionEnabled && live
        for record in records {
            analytics.add(record, arrival: arrival)
            if live {
                let anomalies = engine.observe(record)
                if report { found.append(contentsOf: anomalies) }
            }
        }
        return found
    }

    /// Loads (a page of) the recent sample at start-up: history for training and health, not
    /// news and not counted again (the aggregates hold them).
    mutating func loadSample(_ records: [ExecutionRecord]) {
        for record in records {
            analytics.add(record, arrival: record.timestamp)
            knownAgents.insert(record.agentName)
        }
    }

    /// Forgets everything derived from the execution table (it was truncated).
    mutating func reset() {
        analytics.reset()
        figures = WindowFigures()
        appliedDirectly.removeAll()
        confirmedEarly.removeAll()
        feedRecent.removeAll()
        feedRecentOrder.removeAll()
        feedRecentNext = 0
        recentSummaries.removeAll()
        engine = LearningEngine(parameters: EngineParameters(config: config))
        generation += 1
        lastTraining = nil
        loadedModel = nil
        coordinationCache = nil
        storedCollaboration = nil
    }

    /// Installs a freshly trained engine, first replaying into it what arrived since its snapshot.
    /// Returns false when a reset happened meanwhile (the engine is discarded).
    mutating func install(_ trained: LearningEngine, info: TrainingInfo, sequence: Int64, generation trainedGeneration: Int) -> Bool {
        guard trainedGeneration == generation else { return false }
        var engine = trained
        for record in analytics.records(fromSequence: sequence) { _ = engine.observe(record) }
        self.engine = engine
        lastTraining = info
        loadedModel = nil
        trainingFailed = false
        return true
    }

    mutating func noteRegistered(_ names: [String]) {
        knownAgents.formUnion(names)
    }

    // MARK: Models

    var serving: TrainingInfo? { lastTraining ?? loadedModel }

    func modelStatuses() -> [ModelStatus] {
        let trainedState: ModelState
        if trainingFailed && serving == nil {
            trainedState = .failed
        } else if let serving {
            // The engine refreshes its priors online as executions arrive (LearningEngine.modelRecords),
            // so the state follows the data between retrains.
            trainedState = max(serving.records, engine.modelRecords) >= LearningService.minimumTrainingRecords
                ? .active : .insufficientData
        } else if trainingRunning || !replayDone {
            trainedState = .training
        } else {
            trainedState = .insufficientData
        }
        let accuracy = serving.flatMap { $0.holdoutRecords > 0 ? $0.accuracy : nil }
        func trained(_ name: String, enabled: Bool) -> ModelStatus {
            guard enabled else { return ModelStatus(name: name, state: .disabled) }
            return ModelStatus(name: name, state: trainedState, accuracy: trainedState == .active ? accuracy : nil,
                               trainedOn: serving?.trainedOn, version: serving?.version ?? "")
        }
        let anomaly: ModelStatus
        if !config.anomalyDetectionEnabled {
            anomaly = ModelStatus(name: "anomaly_detection", state: .disabled)
        } else if !replayDone && !engine.isTrained {
            anomaly = ModelStatus(name: "anomaly_detection", state: .training)
        } else if analytics.count < AnomalyScale.minBaseline {
            anomaly = ModelStatus(name: "anomaly_detection", state: .insufficientData)
        } else {
            anomaly = ModelStatus(name: "anomaly_detection", state: .active, trainedOn: serving?.trainedOn, version: serving?.version ?? "")
        }
        return [trained("pattern_recognition", enabled: config.agents.patternRecognition),
                trained("performance_prediction", enabled: config.agents.predictiveAnalytics),
                anomaly]
    }

    /// Success fraction over the recent window, or over the latest 1,000 executions when none
    /// arrived in the window.
    func recentSuccessRate() -> Double? {
        analytics.recent().successRate ?? analytics.latestSuccessRate(count: 1_000)
    }

    // MARK: Agents

    func lastSeen(_ agent: AgentDefinition) -> Date? {
        var latest = agent.lastSeen
        if let track = analytics.track(agent: agent.name), track.lastSeen.isFinite {
            let seen = Date(timeIntervalSince1970: track.lastSeen)
            latest = max(latest ?? seen, seen)
        }
        if let beat = heartbeats[agent.name] { latest = max(latest ?? beat, beat) }
        return latest
    }

    func health(of agent: AgentDefinition, now: Date) -> (status: String, reason: String) {
        let recent = analytics.track(agent: agent.name)?.recent ?? (successes: 0, total: 0)
        return AgentHealthRule.evaluate(lastSeen: lastSeen(agent), now: now, healthCheckInterval: config.agents.healthCheckInterval,
                                        recentSuccesses: recent.successes, recentTotal: recent.total,
                                        reported: agent.reportedStatus, reportedAt: agent.reportedAt)
    }

    func info(_ agent: AgentDefinition, now: Date) -> AgentInfo {
        AgentInfo(name: agent.name, description: agent.description, tools: agent.tools, model: agent.model,
                  status: health(of: agent, now: now).status, lastSeen: lastSeen(agent), registeredAt: agent.registeredAt,
                  source: agent.source, metadata: agent.metadata)
    }

    func statusReport(_ agent: AgentDefinition, now: Date) -> AgentStatusReport {
        let (status, reason) = health(of: agent, now: now)
        let recent = analytics.track(agent: agent.name)?.recent ?? (successes: 0, total: 0)
        let seen = lastSeen(agent)
        return AgentStatusReport(agent: info(agent, now: now), status: status, executionsTotal: figures.executions(agent: agent.name),
                                 recentSuccessRate: recent.total > 0 ? Double(recent.successes) / Double(recent.total) : 0,
                                 secondsSinceSeen: seen.map { max(0, now.timeIntervalSince($0)) },
                                 healthCheckIntervalSeconds: config.agents.healthCheckInterval, reason: reason)
    }

    // MARK: Analytics

    static func taskPerformance(_ name: String, _ totals: ExecutionAnalytics.Totals) -> TaskTypePerformance {
        TaskTypePerformance(taskType: name, executions: totals.executions, successRate: totals.successRate,
                            avgExecutionTime: totals.averageTime, medianExecutionTime: totals.quantile(0.5),
                            p90ExecutionTime: totals.quantile(0.9), avgCPU: totals.averageCPU,
                            avgMemoryMB: totals.averageMemory, avgTokens: totals.averageTokens)
    }

    /// Most held executions for which a read computes the coordination figures itself (~2.6 us
    /// each); beyond, reads answer with the figures `Housekeeping.refreshCoordination`
    /// computes in the background every 30 s, off the lock.
    static let coordinationInlineLimit = 10_000

    /// When a read last needed the coordination figures (the background refresh runs only for
    /// a reader seen in the last 10 minutes).
    var coordinationWanted = Date.distantPast

    /// The part of the coordination figures the sample gives: the tasks whose latest execution
    /// is on `fromDay` or later, counting its executions at or after `earliest` (seconds since
    /// 1970). `fromDay` is `Int32.max` when the sample gives none.
    struct SampleSplit: Equatable {
        var fromDay: Int32
        var earliest: Double
    }

    /// How the coordination figures divide: tasks whose latest execution is on a day before
    /// `storedBefore` come from the stored collaboration sums (nil: none; the sample holds every
    /// execution), the others from the sample. The sample holds every execution from the
    /// midnight of its first whole day on, and a task counts its executions from the day before
    /// its latest's, so the sample's tasks start the day after. Only the days retention keeps
    /// count (the sample drops its oldest executions by arrival, not by timestamp).
    var coordinationSplit: (storedBefore: Int32?, sample: SampleSplit) {
        let now = Date().timeIntervalSince1970
        let keptDay = AggregateCell.day(of: now - Double(config.performance.metricsRetentionDays) * 86_400)
        let kept = Double(keptDay) * 86_400
        guard let whole = analytics.firstWholeDay else { return (nil, SampleSplit(fromDay: keptDay, earliest: kept)) }
        if whole == .max { return (.max, SampleSplit(fromDay: .max, earliest: .infinity)) }
        let from = max(whole + 1, keptDay)
        return (from, SampleSplit(fromDay: from, earliest: max(kept, Double(whole) * 86_400)))
    }

    /// The coordination figures of the window: the stored collaboration sums of the days the
    /// sample does not hold whole, plus the sample's own tasks of the days after.
    mutating func coordination(now: Date = Date()) -> ExecutionAnalytics.Coordination {
        coordinationWanted = now
        let split = coordinationSplit
        var result = sampleCoordination(split.sample, now: now)
        // The split only moves later (the sample drops its oldest executions), so stored days
        // end at or before it: between a move and the keeper's next sum (30 s) the days in
        // between are missing, never counted twice.
        if split.storedBefore != nil, let stored = storedCollaboration, stored.generation == generation {
            result.merge(stored.value)
        }
        return result
    }

    /// The sample's part of the coordination figures: computed here up to
    /// `coordinationInlineLimit` held executions, else the background refresh's result.
    private mutating func sampleCoordination(_ split: SampleSplit, now: Date) -> ExecutionAnalytics.Coordination {
        if split.fromDay == .max { return ExecutionAnalytics.Coordination() }
        let cached = coordinationCache.flatMap { $0.generation == generation && $0.split == split ? $0 : nil }
        if analytics.count > Self.coordinationInlineLimit { return cached?.value ?? ExecutionAnalytics.Coordination() }
        if let cached, (cached.ingested == analytics.ingested && cached.oldest == analytics.oldestSequence)
            || now.timeIntervalSince(cached.at) < 5 {
            return cached.value
        }
        let value = analytics.coordination(fromDay: split.fromDay, earliest: split.earliest)
        coordinationCache = (analytics.oldestSequence, analytics.ingested, generation, now, split, value)
        return value
    }

    mutating func agentPerformance(_ name: String) -> AgentPerformance {
        var overall = ExecutionAnalytics.Totals()
        var types: [TaskTypePerformance] = []
        for (pair, totals) in figures.pairs where pair.agent == name {
            overall.merge(totals)
            types.append(Self.taskPerformance(TaskTypeName.reported(pair.task), totals))
        }
        types.sort { $0.executions != $1.executions ? $0.executions > $1.executions : $0.taskType < $1.taskType }
        let joined = coordination().agents[name]
        return AgentPerformance(agentName: name, executions: overall.executions, successRate: overall.successRate,
                                avgExecutionTime: overall.averageTime, medianExecutionTime: overall.quantile(0.5),
                                taskTypes: types,
                                lastExecution: overall.lastTimestamp.isFinite ? Date(timeIntervalSince1970: overall.lastTimestamp) : nil,
                                coordinationScore: joined.map { $0.tasks > 0 ? Double($0.succeeded) / Double($0.tasks) : 0 } ?? 0)
    }

    /// Most held executions a windowed read scans (~10 ms under the runtime's lock); beyond,
    /// windows come from the per-day aggregates, whatever the table's size.
    static let exactWindowLimit = 200_000

    /// Figures over the window (nil: all retained data) from the aggregates; a window the raw
    /// sample holds whole (and holds at most `exactWindowLimit` executions) is computed exactly
    /// from it, any other from whole UTC days (the window's first day counts whole). Returns nil
    /// when the answer comes from the aggregates: then the caller computes it off the lock from
    /// a copy of `figures` (`WindowFigures.performanceAnalytics`).
    func exactWindowAnalytics(since: Date?) -> PerformanceAnalytics? {
        guard let since, analytics.count <= Self.exactWindowLimit, analytics.holdsWindow(since: since) else { return nil }
        var overall = ExecutionAnalytics.Totals()
        var perAgent: [String: ExecutionAnalytics.Totals] = [:]
        var perTask: [String: ExecutionAnalytics.Totals] = [:]
        for group in analytics.groups(since: since) {
            overall.merge(group.totals)
            perAgent[group.agent, default: .init()].merge(group.totals)
            perTask[TaskTypeName.reported(group.task), default: .init()].merge(group.totals)
        }
        return Self.performanceAnalytics(overall: overall, perAgent: perAgent, perTask: perTask)
    }

    /// The analytics of summed totals, agents and task types ordered by executions.
    static func performanceAnalytics(overall: ExecutionAnalytics.Totals, perAgent: [String: ExecutionAnalytics.Totals],
                                     perTask: [String: ExecutionAnalytics.Totals]) -> PerformanceAnalytics {
        let agents = perAgent.map { name, totals in
            AgentSummary(agentName: name, executions: totals.executions, successRate: totals.successRate,
                         avgExecutionTime: totals.averageTime, medianExecutionTime: totals.quantile(0.5))
        }.sorted { $0.executions != $1.executions ? $0.executions > $1.executions : $0.agentName < $1.agentName }
        let tasks = perTask.map { Self.taskPerformance($0.key, $0.value) }
            .sorted { $0.executions != $1.executions ? $0.executions > $1.executions : $0.taskType < $1.taskType }
        return PerformanceAnalytics(totalExecutions: overall.executions, successRate: overall.successRate,
                                    avgExecutionTime: overall.averageTime, medianExecutionTime: overall.quantile(0.5),
                                    p90ExecutionTime: overall.quantile(0.9), agents: agents, taskTypes: tasks, generatedAt: Date())
    }

    // MARK: Patterns

    mutating func collaborationPatterns() -> [CollaborationPattern] {
        let coordination = coordination()
        return engine.collaborationPatterns().map { pattern in
            let names = [pattern.agents.0, pattern.agents.1].sorted()
            let shared = coordination.pairs[ExecutionAnalytics.Coordination.pairKey(names[0], names[1])]
            let together = shared.map { $0.executions > 0 ? Double($0.successes) / Double($0.executions) : 0 }
            let effect = pattern.zScore >= 2 ? "synergy" : pattern.zScore <= -2 ? "conflict" : "neutral"
            return CollaborationPattern(agents: names, sharedTasks: Int64(pattern.sharedTasks),
                                        successRateTogether: together ?? 0,
                                        expectedSuccessRate: together.map { min(1, max(0, $0 - pattern.successLift)) } ?? 0,
                                        lift: pattern.successLift, zScore: pattern.zScore, effect: effect)
        }
    }

    func handoffs() -> [HandoffPattern] {
        engine.handoffs().map {
            HandoffPattern(fromAgent: $0.from, toAgent: $0.to, count: Int64($0.count), successRate: $0.successRate,
                           medianGapSeconds: $0.medianGapSeconds)
        }
    }

    mutating func coordinationPatterns(limit: Int) -> CoordinationPatterns {
        let coordination = coordination()
        return CoordinationPatterns(pairs: Array(collaborationPatterns().prefix(limit)), handoffs: Array(handoffs().prefix(limit)),
                                    coordinationScore: coordination.multiAgentTasks > 0
                                        ? Double(coordination.succeededTasks) / Double(coordination.multiAgentTasks) : 0,
                                    multiAgentTasks: Int64(coordination.multiAgentTasks))
    }

    mutating func patterns(_ kinds: Set<PatternKind>) -> PatternsReport {
        var report = PatternsReport()
        if kinds.contains(.collaboration) {
            report.collaboration = collaborationPatterns()
            report.handoffs = handoffs()
        }
        if kinds.contains(.performance) {
            var perTask: [String: ExecutionAnalytics.Totals] = [:]
            for (pair, totals) in figures.pairs { if let task = pair.task { perTask[task, default: .init()].merge(totals) } }
            report.performance = engine.schedulePatterns().map { pattern in
                let totals = perTask[pattern.taskType]
                let median = totals?.quantile(0.5) ?? 0
                let failure = totals.map { 1 - $0.successRate } ?? 0
                let factor = pattern.hourTimeFactor.indices.contains(pattern.bestHour) ? pattern.hourTimeFactor[pattern.bestHour] : 1
                let lift = pattern.hourFailureLift.indices.contains(pattern.worstFailureHour) ? pattern.hourFailureLift[pattern.worstFailureHour] : 0
                return SchedulePattern(taskType: pattern.taskType, bestHour: pattern.bestHour, worstHour: pattern.worstFailureHour,
                                       bestHourMedianTime: median * factor, worstHourFailureRate: min(1, max(0, failure + lift)))
            }.sorted { $0.taskType < $1.taskType }
        }
        if kinds.contains(.resources) {
            let profiles = engine.resourceProfiles()
            let n = Double(max(profiles.reduce(0) { $0 + $1.agents.count }, 1))
            let mean = (cpu: profiles.reduce(0) { $0 + $1.cpu * Double($1.agents.count) } / n,
                        memory: profiles.reduce(0) { $0 + $1.memoryMB * Double($1.agents.count) } / n,
                        tokens: profiles.reduce(0) { $0 + $1.tokens * Double($1.agents.count) } / n)
            report.resources = profiles.map { profile in
                ResourceProfile(cluster: profile.cluster, agents: profile.agents, avgCPU: profile.cpu, avgMemoryMB: profile.memoryMB,
                                avgTokens: profile.tokens, label: Self.resourceLabel(profile, mean: mean))
            }
        }
        if kinds.contains(.failures) {
            report.failures = engine.failurePatterns().map { pattern in
                FailurePattern(signature: pattern.signature, count: Int64(pattern.count), agents: pattern.agents,
                               taskTypes: pattern.taskTypes, example: pattern.example, lastSeen: nil)
            }
        }
        return report
    }

    /// `light` when every figure is under 75% of the mean over agents, `balanced` when none is
    /// above 125%, else the heaviest dimension: `compute_heavy`, `memory_heavy` or `token_heavy`.
    static func resourceLabel(_ profile: LearningML.AgentResourceProfile, mean: (cpu: Double, memory: Double, tokens: Double)) -> String {
        func ratio(_ value: Double, _ mean: Double) -> Double { mean > 0 && value.isFinite ? value / mean : 0 }
        let ratios = [("compute_heavy", ratio(profile.cpu, mean.cpu)), ("memory_heavy", ratio(profile.memoryMB, mean.memory)),
                      ("token_heavy", ratio(profile.tokens, mean.tokens))]
        let top = ratios.max { $0.1 < $1.1 }!
        if top.1 < 0.75 { return "light" }
        if top.1 <= 1.25 { return "balanced" }
        return top.0
    }

    // MARK: Predictions

    func requireModel() throws {
        if !replayDone && serving == nil {
            throw ServiceError.unavailable("the performance model is still training; retry shortly")
        }
        if analytics.count == 0 && engine.observedCount == 0 && figures.executions == 0 {
            if trainingRunning {
                throw ServiceError.unavailable("the performance model is still training; retry shortly")
            }
            throw ServiceError.failedPrecondition("no executions stored yet: nothing to learn from")
        }
    }

    func predict(_ request: PredictionRequest, at: Date) throws -> PerformancePrediction {
        try requireModel()
        let p = engine.predict(agent: request.agentName, taskType: request.taskType, at: at, hour: request.hour,
                               collaborators: request.collaborators)
        if p.basis == .none {
            throw ServiceError.failedPrecondition("no basis for a prediction: the model has learned from no execution yet")
        }
        return Self.prediction(p)
    }

    static func prediction(_ p: Prediction) -> PerformancePrediction {
        PerformancePrediction(agentName: p.agentName, taskType: p.taskType, executionTime: p.expectedExecutionTime,
                              medianExecutionTime: p.medianExecutionTime, successRate: p.successProbability,
                              confidence: p.confidence, intervalLow: p.intervalLow, intervalHigh: p.intervalHigh,
                              resources: RecommendedResources(cpu: p.recommendedResources.cpu ?? 0,
                                                              memoryMB: p.recommendedResources.memoryMB ?? 0,
                                                              tokens: p.recommendedResources.tokens ?? 0),
                              lowConfidence: p.lowConfidence, basedOnExecutions: Int64(p.sampleSize),
                              basis: p.basis.rawValue)
    }

    func recommend(taskType: String, at: Date, limit: Int, speedWeight: Double) throws -> RecommendationsReport {
        try requireModel()
        let ranked = engine.recommend(taskType: taskType, at: at, limit: limit, speedWeight: speedWeight)
        return RecommendationsReport(taskType: taskType, recommendations: ranked.enumerated().map { index, r in
            Recommendation(agentName: r.agentName, expectedSuccessRate: r.prediction.successProbability,
                           predictedExecutionTime: r.prediction.expectedExecutionTime, confidence: r.prediction.confidence,
                           score: r.score, reason: r.reason, rank: index + 1)
        })
    }

    func similar(_ agent: String, limit: Int, threshold: Double) throws -> SimilarAgentsReport {
        guard engine.isTrained else {
            if trainingRunning || !replayDone { throw ServiceError.unavailable("the agent embeddings are still being trained; retry shortly") }
            throw ServiceError.failedPrecondition("no trained model yet: agent embeddings come from training")
        }
        let found = engine.similarAgents(to: agent, limit: limit, threshold: threshold)
        return SimilarAgentsReport(agentName: agent, similar: found.map { SimilarAgent(agentName: $0.agent, similarity: $0.similarity) })
    }
}
