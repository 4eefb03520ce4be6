public import Foundation
import LearningCore
import LearningML
import LearningStore
import Synchronization

// The long-running parts of the service: the change-feed consumer, housekeeping, the retrain
// timer, and start-up and shutdown.

/// Progress of the start-up: the figures are complete once the aggregates are built (first
/// start on rows never aggregated) or loaded, and the change feed has passed `targetID`, the last
/// id drawn before the start.
public struct StartupProgress: Sendable, Equatable {
    /// `building_aggregates`, `loading_aggregates`, `loading_sample` or `catching_up`.
    public var phase = "loading_aggregates"
    public var rowsDone: Int64 = 0
    public var rowsTotal: Int64 = 0
    public var began = Date()
    /// The last execution id drawn before the start-up.
    var targetID: Int64 = 0

    /// The report health and status show.
    var report: StartupReport {
        StartupReport(phase: phase, rowsDone: rowsDone, rowsTotal: rowsTotal,
                      percent: rowsTotal > 0 ? min(100, Double(rowsDone) / Double(rowsTotal) * 100) : 0,
                      elapsedSeconds: Date().timeIntervalSince(began))
    }
}

extension LearningService {
    /// Loads what the service needs before serving (registered agents, agent definition files,
    /// the latest stored model) and starts the background jobs. Returns once they run; the
    /// first training happens in the background once the feed has replayed the table.
    public func start() async {
        let agents = (try? await store.listAgents()) ?? []
        let registered = (try? await store.agentCount()) ?? Int64(agents.count)
        core.withLock { state in
            state.noteRegistered(agents.map(\.name))
            state.agentsRegistered = Int(registered)
            state.startup = StartupProgress()
        }
        logger("registry: \(agents.count) agents registered")
        if let directory = config.agents.definitionsDirectory {
            let scanner = AgentDirectoryScanner(directory: directory)
            await syncDefinitions(scanner)
            definitionScanner.withLock { $0 = scanner }
        }
        await seedPublishedInsights()
        await loadLatestModel()
        process.sample()
        let feedTask = Task.detached { [self] in await runFeedAndAggregates() }
        let housekeepingTask = Task.detached { [self] in await housekeeping() }
        let retrainTask = Task.detached { [self] in await retrainTimer() }
        let maintenanceTask = Task.detached { [self] in await maintenance() }
        tasks.withLock { $0 = [feedTask, housekeepingTask, retrainTask, maintenanceTask] }
        core.withLock { $0.lifecycle = .running }
        refreshSnapshot()
        logger("learning runtime started: loading the figures of the stored executions")
    }

    /// Waits until the start-up is complete (the figures cover every row stored before it), at
    /// most `timeout` seconds; true when it is.
    public func waitUntilStarted(timeout: Double = 60) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if core.withLock({ $0.replayDone }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return core.withLock { $0.replayDone }
    }

    /// Stops the background jobs, ends live insight streams and closes the store (flushing
    /// queued writes). Health reports `unhealthy` from the first moment.
    public func shutdown() async {
        core.withLock { $0.lifecycle = .draining }
        refreshSnapshot()
        let running = tasks.withLock { tasks -> [Task<Void, Never>] in
            let running = tasks
            tasks.removeAll()
            return running
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
        broadcaster.finishAll()
        await store.shutdown()
        logger("learning runtime stopped")
    }

    /// Marks the service as draining (health turns unhealthy) without stopping anything yet.
    public func beginDraining() {
        core.withLock { $0.lifecycle = .draining }
        refreshSnapshot()
    }

    // MARK: Feed and aggregates

    /// Seconds between checkpoints of the aggregates (each one a short transaction).
    static let checkpointInterval = 2.0

    /// Brings the figures up to the table (the stored aggregates, built first when they do not
    /// describe it), loads the recent sample, then follows the change feed from the aggregates'
    /// position, checkpointing them; after a TRUNCATE, starts over.
    func runFeedAndAggregates() async {
        while !Task.isCancelled {
            do {
                let (position, generation) = try await loadFigures()
                try await followFeed(from: position, generation: generation)
            } catch {
                if Task.isCancelled { break }
                logger("change feed stopped (\(error)); restarting in 1 s")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Loads the figures of every row that existed at start: the stored aggregates (built first
    /// when they do not describe the table), the rows they left pending, and the recent sample.
    /// Returns the feed position they cover and the TRUNCATE generation.
    func loadFigures() async throws -> (FeedPosition, Int64) {
        let target = try await store.lastDrawnExecutionID()
        setStartup { $0.targetID = target }
        var checkpoint = try await store.aggregateCheckpoint()
        if !checkpoint.isCurrent {
            logger("aggregates: building them from agents.execution_log (first start on these rows)")
            setStartup { $0.phase = "building_aggregates" }
            let logger = self.logger
            let lastLogged = Mutex(0.0)
            let buildStarted = Date()
            let built = try await store.buildAggregates { [self] progress in
                setStartup { startup in
                    startup.rowsDone = progress.rowsDone
                    startup.rowsTotal = progress.rowsTotal
                }
                let due = lastLogged.withLock { last -> Bool in
                    guard progress.seconds - last >= 2 else { return false }
                    last = progress.seconds
                    return true
                }
                if due {
                    logger("aggregates: \(progress.rowsDone) of \(progress.rowsTotal) executions summed (\(String(format: "%.1f", progress.seconds)) s)")
                }
            }
            let summed = core.withLock { $0.startup.rowsDone }
            logger("aggregates: built over \(summed) executions in \(String(format: "%.1f", Date().timeIntervalSince(buildStarted))) s")
            checkpoint = try await store.aggregateCheckpoint()
            checkpoint.position = built
        }
        let position = checkpoint.position ?? FeedPosition(maxSeen: 0)
        setStartup { $0.phase = "loading_aggregates"; $0.rowsDone = 0 }
        let loaded = Mutex<Int64>(0)
        try await store.loadAggregates { [self] cells in
            let count = core.withLock { state -> Int64 in
                for cell in cells { state.figures.add(cell) }
                return state.figures.executions
            }
            loaded.withLock { $0 = count }
            setStartup { $0.rowsDone = count }
        }
        if !checkpoint.pending.isEmpty {
            let records = try await store.executions(ids: checkpoint.pending)
            _ = core.withLock { $0.applyFeed(records, arrival: Date()) }
        }
        setStartup { $0.phase = "loading_sample" }
        let capacity = core.withLock { $0.analytics.capacity }
        let sample = try await store.newestExecutions(limit: capacity, atOrBelow: position.maxSeen)
        let total = core.withLock { state -> Int64 in
            state.loadSample(sample, complete: Int64(sample.count) >= state.figures.executions)
            return state.figures.executions
        }
        setStartup { $0.phase = "catching_up" }
        logger("aggregates: \(total) executions in the retention window (position \(position.maxSeen)); \(sample.count) recent executions held for learning")
        refreshSnapshot()
        return (position, checkpoint.tableGeneration)
    }

    func setStartup(_ change: (inout StartupProgress) -> Void) {
        core.withLock { change(&$0.startup) }
    }

    /// Follows the change feed from `position`; returns after a TRUNCATE (the figures are reset).
    func followFeed(from position: FeedPosition, generation: Int64) async throws {
        let feed = store.feed()
        lastCheckpoint.withLock { $0 = Date() }
        try await feed.run(from: position, stopAtReset: true) { [self] event in
            if case .position(let position) = event {
                await noteFeedPosition(position, generation: generation)
            } else {
                await handle(event)
            }
        }
    }

    /// The feed passed `position`: declares the start-up done once it covers the target, and
    /// checkpoints the aggregates every `checkpointInterval` seconds.
    func noteFeedPosition(_ position: FeedPosition, generation: Int64) async {
        let reachedTarget = core.withLock { state -> Bool in
            state.startup.rowsDone = state.figures.executions
            return !state.replayDone && position.cursor >= state.startup.targetID
        }
        if reachedTarget { completeStartup() }
        let now = Date()
        let due = lastCheckpoint.withLock { last -> Bool in
            guard now.timeIntervalSince(last) >= Self.checkpointInterval else { return false }
            last = now
            return true
        }
        guard due else { return }
        let stale = core.withLock { $0.staleConfirmations(now: now) }
        if !stale.isEmpty, let records = try? await store.executions(ids: stale) {
            core.withLock { state in
                let found = Set(records.compactMap(\.id))
                _ = state.applyFeed(records, arrival: now)
                for id in stale where !found.contains(id) { state.confirmedEarly[id] = nil }
            }
        }
        let (cells, pending) = core.withLock { $0.takeCheckpoint() }
        do {
            try await store.checkpointAggregates(cells, position: position, pending: pending, generation: generation)
        } catch {
            core.withLock { $0.figures.restoreUnsaved(cells) }
            logger("could not checkpoint the aggregates (kept for the next one): \(error)")
        }
    }

    func handle(_ event: FeedEvent) async {
        switch event {
        case .position:
            break
        case .reset:
            core.withLock { state in
                state.reset()
                state.replayDone = false
                state.startup = StartupProgress()
            }
            refreshSnapshot()
            logger("execution_log was truncated: learned state reset, rebuilding from the table")
        case .ownWrites(let ids):
            core.withLock { state in state.confirmOwn(ids) }
        case .executions(let records):
            let now = Date()
            let anomalies = core.withLock { state in state.applyFeed(records, arrival: now) }
            var seen: [String: Date] = [:]
            for record in records {
                let at = min(record.timestamp, now)
                if let previous = seen[record.agentName], previous >= at { continue }
                seen[record.agentName] = at
            }
            do {
                try await store.noteAgentsSeen(seen)
            } catch {
                logger("could not record agents seen: \(error)")
            }
            for anomaly in anomalies { await publish(anomaly) }
        }
    }

    /// Stores an anomaly as an insight and pushes it to live subscribers.
    func publish(_ anomaly: LearningML.Anomaly) async {
        let kind = Self.apiAnomalyKind(anomaly.kind.rawValue)
        let key = AnomalyGroups.Key(kind: kind, agent: anomaly.agentName, taskType: anomaly.taskType)
        let decision = anomalyGroups.withLock { $0.admit(key, executionIDs: anomaly.recordIDs, at: Date()) }
        if decision == .merged { return }
        let threshold = config.performance.anomalyDetectionThreshold
        let title: String
        switch anomaly.kind {
        case .latencySpike: title = "Latency spike: \(anomaly.agentName)"
        case .resourceBlowup: title = "Resource spike: \(anomaly.agentName)"
        case .failureBurst: title = "Failure burst: \(anomaly.agentName)"
        }
        let stored = StoredInsight(kind: kind, severity: anomaly.score >= 2 * threshold ? "critical" : "warning",
                                   title: anomaly.taskType.map { "\(title) on \($0)" } ?? title, detail: anomaly.description,
                                   agents: [anomaly.agentName], taskType: anomaly.taskType, score: anomaly.score,
                                   observed: anomaly.observed, expected: anomaly.expected, threshold: threshold,
                                   executionID: anomaly.recordIDs.last, executionIDs: anomaly.recordIDs, createdAt: Date())
        var saved = stored
        do {
            saved.id = try await store.saveInsight(stored)
        } catch {
            logger("could not store an anomaly: \(error)")
        }
        anomalyGroups.withLock { $0.stored(key, insightID: saved.id) }
        var event = Self.anomaly(from: saved)
        if saved.id == nil { event.id = UUID().uuidString.lowercased() }
        broadcaster.publish(.anomaly(event))
    }

    /// Adds the execution ids of merged anomalies to their stored insights (each housekeeping
    /// tick, and before anomalies are read, so a query sees every flagged execution).
    func flushAnomalyGroups() async {
        let due = anomalyGroups.withLock { $0.flush(at: Date()) }
        for flush in due {
            do {
                try await store.appendInsightExecutionIDs(insightID: flush.insightID, executionIDs: flush.executionIDs)
            } catch {
                logger("could not add \(flush.executionIDs.count) executions to anomaly \(flush.insightID): \(error)")
            }
        }
    }

    /// Stores an insight and pushes it to live subscribers.
    func publish(insight stored: StoredInsight) async {
        var saved = stored
        do {
            saved.id = try await store.saveInsight(stored)
        } catch {
            logger("could not store an insight: \(error)")
        }
        var insight = Self.insight(from: saved)
        if saved.id == nil { insight.id = UUID().uuidString.lowercased() }
        broadcaster.publish(.insight(insight))
    }

    /// Remembers the collaboration insights stored before, so a restart does not repeat them.
    func seedPublishedInsights() async {
        guard let stored = try? await store.insights(kinds: ["synergy", "conflict"], limit: 1000) else { return }
        published.withLock { keys in for insight in stored { keys.insert("\(insight.kind):\(insight.agents.joined(separator: "+"))") } }
    }

    // MARK: Housekeeping

    func housekeeping() async {
        var tick = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(500))
            if Task.isCancelled { break }
            tick += 1
            if tick % 2 == 0 { process.sample() }
            if tick % 10 == 0 { refreshCoordination() }
            await flushAnomalyGroups()
            refreshSnapshot()
            // The registry is small: counted every 2 s. Executions are counted by the aggregates.
            if tick % 4 == 0, let agents = try? await store.agentCount() {
                core.withLock { state in state.agentsRegistered = Int(agents) }
                refreshSnapshot()
            }
            if tick % 6 == 0, let scanner = definitionScanner.withLock({ $0 }) {
                await syncDefinitions(scanner)
            }
            if tick % 120 == 0 {
                let cutoff = Date().addingTimeInterval(-Double(config.performance.metricsRetentionDays) * 86_400)
                let dropped = core.withLock { $0.analytics.expire(before: cutoff) }
                if dropped > 0 { logger("retention: \(dropped) executions older than \(config.performance.metricsRetentionDays) days left the learned history") }
            }
        }
    }

    /// The figures cover every row that existed at start: status turns operational and the
    /// first training starts.
    func completeStartup() {
        let first = core.withLock { state -> Bool in
            if state.replayDone { return false }
            state.replayDone = true
            return true
        }
        guard first else { return }
        refreshSnapshot()
        let (count, held, began) = core.withLock { ($0.figures.executions, $0.analytics.count, $0.startup.began) }
        logger("start-up complete in \(String(format: "%.1f", Date().timeIntervalSince(began))) s: \(count) executions in the figures, \(held) held for learning; training")
        Task.detached { [self] in
            do {
                _ = try await performRetrain(reason: "start-up")
            } catch {
                logger("start-up training failed: \(error)")
            }
        }
    }

    func syncDefinitions(_ scanner: AgentDirectoryScanner) async {
        let changes = scanner.scan()
        for error in changes.errors { logger("agent definition skipped: \(error)") }
        for definition in changes.updated {
            do {
                let (agent, created) = try await store.upsertAgent(definition)
                core.withLock { $0.noteRegistered([agent.name]) }
                logger("agent definition \(created ? "registered" : "updated"): \(agent.name)")
            } catch {
                logger("could not register agent \(definition.name) from \(definition.metadata["file"] ?? "?"): \(error)")
            }
        }
    }

    /// Writes the `agents.performance_metrics` snapshot of the last day now: from the executions
    /// held in memory when they cover the day (`rollUpFromMemory`), else by PostgreSQL's aggregate
    /// over the table (the start-up replay is not done yet, or the day's executions outgrew the
    /// held history). The aggregate reads a day of rows each time: 2.3 s on 620,000 rows on the
    /// 2-core machine of docs/BENCHMARKS.md, competing with ingest (the maintenance loop then
    /// waits longer, see `rollUpPause`). Returns the rows written and whether they came from memory.
    @discardableResult
    public func rollUpPerformance(at date: Date = Date()) async throws -> (rows: Int, fromMemory: Bool) {
        let window = 86_400.0
        if let rows = rollUpFromMemory(since: date.addingTimeInterval(-window)) {
            return (try await store.storeRollUp(rows, at: date), true)
        }
        return (try await store.rollUpPerformance(window: window, at: date), false)
    }

    /// Executions the roll-up visits per hold of the runtime's lock: the ingest path (the event
    /// loops, applying their callers' records) waits for that lock, and a whole scan of 900,000
    /// held executions held it for ~160 ms.
    static let rollUpChunk: Int64 = 20_000

    /// The roll-up of the executions held in memory since `since`, built in two passes of chunks
    /// of `rollUpChunk` with the lock released in between (the held executions of a sequence
    /// range do not change while held); nil when the history does not hold the whole window, or
    /// lost part of it (capacity, a truncate) during the passes.
    func rollUpFromMemory(since: Date) -> [PerformanceRollUp]? {
        let start = core.withLock { state -> (first: Int64, end: Int64, generation: Int)? in
            guard state.replayDone, state.analytics.holdsWindow(since: since) else { return nil }
            return (state.analytics.oldestSequence, state.analytics.ingested, state.generation)
        }
        guard let start else { return nil }
        var builder = RollUpBuilder(since: since)
        for pass in 0..<2 {
            var next = start.first
            while next < start.end {
                let chunk = next..<min(next + Self.rollUpChunk, start.end)
                let visited = core.withLock { state in
                    state.generation == start.generation
                        && state.analytics.visit(chunk) { pass == 0 ? builder.noteTask($0) : builder.add($0) }
                }
                guard visited else { return nil }
                next = chunk.upperBound
            }
        }
        // Names are interned per generation: a truncate meanwhile would make them another table's.
        return core.withLock { state in
            state.generation == start.generation ? builder.rows(names: state.analytics.names(of:)) : nil
        }
    }

    /// Longest share of the time the SQL roll-up (`LearningStore.rollUpPerformance`) may keep
    /// PostgreSQL busy: it aggregates a whole day of rows, and it runs only when the day holds
    /// more executions than the in-memory history (1,000,000): 4.9 s at 1.02M rows on the 2-core
    /// machine of docs/BENCHMARKS.md, during which unary ingest ran at half its rate.
    static let sqlRollUpShare = 0.05

    /// Seconds from the end of one roll-up to the start of the next: the tracking interval, or
    /// longer after a roll-up by SQL that took more than `sqlRollUpShare` of interval + duration,
    /// so that the aggregate over a day too large for memory costs at most that share of the
    /// database's time (at 4.9 s: a snapshot every ~98 s instead of every 60 s).
    static func rollUpPause(interval: Double, lastDuration: Double, fromMemory: Bool) -> Double {
        guard !fromMemory, lastDuration > 0 else { return interval }
        return max(interval, lastDuration * (1 - sqlRollUpShare) / sqlRollUpShare)
    }

    /// Roll-ups into `agents.performance_metrics` every `performance.performance_tracking_interval`
    /// seconds (when performance tracking is on; less often while only the SQL aggregate can
    /// compute them and it is slow, see `rollUpPause`) and retention every hour.
    func maintenance() async {
        let interval = Double(max(1, config.performance.performanceTrackingInterval))
        var lastRetention = Date.distantPast
        var stretched = false
        while !Task.isCancelled {
            // Roll-ups and retention wait for the start-up: until the figures are complete a
            // roll-up would need PostgreSQL's aggregate over a day of rows, and the aggregates
            // being built must not count days retention is removing meanwhile.
            if !core.withLock({ $0.replayDone }) {
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            var pause = interval
            if config.agents.performanceTracking {
                do {
                    let started = ContinuousClock.now
                    let (_, fromMemory) = try await rollUpPerformance()
                    let took = started.duration(to: .now)
                    let seconds = took / .seconds(1)
                    pause = Self.rollUpPause(interval: interval, lastDuration: seconds, fromMemory: fromMemory)
                    if (pause > interval) != stretched {
                        stretched = pause > interval
                        logger(stretched
                            ? "performance roll-up: computed by PostgreSQL's aggregate (the start-up replay was not done, or the last day's executions outgrew the in-memory history), which took \(String(format: "%.1f", seconds)) s, so snapshots are now written every \(Int(pause.rounded())) s instead of every \(Int(interval)) s (at most \(Int(Self.sqlRollUpShare * 100))% of the database's time)"
                            : "performance roll-up: back to a snapshot every \(Int(interval)) s")
                    }
                } catch {
                    logger("performance roll-up failed: \(error)")
                }
            }
            if Date().timeIntervalSince(lastRetention) >= 3_600 {
                do {
                    let created = try await store.ensurePartitions()
                    if created > 0 { logger("partitions: created \(created) day partitions of execution_log") }
                } catch {
                    logger("partitions failed: \(error)")
                }
                do {
                    let report = try await store.applyRetention()
                    lastRetention = Date()
                    try await expireAggregates(before: report.executionCutoff)
                    let deleted = report.deleted
                    let total = deleted.values.reduce(0, +)
                    if total > 0 { logger("retention: deleted \(deleted.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))") }
                    if !report.droppedPartitions.isEmpty { logger("retention: dropped \(report.droppedPartitions.joined(separator: ", "))") }
                } catch {
                    logger("retention failed: \(error)")
                }
            }
            try? await Task.sleep(for: .seconds(pause))
        }
    }

    /// Retention of the figures: the aggregate cells of the days retention removed from
    /// execution_log (those before `cutoff`, a UTC midnight) leave the table and the figures together.
    func expireAggregates(before cutoff: Date) async throws {
        let cutoffDay = AggregateCell.day(of: cutoff.timeIntervalSince1970)
        let expired = try await store.expireAggregates(beforeDay: cutoffDay)
        let dropped = core.withLock { state -> Int64 in
            let before = state.figures.executions
            state.figures.expire(beforeDay: cutoffDay, stored: expired)
            return before - state.figures.executions
        }
        if dropped > 0 { logger("retention: \(dropped) executions before day \(cutoffDay) left the figures") }
        refreshSnapshot()
    }

    /// Computes the coordination figures of the held executions off the runtime's lock: copies
    /// them in chunks of `rollUpChunk` (the lock released in between), groups them by task on
    /// this task's thread and stores the result for reads (see `RuntimeState.coordination`).
    func refreshCoordination() {
        let start = core.withLock { state -> (first: Int64, end: Int64, generation: Int, names: [String])? in
            guard state.analytics.count > RuntimeState.coordinationInlineLimit else { return nil }
            if let cache = state.coordinationCache, cache.generation == state.generation,
               cache.ingested == state.analytics.ingested { return nil }
            return (state.analytics.oldestSequence, state.analytics.ingested, state.generation, state.analytics.agentNames)
        }
        guard let start else { return }
        var copied: [ExecutionAnalytics.Entry] = []
        copied.reserveCapacity(Int(start.end - start.first))
        var next = start.first
        while next < start.end {
            let chunk = next..<min(next + Self.rollUpChunk, start.end)
            let visited = core.withLock { state in
                state.generation == start.generation
                    && state.analytics.visit(chunk) { if $0.taskID != nil { copied.append($0) } }
            }
            // Dropped meanwhile (capacity): what is left is still the newest executions.
            if !visited { copied.removeAll(); next = core.withLock { $0.analytics.oldestSequence }; continue }
            next = chunk.upperBound
        }
        let names = core.withLock { $0.analytics.agentNames }
        let value = ExecutionAnalytics.coordination(of: copied, agentNames: names)
        core.withLock { state in
            if state.generation == start.generation { state.coordinationCache = (start.end, start.generation, Date(), value) }
        }
    }

    // MARK: Training

    func retrainTimer() async {
        let interval = Duration.seconds(config.ml.modelUpdateFrequency)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { break }
            guard core.withLock({ $0.replayDone }) else { continue }
            do {
                _ = try await performRetrain(reason: "scheduled")
            } catch {
                logger("scheduled retrain failed: \(error)")
            }
        }
    }

    /// Trains a fresh engine on the held history off the lock, replays what arrived meanwhile,
    /// swaps it in, stores the model and publishes what it learned.
    func performRetrain(reason: String, asOf: Date? = nil) async throws -> RetrainResult {
        await retrainGate.wait()
        defer { retrainGate.signal() }
        let (records, sequence, generation) = core.withLock { state in
            state.trainingRunning = true
            return (state.analytics.records(), state.analytics.ingested, state.generation)
        }
        refreshSnapshot()
        let parameters = EngineParameters(config: config)
        let trainedOn = asOf ?? Date()
        let (engine, report) = await Self.runOnThread {
            var engine = LearningEngine(parameters: parameters)
            let report = engine.retrain(on: records, now: trainedOn)
            return (engine, report)
        }
        let info = TrainingInfo(report, trainedOn: trainedOn,
                                version: "\(LearningEngine.modelVersion).\(Int64(Date().timeIntervalSince1970 * 1000))")
        let installed = core.withLock { state in
            state.trainingRunning = false
            return state.install(engine, info: info, sequence: sequence, generation: generation)
        }
        refreshSnapshot()
        guard installed else {
            throw ServiceError.unavailable("the execution table was reset during training; retry")
        }
        logger("retrained (\(reason)) on \(records.count) executions in \(String(format: "%.3f", report.durationSeconds)) s; "
               + "held-out accuracy \(String(format: "%.4f", report.accuracy)) over \(report.holdoutRecords) executions")
        await storeModel(engine, info: info)
        await storeEmbeddings(engine)
        await publishTrainingInsights(engine, info: info, records: records.count, reason: reason)
        let models = core.withLock { $0.modelStatuses() }
        return RetrainResult(mlModels: models, trainingTime: report.durationSeconds, trainedOnExecutions: Int64(records.count))
    }

    /// The `agents.ml_models` name of the engine's saved state. One engine serves the three
    /// models health reports (prediction, patterns, anomaly baselines), so one row per training.
    static let storedModelName = "learning_engine"
    /// Its `model_type`.
    static let storedModelType = "hierarchical_shrinkage"

    /// Saves the trained engine in `agents.ml_models` with its measured accuracy, the
    /// hyperparameters and what the training saw.
    func storeModel(_ engine: LearningEngine, info: TrainingInfo) async {
        let data = await Self.runOnThread { engine.serialize() }
        var hyperparameters: [String: Double] = engine.hyperparameters
        hyperparameters["trained_on_executions"] = Double(info.records)
        hyperparameters["holdout_executions"] = Double(info.holdoutRecords)
        hyperparameters["holdout_log_time_mae"] = info.holdoutLogTimeMAE
        hyperparameters["training_seconds"] = info.durationSeconds
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = (try? encoder.encode(hyperparameters)).map { String(decoding: $0, as: UTF8.self) }
        let row = StoredModel(name: Self.storedModelName, type: Self.storedModelType, version: info.version,
                              accuracy: info.holdoutRecords > 0 ? info.accuracy : nil, trainedOn: info.trainedOn,
                              data: data, hyperparametersJSON: json)
        do {
            let id = try await store.saveModel(row)
            logger("model \(info.version) saved in agents.ml_models (id \(id), \(data.count) bytes)")
        } catch {
            logger("could not save the model: \(error)")
        }
    }

    /// Loads the latest saved engine, which serves until this run's first training.
    func loadLatestModel() async {
        let stored: StoredModel?
        do {
            stored = try await store.latestModel(named: Self.storedModelName)
        } catch {
            logger("could not read the latest model: \(error)")
            return
        }
        guard let stored else {
            logger("no saved model: the first training starts once the table is replayed")
            return
        }
        let data = stored.data
        let decoded = await Self.runOnThread { () -> Result<LearningEngine, ModelDecodingError> in
            do {
                return .success(try LearningEngine(serialized: data))
            } catch let error as ModelDecodingError {
                return .failure(error)
            } catch {
                return .failure(.corrupt(String(describing: error)))
            }
        }
        switch decoded {
        case .failure(let error):
            logger("the saved model \(stored.version) cannot be used (\(error)); training from the table instead")
        case .success(let engine):
            var values: [String: Double] = [:]
            if let json = stored.hyperparametersJSON, let parsed = try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8)) {
                values = parsed
            }
            let info = TrainingInfo(
                records: Int(values["trained_on_executions"] ?? Double(engine.observedCount)), accuracy: stored.accuracy ?? 0,
                holdoutRecords: stored.accuracy == nil ? 0 : Int(values["holdout_executions"] ?? 1),
                holdoutLogTimeMAE: values["holdout_log_time_mae"] ?? 0, durationSeconds: values["training_seconds"] ?? 0,
                trainedOn: stored.trainedOn, version: stored.version)
            core.withLock { state in
                state.engine = engine
                state.loadedModel = info
            }
            refreshSnapshot()
            logger("loaded model \(stored.version) trained on \(stored.trainedOn) (\(info.records) executions); it serves until the first training")
        }
    }

    /// Saves every agent's embedding in `agents.agent_embeddings`.
    func storeEmbeddings(_ engine: LearningEngine) async {
        var saved = 0
        for agent in engine.agentNames {
            guard let vector = engine.embedding(agent: agent) else { continue }
            do {
                _ = try await store.saveEmbedding(agentName: agent, vector: vector)
                saved += 1
            } catch {
                logger("could not store the embedding of \(agent): \(error)")
                return
            }
        }
        if saved > 0 { logger("stored \(saved) agent embeddings") }
    }


    func publishTrainingInsights(_ engine: LearningEngine, info: TrainingInfo, records: Int, reason: String) async {
        await publish(insight: StoredInsight(
            kind: "model", severity: "info", title: "Models retrained (\(reason))",
            detail: "Trained on \(records) executions in \(String(format: "%.3f", info.durationSeconds)) s; "
                + "held-out accuracy \(String(format: "%.4f", info.accuracy)) over \(info.holdoutRecords) executions; version \(info.version)",
            score: info.accuracy, createdAt: info.trainedOn))
        guard config.agents.patternRecognition else { return }
        var fresh: [LearningML.CollaborationPattern] = []
        for pattern in engine.collaborationPatterns() where abs(pattern.zScore) >= 3 {
            let kind = pattern.zScore > 0 ? "synergy" : "conflict"
            let names = [pattern.agents.0, pattern.agents.1].sorted()
            let key = "\(kind):\(names.joined(separator: "+"))"
            if published.withLock({ $0.insert(key).inserted }) { fresh.append(pattern) }
            if fresh.count >= 10 { break }
        }
        for pattern in fresh {
            let names = [pattern.agents.0, pattern.agents.1].sorted()
            let synergy = pattern.zScore > 0
            await publish(insight: StoredInsight(
                kind: synergy ? "synergy" : "conflict", severity: synergy ? "info" : "warning",
                title: "\(names[0]) and \(names[1]) do \(synergy ? "better" : "worse") together",
                detail: String(format: "Over %d shared tasks their success differs from expectation by %+.1f points (z = %.2f).",
                               pattern.sharedTasks, pattern.successLift * 100, pattern.zScore),
                agents: names, score: pattern.zScore, createdAt: Date()))
        }
    }

    /// Runs CPU-heavy work on a thread of its own, so it does not hold a cooperative thread.
    static func runOnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
