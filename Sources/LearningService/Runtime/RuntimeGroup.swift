import LearningCore
import LearningRepository
import Synchronization
import Logging

// The learning runtime's background work, one job per type (see docs/SERVICE.md, "The learning
// runtime"): `FeedConsumer` follows the change feed, `AggregateKeeper` loads and checkpoints the
// aggregates, `ModelKeeper` trains and stores models, `InsightPublisher` stores and streams
// insights, and `JobScheduler` runs the periodic jobs they and `Housekeeping`,
// `PerformanceRollUps`, `Retention` and `CollaborationKeeper` declare. The shared state (`LearningService.core`,
// `snapshot`) stays with the service; components reach it through `RuntimeStateHolder`.

/// A long-running part of the runtime, in the manner of swift-service-lifecycle's `Service`:
/// `run()` works until its task is cancelled.
protocol RuntimeComponent: Sendable {
    func run() async
}

/// What the runtime's components reach of the service: its shared state and the snapshot that
/// health, status and metrics read.
protocol RuntimeStateHolder: AnyObject, Sendable {
    /// Runs `body` under the runtime's lock (memory only: no I/O, no waiting).
    func withState<R: Sendable>(_ body: (inout RuntimeState) -> R) -> R
    /// Copies the figures health, status and metrics report out of the runtime state.
    func refreshSnapshot()
}

/// Starts the runtime's components together, each `run()` a child of one task group, and stops
/// them together: `stop()` cancels them all and returns once every one has returned. (A small
/// stand-in for swift-service-lifecycle's `ServiceGroup`, which is not a dependency.)
final class RuntimeGroup: Sendable {
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// Starts `components`, keeping `owner` (the state holder they reference unowned) alive
    /// while they run.
    func start(_ components: [any RuntimeComponent], retaining owner: some AnyObject & Sendable) {
        let running = Task.detached {
            await withTaskGroup(of: Void.self) { group in
                for component in components {
                    group.addTask { await component.run() }
                }
            }
            _ = owner
        }
        tasks.withLock { $0.append(running) }
    }

    /// Cancels every component and waits until all have returned (nothing to do when not started).
    func stop() async {
        let running = tasks.withLock { tasks -> [Task<Void, Never>] in
            let running = tasks
            tasks.removeAll()
            return running
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}

/// The runtime's components of one service, built by `LearningService.init` with the service as
/// their state holder.
struct RuntimeComponents: Sendable {
    let aggregates: AggregateKeeper
    let models: ModelKeeper
    let feed: FeedConsumer
    let rollUps: PerformanceRollUps
    let housekeeping: Housekeeping
    let retention: Retention
    let insights: InsightPublisher
    let learner: FeedLearner
    let collaboration: CollaborationKeeper

    init(state: any RuntimeStateHolder, store: any LearningRepository, config: LearningConfig, process: ProcessMetrics,
         insights: InsightPublisher, logger: Logger) {
        self.insights = insights
        aggregates = AggregateKeeper(state: state, store: store, logger: logger)
        models = ModelKeeper(state: state, store: store, config: config, insights: insights, logger: logger)
        learner = FeedLearner(state: state, publish: { [insights] in await insights.publish($0) }, logger: logger)
        feed = FeedConsumer(state: state, store: store, aggregates: aggregates, insights: insights, models: models,
                            learner: learner, logger: logger)
        rollUps = PerformanceRollUps(state: state, store: store, config: config, logger: logger)
        housekeeping = Housekeeping(state: state, store: store, config: config, process: process, logger: logger)
        retention = Retention(state: state, store: store, config: config, aggregates: aggregates, logger: logger)
        collaboration = CollaborationKeeper(state: state, store: store, logger: logger)
    }

    /// Every periodic job, each declaring its own interval.
    var periodicJobs: [PeriodicJob] {
        housekeeping.jobs + [insights.flushJob, insights.relayJob, models.retrainJob, models.syncJob, rollUps.job, collaboration.job] + retention.jobs
    }

    /// What runs between `start()` and `shutdown()`: the feed consumer, its learner and the
    /// periodic jobs.
    var running: [any RuntimeComponent] {
        [feed, learner, JobScheduler(jobs: periodicJobs)]
    }
}
