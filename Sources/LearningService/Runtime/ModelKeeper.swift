import Foundation
import LearningCore
import LearningML
import LearningRepository
import Logging

/// Trains the engine (every `ml.model_update_frequency` seconds once the start-up is complete,
/// after the start-up, and on demand, one training at a time), stores each trained model in
/// `agents.ml_models` with the agents' embeddings, and loads the latest stored model at start.
final class ModelKeeper: Sendable {
    /// The `agents.ml_models` name of the engine's saved state. One engine serves the three
    /// models health reports (prediction, patterns, anomaly baselines), so one row per training.
    static let storedModelName = "learning_engine"
    /// Its `model_type`.
    static let storedModelType = "hierarchical_shrinkage"

    private unowned let state: any RuntimeStateHolder
    private let store: any ModelRepository & ReplicaRole
    private let config: LearningConfig
    private let logger: Logger
    private let insights: InsightPublisher
    /// One training at a time.
    private let gate = AsyncSemaphore(permits: 1)

    init(state: any RuntimeStateHolder, store: any ModelRepository & ReplicaRole, config: LearningConfig, insights: InsightPublisher,
         logger: Logger) {
        self.state = state
        self.store = store
        self.config = config
        self.insights = insights
        self.logger = logger
    }

    /// The scheduled retraining: every `ml.model_update_frequency` seconds, skipped while the
    /// start-up is not complete.
    var retrainJob: PeriodicJob {
        PeriodicJob("retrain", every: .seconds(config.ml.modelUpdateFrequency)) { [self] in
            guard state.withState({ $0.replayDone }) else { return nil }
            // One replica trains on schedule; the others load its model (`syncJob`).
            guard store.claimLeaderJob("scheduled_retrain") else { return nil }
            do {
                _ = try await retrain(reason: "scheduled")
            } catch {
                logger.error("scheduled retrain failed: \(error)")
            }
            return nil
        }
    }

    /// Seconds between looks at the model store for a newer model (trained by another replica).
    static let syncInterval = 2.0

    /// Loads a model another replica trained (docs/SCALING.md): every `syncInterval` seconds
    /// once the start-up is complete, the model saved last replaces the one serving here when it
    /// was saved after it (by row id: a retrain "as of" a past time is trained on that time but is
    /// still the newest model, and the start-up model trained on nothing must not come back over
    /// it). Every replica then serves the same model; rows that arrived here after its training are
    /// learned from from now on (and by the next training).
    var syncJob: PeriodicJob {
        .every(.seconds(Self.syncInterval), "model sync") { [self] in await syncFromStore() }
    }

    /// One look at the model store; see `syncJob`.
    func syncFromStore() async {
        guard state.withState({ $0.replayDone }) else { return }
        func newer() async -> Bool {
            guard let newest = try? await store.latestModelID(named: Self.storedModelName) else { return false }
            let serving = state.withState { $0.lastTraining ?? $0.loadedModel }
            guard let serving else { return true }
            // Serving its own training not saved yet (or not saved): nothing stored is newer.
            guard let servingID = serving.storedID else { return false }
            return newest > servingID
        }
        guard await newer() else { return }
        try? await gate.wait()
        defer { gate.signal() }
        guard await newer(), let stored = try? await store.latestModel(named: Self.storedModelName),
              let (engine, info) = await decode(stored) else { return }
        let installed = state.withState { state -> Bool in
            guard state.replayDone else { return false }
            return state.install(engine, info: info, sequence: state.analytics.ingested, generation: state.generation)
        }
        guard installed else { return }
        state.refreshSnapshot()
        logger.info("loaded model \(info.version) trained by another replica on \(info.trainedOn) (\(info.records) executions)")
    }

    /// The engine and training figures of a stored model; nil (logged) when it cannot be used.
    private func decode(_ stored: StoredModel) async -> (LearningEngine, TrainingInfo)? {
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
            logger.warning("the saved model \(stored.version) cannot be used (\(error))")
            return nil
        case .success(let engine):
            var values: [String: Double] = [:]
            if let json = stored.hyperparametersJSON, let parsed = try? JSONDecoder().decode([String: Double].self, from: Data(json.utf8)) {
                values = parsed
            }
            let info = TrainingInfo(
                records: Int(values["trained_on_executions"] ?? Double(engine.observedCount)), accuracy: stored.accuracy ?? 0,
                holdoutRecords: stored.accuracy == nil ? 0 : Int(values["holdout_executions"] ?? 1),
                holdoutLogTimeMAE: values["holdout_log_time_mae"] ?? 0, durationSeconds: values["training_seconds"] ?? 0,
                trainedOn: stored.trainedOn, version: stored.version, storedID: stored.id)
            return (engine, info)
        }
    }

    /// The first training of this run, in the background, once the start-up is complete.
    func trainAfterStartup() {
        let holder = state // kept alive while the training runs, as the service's own tasks do
        Task.detached { [self, holder] in
            defer { _ = holder }
            do {
                _ = try await retrain(reason: "start-up")
            } catch {
                logger.error("start-up training failed: \(error)")
            }
        }
    }

    /// Trains a fresh engine on the held history off the lock, replays what arrived meanwhile,
    /// swaps it in, stores the model and publishes what it learned.
    func retrain(reason: String, asOf: Date? = nil) async throws -> RetrainResult {
        try await gate.wait()
        defer { gate.signal() }
        let (records, sequence, generation, window) = state.withState { state in
            state.trainingRunning = true
            return (state.analytics.records(), state.analytics.ingested, state.generation, state.figures.pairs)
        }
        state.refreshSnapshot()
        let parameters = EngineParameters(config: config)
        let trainedOn = asOf ?? Date()
        // The held sample whole, and the rest of the window summed from the aggregates.
        let (engine, report, older) = await Self.runOnThread {
            let history = WindowFigures.history(window: window, sample: records)
            var engine = LearningEngine(parameters: parameters)
            let report = engine.retrain(on: records, history: history, now: trainedOn)
            return (engine, report, history.reduce(0) { $0 + $1.executions })
        }
        let info = TrainingInfo(report, trainedOn: trainedOn,
                                version: "\(LearningEngine.modelVersion).\(Int64(Date().timeIntervalSince1970 * 1000))")
        let installed = state.withState { state in
            state.trainingRunning = false
            return state.install(engine, info: info, sequence: sequence, generation: generation)
        }
        state.refreshSnapshot()
        guard installed else {
            throw ServiceError.unavailable("the execution table was reset during training; retry")
        }
        logger.info("retrained (\(reason)) on \(records.count) executions (and \(older) older ones of the window, summed) in \(String(format: "%.3f", report.durationSeconds)) s; held-out accuracy \(String(format: "%.4f", report.accuracy)) over \(report.holdoutRecords) executions")
        LearningService.returnFreedMemory()
        await storeModel(engine, info: info)
        await storeEmbeddings(engine)
        await insights.publishTrainingInsights(engine, info: info, records: records.count, reason: reason)
        let models = state.withState { $0.modelStatuses() }
        return RetrainResult(mlModels: models, trainingTime: report.durationSeconds, trainedOnExecutions: Int64(records.count))
    }

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
            state.withState { state in
                if state.lastTraining?.version == info.version { state.lastTraining?.storedID = id }
            }
            logger.info("model \(info.version) saved in agents.ml_models (id \(id), \(data.count) bytes)")
        } catch {
            logger.warning("could not save the model: \(error)")
        }
    }

    /// Loads the latest saved engine, which serves until this run's first training.
    func loadLatestModel() async {
        let stored: StoredModel?
        do {
            stored = try await store.latestModel(named: Self.storedModelName)
        } catch {
            logger.warning("could not read the latest model: \(error)")
            return
        }
        guard let stored else {
            logger.info("no saved model: the first training starts once the table is replayed")
            return
        }
        guard let (engine, info) = await decode(stored) else {
            logger.info("training from the table instead of the saved model \(stored.version)")
            return
        }
        state.withState { state in
            state.engine = engine
            state.loadedModel = info
        }
        state.refreshSnapshot()
        logger.info("loaded model \(stored.version) trained on \(stored.trainedOn) (\(info.records) executions); it serves until the first training")
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
                logger.warning("could not store the embedding of \(agent): \(error)")
                return
            }
        }
        if saved > 0 { logger.info("stored \(saved) agent embeddings") }
    }

    /// Runs CPU-heavy work on a thread of its own, so it does not hold a cooperative thread.
    static func runOnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
