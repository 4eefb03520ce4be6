public import Foundation
import LearningCore
import LearningML
import LearningStore
import Synchronization

// The long-running parts of the service: the change-feed consumer, housekeeping, the retrain
// timer, and start-up and shutdown.

/// Progress of the change feed's initial replay.
struct ReplayProgress: Sendable {
    var target: Int64 = 0
    var delivered: Int64 = 0
    var lastEvent = Date()
    var began = Date()
}

extension LearningService {
    /// Loads what the service needs before serving (registered agents, agent definition files,
    /// the latest stored model) and starts the background jobs. Returns once they run; the
    /// first training happens in the background once the feed has replayed the table.
    public func start() async {
        let counts = try? await store.counts()
        let agents = (try? await store.listAgents()) ?? []
        core.withLock { state in
            state.noteRegistered(agents.map(\.name))
            state.agentsRegistered = Int(counts?.agents ?? Int64(agents.count))
            state.setCount(executions: counts?.executions ?? 0, maxID: counts?.maxExecutionID ?? 0)
        }
        replay.withLock { $0 = ReplayProgress(target: counts?.executions ?? 0) }
        logger("registry: \(agents.count) agents registered; \(counts?.executions ?? 0) executions stored")
        if let directory = config.agents.definitionsDirectory {
            let scanner = AgentDirectoryScanner(directory: directory)
            await syncDefinitions(scanner)
            definitionScanner.withLock { $0 = scanner }
        }
        await seedPublishedInsights()
        await loadLatestModel()
        process.sample()
        let feedTask = Task.detached { [self] in await consumeFeed() }
        let housekeepingTask = Task.detached { [self] in await housekeeping() }
        let retrainTask = Task.detached { [self] in await retrainTimer() }
        let maintenanceTask = Task.detached { [self] in await maintenance() }
        tasks.withLock { $0 = [feedTask, housekeepingTask, retrainTask, maintenanceTask] }
        core.withLock { $0.lifecycle = .running }
        refreshSnapshot()
        logger("learning runtime started: replaying \(counts?.executions ?? 0) stored executions")
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

    // MARK: Feed

    func consumeFeed() async {
        let feed = store.feed()
        while !Task.isCancelled {
            do {
                try await feed.run { [self] event in await handle(event) }
            } catch {
                if Task.isCancelled { break }
                logger("change feed stopped (\(error)); restarting in 1 s")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    func handle(_ event: FeedEvent) async {
        switch event {
        case .reset:
            core.withLock { state in
                state.reset()
                state.replayDone = false
            }
            replay.withLock { $0 = ReplayProgress(target: 0) }
            refreshSnapshot()
            logger("execution_log was truncated: learned state reset, rebuilding from the table")
        case .ownWrites(let ids):
            core.withLock { state in state.confirmOwn(ids) }
            replay.withLock { progress in
                progress.delivered += Int64(ids.count)
                progress.lastEvent = Date()
            }
        case .executions(let records):
            let now = Date()
            let anomalies = core.withLock { state in state.applyFeed(records, arrival: now) }
            replay.withLock { progress in
                progress.delivered += Int64(records.count)
                progress.lastEvent = now
            }
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
            await flushAnomalyGroups()
            checkReplay()
            refreshSnapshot()
            // The registry is small: counted every 2 s. execution_log's exact count scans the
            // table (seconds of CPU at millions of rows), so it is taken every minute; in between
            // the feed's deliveries are added.
            if tick % 120 == 0, let counts = try? await store.counts() {
                core.withLock { state in
                    state.agentsRegistered = Int(counts.agents)
                    state.setCount(executions: counts.executions, maxID: counts.maxExecutionID)
                }
                refreshSnapshot()
            } else if tick % 4 == 0, let agents = try? await store.agentCount() {
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

    /// Declares the feed's replay done once it delivered the rows counted at start (or went quiet),
    /// and then starts the first training.
    func checkReplay() {
        let now = Date()
        let done = replay.withLock { progress in
            progress.delivered >= progress.target || (now.timeIntervalSince(progress.lastEvent) > 1.5 && now.timeIntervalSince(progress.began) > 1.5)
        }
        guard done else { return }
        let first = core.withLock { state -> Bool in
            if state.replayDone { return false }
            state.replayDone = true
            return true
        }
        if first {
            refreshSnapshot()
            let count = core.withLock { $0.analytics.count }
            logger("change feed replay complete: \(count) executions held; training")
            Task.detached { [self] in
                do {
                    _ = try await performRetrain(reason: "start-up")
                } catch {
                    logger("start-up training failed: \(error)")
                }
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
